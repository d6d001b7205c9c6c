//! Delta passes (`cutover sync`, and the console's Batches tab) as an observer sees them per
//! batch: the last passes journalled, how far the destination is behind the source (the lag),
//! and what a final pass would take (an estimate measured from the last passes).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::words::words;

/// What one delta pass (`cutover sync`) did, as journalled in `sync_passes`: new messages
/// copied, messages whose flags were set on the destination, messages moved there between
/// folders, messages found deleted on the source, and messages removed from the destination
/// because of that (`[sync] deletions = "propagate"`); and events and contacts changed on the
/// source, written again in place of cutover's older version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassCounts {
    pub new_messages: u64,
    pub flag_changes: u64,
    pub moves: u64,
    pub deletions: u64,
    pub removed: u64,
    /// Items (events, contacts) changed on the source and written again in place.
    pub changed: u64,
}

impl PassCounts {
    /// Every change the pass found on the source (new, flags, moves, deletions).
    pub fn changes(&self) -> u64 {
        self.new_messages + self.flag_changes + self.moves + self.deletions + self.changed
    }

    /// "N new", and ", N changed" when events or contacts changed on the source were written
    /// again (a mail-only pass line stays as it was).
    pub fn new_and_changed(&self) -> String {
        if self.changed == 0 {
            format!("{} new", self.new_messages)
        } else {
            format!("{} new, {} changed", self.new_messages, self.changed)
        }
    }

    /// What happened between two readings of the run counters (`self` the later one).
    pub fn since(&self, before: PassCounts) -> PassCounts {
        PassCounts {
            new_messages: self.new_messages.saturating_sub(before.new_messages),
            flag_changes: self.flag_changes.saturating_sub(before.flag_changes),
            moves: self.moves.saturating_sub(before.moves),
            deletions: self.deletions.saturating_sub(before.deletions),
            removed: self.removed.saturating_sub(before.removed),
            changed: self.changed.saturating_sub(before.changed),
        }
    }
}

/// How a delta pass ended, as journalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PassOutcome {
    /// Under way (or its process was killed before it ended).
    #[default]
    Running,
    /// Every mailbox of the pass went through.
    Complete,
    /// Some mailbox failed or was stopped: what it did not carry is still behind.
    Incomplete,
}

words!(PassOutcome {
    Running => "running",
    Complete => "complete",
    Incomplete => "incomplete",
});

/// One delta pass that covered a batch (alone or with others), as journalled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassView {
    pub started: DateTime<Utc>,
    /// None while it runs.
    pub duration: Option<Duration>,
    /// Over every batch of the pass (a pass over several batches counts them together).
    pub counts: PassCounts,
    pub outcome: PassOutcome,
    /// The pass covered other batches too.
    pub shared: bool,
}

impl PassView {
    /// When it ended (None while it runs).
    pub fn ended(&self) -> Option<DateTime<Utc>> {
        self.duration
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| self.started + d)
    }
}

/// The estimated duration of a final pass: the mean of the last complete passes (at most
/// [`SyncView::ESTIMATE_FROM`]), each of which carried what users did in the interval before
/// it. A final pass after a longer interval, or after more changes, takes longer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub duration: Duration,
    /// Passes measured.
    pub from_passes: usize,
    /// Changes per pass, on average over the same passes.
    pub changes_per_pass: f64,
}

/// The lag of a batch: source changes not yet on the destination, as far as cutover has
/// measured them. Changes users made since the last pass are not counted until a pass (or
/// the final pass) scans the source, or a lag check looks: `since` says how long that
/// window is, `checked` what a check made after the last pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lag {
    /// Items known on the source (enumerated) and not yet copied: measured from the journal.
    pub not_copied: u64,
    /// Items whose copy failed (retried by the next pass).
    pub failed: u64,
    /// Changes the last complete pass found and carried (how much the source moved in the
    /// interval before it).
    pub last_pass_changes: Option<u64>,
    /// Time since the last complete pass ended: the window whose changes are not measured
    /// yet. None before any pass.
    pub since: Option<Duration>,
    /// A lag check made after the last pass ended (an older one is stale: not given).
    pub checked: Option<LagCheck>,
}

/// A lag check (the console's `l`): one look per source folder the journal knows (EXAMINE
/// with its HIGHESTMODSEQ on IMAP, STATUS elsewhere), no message read, nothing written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LagCheck {
    /// When the check started: changes made after it may be missing from it.
    pub at: DateTime<Utc>,
    /// At most this many messages arrived in those folders since cutover last listed them
    /// (UIDNEXT beyond the highest UID seen: a message expunged meanwhile counts too).
    pub new_messages: u64,
    /// Folders whose contents changed since the last pass (new mail, flags, deletions:
    /// HIGHESTMODSEQ moved; a folder gone or recreated on the source counts too).
    pub changed_folders: u64,
    /// Folders looked at.
    pub folders: u64,
    /// Mailboxes that could not be looked at (said as issues).
    pub unchecked: u64,
}

/// Per batch: the delta passes and what the console runs of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncView {
    /// The last passes that covered the batch, newest first.
    pub passes: Vec<PassView>,
    /// A pass (or a finalize) started from the console runs on the batch now.
    pub running: bool,
    /// The console repeats passes of the batch this often, until stopped.
    pub every: Option<Duration>,
    /// A finalize of the batch runs now.
    pub finalizing: bool,
    /// The last lag check of the batch in this process.
    pub checked: Option<LagCheck>,
}

impl SyncView {
    /// Passes kept per batch in a snapshot.
    pub const KEEP: usize = 5;
    /// Complete passes the final-pass estimate is measured from.
    pub const ESTIMATE_FROM: usize = 3;

    /// The newest pass that ended (complete or not).
    pub fn last_ended(&self) -> Option<&PassView> {
        self.passes.iter().find(|p| p.duration.is_some())
    }

    /// The newest complete pass.
    pub fn last_complete(&self) -> Option<&PassView> {
        self.passes
            .iter()
            .find(|p| p.outcome == PassOutcome::Complete && p.duration.is_some())
    }

    /// The final pass's estimated duration; None before any complete pass.
    pub fn final_estimate(&self) -> Option<Estimate> {
        let done: Vec<&PassView> = self
            .passes
            .iter()
            .filter(|p| p.outcome == PassOutcome::Complete)
            .filter(|p| p.duration.is_some())
            .take(Self::ESTIMATE_FROM)
            .collect();
        if done.is_empty() {
            return None;
        }
        let n = done.len() as u32;
        let total: Duration = done.iter().filter_map(|p| p.duration).sum();
        let changes: u64 = done.iter().map(|p| p.counts.changes()).sum();
        Some(Estimate {
            duration: total / n,
            from_passes: done.len(),
            changes_per_pass: changes as f64 / f64::from(n),
        })
    }

    /// The lag at `now`, with the batch's counts (`not_copied` and `failed` items).
    pub fn lag(&self, now: DateTime<Utc>, not_copied: u64, failed: u64) -> Lag {
        let last = self.last_complete();
        let last_end = self.last_ended().and_then(PassView::ended);
        Lag {
            not_copied,
            failed,
            last_pass_changes: last.map(|p| p.counts.changes()),
            since: last
                .and_then(PassView::ended)
                .map(|t| (now - t).to_std().unwrap_or_default()),
            checked: self
                .checked
                .filter(|c| last_end.is_none_or(|end| c.at >= end)),
        }
    }
}
