//! Sightings of messages in Gmail-shaped sources (labels as folders, every message again in
//! All Mail): which sighting owns the copy and which are duplicates.

use super::sql::params;

use super::db::{Journal, Result};

/// One sighting of a message in a Gmail source folder (see the `gmail_seen` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmailSeenRow {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub ident: String,
    pub own: bool,
    /// Extra keywords for an owned sighting, space-separated.
    pub keywords: String,
    pub reason: Option<String>,
}

impl Journal {
    /// Every sighting recorded for a Gmail-shaped source mailbox.
    pub fn gmail_seen(&self, mailbox_id: i64) -> Result<Vec<GmailSeenRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT folder, uidvalidity, uid, ident, own, keywords, reason FROM gmail_seen
                 WHERE mailbox_id = ?1 ORDER BY folder, uidvalidity, uid",
            )?;
            st.query_map([mailbox_id], |r| {
                Ok(GmailSeenRow {
                    folder: r.get(0)?,
                    uidvalidity: r.get(1)?,
                    uid: r.get(2)?,
                    ident: r.get(3)?,
                    own: r.get::<_, i64>(4)? != 0,
                    keywords: r.get(5)?,
                    reason: r.get(6)?,
                })
            })?
            .collect()
        })
    }

    /// Record new sightings (and their decisions) in one transaction; a sighting already
    /// recorded keeps its first decision.
    pub fn add_gmail_seen(&self, mailbox_id: i64, rows: &[GmailSeenRow]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO gmail_seen
                     (mailbox_id, folder, uidvalidity, uid, ident, own, keywords, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in rows {
                    st.execute(params![
                        mailbox_id,
                        r.folder,
                        r.uidvalidity,
                        r.uid,
                        r.ident,
                        r.own as i64,
                        r.keywords,
                        r.reason
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Owned sightings whose message the journal has not taken up yet (no row, or still
    /// pending): if such a message left its folder, another sighting must own it.
    pub fn gmail_owned_uncopied(&self, mailbox_id: i64) -> Result<Vec<GmailSeenRow>> {
        Ok(self
            .gmail_seen(mailbox_id)?
            .into_iter()
            .filter(|r| r.own)
            .filter(|r| !self.gmail_sighting_journalled(mailbox_id, r))
            .collect())
    }

    /// Whether the copy journal has the message of this sighting (copied, or anything but
    /// pending), e.g. because a delta pass moved its row there.
    pub fn gmail_sighting_journalled(&self, mailbox_id: i64, r: &GmailSeenRow) -> bool {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id
                 WHERE f.mailbox_id = ?1 AND f.src_name = ?2 AND m.src_uidvalidity = ?3
                   AND m.src_uid = ?4 AND m.state != 'pending'",
                params![mailbox_id, r.folder, r.uidvalidity, r.uid],
                |row| row.get::<_, i64>(0),
            )
        })
        .is_ok_and(|n| n > 0)
    }

    /// Move the ownership of a message from a sighting that left its folder before it was
    /// copied to another sighting of the same message (one transaction).
    pub fn gmail_reassign(
        &self,
        mailbox_id: i64,
        from: &GmailSeenRow,
        to: &GmailSeenRow,
        keywords: &str,
        reason: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE gmail_seen SET own = 0, keywords = '', reason = ?5
                 WHERE mailbox_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
                params![mailbox_id, from.folder, from.uidvalidity, from.uid, reason],
            )?;
            tx.execute(
                "UPDATE gmail_seen SET own = 1, keywords = ?5, reason = NULL
                 WHERE mailbox_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
                params![mailbox_id, to.folder, to.uidvalidity, to.uid, keywords],
            )?;
            // A pending journal row of the gone sighting is superseded by the heir's (it is
            // neither to copy nor "expunged on the source": its message is copied elsewhere).
            tx.execute(
                "UPDATE messages SET state = 'superseded'
                 WHERE state = 'pending' AND src_uidvalidity = ?3 AND src_uid = ?4
                   AND folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1 AND src_name = ?2)",
                params![mailbox_id, from.folder, from.uidvalidity, from.uid],
            )?;
            tx.commit()
        })
    }

    /// (distinct messages, duplicate sightings not copied) of a Gmail-shaped source mailbox.
    pub fn gmail_counts(&self, mailbox_id: i64) -> Result<(u64, u64)> {
        self.with(|c| {
            c.query_row(
                "SELECT count(DISTINCT ident), coalesce(sum(own = 0), 0) FROM gmail_seen
                 WHERE mailbox_id = ?1",
                [mailbox_id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }
}
