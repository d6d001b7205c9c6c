//! A mailbox's folder workers: up to `folder_workers` copy its folders at once, each
//! connecting lazily, reconnecting after a network failure and retrying with backoff.
//!
//! The mailbox has `folder_workers` connection slots: each worker holds one while it works,
//! and a large folder's copy takes the slots of workers that ran out of folders for helper
//! connections that copy UID ranges of it ([`crate::sync::split`]). A worker that runs out
//! of folders leaves its logged-in connections, with its slot, to the next helper
//! ([`Idle`]): across a WAN a login is several round trips.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::outcome::category_of;
use super::state::Engine;
use crate::config::MailboxSpec;
use crate::endpoint::any::AnySession;
use crate::endpoint::{EndpointError, MailSession};
use crate::events::{Halt, Severity};
use crate::sync::{Ctx, FolderJob, Helper, HelperFuture, Helpers, SyncError, copy_folder};

/// Attempts per folder (and for a mailbox's first connection and folder listing) when the
/// connection fails or the server throttles: reconnect with backoff in between.
pub(super) const FOLDER_ATTEMPTS: u32 = 5;

/// The longest pause before a retry, whatever wait a server asks for.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(15 * 60);

/// The connections of folder workers that ran out of folders while a split folder of the
/// mailbox was being copied, each pair with its slot, kept logged in for that folder's
/// helpers or for a worker still waiting to connect. They hold the endpoints' connection
/// budget, so they are logged out as soon as no split folder is being copied (and when the
/// mailbox's copy ends); a worker that runs out of folders with no split under way logs out.
#[derive(Default)]
struct Idle(
    Mutex<Vec<(AnySession, AnySession, Option<OwnedSemaphorePermit>)>>,
    Notify,
    /// Split folders being copied.
    AtomicUsize,
    /// No new helper connection before this (the last one could not connect).
    Mutex<Option<Instant>>,
);

/// After a helper could not connect (a server limiting a user's connections, say), the next
/// try waits this long rather than the split's next look.
const HELPER_BACKOFF: Duration = Duration::from_secs(5);

impl Idle {
    fn take(&self) -> Option<(AnySession, AnySession, Option<OwnedSemaphorePermit>)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put(&self, s: AnySession, d: AnySession, slot: Option<OwnedSemaphorePermit>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((s, d, slot));
        self.1.notify_one();
    }

    async fn logout(&self) {
        let all = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        futures::future::join_all(all.into_iter().map(|(s, d, _)| async move {
            tokio::join!(s.logout(), d.logout());
        }))
        .await;
    }

    /// A worker out of folders: its pair waits here while a split folder may take it, else
    /// it logs out.
    async fn leave(&self, s: AnySession, d: AnySession, slot: Option<OwnedSemaphorePermit>) {
        if self.2.load(Relaxed) > 0 {
            self.put(s, d, slot);
        } else {
            tokio::join!(s.logout(), d.logout());
        }
    }
}

/// A folder worker's connection pair opened ahead ([`Engine::connect_ahead`]), aborted if
/// never taken.
pub(crate) struct Ahead(tokio::task::JoinHandle<Result<(AnySession, AnySession), SyncError>>);

impl Ahead {
    /// The pair, once connected; None when it could not connect (the worker then connects
    /// as usual, its errors handled there).
    async fn pair(mut self) -> Option<(AnySession, AnySession)> {
        match (&mut self.0).await {
            Ok(Ok(pair)) => Some(pair),
            Ok(Err(e)) => {
                tracing::info!("a folder worker's connection opened ahead failed: {e}");
                None
            }
            Err(e) => {
                if e.is_panic() {
                    tracing::error!("a folder worker's connection opened ahead panicked: {e}");
                }
                None
            }
        }
    }
}

