//! Mail endpoints: where messages are read from and written to.
//!
//! The engine talks to every kind of endpoint (IMAP, POP3, Microsoft Graph, Gmail API) through
//! [`MailSession`], in terms of folders, UIDs, flags, dates and raw RFC 5322 bytes, and to any
//! of them at once through [`any`]. An endpoint that has no IMAP UIDs (Graph, Gmail API, POP3)
//! keeps its own stable ids behind the same calls, mapped to UIDs in the journal.
//!
//! This module only declares and re-exports: the shared types are in `types` (folders,
//! messages, capabilities, [`EndpointError`]), the trait in `session`, the message channel in
//! `sink`, the connection budget in `budget`, and TCP/TLS for the mail protocols in `net`.
//! Every endpoint reads from servers through [`bounded`] (and IMAP through [`guard`]).

pub mod any;
pub mod bounded;
mod budget;
pub use budget::{FleetSlots, set_fleet_slots};
pub mod compress;
pub mod dav;
mod deflate;
pub mod gmail;
pub mod graph;
pub mod guard;
pub mod http;
pub mod imap;
pub mod imap_dav;
pub mod maildir;
mod net;
pub mod oauth;
pub mod pop3;
pub mod rest;
pub mod retry_after;
mod session;
mod sink;
mod starttls;
pub mod tap;
mod types;
pub mod with_items;

pub use budget::ConnectionBudget;
pub use session::{MailSession, Statuses, UidFlags};
pub use sink::{MessageSink, Preview};
pub use types::{
    AppendOutcome, Body, Capabilities, EndpointError, Fingerprinted, Folder, FolderState,
    MAX_RETRY_AFTER, Message, MessageIdentity, MessageMeta, Result, SpecialUse,
};
