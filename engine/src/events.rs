//! What the engine and the operations (sync, rollback, fail-back) tell their observers (the
//! CLI's printer, the console's monitor): [`Event`]s, through a [`Sink`] that also journals
//! issues; and what stops their writes: [`StopFlag`] and [`Halt`]. [`RunStats`] counts what a
//! run really did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// Issue severities are the contract's ([`crate::api`]): what the engine raises is what the
/// console shows.
pub use crate::api::Severity;
use crate::api::{ItemKind, MailboxState};
use crate::journal::{Issue, Journal, Totals};

#[derive(Debug, Clone)]
pub enum Event {
    MailboxStarted {
        mailbox: String,
        batch: String,
    },
    /// The folder map is known: how many folders will be walked.
    MailboxPlanned {
        mailbox: String,
        folders: usize,
    },
    FolderStarted {
        mailbox: String,
        folder: String,
        dst: String,
        /// What the folder holds (a calendar's events, an address book's contacts, or mail).
        kind: ItemKind,
        to_copy: u64,
        bytes: u64,
    },
    Progress {
        mailbox: String,
        folder: String,
        copied: u64,
        bytes: u64,
    },
    FolderDone {
        mailbox: String,
        folder: String,
        totals: Totals,
        appended: u64,
        unchanged: bool,
    },
    MailboxDone {
        mailbox: String,
        totals: Totals,
        /// Done, paused, stopped or failed.
        state: MailboxState,
        error: Option<String>,
    },
    /// A rollback removed messages (cumulative count for the mailbox).
    RollbackProgress {
        mailbox: String,
        folder: String,
        removed: u64,
    },
    RollbackDone {
        mailbox: String,
        removed: u64,
        error: Option<String>,
    },
    Issue {
        severity: Severity,
        category: String,
        mailbox: Option<String>,
        folder: Option<String>,
        uid: Option<u32>,
        message: String,
    },
}

/// Sends events to observers and journals issues. Cheap to clone.
#[derive(Clone)]
pub struct Sink {
    tx: Option<mpsc::UnboundedSender<Event>>,
    store: Journal,
    /// The first journal failure that could not be returned to a caller (see
    /// [`Sink::journal_failed`]); the command ends with exit 9 when one is set.
    journal_fault: Arc<Mutex<Option<String>>>,
}

impl Sink {
    pub fn new(store: Journal, tx: Option<mpsc::UnboundedSender<Event>>) -> Self {
        Sink {
            tx,
            store,
            journal_fault: Arc::default(),
        }
    }

    /// A journal read or write failed where the error cannot be returned to a caller (an
    /// issue being journalled, a console command, a detached task): logged, shown to
    /// observers as a critical issue (not journalled: the journal is what failed) and kept,
    /// so that the command ends with exit 9 and says so on stderr ([`Sink::journal_fault`]).
    pub fn journal_failed(&self, message: &str) {
        self.note_journal_fault(message);
        self.send(Event::Issue {
            severity: Severity::Critical,
            category: "journal".into(),
            mailbox: None,
            folder: None,
            uid: None,
            message: message.into(),
        });
    }

    /// Keep a journal failure for the command's exit code (9) without telling observers
    /// (for failures already reported another way, such as a failed mailbox).
    pub fn note_journal_fault(&self, message: &str) {
        tracing::error!(category = "journal", "{message}");
        let mut f = self.journal_fault.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(message.to_string());
        }
    }

    /// The first journal failure kept by [`Sink::journal_failed`] or
    /// [`Sink::note_journal_fault`], if any.
    pub fn journal_fault(&self) -> Option<String> {
        self.journal_fault
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    /// Journal an issue and tell observers. A journal failure here does not stop the caller
    /// (the copy path journals its own state and stops on failure), but it is kept: the
    /// command ends with exit 9 ([`Sink::journal_failed`]).
    pub fn issue(
        &self,
        severity: Severity,
        category: &str,
        mailbox: Option<&str>,
        folder: Option<&str>,
        uid: Option<u32>,
        message: &str,
    ) {
        match severity {
            Severity::Info => tracing::info!(category, mailbox, folder, uid, "{message}"),
            Severity::Warning => tracing::warn!(category, mailbox, folder, uid, "{message}"),
            _ => tracing::error!(category, mailbox, folder, uid, "{message}"),
        }
        if let Err(e) = self.store.record_issue(&Issue {
            severity: severity.as_str(),
            category,
            mailbox,
            folder,
            uid,
            message,
        }) {
            self.journal_failed(&format!("cannot journal an issue ({message}): {e}"));
        }
        self.send(Event::Issue {
            severity,
            category: category.into(),
            mailbox: mailbox.map(Into::into),
            folder: folder.map(Into::into),
            uid,
            message: message.into(),
        });
    }

    /// Say that an emergency stop abandoned work that was still waiting on a server after
    /// [`Halt::CUT`].
    pub fn abandoned(&self, mailbox: &str, folder: Option<&str>) {
        self.issue(
            Severity::Warning,
            "operator",
            Some(mailbox),
            folder,
            None,
            &format!(
                "emergency stop: a server command still waiting {} ms after the stop was abandoned (a stalled or slow server); the journal is consistent, anything in flight is resolved at the next start",
                Halt::CUT.as_millis()
            ),
        );
    }
}

