//! What a cloud endpoint's app registration must be granted for what the project moves on
//! that side: named by `cutover check` before anything connects, and by the errors of a
//! refused request (see `endpoint::graph::wire`).

use super::endpoints::{EndpointKind, GraphImport};
use super::items::Items;

/// The Gmail API scopes cutover asks Google for (domain-wide delegation grants them).
pub const GMAIL_SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/gmail.labels https://www.googleapis.com/auth/gmail.insert";

/// The Calendar API scope a Google source needs (calendar list and events, read only).
pub const CALENDAR_READ_SCOPE: &str = "https://www.googleapis.com/auth/calendar.readonly";
/// The Calendar API scope a Google destination needs (create calendars, import events).
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// The People API scopes a Google source needs (contacts and contact groups; "other contacts").
pub const CONTACTS_READ_SCOPE: &str = "https://www.googleapis.com/auth/contacts.readonly";
pub const OTHER_CONTACTS_READ_SCOPE: &str =
    "https://www.googleapis.com/auth/contacts.other.readonly";
/// The People API scope a Google destination needs (create contacts and contact groups).
pub const CONTACTS_SCOPE: &str = "https://www.googleapis.com/auth/contacts";

/// The permissions (Graph application permissions, or Google OAuth scopes) this side needs,
/// in the words the admin consoles use; empty for endpoints that sign in as the mailbox.
pub fn needed(
    kind: EndpointKind,
    source: bool,
    items: &Items,
    graph_import: GraphImport,
) -> Vec<String> {
    let mut out = Vec::new();
    match kind {
        EndpointKind::Graph => {
            if items.mail {
                out.push(
                    if source {
                        "Mail.Read"
                    } else {
                        "Mail.ReadWrite"
                    }
                    .into(),
                );
                if !source && graph_import == GraphImport::Mime {
                    out.push("Mail-Advanced.ReadWrite.All".into());
                }
            }
            // The mailbox import/export API (the project sets `graph_import` on both sides):
            // both list folders and items; the source app exports, the destination app
            // imports and (rollback) deletes what it imported.
            if graph_import == GraphImport::ExportImport {
                let names: &[&str] = if source {
                    &[
                        "MailboxFolder.Read.All",
                        "MailboxItem.Read.All",
                        "MailboxItem.Export.All",
                    ]
                } else {
                    &[
                        "MailboxFolder.Read.All",
                        "MailboxItem.ReadWrite.All",
                        "MailboxItem.ImportExport.All",
                    ]
                };
                out.extend(names.iter().map(|n| n.to_string()));
            }
            if items.calendar {
                out.push(
                    if source {
                        "Calendars.Read"
                    } else {
                        "Calendars.ReadWrite"
                    }
                    .into(),
                );
            }
            if items.contacts {
                out.push(
                    if source {
                        "Contacts.Read"
                    } else {
                        "Contacts.ReadWrite"
                    }
                    .into(),
                );
            }
        }
        EndpointKind::Gmail => {
            if items.mail {
                out.extend(GMAIL_SCOPE.split_whitespace().map(str::to_string));
            }
            if items.calendar {
                // Reading needs the calendar list and events; writing creates calendars.
                out.push(
                    if source {
                        CALENDAR_READ_SCOPE
                    } else {
                        CALENDAR_SCOPE
                    }
                    .into(),
                );
            }
            if items.contacts {
                if source {
                    out.push(CONTACTS_READ_SCOPE.into());
                    out.push(OTHER_CONTACTS_READ_SCOPE.into());
                } else {
                    out.push(CONTACTS_SCOPE.into());
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_names_each_kinds_permission_per_side() {
        let all = Items {
            calendar: true,
            contacts: true,
            ..Items::default()
        };
        assert_eq!(
            needed(EndpointKind::Graph, false, &all, GraphImport::Mime),
            [
                "Mail.ReadWrite",
                "Mail-Advanced.ReadWrite.All",
                "Calendars.ReadWrite",
                "Contacts.ReadWrite"
            ]
        );
        assert_eq!(
            needed(EndpointKind::Graph, true, &all, GraphImport::Mime),
            ["Mail.Read", "Calendars.Read", "Contacts.Read"]
        );
        assert_eq!(
            needed(
                EndpointKind::Graph,
                false,
                &Items::default(),
                GraphImport::Json
            ),
            ["Mail.ReadWrite"]
        );
        assert!(needed(EndpointKind::Imap, false, &all, GraphImport::Mime).is_empty());
        // Export-import: the source app exports, the destination app imports.
        let mail = Items::default();
        assert_eq!(
            needed(EndpointKind::Graph, true, &mail, GraphImport::ExportImport),
            [
                "Mail.Read",
                "MailboxFolder.Read.All",
                "MailboxItem.Read.All",
                "MailboxItem.Export.All"
            ]
        );
        assert_eq!(
            needed(EndpointKind::Graph, false, &mail, GraphImport::ExportImport),
            [
                "Mail.ReadWrite",
                "MailboxFolder.Read.All",
                "MailboxItem.ReadWrite.All",
                "MailboxItem.ImportExport.All"
            ]
        );
        assert!(
            needed(EndpointKind::Gmail, true, &all, GraphImport::Mime)
                .iter()
                .any(|s| s.ends_with("/gmail.modify"))
        );
        let cal = Items {
            mail: false,
            calendar: true,
            ..Items::default()
        };
        assert_eq!(
            needed(EndpointKind::Gmail, true, &cal, GraphImport::Mime),
            [CALENDAR_READ_SCOPE]
        );
        assert_eq!(
            needed(EndpointKind::Gmail, false, &cal, GraphImport::Mime),
            [CALENDAR_SCOPE]
        );
    }
}
