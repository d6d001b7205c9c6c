//! Microsoft 365 mailboxes through Microsoft Graph (`kind = "graph"`), as a destination and as
//! a source, with an app-only (client-credentials) token.
//!
//! Graph has no UIDs: every message id (immutable ids, `Prefer: IdType="ImmutableId"`) gets a
//! UID from the journal (`Journal::ref_uids`, first seen, never reused), per mailbox and folder,
//! and UIDVALIDITY/UIDNEXT come from `Journal::ref_folder`. Folders are the displayName
//! hierarchy joined with '/'; the well-known Inbox is `INBOX` so that it meets IMAP's INBOX.
//!
//! Writing takes one of three paths (the third, export-import, for a Graph source only):
//! - `importMime` (beta; `graph_import = "mime"`, the default): the exact source bytes are
//!   imported as a received item (not a draft); read state and the flag are set afterwards.
//! - JSON (`graph_import = "json"`, and any message whose base64 request would pass Graph's
//!   4 MB request limit): the message is rebuilt from its parsed parts (subject, body,
//!   addresses, Message-ID) with MAPI properties for read state, delivery time, Date and the
//!   transport headers; attachments are added one by one (upload sessions from 3 MB).
//!
//! Every message cutover creates carries its source fingerprint and size in a named extended
//! property, so that verification, resume and rollback identify it without downloading it.
//!
//! Limits per app and mailbox are kept on this side (by default Microsoft's 4 requests at once,
//! 10,000 requests per 10 minutes, 150 MB uploaded per 5 minutes; `graph_limits` in the project
//! file overrides them), and 4 MB per request. Every request goes through
//! the shared REST layer ([`crate::endpoint::rest`]): the token, one retry with a fresh token
//! after a 401, and the service's 429/503/504 waited out as its Retry-After asks; the throttle
//! state per mailbox is shown in the console.
//!
//! The modules, by concern:
//! - `connector`: the connector of one side and the session it opens on a mailbox;
//! - `throttle`: the limits kept on this side and Graph's rules for the REST layer;
//! - `request`: a session's URLs, JSON calls and paging;
//! - `folders`: the folder tree, and the parent folders cutover created;
//! - `listing`: a folder's messages mapped to UIDs, and a message's MIME export;
//! - `import`: writing a message (importMime), its journal intents and their repair;
//! - `json`: the JSON path and attachments;
//! - `session`: the engine's [`crate::endpoint::MailSession`] calls;
//! - `delta`: what a delta pass needs: listed flags, flags set by PATCH, moves;
//! - `contacts` and `vcard`: contact folders as address books (`contacts:ID`), contacts as
//!   vCards, written exactly once (see docs/endpoints/graph.md, "Contacts");
//! - `calendar`: calendars (`calendar:ID`), each event series with its exceptions one
//!   iCalendar item, written exactly once and never with Graph attendees (see
//!   docs/endpoints/graph.md, "Calendars"); `ical_graph` turns iCalendar into Graph's
//!   event, `graph_ical` Graph's event into iCalendar, `recur` expands Graph's recurrence
//!   patterns, `zones` maps IANA and Windows time zones;
//! - `export_import`: Microsoft 365 to Microsoft 365 at full fidelity (`graph_import =
//!   "export-import"`): items exported as Exchange's opaque stream and imported as they were
//!   (see docs/endpoints/graph.md, "Export-import");
//! - `types` and `wire`: what they share (properties, listed items; Graph's encoding,
//!   error bodies and dates).

mod account;
mod calendar;
mod connector;
mod contacts;
mod delta;
mod directory;
mod export_import;
mod folders;
mod graph_ical;
mod ical_graph;
mod import;
mod json;
mod listing;
mod recur;
mod request;
mod session;
mod throttle;
mod types;
mod vcard;
mod wire;
pub(crate) mod zones;

pub use account::GraphAccount;
pub use connector::{GraphConnector, GraphSession};
pub use throttle::Limits;
pub use types::{
    BUILDING_PROP, CONTACT_UID_PROP, CONTACT_VCARD_PROP, EVENT_ICAL_PROP, EVENT_PEOPLE_PROP,
    EVENT_UID_PROP, FINGERPRINT_PROP,
};
