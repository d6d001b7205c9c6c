//! UIDs for endpoints without IMAP UIDs (Microsoft Graph, Gmail API, POP3): each endpoint id
//! gets a UID once, never reused, in a folder whose UIDVALIDITY is kept here too.

use super::conn::Conn;
use super::sql::{OptionalExtension, params};

use super::db::{Journal, Result};

impl Journal {
    /// A folder of an endpoint without UIDs: its UIDVALIDITY and UIDNEXT, set up on first use.
    pub fn ref_folder(&self, side: &str, account: &str, folder: &str) -> Result<(u32, u32)> {
        self.with(|c| ref_folder_in(c, side, account, folder))
    }

    /// The UIDs of these endpoint ids in a folder, allocating the next UIDs (in the order
    /// given) to ids never seen before; one transaction, so an id never gets two UIDs.
    pub fn ref_uids(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        refs: &[&str],
    ) -> Result<Vec<u32>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let (_, mut next) = ref_folder_in(&tx, side, account, folder)?;
            let mut out = Vec::with_capacity(refs.len());
            {
                let mut get = tx.prepare_cached(
                    "SELECT uid FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                )?;
                let mut put = tx.prepare_cached(
                    "INSERT INTO refs(side, account, folder, uid, ref) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for r in refs {
                    let uid: Option<u32> = get
                        .query_row(params![side, account, folder, r], |row| row.get(0))
                        .optional()?;
                    let uid = match uid {
                        Some(u) => u,
                        None => {
                            put.execute(params![side, account, folder, next, r])?;
                            next += 1;
                            next - 1
                        }
                    };
                    out.push(uid);
                }
            }
            tx.execute(
                "UPDATE ref_folders SET uidnext = ?4 WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder, next],
            )?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// The endpoint ids behind these UIDs (UIDs never allocated are left out).
    pub fn refs_of(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        uids: &[u32],
    ) -> Result<Vec<(u32, String)>> {
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT ref FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND uid = ?4",
            )?;
            let mut out = Vec::new();
            for &u in uids {
                if let Some(r) = q
                    .query_row(params![side, account, folder, u], |row| row.get(0))
                    .optional()?
                {
                    out.push((u, r));
                }
            }
            Ok(out)
        })
    }

    /// Record the fingerprint of what cutover wrote at a ref (see [`Journal::ref_written`]).
    pub fn set_ref_written(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        r: &str,
        fingerprint: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE refs SET written = ?5 WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                params![side, account, folder, r, fingerprint],
            )?;
            Ok(())
        })
    }

    /// The fingerprint of what cutover last wrote at a ref; None when it wrote nothing there
    /// (the destination's own item).
    pub fn ref_written(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        r: &str,
    ) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT written FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                params![side, account, folder, r],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
        })
    }

    /// Give endpoint id `to` the UID of endpoint id `from` (an item replaced by a new one at
    /// its place, where the endpoint cannot replace it in place: the new id keeps the UID,
    /// so what was recorded as written there stays found). A UID `to` had already is
    /// dropped (never written: `to` was just created). Nothing happens when `from` has none.
    pub fn move_ref(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        from: &str,
        to: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let known: Option<u32> = tx
                .query_row(
                    "SELECT uid FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                    params![side, account, folder, from],
                    |row| row.get(0),
                )
                .optional()?;
            if known.is_some() {
                tx.execute(
                    "DELETE FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                    params![side, account, folder, to],
                )?;
                tx.execute(
                    "UPDATE refs SET ref = ?5 WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                    params![side, account, folder, from, to],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Start a folder's UIDs afresh under a new UIDVALIDITY (the endpoint's folder was
    /// replaced by another of the same name): the engine then re-checks it as it would an
    /// IMAP folder whose UIDVALIDITY changed.
    pub fn reset_ref_folder(&self, side: &str, account: &str, folder: &str) -> Result<u32> {
        self.with(|c| {
            let tx = c.transaction()?;
            let (old, _) = ref_folder_in(&tx, side, account, folder)?;
            tx.execute(
                "DELETE FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder],
            )?;
            let new = old.wrapping_add(1).max(1);
            tx.execute(
                "UPDATE ref_folders SET uidvalidity = ?4, uidnext = 1 \
                 WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder, new],
            )?;
            tx.commit()?;
            Ok(new)
        })
    }
}

fn ref_folder_in(
    c: &Conn,
    side: &str,
    account: &str,
    folder: &str,
) -> super::sql::Result<(u32, u32)> {
    let row = c
        .query_row(
            "SELECT uidvalidity, uidnext FROM ref_folders WHERE side = ?1 AND account = ?2 AND folder = ?3",
            params![side, account, folder],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some(v) = row {
        return Ok(v);
    }
    // A UIDVALIDITY that differs between folders and journals (seconds since the epoch, as
    // IMAP servers commonly do), never 0.
    let validity = (chrono::Utc::now().timestamp() as u32).max(1);
    c.execute(
        "INSERT INTO ref_folders(side, account, folder, uidvalidity, uidnext) VALUES (?1, ?2, ?3, ?4, 1)",
        params![side, account, folder, validity],
    )?;
    Ok((validity, 1))
}

#[cfg(test)]
mod tests {

    crate::journal::db::both_backends! {
    fn endpoint_ids_get_stable_uids_in_first_seen_order(s) {
        let (v, next) = s.ref_folder("destination", "ann", "Inbox").unwrap();
        assert!(v > 0);
        assert_eq!(next, 1);
        assert_eq!(
            s.ref_uids("destination", "ann", "Inbox", &["b", "a"])
                .unwrap(),
            [1, 2]
        );
        assert_eq!(
            s.ref_uids("destination", "ann", "Inbox", &["a", "c"])
                .unwrap(),
            [2, 3]
        );
        // Another folder, side or account has its own numbering.
        assert_eq!(s.ref_uids("source", "ann", "Inbox", &["a"]).unwrap(), [1]);
        assert_eq!(s.ref_folder("destination", "ann", "Inbox").unwrap(), (v, 4));
        assert_eq!(
            s.refs_of("destination", "ann", "Inbox", &[3, 1, 9])
                .unwrap(),
            [(3, "c".to_string()), (1, "b".to_string())]
        );
        let v2 = s.reset_ref_folder("destination", "ann", "Inbox").unwrap();
        assert_ne!(v2, v);
        assert_eq!(
            s.ref_uids("destination", "ann", "Inbox", &["c"]).unwrap(),
            [1]
        );
        }
    }

    crate::journal::db::both_backends! {
    fn a_replacing_id_takes_the_replaced_ids_uid(s) {
        assert_eq!(
            s.ref_uids("destination", "ann", "cal", &["old", "x"])
                .unwrap(),
            [1, 2]
        );
        s.set_ref_written("destination", "ann", "cal", "old", "fp1")
            .unwrap();
        // The new id was listed (and given a UID) before the move.
        assert_eq!(
            s.ref_uids("destination", "ann", "cal", &["new"]).unwrap(),
            [3]
        );
        s.move_ref("destination", "ann", "cal", "old", "new")
            .unwrap();
        assert_eq!(
            s.ref_uids("destination", "ann", "cal", &["new"]).unwrap(),
            [1]
        );
        assert_eq!(
            s.ref_written("destination", "ann", "cal", "new")
                .unwrap()
                .as_deref(),
            Some("fp1")
        );
        assert_eq!(
            s.refs_of("destination", "ann", "cal", &[1, 3]).unwrap(),
            [(1, "new".to_string())]
        );
        // Nothing to move: nothing happens.
        s.move_ref("destination", "ann", "cal", "gone", "x")
            .unwrap();
        assert_eq!(
            s.ref_uids("destination", "ann", "cal", &["x"]).unwrap(),
            [2]
        );
        }
    }
}
