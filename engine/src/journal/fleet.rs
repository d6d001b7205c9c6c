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

    #[test]
    fn the_channel_fits_an_identifier() {
        assert_eq!(fleet_channel("acme"), "cutover:acme");
        assert!(fleet_channel(&"é".repeat(100)).len() <= 63);
    }
}