/// How a folder worker gets its first connection pair: the mailbox's own (the first
/// worker), one opened ahead, or its own connect when it has a folder to copy.
enum Start {
    Given(Box<(AnySession, AnySession)>),
    Ahead(Ahead),
    Connect,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Engine {
    /// On a mailbox's first pass each of its `folders` is to copy: the folder workers that
    /// will have one get their connection pairs now, while the first pair (already
    /// connected, so it never waits on them for the connection budget) reads the folders'
    /// states. Across a WAN that takes the logins' round trips off the copy's start. As many
    /// as the budget has room for on both sides right now; IMAP to IMAP only (a POP3
    /// maildrop takes one session, and the HTTP APIs' sessions cost no round trip to open).
    pub(super) fn connect_ahead(
        self: &Arc<Self>,
        spec: &MailboxSpec,
        folders: usize,
    ) -> Vec<Ahead> {
        use crate::endpoint::any::AnyConnector;
        let imap = |c: &AnyConnector| matches!(c, AnyConnector::Imap(_));
        if !imap(&self.src) || !imap(&self.dst) {
            return Vec::new();
        }
        let room = |c: &AnyConnector| c.max_connections().saturating_sub(c.in_use());
        let n = self
            .project
            .folder_workers
            .min(folders)
            .saturating_sub(1)
            .min(room(&self.src))
            .min(room(&self.dst));
        (0..n)
            .map(|_| {
                let (engine, spec) = (self.clone(), spec.clone());
                Ahead(tokio::spawn(
                    async move { engine.connect_pair(&spec).await },
                ))
            })
            .collect()
    }

    pub(super) async fn connect_pair(
        &self,
        spec: &MailboxSpec,
    ) -> Result<(AnySession, AnySession), SyncError> {
        // Both at once: across a WAN a login is several round trips on each side.
        let (s, d) = tokio::try_join!(
            self.src.connect_mailbox(spec),
            self.dst.connect_mailbox(spec)
        )?;
        Ok((s, d))
    }

    /// A connected pair: an idle worker's, else a new one. A connection waiting for the
    /// endpoints' budget gives way to a pair left idle meanwhile (which holds that budget:
    /// waiting on would never end).
    async fn connect_or_take(
        &self,
        spec: &MailboxSpec,
        idle: &Idle,
    ) -> Result<(AnySession, AnySession), SyncError> {
        loop {
            if let Some((s, d, _slot)) = idle.take() {
                return Ok((s, d));
            }
            tokio::select! {
                r = self.connect_pair(spec) => return r,
                _ = idle.1.notified() => {}
            }
        }
    }

    /// Record why a retry is needed and wait before it: a throttling server's suggested wait
    /// when it named one, exponential backoff with jitter otherwise.
    pub(super) async fn retry_pause(
        &self,
        e: &SyncError,
        mailbox: &str,
        folder: Option<&str>,
        attempt: u32,
    ) {
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

    /// Copy the folders in `jobs`, up to `folder_workers` at once (the first worker uses the
    /// sessions given, if any; the others take a pair opened `ahead`, or connect when there
    /// is work left).
    pub(crate) async fn run_jobs(
        self: &Arc<Self>,
        spec: &MailboxSpec,
        jobs: VecDeque<FolderJob>,
        first: Option<(AnySession, AnySession)>,
        mut ahead: Vec<Ahead>,
    ) -> Result<(), SyncError> {
        let queue = Arc::new(Mutex::new(jobs));
        let slots = Arc::new(Semaphore::new(self.project.folder_workers));
        let idle = Arc::new(Idle::default());
        let extra = self.project.folder_workers.saturating_sub(1);
        // Aborted if this future is dropped (an emergency stop cut the mailbox short).
        let mut helpers = Workers(Vec::new());
        for _ in 0..extra {
            let engine = self.clone();
            let spec = spec.clone();
            let queue = queue.clone();
            let slots = slots.clone();
            let idle = idle.clone();
            // Taken here, before any folder is copied: a split folder's helpers only get the
            // slots of workers that ran out of folders.
            let slot = slots.clone().try_acquire_owned().ok();
            let start = ahead.pop().map_or(Start::Connect, Start::Ahead);
            helpers.0.push(tokio::spawn(async move {
                engine
                    .folder_worker(&spec, &queue, &slots, &idle, slot, start)
                    .await
            }));
        }
        let slot = slots.clone().try_acquire_owned().ok();
        let mut first_err = self
            .folder_worker(
                spec,
                &queue,
                &slots,
                &idle,
                slot,
                first.map_or(Start::Connect, |pair| Start::Given(Box::new(pair))),
            )
            .await
            .err();
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
        idle.logout().await;
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
        slots: &Arc<Semaphore>,
        idle: &Idle,
        // This worker's connection slot, given back when it has no folder left (then a large
        // folder's copy may take it, with this worker's connections, for a helper).
        slot: Option<OwnedSemaphorePermit>,
        start: Start,
    ) -> Result<(), SyncError> {
        let (mut sessions, mut ahead) = match start {
            Start::Given(pair) => (Some(*pair), None),
            Start::Ahead(a) => (None, Some(a)),
            Start::Connect => (None, None),
        };
        let split = SplitHelpers {
            engine: self,
            spec,
            slots,
            idle,
        };
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
                if sessions.is_none()
                    && let Some(a) = ahead.take()
                {
                    sessions = a.pair().await;
                }
                if sessions.is_none() {
                    match self.connect_or_take(spec, idle).await {
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
                let Some(copied) = halt.or_cut(copy_folder(&ctx, &job, s, d, &split)).await else {
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
        // A pair opened ahead for a worker that found no folder: a split folder's helper
        // may take it; still connecting, it is not waited for.
        if sessions.is_none()
            && let Some(a) = ahead.take().filter(|a| a.0.is_finished())
        {
            sessions = a.pair().await;
        }
        if let Some((s, d)) = sessions {
            idle.leave(s, d, slot).await;
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Helper connections for a large folder, on the mailbox's free connection slots.
struct SplitHelpers<'a> {
    engine: &'a Engine,
    spec: &'a MailboxSpec,
    slots: &'a Arc<Semaphore>,
    idle: &'a Idle,
}

impl Helpers<AnySession, AnySession> for SplitHelpers<'_> {
    fn split_from(&self) -> usize {
        // A POP3 server locks the maildrop to one session: a second one would only be refused.
        if self.engine.project.source.kind == crate::config::EndpointKind::Pop3 {
            return 0;
        }
        self.engine.project.split_folder_messages
    }

    fn splitting(&self, on: bool) {
        if on {
            self.idle.2.fetch_add(1, Relaxed);
        } else if self.idle.2.fetch_sub(1, Relaxed) == 1 {
            // No split under way: the pairs left waiting give the budget back.
            let all = std::mem::take(&mut *self.idle.0.lock().unwrap_or_else(|e| e.into_inner()));
            if !all.is_empty() {
                tokio::spawn(async move {
                    for (s, d, _) in all {
                        tokio::join!(s.logout(), d.logout());
                    }
                });
            }
        }
    }

    fn try_helper(&self) -> Option<HelperFuture<'_, AnySession, AnySession>> {
        if let Some((src, dst, slot)) = self.idle.take() {
            return Some(Box::pin(async move {
                Some(Helper {
                    src,
                    dst,
                    slot: Box::new(slot),
                })
            }));
        }
        let backoff = *self.idle.3.lock().unwrap_or_else(|e| e.into_inner());
        if backoff.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let slot = self.slots.clone().try_acquire_owned().ok()?;
        Some(Box::pin(async move {
            match self.engine.connect_pair(self.spec).await {
                Ok((src, dst)) => Some(Helper {
                    src,
                    dst,
                    slot: Box::new(slot),
                }),
                Err(e) => {
                    // Not an issue: the folder's own connections copy what it would have.
                    tracing::info!(mailbox = %self.spec.key(), "a helper for a large folder could not connect: {e}");
                    *self.idle.3.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Instant::now() + HELPER_BACKOFF);
                    None
                }
            }
        }))
    }
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
    use std::collections::HashSet;

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
}
