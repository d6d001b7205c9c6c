//! Fleet commands (issue 20 item 3): a stop, pause or start issued for every engine working
//! one PostgreSQL journal. The command is a row of `fleet_commands` (so an engine that was
//! not listening at that moment reads it when it listens again), and on PostgreSQL the same
//! transaction sends `NOTIFY` on the project's channel with the row as its payload, which
//! PostgreSQL delivers to every listener when the transaction commits.

use super::db::{Journal, Result};
use super::sql::params;

/// One fleet command, as journalled and as a notification's payload carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCommand {
    pub id: i64,
    /// `stop`, `pause` or `start`.
    pub kind: String,
    /// None: every batch.
    pub batch: Option<String>,
    /// The operator who issued it.
    pub by: String,
    /// Where it was issued (host:pid of the shell's or console's process).
    pub origin: String,
}

/// Longest text kept of a field (a notification's payload is at most 8,000 bytes).
const FIELD: usize = 200;

fn field(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(FIELD).collect()
}

impl FleetCommand {
    /// The notification's payload: the fields separated by tabs (none of them holds one).
    pub fn payload(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.id,
            self.kind,
            self.batch.as_deref().unwrap_or(""),
            self.by,
            self.origin
        )
    }

    /// A payload read back; None when it is not one of ours.
    pub fn from_payload(p: &str) -> Option<FleetCommand> {
        let mut f = p.split('\t');
        let id = f.next()?.parse().ok()?;
        let kind = f.next()?.to_string();
        let batch = Some(f.next()?.to_string()).filter(|b| !b.is_empty());
        let by = f.next()?.to_string();
        let origin = f.next()?.to_string();
        Some(FleetCommand {
            id,
            kind,
            batch,
            by,
            origin,
        })
    }
}

/// The channel a project's engines listen on: `cutover:` and the project's name, within
/// PostgreSQL's 63 bytes for an identifier.
pub fn fleet_channel(project: &str) -> String {
    let mut c = String::from("cutover:");
    for ch in project.chars().filter(|c| !c.is_control()) {
        if c.len() + ch.len_utf8() > 63 {
            break;
        }
        c.push(ch);
    }
    c
}

impl Journal {
    /// Journal a fleet command and, on PostgreSQL, notify `channel` of it (delivered when
    /// the row is committed). Returns the command with its id.
    pub fn issue_fleet_command(
        &self,
        channel: &str,
        kind: &str,
        batch: Option<&str>,
        by: &str,
        origin: &str,
    ) -> Result<FleetCommand> {
        let mut cmd = FleetCommand {
            id: 0,
            kind: field(kind),
            batch: batch.map(field),
            by: field(by),
            origin: field(origin),
        };
        let postgres = self.is_postgres();
        self.with(|c| {
            let tx = c.transaction()?;
            cmd.id = tx.query_row(
                "INSERT INTO fleet_commands(kind, batch, issued_by, origin) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![cmd.kind, cmd.batch, cmd.by, cmd.origin],
                |r| r.get(0),
            )?;
            if postgres {
                // pg_notify returns void: run, not read.
                tx.execute("SELECT pg_notify(?1, ?2)", params![channel, cmd.payload()])?;
            }
            tx.commit()?;
            Ok(cmd.clone())
        })
    }

    /// The newest fleet command's id (0 when none).
    pub fn last_fleet_command(&self) -> Result<i64> {
        self.with(|c| {
            c.query_row("SELECT max(id) FROM fleet_commands", params![], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map(|v| v.unwrap_or(0))
        })
    }

    /// The fleet commands after `id`, in order.
    pub fn fleet_commands_after(&self, id: i64) -> Result<Vec<FleetCommand>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, kind, batch, issued_by, origin FROM fleet_commands WHERE id > ?1 ORDER BY id",
            )?;
            st.query_map(params![id], |r| {
                Ok(FleetCommand {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    batch: r.get(2)?,
                    by: r.get(3)?,
                    origin: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// How many engines listen for this journal's fleet commands now (their listening
    /// connections, by application name); None on SQLite.
    pub fn fleet_listeners(&self) -> Result<Option<i64>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?1",
                params![LISTENER_NAME],
                |r| r.get(0),
            )
            .map(Some)
        })
    }
}

/// A worker as the fleet view reads it (see `api::FleetView`).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetWorkerRow {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Seconds since its last heartbeat, and that heartbeat as seconds of the database's
    /// clock (to measure a rate between two).
    pub silent_secs: f64,
    pub heartbeat_secs: f64,
    pub state: String,
    pub messages: Option<i64>,
    pub bytes: Option<i64>,
    /// The mailboxes whose unexpired lease it holds, sorted.
    pub mailboxes: Vec<String>,
}

