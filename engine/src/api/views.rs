//! The views an observer receives: counts and rates per mailbox, batch and project, issues,
//! checklist items, and the [`Snapshot`] that carries them all.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use super::passes::{Lag, SyncView};
use super::states::{
    BackupState, BatchState, CheckStatus, IssueState, ItemKind, MailboxState, RunState, Severity,
};
use crate::directory::MailboxType;
use crate::wire::WireBytes;

/// Seconds of throughput history kept (the chart shows the last 10 minutes).
pub const HISTORY_SECS: usize = 600;

/// Item counts of a mailbox (or a batch, or everything), from the journal. The flat fields
/// count every item whatever its kind (`messages` is "items"); `by_kind` splits them per kind
/// and holds only the kinds the journal has items of (a mail-only mailbox has one entry, or
/// none before anything is enumerated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub messages: u64,
    pub bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    pub failed: u64,
    pub pending: u64,
    pub by_kind: BTreeMap<ItemKind, KindTotals>,
}

/// The counts of one kind of item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindTotals {
    pub items: u64,
    pub bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    pub failed: u64,
    pub pending: u64,
    /// Among `skipped`: items that vanished from the source before they were copied (so
    /// `items - expunged` are on the source).
    pub expunged: u64,
}

impl KindTotals {
    pub fn add(&mut self, o: &KindTotals) {
        self.items += o.items;
        self.bytes += o.bytes;
        self.copied += o.copied;
        self.copied_bytes += o.copied_bytes;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.pending += o.pending;
        self.expunged += o.expunged;
    }
}

impl Totals {
    /// Adds another mailbox's (or batch's) counts, kind by kind.
    pub fn add(&mut self, o: &Totals) {
        self.messages += o.messages;
        self.bytes += o.bytes;
        self.copied += o.copied;
        self.copied_bytes += o.copied_bytes;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.pending += o.pending;
        for (k, t) in &o.by_kind {
            self.by_kind.entry(*k).or_default().add(t);
        }
    }

    /// Some item is an event or a contact: the views then name the kinds (a mail-only
    /// mailbox renders exactly as before).
    pub fn mixed(&self) -> bool {
        self.by_kind.keys().any(|k| *k != ItemKind::Mail)
    }

    /// The counts of one kind (zero when it has no item).
    pub fn kind(&self, k: ItemKind) -> KindTotals {
        self.by_kind.get(&k).copied().unwrap_or_default()
    }
}

/// Messages and bytes appended per second, newest last.
#[derive(Debug, Clone, Default)]
pub struct Throughput {
    pub samples: VecDeque<(u64, u64)>,
}

impl Throughput {
    pub fn push_second(&mut self, msgs: u64, bytes: u64) {
        self.samples.push_back((msgs, bytes));
        while self.samples.len() > HISTORY_SECS {
            self.samples.pop_front();
        }
    }

    /// Average over the last `secs` complete seconds: (msgs/s, bytes/s).
    pub fn rate(&self, secs: usize) -> (f64, f64) {
        let n = self.samples.len().min(secs);
        if n == 0 {
            return (0.0, 0.0);
        }
        let (m, b) = self
            .samples
            .iter()
            .rev()
            .take(n)
            .fold((0, 0), |(m, b), (x, y)| (m + x, b + y));
        (m as f64 / n as f64, b as f64 / n as f64)
    }
}

#[derive(Debug, Clone, Default)]
pub struct MailboxView {
    pub key: String,
    pub batch: String,
    /// User, shared, room or equipment mailbox.
    pub mailbox_type: MailboxType,
    pub state: MailboxState,
    pub current_folder: Option<String>,
    pub folders_done: usize,
    /// None until the folder map is known.
    pub folders_total: Option<usize>,
    /// From the journal: what is known to exist and what is copied.
    pub totals: Totals,
    pub throughput: Throughput,
    pub last_error: Option<String>,
    /// Every folder of the mailbox has been enumerated, so `totals.messages` is the whole
    /// mailbox; until then it is a lower bound (shown with "≥").
    pub enumerated: bool,
    /// Its newest backup of the source.
    pub backup: BackupState,
}

