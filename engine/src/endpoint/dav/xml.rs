//! The XML of WebDAV, CalDAV and CardDAV: reading a reply into a small tree of elements, by
//! namespace and local name whatever the prefixes (quick-xml's `NsReader`), reading a
//! multistatus (RFC 4918 13) with its per-propstat statuses, and writing the request bodies,
//! every value escaped. Also the comparison of hrefs (percent-decoded).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::wire_types::{CollectionKind, MAX_RESPONSES};

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Deepest nesting read (a multistatus needs about 8 levels): deeper is refused, so that a
/// hostile reply cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// The prefixes the request bodies bind (any prefix is read).
const XMLNS: &str = concat!(
    r#"xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" "#,
    r#"xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" "#,
    r#"xmlns:ic="http://apple.com/ns/ical/""#
);

/// One element of a reply: its namespace (empty when none), local name, attributes by local
/// name, its text (entities resolved, line ends as sent) and its child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child `ns:name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text without surrounding white space, None when that leaves nothing.
    pub fn trimmed(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// The text of the first DAV:href child, trimmed (a property holding an href).
    pub fn href(&self) -> Option<String> {
        self.child(DAV, "href").and_then(Element::trimmed)
    }
}

/// Read a whole XML document into its root element. The error says what is wrong, for the
/// caller to name the URL.
pub fn parse(bytes: &[u8]) -> Result<Element, String> {
    let mut reader = NsReader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let pos = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| format!("malformed XML at byte {pos}: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => {
                return Err(format!(
                    "undeclared XML namespace prefix {:?} at byte {pos}",
                    String::from_utf8_lossy(&p)
                ));
            }
        };
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} levels"));
                }
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.map_err(|e| format!("malformed XML attribute at byte {pos}: {e}"))?;
                    let value = a
                        .unescape_value()
                        .map_err(|e| format!("malformed XML attribute at byte {pos}: {e}"))?;
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    attrs.push((key, value.into_owned()));
                }
                let el = Element {
                    ns,
                    name: String::from_utf8_lossy(s.local_name().as_ref()).into_owned(),
                    attrs,
                    ..Element::default()
                };
                if matches!(event, Event::Empty(_)) {
                    if let Some(done) = close(&mut stack, el) {
                        return Ok(done);
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("XML end tag without a start")?;
                if let Some(done) = close(&mut stack, el) {
                    return Ok(done);
                }
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| format!("XML text at byte {pos}: {e}"))?;
                push_text(&mut stack, &s);
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| format!("XML CDATA at byte {pos}: {e}"))?;
                push_text(&mut stack, &s);
            }
            Event::GeneralRef(r) => {
                let ch = r
                    .resolve_char_ref()
                    .map_err(|e| format!("XML character reference at byte {pos}: {e}"))?;
                let text: Cow<str> = match ch {
                    Some(c) => c.to_string().into(),
                    None => {
                        let name = r
                            .decode()
                            .map_err(|e| format!("XML entity at byte {pos}: {e}"))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown XML entity &{name}; at byte {pos}"))?
                            .into()
                    }
                };
                push_text(&mut stack, &text);
            }
            Event::Eof => return Err("the XML ends before its root element does".into()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        buf.clear();
    }
}

/// Attach a finished element to its parent; the root when there is none.
fn close(stack: &mut [Element], el: Element) -> Option<Element> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(el);
            None
        }
        None => Some(el),
    }
}

fn push_text(stack: &mut [Element], s: &str) {
    // Text outside the root (white space) is not kept.
    if let Some(el) = stack.last_mut() {
        el.text.push_str(s);
    }
}

/// One propstat of a response: its status and the properties it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropStat {
    pub status: Option<u16>,
    pub props: Vec<Element>,
}

/// One DAV:response of a multistatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub href: String,
    /// The response's own status (a multiget's 404, a sync-collection's removal).
    pub status: Option<u16>,
    pub propstats: Vec<PropStat>,
}

impl Response {
    /// The property `ns:name` from a propstat whose status is a success (or unstated);
    /// properties reported 404 (or any other failure) are absent.
    pub fn prop(&self, ns: &str, name: &str) -> Option<&Element> {
        self.propstats
            .iter()
            .filter(|p| p.status.is_none_or(|s| (200..300).contains(&s)))
            .flat_map(|p| p.props.iter())
            .find(|e| e.is(ns, name))
    }

