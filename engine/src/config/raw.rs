//! The project file's top-level shape as serde reads it (`[project]`, `[assessment]`,
//! `[console]`, and the sections each module validates: endpoints, mailboxes, folders, checklist).

use serde::Deserialize;
use toml::Spanned;

use std::collections::BTreeMap;

use super::batches::RawBatch;
use super::checklist::{RawCheck, RawChecklist};
use super::dns::RawDns;
use super::endpoints::RawEndpoint;
use super::folders::RawFolders;
use super::mailboxes::RawMailbox;
use super::postgres::RawPostgres;
use super::project::{Brake, Durability, SyncSettings};
use super::recipients::RawRecipients;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) project: RawProjectSection,
    pub(super) source: RawEndpoint,
    pub(super) destination: RawEndpoint,
    #[serde(default)]
    pub(super) mailbox: Vec<Spanned<RawMailbox>>,
    #[serde(default)]
    pub(super) folders: RawFolders,
    #[serde(default)]
    pub(super) check: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    pub(super) checklist: RawChecklist,
    #[serde(default)]
    pub(super) assessment: RawAssessment,
    #[serde(default)]
    pub(super) console: RawConsole,
    #[serde(default)]
    pub(super) sync: SyncSettings,
    #[serde(default)]
    pub(super) dns: RawDns,
    #[serde(default)]
    pub(super) recipients: RawRecipients,
    /// `[batch.NAME]`: a batch's planned dates.
    #[serde(default)]
    pub(super) batch: BTreeMap<String, Spanned<RawBatch>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAssessment {
    #[serde(default)]
    pub(super) requirements: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    #[serde(default)]
    pub(super) theme: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProjectSection {
    pub(super) name: String,
    pub(super) state: String,
    /// The password of a PostgreSQL `state` URL.
    #[serde(default)]
    pub(super) postgres: Option<RawPostgres>,
    /// `[project.fleet]`: workers sharing a PostgreSQL journal.
    #[serde(default)]
    pub(super) fleet: Option<super::postgres::RawFleet>,
    #[serde(default)]
    pub(super) mailboxes_csv: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) durability: Durability,
    #[serde(default)]
    pub(super) parallel_mailboxes: Option<Spanned<usize>>,
    #[serde(default)]
    pub(super) folder_workers: Option<Spanned<usize>>,
    #[serde(default)]
    pub(super) max_failed_messages: Option<Spanned<usize>>,
    /// A folder with at least this many messages to copy is split across the mailbox's
    /// connections (0: never).
    #[serde(default)]
    pub(super) split_folder_messages: Option<Spanned<usize>>,
    #[serde(default)]
    pub(super) log_dir: Option<String>,
    #[serde(default)]
    pub(super) brake: Brake,
    /// What the project moves: "mail", "calendar", "contacts" (default mail only).
    #[serde(default)]
    pub(super) items: Option<Spanned<Vec<String>>>,
    /// Events that ended before this date ("YYYY-MM-DD") are not copied.
    #[serde(default)]
    pub(super) calendar_since: Option<Spanned<String>>,
    /// A local group whose members may also stop and watch the run (and read its files).
    #[serde(default)]
    pub(super) operators_group: Option<Spanned<String>>,
}
