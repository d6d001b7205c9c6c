//! The durable state journal: one SQLite file per project.
//!
//! Everything the engine must remember across a crash lives here: per mailbox and folder the
//! UIDVALIDITY and high-water marks, and per source message its state, size, fingerprint and
//! destination UID. The rule that makes `kill -9` harmless: a message is journalled as
//! `appending` (with the destination UID floor) *before* its APPEND is sent, and as `copied`
//! only after the server confirmed it. Whatever is still `appending` at the next start is
//! resolved against the destination before anything is re-sent.
//!
//! The interface is deliberately narrow (plain rows in, plain rows out), and every query is
//! written once: `conn` is the one connection, SQLite or PostgreSQL (`pg`, `pg_value`), with
//! `sql` its values and rows and `dialect` the rewrite of the SQL for PostgreSQL.
//!
//! One module per concept, each adding its calls to [`Journal`]: `db` (the file, opening it,
//! the connection), `schema` (tables and migrations), `messages` (the message state
//! machine), `delta` (delta passes: flags, moves, deletions, passes), `mailboxes`, `folders`, `totals`, `runs` (runs and reports), `issues`,
//! `checks`, `assessments`, `verifications`, `backups` (backups and restores), `switches` (the moment of the switch, `cutover finalize`), `refs` (UIDs for endpoints without them), `recipients` (shared mailboxes, lists, groups), `fleet` and `listen` (fleet commands: stop, pause for every engine on a PostgreSQL journal, NOTIFY and LISTEN), `notes` (the operator's lessons and recommendations)
//! and `gmail` (sightings in Gmail-shaped sources).

mod access;
mod assessments;
mod backups;
mod checks;
mod conn;
mod db;
mod delta;
mod dialect;
mod fleet;
mod folders;
mod gmail;
mod gmail_history;
mod graph_delta;
pub mod inspect;
mod issues;
mod leases;
mod listen;
mod mailboxes;
mod messages;
mod notes;
mod pg;
mod pg_value;
mod recipients;
mod refs;
mod runs;
mod schema;
pub(crate) mod sql;
mod switches;
mod totals;
mod verifications;

pub use access::AccessRow;
pub use assessments::{
    AssessedFolderRow, AssessedMailboxRow, AssessedMessageRow, AssessmentRows, RiskRow,
};
pub use backups::BackupRow;
pub use checks::{CheckResultRow, CheckStateRow};
pub use conn::{JournalCost, journal_cost};
pub use db::{Journal, JournalError, Result};
pub use delta::{ChangeRow, DeltaRow, PassCounts, SyncChange, SyncPassRow};
pub use fleet::{FleetCommand, FleetWorkerRow, LISTENER_NAME, fleet_channel};
pub use folders::{FolderRow, folder_state};
pub use gmail::GmailSeenRow;
pub use issues::{Issue, IssueRow};
pub use leases::WorkerRow;
pub use listen::{FleetSignal, listen};
pub use mailboxes::MailboxRow;
pub use messages::{AppendIntent, CopiedRow, DoubtRow, EXPUNGED_REASON, PendingRow, state};
pub use notes::NoteRow;
pub use recipients::{ChangeKey, RecipientChange, RecipientRow};
pub use sql::SqlError;
pub use totals::{SkipRow, Totals};
pub use verifications::{VerificationRow, VerificationScope};

/// The calls no other test reaches, on both backends.
#[cfg(test)]
mod backends;

/// The throwaway PostgreSQL cluster of the tests, the same file as `tests/it`'s.
#[cfg(test)]
#[path = "../../../tests/it/support/postgres.rs"]
mod test_postgres;
