//! Delta passes (`cutover sync`): what cutover last set of each message's flags, the source
//! folder's HIGHESTMODSEQ, moves between folders (journalled before the destination is
//! touched, finished or undone after), deletions on the source (reported, or removed from
//! the destination), every change cutover made, and one row per pass.
//!
//! Message states added here: `moving` (a move on the destination is under way: `move_*`
//! name where to, `dst_floor` the target folder's UIDNEXT before it), `src_deleted` (gone
//! from the source, left on the destination: reported), `deleting` (gone from the source,
//! being removed from the destination) and `deleted` (removed).

use super::sql::params;

use super::db::{Journal, NOW, Result};

/// A message cutover copied, as a delta pass compares it.
#[derive(Debug, Clone)]
pub struct DeltaRow {
    pub id: i64,
    pub folder_id: i64,
    pub src_uid: u32,
    pub size: u64,
    pub fingerprint: String,
    pub dst_uid: Option<u32>,
    pub dst_uidvalidity: Option<u32>,
    /// The flags cutover last set on the destination (None: not known, copied before delta
    /// passes existed or not compared yet).
    pub flags: Option<String>,
    /// While `moving`: the folder row, UID and UIDVALIDITY of the message in the source
    /// folder it moved to, and the target destination folder's UIDNEXT before the move.
    pub move_to: Option<(i64, u32, u32, u32)>,
}

const DELTA_COLUMNS: &str = "id, folder_id, src_uid, size, coalesce(fingerprint, ''), dst_uid,
    dst_uidvalidity, flags, move_folder, move_uid, move_validity, coalesce(dst_floor, 1)";

fn delta_row(r: &super::sql::Row) -> super::sql::Result<DeltaRow> {
    let folder: Option<i64> = r.get(8)?;
    let move_to = match folder {
        Some(f) => Some((
            f,
            r.get::<_, Option<u32>>(9)?.unwrap_or(0),
            r.get::<_, Option<u32>>(10)?.unwrap_or(0),
            r.get(11)?,
        )),
        None => None,
    };
    Ok(DeltaRow {
        id: r.get(0)?,
        folder_id: r.get(1)?,
        src_uid: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        fingerprint: r.get(4)?,
        dst_uid: r.get(5)?,
        dst_uidvalidity: r.get(6)?,
        flags: r.get(7)?,
        move_to,
    })
}

/// A change cutover made on the destination (or a deletion it reported), for `sync_changes`.
#[derive(Debug, Clone, Default)]
pub struct SyncChange {
    pub mailbox: String,
    /// `move`, `removed` (deleted on the source and removed from the destination) or
    /// `reported` (deleted on the source, left on the destination).
    pub kind: &'static str,
    pub folder: String,
    pub to_folder: Option<String>,
    pub dst_uid: Option<u32>,
    pub to_dst_uid: Option<u32>,
    pub fingerprint: String,
}

/// The counts of one delta pass (the contract's type).
pub use crate::api::PassCounts;

/// A change recorded in `sync_changes`: the source folder (and the one a message moved to),
/// the destination UID before and after.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub folder: String,
    pub to_folder: Option<String>,
    pub dst_uid: Option<u32>,
    pub to_dst_uid: Option<u32>,
}

/// One recorded delta pass.
#[derive(Debug, Clone)]
pub struct SyncPassRow {
    pub id: i64,
    pub batches: String,
    pub started_at: String,
    pub duration_ms: Option<i64>,
    pub counts: PassCounts,
    pub outcome: String,
}

fn pass_row(r: &super::sql::Row) -> super::sql::Result<SyncPassRow> {
    let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
    Ok(SyncPassRow {
        id: r.get(0)?,
        batches: r.get(1)?,
        started_at: r.get(2)?,
        duration_ms: r.get(3)?,
        counts: PassCounts {
            new_messages: n(4)?,
            flag_changes: n(5)?,
            moves: n(6)?,
            deletions: n(7)?,
            removed: n(8)?,
            changed: n(10)?,
        },
        outcome: r.get(9)?,
    })
}

fn record(tx: &super::conn::Conn, c: &SyncChange) -> super::sql::Result<()> {
    tx.execute(
        "INSERT INTO sync_changes(mailbox, kind, folder, to_folder, dst_uid, to_dst_uid, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            c.mailbox,
            c.kind,
            c.folder,
            c.to_folder,
            c.dst_uid,
            c.to_dst_uid,
            c.fingerprint
        ],
    )
    .map(drop)
}

