//! Backup and restore: a verified, open-format copy of every mailbox before anything is
//! written, and a restore from it. Both are the migration engine on a derived project (see
//! `run` and `restore`), with their own journal inside the backup directory, so they are
//! incremental, exactly-once and resumable after kill -9 like a migration; the project's
//! journal records each mailbox's backup and restore (table `backups`) for the checklist,
//! the console and the reports.
//!
//! `types`: errors, the side's endpoint and credentials, the default directory; `space`: the
//! free-space check; `tree`: what a backup holds (journal, files, manifest) and the
//! per-mailbox summary; `run`: `cutover backup`; `verify`: `cutover backup --verify`;
//! `restore`: `cutover restore` and its pre-pass; `console`: the console's backup action.

mod console;
mod restore;
mod run;
mod space;
mod tree;
mod types;
mod verify;

pub use console::backup_and_verify;
pub use restore::{FolderPlan, RestoreOutcome, RestoreRun, plan, restore, restore_engine};
pub use run::{BackupRun, MailboxBackup, backup, backup_engine, backup_project, check_space};
pub use space::{Space, free_bytes};
pub use tree::{FolderSummary, Summary};
pub use types::{BACKUP_JOURNAL, BackupError, SUMMARY_FILE, default_dir};
pub use verify::{MailboxVerify, verify};
