//! What the Gmail modules share: the API's limits and quota costs, the labels presented as
//! folders, and the JSON shapes of its answers.

use serde::Deserialize;

use crate::endpoint::types::SpecialUse;

/// Largest message `messages.import` takes (the media upload limit).
pub const MAX_IMPORT_BYTES: u64 = 150 * 1024 * 1024;

/// Gmail's per-user quota when the project does not set `gmail_units_per_minute`: units per
/// minute (Google's documented default for new projects).
pub const USER_UNITS_PER_MINUTE: u32 = crate::config::DEFAULT_GMAIL_UNITS_PER_MINUTE;

/// Quota units of the methods used (Gmail API usage limits).
pub mod units {
    pub const LABELS_LIST: u32 = 1;
    pub const LABELS_CREATE: u32 = 5;
    pub const LABELS_UPDATE: u32 = 5;
    pub const LABELS_DELETE: u32 = 5;
    pub const MESSAGES_LIST: u32 = 5;
    pub const MESSAGES_GET: u32 = 5;
    pub const MESSAGES_IMPORT: u32 = 25;
    pub const MESSAGES_DELETE: u32 = 10;
    pub const HISTORY_LIST: u32 = 2;
    pub const GET_PROFILE: u32 = 1;
}

/// Throttling answers waited out before giving up with `Throttled`.
pub const MAX_RETRIES: u32 = 6;

/// The folder presented for mail with no folder label (archived).
pub const ARCHIVE: &str = "Archive";
/// Its name when a user label is called "Archive" already.
pub(super) const ARCHIVE_ALT: &str = "[Archive]";

/// Journal key of the archive pseudo-folder (user labels are keyed by their label id, which
/// survives a rename; system labels' ids are their names).
pub(super) const ARCHIVE_KEY: &str = "(no label)";

/// The system labels that are folders: (label id, folder name, special use).
pub(super) const SYSTEM_FOLDERS: &[(&str, &str, Option<SpecialUse>)] = &[
    ("INBOX", "INBOX", None),
    ("SENT", "Sent", Some(SpecialUse::Sent)),
    ("DRAFT", "Drafts", Some(SpecialUse::Drafts)),
    ("SPAM", "Junk", Some(SpecialUse::Junk)),
    ("TRASH", "Trash", Some(SpecialUse::Trash)),
];

/// Other spellings of the system folders, which Gmail reserves: a folder of that name is the
/// system label rather than a new label Gmail would refuse.
pub(super) const RESERVED_ALIASES: &[(&str, &str)] = &[
    ("Sent", "SENT"),
    ("Sent Mail", "SENT"),
    ("Draft", "DRAFT"),
    ("Drafts", "DRAFT"),
    ("Spam", "SPAM"),
    ("Junk", "SPAM"),
    ("Trash", "TRASH"),
    ("Bin", "TRASH"),
];

/// Query for the archive: no folder label of any kind.
pub(super) const ARCHIVE_QUERY: &str =
    "-in:inbox -in:sent -in:drafts -in:spam -in:trash -in:chats has:nouserlabels";

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Label {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(rename = "type", default)]
    pub(super) kind: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct LabelList {
    #[serde(default)]
    pub(super) labels: Vec<Label>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageRef {
    pub(super) id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageList {
    #[serde(default)]
    pub(super) messages: Vec<MessageRef>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GmailMessage {
    pub(super) id: String,
    #[serde(default)]
    pub(super) label_ids: Vec<String>,
    #[serde(default)]
    pub(super) size_estimate: Option<u64>,
    #[serde(default)]
    pub(super) internal_date: Option<String>,
    #[serde(default)]
    pub(super) raw: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    pub(super) error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorItem {
    #[serde(default)]
    pub(super) reason: String,
}

/// Where a folder name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A label (system or user) by id.
    Label(String),
    /// Mail with no folder label.
    Archive,
}

/// What one `messages.get` told about a message.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    pub(super) labels: Vec<String>,
    pub(super) size: u64,
    pub(super) internal_ms: Option<i64>,
}

/// The examined folder: its journal key and its messages (UID, id) in UID order.
pub(super) struct Current {
    pub(super) key: String,
    pub(super) listing: Vec<(u32, String)>,
}

/// A message of the examined folder with its global identity and every label it carries,
/// for the engine's copy-each-message-once policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledMessage {
    pub uid: u32,
    /// The Gmail message id: the same in every folder the message is listed in.
    pub global_id: String,
    /// Its labels as folder names where they are folders (`INBOX`, `Sent`, `Drafts`,
    /// `Junk`, `Trash`, user labels by name), else the label id (`STARRED`, `UNREAD`,
    /// `IMPORTANT`, `CATEGORY_*`); `Archive` alone when it has no folder label.
    pub labels: Vec<String>,
}

/// What a session knows of the mailbox's history.
#[derive(Debug, Default)]
pub(super) struct HistoryState {
    /// The mailbox's historyId taken before the first folder was compared.
    pub(super) marker: Option<u64>,
    /// Per start historyId: the ids of the messages with records since (None: Google no
    /// longer keeps that history).
    pub(super) since: std::collections::HashMap<u64, Option<std::collections::HashSet<String>>>,
    /// The baseline is in the journal (recorded, or found there).
    pub(super) baseline: bool,
    pub(super) notice: Option<String>,
}
