//! The fleet view of the snapshot (`api::FleetView`): the workers table read at each refresh
//! of a PostgreSQL journal's monitor, each worker's rate measured between its last two
//! heartbeats that carried counts (kept until the next one), a worker silent past the lease
//! time shown lost.

use std::collections::HashMap;

use crate::api::{FleetView, WorkerView};
use crate::journal::{FleetWorkerRow, Journal};

/// Per worker: its last heartbeat with counts (seconds, messages, bytes) and the rate
/// measured at it.
pub(super) struct FleetSampler {
    seen: HashMap<String, Sample>,
    /// The silence after which a worker is shown lost: the project's lease time
    /// (`[project.fleet] lease_seconds`; a worker that cannot renew within it has lost its
    /// leases).
    lost_after: f64,
}

#[derive(Clone, Copy)]
struct Sample {
    at: f64,
    messages: u64,
    bytes: u64,
    rate: Option<(f64, f64)>,
}

impl FleetSampler {
    pub(super) fn new(lost_after: f64) -> Self {
        FleetSampler {
            seen: HashMap::new(),
            lost_after,
        }
    }

    /// The fleet now, or None for a SQLite journal (or when the workers cannot be read: a
    /// journal from before workers).
    pub(super) fn read(&mut self, store: &Journal) -> Option<FleetView> {
        if !store.is_postgres() {
            return None;
        }
        match store.fleet_workers() {
            Ok(rows) => Some(self.view(rows)),
            Err(e) => {
                tracing::warn!("cannot read the fleet's workers: {e}");
                None
            }
        }
    }

    pub(super) fn view(&mut self, rows: Vec<FleetWorkerRow>) -> FleetView {
        let workers = rows
            .into_iter()
            .map(|r| {
                let counts = r
                    .messages
                    .zip(r.bytes)
                    .map(|(m, b)| (m.max(0) as u64, b.max(0) as u64));
                let mut rate = None;
                if let Some((m, b)) = counts {
                    let prev = self.seen.get(&r.id).copied();
                    let s = match prev {
                        Some(p) if r.heartbeat_secs > p.at + 1e-3 => {
                            let dt = r.heartbeat_secs - p.at;
                            Sample {
                                at: r.heartbeat_secs,
                                messages: m,
                                bytes: b,
                                rate: Some((
                                    m.saturating_sub(p.messages) as f64 / dt,
                                    b.saturating_sub(p.bytes) as f64 / dt,
                                )),
                            }
                        }
                        Some(p) => p,
                        None => Sample {
                            at: r.heartbeat_secs,
                            messages: m,
                            bytes: b,
                            rate: None,
                        },
                    };
                    rate = s.rate;
                    self.seen.insert(r.id.clone(), s);
                }
                let finished = r.state == "stopped" || r.state == "done";
                WorkerView {
                    lost: !finished && r.silent_secs > self.lost_after,
                    id: r.id,
                    host: r.host,
                    pid: r.pid,
                    mailboxes: r.mailboxes,
                    messages: counts.map(|c| c.0),
                    bytes: counts.map(|c| c.1),
                    msgs_per_sec: rate.map(|r| r.0),
                    bytes_per_sec: rate.map(|r| r.1),
                    silent_secs: r.silent_secs,
                    state: r.state,
                }
            })
            .collect();
        FleetView {
            workers,
            lost_after_secs: self.lost_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, at: f64, silent: f64, m: i64, b: i64, state: &str) -> FleetWorkerRow {
        FleetWorkerRow {
            id: id.into(),
            host: "h".into(),
            pid: 1,
            silent_secs: silent,
            heartbeat_secs: at,
            state: state.into(),
            messages: Some(m),
            bytes: Some(b),
            mailboxes: vec!["a@x".into()],
        }
    }

    #[test]
    fn rates_are_measured_between_heartbeats_and_a_silent_worker_is_lost() {
        let mut s = FleetSampler::new(30.0);
        let v = s.view(vec![row("w1", 1000.0, 1.0, 100, 1000, "running")]);
        assert_eq!(v.workers[0].msgs_per_sec, None);
        // Same heartbeat, read again: no rate yet.
        let v = s.view(vec![row("w1", 1000.0, 2.0, 100, 1000, "running")]);
        assert_eq!(v.workers[0].msgs_per_sec, None);
        // The next heartbeat, 5 s later: 50 messages, 5,000 bytes.
        let v = s.view(vec![
            row("w1", 1005.0, 0.5, 150, 6000, "running"),
            row("w2", 1005.0, 45.0, 10, 10, "running"),
            row("w3", 1005.0, 45.0, 10, 10, "done"),
        ]);
        assert_eq!(v.workers[0].msgs_per_sec, Some(10.0));
        assert_eq!(v.workers[0].bytes_per_sec, Some(1000.0));
        assert!(!v.workers[0].lost && v.workers[1].lost && !v.workers[2].lost);
        assert_eq!((v.live(), v.lost()), (1, 1));
        assert_eq!(v.totals(), (170, 6020));
        assert_eq!(v.rate(), (10.0, 1000.0));
        assert_eq!(v.leased(), 3);
        // Kept until the next heartbeat.
        let v = s.view(vec![row("w1", 1005.0, 3.0, 150, 6000, "running")]);
        assert_eq!(v.workers[0].msgs_per_sec, Some(10.0));
    }
}
