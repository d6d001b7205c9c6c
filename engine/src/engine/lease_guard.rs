//! A mailbox's lease outside a fleet worker (issue 20): on a PostgreSQL journal every engine
//! that migrates a mailbox — the console's, `cutover sync`, `cutover finalize`, a `cutover
//! run` — holds that mailbox's lease while it does, so it never writes a mailbox a fleet
//! worker (or another console) is writing. A fleet worker takes its leases itself
//! (`fleet_worker`); this guard is for every other start of a mailbox. On SQLite the
//! one-engine lock already makes the engine the only writer, and no lease is taken.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::state::Engine;
use crate::events::Severity;
use crate::journal::{Journal, JournalError};

/// Set by a fleet worker: its mailboxes are leased by its scheduler.
static IN_FLEET: AtomicBool = AtomicBool::new(false);

pub(super) fn mark_fleet_worker() {
    IN_FLEET.store(true, Ordering::SeqCst);
}

/// This process's holder name in the leases table (host:pid:engine).
fn holder() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| format!("{}:{}:engine", host_name(), std::process::id()))
        .clone()
}

/// The lease held while a mailbox is migrated: renewed every third of the lease time; a
/// renewal that fails for [`STOP_SHARE`] of it, or finds the lease lost, stops the mailbox's
/// writes (its pause flag). Released when dropped.
pub(super) struct LeaseGuard {
    renew: tokio::task::JoinHandle<()>,
    release: Option<(Journal, String, String)>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renew.abort();
        if let Some((store, who, key)) = self.release.take() {
            let release = move || {
                let _ = store.release_lease(&who, &key);
            };
            match tokio::runtime::Handle::try_current() {
                Ok(h) => drop(h.spawn_blocking(release)),
                Err(_) => release(),
            }
        }
    }
}

impl Engine {
    /// Take `key`'s lease for this engine when the journal is PostgreSQL and this is not a
    /// fleet worker. Ok(None): no lease needed. Err: the holder, when another cutover holds
    /// the lease (the mailbox is not started here).
    pub(super) async fn lease_for_start(
        self: &Arc<Self>,
        key: &str,
    ) -> Result<Option<LeaseGuard>, String> {
        if !self.store.is_postgres() || IN_FLEET.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let ttl = self.project.lease_seconds;
        let (who, k) = (holder(), key.to_string());
        let taken = blocking(&self.store, move |s| {
            if s.take_lease(&who, &k, ttl)? {
                return Ok(None);
            }
            Ok(Some(
                s.leases()?
                    .into_iter()
                    .find(|l| l.0 == k)
                    .map_or_else(|| "another cutover".to_string(), |l| l.1),
            ))
        })
        .await;
        match taken {
            Ok(None) => {}
            Ok(Some(holder)) => return Err(holder),
            Err(e) => return Err(format!("the journal could not lease it: {e}")),
        }
        let engine = self.clone();
        let key = key.to_string();
        let period = Duration::from_secs_f64(ttl / 3.0);
        let renew = tokio::spawn({
            let key = key.clone();
            async move {
                let mut renewed = Instant::now();
                loop {
                    tokio::time::sleep(period).await;
                    let (who, k) = (holder(), key.clone());
                    let r = blocking(&engine.store, move |s| s.heartbeat(&who, &[k], ttl)).await;
                    let why = match r {
                        Ok(lost) if lost.is_empty() => {
                            renewed = Instant::now();
                            continue;
                        }
                        Ok(_) => {
                            "its lease was lost (expired and taken by another cutover)".to_string()
                        }
                        Err(e) if renewed.elapsed().as_secs_f64() >= STOP_SHARE * ttl => {
                            format!("its lease could not be renewed: {e}")
                        }
                        Err(_) => continue,
                    };
                    engine.mailbox_pause_flag(&key).stop();
                    engine.sink().issue(
                        Severity::Warning,
                        "fleet",
                        Some(&key),
                        None,
                        None,
                        &format!("this engine stops writing this mailbox: {why}; run it again once the journal is reachable"),
                    );
                    return;
                }
            }
        });
        Ok(Some(LeaseGuard {
            renew,
            release: Some((self.store.clone(), holder(), key)),
        }))
    }

    /// The result of a mailbox not started because another cutover holds its lease.
    pub(super) fn leased_elsewhere(
        &self,
        spec: &crate::config::MailboxSpec,
        holder: &str,
    ) -> super::outcome::MailboxResult {
        let key = spec.key();
        let msg = format!(
            "not started here: {holder} is migrating this mailbox (its lease in the journal); run it again once that one ends"
        );
        self.sink()
            .issue(Severity::Warning, "fleet", Some(&key), None, None, &msg);
        super::outcome::MailboxResult {
            key,
            batch: spec.batch.clone(),
            totals: Default::default(),
            failure: Some((super::outcome::Failure::Other, msg)),
        }
    }
}

/// The share of the lease time after the last successful renewal at which a worker stops
/// writing its mailboxes (the rest is the margin for an APPEND window already in flight).
pub const STOP_SHARE: f64 = 0.6;

/// Run a journal call off the async threads (a PostgreSQL round trip blocks).
pub(super) async fn blocking<T: Send + 'static>(
    store: &Journal,
    f: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(r) => r,
        Err(e) => Err(store.lost(format!("journal call failed: {e}"))),
    }
}

/// This machine's name, for the workers table.
pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
