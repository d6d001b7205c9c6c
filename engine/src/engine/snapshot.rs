//! What an observer (the console, `cutover watch`) sees: a value, published latest-wins.
//! Counts come from the journal; rates are measured from what was appended.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::journal::Totals;

/// Seconds of throughput history kept (the chart shows the last 10 minutes).
pub const HISTORY_SECS: usize = 600;

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
    /// "new", "running", "done", "paused", "stopped", "failed".
    pub state: String,
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
            t.messages += m.totals.messages;
            t.bytes += m.totals.bytes;
            t.copied += m.totals.copied;
            t.copied_bytes += m.totals.copied_bytes;
            t.skipped += m.totals.skipped;
            t.failed += m.totals.failed;
            t.pending += m.totals.pending;
        }
        t
    }

    /// Every mailbox of the batch fully enumerated (its totals are not a lower bound).
    pub fn enumerated(&self) -> bool {
        self.mailboxes.iter().all(|m| m.enumerated)
    }

    pub fn count(&self, state: &str) -> usize {
        self.mailboxes.iter().filter(|m| m.state == state).count()
    }

    pub fn errors(&self) -> usize {
        self.mailboxes
            .iter()
            .filter(|m| m.last_error.is_some())
            .count()
    }

    /// A word for the batch as a whole.
    pub fn state(&self) -> &'static str {
        let n = self.mailboxes.len();
        if self.count("running") > 0 {
            if self.paused { "pausing" } else { "running" }
        } else if n > 0 && self.count("done") == n {
            "done"
        } else if self.count("failed") > 0 {
            "failed"
        } else if self.count("stopped") > 0 {
            "stopped"
        } else if self.count("paused") > 0 {
            "paused"
        } else {
            "not started"
        }
    }
}

pub use crate::journal::IssueRow as IssueView;

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
    /// "pass", "fail", "pending", "overridden" or "n/a".
    pub status: String,
    /// Why: the failure, what is pending, the override.
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Connections {
    pub src_in_use: usize,
    pub src_max: usize,
    pub dst_in_use: usize,
    pub dst_max: usize,
}

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
            let x = b.totals();
            t.messages += x.messages;
            t.bytes += x.bytes;
            t.copied += x.copied;
            t.copied_bytes += x.copied_bytes;
            t.skipped += x.skipped;
            t.failed += x.failed;
            t.pending += x.pending;
        }
        t
    }

    /// Open issues per severity: (critical, error, warning, info).
    /// Every mailbox fully enumerated (the totals are not a lower bound).
    pub fn enumerated(&self) -> bool {
        self.batches.iter().all(BatchView::enumerated)
    }

    pub fn issue_counts(&self) -> (usize, usize, usize, usize) {
        let mut c = BTreeMap::new();
        for i in self.issues.iter().filter(|i| i.state != "resolved") {
            *c.entry(i.severity.as_str()).or_insert(0) += 1;
        }
        let g = |k| c.get(k).copied().unwrap_or(0);
        (g("critical"), g("error"), g("warning"), g("info"))
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