    /// The trimmed text of a property.
    pub fn text(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name).and_then(Element::trimmed)
    }

    /// The response failed as a whole (a status other than 2xx).
    pub fn failed(&self) -> bool {
        self.status.is_some_and(|s| !(200..300).contains(&s))
    }
}

/// A multistatus reply: its responses, and the sync-token of a sync-collection REPORT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    pub sync_token: Option<String>,
}

/// Read a 207 reply. The error says what is wrong.
pub fn multistatus(bytes: &[u8]) -> Result<Multistatus, String> {
    let root = parse(bytes)?;
    if !root.is(DAV, "multistatus") {
        return Err(format!(
            "expected a DAV:multistatus, got {}",
            describe(&root)
        ));
    }
    let mut out = Multistatus {
        sync_token: root.child(DAV, "sync-token").and_then(Element::trimmed),
        ..Multistatus::default()
    };
    for r in root.children_named(DAV, "response") {
        if out.responses.len() >= MAX_RESPONSES {
            return Err(format!("more than {MAX_RESPONSES} responses in one reply"));
        }
        let href = r
            .href()
            .ok_or("a DAV:response without a DAV:href".to_string())?;
        let propstats = r
            .children_named(DAV, "propstat")
            .map(|p| PropStat {
                status: p.child(DAV, "status").and_then(|s| status_code(&s.text)),
                props: p
                    .child(DAV, "prop")
                    .map(|p| p.children.clone())
                    .unwrap_or_default(),
            })
            .collect();
        out.responses.push(Response {
            href,
            status: r.child(DAV, "status").and_then(|s| status_code(&s.text)),
            propstats,
        });
    }
    Ok(out)
}

/// The code of a status line (`HTTP/1.1 404 Not Found` -> 404).
pub fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `{namespace}name` of an element, for error messages.
pub fn describe(e: &Element) -> String {
    format!("{{{}}}{}", e.ns, e.name)
}

/// A property to ask for: namespace and local name.
pub type Prop = (&'static str, &'static str);

fn prefix(ns: &str) -> &'static str {
    match ns {
        CALDAV => "c",
        CARDDAV => "card",
        CALSERVER => "cs",
        APPLE_ICAL => "ic",
        _ => "d",
    }
}

fn prop_list(props: &[Prop]) -> String {
    props
        .iter()
        .map(|(ns, name)| format!("<{}:{name}/>", prefix(ns)))
        .collect()
}

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// A PROPFIND body asking for `props`.
pub fn propfind(props: &[Prop]) -> String {
    format!(
        "{DECL}<d:propfind {XMLNS}><d:prop>{}</d:prop></d:propfind>",
        prop_list(props)
    )
}

/// A calendar-multiget or addressbook-multiget REPORT body for `hrefs`, asking for the ETag
/// and the data.
pub fn multiget(kind: CollectionKind, hrefs: &[String]) -> String {
    let (root, data) = match kind {
        CollectionKind::Calendar => ("c:calendar-multiget", "c:calendar-data"),
        CollectionKind::AddressBook => ("card:addressbook-multiget", "card:address-data"),
    };
    let hrefs: String = hrefs
        .iter()
        .map(|h| format!("<d:href>{}</d:href>", escape(h.as_str())))
        .collect();
    format!("{DECL}<{root} {XMLNS}><d:prop><d:getetag/><{data}/></d:prop>{hrefs}</{root}>")
}

/// The body of MKCALENDAR (RFC 4791 5.3.1, for events) or of an extended MKCOL creating an
/// address book (RFC 5689).
pub fn make_collection(kind: CollectionKind, displayname: &str) -> String {
    let name = escape(displayname);
    match kind {
        CollectionKind::Calendar => format!(
            "{DECL}<c:mkcalendar {XMLNS}><d:set><d:prop><d:displayname>{name}</d:displayname>\
             <c:supported-calendar-component-set><c:comp name=\"VEVENT\"/>\
             </c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>"
        ),
        CollectionKind::AddressBook => format!(
            "{DECL}<d:mkcol {XMLNS}><d:set><d:prop><d:resourcetype><d:collection/>\
             <card:addressbook/></d:resourcetype><d:displayname>{name}</d:displayname>\
             </d:prop></d:set></d:mkcol>"
        ),
    }
}

