//! The DAV client: its XML reading on real replies (captured from Radicale 3.1.8, and the
//! examples of RFC 4791, RFC 6352 and RFC 6578), and every call against a real Radicale
//! started here on 127.0.0.1 (`/usr/bin/python3 -m radicale`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::xml::{self, CALDAV, CALSERVER, DAV};
use super::*;
use crate::endpoint::EndpointError;

// ---------------------------------------------------------------- XML, on real replies

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
    let ms = xml::multistatus(RADICALE_HOME.as_bytes()).unwrap();
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
    assert_eq!(cal.prop(xml::APPLE_ICAL, "calendar-color"), None);
}

#[test]
fn multiget_data_keeps_its_bytes_and_missing_resources_are_failed_responses() {
    let ms = xml::multistatus(RADICALE_MULTIGET.as_bytes()).unwrap();
    assert!(ms.responses[0].failed());
    assert_eq!(ms.responses[0].href, "/alice/cal/nope.ics");
    let e1 = &ms.responses[1];
    assert!(!e1.failed());
    assert_eq!(
        e1.prop(CALDAV, "calendar-data").unwrap().text,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:A & B <x> \u{e9}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "entities resolved, CRLF kept as sent"
    );

    let ms = xml::multistatus(RFC4791_MULTIGET.as_bytes()).unwrap();
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

    let ms = xml::multistatus(RFC6352_MULTIGET.as_bytes()).unwrap();
    let card = ms.responses[0].prop(xml::CARDDAV, "address-data").unwrap();
    assert!(
        card.text.contains("NICKNAME:me & <you>\n"),
        "{:?}",
        card.text
    );
    assert!(ms.responses[1].failed());
}

#[test]
fn a_sync_reply_gives_its_token_and_statuses() {
    let ms = xml::multistatus(RFC6578_SYNC.as_bytes()).unwrap();
    assert_eq!(
        ms.sync_token.as_deref(),
        Some("http://example.com/ns/sync/1234")
    );
    let st: Vec<_> = ms.responses.iter().map(|r| r.status).collect();
    assert_eq!(st, [None, Some(404), Some(507)]);
    assert!(xml::same_href(&ms.responses[2].href, "/home/cyrusdaboo"));
    assert!(xml::same_href(
        &ms.responses[0].href,
        "/home/cyrusdaboo/s a.ics"
    ));
}

#[test]
fn bad_replies_are_errors_that_say_what_is_wrong() {
    let e = xml::multistatus(b"<html><body>Login</body></html>").unwrap_err();
    assert!(
        e.contains("expected a DAV:multistatus") && e.contains("html"),
        "{e}"
    );
    let e = xml::multistatus(b"<d:multistatus xmlns:d=\"DAV:\"><d:response>").unwrap_err();
    assert!(e.contains("ends before"), "{e}");
    let e = xml::multistatus(b"<x:multistatus/>").unwrap_err();
    assert!(e.contains("undeclared"), "{e}");
    let e = xml::multistatus(
        b"<multistatus xmlns=\"DAV:\"><response><propstat/></response></multistatus>",
    )
    .unwrap_err();
    assert!(e.contains("without a DAV:href"), "{e}");
    let e = xml::multistatus(b"<a>&nbsp;</a>").unwrap_err();
    assert!(e.contains("unknown XML entity"), "{e}");
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    let e = xml::parse(deep.as_bytes()).unwrap_err();
    assert!(e.contains("deeper"), "{e}");
    let e = xml::parse(b"<a></b>").unwrap_err();
    assert!(e.contains("malformed"), "{e}");
}

#[test]
fn bodies_escape_what_they_carry() {
    let b = xml::make_collection(CollectionKind::Calendar, "R&D <team> \"x\"");
    let root = xml::parse(b.as_bytes()).unwrap();
    assert!(root.is(CALDAV, "mkcalendar"));
    let prop = root.child(DAV, "set").unwrap().child(DAV, "prop").unwrap();
    assert_eq!(
        prop.child(DAV, "displayname").unwrap().text,
        "R&D <team> \"x\""
    );
    let hrefs = vec!["/a/b&c.ics".to_string(), "/a/<d>.ics".to_string()];
    let root = xml::parse(xml::multiget(CollectionKind::AddressBook, &hrefs).as_bytes()).unwrap();
    assert!(root.is(xml::CARDDAV, "addressbook-multiget"));
    let got: Vec<_> = root
        .children_named(DAV, "href")
        .map(|h| h.text.clone())
        .collect();
    assert_eq!(got, hrefs);
    let root = xml::parse(xml::sync_collection(Some("t<&>")).as_bytes()).unwrap();
    assert_eq!(root.child(DAV, "sync-token").unwrap().text, "t<&>");
}

