//! The message state machine: `pending`, `appending` (journalled before the APPEND is sent),
//! `copied` (after the server confirmed it), `skipped` or `failed`; `superseded` under a new
//! source UIDVALIDITY, `removing` during a rollback; `damaged` when verification found the
//! destination copy altered (the next run removes it and copies the message again).

use super::sql::params;

use super::db::{Journal, NOW, Result};

/// Message states in the journal.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const APPENDING: &str = "appending";
    pub const COPIED: &str = "copied";
    pub const SKIPPED: &str = "skipped";
    pub const FAILED: &str = "failed";
    /// A row of an older source UIDVALIDITY that was matched to a row of the new one; or an
    /// item's older version, replaced on the destination by a newer one from the source; or
    /// an item's newer version not written because a user changed the destination's since.
    pub const SUPERSEDED: &str = "superseded";
    /// Being removed from the destination by a rollback (journalled before the UID EXPUNGE).
    pub const REMOVING: &str = "removing";
    /// Verification found its destination copy altered (`cutover verify`): the next run
    /// removes that copy and copies the message again.
    pub const DAMAGED: &str = "damaged";
}

/// The reason journalled for a message that vanished from the source before it was copied
/// (not a loss: it is no longer on the source).
pub const EXPUNGED_REASON: &str = "expunged on the source before it could be copied";

#[derive(Debug, Clone)]
pub struct PendingRow {
    pub id: i64,
    pub src_uid: u32,
    pub size: u64,
}

/// A message whose APPEND outcome is unknown, or whose destination UID is not yet known.
#[derive(Debug, Clone)]
pub struct DoubtRow {
    pub id: i64,
    pub src_uid: u32,
    pub size: u64,
    pub fingerprint: String,
    pub dst_floor: u32,
    /// The server confirmed the APPEND (no UIDPLUS), as opposed to an unknown outcome.
    pub confirmed: bool,
    /// Seconds since the row was journalled as `appending`.
    pub age_secs: f64,
}

#[derive(Debug, Clone)]
pub struct CopiedRow {
    pub id: i64,
    pub src_uid: u32,
    pub fingerprint: String,
    pub size: u64,
    pub dst_uid: Option<u32>,
    pub dst_uidvalidity: Option<u32>,
}

/// Journalled just before an APPEND is sent.
#[derive(Debug, Clone)]
pub struct AppendIntent {
    pub id: i64,
    /// The size of the bytes actually read and sent, which replaces the listing's size (an
    /// estimate on some endpoints: Gmail's sizeEstimate, Graph's PR_MESSAGE_SIZE).
    pub size: u64,
    pub fingerprint: String,
    pub message_id: Option<String>,
    pub dst_uidvalidity: u32,
    pub dst_floor: u32,
    /// The flags sent with the message (`flags`: what cutover set, for delta passes).
    pub flags: Option<String>,
}

/// The columns `copied_row` reads, in its order.
const COPIED_COLUMNS: &str = "id, src_uid, fingerprint, size, dst_uid, dst_uidvalidity";

fn copied_row(r: &super::sql::Row) -> super::sql::Result<CopiedRow> {
    Ok(CopiedRow {
        id: r.get(0)?,
        src_uid: r.get(1)?,
        fingerprint: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        dst_uid: r.get(4)?,
        dst_uidvalidity: r.get(5)?,
    })
}

