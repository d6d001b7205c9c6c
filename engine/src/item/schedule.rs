//! No one is ever notified by a migration. A CalDAV server that schedules (RFC 6638,
//! `calendar-auto-schedule`) sends invitations, updates and cancellations for the events it
//! stores unless the organizer and attendees say `SCHEDULE-AGENT=CLIENT` (the client handles
//! scheduling itself, here: nobody). Every ORGANIZER and ATTENDEE of an event written to such
//! a server carries it. The fingerprint ignores the parameter (see `normalise`).

use super::content::{Line, fold, unfold};

/// The event text with `SCHEDULE-AGENT=CLIENT` on every ORGANIZER and ATTENDEE (replacing any
/// other value), re-folded; other lines are written back as they were read.
pub fn client_scheduled(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(bytes.len() + 256);
    for raw in unfold(&text) {
        match Line::parse(&raw) {
            Some(mut l) if matches!(l.bare_name(), "ORGANIZER" | "ATTENDEE") => {
                l.params.retain(|(k, _)| k != "SCHEDULE-AGENT");
                l.params
                    .push(("SCHEDULE-AGENT".to_string(), "CLIENT".to_string()));
                out.push_str(&fold(&l.render()));
            }
            _ => out.push_str(&fold(&raw)),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ItemKind;
    use crate::item::normalise::fingerprint;

    #[test]
    fn organizer_and_attendees_are_client_scheduled_and_the_content_is_unchanged() {
        let ev = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:m\r\nORGANIZER;CN=A:mailto:a@x\r\nATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=SERVER:mailto:b@x\r\nSUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = client_scheduled(ev.as_bytes());
        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert!(text.contains("ORGANIZER;CN=A;SCHEDULE-AGENT=CLIENT:mailto:a@x"));
        assert!(text.contains("ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:mailto:b@x"));
        assert!(!text.contains("SERVER"));
        assert_eq!(
            fingerprint(ItemKind::Event, &out),
            fingerprint(ItemKind::Event, ev.as_bytes())
        );
    }
}
