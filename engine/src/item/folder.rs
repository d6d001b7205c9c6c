//! How calendars and address books are named as folders of a mailbox: `calendar:ID` and
//! `contacts:ID`, where ID is the collection's last path segment on its server (decoded).
//! Mail folders keep their own names; an IMAP folder whose name starts with one of these
//! prefixes is refused by the combined session rather than confused with a collection.

use crate::api::ItemKind;

pub const CALENDAR_PREFIX: &str = "calendar:";
pub const CONTACTS_PREFIX: &str = "contacts:";

/// The kind of items a folder holds, by its name.
pub fn kind_of_folder(wire: &str) -> ItemKind {
    match collection_of(wire) {
        Some((k, _)) => k,
        None => ItemKind::Mail,
    }
}

/// The folder name of a collection of `kind` (an event or contact kind) with this id.
pub fn collection_folder(kind: ItemKind, id: &str) -> String {
    match kind {
        ItemKind::Contact => format!("{CONTACTS_PREFIX}{id}"),
        _ => format!("{CALENDAR_PREFIX}{id}"),
    }
}

/// The kind and collection id a folder name stands for; None for a mail folder.
pub fn collection_of(wire: &str) -> Option<(ItemKind, &str)> {
    if let Some(id) = wire.strip_prefix(CALENDAR_PREFIX) {
        Some((ItemKind::Event, id))
    } else {
        wire.strip_prefix(CONTACTS_PREFIX)
            .map(|id| (ItemKind::Contact, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(kind_of_folder("INBOX"), ItemKind::Mail);
        assert_eq!(kind_of_folder("calendar:work"), ItemKind::Event);
        assert_eq!(
            collection_of(&collection_folder(ItemKind::Contact, "default")),
            Some((ItemKind::Contact, "default"))
        );
        assert_eq!(collection_of("Archive/calendar:x"), None);
    }
}
