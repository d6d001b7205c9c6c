//! The outcome of `cutover verify` per mailbox, as journalled.

use rusqlite::params;

use super::db::{Journal, Result};

impl Journal {
    /// Journal the outcome of `cutover verify` for one mailbox.
    pub fn record_verification(
        &self,
        mailbox: &str,
        batch: &str,
        ok: bool,
        summary: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO verifications(mailbox, batch, ok, summary) VALUES (?1, ?2, ?3, ?4)",
                params![mailbox, batch, ok, summary],
            )
            .map(drop)
        })
    }

    /// mailbox -> (ok, summary, at) of its newest verification.
    pub fn latest_verifications(
        &self,
    ) -> Result<std::collections::HashMap<String, (bool, String, String)>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT mailbox, ok, summary, at FROM verifications v
                 WHERE id = (SELECT max(id) FROM verifications w WHERE w.mailbox = v.mailbox)",
            )?;
            st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?
                .collect()
        })
    }
}
