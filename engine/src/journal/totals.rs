//! What the journal counts of a folder or mailbox: messages and bytes by outcome, the reasons
//! messages were not copied, and those that vanished from the source first.

use rusqlite::params;

use super::db::{Journal, Result};
use super::messages::EXPUNGED_REASON;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub messages: u64,
    pub bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    pub failed: u64,
    pub pending: u64,
}

/// Why messages of a mailbox were not copied: (state, reason, count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipRow {
    pub state: String,
    pub reason: String,
    pub count: u64,
}

impl Journal {
    pub fn folder_totals(&self, folder_id: i64) -> Result<Totals> {
        self.totals_where("m.folder_id = ?1", folder_id)
    }

    pub fn mailbox_totals(&self, mailbox_id: i64) -> Result<Totals> {
        self.totals_where(
            "m.folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)",
            mailbox_id,
        )
    }

    fn totals_where(&self, cond: &str, arg: i64) -> Result<Totals> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT count(*), coalesce(sum(size),0),
                        coalesce(sum(state = 'copied'),0), coalesce(sum(CASE WHEN state = 'copied' THEN size END),0),
                        coalesce(sum(state = 'skipped'),0), coalesce(sum(state = 'failed'),0),
                        coalesce(sum(state IN ('pending','appending')),0)
                     FROM messages m WHERE {cond} AND state != 'superseded'"
                ),
                [arg],
                |r| {
                    Ok(Totals {
                        messages: r.get::<_, i64>(0)? as u64,
                        bytes: r.get::<_, i64>(1)? as u64,
                        copied: r.get::<_, i64>(2)? as u64,
                        copied_bytes: r.get::<_, i64>(3)? as u64,
                        skipped: r.get::<_, i64>(4)? as u64,
                        failed: r.get::<_, i64>(5)? as u64,
                        pending: r.get::<_, i64>(6)? as u64,
                    })
                },
            )
        })
    }

    /// Messages of a mailbox not copied (skipped or failed), grouped by reason.
    pub fn skip_reasons(&self, mailbox_id: i64) -> Result<Vec<SkipRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT state, coalesce(reason, ''), count(*) FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state IN ('skipped', 'failed')
                 GROUP BY state, reason ORDER BY count(*) DESC, reason",
            )?;
            st.query_map([mailbox_id], |r| {
                Ok(SkipRow {
                    state: r.get(0)?,
                    reason: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }

    /// Messages (and their bytes) of a mailbox that vanished from the source before they
    /// were copied.
    pub fn expunged(&self, mailbox_id: i64) -> Result<(u64, u64)> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state = 'skipped' AND reason = ?2",
                params![mailbox_id, EXPUNGED_REASON],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }
}
