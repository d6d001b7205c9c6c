//! The migration engine: runs mailboxes within each endpoint's connection budget, and within
//! a mailbox several folders at once. It knows nothing of terminals; observers get [`Event`]s.

pub mod control;
pub mod remote;
pub mod snapshot;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use crate::config::{MailboxSpec, Project};
use crate::endpoint::any::{AnyConnector, AnySession};
use crate::endpoint::{EndpointError, Folder, MailSession};
use crate::journal::{Journal, JournalError, Totals};
use crate::sync::mapping::Mapping;
use crate::sync::{Ctx, FolderJob, SyncError, copy_folder};
// TODO(merge): remove; the old paths of what moved to crate::events and crate::discover
// (callers: src/main.rs, verify.rs).
pub use crate::discover::{Discovery, discover};
pub use crate::events::{Event, Halt, RunStats, Severity, Sink, StopFlag};

/// Attempts per folder (and for a mailbox's first connection and folder listing) when the
/// connection fails or the server throttles: reconnect with backoff in between.
const FOLDER_ATTEMPTS: u32 = 5;

/// The longest pause before a retry, whatever wait a server asks for.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Auth,
    Connection,
    Verification,
    Stopped,
    /// The journal could not be read or written (exit 9).
    Journal,
    Other,
}

#[derive(Debug, Clone)]
pub struct MailboxResult {
    pub key: String,
    pub batch: String,
    pub totals: Totals,
    /// None when the mailbox completed.
    pub failure: Option<(Failure, String)>,
}

impl MailboxResult {
    pub fn complete(&self) -> bool {
        self.failure.is_none()
            && self.totals.skipped == 0
            && self.totals.failed == 0
            && self.totals.pending == 0
    }
}

pub struct Engine {
    pub project: Project,
    pub store: Journal,
    pub src: AnyConnector,
    pub dst: AnyConnector,
    sink: Sink,
    stop: StopFlag,
    pub stats: RunStats,
    /// Per-batch pause flags.
    pauses: Mutex<HashMap<String, StopFlag>>,
    /// Per-mailbox pause flags.
    mailbox_pauses: Mutex<HashMap<String, StopFlag>>,
    /// Per-batch emergency stops (`cutover stop --batch`).
    batch_stops: Mutex<HashMap<String, StopFlag>>,
    /// Mailboxes running now (by key).
    running: Mutex<HashSet<String>>,
    /// How many mailboxes may run at once; adjustable while running.
    slots: Slots,
    /// The same, per batch (at most the global figure in effect).
    batch_slots: Mutex<HashMap<String, Slots>>,
}

/// A live-adjustable limit: a semaphore and the number of permits it should hold.
#[derive(Clone)]
struct Slots {
    sem: Arc<Semaphore>,
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

fn failure_of(e: &SyncError) -> Failure {
    match e {
        SyncError::Endpoint(EndpointError::Auth { .. }) => Failure::Auth,
        SyncError::Endpoint(EndpointError::Tls { .. }) => Failure::Connection,
        SyncError::Endpoint(e) if e.is_transient() => Failure::Connection,
        SyncError::Stopped => Failure::Stopped,
        SyncError::Verification(_) => Failure::Verification,
        e if e.is_journal() => Failure::Journal,
        _ => Failure::Other,
    }
}

fn category_of(e: &SyncError) -> &'static str {
    match e {
        SyncError::Endpoint(EndpointError::Auth { .. }) => "auth",
        SyncError::Endpoint(EndpointError::OverQuota { .. }) => "quota",
        SyncError::Endpoint(EndpointError::Throttled { .. }) => "throttling",
        SyncError::ErrorBudget { .. } => "refused",
        SyncError::Endpoint(EndpointError::Tls { .. }) => "network",
        SyncError::Endpoint(e) if e.is_transient() => "network",
        e if e.is_journal() => "journal",
        SyncError::Stopped => "operator",
        SyncError::Verification(_) => "verification",
        SyncError::Blocked(_) => "operator",
        _ => "server",
    }
}

