//! The canonical form of an event or a contact, and its identity.
//!
//! Two servers holding the same event rarely hold the same bytes: they fold lines
//! differently, order properties and parameters their own way, stamp DTSTAMP on every write,
//! put their own PRODID, and a scheduling server adds SCHEDULE-AGENT or SCHEDULE-STATUS. The
//! fingerprint that decides "already there", "changed" and what verification compares is
//! therefore taken of the normalised content:
//!
//! - lines unfolded, CR/LF endings ignored, property and parameter names upper case;
//! - ignored: the properties DTSTAMP, PRODID and LAST-MODIFIED (events) and PRODID and REV
//!   (contacts), which say when and by what the text was written, not what it says; the
//!   parameters SCHEDULE-AGENT, SCHEDULE-STATUS and SCHEDULE-FORCE-SEND (RFC 6638: how a
//!   server schedules, which cutover itself sets on a scheduling destination); VTIMEZONE
//!   components (a server may replace a time zone's definition with its own; the events keep
//!   their TZID and local times, which are compared);
//! - parameters sorted by name, properties sorted within their component, components sorted
//!   within their parent (their order carries no meaning in either format).
//!
//! Everything else (every value, every attendee and response, alarms, attachments) counts.

use crate::api::ItemKind;

use super::content::{Line, unfold};

/// What identifies an item on any server, and what people recognise it by in an issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The UID property (of the series, for an event with exceptions).
    pub uid: Option<String>,
    /// RECURRENCE-ID of each exception of the series, sorted (empty without exceptions).
    pub recurrence_ids: Vec<String>,
    /// When the event starts (DTSTART of the series, with its TZID), or the contact's name.
    pub label: Option<String>,
    /// The event's SUMMARY or the contact's FN.
    pub title: Option<String>,
}

impl Identity {
    /// "UID x, starting 20260308T090000 (America/New_York)" for an issue.
    pub fn describe(&self) -> String {
        let mut s = format!("UID {}", self.uid.as_deref().unwrap_or("(none)"));
        if let Some(l) = &self.label {
            s.push_str(", ");
            s.push_str(l);
        }
        if !self.recurrence_ids.is_empty() {
            s.push_str(&format!(", {} exception(s)", self.recurrence_ids.len()));
        }
        s
    }
}

#[derive(Debug, Default)]
struct Component {
    name: String,
    props: Vec<Line>,
    children: Vec<Component>,
}

/// The component tree of a text; lines outside any component and unbalanced ENDs are kept
/// as properties of a nameless root, so nothing is silently dropped from the comparison.
fn tree(text: &str) -> Component {
    let mut stack = vec![Component::default()];
    for raw in unfold(text) {
        let Some(line) = Line::parse(&raw) else {
            // A line without a colon still counts for the content.
            if let Some(top) = stack.last_mut() {
                top.props.push(Line {
                    name: raw.to_ascii_uppercase(),
                    params: Vec::new(),
                    value: String::new(),
                });
            }
            continue;
        };
        match line.name.as_str() {
            "BEGIN" => stack.push(Component {
                name: line.value.trim().to_ascii_uppercase(),
                ..Default::default()
            }),
            "END" if stack.len() > 1 => {
                let done = stack.pop().expect("len > 1");
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(done);
                }
            }
            _ => {
                if let Some(top) = stack.last_mut() {
                    top.props.push(line);
                }
            }
        }
    }
    while stack.len() > 1 {
        let done = stack.pop().expect("len > 1");
        if let Some(parent) = stack.last_mut() {
            parent.children.push(done);
        }
    }
    stack.pop().unwrap_or_default()
}

const IGNORED_PARAMS: &[&str] = &["SCHEDULE-AGENT", "SCHEDULE-STATUS", "SCHEDULE-FORCE-SEND"];

fn ignored_prop(kind: ItemKind, name: &str) -> bool {
    match kind {
        ItemKind::Contact => matches!(name, "PRODID" | "REV"),
        _ => matches!(name, "DTSTAMP" | "PRODID" | "LAST-MODIFIED"),
    }
}

fn canonical(kind: ItemKind, c: &Component, out: &mut String) {
    if !c.name.is_empty() {
        out.push_str("BEGIN:");
        out.push_str(&c.name);
        out.push('\n');
    }
    let mut props: Vec<String> = c
        .props
        .iter()
        .filter(|l| !ignored_prop(kind, l.bare_name()))
        .map(|l| {
            let mut l = l.clone();
            l.params
                .retain(|(k, _)| !IGNORED_PARAMS.contains(&k.as_str()));
            l.params.sort();
            l.render()
        })
        .collect();
    props.sort();
    for p in props {
        out.push_str(&p);
        out.push('\n');
    }
    let mut children: Vec<String> = c
        .children
        .iter()
        .filter(|ch| ch.name != "VTIMEZONE")
        .map(|ch| {
            let mut s = String::new();
            canonical(kind, ch, &mut s);
            s
        })
        .collect();
    children.sort();
    for ch in children {
        out.push_str(&ch);
    }
    if !c.name.is_empty() {
        out.push_str("END:");
        out.push_str(&c.name);
        out.push('\n');
    }
}

