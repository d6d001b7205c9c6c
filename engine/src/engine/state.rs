//! The engine's state: the project, the journal, both connectors, and what the operator
//! moves while it runs (pauses, emergency stops, mailboxes at once); and the brake.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc};

use super::outcome::Failure;
use super::schedule::SyncSchedules;
use crate::api::Side;
use crate::config::{MailboxSpec, Project};
use crate::endpoint::EndpointError;
use crate::endpoint::any::AnyConnector;
use crate::events::{Event, Halt, RunStats, Severity, Sink, StopFlag};
use crate::journal::{Journal, JournalError};

pub struct Engine {
    pub project: Project,
    pub store: Journal,
    pub src: AnyConnector,
    pub dst: AnyConnector,
    pub(super) sink: Sink,
    pub(super) stop: StopFlag,
    pub stats: RunStats,
    /// Per-batch pause flags.
    pauses: Mutex<HashMap<String, StopFlag>>,
    /// Per-mailbox pause flags.
    mailbox_pauses: Mutex<HashMap<String, StopFlag>>,
    /// Per-batch emergency stops (`cutover stop --batch`).
    batch_stops: Mutex<HashMap<String, StopFlag>>,
    /// Mailboxes running now (by key).
    pub(super) running: Mutex<HashSet<String>>,
    /// How many mailboxes may run at once; adjustable while running.
    pub(super) slots: Slots,
    /// The same, per batch (at most the global figure in effect).
    batch_slots: Mutex<HashMap<String, Slots>>,
    /// Delta passes (`cutover sync`): before copying new mail, carry flag changes, moves
    /// and deletions of what was copied (see `sync::delta`).
    delta: std::sync::atomic::AtomicBool,
    /// The console's delta passes per batch (a batch with one under way runs as a delta
    /// pass), and their schedules.
    pub(super) sync: SyncSchedules,
}

/// A live-adjustable limit: a semaphore and the number of permits it should hold.
#[derive(Clone)]
pub(super) struct Slots {
    pub(super) sem: Arc<Semaphore>,
    total: Arc<AtomicUsize>,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            sem: Arc::new(Semaphore::new(n)),
            total: Arc::new(AtomicUsize::new(n)),
        }
    }

    fn get(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    fn set(&self, n: usize) {
        // The console's number, like the file's, stays in range (a semaphore panics past
        // its maximum).
        let n = n.clamp(
            *crate::config::checks::PARALLEL_MAILBOXES.start(),
            *crate::config::checks::PARALLEL_MAILBOXES.end(),
        );
        let old = self.total.swap(n, Ordering::SeqCst);
        if n > old {
            self.sem.add_permits(n - old);
        } else if n < old {
            // Take the surplus permits out as they come free.
            let sem = self.sem.clone();
            let k = (old - n) as u32;
            tokio::spawn(async move {
                if let Ok(p) = sem.acquire_many_owned(k).await {
                    p.forget();
                }
            });
        }
    }
}

impl Engine {
    pub fn new(
        project: Project,
        store: Journal,
        events: Option<mpsc::UnboundedSender<Event>>,
    ) -> Result<Engine, EndpointError> {
        let src = AnyConnector::new(
            &project.source,
            Side::Source.as_str(),
            &store,
            project.items,
        )?;
        let dst = AnyConnector::new(
            &project.destination,
            Side::Destination.as_str(),
            &store,
            project.items,
        )?;
        let sink = Sink::new(store.clone(), events);
        let parallel = project.parallel_mailboxes;
        Ok(Engine {
            project,
            store,
            src,
            dst,
            sink,
            stop: StopFlag::default(),
            stats: RunStats::default(),
            pauses: Mutex::new(HashMap::new()),
            batch_stops: Mutex::new(HashMap::new()),
            mailbox_pauses: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
            slots: Slots::new(parallel),
            batch_slots: Mutex::new(HashMap::new()),
            delta: std::sync::atomic::AtomicBool::new(false),
            sync: SyncSchedules::default(),
        })
    }

    /// Make the next runs delta passes (`cutover sync`): what users did on the source since
    /// the last pass (flags, moves, deletions) is carried before new mail is copied.
    pub fn set_delta(&self, on: bool) {
        self.delta.store(on, Ordering::SeqCst);
    }

    /// The mailboxes of `batch` run as a delta pass: `cutover sync`, or a pass of the
    /// batch started from the console.
    pub(super) fn is_delta(&self, batch: &str) -> bool {
        self.delta.load(Ordering::SeqCst) || self.sync.is_delta(batch)
    }

    /// (a console pass runs, a finalize runs, the interval passes repeat at) of a batch.
    pub fn sync_state(&self, batch: &str) -> (bool, bool, Option<std::time::Duration>) {
        self.sync.state(batch)
    }

    /// The batch's last lag check in this process.
    pub fn lag_checked(&self, batch: &str) -> Option<crate::api::LagCheck> {
        self.sync.checked(batch)
    }

    pub(super) fn pause_flag(&self, batch: &str) -> StopFlag {
        flag_in(&self.pauses, batch)
    }

    pub(super) fn batch_stop_flag(&self, batch: &str) -> StopFlag {
        flag_in(&self.batch_stops, batch)
    }