impl Engine {
    pub fn new(
        project: Project,
        store: Journal,
        events: Option<mpsc::UnboundedSender<Event>>,
    ) -> Result<Engine, EndpointError> {
        let src = AnyConnector::new(&project.source, "source", &store)?;
        let dst = AnyConnector::new(&project.destination, "destination", &store)?;
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
        })
    }

    fn pause_flag(&self, batch: &str) -> StopFlag {
        flag_in(&self.pauses, batch)
    }

    fn batch_stop_flag(&self, batch: &str) -> StopFlag {
        flag_in(&self.batch_stops, batch)
    }

    fn mailbox_pause_flag(&self, key: &str) -> StopFlag {
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

    fn batch_slots(&self, batch: &str) -> Slots {
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

    /// Start one mailbox in the background (no-op when it already runs). Clears its batch's
    /// pause, since starting is the operator's resume.
    pub fn start_mailbox(
        self: &Arc<Self>,
        spec: MailboxSpec,
    ) -> Option<tokio::task::JoinHandle<MailboxResult>> {
        if !lock(&self.running).insert(spec.key()) {
            return None;
        }
        self.pause_flag(&spec.batch).clear();
        self.batch_stop_flag(&spec.batch).clear();
        self.mailbox_pause_flag(&spec.key()).clear();
        let engine = self.clone();
        Some(tokio::spawn(async move {
            // Semaphores that are never closed: acquiring cannot fail.
            let batch_slot = engine
                .batch_slots(&spec.batch)
                .sem
                .acquire_owned()
                .await
                .ok();
            let slot = engine.slots.sem.clone().acquire_owned().await.ok();
            let key = spec.key();
            let r = engine.clone().migrate_mailbox(spec).await;
            drop(slot);
            drop(batch_slot);
            lock(&engine.running).remove(&key);
            r
        }))
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

    /// Migrate the selected mailboxes, several at once, and wait for all of them.
    pub async fn run(self: &Arc<Self>, batches: &[String]) -> Vec<MailboxResult> {
        let mut tasks = Vec::new();
        for spec in self.selected(batches) {
            if let Some(t) = self.start_mailbox(spec) {
                tasks.push(t);
            }
        }
        let mut out = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => out.push(r),
                Err(e) => out.push(MailboxResult {
                    key: "?".into(),
                    batch: "?".into(),
                    totals: Totals::default(),
                    failure: Some((Failure::Other, format!("internal error: {e}"))),
                }),
            }
        }
        out
    }

    async fn connect_pair(
        &self,
        spec: &MailboxSpec,
    ) -> Result<(AnySession, AnySession), SyncError> {
        let s = self.src.connect(&spec.source).await?;
        let d = self.dst.connect(&spec.destination).await?;
        Ok((s, d))
    }

    async fn migrate_mailbox(self: Arc<Self>, spec: MailboxSpec) -> MailboxResult {
        let key = spec.key();
        let result = |totals, failure| MailboxResult {
            key: key.clone(),
            batch: spec.batch.clone(),
            totals,
            failure,
        };
        let mailbox_id = match self.store.upsert_mailbox(
            &key,
            &spec.batch,
            &spec.source.user,
            &spec.destination.user,
        ) {
            Ok(id) => id,
            Err(e) => return result(Totals::default(), self.journal_failure(None, e)),
        };
        match self.store.mailbox_state(&key) {
            Ok(Some((_, state, _))) if state == crate::rollback::ROLLING_BACK => {
                let msg = "a rollback of this mailbox was interrupted; finish it first (cutover rollback PROJECT --mailbox USER), then migrate again".to_string();
                self.sink
                    .issue(Severity::Error, "operator", Some(&key), None, None, &msg);
                return result(Totals::default(), Some((Failure::Other, msg)));
            }
            Ok(_) => {}
            Err(e) => return result(Totals::default(), self.journal_failure(None, e)),
        }
        if let Err(e) = self.store.set_mailbox_state(mailbox_id, "running", None) {
            return result(Totals::default(), self.journal_failure(None, e));
        }
        self.sink.send(Event::MailboxStarted {
            mailbox: key.clone(),
            batch: spec.batch.clone(),
        });
        // An emergency stop ends the mailbox within `Halt::CUT` even when a command waits on a
        // stalled server (listing, EXAMINE, a metadata FETCH...).
        let outcome = match self
            .emergency_halt(&spec.batch)
            .or_cut(self.migrate_mailbox_inner(&spec, mailbox_id))
            .await
        {
            Some(r) => r,
            None => {
                self.sink.abandoned(&key, None);
                Err(SyncError::Stopped)
            }
        };
        let mut totals_err = None;
        let totals = self.store.mailbox_totals(mailbox_id).unwrap_or_else(|e| {
            totals_err = Some(e);
            Totals::default()
        });
        let mut failure = outcome.err().map(|e| {
            if e.is_journal() {
                self.sink.note_journal_fault(&e.to_string());
            }
            self.sink.issue(
                if matches!(e, SyncError::Verification(_)) {
                    Severity::Critical
                } else {
                    Severity::Error
                },
                category_of(&e),
                Some(&key),
                None,
                None,
                &e.to_string(),
            );
            (failure_of(&e), e.to_string())
        });
        if let Some(e) = totals_err {
            failure = self.journal_failure(failure, e);
        }
        let state = match &failure {
            None => "done",
            Some((Failure::Stopped, _)) if !self.is_batch_stopped(&spec.batch) => "paused",
            Some((Failure::Stopped, _)) => "stopped",
            Some(_) => "failed",
        };
        if let Err(e) =
            self.store
                .set_mailbox_state(mailbox_id, state, failure.as_ref().map(|f| f.1.as_str()))
        {
            failure = self.journal_failure(failure, e);
        }
        self.sink.send(Event::MailboxDone {
            mailbox: key.clone(),
            totals: totals.clone(),
            state: state.to_string(),
            error: failure.as_ref().map(|f| f.1.clone()),
        });
        result(totals, failure)
    }

    /// A mailbox's outcome once a journal read or write failed: kept for the exit code (9),
    /// and the mailbox's failure unless it already is a verification failure (whose exit
    /// code, 7, outranks it); the earlier failure's words are kept in the message.
    fn journal_failure(
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
    fn emergency_halt(&self, batch: &str) -> Halt {
        Halt {
            emergency: self.stop.clone(),
            batch_stop: self.batch_stop_flag(batch),
            ..Default::default()
        }
    }

    /// A data-loss incident was found: pause by itself what the project says.
    fn brake(&self, spec: &MailboxSpec, key: &str) {
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

    async fn migrate_mailbox_inner(
        self: &Arc<Self>,
        spec: &MailboxSpec,
        mailbox_id: i64,
    ) -> Result<(), SyncError> {
        let key = spec.key();
        // A connection dropped while logging in or listing costs a retry, like one dropped
        // during a folder copy.
        let mut attempt = 0;
        let (s, mut d, discovery, gmail_filters) = loop {
            attempt += 1;
            let r = async {
                let (mut s, mut d) = self.connect_pair(spec).await?;
                let found = discover(&self.project, &mut s, &mut d).await?;
                // A Gmail source: which folder copies each message (empty for others).
                let gmail = self
                    .gmail_prepass(&key, mailbox_id, &found.mappings, &mut s)
                    .await?;
                Ok::<_, SyncError>((s, d, found, gmail))
            }
            .await;
            match r {
                Ok(v) => break v,
                Err(e) if e.is_transient() && attempt < FOLDER_ATTEMPTS => {
                    if self.is_batch_stopped(&spec.batch) {
                        return Err(SyncError::Stopped);
                    }
                    self.retry_pause(&e, &key, None, attempt).await;
                }
                Err(e) => return Err(e),
            }
        };
        let Discovery {
            mappings: maps,
            destination: dst_existing,
        } = discovery;
        self.report_vanished_folders(&key, mailbox_id, &maps)?;
        for m in maps
            .iter()
            .filter(|m| m.why.contains(crate::sync::mapping::RESERVED_NOTE))
        {
            self.sink.issue(
                Severity::Info,
                "config",
                Some(&key),
                Some(&m.src.display()),
                None,
                &format!(
                    "source folder {} is copied to {}: {}",
                    m.src.display(),
                    m.dst_display,
                    m.why
                ),
            );
        }
        self.sink.send(Event::MailboxPlanned {
            mailbox: key.clone(),
            folders: maps.iter().filter(|m| m.dst_wire.is_some()).count(),
        });
        let mut jobs = VecDeque::new();
        let mut refused: Option<SyncError> = None;
        for m in &maps {
            let Some(dst) = &m.dst_wire else {
                tracing::info!(mailbox = %key, folder = %m.src.display(), "not copied: {}", m.why);
                continue;
            };
            let row = self.store.folder(mailbox_id, &m.src.wire_name, dst)?;
            let exists = dst_existing.iter().any(|e| {
                e.wire_name == *dst
                    || (e.wire_name.eq_ignore_ascii_case("INBOX")
                        && dst.eq_ignore_ascii_case("INBOX"))
            });
            if !exists {
                if self.is_batch_stopped(&spec.batch) {
                    return Err(SyncError::Stopped);
                }
                match d.create_folder(dst).await {
                    Ok(true) => self.store.mark_folder_created(row.id)?,
                    Ok(false) => {}
                    Err(e) if e.is_transient() => return Err(e.into()),
                    Err(e) => {
                        // One folder the destination will not create is that folder not
                        // copied, not the whole mailbox: the others go on, and the mailbox
                        // ends failed with this folder named.
                        self.store
                            .set_folder_state(row.id, crate::journal::folder_state::REFUSED)?;
                        let e = SyncError::Refused(format!(
                            "the destination refused to create folder {} (for source folder \
                             {}): {e}; nothing copied into it (rename it with a folder rule \
                             or create it on the destination, then run again)",
                            m.dst_display,
                            m.src.display()
                        ));
                        self.sink.issue(
                            Severity::Error,
                            "destination",
                            Some(&key),
                            Some(&m.src.display()),
                            None,
                            &e.to_string(),
                        );
                        refused.get_or_insert(e);
                        continue;
                    }
                }
            }
            let filter = crate::sync::gmail::merge_filter(
                self.failback_written(&key, &m.src.wire_name)?,
                gmail_filters.get(&m.src.wire_name),
            );
            jobs.push_back(FolderJob {
                mailbox: key.clone(),
                row,
                src: m.src.wire_name.clone(),
                src_display: m.src.display(),
                dst: dst.clone(),
                filter,
                max_failed: self.project.max_failed_messages,
            });
        }
        let copied = self.run_jobs(spec, jobs, Some((s, d))).await;
        match refused {
            Some(e) if copied.is_ok() => Err(e),
            _ => copied,
        }
    }

    /// A Gmail-shaped source: decide which folder copies each message (see `sync::gmail`);
    /// the filters per source folder. Empty for any other source.
    async fn gmail_prepass(
        &self,
        key: &str,
        mailbox_id: i64,
        maps: &[crate::sync::mapping::Mapping],
        s: &mut AnySession,
    ) -> Result<HashMap<String, Arc<crate::sync::UidFilter>>, SyncError> {
        let listed: Vec<&Folder> = maps.iter().map(|m| &m.src).collect();
        let Some((g, detected)) = crate::sync::gmail::detect(&self.project.source, &listed) else {
            return Ok(HashMap::new());
        };
        if detected {
            self.sink.issue(
                Severity::Info,
                "gmail",
                Some(key),
                None,
                None,
                "the source lists Gmail's [Gmail]/All Mail: read as Gmail (each message copied once: multi_label = first-label, Spam and Trash left out); set [source.gmail] to choose",
            );
        }
        let plan = crate::sync::gmail::prepass(
            &self.store,
            &self.sink,
            &self.stats,
            key,
            mailbox_id,
            maps,
            &g,
            s,
        )
        .await?;
        Ok(plan.filters)
    }

    /// Source messages a fail-back wrote into this source folder: never copied forward again.
    fn failback_written(
        &self,
        key: &str,
        src_wire: &str,
    ) -> Result<Option<Arc<crate::sync::UidFilter>>, SyncError> {
        let Some(id) = self.store.mailbox_id(&failback_journal_key(key))? else {
            return Ok(None);
        };
        let Some(f) = self
            .store
            .folders_of(id)?
            .into_iter()
            .find(|f| f.dst_name == src_wire)
        else {
            return Ok(None);
        };
        if !self.store.in_doubt(f.id)?.is_empty() {
            return Err(SyncError::Blocked(format!(
                "a fail-back into source folder {} was interrupted (APPENDs in doubt); run `cutover failback` for this mailbox again before migrating it forward",
                crate::endpoint::imap::decode_mutf7(src_wire)
            )));
        }
        let (_, _, exclude) = self.store.written_window(f.id)?;
        Ok(Some(Arc::new(crate::sync::UidFilter {
            min_uid: 0,
            exclude,
            ..Default::default()
        })))
    }

    /// Copy the folders in `jobs`, up to `folder_workers` at once (the first worker uses the
    /// sessions given, if any; the others connect when there is work left).
    pub(crate) async fn run_jobs(
        self: &Arc<Self>,
        spec: &MailboxSpec,
        jobs: VecDeque<FolderJob>,
        first: Option<(AnySession, AnySession)>,
    ) -> Result<(), SyncError> {
        let queue = Arc::new(Mutex::new(jobs));
        let extra = self.project.folder_workers.saturating_sub(1);
        // Aborted if this future is dropped (an emergency stop cut the mailbox short).
        let mut helpers = Workers(Vec::new());
        for _ in 0..extra {
            let engine = self.clone();
            let spec = spec.clone();
            let queue = queue.clone();
            helpers.0.push(tokio::spawn(async move {
                engine.folder_worker(&spec, &queue, None).await
            }));
        }
        let mut first_err = self.folder_worker(spec, &queue, first).await.err();
        // The error that says most wins: a verification failure (its brake stops the other
        // workers, which then report Stopped), then any other failure, then Stopped.
        let rank = |e: &SyncError| match e {
            SyncError::Verification(_) => 0,
            SyncError::Stopped => 2,
            _ => 1,
        };
        for h in &mut helpers.0 {
            let e = match h.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => continue,
                Err(e) => {
                    SyncError::Verification(format!("internal error in a folder worker: {e}"))
                }
            };
            if first_err.as_ref().is_none_or(|f| rank(&e) < rank(f)) {
                first_err = Some(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Take folders from the queue until it is empty. Connects lazily, reconnects after a
    /// network failure and retries the folder with backoff.
    async fn folder_worker(
        &self,
        spec: &MailboxSpec,
        queue: &Mutex<VecDeque<FolderJob>>,
        mut sessions: Option<(AnySession, AnySession)>,
    ) -> Result<(), SyncError> {
        let halt = Halt {
            emergency: self.stop.clone(),
            batch_stop: self.batch_stop_flag(&spec.batch),
            pause: self.pause_flag(&spec.batch),
            mailbox_pause: self.mailbox_pause_flag(&spec.key()),
        };
        let ctx = Ctx {
            store: &self.store,
            sink: &self.sink,
            stop: &halt,
            stats: &self.stats,
        };
        let mut first_err = None;
        loop {
            if halt.is_set() {
                return Err(SyncError::Stopped);
            }
            let Some(job) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                break;
            };
            let mut attempt = 0;
            loop {
                attempt += 1;
                if sessions.is_none() {
                    match self.connect_pair(spec).await {
                        Ok(p) => sessions = Some(p),
                        Err(e) if e.is_transient() && attempt < FOLDER_ATTEMPTS => {
                            self.retry_pause(&e, &job.mailbox, Some(&job.src_display), attempt)
                                .await;
                            continue;
                        }
                        Err(e) => {
                            queue
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push_front(job);
                            return Err(e);
                        }
                    }
                }
                let (s, d) = sessions.as_mut().expect("connected above");
                let Some(copied) = halt.or_cut(copy_folder(&ctx, &job, s, d)).await else {
                    self.sink.abandoned(&job.mailbox, Some(&job.src_display));
                    return Err(SyncError::Stopped);
                };
                match copied {
                    Ok(_) => break,
                    Err(e) if e.is_transient() && attempt < FOLDER_ATTEMPTS => {
                        sessions = None;
                        self.retry_pause(&e, &job.mailbox, Some(&job.src_display), attempt)
                            .await;
                    }
                    Err(SyncError::Stopped) => return Err(SyncError::Stopped),
                    Err(e @ SyncError::Verification(_)) => {
                        self.sink.issue(
                            Severity::Critical,
                            "verification",
                            Some(&job.mailbox),
                            Some(&job.src_display),
                            None,
                            &e.to_string(),
                        );
                        // Brake now, not when the mailbox is over.
                        self.brake(spec, &job.mailbox);
                        return Err(e);
                    }
                    Err(e) if e.is_journal() => {
                        // Without its journal nothing more of the mailbox can be done safely:
                        // no other worker takes a folder of it.
                        queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
                        return Err(e);
                    }
                    Err(e @ SyncError::ErrorBudget { .. }) => {
                        // The whole mailbox stops: no other worker takes a folder of it.
                        queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
                        return Err(e);
                    }
                    Err(e) => {
                        self.sink.issue(
                            Severity::Error,
                            category_of(&e),
                            Some(&job.mailbox),
                            Some(&job.src_display),
                            None,
                            &e.to_string(),
                        );
                        // Not copied (the next run tries it again); the report names it.
                        if !e.is_transient() {
                            self.store.set_folder_state(
                                job.row.id,
                                crate::journal::folder_state::REFUSED,
                            )?;
                        }
                        // The session may be mid-command (or dead): start afresh.
                        sessions = None;
                        if e.is_transient() {
                            // The attempts are spent: the network or the server is down. This
                            // worker stops (the mailbox fails; a rerun resumes) rather than
                            // spend FOLDER_ATTEMPTS again on every remaining folder.
                            return Err(first_err.unwrap_or(e));
                        }
                        first_err.get_or_insert(e);
                        break;
                    }
                }
            }
        }
        if let Some((s, d)) = sessions {
            s.logout().await;
            d.logout().await;
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Engine {
    /// Record why a retry is needed and wait before it: a throttling server's suggested wait
    /// when it named one, exponential backoff with jitter otherwise.
    async fn retry_pause(&self, e: &SyncError, mailbox: &str, folder: Option<&str>, attempt: u32) {
        let (category, pause, why) = match e {
            SyncError::Endpoint(EndpointError::Throttled {
                wait: Some(wait), ..
            }) => (
                "throttling",
                *wait,
                format!("waiting {} ms as the server asked", wait.as_millis()),
            ),
            SyncError::Endpoint(EndpointError::Throttled { wait: None, .. }) => (
                "throttling",
                backoff_delay(attempt + 2),
                "backing off".into(),
            ),
            _ => ("network", backoff_delay(attempt), "backing off".into()),
        };
        self.sink.issue(
            Severity::Warning,
            category,
            Some(mailbox),
            folder,
            None,
            &format!("{e}; {why}, then reconnecting (attempt {attempt} of {FOLDER_ATTEMPTS})"),
        );
        // Never hours on a server's say-so, and an emergency stop ends the wait.
        tokio::select! {
            _ = tokio::time::sleep(pause.min(MAX_RETRY_PAUSE)) => {}
            _ = self.stop.stopped() => {}
        }
    }

    /// Folders in the journal that the source no longer lists (deleted or renamed since an
    /// earlier run): a warning each; what was copied stays on the destination, and messages
    /// not copied yet cannot be any more (skipped, with the reason).
    fn report_vanished_folders(
        &self,
        key: &str,
        mailbox_id: i64,
        maps: &[Mapping],
    ) -> Result<(), JournalError> {
        for row in self.store.folders_of(mailbox_id)? {
            if maps.iter().any(|m| m.src.wire_name == row.src_name) {
                continue;
            }
            let name = crate::endpoint::imap::decode_mutf7(&row.src_name);
            // Gone from the source: not a folder left uncopied (the warning below says so).
            self.store
                .set_folder_state(row.id, crate::journal::folder_state::GONE)?;
            let mut lost = 0;
            if let Some(v) = row.src_uidvalidity {
                for p in &self.store.pending(row.id, v)? {
                    self.store.mark_skipped(
                        p.id,
                        crate::journal::state::SKIPPED,
                        "the source folder was deleted or renamed before it could be copied",
                    )?;
                    lost += 1;
                }
            }
            let copied = self.store.folder_totals(row.id)?.copied;
            self.sink.issue(
                Severity::Warning,
                "source",
                Some(key),
                Some(&name),
                None,
                &format!(
                    "source folder {name} is no longer on the source (deleted or renamed since an earlier run): its {copied} copied message(s) stay on the destination{}",
                    if lost > 0 {
                        format!("; {lost} message(s) not copied yet are skipped")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        Ok(())
    }
}

/// The journal key of a mailbox's fail-back (kept apart from its forward rows): the engine
/// never copies forward what a fail-back wrote (`cutover failback`).
pub fn failback_journal_key(forward_key: &str) -> String {
    format!("failback:{forward_key}")
}

/// A mailbox's extra folder workers, aborted when dropped.
struct Workers(Vec<tokio::task::JoinHandle<Result<(), SyncError>>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// The flag of `key` in a per-batch or per-mailbox map, created (unset) on first use.
fn flag_in(map: &Mutex<HashMap<String, StopFlag>>, key: &str) -> StopFlag {
    lock(map).entry(key.to_string()).or_default().clone()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Exponential backoff with real jitter: half the exponential step (1 s, 2 s, 4 s ... capped
/// at 30 s) plus a random part of up to the other half, so parallel workers that failed
/// together do not reconnect in lockstep.
fn backoff_delay(attempt: u32) -> Duration {
    let base = (Duration::from_millis(500) * 2u32.pow(attempt.min(6))).min(Duration::from_secs(30));
    let half = base / 2;
    let spread = half.as_millis().max(1) as u64;
    half + Duration::from_millis(random_u64() % spread)
}

/// A random number from the standard library's per-process random hash keys (no extra
/// crate needed for jitter).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 1..10 {
            let base = (Duration::from_millis(500) * 2u32.pow(attempt.min(6)))
                .min(Duration::from_secs(30));
            for _ in 0..20 {
                let d = backoff_delay(attempt);
                assert!(d >= base / 2 && d < base, "attempt {attempt}: {d:?}");
            }
        }
        let draws: HashSet<Duration> = (0..50).map(|_| backoff_delay(3)).collect();
        assert!(draws.len() > 10, "the jitter varies: {draws:?}");
    }

    #[test]
    fn a_journal_failure_is_its_own_failure_never_retried() {
        let store = || JournalError::Sqlite {
            path: "/srv/j.sqlite".into(),
            source: rusqlite::Error::InvalidQuery,
        };
        for e in [
            SyncError::Journal(store()),
            SyncError::Endpoint(EndpointError::Journal {
                op: "UIDL".into(),
                source: store(),
            }),
        ] {
            assert!(e.is_journal() && !e.is_transient(), "{e}");
            assert_eq!(failure_of(&e), Failure::Journal, "{e}");
            assert_eq!(category_of(&e), "journal");
            assert!(e.to_string().contains("/srv/j.sqlite"), "{e}");
        }
        let other = SyncError::Refused("no".into());
        assert!(!other.is_journal());
        assert_eq!(failure_of(&other), Failure::Other);
    }
}
