//! The project file (TOML) and the Exchange-style mailbox CSV.
//!
//! Every error names the file, the line and column, the key and what was expected, so an
//! operator can fix the file without reading code.
//!
//! One module per concept: `lines` (errors with locations), `warnings` (warnings of the file
//! being loaded), [`checks`] (value ranges, URLs), `secrets` (passwords and client secrets),
//! `oauth`, `endpoints` (`[source]`, `[destination]`, their `[dav]`), `items` (what is moved), `mailboxes` (`[[mailbox]]` and the CSV), `recipients` (`[recipients]` and its CSV), `csv_header` (opening either CSV),
//! `folders`, `batches` (`[batch.NAME]` planned dates), `checklist` (`[[check]]`, `[checklist]` and the built-in items), `dns` (`[dns]`), `postgres` (`[project.postgres]`, a PostgreSQL journal), `project` (the
//! loaded [`Project`]), `raw` (the file's top-level shape) and `load` (reading and validating
//! it all).

mod batches;
mod checklist;
pub mod checks;
mod csv_header;
mod dns;
mod endpoints;
mod folders;
mod google_quota;
mod graph_limits;
mod items;
mod lines;
mod load;
mod mailboxes;
mod oauth;
pub mod permissions;
mod postgres;
mod project;
mod raw;
mod recipients;
mod secrets;
mod warnings;

pub use batches::BatchDates;
pub use checklist::{
    AUTO_CHECKS, Check, CheckKind, ChecklistSettings, DEFAULT_CHECKS, TICKABLE_AUTO_CHECKS,
};
pub use dns::{DnsSettings, GMAIL_MX};
pub use endpoints::{
    AuthMethod, Compress, DavSettings, Endpoint, EndpointKind, GmailSource, GraphImport,
    MultiLabel, Preset, Security, preset_host,
};
pub use folders::FolderRules;
pub use google_quota::{
    DEFAULT_CALENDAR_REQUESTS_PER_MINUTE, DEFAULT_GMAIL_UNITS_PER_MINUTE,
    DEFAULT_PEOPLE_REQUESTS_PER_MINUTE, GoogleQuota,
};
pub use graph_limits::GraphLimits;
pub use items::Items;
pub use lines::ConfigError;
pub use load::load;
pub use mailboxes::{CSV_COLUMNS, Credential, MailboxSpec};
pub use oauth::{OAuthFlow, OAuthProvider, OAuthSettings};
pub use postgres::{PgTarget, is_postgres_url, redact};
pub use project::{
    Brake, DEFAULT_MAX_FAILED_MESSAGES, Deletions, Durability, Project, SyncSettings,
};
pub(crate) use recipients::address_ok;
pub use recipients::{GoogleGroups, Grant, RECIPIENT_COLUMNS, Recipient, Recipients};
