//! The fleet of engines on a PostgreSQL journal (issue 20 item 3), as the console and
//! `cutover watch` show it: every registered worker with its mailboxes, its counts and its
//! rate measured between two heartbeats, how long it has been silent, and the fleet's totals.

/// One worker of the fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerView {
    /// host:pid:start.
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// The mailboxes whose lease it holds (unexpired), sorted.
    pub mailboxes: Vec<String>,
    /// What it reported at its last heartbeat (None: not reported).
    pub messages: Option<u64>,
    pub bytes: Option<u64>,
    /// Messages and bytes per second between its last two heartbeats (None until two were
    /// seen with counts).
    pub msgs_per_sec: Option<f64>,
    pub bytes_per_sec: Option<f64>,
    /// Seconds since its last heartbeat (the database's clock).
    pub silent_secs: f64,
    /// As journalled: running, waiting, stopped, done.
    pub state: String,
    /// Silent past the lease time while not stopped or done: presumed dead; its mailboxes
    /// go to another worker once their leases expire.
    pub lost: bool,
}

/// Every worker and the fleet's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetView {
    pub workers: Vec<WorkerView>,
    /// The silence after which a worker is shown lost (the lease time).
    pub lost_after_secs: f64,
}

impl FleetView {
    /// Workers alive (not lost, not stopped or done).
    pub fn live(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| !w.lost && w.state != "stopped" && w.state != "done")
            .count()
    }

    pub fn lost(&self) -> usize {
        self.workers.iter().filter(|w| w.lost).count()
    }

    /// Messages and bytes reported by every worker.
    pub fn totals(&self) -> (u64, u64) {
        self.workers.iter().fold((0, 0), |(m, b), w| {
            (m + w.messages.unwrap_or(0), b + w.bytes.unwrap_or(0))
        })
    }

    /// The fleet's rate: the sum of the live workers' (messages/s, bytes/s).
    pub fn rate(&self) -> (f64, f64) {
        self.workers
            .iter()
            .filter(|w| !w.lost)
            .fold((0.0, 0.0), |(m, b), w| {
                (
                    m + w.msgs_per_sec.unwrap_or(0.0),
                    b + w.bytes_per_sec.unwrap_or(0.0),
                )
            })
    }

    /// Mailboxes leased by the fleet.
    pub fn leased(&self) -> usize {
        self.workers.iter().map(|w| w.mailboxes.len()).sum()
    }
}
