//! Mailbox-readiness checks as journalled (`cutover access`): one row per mailbox and check,
//! so the checklist's `access` item, the console and the reports read the latest one.

use super::sql::params;

use super::db::{Journal, Result};

/// One readiness check of one mailbox's destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRow {
    pub mailbox: String,
    pub at: String,
    /// The mailbox can receive what will be copied.
    pub ready: bool,
    /// The outcome as a word ("ready", "no-mailbox", ...; see `access::Readiness`).
    pub state: String,
    pub detail: String,
    /// A test item was placed, read back and removed (`--probe`).
    pub probed: bool,
}

impl Journal {
    /// Record one readiness check.
    pub fn record_access(
        &self,
        mailbox: &str,
        ready: bool,
        state: &str,
        detail: &str,
        probed: bool,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO access_checks (mailbox, ready, state, detail, probed)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![mailbox, ready, state, detail, probed],
            )?;
            Ok(())
        })
    }

    /// The latest check of each mailbox checked at least once, by mailbox key.
    pub fn latest_access(&self) -> Result<Vec<AccessRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mailbox, at, ready, state, detail, probed FROM access_checks a
                 WHERE id = (SELECT MAX(id) FROM access_checks b WHERE b.mailbox = a.mailbox)
                 ORDER BY mailbox",
            )?;
            let rows = st.query_map(params![], |r| {
                Ok(AccessRow {
                    mailbox: r.get(0)?,
                    at: r.get(1)?,
                    ready: r.get(2)?,
                    state: r.get(3)?,
                    detail: r.get(4)?,
                    probed: r.get(5)?,
                })
            })?;
            rows.collect::<super::sql::Result<Vec<_>>>()
        })
    }
}

#[cfg(test)]
mod tests {

    crate::journal::db::both_backends! {
    fn the_latest_check_of_each_mailbox_wins(j) {
        j.record_access("a->a", false, "no-mailbox", "no mailbox", false)
            .unwrap();
        j.record_access("b->b", true, "ready", "ok", false).unwrap();
        j.record_access("a->a", true, "ready", "ok now", true)
            .unwrap();
        let rows = j.latest_access().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].mailbox.as_str(), rows[0].ready, rows[0].probed),
            ("a->a", true, true)
        );
        assert_eq!(rows[1].state, "ready");
        }
    }
}
