//! The Gmail API (Google Workspace) as a destination or a source, on reqwest.
//!
//! Gmail has labels, not folders. The system labels INBOX, SENT, DRAFT, SPAM and TRASH are
//! presented as the folders `INBOX`, `Sent`, `Drafts`, `Junk` and `Trash` (with their
//! special use), user labels under their names (`/` nests them), and mail that carries none
//! of these (archived mail) as `Archive` (`\Archive`). STARRED, UNREAD, IMPORTANT and the
//! CATEGORY_* labels are states, not folders: they become the `\Flagged` and `\Seen` flags.
//!
//! Messages have ids, not UIDs: the journal maps each id to a UID per folder once and for all
//! (`Journal::ref_uids`), so resume, verification and rollback work as for IMAP. A message
//! carries several labels, so as a source it is listed in every folder it is labelled with:
//! copying each message once needs the engine's Gmail policy (`sync::gmail`), which gets
//! the labels of each message from `fetch_identities` (or [`GmailSession::labelled_messages`]).
//!
//! Writing uses `messages.import` (as a mail delivery would, with the date from the `Date:`
//! header, never classified as spam, no calendar processing); the raw bytes are kept by Gmail
//! and read back byte for byte with `format=raw`. Rollback deletes messages permanently
//! (`messages.delete`), which needs the full `https://mail.google.com/` scope.
//!
//! Every call is counted against Gmail's per-user quota (`gmail_units_per_minute`, 6,000 units
//! a minute by default, with each method's documented cost) in a sliding window before it is sent, and goes through the
//! shared REST layer ([`crate::endpoint::rest`]): the token, one retry with a fresh token
//! after a 401, and a 429, a 403 `rateLimitExceeded`/`userRateLimitExceeded` or a 5xx waited
//! out (Retry-After in seconds or as a date, else exponential backoff) and, after
//! [`MAX_RETRIES`], reported as [`EndpointError::Throttled`](crate::endpoint::EndpointError).
//!
//! The modules, by concern:
//! - `connector`: the connector of one side and the session it opens on a mailbox;
//! - `quota`: the per-user quota and Gmail's rules for the REST layer;
//! - `request`: a session's URLs and calls, and unexpected answers;
//! - `labels`: labels as folders, and what a folder name points to;
//! - `listing`: a folder's messages mapped to UIDs, reading messages and their labels;
//! - `import`: writing a message with `messages.import`;
//! - `session`: the engine's [`crate::endpoint::MailSession`] calls;
//! - `delta`: what a delta pass needs: flags from labels, `messages.modify` for flags and moves;
//! - `history`: a source's change marker, `users.history.list` from the journalled historyId;
//! - `calendar` and `calendar_session`: the user's calendars through the Calendar API
//!   (`calendar:ID`), each iCalUID's events one iCalendar item, written with `events.import`
//!   only (see docs/endpoints/gmail.md, "Calendars"); `gcal_ical` turns the API's events
//!   into iCalendar, `ical_gcal` iCalendar into the events to import;
//! - `people`, `people_session` and `people_vcard`: the user's contacts through the People
//!   API (`contacts:default`; "other contacts" as `contacts:other`), contacts as vCards,
//!   mutations one at a time, creates in batches of at most 200; `google_items` routes a
//!   calendar or an address book to its API;
//! - `types` and `wire`: what they share (limits, system folders, the API's JSON shapes;
//!   error bodies, flags and dates).

mod calendar;
mod calendar_session;
mod connector;
mod delta;
mod directory;
mod gcal_ical;
mod google_items;
mod history;
mod ical_gcal;
mod import;
mod labels;
mod listing;
mod people;
mod people_session;
mod people_vcard;
mod quota;
mod request;
mod session;
mod types;
mod wire;

pub use calendar::GoogleCalendars;
pub use connector::{GmailConnector, GmailSession};
pub use directory::{DIRECTORY_SCOPES, GoogleDirectory};
pub use google_items::GoogleItems;
pub use people::{GooglePeople, MAX_BATCH};
pub use types::{
    ARCHIVE, LabelledMessage, MAX_IMPORT_BYTES, MAX_RETRIES, USER_UNITS_PER_MINUTE, units,
};