/// What this run really did, counted where it happens.
#[derive(Default, Debug)]
pub struct RunStats {
    /// Messages appended to a destination.
    pub appended: std::sync::atomic::AtomicU64,
    /// Their bytes (a fleet worker's heartbeat reports both).
    pub bytes_appended: std::sync::atomic::AtomicU64,
    /// Message bodies downloaded (from either side, for copying or fingerprinting).
    pub bodies_fetched: std::sync::atomic::AtomicU64,
    pub bytes_fetched: std::sync::atomic::AtomicU64,
    /// Delta passes (`cutover sync`): messages whose flags were set on the destination,
    /// messages moved there between folders, messages found deleted on the source, and of
    /// those removed from the destination.
    pub flag_changes: std::sync::atomic::AtomicU64,
    pub moves: std::sync::atomic::AtomicU64,
    pub deletions: std::sync::atomic::AtomicU64,
    pub removed: std::sync::atomic::AtomicU64,
    /// Items (events, contacts) changed on the source and written again in place of the
    /// version cutover wrote (counted among `appended` too).
    pub changed: std::sync::atomic::AtomicU64,
}

impl RunStats {
    pub fn add(counter: &std::sync::atomic::AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The delta pass counters now (a pass's own are the difference of two readings,
    /// [`PassCounts::since`](crate::api::PassCounts::since)).
    pub fn pass_counts(&self) -> crate::api::PassCounts {
        crate::api::PassCounts {
            new_messages: RunStats::get(&self.appended)
                .saturating_sub(RunStats::get(&self.changed)),
            changed: RunStats::get(&self.changed),
            flag_changes: RunStats::get(&self.flag_changes),
            moves: RunStats::get(&self.moves),
            deletions: RunStats::get(&self.deletions),
            removed: RunStats::get(&self.removed),
        }
    }
}

/// What stops a mailbox's writes: the emergency stop (everything), its batch's emergency
/// stop, or its batch's pause. Checked before every APPEND window; an emergency stop also
/// cuts a window in flight short after [`Halt::GRACE`] (its messages stay in doubt and are
/// resolved against the destination at the next start).
#[derive(Clone, Default)]
pub struct Halt {
    pub emergency: StopFlag,
    pub batch_stop: StopFlag,
    pub pause: StopFlag,
    pub mailbox_pause: StopFlag,
}

impl Halt {
    /// How long a window in flight may still finish after an emergency stop.
    pub const GRACE: std::time::Duration = std::time::Duration::from_millis(400);

    pub fn is_set(&self) -> bool {
        self.is_emergency() || self.pause.is_stopped() || self.mailbox_pause.is_stopped()
    }

    pub fn is_emergency(&self) -> bool {
        self.emergency.is_stopped() || self.batch_stop.is_stopped()
    }

    /// When the emergency stop in force (global or this batch's, the earlier) was set, plus
    /// `d`: one deadline per stop, however late a waiter asks.
    pub fn emergency_deadline(&self, d: std::time::Duration) -> Option<tokio::time::Instant> {
        [self.emergency.since(), self.batch_stop.since()]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t + d)
    }

    /// Resolves once an emergency stop has held for `d`, counted from the stop itself: a
    /// window loop that waits on several answers in turn gets one [`Halt::GRACE`] in all,
    /// not one per await.
    pub async fn emergency_held(&self, d: std::time::Duration) {
        self.emergency().await;
        let deadline = self
            .emergency_deadline(d)
            .unwrap_or_else(|| tokio::time::Instant::now() + d);
        tokio::time::sleep_until(deadline).await;
    }

    /// Resolves once an emergency stop (global or this batch's) is set.
    pub async fn emergency(&self) {
        tokio::select! {
            _ = self.emergency.stopped() => {}
            _ = self.batch_stop.stopped() => {}
        }
    }

    /// Resolves once any of the flags is set (what [`Halt::is_set`] checks).
    pub async fn halted(&self) {
        tokio::select! {
            _ = self.emergency() => {}
            _ = self.pause.stopped() => {}
            _ = self.mailbox_pause.stopped() => {}
        }
    }

    /// How long work may go on after an emergency stop before it is abandoned where it waits
    /// (a stalled read, a slow server): longer than [`Halt::GRACE`], so that an APPEND window
    /// in flight is cut by its own, more telling, path first.
    pub const CUT: std::time::Duration = std::time::Duration::from_millis(800);

    /// Run `work` to its end, unless an emergency stop has held for [`Halt::CUT`]: then it is
    /// dropped where it waits and `None` is returned. Dropping is safe for the journal: it is
    /// written synchronously, never across an await, and what was in flight (an APPEND
    /// journalled `appending`) is resolved at the next start as after a crash.
    pub async fn or_cut<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            r = work => Some(r),
            _ = self.emergency_held(Self::CUT) => None,
        }
    }
}

