//! What the project moves (`[project] items`, `calendar_since`), and whether each side can
//! carry it (an IMAP side needs its `[source.dav]` table, see `endpoints`).

use chrono::NaiveDate;

use super::endpoints::EndpointKind;

/// The kinds of items the project moves. The file's words are "mail", "calendar" and
/// "contacts"; default mail only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Items {
    pub mail: bool,
    pub calendar: bool,
    pub contacts: bool,
    /// `[project] calendar_since`: events that ended before this day are not copied (a
    /// series is copied whole, with its exceptions, when any occurrence ends on or after it).
    pub calendar_since: Option<NaiveDate>,
}

impl Default for Items {
    fn default() -> Items {
        Items {
            mail: true,
            calendar: false,
            contacts: false,
            calendar_since: None,
        }
    }
}

impl Items {
    /// Calendars or contacts are asked for.
    pub fn any_dav(&self) -> bool {
        self.calendar || self.contacts
    }

    pub fn has(&self, kind: crate::api::ItemKind) -> bool {
        match kind {
            crate::api::ItemKind::Mail => self.mail,
            crate::api::ItemKind::Event => self.calendar,
            crate::api::ItemKind::Contact => self.contacts,
        }
    }

    /// The file's words, for messages.
    pub fn words(&self) -> Vec<&'static str> {
        [
            (self.mail, "mail"),
            (self.calendar, "calendar"),
            (self.contacts, "contacts"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect()
    }
}

/// `[project] items`: each word once, at least one.
pub(super) fn items(words: &[String]) -> Result<Items, String> {
    let mut it = Items {
        mail: false,
        calendar: false,
        contacts: false,
        calendar_since: None,
    };
    if words.is_empty() {
        return Err(
            "project.items: empty; list what to move, e.g. items = [\"mail\", \"calendar\", \"contacts\"]"
                .into(),
        );
    }
    for w in words {
        let slot = match w.as_str() {
            "mail" => &mut it.mail,
            "calendar" => &mut it.calendar,
            "contacts" => &mut it.contacts,
            other => {
                return Err(format!(
                    "project.items: unknown item kind {other:?}; expected \"mail\", \"calendar\" or \"contacts\""
                ));
            }
        };
        if std::mem::replace(slot, true) {
            return Err(format!("project.items: {w:?} is listed twice"));
        }
    }
    Ok(it)
}

/// `[project] calendar_since = "YYYY-MM-DD"`.
pub(super) fn calendar_since(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|e| {
        format!("project.calendar_since: {s:?} is not a date ({e}); expected e.g. \"2024-01-01\"")
    })
}

/// Why a side cannot carry the calendars or contacts the project asks for; None when it can.
pub(super) fn carries(
    section: &str,
    kind: EndpointKind,
    dav: bool,
    items: &Items,
) -> Option<String> {
    if !items.any_dav() {
        return None;
    }
    let asked = items
        .words()
        .into_iter()
        .filter(|w| *w != "mail")
        .collect::<Vec<_>>()
        .join(" and ");
    match kind {
        EndpointKind::Imap if dav => None,
        // Beside the trees, as .ics and .vcf files.
        EndpointKind::Maildir => None,
        EndpointKind::Imap => Some(format!(
            "project.items asks for {asked}, but [{section}] is IMAP without a [{section}.dav] table: add one with the CalDAV/CardDAV server's url (see docs/endpoints/dav.md), or remove {asked} from items"
        )),
        // Calendars and contacts go through Graph's calendars and contact folders.
        EndpointKind::Graph => None,
        // Calendars through the Calendar API, contacts through the People API, on the same
        // sign-in.
        EndpointKind::Gmail => None,
        EndpointKind::Pop3 => Some(format!(
            "project.items asks for {asked}, but [{section}] is POP3, which holds mail only; remove {asked} from items"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn item_words_are_checked() {
        let it = items(&w(&["mail", "contacts"])).expect("valid");
        assert!(it.mail && it.contacts && !it.calendar);
        assert!(items(&w(&[])).is_err());
        assert!(items(&w(&["mail", "mail"])).unwrap_err().contains("twice"));
        assert!(items(&w(&["tasks"])).unwrap_err().contains("\"tasks\""));
        assert!(calendar_since("2024-13-01").is_err());
    }

    #[test]
    fn graph_carries_calendars_and_contacts() {
        let cal = items(&w(&["mail", "calendar", "contacts"])).expect("valid");
        assert_eq!(
            carries("destination", EndpointKind::Graph, false, &cal),
            None
        );
        assert_eq!(carries("source", EndpointKind::Graph, false, &cal), None);
        let contacts = items(&w(&["mail", "contacts"])).expect("valid");
        assert!(carries("source", EndpointKind::Pop3, false, &contacts).is_some());
        assert_eq!(
            carries("source", EndpointKind::Gmail, false, &contacts),
            None
        );
        let cal = items(&w(&["calendar"])).expect("valid");
        assert_eq!(carries("source", EndpointKind::Gmail, false, &cal), None);
    }
}