    pub(super) fn mailbox_pause_flag(&self, key: &str) -> StopFlag {
        flag_in(&self.mailbox_pauses, key)
    }

    /// Graceful pause of one mailbox: the APPEND window in flight finishes and is journalled.
    pub fn pause_mailbox(&self, key: &str) {
        self.mailbox_pause_flag(key).stop();
    }

    /// Emergency stop of one batch: no APPEND window starts, one in flight is cut short.
    pub fn stop_batch(&self, batch: &str) {
        self.batch_stop_flag(batch).stop();
    }

    /// Whether an emergency stop (global, or of this batch) holds.
    pub fn is_batch_stopped(&self, batch: &str) -> bool {
        self.stop.is_stopped() || self.batch_stop_flag(batch).is_stopped()
    }

    /// Graceful pause: the batch's mailboxes finish the APPEND window in flight and stop
    /// with a consistent journal; starting the batch again resumes them.
    pub fn pause_batch(&self, batch: &str) {
        self.pause_flag(batch).stop();
    }

    pub fn is_running(&self, key: &str) -> bool {
        lock(&self.running).contains(key)
    }

    /// Keys of the mailboxes running now, sorted.
    pub fn running_keys(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.running).iter().cloned().collect();
        v.sort();
        v
    }

    /// The batch a mailbox belongs to.
    pub fn batch_of(&self, key: &str) -> Option<&str> {
        self.project
            .mailboxes
            .iter()
            .find(|m| m.key() == key)
            .map(|m| m.batch.as_str())
    }

    /// Mark a mailbox busy (a rollback works on it), so that nothing starts it meanwhile.
    /// False when it is busy already.
    pub fn claim(&self, key: &str) -> bool {
        lock(&self.running).insert(key.to_string())
    }

    pub fn release(&self, key: &str) {
        lock(&self.running).remove(key);
    }

    pub fn running_count(&self) -> usize {
        lock(&self.running).len()
    }

    /// Mailboxes allowed to run at once, from now on.
    pub fn set_parallel(&self, n: usize) {
        self.slots.set(n);
    }

    pub fn parallel(&self) -> usize {
        self.slots.get()
    }

    pub(super) fn batch_slots(&self, batch: &str) -> Slots {
        lock(&self.batch_slots)
            .entry(batch.to_string())
            .or_insert_with(|| Slots::new(self.project.parallel_mailboxes))
            .clone()
    }

    /// Mailboxes of this batch allowed to run at once, from now on (the global limit still
    /// applies on top).
    pub fn set_batch_parallel(&self, batch: &str, n: usize) {
        self.batch_slots(batch).set(n);
    }

    pub fn batch_parallel(&self, batch: &str) -> usize {
        self.batch_slots(batch).get()
    }

    pub fn stop_flag(&self) -> StopFlag {
        self.stop.clone()
    }

    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// The mailboxes of the given batches (all when none is given).
    pub fn selected(&self, batches: &[String]) -> Vec<MailboxSpec> {
        self.project
            .mailboxes
            .iter()
            .filter(|m| batches.is_empty() || batches.iter().any(|b| b == &m.batch))
            .cloned()
            .collect()
    }

    /// A mailbox's outcome once a journal read or write failed: kept for the exit code (9),
    /// and the mailbox's failure unless it already is a verification failure (whose exit
    /// code, 7, outranks it); the earlier failure's words are kept in the message.
    pub(super) fn journal_failure(
        &self,
        failure: Option<(Failure, String)>,
        e: JournalError,
    ) -> Option<(Failure, String)> {
        self.sink.note_journal_fault(&e.to_string());
        Some(match failure {
            Some((Failure::Verification, msg)) => (Failure::Verification, format!("{msg}; {e}")),
            Some((_, msg)) => (Failure::Journal, format!("{e} (after: {msg})")),
            None => (Failure::Journal, e.to_string()),
        })
    }

    /// The emergency stops that concern a batch (global, and the batch's own).
    pub(super) fn emergency_halt(&self, batch: &str) -> Halt {
        Halt {
            emergency: self.stop.clone(),
            batch_stop: self.batch_stop_flag(batch),
            ..Default::default()
        }
    }

    /// A data-loss incident was found: pause by itself what the project says.
    pub(super) fn brake(&self, spec: &MailboxSpec, key: &str) {
        use crate::config::Brake;
        let what = match self.project.brake {
            Brake::Mailbox => {
                self.pause_mailbox(key);
                format!("mailbox {key} stopped")
            }
            Brake::Batch => {
                self.pause_batch(&spec.batch);
                format!("batch {} paused", spec.batch)
            }
            Brake::All => {
                self.stop.stop();
                "every batch stopped (emergency stop)".to_string()
            }
        };
        self.sink.issue(
            Severity::Critical,
            "verification",
            Some(key),
            None,
            None,
            &format!(
                "brake: {what} because the destination does not hold what the journal says was written; inspect the issues above, then resume (start again) or roll back"
            ),
        );
    }
}

/// The flag of `key` in a per-batch or per-mailbox map, created (unset) on first use.
fn flag_in(map: &Mutex<HashMap<String, StopFlag>>, key: &str) -> StopFlag {
    lock(map).entry(key.to_string()).or_default().clone()
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