/// A calendar-query (RFC 4791 7.8, on the events of a calendar) or addressbook-query
/// (RFC 6352 8.6) REPORT body for the resources whose UID contains `uid` (CalDAV has no exact
/// match: the caller checks the data), asking for the ETag and the data.
pub fn uid_query(kind: CollectionKind, uid: &str) -> String {
    let uid = escape(uid);
    match kind {
        CollectionKind::Calendar => format!(
            "{DECL}<c:calendar-query {XMLNS}><d:prop><d:getetag/><c:calendar-data/></d:prop>\
             <c:filter><c:comp-filter name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\">\
             <c:prop-filter name=\"UID\"><c:text-match collation=\"i;octet\">{uid}</c:text-match>\
             </c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
        ),
        CollectionKind::AddressBook => format!(
            "{DECL}<card:addressbook-query {XMLNS}><d:prop><d:getetag/><card:address-data/>\
             </d:prop><card:filter><card:prop-filter name=\"UID\">\
             <card:text-match collation=\"i;octet\" match-type=\"equals\">{uid}</card:text-match>\
             </card:prop-filter></card:filter></card:addressbook-query>"
        ),
    }
}

/// When an error body is the `no-uid-conflict` precondition (RFC 4791 5.3.2.1, RFC 6352
/// 6.3.2.1: another resource of the collection has this UID): the href it names, if any.
pub fn uid_conflict(body: &[u8]) -> Option<Option<String>> {
    let root = parse(body).ok()?;
    let c = root
        .child(CALDAV, "no-uid-conflict")
        .or_else(|| root.child(CARDDAV, "no-uid-conflict"))?;
    Some(c.href())
}

/// Whether an iCalendar or vCard text has a UID property whose value is exactly `uid`
/// (folded lines unfolded, parameters and the property name's case ignored).
pub fn has_uid(data: &str, uid: &str) -> bool {
    let unfolded = data
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    unfolded.lines().any(|line| {
        let Some((name, value)) = line.split_once(':') else {
            return false;
        };
        let name = name.split(';').next().unwrap_or_default();
        // vCard 3/4 may group properties: `item1.UID`.
        let name = name.rsplit('.').next().unwrap_or_default();
        name.eq_ignore_ascii_case("UID") && value.trim_end_matches('\r') == uid
    })
}

/// A sync-collection REPORT body (RFC 6578), from `token` (the initial sync without).
pub fn sync_collection(token: Option<&str>) -> String {
    let token = token.map(|t| escape(t).into_owned()).unwrap_or_default();
    format!(
        "{DECL}<d:sync-collection {XMLNS}><d:sync-token>{token}</d:sync-token>\
         <d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
    )
}

/// The path of an href, percent-decoded, without a trailing slash: what two hrefs naming the
/// same resource share however each is encoded (`/a%40b/` and `/a@b`), and whether the
/// server gave a path or a whole URL.
pub fn href_key(href: &str) -> String {
    let path = match href.find("://") {
        Some(i) => href[i + 3..].find('/').map_or("/", |j| &href[i + 3 + j..]),
        None => href,
    };
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    decoded.trim_end_matches('/').to_string()
}

/// Whether two hrefs name the same resource.
pub fn same_href(a: &str, b: &str) -> bool {
    href_key(a) == href_key(b)
}