/// The canonical text of an item (see the module's documentation); mail is returned as is.
pub fn normalise(kind: ItemKind, bytes: &[u8]) -> Vec<u8> {
    if kind == ItemKind::Mail {
        return bytes.to_vec();
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(bytes.len());
    canonical(kind, &tree(&text), &mut out);
    out.into_bytes()
}

/// The fingerprint of an item: of its exact bytes for mail, of its normalised content for an
/// event or a contact.
pub fn fingerprint(kind: ItemKind, bytes: &[u8]) -> String {
    // An opaque stream is known by the summary carried with it, whatever its kind.
    if let Some(c) = super::opaque::parse(bytes) {
        return c.fingerprint();
    }
    match kind {
        ItemKind::Mail => crate::mail::fingerprint::fingerprint(bytes),
        _ => crate::mail::fingerprint::fingerprint(&normalise(kind, bytes)),
    }
}

/// The identity of an event (its series' UID and exceptions) or a contact (UID, name).
pub fn identity(kind: ItemKind, bytes: &[u8]) -> Identity {
    if let Some(c) = super::opaque::parse(bytes) {
        return Identity {
            uid: c.get("Key").map(str::to_string),
            title: c.get("Subject").map(str::to_string),
            ..Identity::default()
        };
    }
    let root = tree(&String::from_utf8_lossy(bytes));
    let mut id = Identity::default();
    let prop = |c: &Component, name: &str| -> Option<Line> {
        c.props.iter().find(|l| l.bare_name() == name).cloned()
    };
    match kind {
        ItemKind::Mail => {}
        ItemKind::Event => {
            let cal = root
                .children
                .iter()
                .find(|c| c.name == "VCALENDAR")
                .unwrap_or(&root);
            for c in cal
                .children
                .iter()
                .filter(|c| matches!(c.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL"))
            {
                if id.uid.is_none() {
                    id.uid = prop(c, "UID").map(|l| l.value);
                }
                match prop(c, "RECURRENCE-ID") {
                    Some(r) => id.recurrence_ids.push(r.value),
                    None => {
                        id.title = prop(c, "SUMMARY").map(|l| l.value);
                        id.label = prop(c, "DTSTART").map(|l| match l.param("TZID") {
                            Some(tz) => format!("starting {} ({tz})", l.value),
                            None => format!("starting {}", l.value),
                        });
                    }
                }
            }
            id.recurrence_ids.sort();
        }
        ItemKind::Contact => {
            let card = root
                .children
                .iter()
                .find(|c| c.name == "VCARD")
                .unwrap_or(&root);
            id.uid = prop(card, "UID").map(|l| l.value);
            id.title = prop(card, "FN").map(|l| l.value);
            id.label = id.title.as_ref().map(|t| format!("\"{t}\""));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//A//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260302T090000\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Standup\r\nORGANIZER;CN=Ann:mailto:ann@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\r\nDTSTART;TZID=Europe/Berlin:20260309T100000\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn another_serialisation_of_the_same_event_has_the_same_fingerprint() {
        // Other PRODID and DTSTAMP, exceptions first, folded differently, LF endings,
        // parameters reordered, SCHEDULE-AGENT added, the time zone's definition replaced.
        let b = "BEGIN:VCALENDAR\nPRODID:-//B//EN\nVERSION:2.0\nBEGIN:VEVENT\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\nUID:s1\nSUMMARY:Standup (mo\n ved)\nDTSTART;TZID=Europe/Berlin:20260309T100000\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Standup\nUID:s1\nDTSTAMP:20261206T101010Z\nORGANIZER;SCHEDULE-AGENT=CLIENT;CN=Ann:mailto:ann@example.com\nRRULE:FREQ=WEEKLY\nDTSTART;TZID=Europe/Berlin:20260302T090000\nEND:VEVENT\nBEGIN:VTIMEZONE\nTZID:Europe/Berlin\nX-OTHER:1\nEND:VTIMEZONE\nEND:VCALENDAR\n";
        assert_eq!(
            fingerprint(ItemKind::Event, A.as_bytes()),
            fingerprint(ItemKind::Event, b.as_bytes())
        );
        // A changed value, a dropped exception or a changed attendee is a change.
        for changed in [
            A.replace("Standup (moved)", "Standup (moved!)"),
            A.replace("CN=Ann", "CN=Anne"),
            A.replace(
                "BEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\r\nDTSTART;TZID=Europe/Berlin:20260309T100000\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\n",
                "",
            ),
        ] {
            assert_ne!(
                fingerprint(ItemKind::Event, A.as_bytes()),
                fingerprint(ItemKind::Event, changed.as_bytes())
            );
        }
    }

    #[test]
    fn identity_is_the_series_and_its_exceptions() {
        let id = identity(ItemKind::Event, A.as_bytes());
        assert_eq!(id.uid.as_deref(), Some("s1"));
        assert_eq!(id.recurrence_ids, vec!["20260309T090000".to_string()]);
        assert_eq!(id.title.as_deref(), Some("Standup"));
        assert_eq!(
            id.describe(),
            "UID s1, starting 20260302T090000 (Europe/Berlin), 1 exception(s)"
        );
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nFN:Zoë Ångström\r\nREV:20260101T000000Z\r\nEND:VCARD\r\n";
        let c = identity(ItemKind::Contact, card.as_bytes());
        assert_eq!(c.uid.as_deref(), Some("urn:uuid:1"));
        assert_eq!(c.title.as_deref(), Some("Zoë Ångström"));
        assert_eq!(
            fingerprint(ItemKind::Contact, card.as_bytes()),
            fingerprint(
                ItemKind::Contact,
                card.replace("REV:20260101T000000Z", "REV:20270101T000000Z")
                    .as_bytes()
            )
        );
    }

    #[test]
    fn mail_is_fingerprinted_as_its_exact_bytes() {
        assert_eq!(
            fingerprint(ItemKind::Mail, b"Subject: a\r\n\r\nx"),
            crate::mail::fingerprint::fingerprint(b"Subject: a\r\n\r\nx")
        );
        assert_ne!(
            fingerprint(ItemKind::Mail, b"Subject: a\r\n\r\nx"),
            fingerprint(ItemKind::Mail, b"Subject: a\n\nx")
        );
    }
}
