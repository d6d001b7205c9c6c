//! A Gmail API source mailbox's history baseline: the mailbox's `historyId` (users.getProfile)
//! as it was before cutover first read any of its messages. The first delta pass asks
//! `users.history.list` for what changed since then; later passes start from the marker each
//! folder recorded (`folders.src_modseq`, the historyId the pass compared at).

use super::db::{Journal, Result};
use super::sql::{OptionalExtension, params};

impl Journal {
    /// The mailbox's history baseline, if one was recorded.
    pub fn gmail_history_start(&self, side: &str, account: &str) -> Result<Option<u64>> {
        self.with(|c| {
            c.query_row(
                "SELECT history_id FROM gmail_history WHERE side = ?1 AND account = ?2",
                params![side, account],
                |r| Ok(r.get::<_, i64>(0)? as u64),
            )
            .optional()
        })
    }

    /// Whether cutover read this account's messages before (its ids mapped to UIDs): a
    /// baseline taken now would miss what changed since, so none is recorded then.
    pub fn gmail_read_before(&self, side: &str, account: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM refs WHERE side = ?1 AND account = ?2",
                params![side, account],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n > 0)
    }

    /// Record the baseline unless one is there already (the first one stays: it is older
    /// than anything read since).
    pub fn set_gmail_history_start(&self, side: &str, account: &str, id: u64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO gmail_history (side, account, history_id) VALUES (?1, ?2, ?3)",
                params![side, account, id as i64],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    crate::journal::db::both_backends! {
        fn the_first_baseline_stays(s) {
            assert_eq!(s.gmail_history_start("source", "a@x").unwrap(), None);
            s.set_gmail_history_start("source", "a@x", 120).unwrap();
            s.set_gmail_history_start("source", "a@x", 300).unwrap();
            assert_eq!(s.gmail_history_start("source", "a@x").unwrap(), Some(120));
            assert_eq!(s.gmail_history_start("destination", "a@x").unwrap(), None);
            assert!(!s.gmail_read_before("source", "a@x").unwrap());
            s.ref_uids("source", "a@x", "INBOX", &["m1"]).unwrap();
            assert!(s.gmail_read_before("source", "a@x").unwrap());
            assert!(!s.gmail_read_before("destination", "a@x").unwrap());
        }
    }
}