impl MailboxView {
    /// Estimated seconds left, from the last minute's measured rate; None when unknown.
    pub fn eta_secs(&self) -> Option<f64> {
        let (r, _) = self.throughput.rate(60);
        let left = self.totals.pending as f64;
        (r > 0.0 && left > 0.0).then(|| left / r)
    }
}

#[derive(Debug, Clone, Default)]
pub struct BatchView {
    pub name: String,
    pub mailboxes: Vec<MailboxView>,
    pub throughput: Throughput,
    pub paused: bool,
    /// Mailboxes of this batch allowed at once (0: unknown, e.g. in watch mode).
    pub parallel: usize,
    /// Required checklist items unmet for starting this batch (ids): the engine refuses.
    pub blocked: Vec<String>,
    /// Its delta passes (`cutover sync`, the console's d / D) and finalize.
    pub sync: SyncView,
}

impl BatchView {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for m in &self.mailboxes {
            t.add(&m.totals);
        }
        t
    }

    /// Its mailboxes counted by type, kinds with none left out: "2 user, 1 shared".
    pub fn types(&self) -> String {
        MailboxType::summary(self.mailboxes.iter().map(|m| m.mailbox_type))
    }

    /// Every mailbox of the batch fully enumerated (its totals are not a lower bound).
    pub fn enumerated(&self) -> bool {
        self.mailboxes.iter().all(|m| m.enumerated)
    }

    /// Source changes not yet on the destination at `now`, as far as measured (see [`Lag`]).
    pub fn lag(&self, now: DateTime<Utc>) -> Lag {
        let t = self.totals();
        self.sync.lag(now, t.pending, t.failed)
    }

    /// Mailboxes of the batch whose newest source backup is in this state.
    pub fn backups(&self, state: BackupState) -> usize {
        self.mailboxes.iter().filter(|m| m.backup == state).count()
    }

    pub fn count(&self, state: MailboxState) -> usize {
        self.mailboxes.iter().filter(|m| m.state == state).count()
    }

    pub fn errors(&self) -> usize {
        self.mailboxes
            .iter()
            .filter(|m| m.last_error.is_some())
            .count()
    }

    /// The batch as a whole.
    pub fn state(&self) -> BatchState {
        let n = self.mailboxes.len();
        if self.count(MailboxState::Running) > 0 {
            if self.paused {
                BatchState::Pausing
            } else {
                BatchState::Running
            }
        } else if n > 0 && self.count(MailboxState::Done) == n {
            BatchState::Done
        } else if self.count(MailboxState::Failed) > 0 {
            BatchState::Failed
        } else if self.count(MailboxState::Stopped) > 0 {
            BatchState::Stopped
        } else if self.count(MailboxState::Paused) > 0 {
            BatchState::Paused
        } else {
            BatchState::NotStarted
        }
    }
}

