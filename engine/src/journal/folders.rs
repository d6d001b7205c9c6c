//! The folders of each mailbox: source and destination names, UIDVALIDITYs, high-water marks,
//! the destination window cutover wrote in, and what became of the folder (`folder_state`).

use super::sql::params;

use super::db::{Journal, Result};

/// What became of a folder (the `folders.state` column); see [`Journal::set_folder_state`].
pub mod folder_state {
    /// Listed and planned, never opened on the source yet.
    pub const NEW: &str = "new";
    /// Opened on the source; its messages are not all in the journal yet.
    pub const OPEN: &str = "open";
    /// Every message of the folder is in the journal (copied, pending, skipped...): the
    /// totals account for all of it.
    pub const LISTED: &str = "listed";
    pub const GONE: &str = "gone";
    pub const REFUSED: &str = "refused";
}

#[derive(Debug, Clone, Default)]
pub struct FolderRow {
    pub id: i64,
    pub mailbox_id: i64,
    pub src_name: String,
    pub dst_name: String,
    pub src_uidvalidity: Option<u32>,
    pub src_uidnext: Option<u32>,
    /// Highest source UID enumerated into the journal (under `src_uidvalidity`).
    pub src_high: u32,
    pub dst_uidvalidity: Option<u32>,
}

/// The columns `folder_row` reads, in its order.
const FOLDER_COLUMNS: &str =
    "id, mailbox_id, src_name, dst_name, src_uidvalidity, src_uidnext, src_high, dst_uidvalidity";

fn folder_row(r: &super::sql::Row) -> super::sql::Result<FolderRow> {
    Ok(FolderRow {
        id: r.get(0)?,
        mailbox_id: r.get(1)?,
        src_name: r.get(2)?,
        dst_name: r.get(3)?,
        src_uidvalidity: r.get(4)?,
        src_uidnext: r.get(5)?,
        src_high: r.get(6)?,
        dst_uidvalidity: r.get(7)?,
    })
}

impl Journal {
    /// The folder row for a source folder, created on first sight with its destination name.
    pub fn folder(&self, mailbox_id: i64, src_name: &str, dst_name: &str) -> Result<FolderRow> {
        self.with(|c| {
            c.execute(
                "INSERT INTO folders(mailbox_id, src_name, dst_name) VALUES (?1, ?2, ?3)
                 ON CONFLICT(mailbox_id, src_name) DO UPDATE SET dst_name = excluded.dst_name",
                params![mailbox_id, src_name, dst_name],
            )?;
            c.query_row(
                &format!(
                    "SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = ?1 AND src_name = ?2"
                ),
                params![mailbox_id, src_name],
                folder_row,
            )
        })
    }

