//! Items that are not mail: calendar events and contacts, as iCalendar (RFC 5545) and vCard
//! (RFC 6350, and 3.0) text. Mail, events and contacts share one journal and one copy loop:
//! a calendar or an address book is a folder of the mailbox (see [`folder`]), an event or a
//! contact one item in it, recognised by its identity and by a fingerprint of its normalised
//! content ([`fingerprint`]), so that two servers' serialisations of the same event match.
//!
//! `content` reads and writes content lines (unfolding, parameters, folding); `normalise`
//! turns an item into the canonical text its fingerprint is taken of, and tells its identity
//! (UID, RECURRENCE-IDs) and when it happens; `schedule` marks organizer and attendees so that
//! a server that schedules (RFC 6638) never sends an invitation for a migrated meeting;
//! `version` is the one rule of every item store for what is already at an item's place;
//! `opaque` is an item carried as a service's opaque stream (Microsoft 365 export-import).

pub mod content;
pub mod folder;
pub mod normalise;
pub mod opaque;
pub mod schedule;
pub mod version;

pub use folder::{collection_folder, collection_of, kind_of_folder};
pub use normalise::{Identity, fingerprint, identity, normalise};
pub use version::{AtDestination, at_destination, resource_name};
