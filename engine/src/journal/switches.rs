//! The moment of the switch (`cutover finalize`): per mailbox when mail went to the
//! destination for good, and per destination folder its UIDNEXT then. Mail at or above that
//! UID that cutover did not write arrived after the switch: what fail-back copies back. Both
//! are kept once set: a second `finalize` does not move the mark.

use super::sql::{OptionalExtension, params};

use super::db::{Journal, NOW, Result};

impl Journal {
    /// Mark the switch of a mailbox: its folders' destination UIDNEXT (folder row id,
    /// UIDNEXT), each kept once set, and the moment (kept once set). Returns the moment.
    pub fn mark_switch(&self, mailbox_id: i64, folders: &[(i64, u32)]) -> Result<String> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (id, uidnext) in folders {
                tx.execute(
                    "UPDATE folders SET dst_switch_uidnext = ?2 WHERE id = ?1 AND dst_switch_uidnext IS NULL",
                    params![id, uidnext],
                )?;
            }
            tx.execute(
                &format!(
                    "UPDATE mailboxes SET switched_at = coalesce(switched_at, {NOW}) WHERE id = ?1"
                ),
                [mailbox_id],
            )?;
            let at: String = tx.query_row(
                "SELECT switched_at FROM mailboxes WHERE id = ?1",
                [mailbox_id],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(at)
        })
    }

    /// When the mailbox was switched (`cutover finalize`), if it was.
    pub fn switched_at(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row(
                "SELECT switched_at FROM mailboxes WHERE key = ?1",
                [key],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    /// The destination folder's UIDNEXT at the switch, if it was marked.
    pub fn switch_uidnext(&self, folder_id: i64) -> Result<Option<u32>> {
        self.with(|c| {
            c.query_row(
                "SELECT dst_switch_uidnext FROM folders WHERE id = ?1",
                [folder_id],
                |r| r.get(0),
            )
        })
    }
}

#[cfg(test)]
mod tests {

    crate::journal::db::both_backends! {
    fn the_switch_is_marked_once(s) {
        let m = s.upsert_mailbox("a->a", "pilot", "a", "a").unwrap();
        let f = s.folder(m, "INBOX", "INBOX").unwrap();
        assert_eq!(s.switched_at("a->a").unwrap(), None);
        assert_eq!(s.switch_uidnext(f.id).unwrap(), None);
        let at = s.mark_switch(m, &[(f.id, 42)]).unwrap();
        assert_eq!(s.switched_at("a->a").unwrap().as_deref(), Some(at.as_str()));
        assert_eq!(s.switch_uidnext(f.id).unwrap(), Some(42));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(s.mark_switch(m, &[(f.id, 50)]).unwrap(), at);
        assert_eq!(s.switch_uidnext(f.id).unwrap(), Some(42));
        }
    }
}