/// What stays unencoded in a path segment cutover makes: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one percent-encoded path segment.
pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    //! Replies captured from Radicale 3.1.8 and the examples of RFC 4791, RFC 6352 and
    //! RFC 6578.

    use super::*;

    /// Radicale's answer to a Depth 1 PROPFIND of a home: the home (whose asked-for properties
    /// are 404) and one calendar.
    const RADICALE_HOME: &str = r#"<?xml version='1.0' encoding='utf-8'?>
    <multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:ICAL="http://apple.com/ns/ical/"><response><href>/alice/</href><propstat><prop><resourcetype><principal /><collection /></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><displayname /><CS:getctag /><sync-token /><C:supported-calendar-component-set /><ICAL:calendar-color /><C:calendar-description /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response><response><href>/alice/cal/</href><propstat><prop><resourcetype><C:calendar /><collection /></resourcetype><displayname>Work &amp; Home</displayname><CS:getctag>"87eec0b0"</CS:getctag><sync-token>http://radicale.org/ns/sync/54c009b0</sync-token><C:supported-calendar-component-set><C:comp name="VEVENT" /></C:supported-calendar-component-set></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><ICAL:calendar-color /><C:calendar-description /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;

    /// Radicale's calendar-multiget with one missing href: raw CRLF and escaped text in the data.
    const RADICALE_MULTIGET: &str = "<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><response><href>/alice/cal/nope.ics</href><status>HTTP/1.1 404 Not Found</status></response><response><href>/alice/cal/e1.ics</href><propstat><prop><getetag>\"4619cf46\"</getetag><C:calendar-data>BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:A &amp; B &lt;x&gt; &#233;\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";

    /// RFC 4791 7.9.1's example answer (prefixes D: and C:, a CDATA-free body, a 404 response).
    const RFC4791_MULTIGET: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
       <D:multistatus xmlns:D="DAV:"
                      xmlns:C="urn:ietf:params:xml:ns:caldav">
         <D:response>
           <D:href>http://cal.example.com/bernard/work/abcd1.ics</D:href>
           <D:propstat>
             <D:prop>
               <D:getetag>"fffff-abcd1"</D:getetag>
               <C:calendar-data>BEGIN:VCALENDAR
    VERSION:2.0
    BEGIN:VEVENT
    UID:74855313FA803DA593CD579A@example.com
    END:VEVENT
    END:VCALENDAR
    </C:calendar-data>
             </D:prop>
             <D:status>HTTP/1.1 200 OK</D:status>
           </D:propstat>
         </D:response>
         <D:response>
           <D:href>http://cal.example.com/bernard/work/mtg1.ics</D:href>
           <D:status>HTTP/1.1 404 Not Found</D:status>
         </D:response>
       </D:multistatus>"#;

    /// RFC 6352 8.7.2's example answer, with the data in CDATA and an unusual prefix.
    const RFC6352_MULTIGET: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
    <x:multistatus xmlns:x="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
      <x:response>
        <x:href>/home/bernard/addressbook/vcf102.vcf</x:href>
        <x:propstat>
          <x:prop>
            <x:getetag>"23ba4d-ff11fb"</x:getetag>
            <card:address-data><![CDATA[BEGIN:VCARD
    VERSION:3.0
    NICKNAME:me & <you>
    UID:34222-232@example.com
    END:VCARD
    ]]></card:address-data>
          </x:prop>
          <x:status>HTTP/1.1 200 OK</x:status>
        </x:propstat>
      </x:response>
      <x:response>
        <x:href>/home/bernard/addressbook/vcf1.vcf</x:href>
        <x:status>HTTP/1.1 404 Resource not found</x:status>
      </x:response>
    </x:multistatus>"#;

    /// RFC 6578 3.6's example answer: a change, a removal, a truncation (507 on the collection).
    const RFC6578_SYNC: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
       <D:multistatus xmlns:D="DAV:">
         <D:response>
           <D:href>http://webdav.example.com/home/cyrusdaboo/s%20a.ics</D:href>
           <D:propstat>
             <D:prop><D:getetag>"00001-abcd1"</D:getetag></D:prop>
             <D:status>HTTP/1.1 200 OK</D:status>
           </D:propstat>
         </D:response>
         <D:response>
           <D:href>http://webdav.example.com/home/cyrusdaboo/removed.ics</D:href>
           <D:status>HTTP/1.1 404 Not Found</D:status>
         </D:response>
         <D:response>
           <D:href>http://webdav.example.com/home/cyrusdaboo/</D:href>
           <D:status>HTTP/1.1 507 Insufficient Storage</D:status>
         </D:response>
         <D:sync-token>http://example.com/ns/sync/1234</D:sync-token>
       </D:multistatus>"#;

    #[test]
    fn a_multistatus_is_read_by_namespace_and_404_properties_are_absent() {
        let ms = multistatus(RADICALE_HOME.as_bytes()).unwrap();
        assert_eq!(ms.responses.len(), 2);
        let home = &ms.responses[0];
        assert_eq!(home.href, "/alice/");
        assert!(home.prop(DAV, "resourcetype").is_some());
        // Reported 404: absent, not empty.
        assert_eq!(home.prop(DAV, "displayname"), None);
        assert_eq!(home.prop(CALSERVER, "getctag"), None);
        let cal = &ms.responses[1];
        assert_eq!(cal.text(DAV, "displayname").as_deref(), Some("Work & Home"));
        assert_eq!(
            cal.text(CALSERVER, "getctag").as_deref(),
            Some("\"87eec0b0\"")
        );
        assert!(
            cal.prop(DAV, "resourcetype")
                .unwrap()
                .child(CALDAV, "calendar")
                .is_some()
        );
        // The same name in another namespace is another property.
        assert_eq!(cal.prop(CALDAV, "displayname"), None);
        let comps = cal
            .prop(CALDAV, "supported-calendar-component-set")
            .unwrap();
        assert_eq!(comps.children[0].attr("name"), Some("VEVENT"));
        assert_eq!(cal.prop(APPLE_ICAL, "calendar-color"), None);
    }

    #[test]
    fn multiget_data_keeps_its_bytes_and_missing_resources_are_failed_responses() {
        let ms = multistatus(RADICALE_MULTIGET.as_bytes()).unwrap();
        assert!(ms.responses[0].failed());
        assert_eq!(ms.responses[0].href, "/alice/cal/nope.ics");
        let e1 = &ms.responses[1];
        assert!(!e1.failed());
        assert_eq!(
            e1.prop(CALDAV, "calendar-data").unwrap().text,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:A & B <x> \u{e9}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "entities resolved, CRLF kept as sent"
        );

        let ms = multistatus(RFC4791_MULTIGET.as_bytes()).unwrap();
        assert_eq!(ms.responses.len(), 2);
        assert_eq!(
            ms.responses[0].text(DAV, "getetag").as_deref(),
            Some("\"fffff-abcd1\"")
        );
        assert!(
            ms.responses[0]
                .prop(CALDAV, "calendar-data")
                .unwrap()
                .text
                .contains("UID:74855313FA803DA593CD579A@example.com\n")
        );
        assert_eq!(ms.responses[1].status, Some(404));

        let ms = multistatus(RFC6352_MULTIGET.as_bytes()).unwrap();
        let card = ms.responses[0].prop(CARDDAV, "address-data").unwrap();
        assert!(
            card.text.contains("NICKNAME:me & <you>\n"),
            "{:?}",
            card.text
        );
        assert!(ms.responses[1].failed());
    }

    #[test]
    fn a_sync_reply_gives_its_token_and_statuses() {
        let ms = multistatus(RFC6578_SYNC.as_bytes()).unwrap();
        assert_eq!(
            ms.sync_token.as_deref(),
            Some("http://example.com/ns/sync/1234")
        );
        let st: Vec<_> = ms.responses.iter().map(|r| r.status).collect();
        assert_eq!(st, [None, Some(404), Some(507)]);
        assert!(same_href(&ms.responses[2].href, "/home/cyrusdaboo"));
        assert!(same_href(&ms.responses[0].href, "/home/cyrusdaboo/s a.ics"));
    }

    #[test]
    fn bad_replies_are_errors_that_say_what_is_wrong() {
        let e = multistatus(b"<html><body>Login</body></html>").unwrap_err();
        assert!(
            e.contains("expected a DAV:multistatus") && e.contains("html"),
            "{e}"
        );
        let e = multistatus(b"<d:multistatus xmlns:d=\"DAV:\"><d:response>").unwrap_err();
        assert!(e.contains("ends before"), "{e}");
        let e = multistatus(b"<x:multistatus/>").unwrap_err();
        assert!(e.contains("undeclared"), "{e}");
        let e = multistatus(
            b"<multistatus xmlns=\"DAV:\"><response><propstat/></response></multistatus>",
        )
        .unwrap_err();
        assert!(e.contains("without a DAV:href"), "{e}");
        let e = multistatus(b"<a>&nbsp;</a>").unwrap_err();
        assert!(e.contains("unknown XML entity"), "{e}");
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        let e = parse(deep.as_bytes()).unwrap_err();
        assert!(e.contains("deeper"), "{e}");
        let e = parse(b"<a></b>").unwrap_err();
        assert!(e.contains("malformed"), "{e}");
    }

    #[test]
    fn bodies_escape_what_they_carry() {
        let b = make_collection(CollectionKind::Calendar, "R&D <team> \"x\"");
        let root = parse(b.as_bytes()).unwrap();
        assert!(root.is(CALDAV, "mkcalendar"));
        let prop = root.child(DAV, "set").unwrap().child(DAV, "prop").unwrap();
        assert_eq!(
            prop.child(DAV, "displayname").unwrap().text,
            "R&D <team> \"x\""
        );
        let hrefs = vec!["/a/b&c.ics".to_string(), "/a/<d>.ics".to_string()];
        let root = parse(multiget(CollectionKind::AddressBook, &hrefs).as_bytes()).unwrap();
        assert!(root.is(CARDDAV, "addressbook-multiget"));
        let got: Vec<_> = root
            .children_named(DAV, "href")
            .map(|h| h.text.clone())
            .collect();
        assert_eq!(got, hrefs);
        let root = parse(sync_collection(Some("t<&>")).as_bytes()).unwrap();
        assert_eq!(root.child(DAV, "sync-token").unwrap().text, "t<&>");
    }

    #[test]
    fn hrefs_compare_decoded_and_names_are_encoded() {
        assert!(same_href("/a%40b/c%20d.ics", "/a@b/c d.ics"));
        assert!(same_href("/alice/cal/", "/alice/cal"));
        assert!(same_href("https://h.example/alice/", "/alice/"));
        assert!(!same_href("/alice/cal/", "/alice/"));
        assert_eq!(
            encode_segment("a b@c/d%é.ics"),
            "a%20b%40c%2Fd%25%C3%A9.ics"
        );
    }

    #[test]
    fn uids_match_exactly_in_folded_and_grouped_lines() {
        let ics = "BEGIN:VEVENT\r\nUID:abc-\r\n 123@x\r\nEND:VEVENT\r\n";
        assert!(has_uid(ics, "abc-123@x"));
        assert!(!has_uid(ics, "abc-"));
        assert!(!has_uid(ics, "abc-123"));
        assert!(has_uid(
            "BEGIN:VCARD\nitem1.uid;VALUE=text:u:1\nEND:VCARD\n",
            "u:1"
        ));
        assert!(!has_uid("SUMMARY:UID:x\r\n", "x"));
    }

    #[test]
    fn a_uid_conflict_names_the_resource_that_has_it() {
        let body = br#"<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:no-uid-conflict><D:href>/a/cal/x.ics</D:href></C:no-uid-conflict></D:error>"#;
        assert_eq!(uid_conflict(body), Some(Some("/a/cal/x.ics".into())));
        let body = br#"<error xmlns="DAV:"><no-uid-conflict xmlns="urn:ietf:params:xml:ns:carddav"/></error>"#;
        assert_eq!(uid_conflict(body), Some(None));
        assert_eq!(uid_conflict(b"Conflict"), None);
        let body = br#"<error xmlns="DAV:"><resource-must-be-null/></error>"#;
        assert_eq!(uid_conflict(body), None);
    }

    #[test]
    fn uid_queries_escape_the_uid() {
        let root = parse(uid_query(CollectionKind::Calendar, "a<&>b").as_bytes()).unwrap();
        assert!(root.is(CALDAV, "calendar-query"));
        let text = root
            .child(CALDAV, "filter")
            .and_then(|f| f.child(CALDAV, "comp-filter"))
            .and_then(|f| f.child(CALDAV, "comp-filter"))
            .and_then(|f| f.child(CALDAV, "prop-filter"))
            .and_then(|f| f.child(CALDAV, "text-match"))
            .unwrap();
        assert_eq!(text.text, "a<&>b");
        let root = parse(uid_query(CollectionKind::AddressBook, "u").as_bytes()).unwrap();
        assert!(root.is(CARDDAV, "addressbook-query"));
    }

    #[test]
    fn a_byte_order_mark_and_comments_are_no_trouble() {
        let body = "\u{feff}<?xml version=\"1.0\"?><!-- hi --><D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/a/</D:href><D:status>HTTP/1.1 200 OK</D:status></D:response></D:multistatus>";
        let ms = multistatus(body.as_bytes()).unwrap();
        assert_eq!(ms.responses[0].href, "/a/");
        assert_eq!(ms.responses[0].status, Some(200));
    }
}