/// An issue: as journalled, or a journal failure this process met.
#[derive(Debug, Clone, Default)]
pub struct IssueView {
    pub id: i64,
    pub severity: Severity,
    pub category: String,
    pub mailbox: Option<String>,
    pub folder: Option<String>,
    pub uid: Option<u32>,
    pub message: String,
    pub count: u32,
    pub last_seen: String,
    pub state: IssueState,
    pub first_seen: String,
    /// Who set the state, when, and their note.
    pub state_by: Option<String>,
    pub state_at: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CheckView {
    pub id: String,
    pub section: String,
    pub title: String,
    pub required: bool,
    pub done: bool,
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<String>,
    /// Verified by the engine (not ticked by hand).
    pub auto: bool,
    /// The operator may tick it: a manual item, or an auto item the engine cannot verify
    /// itself (`recipients`).
    pub tickable: bool,
    pub status: CheckStatus,
    /// Why: the failure, what is pending, the override.
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Connections {
    pub src_in_use: usize,
    pub src_max: usize,
    pub dst_in_use: usize,
    pub dst_max: usize,
    /// IMAP sides: bytes on the wire against bytes of protocol (COMPRESS=DEFLATE).
    pub src_wire: Option<WireBytes>,
    pub dst_wire: Option<WireBytes>,
}

/// What an observer (the console, `cutover watch`) sees: a value, published latest-wins.
/// Counts come from the journal; rates are measured from what was appended.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub project: String,
    /// When this process started working (for the elapsed clock).
    pub started: Option<DateTime<Utc>>,
    pub run_state: RunState,
    pub read_only: bool,
    pub batches: Vec<BatchView>,
    pub throughput: Throughput,
    /// The same, per kind of item (the kinds copied since this process started; in watch
    /// mode, from the journal's counts per kind).
    pub kind_throughput: BTreeMap<ItemKind, Throughput>,
    pub connections: Connections,
    pub parallel: usize,
    pub issues: Vec<IssueView>,
    pub checks: Vec<CheckView>,
    /// Mailboxes with a throttling signal in the last minute.
    pub throttled: Vec<String>,
    pub log_dir: String,
    pub journal: String,
    /// The rollback under way or last finished in this process, in words.
    pub rollback: Option<String>,
    /// The operator's lessons learned and recommendations for the reports, a view per section.
    pub notes: Vec<NoteView>,
    /// With a PostgreSQL journal, the fleet of workers on it (None: SQLite, one engine).
    pub fleet: Option<super::fleet::FleetView>,
}

/// One section of the operator's report notes: as journalled (the newest), and cutover's
/// suggestions for it from the journal (what the console's editor pre-fills when nothing is
/// written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoteView {
    pub section: super::states::NoteSection,
    /// The newest note (None: not written yet).
    pub text: Option<String>,
    /// Who wrote it (the OS user) and when.
    pub by: Option<String>,
    pub at: Option<String>,
    /// The suggestions, one a line (empty: none).
    pub suggestions: String,
}

impl Snapshot {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for b in &self.batches {
            t.add(&b.totals());
        }
        t
    }

    /// Every mailbox fully enumerated (the totals are not a lower bound).
    pub fn enumerated(&self) -> bool {
        self.batches.iter().all(BatchView::enumerated)
    }

    /// Issues not resolved, per severity: (critical, error, warning, info).
    pub fn issue_counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for i in self
            .issues
            .iter()
            .filter(|i| i.state != IssueState::Resolved)
        {
            match i.severity {
                Severity::Critical => c.0 += 1,
                Severity::Error => c.1 += 1,
                Severity::Warning => c.2 += 1,
                Severity::Info => c.3 += 1,
            }
        }
        c
    }

    /// Why a mailbox is held back by throttling (in the last minute), if it is: a throttling
    /// issue names its key; an HTTP API endpoint names the account ("upn: why").
    pub fn throttle_of(&self, key: &str) -> Option<&str> {
        let (src, dst) = key.split_once("->").unwrap_or((key, ""));
        self.throttled.iter().find_map(|t| {
            if t == key {
                return Some("the server asked to slow down (see Issues)");
            }
            let (account, why) = t.split_once(": ")?;
            (account.eq_ignore_ascii_case(src) || account.eq_ignore_ascii_case(dst)).then_some(why)
        })
    }

    pub fn mailbox(&self, key: &str) -> Option<&MailboxView> {
        self.batches
            .iter()
            .flat_map(|b| &b.mailboxes)
            .find(|m| m.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_state_is_found_by_mailbox_key_or_by_account() {
        let s = Snapshot {
            throttled: vec![
                "ann->ann@contoso.com".into(),
                "Bob@Contoso.com: HTTP 429 from the service, retry after 30 s".into(),
            ],
            ..Snapshot::default()
        };
        assert!(s.throttle_of("ann->ann@contoso.com").is_some());
        assert_eq!(
            s.throttle_of("bob->bob@contoso.com"),
            Some("HTTP 429 from the service, retry after 30 s")
        );
        assert_eq!(s.throttle_of("carl->carl@contoso.com"), None);
    }
}