impl Journal {
    /// Rows of a folder in one of `states` (under source UIDVALIDITY `validity` when given).
    pub fn delta_rows(
        &self,
        folder_id: i64,
        validity: Option<u32>,
        states: &[&str],
    ) -> Result<Vec<DeltaRow>> {
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {DELTA_COLUMNS} FROM messages
                 WHERE folder_id = ?1 AND src_uidvalidity = coalesce(?2, src_uidvalidity) AND state IN ({list})
                 ORDER BY src_uid"
            ))?;
            st.query_map(params![folder_id, validity], delta_row)?
                .collect()
        })
    }

    /// Rows of a mailbox left `moving` or `deleting` by an interrupted pass.
    pub fn unfinished_delta(&self, mailbox_id: i64) -> Result<Vec<DeltaRow>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {DELTA_COLUMNS} FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state IN ('moving', 'deleting') ORDER BY id"
            ))?;
            st.query_map([mailbox_id], delta_row)?.collect()
        })
    }

    /// A folder's state (`folder_state`), None for no such row.
    pub fn folder_state_of(&self, folder_id: i64) -> Result<Option<String>> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT state FROM folders WHERE id = ?1")?;
            let mut rows = st.query_map([folder_id], |r| r.get(0))?;
            rows.next().transpose()
        })
    }

    pub fn src_modseq(&self, folder_id: i64) -> Result<Option<u64>> {
        self.with(|c| {
            c.query_row(
                "SELECT src_modseq FROM folders WHERE id = ?1",
                [folder_id],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(|v| v as u64))
        })
    }

    pub fn set_src_modseq(&self, folder_id: i64, modseq: Option<u64>) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET src_modseq = ?2 WHERE id = ?1",
                params![folder_id, modseq.map(|m| m as i64)],
            )
            .map(drop)
        })
    }

    /// What cutover set (or found) on the destination for these messages' flags.
    pub fn set_flags(&self, rows: &[(i64, String)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached("UPDATE messages SET flags = ?2 WHERE id = ?1")?;
                for (id, f) in rows {
                    st.execute(params![id, f])?;
                }
            }
            tx.commit()
        })
    }

    /// Before a move on the destination: each row (id, target folder row, its UID and
    /// UIDVALIDITY there) is `moving`, with the target destination folder's UIDNEXT.
    pub fn mark_moving(&self, moves: &[(i64, i64, u32, u32)], floor: u32) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'moving', move_folder = ?2, move_uid = ?3,
                       move_validity = ?4, dst_floor = ?5, updated_at = {NOW} WHERE id = ?1"
                ))?;
                for (id, f, uid, v) in moves {
                    st.execute(params![id, f, uid, v, floor])?;
                }
            }
            tx.commit()
        })
    }

    /// The move happened: the row now belongs to the target folder, under the message's
    /// UID there and its new destination UID (a pending row the copy planned for the same
    /// source message is dropped: it is this one).
    pub fn finish_move(
        &self,
        id: i64,
        dst_uid: u32,
        dst_uidvalidity: u32,
        change: &SyncChange,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM messages WHERE state = 'pending' AND id != ?1 AND
                   (folder_id, src_uidvalidity, src_uid) =
                   (SELECT move_folder, move_validity, move_uid FROM messages WHERE id = ?1)",
                [id],
            )?;
            tx.execute(
                &format!(
                    "UPDATE messages SET folder_id = move_folder, src_uid = move_uid,
                       src_uidvalidity = move_validity, dst_uid = ?2, dst_uidvalidity = ?3,
                       state = 'copied', dst_floor = NULL, move_folder = NULL, move_uid = NULL,
                       move_validity = NULL, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, dst_uid, dst_uidvalidity],
            )?;
            record(&tx, change)?;
            tx.commit()
        })
    }

    /// The move did not happen (the message is still in its old destination folder).
    pub fn undo_move(&self, id: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE messages SET state = 'copied', dst_floor = NULL, move_folder = NULL,
                       move_uid = NULL, move_validity = NULL, updated_at = {NOW} WHERE id = ?1"
                ),
                [id],
            )
            .map(drop)
        })
    }

    /// The message is in neither destination folder after an interrupted move: it is copied
    /// again from its new source folder (pending there).
    pub fn move_lost(&self, id: i64) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM messages WHERE state = 'pending' AND id != ?1 AND
                   (folder_id, src_uidvalidity, src_uid) =
                   (SELECT move_folder, move_validity, move_uid FROM messages WHERE id = ?1)",
                [id],
            )?;
            tx.execute(
                &format!(
                    "UPDATE messages SET folder_id = move_folder, src_uid = move_uid,
                       src_uidvalidity = move_validity, dst_uid = NULL, dst_uidvalidity = NULL,
                       state = 'pending', dst_floor = NULL, move_folder = NULL, move_uid = NULL,
                       move_validity = NULL, reason = 'lost during an interrupted move: copied again',
                       updated_at = {NOW} WHERE id = ?1"
                ),
                [id],
            )?;
            tx.commit()
        })
    }

    /// Deleted on the source: `src_deleted` (reported, left on the destination), `deleting`
    /// (about to be removed from it) or `deleted` (removed), each change recorded.
    pub fn mark_source_deleted(&self, rows: &[(i64, SyncChange)], state: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = ?2, updated_at = {NOW},
                       reason = 'deleted on the source' WHERE id = ?1"
                ))?;
                for (id, change) in rows {
                    st.execute(params![id, state])?;
                    if !change.kind.is_empty() {
                        record(&tx, change)?;
                    }
                }
            }
            tx.commit()
        })
    }

    /// Start a delta pass: its id.
    pub fn begin_sync_pass(&self, batches: &str) -> Result<i64> {
        self.with(|c| {
            c.execute("INSERT INTO sync_passes(batches) VALUES (?1)", [batches])?;
            c.last_insert_rowid()
        })
    }

    pub fn end_sync_pass(
        &self,
        id: i64,
        duration_ms: u64,
        counts: PassCounts,
        outcome: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE sync_passes SET finished_at = {NOW}, duration_ms = ?2, new_messages = ?3,
                       flag_changes = ?4, moves = ?5, deletions = ?6, removed = ?7, outcome = ?8
                     WHERE id = ?1"
                ),
                params![
                    id,
                    duration_ms as i64,
                    counts.new_messages as i64,
                    counts.flag_changes as i64,
                    counts.moves as i64,
                    counts.deletions as i64,
                    counts.removed as i64,
                    outcome
                ],
            )?;
            if counts.changed > 0 {
                c.execute(
                    "INSERT INTO sync_pass_items(pass_id, changed) VALUES (?1, ?2)",
                    params![id, counts.changed as i64],
                )?;
            }
            Ok(())
        })
    }

    /// The last `limit` delta passes, newest first.
    pub fn sync_passes(&self, limit: usize) -> Result<Vec<SyncPassRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, batches, started_at, duration_ms, new_messages, flag_changes, moves,
                        deletions, removed, outcome,
                        coalesce((SELECT i.changed FROM sync_pass_items i
                                  WHERE i.pass_id = sync_passes.id), 0)
                 FROM sync_passes ORDER BY id DESC LIMIT ?1",
            )?;
            st.query_map([limit as i64], pass_row)?.collect()
        })
    }

    /// The last `limit` delta passes that covered `batch` (alone, among others, or all
    /// batches), newest first.
    pub fn sync_passes_of(&self, batch: &str, limit: usize) -> Result<Vec<SyncPassRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, batches, started_at, duration_ms, new_messages, flag_changes, moves,
                        deletions, removed, outcome,
                        coalesce((SELECT i.changed FROM sync_pass_items i
                                  WHERE i.pass_id = sync_passes.id), 0)
                 FROM sync_passes
                 WHERE batches = 'all' OR instr(',' || batches || ',', ',' || ?1 || ',') > 0
                 ORDER BY id DESC LIMIT ?2",
            )?;
            st.query_map(params![batch, limit as i64], pass_row)?
                .collect()
        })
    }

    /// Changes of a mailbox of one kind (`move`, `removed`, `reported`), oldest first.
    pub fn sync_changes(&self, mailbox: &str, kind: &str) -> Result<Vec<ChangeRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT folder, to_folder, dst_uid, to_dst_uid FROM sync_changes
                 WHERE mailbox = ?1 AND kind = ?2 ORDER BY id",
            )?;
            st.query_map(params![mailbox, kind], |r| {
                Ok(ChangeRow {
                    folder: r.get(0)?,
                    to_folder: r.get(1)?,
                    dst_uid: r.get(2)?,
                    to_dst_uid: r.get(3)?,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::journal::db::both_backends! {
    fn a_move_carries_the_row_and_drops_the_pending_twin(s) {
        let mb = s.upsert_mailbox("a->b", "pilot", "a", "b").unwrap();
        let a = s.folder(mb, "INBOX", "INBOX").unwrap();
        let b = s.folder(mb, "Work", "Work").unwrap();
        s.add_pending(a.id, 7, &[(1, 100)], 1, 2).unwrap();
        let p = s.pending(a.id, 7).unwrap();
        s.mark_copied(&[(p[0].id, Some(5))], 9).unwrap();
        // The copy had already planned the moved message in Work.
        s.add_pending(b.id, 8, &[(3, 100)], 3, 4).unwrap();
        s.mark_moving(&[(p[0].id, b.id, 3, 8)], 11).unwrap();
        let u = s.unfinished_delta(mb).unwrap();
        assert_eq!(u[0].move_to, Some((b.id, 3, 8, 11)));
        let t = s.mailbox_totals(mb).unwrap();
        assert_eq!((t.messages, t.copied, t.pending), (2, 1, 1));
        let change = SyncChange {
            mailbox: "a->b".into(),
            kind: "move",
            folder: "INBOX".into(),
            ..Default::default()
        };
        s.finish_move(p[0].id, 12, 9, &change).unwrap();
        assert!(s.unfinished_delta(mb).unwrap().is_empty());
        let rows = s.delta_rows(b.id, Some(8), &["copied"]).unwrap();
        assert_eq!((rows[0].src_uid, rows[0].dst_uid), (3, Some(12)));
        let t = s.mailbox_totals(mb).unwrap();
        assert_eq!((t.messages, t.copied, t.pending), (1, 1, 0));
        assert_eq!(s.sync_changes("a->b", "move").unwrap().len(), 1);
        // Deleted on the source and reported: out of the totals, still recorded.
        s.mark_source_deleted(
            &[(
                p[0].id,
                SyncChange {
                    kind: "reported",
                    ..change
                },
            )],
            "src_deleted",
        )
        .unwrap();
        assert_eq!(s.mailbox_totals(mb).unwrap().messages, 0);
        assert_eq!(s.delta_rows(b.id, None, &["src_deleted"]).unwrap().len(), 1);
        }
    }

    crate::journal::db::both_backends! {
    fn an_item_written_again_supersedes_its_older_row_and_the_pass_counts_it(s) {
        let mb = s.upsert_mailbox("a->b", "pilot", "a", "b").unwrap();
        let f = s.folder(mb, "calendar:work", "calendar:work").unwrap();
        // Version 1 (source UID 1) copied to destination UID 5; version 2 (source UID 2)
        // written again at the same place.
        s.add_pending(f.id, 7, &[(1, 100), (2, 110)], 2, 3).unwrap();
        let p = s.pending(f.id, 7).unwrap();
        assert_eq!(s.mark_copied(&[(p[0].id, Some(5))], 9).unwrap(), 0);
        assert_eq!(s.mark_copied(&[(p[1].id, Some(5))], 9).unwrap(), 1);
        let t = s.mailbox_totals(mb).unwrap();
        assert_eq!((t.messages, t.copied), (1, 1));
        // Version 2 reported deleted (its place gone on the source), then the same UID back
        // elsewhere and written again at destination UID 5: the reported row is superseded,
        // so that a later `propagate` does not remove what it now points at.
        s.mark_source_deleted(&[(p[1].id, SyncChange::default())], "src_deleted")
            .unwrap();
        s.add_pending(f.id, 7, &[(3, 120)], 3, 4).unwrap();
        let p3 = s.pending(f.id, 7).unwrap();
        assert_eq!(s.mark_copied(&[(p3[0].id, Some(5))], 9).unwrap(), 1);
        assert!(s.delta_rows(f.id, None, &["src_deleted"]).unwrap().is_empty());
        let id = s.begin_sync_pass("pilot").unwrap();
        let c = PassCounts {
            new_messages: 2,
            changed: 5,
            deletions: 3,
            ..Default::default()
        };
        s.end_sync_pass(id, 1200, c, "exit 0").unwrap();
        assert_eq!(s.sync_passes(1).unwrap()[0].counts, c);
        assert_eq!(s.sync_passes_of("pilot", 1).unwrap()[0].counts.changed, 5);
        assert_eq!(c.new_and_changed(), "2 new, 5 changed");
        assert_eq!(PassCounts::default().new_and_changed(), "0 new");
        }
    }
}
