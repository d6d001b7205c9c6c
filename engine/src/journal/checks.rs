//! The checklist as journalled: the operator's ticks, notes and overrides, and the latest
//! result of each auto check.

use super::sql::params;

use super::db::{Journal, NOW, Result};

/// The latest result of an auto check, per mailbox ("" for project-wide checks).
#[derive(Debug, Clone, Default)]
pub struct CheckResultRow {
    pub check_id: String,
    pub mailbox: String,
    pub status: String,
    pub reason: String,
    pub at: String,
}

/// A checklist item's operator record: tick, note, override.
#[derive(Debug, Clone, Default)]
pub struct CheckStateRow {
    pub done: bool,
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<String>,
    pub override_by: Option<String>,
    pub override_reason: Option<String>,
    pub override_at: Option<String>,
}

impl Journal {
    /// Tick or untick a checklist item, recording who and when.
    pub fn set_check(&self, id: &str, done: bool, by: &str, note: Option<&str>) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO checks(id, done, by, at, note) VALUES (?1, ?2, ?3, {NOW}, ?4)
                     ON CONFLICT(id) DO UPDATE SET done = excluded.done, by = excluded.by, at = excluded.at,
                       note = coalesce(excluded.note, note)"
                ),
                params![id, done, by, note],
            )
            .map(drop)
        })
    }

    /// id -> (done, by, at, note)
    #[allow(clippy::type_complexity)]
    pub fn checks(
        &self,
    ) -> Result<
        std::collections::HashMap<String, (bool, Option<String>, Option<String>, Option<String>)>,
    > {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT id, done, by, at, note FROM checks")?;
            st.query_map(params![], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            })?
            .collect()
        })
    }

    /// Record auto-check results (one row per mailbox, "" for a project-wide check).
    pub fn set_check_results(
        &self,
        check_id: &str,
        rows: &[(String, String, String)],
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (mailbox, status, reason) in rows {
                tx.execute(
                    &format!(
                        "INSERT INTO check_results(check_id, mailbox, status, reason, at) VALUES (?1, ?2, ?3, ?4, {NOW})
                         ON CONFLICT(check_id, mailbox) DO UPDATE SET status = excluded.status,
                           reason = excluded.reason, at = excluded.at"
                    ),
                    params![check_id, mailbox, status, reason],
                )?;
            }
            tx.commit()
        })
    }

    pub fn check_results(&self) -> Result<Vec<CheckResultRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT check_id, mailbox, status, reason, at FROM check_results ORDER BY check_id, mailbox",
            )?;
            st.query_map(params![], |r| {
                Ok(CheckResultRow {
                    check_id: r.get(0)?,
                    mailbox: r.get(1)?,
                    status: r.get(2)?,
                    reason: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// The operator overrides an unmet checklist item, with a reason (stands until the item
    /// is checked or ticked again).
    pub fn override_check(&self, id: &str, by: &str, reason: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO checks(id, done, override_by, override_reason, override_at) VALUES (?1, 0, ?2, ?3, {NOW})
                     ON CONFLICT(id) DO UPDATE SET override_by = excluded.override_by,
                       override_reason = excluded.override_reason, override_at = excluded.override_at"
                ),
                params![id, by, reason],
            )
            .map(drop)
        })
    }

    /// id -> tick, note and override of every checklist item the operator touched.
    pub fn check_states(&self) -> Result<std::collections::HashMap<String, CheckStateRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, done, by, at, note, override_by, override_reason, override_at FROM checks",
            )?;
            st.query_map(params![], |r| {
                Ok((
                    r.get(0)?,
                    CheckStateRow {
                        done: r.get(1)?,
                        by: r.get(2)?,
                        at: r.get(3)?,
                        note: r.get(4)?,
                        override_by: r.get(5)?,
                        override_reason: r.get(6)?,
                        override_at: r.get(7)?,
                    },
                ))
            })?
            .collect()
        })
    }
}
