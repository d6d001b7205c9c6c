//! CalDAV (RFC 4791) and CardDAV (RFC 6352): the protocol client of one account (`client`,
//! with discovery in `discovery`), the XML it reads and writes (`xml`), and what it hands
//! back (`wire_types`), and the account as the engine sees it (`session`: calendars and
//! address books as folders, events and contacts as items). See docs/endpoints/dav.md.

mod client;
mod discovery;
mod query;
mod session;
mod wire_types;
pub mod xml;

pub use client::DavClient;
pub use session::{DavConnector, DavSession};
pub use wire_types::{
    Collection, CollectionKind, Homes, ItemData, ItemRef, MAX_REPLY, MAX_RESPONSES, MULTIGET_CHUNK,
    PutOutcome, SyncDelta,
};

#[cfg(test)]
mod tests;
