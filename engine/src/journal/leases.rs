//! Workers and mailbox leases (issue 20 item 2; used by `Engine::run_fleet`):
//! several cutover processes on one PostgreSQL journal each register as a worker and work a
//! mailbox only while they hold its lease. A lease is taken, renewed and released with
//! single statements whose conditions hold atomically on both backends (an upsert that only
//! takes a lease that is free, expired or already the worker's; a renewal that only extends
//! a lease still held and unexpired), so two workers never hold one mailbox, and a worker
//! that cannot renew knows it must stop writing. Times are the database's (`julianday('now')`,
//! on PostgreSQL the server's clock), never a worker's own.

use super::sql::params;

use super::db::{Journal, Result};

/// A registered worker, as the fleet sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
    /// Seconds since its last heartbeat.
    pub silent_secs: f64,
    pub state: String,
    /// Messages and bytes it appended since it started (NULL before its first heartbeat).
    pub messages: Option<i64>,
    pub bytes: Option<i64>,
}

impl Journal {
    /// Register worker `id` (host:pid:start) or mark it alive again.
    pub fn register_worker(&self, id: &str, host: &str, pid: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO workers(id, host, pid, heartbeat_at) VALUES (?1, ?2, ?3, julianday('now'))
                 ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, state = 'running'",
                params![id, host, pid],
            )
            .map(drop)
        })
    }

    /// The worker's heartbeat, and every lease it holds renewed for `ttl_secs` more. The
    /// mailboxes whose lease it no longer holds (expired and taken by another, or released)
    /// are returned: their writes must stop.
    pub fn heartbeat(&self, worker: &str, held: &[String], ttl_secs: f64) -> Result<Vec<String>> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE workers SET heartbeat_at = julianday('now') WHERE id = ?1",
                params![worker],
            )?;
            let mut lost = Vec::new();
            for m in held {
                let n = tx.execute(
                    "UPDATE leases SET expires_at = julianday('now') + ?3 / 86400.0
                     WHERE mailbox = ?1 AND worker = ?2 AND expires_at >= julianday('now')",
                    params![m, worker, ttl_secs],
                )?;
                if n == 0 {
                    lost.push(m.clone());
                }
            }
            tx.commit()?;
            Ok(lost)
        })
    }

    /// Take the lease of `mailbox` for `ttl_secs` if it is free, expired or already this
    /// worker's; whether it was taken.
    pub fn take_lease(&self, worker: &str, mailbox: &str, ttl_secs: f64) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO leases(mailbox, worker, expires_at) VALUES (?1, ?2, julianday('now') + ?3 / 86400.0)
                 ON CONFLICT(mailbox) DO UPDATE SET worker = excluded.worker,
                   expires_at = excluded.expires_at, taken_at = excluded.taken_at
                 WHERE leases.expires_at < julianday('now') OR leases.worker = excluded.worker",
                params![mailbox, worker, ttl_secs],
            )?;
            Ok(n == 1)
        })
    }

    /// The first of `candidates` (in order) whose lease this worker could take.
    pub fn lease_next(
        &self,
        worker: &str,
        candidates: &[String],
        ttl_secs: f64,
    ) -> Result<Option<String>> {
        for m in candidates {
            if self.take_lease(worker, m, ttl_secs)? {
                return Ok(Some(m.clone()));
            }
        }
        Ok(None)
    }

    /// Give a lease back (the mailbox is done, or the worker stops).
    pub fn release_lease(&self, worker: &str, mailbox: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM leases WHERE mailbox = ?1 AND worker = ?2",
                params![mailbox, worker],
            )
            .map(drop)
        })
    }

    /// (mailbox, worker, seconds left) of every lease, expired ones with a negative time.
    pub fn leases(&self) -> Result<Vec<(String, String, f64)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mailbox, worker, (expires_at - julianday('now')) * 86400.0 FROM leases ORDER BY mailbox",
            )?;
            st.query_map(params![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
    }

    /// A worker's state word (running, waiting, stopped, done) and running totals, for the
    /// fleet console. A worker that ended (done, stopped) keeps its last word: a heartbeat
    /// still in flight when it ended changes nothing.
    pub fn worker_progress(&self, id: &str, state: &str, messages: u64, bytes: u64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE workers SET state = ?2, messages = ?3, bytes = ?4
                 WHERE id = ?1 AND state NOT IN ('done', 'stopped')",
                params![id, state, messages as i64, bytes as i64],
            )
            .map(drop)
        })
    }

    /// (key, state) of the mailboxes that ended (done or failed) at or after `since` (an
    /// ISO time as `workers.started_at` holds it): a fleet's run has finished them.
    pub fn mailboxes_finished_since(&self, since: &str) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT key, state FROM mailboxes
                 WHERE state IN ('done', 'failed') AND finished_at >= ?1 ORDER BY key",
            )?;
            st.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Lease connection slot `idx` of `endpoint` for `ttl_secs` if it is free, expired or
    /// already this worker's; whether it was taken.
    pub fn take_slot(&self, worker: &str, endpoint: &str, idx: i64, ttl_secs: f64) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO slots(endpoint, idx, worker, expires_at) VALUES (?1, ?2, ?3, julianday('now') + ?4 / 86400.0)
                 ON CONFLICT(endpoint, idx) DO UPDATE SET worker = excluded.worker,
                   expires_at = excluded.expires_at
                 WHERE slots.expires_at < julianday('now') OR slots.worker = excluded.worker",
                params![endpoint, idx, worker, ttl_secs],
            )?;
            Ok(n == 1)
        })
    }

    /// Renew every connection slot the worker holds for `ttl_secs` more.
    pub fn renew_slots(&self, worker: &str, ttl_secs: f64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE slots SET expires_at = julianday('now') + ?2 / 86400.0 WHERE worker = ?1",
                params![worker, ttl_secs],
            )
            .map(drop)
        })
    }

    /// Give back every connection slot of the worker (it leaves the fleet).
    pub fn release_slots(&self, worker: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM slots WHERE worker = ?1", params![worker])
                .map(drop)
        })
    }

    /// Give connection slot `idx` of `endpoint` back.
    pub fn release_slot(&self, worker: &str, endpoint: &str, idx: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM slots WHERE endpoint = ?1 AND idx = ?2 AND worker = ?3",
                params![endpoint, idx, worker],
            )
            .map(drop)
        })
    }

    /// An error of this journal saying a call could not be made (a fleet worker's journal
    /// thread gone).
    pub(crate) fn lost(&self, why: String) -> super::db::JournalError {
        self.err(super::sql::SqlError::Lost(why))
    }

    /// Every registered worker, by id.
    pub fn workers(&self) -> Result<Vec<WorkerRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, host, pid, started_at, (julianday('now') - heartbeat_at) * 86400.0, state,
                   messages, bytes
                 FROM workers ORDER BY id",
            )?;
            st.query_map(params![], |r| {
                Ok(WorkerRow {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    pid: r.get(2)?,
                    started_at: r.get(3)?,
                    silent_secs: r.get(4)?,
                    state: r.get(5)?,
                    messages: r.get(6)?,
                    bytes: r.get(7)?,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    crate::journal::db::both_backends! {
        fn a_mailbox_is_leased_by_one_worker_until_its_lease_expires(s) {
            s.register_worker("w1", "host-a", 10).unwrap();
            s.register_worker("w2", "host-b", 20).unwrap();
            let all = vec!["a".to_string(), "b".to_string()];
            assert_eq!(s.lease_next("w1", &all, 0.6).unwrap().as_deref(), Some("a"));
            // w2 gets the next one; a is w1's.
            assert_eq!(s.lease_next("w2", &all, 0.6).unwrap().as_deref(), Some("b"));
            assert!(!s.take_lease("w2", "a", 30.0).unwrap());
            // Taking one's own again renews it.
            assert!(s.take_lease("w1", "a", 0.6).unwrap());
            assert!(s.heartbeat("w1", &["a".to_string()], 0.6).unwrap().is_empty());
            let leases = s.leases().unwrap();
            assert_eq!(leases.len(), 2);
            assert!(leases[0].2 > 0.0 && leases[0].2 <= 0.6, "{leases:?}");
            // w1 goes silent: its lease expires and w2 takes the mailbox over.
            std::thread::sleep(Duration::from_millis(900));
            assert!(s.take_lease("w2", "a", 30.0).unwrap());
            // w1's heartbeat learns it lost the lease: it must stop writing there.
            assert_eq!(s.heartbeat("w1", &["a".to_string()], 30.0).unwrap(), vec!["a".to_string()]);
            assert_eq!(s.leases().unwrap()[0].1, "w2");
            s.release_lease("w2", "a").unwrap();
            // A release by another worker changes nothing.
            s.release_lease("w1", "b").unwrap();
            let left: Vec<String> = s.leases().unwrap().into_iter().map(|l| l.0).collect();
            assert_eq!(left, vec!["b".to_string()]);
            let workers = s.workers().unwrap();
            assert_eq!(workers.len(), 2);
            assert_eq!((workers[0].host.as_str(), workers[0].pid), ("host-a", 10));
            assert!(workers[0].silent_secs >= 0.0 && workers[0].silent_secs < 5.0, "{workers:?}");
        }
    }

    crate::journal::db::both_backends! {
        fn a_worker_reports_its_totals_and_sees_which_mailboxes_ended_since_a_time(s) {
            s.register_worker("w1", "host-a", 10).unwrap();
            s.worker_progress("w1", "waiting", 12, 3400).unwrap();
            let w = &s.workers().unwrap()[0];
            assert_eq!((w.state.as_str(), w.messages, w.bytes), ("waiting", Some(12), Some(3400)));
            // Once done, a late heartbeat does not make it running again.
            s.worker_progress("w1", "done", 13, 3500).unwrap();
            s.worker_progress("w1", "running", 14, 3600).unwrap();
            let w = &s.workers().unwrap()[0];
            assert_eq!((w.state.as_str(), w.messages), ("done", Some(13)));
            let a = s.upsert_mailbox("a", "b1", "a", "a").unwrap();
            let b = s.upsert_mailbox("b", "b1", "b", "b").unwrap();
            s.upsert_mailbox("c", "b1", "c", "c").unwrap();
            s.set_mailbox_state(a, "done", None).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            // A worker starting now: a ended before it, b ends after it, c never ends.
            s.register_worker("w2", "host-b", 20).unwrap();
            let since = s.workers().unwrap()[1].started_at.clone();
            assert!(s.mailboxes_finished_since(&since).unwrap().is_empty());
            std::thread::sleep(Duration::from_millis(20));
            s.set_mailbox_state(b, "failed", Some("x")).unwrap();
            assert_eq!(
                s.mailboxes_finished_since(&since).unwrap(),
                vec![("b".to_string(), "failed".to_string())]
            );
            let earlier = s.workers().unwrap()[0].started_at.clone();
            assert_eq!(s.mailboxes_finished_since(&earlier).unwrap().len(), 2);
        }
    }

    crate::journal::db::both_backends! {
        fn a_connection_slot_is_held_by_one_worker_until_released_or_expired(s) {
            assert!(s.take_slot("w1", "imap:h:993", 0, 1.0).unwrap());
            assert!(!s.take_slot("w2", "imap:h:993", 0, 30.0).unwrap());
            assert!(s.take_slot("w2", "imap:h:993", 1, 30.0).unwrap());
            // Another endpoint has its own slots.
            assert!(s.take_slot("w2", "imap:other:993", 0, 30.0).unwrap());
            // Renewed, w1 keeps it past its first expiry; silent, it loses it.
            std::thread::sleep(Duration::from_millis(600));
            s.renew_slots("w1", 1.0).unwrap();
            std::thread::sleep(Duration::from_millis(600));
            assert!(!s.take_slot("w2", "imap:h:993", 0, 30.0).unwrap());
            std::thread::sleep(Duration::from_millis(600));
            assert!(s.take_slot("w2", "imap:h:993", 0, 30.0).unwrap());
            // A release by another worker changes nothing; by its holder frees the slot.
            s.release_slot("w1", "imap:h:993", 1).unwrap();
            assert!(!s.take_slot("w1", "imap:h:993", 1, 30.0).unwrap());
            s.release_slot("w2", "imap:h:993", 1).unwrap();
            assert!(s.take_slot("w1", "imap:h:993", 1, 30.0).unwrap());
            // Leaving, w2 gives back all of its slots.
            s.release_slots("w2").unwrap();
            assert!(s.take_slot("w1", "imap:h:993", 0, 30.0).unwrap());
            assert!(s.take_slot("w1", "imap:other:993", 0, 30.0).unwrap());
        }
    }

    /// Workers racing for the same mailboxes on separate connections (separate processes,
    /// as far as PostgreSQL knows): each mailbox is leased by exactly one of them.
    #[test]
    fn racing_workers_on_postgres_never_share_a_mailbox() {
        let (_d, first) = crate::journal::db::store_postgres();
        let target = first.postgres_target().expect("a postgres journal").clone();
        let mailboxes: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let (t, all) = (target.clone(), mailboxes.clone());
                std::thread::spawn(move || {
                    let d = tempfile::tempdir().unwrap();
                    let j = Journal::open_postgres(&t, &d.path().join("j"), false).unwrap();
                    let me = format!("w{w}");
                    j.register_worker(&me, "h", w).unwrap();
                    let mut got = Vec::new();
                    loop {
                        let left: Vec<String> =
                            all.iter().filter(|m| !got.contains(*m)).cloned().collect();
                        match j.lease_next(&me, &left, 60.0).unwrap() {
                            Some(m) => got.push(m),
                            None => break,
                        }
                    }
                    got
                })
            })
            .collect();
        let mut all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        let mut expected = mailboxes.clone();
        expected.sort();
        assert_eq!(all, expected, "every mailbox leased once");
    }
}