    pub fn folders_of(&self, mailbox_id: i64) -> Result<Vec<FolderRow>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = ?1 ORDER BY id"
            ))?;
            st.query_map([mailbox_id], folder_row)?.collect()
        })
    }

    /// A source folder renamed (the same folder under a new name): the row takes the new
    /// source and destination names, its destination's old name kept in `renamed_from`
    /// until [`Journal::end_folder_rename`] (the RENAME on the destination done).
    pub fn begin_folder_rename(
        &self,
        folder_id: i64,
        src_name: &str,
        dst_name: &str,
        old_dst: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET src_name = ?2, dst_name = ?3, renamed_from = ?4 WHERE id = ?1",
                params![folder_id, src_name, dst_name, old_dst],
            )
            .map(drop)
        })
    }

    pub fn end_folder_rename(&self, folder_id: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET renamed_from = NULL WHERE id = ?1",
                [folder_id],
            )
            .map(drop)
        })
    }

    /// Undo [`Journal::begin_folder_rename`] (the destination refused the RENAME).
    pub fn undo_folder_rename(&self, folder_id: i64, src_name: &str, dst_name: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET src_name = ?2, dst_name = ?3, renamed_from = NULL WHERE id = ?1",
                params![folder_id, src_name, dst_name],
            )
            .map(drop)
        })
    }

    /// Folders of a mailbox whose destination RENAME was under way: (row, old destination
    /// name).
    pub fn folder_renames_under_way(&self, mailbox_id: i64) -> Result<Vec<(FolderRow, String)>> {
        let rows = self.folders_of(mailbox_id)?;
        let pending: Vec<(i64, String)> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, renamed_from FROM folders WHERE mailbox_id = ?1 AND renamed_from IS NOT NULL",
            )?;
            st.query_map([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let old = pending.iter().find(|p| p.0 == r.id)?.1.clone();
                Some((r, old))
            })
            .collect())
    }

    /// Every source UID the journal has for a folder under `validity` (any state), with its
    /// size.
    pub fn folder_src_sizes(
        &self,
        folder_id: i64,
        validity: u32,
    ) -> Result<std::collections::HashMap<u32, u64>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT src_uid, size FROM messages WHERE folder_id = ?1 AND src_uidvalidity = ?2",
            )?;
            st.query_map(params![folder_id, validity], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Whether cutover created this destination folder.
    pub fn folder_created(&self, folder_id: i64) -> Result<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT dst_created FROM folders WHERE id = ?1",
                [folder_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v != 0)
        })
    }

    /// Rollback of a folder finished; `deleted` when cutover also deleted the (empty) folder
    /// it had created, so that a new run creates it again and reads its new UIDVALIDITY.
    pub fn folder_rolled_back(&self, folder_id: i64, deleted: bool) -> Result<()> {
        self.with(|c| {
            if deleted {
                c.execute(
                    "UPDATE folders SET dst_created = 0, dst_uidvalidity = NULL, dst_start_uidnext = NULL WHERE id = ?1",
                    [folder_id],
                )?;
            }
            Ok(())
        })
    }

    pub fn mark_folder_created(&self, folder_id: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_created = 1 WHERE id = ?1",
                [folder_id],
            )
            .map(drop)
        })
    }

    /// Start tracking a new source UIDVALIDITY: the high-water mark restarts at 0 (the rows
    /// of the old UIDVALIDITY stay, to be matched by fingerprint).
    pub fn set_src_uidvalidity(&self, folder_id: i64, validity: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET src_uidvalidity = ?2, src_high = 0, src_uidnext = NULL WHERE id = ?1",
                params![folder_id, validity],
            )
            .map(drop)
        })
    }

    /// Remember the destination folder's UIDNEXT when cutover first opened it (kept once set).
    pub fn set_dst_start(&self, folder_id: i64, uidnext: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_start_uidnext = ?2 WHERE id = ?1 AND dst_start_uidnext IS NULL",
                params![folder_id, uidnext],
            )
            .map(drop)
        })
    }

    /// The destination folder's (EXISTS, UIDNEXT) at cutover's last check.
    pub fn dst_seen(&self, folder_id: i64) -> Result<Option<(u32, u32)>> {
        self.with(|c| {
            c.query_row(
                "SELECT dst_seen_exists, dst_seen_uidnext FROM folders WHERE id = ?1",
                [folder_id],
                |r| {
                    Ok(
                        match (r.get::<_, Option<u32>>(0)?, r.get::<_, Option<u32>>(1)?) {
                            (Some(e), Some(u)) => Some((e, u)),
                            _ => None,
                        },
                    )
                },
            )
        })
    }

    pub fn set_dst_seen(&self, folder_id: i64, exists: u32, uidnext: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_seen_exists = ?2, dst_seen_uidnext = ?3 WHERE id = ?1",
                params![folder_id, exists, uidnext],
            )
            .map(drop)
        })
    }

    /// The destination folder was renumbered (new UIDVALIDITY): restart its window here.
    pub fn reset_dst_start(&self, folder_id: i64, uidnext: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_start_uidnext = ?2 WHERE id = ?1",
                params![folder_id, uidnext],
            )
            .map(drop)
        })
    }

    /// For fail-back: the destination folder's UIDNEXT when the migration first opened it
    /// (or, for journals older than that column, the lowest UID floor recorded), its
    /// UIDVALIDITY, and the destination UIDs cutover wrote there.
    pub fn written_window(
        &self,
        folder_id: i64,
    ) -> Result<(Option<u32>, Option<u32>, std::collections::HashSet<u32>)> {
        self.with(|c| {
            let (start, validity): (Option<u32>, Option<u32>) = c.query_row(
                "SELECT coalesce(dst_start_uidnext, (SELECT min(dst_floor) FROM messages WHERE folder_id = ?1)), dst_uidvalidity FROM folders WHERE id = ?1",
                [folder_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut st = c.prepare_cached(
                "SELECT dst_uid FROM messages WHERE folder_id = ?1 AND state IN ('copied', 'removing', 'appending',
                 'moving', 'src_deleted', 'deleting') AND dst_uid IS NOT NULL AND dst_uidvalidity IS ?2",
            )?;
            let uids = st
                .query_map(params![folder_id, validity], |r| r.get::<_, u32>(0))?
                .collect::<super::sql::Result<_>>()?;
            Ok((start, validity, uids))
        })
    }

    pub fn set_dst_uidvalidity(&self, folder_id: i64, validity: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_uidvalidity = ?2 WHERE id = ?1",
                params![folder_id, validity],
            )
            .map(drop)
        })
    }

    /// Record what became of a folder this run: `folder_state::OPEN` once the source
    /// opened it, `LISTED` once all its messages are in the journal, `GONE` when the source
    /// no longer lists it, `REFUSED` when it could not be copied (CREATE on the destination
    /// or EXAMINE on the source refused, or a permanent error).
    pub fn set_folder_state(&self, folder_id: i64, state: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET state = ?2 WHERE id = ?1",
                params![folder_id, state],
            )
            .map(drop)
        })
    }

    /// Source folders of a mailbox that were listed but not copied: refused, opened but not
    /// enumerated, or never opened (a run stopped or failed before them). Their messages are
    /// not all counted anywhere else, so no total can say "all copied" while one is here.
    /// (A journal from before folder states has `new` with a UIDVALIDITY for folders it
    /// enumerated: those count as listed.)
    pub fn folders_not_copied(&self, mailbox_id: i64) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT src_name FROM folders WHERE mailbox_id = ?1
                   AND (state IN (?2, ?4) OR (state = ?3 AND src_uidvalidity IS NULL))
                 ORDER BY src_name",
            )?;
            st.query_map(
                params![
                    mailbox_id,
                    folder_state::REFUSED,
                    folder_state::NEW,
                    folder_state::OPEN
                ],
                |r| r.get::<_, String>(0),
            )?
            .collect()
        })
    }

    pub fn folder_count(&self, mailbox_id: i64) -> Result<u64> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM folders WHERE mailbox_id = ?1",
                [mailbox_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::journal::db::both_backends! {
    fn a_folder_counts_as_copied_only_once_all_its_messages_are_journalled(s) {
        let mb = s.upsert_mailbox("a->a", "b", "a", "a").unwrap();
        let f = s.folder(mb, "Work", "Work").unwrap();
        let g = s.folder(mb, "Gone", "Gone").unwrap();
        let not = |s: &Journal| s.folders_not_copied(mb).unwrap();
        // Planned, never opened.
        assert_eq!(not(&s), ["Gone", "Work"]);
        // Opened (UIDVALIDITY known) but stopped before its messages were enumerated.
        s.set_folder_state(f.id, folder_state::OPEN).unwrap();
        s.set_src_uidvalidity(f.id, 7).unwrap();
        assert_eq!(not(&s), ["Gone", "Work"]);
        // Gone from the source: a warning, not a folder left behind.
        s.set_folder_state(g.id, folder_state::GONE).unwrap();
        assert_eq!(not(&s), ["Work"]);
        s.set_folder_state(f.id, folder_state::LISTED).unwrap();
        assert!(not(&s).is_empty());
        s.set_folder_state(f.id, folder_state::REFUSED).unwrap();
        assert_eq!(not(&s), ["Work"]);
        }
    }
}
