//! Backups and restores as journalled in the project's journal (`cutover backup`, `cutover
//! restore`): one row per mailbox and operation, so the checklist, the console and the
//! reports see them. The copy itself keeps its own journal inside the backup directory.

use super::sql::{OptionalExtension, params};

use super::db::{Journal, NOW, Result};

/// One backup or restore of one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupRow {
    pub id: i64,
    /// "backup" or "restore".
    pub kind: String,
    /// The project's mailbox key.
    pub mailbox: String,
    /// The side read (backup) or written (restore): "source" or "destination".
    pub side: String,
    pub dir: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub verified_at: Option<String>,
    /// Messages (and their bytes) in the backup, or restored.
    pub messages: u64,
    pub bytes: u64,
    /// "running", "complete", "failed: ...", "stopped".
    pub outcome: String,
}

const COLS: &str =
    "id, kind, mailbox, side, dir, started_at, finished_at, verified_at, messages, bytes, outcome";

fn row(r: &super::sql::Row) -> super::sql::Result<BackupRow> {
    Ok(BackupRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        mailbox: r.get(2)?,
        side: r.get(3)?,
        dir: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        verified_at: r.get(7)?,
        messages: r.get::<_, i64>(8)? as u64,
        bytes: r.get::<_, i64>(9)? as u64,
        outcome: r.get(10)?,
    })
}

impl Journal {
    /// A backup or restore of `mailbox` starts: its row, outcome "running". A row of the same
    /// operation into the same directory still "running" was left by a run that was killed
    /// (one runs per directory at a time): it becomes "interrupted".
    pub fn begin_backup(&self, kind: &str, mailbox: &str, side: &str, dir: &str) -> Result<i64> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE backups SET outcome = 'interrupted' WHERE kind = ?1 AND mailbox = ?2
                   AND side = ?3 AND dir = ?4 AND outcome = 'running'",
                params![kind, mailbox, side, dir],
            )?;
            tx.execute(
                "INSERT INTO backups(kind, mailbox, side, dir) VALUES (?1, ?2, ?3, ?4)",
                params![kind, mailbox, side, dir],
            )?;
            let id = tx.last_insert_rowid()?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// A backup or restore ended: its figures and outcome ("complete", "failed: ...").
    pub fn end_backup(&self, id: i64, messages: u64, bytes: u64, outcome: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE backups SET finished_at = {NOW}, messages = ?2, bytes = ?3, outcome = ?4
                     WHERE id = ?1"
                ),
                params![id, messages as i64, bytes as i64, outcome],
            )
            .map(drop)
        })
    }

    /// `cutover backup --verify` found the newest complete backup of `mailbox` (that side,
    /// that directory) intact and matching the live side.
    pub fn mark_backup_verified(&self, mailbox: &str, side: &str, dir: &str) -> Result<bool> {
        self.with(|c| {
            let id: Option<i64> = c
                .query_row(
                    "SELECT max(id) FROM backups WHERE kind = 'backup' AND mailbox = ?1
                       AND side = ?2 AND dir = ?3 AND outcome = 'complete'",
                    params![mailbox, side, dir],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            match id {
                Some(id) => {
                    c.execute(
                        &format!("UPDATE backups SET verified_at = {NOW} WHERE id = ?1"),
                        [id],
                    )?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    /// Every backup and restore, oldest first.
    pub fn backup_rows(&self) -> Result<Vec<BackupRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM backups ORDER BY id"))?;
            st.query_map(params![], row)?.collect()
        })
    }

    /// The newest backup of each mailbox of one side (kind backup), by mailbox.
    pub fn latest_backups(
        &self,
        side: &str,
    ) -> Result<std::collections::HashMap<String, BackupRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLS} FROM backups b WHERE kind = 'backup' AND side = ?1 AND id =
                   (SELECT max(id) FROM backups x WHERE x.kind = 'backup' AND x.side = ?1
                      AND x.mailbox = b.mailbox)"
            ))?;
            st.query_map([side], row)?
                .map(|r| r.map(|r| (r.mailbox.clone(), r)))
                .collect()
        })
    }
}

impl Journal {
    /// Restore's pre-pass: source messages whose content the target folder already holds (at
    /// `dst_uid`, under `dst_validity`) are journalled as copied there, so the copy neither
    /// writes them again nor counts them as missing. Rows the journal has are left alone.
    pub fn mark_present(
        &self,
        folder_id: i64,
        src_validity: u32,
        present: &[(u32, u64, String, u32)],
        dst_validity: u32,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO messages(folder_id, src_uidvalidity, src_uid, size, state,
                       fingerprint, dst_uidvalidity, dst_uid)
                     VALUES (?1, ?2, ?3, ?4, 'copied', ?5, ?6, ?7)",
                )?;
                for (uid, size, fp, dst) in present {
                    st.execute(params![
                        folder_id,
                        src_validity,
                        uid,
                        *size as i64,
                        fp,
                        dst_validity,
                        dst
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Source UIDs of a folder the journal has a row for (any state), under one UIDVALIDITY.
    pub fn known_src_uids(
        &self,
        folder_id: i64,
        validity: u32,
    ) -> Result<std::collections::HashSet<u32>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT src_uid FROM messages WHERE folder_id = ?1 AND src_uidvalidity = ?2",
            )?;
            st.query_map(params![folder_id, validity], |r| r.get(0))?
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {

    crate::journal::db::both_backends! {
    fn a_backup_is_begun_ended_verified_and_the_latest_per_mailbox_is_found(s) {
        let a = s.begin_backup("backup", "a->a", "source", "/b").unwrap();
        s.end_backup(a, 3, 300, "complete").unwrap();
        assert!(s.mark_backup_verified("a->a", "source", "/b").unwrap());
        assert!(!s.mark_backup_verified("a->a", "source", "/other").unwrap());
        let b = s.begin_backup("backup", "a->a", "source", "/b").unwrap();
        s.begin_backup("restore", "a->a", "source", "/b").unwrap();
        let latest = s.latest_backups("source").unwrap();
        assert_eq!(latest["a->a"].id, b);
        assert_eq!(latest["a->a"].outcome, "running");
        // Killed; the next one marks it interrupted.
        let c = s.begin_backup("backup", "a->a", "source", "/b").unwrap();
        let rows = s.backup_rows().unwrap();
        assert_eq!(
            rows.iter().find(|r| r.id == b).unwrap().outcome,
            "interrupted"
        );
        assert_eq!(rows.iter().find(|r| r.id == c).unwrap().outcome, "running");
        let rows: Vec<_> = rows.into_iter().filter(|r| r.id != c).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].messages, rows[0].bytes), (3, 300));
        assert!(rows[0].verified_at.is_some() && rows[0].finished_at.is_some());
        assert!(s.latest_backups("destination").unwrap().is_empty());
        }
    }
}
