//! The contract between the engine and its drivers (the console, the CLI): the [`Command`]s
//! they send, the [`Snapshot`] they receive with its views, and an enum for every state and
//! severity that crosses (no state travels as a string; each enum's `as_str` and `Display`
//! give the word that is printed). A [`Handle`] on a running engine holds the two channels
//! and a [`StopSwitch`], not the engine.
//!
//! It depends on nothing else of the engine but the issue category table it re-exports
//! ([`crate::issues`]): the engine converts its journal rows and checklist items into these
//! views (`engine::views`), and its events and sink speak these states and severities.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

/// What each issue category means for the operator (cause, fix, retry class): the console's
/// Issues tab shows it beside the selected issue.
pub use crate::issues::{Category, Retry, category};

pub use crate::directory::{AccessRight, MailboxType, RecipientKind};
/// The one formatter of bytes, percentages and durations, so that the console prints a figure
/// exactly as the CLI and the reports do.
pub use crate::mail::fmt as figures;
/// Bytes on an IMAP link and of protocol they carried (COMPRESS=DEFLATE shows the difference).
pub use crate::wire::WireBytes;

/// Seconds of throughput history kept (the chart shows the last 10 minutes).
pub const HISTORY_SECS: usize = 600;

use crate::words::words;

/// What an item is. Mail, calendars and contacts share one journal and one copy loop: a
/// calendar or an address book is a folder of the mailbox (named `calendar:ID` or
/// `contacts:ID`), an event (a series with its exceptions, as one CalDAV resource holds it) or a
/// contact is an item in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ItemKind {
    #[default]
    Mail,
    Event,
    Contact,
}

words!(ItemKind {
    Mail => "mail",
    Event => "event",
    Contact => "contact",
});

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Mail, ItemKind::Event, ItemKind::Contact];

    /// The plural for people ("messages", "events", "contacts").
    pub const fn plural(&self) -> &'static str {
        match *self {
            ItemKind::Mail => "messages",
            ItemKind::Event => "events",
            ItemKind::Contact => "contacts",
        }
    }
}

/// How serious an issue is, least to most severe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

words!(Severity {
    Info => "info",
    Warning => "warning",
    Error => "error",
    Critical => "critical",
});

/// A word from the journal or a fixture; one this version does not know reads as an error.
impl From<&str> for Severity {
    fn from(word: &str) -> Severity {
        Severity::parse(word).unwrap_or(Severity::Error)
    }
}

/// Where an issue stands: every issue starts open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueState {
    #[default]
    Open,
    Acknowledged,
    Resolved,
}

words!(IssueState {
    Open => "open",
    Acknowledged => "acknowledged",
    Resolved => "resolved",
});

/// A word from the journal or a fixture; one this version does not know reads as open (the
/// journal's default).
impl From<&str> for IssueState {
    fn from(word: &str) -> IssueState {
        IssueState::parse(word).unwrap_or(IssueState::Open)
    }
}

/// A mailbox's state: as the journal keeps it, and `interrupted` for what an earlier process
/// left running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailboxState {
    /// Never started (the journal's default).
    #[default]
    New,
    Running,
    /// Running when an earlier process ended: the next start resumes it.
    Interrupted,
    Done,
    /// Paused gracefully (by the operator, a signal or the brake).
    Paused,
    /// Emergency stop.
    Stopped,
    Failed,
    /// A rollback works on it (or was interrupted: roll back again to finish).
    RollingBack,
    RolledBack,
}

words!(MailboxState {
    New => "new",
    Running => "running",
    Interrupted => "interrupted",
    Done => "done",
    Paused => "paused",
    Stopped => "stopped",
    Failed => "failed",
    RollingBack => "rolling back",
    RolledBack => "rolled back",
});

/// A word from the journal or a fixture; one this version does not know reads as new (the
/// journal's default).
impl From<&str> for MailboxState {
    fn from(word: &str) -> MailboxState {
        MailboxState::parse(word).unwrap_or(MailboxState::New)
    }
}

/// A batch's state as a whole, from its mailboxes' ([`BatchView::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchState {
    #[default]
    NotStarted,
    Running,
    /// Running, and a pause was asked: the windows in flight finish.
    Pausing,
    Done,
    Failed,
    Stopped,
    Paused,
}