impl Journal {
    /// Every registered worker with its counts and its unexpired leases. The counts are the
    /// nullable `workers.messages` and `workers.bytes` that the workers write at their
    /// heartbeat; a journal without those columns gives None for them.
    pub fn fleet_workers(&self) -> Result<Vec<FleetWorkerRow>> {
        let counted = self.workers_with_counts(true);
        let mut workers = match counted {
            Ok(w) => w,
            Err(_) => self.workers_with_counts(false)?,
        };
        for (mailbox, worker, left) in self.leases()? {
            if left > 0.0
                && let Some(w) = workers.iter_mut().find(|w| w.id == worker)
            {
                w.mailboxes.push(mailbox);
            }
        }
        Ok(workers)
    }

    fn workers_with_counts(&self, counts: bool) -> Result<Vec<FleetWorkerRow>> {
        let cols = if counts {
            "messages, bytes"
        } else {
            "NULL, NULL"
        };
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT id, host, pid, (julianday('now') - heartbeat_at) * 86400.0,
                        heartbeat_at * 86400.0, state, {cols}
                 FROM workers ORDER BY id"
            ))?;
            st.query_map(params![], |r| {
                Ok(FleetWorkerRow {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    pid: r.get(2)?,
                    silent_secs: r.get(3)?,
                    heartbeat_secs: r.get(4)?,
                    state: r.get(5)?,
                    messages: r.get(6)?,
                    bytes: r.get(7)?,
                    mailboxes: Vec::new(),
                })
            })?
            .collect()
        })
    }
}

/// The application name of a listening connection (`pg_stat_activity` counts them).
pub const LISTENER_NAME: &str = "cutover fleet listener";

#[cfg(test)]
mod tests {
    use super::*;

    crate::journal::db::both_backends!(
        fn commands_are_journalled_in_order_and_read_after_an_id(s) {
            assert_eq!(s.last_fleet_command().unwrap(), 0);
            let a = s
                .issue_fleet_command("cutover:t", "stop", None, "ann", "h:1")
                .unwrap();
            let b = s
                .issue_fleet_command("cutover:t", "pause", Some("wave1"), "bob\t", "h:2")
                .unwrap();
            assert!(b.id > a.id);
            assert_eq!(s.last_fleet_command().unwrap(), b.id);
            let after = s.fleet_commands_after(a.id).unwrap();
            assert_eq!(after, vec![b.clone()]);
            assert_eq!(after[0].by, "bob");
            assert_eq!(after[0].batch.as_deref(), Some("wave1"));
            assert_eq!(s.fleet_commands_after(0).unwrap().len(), 2);
            assert_eq!(FleetCommand::from_payload(&b.payload()), Some(b));
            assert_eq!(FleetCommand::from_payload(&a.payload()), Some(a));
        }
    );

    crate::journal::db::both_backends!(
        fn the_fleet_view_reads_workers_counts_and_live_leases(s) {
            s.register_worker("h1:10:1", "h1", 10).unwrap();
            s.register_worker("h2:20:1", "h2", 20).unwrap();
            assert!(s.take_lease("h1:10:1", "b@x", 30.0).unwrap());
            assert!(s.take_lease("h1:10:1", "a@x", 30.0).unwrap());
            // An expired lease is not shown.
            assert!(s.take_lease("h2:20:1", "c@x", -1.0).unwrap());
            // Without the count columns (a journal before workers reported them): None.
            assert_eq!(s.fleet_workers().unwrap()[0].messages, None);
            // The columns the workers write at their heartbeat (added here unless the
            // schema has them already).
            let _ = s.with(|c| c.execute_batch("ALTER TABLE workers ADD COLUMN messages INTEGER"));
            let _ = s.with(|c| c.execute_batch("ALTER TABLE workers ADD COLUMN bytes INTEGER"));
            s.with(|c| {
                c.execute(
                    "UPDATE workers SET messages = 120, bytes = 4096 WHERE id = 'h1:10:1'",
                    params![],
                )
            })
            .unwrap();
            let w = s.fleet_workers().unwrap();
            assert_eq!(w.len(), 2);
            assert_eq!(w[0].mailboxes, vec!["a@x".to_string(), "b@x".to_string()]);
            assert_eq!((w[0].messages, w[0].bytes), (Some(120), Some(4096)));
            assert!(w[1].mailboxes.is_empty() && w[1].messages.is_none());
            assert!(w[0].silent_secs >= 0.0 && w[0].silent_secs < 5.0);
            assert!(w[0].heartbeat_secs > 2_440_000.0 * 86_400.0);
        }
    );

    #[test]
    fn the_channel_fits_an_identifier() {
        assert_eq!(fleet_channel("acme"), "cutover:acme");
        assert!(fleet_channel(&"é".repeat(100)).len() <= 63);
    }
}