impl Journal {
    /// Messages cutover wrote to the destination in this folder and has not removed yet
    /// (`copied`, `removing` after an interrupted rollback, or `src_deleted`: deleted on the
    /// source since, left on the destination by a delta pass).
    pub fn written(&self, folder_id: i64) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COPIED_COLUMNS} FROM messages
                     WHERE folder_id = ?1 AND state IN ('copied', 'removing', 'src_deleted', 'damaged') ORDER BY id"
            ))?;
            st.query_map([folder_id], copied_row)?.collect()
        })
    }

    fn set_states(&self, ids: &[i64], sql: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(sql)?;
                for id in ids {
                    st.execute([id])?;
                }
            }
            tx.commit()
        })
    }

    /// Verification found the destination copy of a copied message altered: marked
    /// `damaged` with what differs, for the next run to copy it again. The message is named
    /// by its mailbox, source folder (wire name) and source UID, and the copy by its
    /// destination UID: only when that is the copy cutover recorded (the next run removes
    /// exactly that one), never another copy that verification happened to pair. False when
    /// no copied message matches (already marked, or not cutover's copy).
    pub fn mark_damaged(
        &self,
        mailbox: &str,
        src_folder: &str,
        src_uid: u32,
        dst_uid: u32,
        what: &str,
    ) -> Result<bool> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE messages SET state = 'damaged', reason = ?4, updated_at = {NOW}
                     WHERE state = 'copied' AND src_uid = ?3 AND dst_uid = ?5 AND folder_id IN
                       (SELECT f.id FROM folders f JOIN mailboxes m ON m.id = f.mailbox_id
                         WHERE m.key = ?1 AND f.src_name = ?2)"
                ),
                params![mailbox, src_folder, src_uid, what, dst_uid],
            )
            .map(|n| n > 0)
        })
    }

    /// Where cutover copied each message of a mailbox's source folder (state `copied`):
    /// source UID -> (destination UID, destination UIDVALIDITY), for verification to tell a
    /// copy whose bytes changed from a missing one.
    pub fn copied_to(
        &self,
        mailbox: &str,
        src_folder: &str,
    ) -> Result<std::collections::HashMap<u32, (u32, u32)>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT m.src_uid, m.dst_uid, m.dst_uidvalidity FROM messages m
                   JOIN folders f ON f.id = m.folder_id JOIN mailboxes b ON b.id = f.mailbox_id
                  WHERE b.key = ?1 AND f.src_name = ?2 AND m.state = 'copied'
                    AND m.dst_uid IS NOT NULL AND m.dst_uidvalidity IS NOT NULL",
            )?;
            st.query_map(params![mailbox, src_folder], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
            })?
            .collect()
        })
    }

    /// The folder's messages verification found damaged on the destination.
    pub fn damaged(&self, folder_id: i64) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COPIED_COLUMNS} FROM messages WHERE folder_id = ?1 AND state = 'damaged' ORDER BY id"
            ))?;
            st.query_map([folder_id], copied_row)?.collect()
        })
    }

    /// Damaged copies removed from the destination (or confirmed absent): pending again, to
    /// be copied afresh, the reason saying why.
    pub fn mark_recopy(&self, ids: &[i64]) -> Result<()> {
        self.set_states(
            ids,
            &format!(
                "UPDATE messages SET state = 'pending', dst_uid = NULL, dst_uidvalidity = NULL, dst_floor = NULL, reason = 're-copied: verification found the destination copy altered', updated_at = {NOW} WHERE id = ?1 AND state = 'damaged'"
            ),
        )
    }

    /// Rollback, step 1: these messages are about to be removed from the destination.
    pub fn mark_removing(&self, ids: &[i64]) -> Result<()> {
        self.set_states(
            ids,
            &format!("UPDATE messages SET state = 'removing', updated_at = {NOW} WHERE id = ?1"),
        )
    }

    /// Rollback, step 2: removed (or confirmed absent). They are pending again, so that a
    /// later run migrates them afresh.
    pub fn mark_removed(&self, ids: &[i64]) -> Result<()> {
        self.set_states(
            ids,
            &format!(
                "UPDATE messages SET state = 'pending', dst_uid = NULL, dst_uidvalidity = NULL, dst_floor = NULL, reason = 'rolled back', updated_at = {NOW} WHERE id = ?1"
            ),
        )
    }

    /// Record newly enumerated source messages as pending and advance the high-water mark,
    /// in one transaction.
    pub fn add_pending(
        &self,
        folder_id: i64,
        validity: u32,
        msgs: &[(u32, u64)],
        high: u32,
        uidnext: u32,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO messages(folder_id, src_uidvalidity, src_uid, size, state)
                     VALUES (?1, ?2, ?3, ?4, 'pending')",
                )?;
                for (uid, size) in msgs {
                    st.execute(params![folder_id, validity, uid, *size as i64])?;
                }
            }
            tx.execute(
                "UPDATE folders SET src_high = max(src_high, ?2), src_uidnext = ?3 WHERE id = ?1",
                params![folder_id, high, uidnext],
            )?;
            tx.commit()
        })
    }

    pub fn pending(&self, folder_id: i64, validity: u32) -> Result<Vec<PendingRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, src_uid, size FROM messages
                 WHERE folder_id = ?1 AND src_uidvalidity = ?2 AND state = 'pending' ORDER BY src_uid",
            )?;
            st.query_map(params![folder_id, validity], |r| {
                Ok(PendingRow {
                    id: r.get(0)?,
                    src_uid: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }

    /// Messages whose APPEND may or may not have happened (`appending`), or that were appended
    /// without learning their destination UID (`copied`, no UIDPLUS).
    pub fn in_doubt(&self, folder_id: i64) -> Result<Vec<DoubtRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, src_uid, size, fingerprint, coalesce(dst_floor, 1), state = 'copied',
                        coalesce((julianday('now') - julianday(updated_at)) * 86400.0, 1e9) FROM messages
                 WHERE folder_id = ?1 AND (state = 'appending' OR (state = 'copied' AND dst_uid IS NULL))
                 ORDER BY id",
            )?;
            st.query_map([folder_id], |r| {
                Ok(DoubtRow {
                    id: r.get(0)?,
                    src_uid: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    fingerprint: r.get(3)?,
                    dst_floor: r.get(4)?,
                    confirmed: r.get(5)?,
                    age_secs: r.get(6)?,
                })
            })?
            .collect()
        })
    }

    pub fn copied(&self, folder_id: i64) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COPIED_COLUMNS} FROM messages
                     WHERE folder_id = ?1 AND state = 'copied' ORDER BY id"
            ))?;
            st.query_map([folder_id], copied_row)?.collect()
        })
    }

    /// Copied rows of an older source UIDVALIDITY: candidates for fingerprint matching.
    pub fn copied_other_validity(&self, folder_id: i64, validity: u32) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                &format!(
                    "SELECT {COPIED_COLUMNS} FROM messages
                     WHERE folder_id = ?1 AND state = 'copied' AND src_uidvalidity != ?2 ORDER BY id"
                ),
            )?;
            st.query_map(params![folder_id, validity], copied_row)?
            .collect()
        })
    }

    /// A source message under a new UIDVALIDITY is the same message as an old row: move the
    /// old row's outcome to the new key.
    pub fn carry_over(&self, old_id: i64, new_validity: u32, new_uid: u32) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO messages(folder_id, src_uidvalidity, src_uid, size, state, fingerprint, message_id,
                                      dst_uidvalidity, dst_uid, dst_floor)
                 SELECT folder_id, ?2, ?3, size, state, fingerprint, message_id, dst_uidvalidity, dst_uid, dst_floor
                 FROM messages WHERE id = ?1
                 ON CONFLICT(folder_id, src_uidvalidity, src_uid) DO UPDATE SET
                   state = excluded.state, fingerprint = excluded.fingerprint, message_id = excluded.message_id,
                   dst_uidvalidity = excluded.dst_uidvalidity, dst_uid = excluded.dst_uid",
                params![old_id, new_validity, new_uid],
            )?;
            tx.execute(
                "UPDATE messages SET state = 'superseded' WHERE id = ?1",
                [old_id],
            )?;
            tx.commit()
        })
    }

    /// Journal the intent to append, for a whole window, in one transaction.
    pub fn mark_appending(&self, intents: &[AppendIntent]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'appending', fingerprint = ?2, message_id = ?3,
                       dst_uidvalidity = ?4, dst_floor = ?5, size = ?6, attempts = attempts + 1,
                       flags = ?7, updated_at = {NOW}
                     WHERE id = ?1"
                ))?;
                for i in intents {
                    st.execute(params![
                        i.id,
                        i.fingerprint,
                        i.message_id,
                        i.dst_uidvalidity,
                        i.dst_floor,
                        i.size as i64,
                        i.flags
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Journal confirmed appends (destination UID when the server told it). Returns how many
    /// older versions of items these replaced on the destination (items changed on the source).
    pub fn mark_copied(&self, done: &[(i64, Option<u32>)], dst_uidvalidity: u32) -> Result<u64> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut replaced = 0u64;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'copied', dst_uid = ?2, dst_uidvalidity = ?3, reason = NULL,
                       updated_at = {NOW} WHERE id = ?1"
                ))?;
                // An item copied again after it changed on the source replaces, on the
                // destination, the version an older row recorded there: that row is
                // superseded (counted no more, rolled back no more). Also a row reported
                // deleted on the source (its href gone, the same UID back under another):
                // a later `propagate` must not remove the newer version it now points at.
                let mut older = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'superseded', updated_at = {NOW},
                       reason = 'replaced on the destination by a newer version from the source'
                     WHERE folder_id = (SELECT folder_id FROM messages WHERE id = ?1) AND id != ?1
                       AND state IN ('copied', 'src_deleted') AND dst_uidvalidity = ?3 AND dst_uid = ?2"
                ))?;
                for (id, uid) in done {
                    st.execute(params![id, uid, dst_uidvalidity])?;
                    if uid.is_some() {
                        replaced += older.execute(params![id, uid, dst_uidvalidity])? as u64;
                    }
                }
            }
            tx.commit()?;
            Ok(replaced)
        })
    }

    pub fn set_pending(&self, ids: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'pending', dst_uid = NULL, updated_at = {NOW} WHERE id = ?1"
                ))?;
                for id in ids {
                    st.execute([id])?;
                }
            }
            tx.commit()
        })
    }

    /// A message that will not be copied (oversize, refused): never silently.
    pub fn mark_skipped(&self, id: i64, state: &str, reason: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE messages SET state = ?2, reason = ?3, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, state, reason],
            )
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::journal::db::both_backends! {
    fn lifecycle_of_a_message(s) {
        let mb = s.upsert_mailbox("a->b", "pilot", "a", "b").unwrap();
        let f = s.folder(mb, "INBOX", "INBOX").unwrap();
        s.add_pending(f.id, 7, &[(1, 100), (2, 200)], 2, 3).unwrap();
        let f = s.folder(mb, "INBOX", "INBOX").unwrap();
        assert_eq!(f.src_high, 2);
        let p = s.pending(f.id, 7).unwrap();
        assert_eq!(p.len(), 2);
        s.mark_appending(&[AppendIntent {
            id: p[0].id,
            size: 100,
            fingerprint: "ff".into(),
            message_id: None,
            dst_uidvalidity: 9,
            dst_floor: 1,
            flags: None,
        }])
        .unwrap();
        assert_eq!(s.in_doubt(f.id).unwrap().len(), 1);
        s.mark_copied(&[(p[0].id, Some(5))], 9).unwrap();
        assert!(s.in_doubt(f.id).unwrap().is_empty());
        let t = s.folder_totals(f.id).unwrap();
        assert_eq!((t.messages, t.copied, t.pending, t.bytes), (2, 1, 1, 300));
        // re-adding the same UIDs is a no-op
        s.add_pending(f.id, 7, &[(1, 100)], 1, 3).unwrap();
        assert_eq!(s.folder_totals(f.id).unwrap().messages, 2);
        }
    }
}