words!(BatchState {
    NotStarted => "not started",
    Running => "running",
    Pausing => "pausing",
    Done => "done",
    Failed => "failed",
    Stopped => "stopped",
    Paused => "paused",
});

/// A checklist item's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckStatus {
    Pass,
    Fail,
    #[default]
    Pending,
    Overridden,
    NotApplicable,
}

words!(CheckStatus {
    Pass => "pass",
    Fail => "fail",
    Pending => "pending",
    Overridden => "overridden",
    NotApplicable => "n/a",
});

impl CheckStatus {
    /// Met for the gate: a start is not refused for this item.
    pub fn met(self) -> bool {
        matches!(
            self,
            CheckStatus::Pass | CheckStatus::Overridden | CheckStatus::NotApplicable
        )
    }
}

/// A word from a fixture; one this version does not know reads as pending (as the checklist
/// reads it).
impl From<&str> for CheckStatus {
    fn from(word: &str) -> CheckStatus {
        CheckStatus::parse(word).unwrap_or(CheckStatus::Pending)
    }
}

/// The two ends of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

words!(Side {
    Source => "source",
    Destination => "destination",
});

/// A mailbox's newest backup of the source (`cutover backup`), as the journal has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackupState {
    /// Never backed up.
    #[default]
    None,
    /// Under way (or killed before it ended: run it again).
    Running,
    /// Ended incomplete or failed.
    Failed,
    /// Complete, not verified yet (`cutover backup --verify`).
    Unverified,
    /// Complete and verified: what the checklist's `backup` item asks for.
    Verified,
}

words!(BackupState {
    None => "none",
    Running => "running",
    Failed => "failed",
    Unverified => "unverified",
    Verified => "verified",
});

/// The engine as a whole, for the console's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunState {
    /// Nothing running, nothing stopped.
    #[default]
    Idle,
    Running,
    /// A pause was asked; windows in flight finish.
    Pausing,
    /// Emergency stop tripped.
    Stopped,
}

impl RunState {
    pub fn word(self) -> &'static str {
        match self {
            RunState::Idle => "IDLE",
            RunState::Running => "RUNNING",
            RunState::Pausing => "PAUSING",
            RunState::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.word())
    }
}

/// What one delta pass (`cutover sync`) did, as journalled in `sync_passes`: new messages
/// copied, messages whose flags were set on the destination, messages moved there between
/// folders, messages found deleted on the source, and messages removed from the destination
/// because of that (`[sync] deletions = "propagate"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassCounts {
    pub new_messages: u64,
    pub flag_changes: u64,
    pub moves: u64,
    pub deletions: u64,
    pub removed: u64,
}

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

/// What an operator can ask of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start (or resume) a batch; every batch when None.
    Start {
        batch: Option<String>,
    },
    /// Start (or retry) one mailbox.
    StartMailbox {
        key: String,
    },
    /// Graceful pause: windows in flight finish, the journal stays consistent.
    Pause {
        batch: Option<String>,
    },
    /// Graceful pause of one mailbox; starting it (or its batch) resumes it.
    PauseMailbox {
        key: String,
    },
    /// Logged record of an emergency stop (the stop itself is tripped out of band).
    EmergencyStop {
        operator: String,
    },
    /// Mailboxes allowed to run at once.
    SetParallel(usize),
    /// Mailboxes of one batch allowed to run at once.
    SetBatchParallel {
        batch: String,
        n: usize,
    },
    SetCheck {
        id: String,
        done: bool,
        note: Option<String>,
        operator: String,
    },
    AckIssue {
        id: i64,
        operator: String,
    },
    /// Remove from the destination what cutover wrote for this batch (typed confirmation
    /// happened in the console). Refused while a mailbox of the batch runs.
    Rollback {
        batch: String,
        operator: String,
    },
    /// Close an issue with the operator's note (what was done about it).
    ResolveIssue {
        id: i64,
        note: String,
        operator: String,
    },
    /// Run the checklist's auto checks (one item, or all when None) in the background.
    RunChecks {
        id: Option<String>,
    },
    /// Override an unmet checklist item (every unmet required item when None) with a reason;
    /// journalled as an operator issue.
    OverrideCheck {
        id: Option<String>,
        reason: String,
        operator: String,
    },
    /// Back up the source of a batch (every batch when None) into the default backup
    /// directory, then verify it, in the background (`cutover backup`, then `--verify`). Run
    /// by the handle's [`BackupSwitch`], which the console's driver sets; the outcome is an
    /// operator issue, the state a column of the Batches tab.
    Backup {
        batch: Option<String>,
        operator: String,
    },
}