#[test]
fn hrefs_compare_decoded_and_names_are_encoded() {
    assert!(xml::same_href("/a%40b/c%20d.ics", "/a@b/c d.ics"));
    assert!(xml::same_href("/alice/cal/", "/alice/cal"));
    assert!(xml::same_href("https://h.example/alice/", "/alice/"));
    assert!(!xml::same_href("/alice/cal/", "/alice/"));
    assert_eq!(
        xml::encode_segment("a b@c/d%é.ics"),
        "a%20b%40c%2Fd%25%C3%A9.ics"
    );
}

// ---------------------------------------------------------------- against a real Radicale

/// A Radicale 3 on 127.0.0.1 with plain htpasswd users, owner_only rights and its storage in
/// a temporary directory; killed on drop.
struct Radicale {
    child: Child,
    dir: tempfile::TempDir,
    base: String,
}

impl Radicale {
    fn start(users: &[(&str, &str)]) -> Radicale {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let htpasswd: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        std::fs::write(d.join("users"), htpasswd).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            d.join("config"),
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {}\nhtpasswd_encryption = plain\ndelay = 0\n\
                 [rights]\ntype = owner_only\n\
                 [storage]\nfilesystem_folder = {}\n\
                 [logging]\nlevel = warning\n",
                d.join("users").display(),
                d.join("collections").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "radicale", "--config"])
            .arg(d.join("config"))
            .env("HOME", d)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("/usr/bin/python3 -m radicale (the Debian package radicale)");
        let mut r = Radicale {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = r.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!("Radicale did not start: {}", r.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn client(&self, user: &str, password: &str) -> DavClient {
        let timeout = Duration::from_secs(20);
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
        DavClient::new(
            http,
            &self.base,
            user,
            SecretString::from(password),
            "destination",
            timeout,
        )
        .unwrap()
    }

    fn storage(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(uid: &str, summary: &str) -> Vec<u8> {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cutover//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\n\
         DTEND:20260102T110000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    .into_bytes()
}

fn contact(uid: &str, name: &str) -> Vec<u8> {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
        .into_bytes()
}

fn has(body: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(body).contains(needle)
}

#[tokio::test]
async fn discovery_finds_the_principal_and_both_homes_through_well_known() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let homes = c.discover().await.unwrap();
    assert_eq!(
        homes,
        Homes {
            principal: "/alice/".into(),
            calendar_home: Some("/alice/".into()),
            addressbook_home: Some("/alice/".into()),
            scheduling: false,
        }
    );
    // Nothing in the home yet.
    assert_eq!(c.list_collections("/alice/").await.unwrap(), []);
    assert!(r.storage().join("collections").exists());
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_error_naming_the_user_and_the_url() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "wrong");
    let e = c.discover().await.unwrap_err();
    match &e {
        EndpointError::Auth { user, message } => {
            assert_eq!(user, "alice");
            assert!(
                message.contains(&r.base) && message.contains("401"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = c.list_items("/alice/cal/").await.unwrap_err();
    assert!(matches!(e, EndpointError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn collections_are_made_once_listed_and_deleted() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    c.discover().await.unwrap();
    let cal = c.join("/alice/", "work cal");
    assert_eq!(cal, "/alice/work%20cal");
    let cal = format!("{cal}/");
    assert!(
        c.make_collection(&cal, CollectionKind::Calendar, "Work & <Home>")
            .await
            .unwrap()
    );
    assert!(
        !c.make_collection(&cal, CollectionKind::Calendar, "again")
            .await
            .unwrap()
    );
    let book = "/alice/contacts/";
    assert!(
        c.make_collection(book, CollectionKind::AddressBook, "Contacts")
            .await
            .unwrap()
    );
    assert!(
        !c.make_collection(book, CollectionKind::AddressBook, "Contacts")
            .await
            .unwrap()
    );

    let mut cols = c.list_collections("/alice/").await.unwrap();
    cols.sort_by(|a, b| a.href.cmp(&b.href));
    assert_eq!(cols.len(), 2, "{cols:?}");
    let (b, k) = (&cols[0], &cols[1]);
    assert_eq!(
        (b.kind, b.displayname.as_deref()),
        (CollectionKind::AddressBook, Some("Contacts"))
    );
    assert!(b.components.is_empty());
    assert!(xml::same_href(&k.href, "/alice/work cal/"));
    assert_eq!(k.kind, CollectionKind::Calendar);
    assert_eq!(k.displayname.as_deref(), Some("Work & <Home>"));
    assert_eq!(k.components, ["VEVENT"]);
    assert!(k.ctag.is_some() && k.sync_token.is_some(), "{k:?}");

    assert!(c.delete_collection(book).await.unwrap());
    assert!(!c.delete_collection(book).await.unwrap());
    let e = c.list_items(book).await.unwrap_err();
    assert!(
        matches!(&e, EndpointError::NoFolder { folder, .. } if folder == book),
        "{e:?}"
    );
    assert_eq!(c.list_collections("/alice/").await.unwrap().len(), 1);
}

#[tokio::test]
async fn resources_are_created_once_read_replaced_deleted_and_synced() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let cal = "/alice/cal/";
    assert!(
        c.make_collection(cal, CollectionKind::Calendar, "Cal")
            .await
            .unwrap()
    );
    let (_, token0) = {
        let d = c
            .sync_changes(cal, None)
            .await
            .unwrap()
            .expect("Radicale syncs");
        assert!(d.changed.is_empty() && d.removed.is_empty());
        ((), d.token)
    };

    // Created once: the same PUT again finds it there.
    let e1 = c.join(cal, "e1@x.ics");
    assert_eq!(e1, "/alice/cal/e1%40x.ics");
    let stored = c
        .put_new(&e1, CollectionKind::Calendar, &event("e1", "First"))
        .await
        .unwrap();
    let PutOutcome::Stored { etag: Some(etag1) } = stored else {
        panic!("{stored:?}")
    };
    assert_eq!(
        c.put_new(&e1, CollectionKind::Calendar, &event("e1", "Again"))
            .await
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    let e2 = c.join(cal, "e2.ics");
    assert!(matches!(
        c.put_new(&e2, CollectionKind::Calendar, &event("e2", "Second"))
            .await
            .unwrap(),
        PutOutcome::Stored { .. }
    ));
    // Not iCalendar: refused for this resource only.
    let bad = c
        .put_new(&c.join(cal, "bad.ics"), CollectionKind::Calendar, b"hello")
        .await
        .unwrap();
    assert!(
        matches!(bad, PutOutcome::Refused { status: 400, .. }),
        "{bad:?}"
    );

    // Listed with ETags, the collection itself left out.
    let mut items = c.list_items(cal).await.unwrap();
    items.sort_by(|a, b| a.href.cmp(&b.href));
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(xml::same_href(&items[0].href, "/alice/cal/e1@x.ics"));
    assert_eq!(items[0].etag.as_deref(), Some(etag1.as_str()));
    assert!(items[0].size.is_some_and(|s| s > 100));
    assert!(
        items[0]
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("text/calendar")
    );

    // Multiget: the missing href is simply absent.
    let hrefs = vec![
        items[0].href.clone(),
        c.join(cal, "missing.ics"),
        items[1].href.clone(),
    ];
    let got = c
        .get_items(cal, CollectionKind::Calendar, &hrefs)
        .await
        .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let first = got.iter().find(|d| xml::same_href(&d.href, &e1)).unwrap();
    assert!(
        has(&first.body, "SUMMARY:First\r\n"),
        "{:?}",
        String::from_utf8_lossy(&first.body)
    );
    assert!(first.body.starts_with(b"BEGIN:VCALENDAR"));
    assert_eq!(first.etag.as_deref(), Some(etag1.as_str()));
    let one = c.get_item(&e1).await.unwrap().unwrap();
    assert_eq!(one.body, first.body, "GET and multiget give the same bytes");
    assert_eq!(one.etag.as_deref(), Some(etag1.as_str()));
    assert_eq!(c.get_item(&c.join(cal, "missing.ics")).await.unwrap(), None);

    // Replaced only under the current ETag.
    assert_eq!(
        c.put_replace(
            &e1,
            CollectionKind::Calendar,
            &event("e1", "Lost"),
            "\"stale\""
        )
        .await
        .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert!(has(
        &c.get_item(&e1).await.unwrap().unwrap().body,
        "SUMMARY:First"
    ));
    let PutOutcome::Stored { etag: Some(etag2) } = c
        .put_replace(
            &e1,
            CollectionKind::Calendar,
            &event("e1", "Changed"),
            &etag1,
        )
        .await
        .unwrap()
    else {
        panic!("not replaced")
    };
    assert_ne!(etag1, etag2);

    // Deleted once, under its ETag when given.
    let e = c.delete_item(&e2, Some("\"stale\"")).await.unwrap_err();
    assert!(matches!(e, EndpointError::Protocol { .. }), "{e:?}");
    assert!(c.delete_item(&e2, None).await.unwrap());
    assert!(!c.delete_item(&e2, None).await.unwrap());

    // Since the first token: e1 changed (it is new), e2 removed (created and deleted since:
    // a server may report it removed or not at all).
    let d = c.sync_changes(cal, Some(&token0)).await.unwrap().unwrap();
    assert_eq!(d.changed.len(), 1, "{d:?}");
    assert!(xml::same_href(&d.changed[0].href, &e1));
    assert_eq!(d.changed[0].etag.as_deref(), Some(etag2.as_str()));
    assert!(d.removed.iter().all(|h| xml::same_href(h, &e2)), "{d:?}");
    assert!(!d.truncated);
    // From the new token: only what changes next.
    let token1 = d.token.clone();
    assert!(c.delete_item(&e1, Some(&etag2)).await.unwrap());
    let d = c.sync_changes(cal, Some(&token1)).await.unwrap().unwrap();
    assert!(d.changed.is_empty(), "{d:?}");
    assert_eq!(d.removed.len(), 1, "{d:?}");
    assert!(xml::same_href(&d.removed[0], &e1));
    // A token the server never gave: unsupported, the caller lists.
    assert_eq!(
        c.sync_changes(cal, Some("http://radicale.org/ns/sync/nope"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn contacts_go_through_addressbook_multiget() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    let book = "/alice/book/";
    assert!(
        c.make_collection(book, CollectionKind::AddressBook, "Book")
            .await
            .unwrap()
    );
    let mut hrefs = Vec::new();
    for i in 0..(MULTIGET_CHUNK + 5) {
        let h = c.join(book, &format!("c{i}.vcf"));
        let out = c
            .put_new(
                &h,
                CollectionKind::AddressBook,
                &contact(&format!("c{i}"), &format!("Zoë {i}")),
            )
            .await
            .unwrap();
        assert!(matches!(out, PutOutcome::Stored { .. }), "{out:?}");
        hrefs.push(h);
    }
    // More than one chunk: all of them come back.
    let got = c
        .get_items(book, CollectionKind::AddressBook, &hrefs)
        .await
        .unwrap();
    assert_eq!(got.len(), hrefs.len());
    let c7 = got
        .iter()
        .find(|d| xml::same_href(&d.href, &hrefs[7]))
        .unwrap();
    assert!(
        has(&c7.body, "FN:Zoë 7"),
        "{:?}",
        String::from_utf8_lossy(&c7.body)
    );
    assert_eq!(c.list_items(book).await.unwrap().len(), hrefs.len());
    // Another user's collection: refused.
    let e = c.list_items("/bob/").await.unwrap_err();
    assert!(
        matches!(
            e,
            EndpointError::Auth { .. } | EndpointError::NoFolder { .. }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_throttle_carries_the_servers_wait() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")
                .await;
        }
    });
    let http = reqwest::Client::new();
    let c = DavClient::new(
        http,
        &base,
        "u",
        SecretString::from("p"),
        "source",
        Duration::from_secs(5),
    )
    .unwrap();
    let e = c.get_item("/u/cal/x.ics").await.unwrap_err();
    match e {
        EndpointError::Throttled { wait, message, .. } => {
            assert_eq!(wait, Some(Duration::from_secs(7)));
            assert!(message.contains("slow"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = DavClient::new(
        reqwest::Client::new(),
        "ftp://x/",
        "u",
        SecretString::from("p"),
        "source",
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not an http"), "{e}");
}

/// A server that redirects every request to the same path on `to` (another origin).
async fn redirector(to: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let out = format!(
                "HTTP/1.1 301 Moved\r\nLocation: {}{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                to.trim_end_matches('/'),
                path
            );
            let _ = s.write_all(out.as_bytes()).await;
        }
    });
    base
}

#[tokio::test]
async fn discovery_follows_a_redirect_to_another_server_and_keeps_its_urls() {
    let r = Radicale::start(&[("alice", "secret")]);
    let front = redirector(r.base.clone()).await;
    let timeout = Duration::from_secs(20);
    let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
    let c = DavClient::new(
        http,
        &front,
        "alice",
        SecretString::from("secret"),
        "source",
        timeout,
    )
    .unwrap();
    let homes = c.discover().await.unwrap();
    let there = format!("{}alice/", r.base);
    assert_eq!(homes.principal, there);
    assert_eq!(homes.calendar_home.as_deref(), Some(there.as_str()));
    // Hrefs of that server stay whole URLs, so every later call reaches it.
    let cal = c.join(&there, "cal");
    assert!(
        c.make_collection(&cal, CollectionKind::Calendar, "Cal")
            .await
            .unwrap()
    );
    let cols = c.list_collections(&there).await.unwrap();
    assert_eq!(cols.len(), 1, "{cols:?}");
    assert_eq!(cols[0].href, format!("{}alice/cal/", r.base));
}

#[tokio::test]
async fn a_put_into_a_missing_collection_is_no_folder() {
    let r = Radicale::start(&[("alice", "secret")]);
    let c = r.client("alice", "secret");
    c.discover().await.unwrap();
    let e = c
        .put_new(
            "/alice/gone/x.ics",
            CollectionKind::Calendar,
            &event("x", "X"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, EndpointError::NoFolder { folder, .. } if folder == "/alice/gone/"),
        "{e:?}"
    );
}
