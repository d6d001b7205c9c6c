//! A worker of a fleet on one PostgreSQL journal (issue 20 item 2): `cutover run` started
//! several times (on several machines or one) registers as a worker and migrates a mailbox
//! only while it holds the mailbox's lease (`journal::leases`).
//!
//! Three tasks share a [`Shared`]: the scheduler ([`Engine::run_fleet`]) takes free leases
//! while it has free mailbox slots and waits while other workers' leases may still expire;
//! the heartbeat renews every held lease each third of the lease time and reports the
//! worker's state and totals; the watchdog stops a mailbox's writes (its pause flag: checked
//! before every APPEND window) once the last successful renewal is older than
//! [`STOP_SHARE`] of the lease time, well before the lease can expire and another worker
//! take the mailbox over.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::lease_guard::{STOP_SHARE, blocking, host_name};
use super::outcome::{Failure, MailboxResult};
use super::state::{Engine, lock};
use crate::events::{RunStats, Severity};
use crate::journal::{Journal, JournalError, Totals};

/// What the scheduler, the heartbeat and the watchdog of one worker share.
struct Shared {
    id: String,
    ttl: Duration,
    /// Mailboxes whose lease this worker holds.
    held: Mutex<HashSet<String>>,
    /// Mailboxes whose lease it lost while working them: their writes were stopped and
    /// another worker resumes them.
    lost: Mutex<HashSet<String>>,
    /// When the last heartbeat that renewed every held lease was sent.
    renewed: Mutex<Instant>,
    state: Mutex<&'static str>,
}

