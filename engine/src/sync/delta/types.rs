//! What the steps of a delta pass share: one folder's scan, a move found, flag sets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::events::Severity;
use crate::journal::{DeltaRow, FolderRow};
use crate::sync::types::Ctx;

/// What an endpoint of the pass cannot do (it answered `EndpointError::Unsupported`): that
/// part is left out, and said once per mailbox when the pass ends.
#[derive(Debug, Default)]
pub struct Skipped(BTreeSet<&'static str>, Vec<String>);

/// The parts a pass can leave out, as the report names them.
pub const NO_SRC_FLAGS: &str = "flag changes (the source lists no flags)";
pub const NO_DST_FLAGS: &str = "flag changes (the destination cannot set flags)";
pub const NO_MOVES: &str = "moves between folders (the destination cannot move messages: a \
                            moved message is copied into its new folder and stays in the old one)";
pub const NO_REMOVALS: &str =
    "removals (the destination cannot remove messages: deletions stay reported)";

impl Skipped {
    pub fn add(&mut self, what: &'static str) {
        self.0.insert(what);
    }

    /// Something an endpoint said about the pass (`MailSession::take_notice`).
    pub fn note(&mut self, text: String) {
        self.1.push(text);
    }

    /// One info issue for the mailbox naming what was left out, if anything was, and one
    /// for each note.
    pub fn report(&self, ctx: &Ctx<'_>, mailbox: &str) {
        for n in &self.1 {
            ctx.sink
                .issue(Severity::Info, "source", Some(mailbox), None, None, n);
        }
        if self.0.is_empty() {
            return;
        }
        let list: Vec<&str> = self.0.iter().copied().collect();
        ctx.sink.issue(
            Severity::Info,
            "config",
            Some(mailbox),
            None,
            None,
            &format!(
                "delta pass: not carried between this source and destination: {}; new mail is \
                 copied and the rest is mirrored",
                list.join("; ")
            ),
        );
    }
}

/// One source folder as a delta pass found it.
#[derive(Debug, Clone)]
pub struct FolderScan {
    pub row: FolderRow,
    /// Source and destination folder names on the wire, and the source's for people.
    pub src: String,
    pub dst: String,
    pub display: String,
    /// The source UIDVALIDITY the scan is under.
    pub validity: u32,
    /// Source UIDs and sizes now (empty for a folder gone from the source).
    pub listing: HashMap<u32, u64>,
    /// Source UIDs not copied yet (above the high-water mark, or pending): where a moved
    /// message reappears.
    pub new_uids: Vec<u32>,
    /// Copied messages no longer in the folder.
    pub vanished: Vec<DeltaRow>,
    /// Source flags by UID (all messages, or those changed since the last pass's MODSEQ).
    pub src_flags: HashMap<u32, Vec<String>>,
    /// HIGHESTMODSEQ at the scan (CONDSTORE), recorded once the flags are carried.
    pub modseq: Option<u64>,
    /// The folder is still on the source (false: deleted or renamed since).
    pub listed: bool,
    /// Only system flags (`\Seen`, `\Flagged`, ...) are compared: the source lists no
    /// keywords (a Gmail API source, whose other labels the copy wrote as keywords); the
    /// keywords cutover set are kept as they are.
    pub system_flags_only: bool,
}

/// A copied message found again in another folder (or under a new UID in its own).
#[derive(Debug, Clone)]
pub struct Move {
    /// Indices into the scans.
    pub from: usize,
    pub to: usize,
    pub row: DeltaRow,
    /// Its UID in the `to` source folder.
    pub uid: u32,
}

/// Flags as a set compared without case (IMAP flags and keywords are case-insensitive),
/// keeping the server's spelling; `\Recent` and `\Deleted` are never carried.
pub fn flag_set<'a>(flags: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    flags
        .into_iter()
        .filter(|f| !f.is_empty())
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent") && !f.eq_ignore_ascii_case("\\Deleted"))
        .map(|f| (f.to_ascii_lowercase(), f.to_string()))
        .collect()
}

/// The journal's spelling of a flag set: space-separated, sorted.
pub fn flags_text(set: &BTreeMap<String, String>) -> String {
    set.values().cloned().collect::<Vec<_>>().join(" ")
}

/// What to add and remove on the destination: the source's changes since what cutover last
/// set (`base`), where the destination still has what cutover set. A flag the destination
/// changed on its own is left as it is.
pub fn flag_changes(
    src: &BTreeMap<String, String>,
    base: &BTreeMap<String, String>,
    dst: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let add = src
        .iter()
        .filter(|(k, _)| !base.contains_key(*k) && !dst.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect();
    let remove = base
        .iter()
        .filter(|(k, _)| !src.contains_key(*k))
        .filter_map(|(k, _)| dst.get(k).cloned())
        .collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> BTreeMap<String, String> {
        flag_set(s.split(' '))
    }

    #[test]
    fn only_source_changes_are_carried_and_destination_changes_kept() {
        // The source read and flagged it; the destination is as cutover left it.
        let (a, r) = flag_changes(&set("\\Seen \\Flagged"), &set(""), &set(""));
        assert_eq!(
            (a, r),
            (vec!["\\Flagged".to_string(), "\\Seen".into()], vec![])
        );
        // The source marked it unread; on the destination a user flagged it meanwhile:
        // \Seen goes, \Flagged (the destination's own change) stays.
        let (a, r) = flag_changes(&set(""), &set("\\Seen"), &set("\\Seen \\Flagged"));
        assert_eq!((a, r), (vec![], vec!["\\Seen".to_string()]));
        // A user on the destination marked it unread; the source did not change: kept.
        let (a, r) = flag_changes(&set("\\Seen"), &set("\\Seen"), &set(""));
        assert!(a.is_empty() && r.is_empty());
        // Keywords compare without case; \Recent and \Deleted are never carried.
        let (a, r) = flag_changes(
            &set("$label1 \\Recent \\Deleted"),
            &set("$Label1"),
            &set("$LABEL1"),
        );
        assert!(a.is_empty() && r.is_empty());
        assert_eq!(flags_text(&set("b a \\Seen")), "\\Seen a b");
    }
}