/// Set once to stop; checked before every APPEND window, and awaitable.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    set: AtomicBool,
    notify: tokio::sync::Notify,
    /// When the flag was set (the first time since it was last cleared).
    since: Mutex<Option<tokio::time::Instant>>,
}

impl StopFlag {
    pub fn stop(&self) {
        {
            // The flag and its time change together (a clear in between cannot leave the
            // flag set without its time).
            let mut since = self.0.since.lock().unwrap_or_else(|e| e.into_inner());
            since.get_or_insert_with(tokio::time::Instant::now);
            self.0.set.store(true, Ordering::SeqCst);
        }
        self.0.notify.notify_waiters();
    }
    pub fn clear(&self) {
        let mut since = self.0.since.lock().unwrap_or_else(|e| e.into_inner());
        self.0.set.store(false, Ordering::SeqCst);
        *since = None;
    }
    /// When the flag was set, while it is.
    pub fn since(&self) -> Option<tokio::time::Instant> {
        let since = *self.0.since.lock().unwrap_or_else(|e| e.into_inner());
        since.filter(|_| self.is_stopped())
    }
    pub fn is_stopped(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }
    /// Resolves once the flag is set.
    pub async fn stopped(&self) {
        loop {
            let n = self.0.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            n.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_emergency_stop_has_one_deadline_however_late_it_is_asked_for() {
        let halt = Halt::default();
        assert_eq!(halt.emergency_deadline(Halt::GRACE), None);
        halt.batch_stop.stop();
        let first = halt.emergency_deadline(Halt::GRACE).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Asked again later, or the stop pressed again: the same deadline, from the first stop.
        halt.batch_stop.stop();
        assert_eq!(halt.emergency_deadline(Halt::GRACE), Some(first));
        // The global stop pressed after the batch's does not move it either: the earlier counts.
        halt.emergency.stop();
        assert_eq!(halt.emergency_deadline(Halt::GRACE), Some(first));
        assert_eq!(
            halt.emergency_deadline(Halt::CUT),
            Some(first - Halt::GRACE + Halt::CUT)
        );
        // Already past: a waiter asking now returns at once rather than waiting a grace more.
        tokio::time::sleep_until(first).await;
        tokio::time::timeout(Halt::GRACE / 2, halt.emergency_held(Halt::GRACE))
            .await
            .expect("the grace runs from the stop, not from when it is awaited");
        // Cleared and set again: a new stop, a new deadline.
        halt.emergency.clear();
        halt.batch_stop.clear();
        assert_eq!(halt.emergency_deadline(Halt::GRACE), None);
        halt.emergency.stop();
        assert!(halt.emergency_deadline(Halt::GRACE).unwrap() > first);
    }
}