impl Engine {
    /// Work the selected mailboxes as one worker of a fleet: lease, migrate, release, until
    /// every mailbox of the run has ended (here or on another worker) or a stop. The results
    /// are those of the mailboxes this worker finished.
    pub async fn run_fleet(self: &Arc<Self>, batches: &[String]) -> Vec<MailboxResult> {
        // Its scheduler leases the mailboxes (not each start, as other engines do).
        super::lease_guard::mark_fleet_worker();
        let host = host_name();
        let pid = std::process::id();
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let sh = Arc::new(Shared {
            id: format!("{host}:{pid}:{since_epoch}"),
            ttl: Duration::from_secs_f64(self.project.lease_seconds),
            held: Mutex::new(HashSet::new()),
            lost: Mutex::new(HashSet::new()),
            renewed: Mutex::new(Instant::now()),
            state: Mutex::new("running"),
        });
        let started = Instant::now();
        if let Err(e) = blocking(&self.store, {
            let (id, host) = (sh.id.clone(), host.clone());
            move |s| s.register_worker(&id, &host, pid)
        })
        .await
        {
            return vec![self.fleet_failure(e)];
        }
        tracing::info!(worker = %sh.id, "joined the fleet (lease {:?})", sh.ttl);
        crate::endpoint::set_fleet_slots(Arc::new(Slots {
            store: self.store.clone(),
            worker: sh.id.clone(),
            ttl: sh.ttl.as_secs_f64(),
            used: Mutex::new(HashSet::new()),
        }));
        let heartbeat = tokio::spawn(self.clone().heartbeat(sh.clone()));
        let watchdog = tokio::spawn(self.clone().watchdog(sh.clone()));
        let specs = self.selected(batches);
        let limit = self.project.parallel_mailboxes.max(1);
        let mut tasks: Vec<(String, JoinHandle<MailboxResult>)> = Vec::new();
        let mut results: HashMap<String, MailboxResult> = HashMap::new();
        let mut next_try = Instant::now();
        let mut failure = None;
        // Whether every mailbox of the run has ended (here or on another worker).
        let mut all_ended = false;
        loop {
            let mut i = 0;
            while i < tasks.len() {
                if !tasks[i].1.is_finished() {
                    i += 1;
                    continue;
                }
                let (key, h) = tasks.remove(i);
                let r = h.await.unwrap_or_else(|e| MailboxResult {
                    key: key.clone(),
                    batch: String::new(),
                    totals: Totals::default(),
                    failure: Some((Failure::Other, format!("internal error: {e}"))),
                });
                lock(&sh.held).remove(&key);
                if lock(&sh.lost).remove(&key) {
                    // Another worker resumes it from the journal.
                    continue;
                }
                if !self.stop.is_stopped() && self.pause_flag(&r.batch).is_stopped() {
                    // Paused with its batch (the console's pause, here or on another
                    // worker): not ended. Released, and leased again (here or elsewhere)
                    // once a start clears the pause.
                    let (id, k) = (sh.id.clone(), key.clone());
                    let _ = blocking(&self.store, move |s| s.release_lease(&id, &k)).await;
                    continue;
                }
                let (id, k) = (sh.id.clone(), key.clone());
                let _ = blocking(&self.store, move |s| s.release_lease(&id, &k)).await;
                results.insert(key, r);
                next_try = Instant::now();
            }
            if self.stop.is_stopped() {
                if tasks.is_empty() {
                    break;
                }
            } else if tasks.len() < limit && Instant::now() >= next_try {
                match self
                    .lease_more(&sh, &specs, &results, &mut tasks, started, limit)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) if tasks.is_empty() => {
                        all_ended = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(e) if tasks.is_empty() => {
                        failure = Some(self.fleet_failure(e));
                        break;
                    }
                    Err(e) => tracing::warn!("cannot lease mailboxes: {e}; trying again"),
                }
                next_try = Instant::now() + sh.ttl / 3;
            }
            *lock(&sh.state) = if tasks.is_empty() {
                "waiting"
            } else {
                "running"
            };
            let pause = if tasks.is_empty() {
                next_try.saturating_duration_since(Instant::now())
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.stop.stopped(), if tasks.is_empty() => {}
            }
        }
        heartbeat.abort();
        watchdog.abort();
        let end = if self.stop.is_stopped() {
            "stopped"
        } else {
            "done"
        };
        let (id, held) = (sh.id.clone(), lock(&sh.held).drain().collect::<Vec<_>>());
        let (appended, bytes) = (
            RunStats::get(&self.stats.appended),
            RunStats::get(&self.stats.bytes_appended),
        );
        let _ = blocking(&self.store, move |s| {
            for m in &held {
                s.release_lease(&id, m)?;
            }
            s.release_slots(&id)?;
            s.worker_progress(&id, end, appended, bytes)
        })
        .await;
        tracing::info!(worker = %sh.id, "left the fleet ({end})");
        let mut out: Vec<MailboxResult> = specs
            .iter()
            .filter_map(|s| results.remove(&s.key()))
            .collect();
        out.extend(failure);
        if end == "stopped" && !all_ended {
            out.push(MailboxResult {
                key: "(fleet)".into(),
                batch: String::new(),
                totals: Totals::default(),
                failure: Some((
                    Failure::Stopped,
                    "stopped before every mailbox of the run had ended".into(),
                )),
            });
        }
        out
    }

    /// Take leases of mailboxes not yet ended in this fleet run while slots are free, and
    /// start them. Whether any mailbox of the run is still unfinished (leased by another
    /// worker, or free).
    async fn lease_more(
        self: &Arc<Self>,
        sh: &Arc<Shared>,
        specs: &[crate::config::MailboxSpec],
        results: &HashMap<String, MailboxResult>,
        tasks: &mut Vec<(String, JoinHandle<MailboxResult>)>,
        started: Instant,
        limit: usize,
    ) -> Result<bool, JournalError> {
        let mine = started.elapsed().as_secs_f64();
        let id = sh.id.clone();
        let ended = move |s: &Journal| -> Result<HashSet<String>, JournalError> {
            // The fleet run began when the earliest worker alive since this one started did.
            let since = s
                .workers()?
                .into_iter()
                .filter(|w| w.id == id || w.silent_secs <= mine)
                .map(|w| w.started_at)
                .min()
                .unwrap_or_default();
            Ok(s.mailboxes_finished_since(&since)?
                .into_iter()
                .map(|e| e.0)
                .collect())
        };
        let (done, leases) = {
            let ended = ended.clone();
            blocking(&self.store, move |s| Ok((ended(s)?, s.leases()?))).await?
        };
        let busy: HashSet<&str> = leases
            .iter()
            .filter(|l| l.1 != sh.id && l.2 > 0.0)
            .map(|l| l.0.as_str())
            .collect();
        let running: HashSet<String> = tasks.iter().map(|t| t.0.clone()).collect();
        let open: Vec<&crate::config::MailboxSpec> = specs
            .iter()
            .filter(|s| {
                let k = s.key();
                !done.contains(&k) && !results.contains_key(&k) && !running.contains(&k)
            })
            .collect();
        let unfinished = !open.is_empty() || !tasks.is_empty();
        // A paused batch's mailboxes are not ended: the worker waits for a start.
        for spec in open
            .into_iter()
            .filter(|s| !busy.contains(s.key().as_str()))
            .filter(|s| !self.pause_flag(&s.batch).is_stopped())
        {
            if tasks.len() >= limit {
                break;
            }
            let (key, id, ttl) = (spec.key(), sh.id.clone(), sh.ttl.as_secs_f64());
            let k = key.clone();
            let ended = ended.clone();
            // Taken, and not ended meanwhile by the worker that released it.
            let taken = blocking(&self.store, move |s| {
                if !s.take_lease(&id, &k, ttl)? {
                    return Ok(false);
                }
                if ended(s)?.contains(&k) {
                    s.release_lease(&id, &k)?;
                    return Ok(false);
                }
                Ok(true)
            })
            .await?;
            if !taken {
                continue;
            }
            lock(&sh.held).insert(key.clone());
            match self.start_mailbox(spec.clone()) {
                Some(h) => {
                    tracing::info!(worker = %sh.id, mailbox = %key, "leased");
                    tasks.push((key, h));
                }
                None => {
                    lock(&sh.held).remove(&key);
                }
            }
        }
        Ok(unfinished)
    }

    /// Renew the held leases every third of the lease time (a tenth after a failure) and
    /// report the worker's state and totals; stop the writes of a mailbox whose lease was lost.
    async fn heartbeat(self: Arc<Self>, sh: Arc<Shared>) {
        let mut failing = false;
        loop {
            let sent = Instant::now();
            let held: Vec<String> = lock(&sh.held).iter().cloned().collect();
            let (id, ttl, state) = (sh.id.clone(), sh.ttl.as_secs_f64(), *lock(&sh.state));
            let (appended, bytes) = (
                RunStats::get(&self.stats.appended),
                RunStats::get(&self.stats.bytes_appended),
            );
            let r = blocking(&self.store, move |s| {
                let lost = s.heartbeat(&id, &held, ttl)?;
                s.renew_slots(&id, ttl)?;
                s.worker_progress(&id, state, appended, bytes)?;
                Ok(lost)
            })
            .await;
            let pause = match r {
                Ok(lost) => {
                    *lock(&sh.renewed) = sent;
                    if failing {
                        tracing::info!(worker = %sh.id, "leases renewed again");
                    }
                    failing = false;
                    for m in lost {
                        self.lose(
                            &sh,
                            &m,
                            "its lease was lost (expired and taken by another worker)",
                        );
                    }
                    sh.ttl / 3
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(worker = %sh.id, "cannot renew the leases: {e}");
                    }
                    failing = true;
                    sh.ttl / 10
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Stop every held mailbox's writes once the last renewal is older than [`STOP_SHARE`] of
    /// the lease time.
    async fn watchdog(self: Arc<Self>, sh: Arc<Shared>) {
        let tick = (sh.ttl / 20).min(Duration::from_millis(200));
        loop {
            tokio::time::sleep(tick).await;
            let since = lock(&sh.renewed).elapsed();
            if since.as_secs_f64() < sh.ttl.as_secs_f64() * STOP_SHARE {
                continue;
            }
            let held: Vec<String> = lock(&sh.held).iter().cloned().collect();
            for m in held {
                let why = format!(
                    "its lease could not be renewed for {:.1} s (lease {:.0} s)",
                    since.as_secs_f64(),
                    sh.ttl.as_secs_f64()
                );
                self.lose(&sh, &m, &why);
            }
        }
    }

    /// This worker no longer holds `mailbox`: stop its writes, say so in the log and issues.
    fn lose(&self, sh: &Shared, mailbox: &str, why: &str) {
        if !lock(&sh.held).remove(mailbox) {
            return;
        }
        lock(&sh.lost).insert(mailbox.to_string());
        self.mailbox_pause_flag(mailbox).stop();
        self.sink.issue(
            Severity::Warning,
            "fleet",
            Some(mailbox),
            None,
            None,
            &format!(
                "worker {} stops writing this mailbox: {why}; another worker resumes it from the journal",
                sh.id
            ),
        );
    }

    fn fleet_failure(&self, e: JournalError) -> MailboxResult {
        MailboxResult {
            key: "(fleet)".into(),
            batch: String::new(),
            totals: Totals::default(),
            failure: self.journal_failure(None, e),
        }
    }
}

/// The fleet's connection slots as this worker leases them (`crate::endpoint::FleetSlots`):
/// `used` are the slots its open sessions hold, so that two of its sessions never share one.
struct Slots {
    store: Journal,
    worker: String,
    ttl: f64,
    used: Mutex<HashSet<(String, i64)>>,
}

impl crate::endpoint::FleetSlots for Slots {
    fn take(&self, endpoint: &str, max: usize) -> Option<i64> {
        let mut used = lock(&self.used);
        for idx in 0..max as i64 {
            if used.contains(&(endpoint.to_string(), idx)) {
                continue;
            }
            match self.store.take_slot(&self.worker, endpoint, idx, self.ttl) {
                Ok(true) => {
                    used.insert((endpoint.to_string(), idx));
                    return Some(idx);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("cannot lease a connection slot of {endpoint}: {e}");
                    return None;
                }
            }
        }
        None
    }

    fn release(&self, endpoint: &str, idx: i64) {
        if let Err(e) = self.store.release_slot(&self.worker, endpoint, idx) {
            tracing::warn!("cannot give back connection slot {idx} of {endpoint}: {e}");
        }
        lock(&self.used).remove(&(endpoint.to_string(), idx));
    }
}
