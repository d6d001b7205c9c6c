//! A loaded, validated [`Project`], and the project-wide settings (`[project]`): durability,
//! the brake, the error budget.

use std::path::PathBuf;

use serde::Deserialize;

use super::checklist::{Check, ChecklistSettings};
use super::endpoints::Endpoint;
use super::folders::FolderRules;
use super::items::Items;
use super::mailboxes::MailboxSpec;

/// How a journal commit is made durable (SQLite `synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// `synchronous = NORMAL`: survives a crash or `kill -9` of cutover; the last commits may be
    /// rolled back (never corrupted) by a power loss or OS crash.
    #[default]
    Crash,
    /// `synchronous = FULL`: every commit is fsynced, so it also survives power loss.
    PowerLoss,
}

/// What pauses by itself when verification finds a message missing, altered or duplicated
/// on the destination (a data-loss incident).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Brake {
    /// Only the mailbox concerned stops.
    Mailbox,
    /// Its whole batch pauses (default).
    #[default]
    Batch,
    /// Every batch stops (emergency stop).
    All,
}

/// A loaded, validated project.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub file: PathBuf,
    /// The SQLite journal; with a PostgreSQL journal (`postgres`), the local name that the
    /// control socket, the engine lock and the OAuth token file are named after.
    pub state_path: PathBuf,
    /// `state = "postgres://…"`: the journal is on that server, not in `state_path`.
    pub postgres: Option<super::postgres::PgTarget>,
    /// `[project.fleet] lease_seconds`: how long a worker's mailbox lease lasts without a
    /// renewal (PostgreSQL journal only).
    pub lease_seconds: f64,
    pub log_dir: PathBuf,
    pub durability: Durability,
    pub parallel_mailboxes: usize,
    pub folder_workers: usize,
    /// A folder with at least this many messages to copy (or `sync::split::SPLIT_BYTES` of
    /// them) is cut into UID ranges copied on several of the mailbox's `folder_workers`
    /// connections at once (0: never).
    pub split_folder_messages: usize,
    /// Error budget: once this many messages of one mailbox were refused by the destination
    /// (journal state `failed`), the mailbox fails instead of going on refusing more.
    pub max_failed_messages: usize,
    pub brake: Brake,
    pub source: Endpoint,
    pub destination: Endpoint,
    /// What the project moves (`[project] items`: mail, calendars, contacts) and from when
    /// (`calendar_since`).
    pub items: Items,
    pub mailboxes: Vec<MailboxSpec>,
    pub folders: FolderRules,
    pub checks: Vec<Check>,
    pub checklist: ChecklistSettings,
    /// Custom requirements named in `[assessment] requirements` (raise the complexity).
    pub requirements: Vec<String>,
    /// The console theme named in the file, if any.
    pub theme: Option<String>,
    /// Warnings found while loading (a password file readable by others): the caller shows
    /// them (on stderr and in the log; logging is not set up yet while the file loads).
    pub warnings: Vec<String>,
    /// `[project] operators_group`: its members may stop and watch the run too; the files
    /// cutover writes are shared with it (see [`crate::local`]).
    pub operators_group: Option<crate::local::Group>,
    /// `[sync]`: how delta passes (`cutover sync`) treat what changed on the source.
    pub sync: SyncSettings,
    /// `[dns]`: the records the destination needs (`cutover finalize`, the `dns-*` items).
    pub dns: super::dns::DnsSettings,
    /// Shared/resource mailboxes, lists and groups the destination must have
    /// (`[recipients] csv`); empty without one.
    pub recipients: super::recipients::Recipients,
    /// `[batch.NAME]`: the batches' planned dates, by batch name (only those the file gives).
    pub batch_dates: std::collections::BTreeMap<String, super::batches::BatchDates>,
}

/// `[sync]` of the project file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// What a message deleted on the source becomes on the destination.
    #[serde(default)]
    pub deletions: Deletions,
}

/// `[sync] deletions`: a message deleted on the source is reported (`report`, the default:
/// it stays on the destination) or also removed from the destination (`propagate`, only a
/// message cutover itself wrote there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deletions {
    #[default]
    Report,
    Propagate,
}

/// Default error budget per mailbox (`max_failed_messages`).
pub const DEFAULT_MAX_FAILED_MESSAGES: usize = 50;
/// `[project] split_folder_messages` when the file does not say: two ranges' worth.
pub const DEFAULT_SPLIT_FOLDER_MESSAGES: usize = 1000;

impl Project {
    /// The journal as messages name it: the SQLite file, or the PostgreSQL URL without its
    /// password.
    pub fn journal_name(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.display(),
            None => self.state_path.display().to_string(),
        }
    }
}