/// Starts a backup (and its verification) in the background: (batch or every batch,
/// operator). Set by the driver that runs the console; cheap to clone.
#[derive(Clone)]
pub struct BackupSwitch(Arc<dyn Fn(Option<String>, String) + Send + Sync>);

impl BackupSwitch {
    pub fn new(start: impl Fn(Option<String>, String) + Send + Sync + 'static) -> BackupSwitch {
        BackupSwitch(Arc::new(start))
    }

    pub fn start(&self, batch: Option<String>, operator: String) {
        (self.0)(batch, operator)
    }
}

impl fmt::Debug for BackupSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupSwitch")
    }
}

/// Trips the engine's emergency stop at once, without queueing behind other commands.
/// Cheap to clone.
#[derive(Clone)]
pub struct StopSwitch(Arc<dyn Fn() + Send + Sync>);

impl StopSwitch {
    /// A switch that calls `trip` (the engine gives its stop flag's `stop`).
    pub(crate) fn new(trip: impl Fn() + Send + Sync + 'static) -> StopSwitch {
        StopSwitch(Arc::new(trip))
    }

    /// Halt every write now (checked before each APPEND window).
    pub fn trip(&self) {
        (self.0)()
    }
}

impl fmt::Debug for StopSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StopSwitch")
    }
}

/// A running engine as its driver holds it: commands in, snapshots out (a `watch` channel,
/// latest wins), and the emergency stop switch.
pub struct Handle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub stop: StopSwitch,
    /// Runs [`Command::Backup`]; None where no backup can be started (the engine then says
    /// so as an issue).
    pub backup: Option<BackupSwitch>,
}

impl Handle {
    /// Halt every write now (checked before each APPEND window), then log it.
    pub fn emergency_stop(&self, operator: &str) {
        self.stop.trip();
        let _ = self.commands.send(Command::EmergencyStop {
            operator: operator.to_string(),
        });
    }

    pub fn send(&self, c: Command) {
        if let Command::EmergencyStop { operator } = &c {
            self.emergency_stop(operator);
        } else if let (Command::Backup { batch, operator }, Some(b)) = (&c, &self.backup) {
            b.start(batch.clone(), operator.clone());
        } else {
            let _ = self.commands.send(c);
        }
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

    #[test]
    fn every_state_reads_back_from_its_word() {
        for s in [
            MailboxState::New,
            MailboxState::Running,
            MailboxState::Interrupted,
            MailboxState::Done,
            MailboxState::Paused,
            MailboxState::Stopped,
            MailboxState::Failed,
            MailboxState::RollingBack,
            MailboxState::RolledBack,
        ] {
            assert_eq!(MailboxState::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        for s in [
            Severity::Info,
            Severity::Warning,
            Severity::Error,
            Severity::Critical,
        ] {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for s in [
            IssueState::Open,
            IssueState::Acknowledged,
            IssueState::Resolved,
        ] {
            assert_eq!(IssueState::parse(s.as_str()), Some(s));
        }
        for s in [
            BackupState::None,
            BackupState::Running,
            BackupState::Failed,
            BackupState::Unverified,
            BackupState::Verified,
        ] {
            assert_eq!(BackupState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CheckStatus::NotApplicable.as_str(), "n/a");
        assert_eq!(BatchState::NotStarted.as_str(), "not started");
        assert_eq!(format!("[{:<8}]", MailboxState::Done), "[done    ]");
        assert_eq!(Severity::from("nonsense"), Severity::Error);
        assert!(CheckStatus::Overridden.met() && !CheckStatus::Fail.met());
    }
}
