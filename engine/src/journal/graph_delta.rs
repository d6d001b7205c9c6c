//! Graph delta queries on a source mail folder: the deltaLinks in order, each numbered
//! (`seq`, the change marker a delta pass records once it carried the flags), with the ids of
//! the messages changed since the link before it. The changes since a recorded marker are the
//! union of the later steps' ids, so a pass that failed after asking Graph loses nothing.

use super::db::{Journal, Result};
use super::sql::{OptionalExtension, params};

impl Journal {
    /// The newest deltaLink of a folder and its number.
    pub fn delta_link(
        &self,
        side: &str,
        account: &str,
        folder: &str,
    ) -> Result<Option<(u64, String)>> {
        self.with(|c| {
            c.query_row(
                "SELECT seq, link FROM graph_delta WHERE side = ?1 AND account = ?2 AND folder = ?3
                 ORDER BY seq DESC LIMIT 1",
                params![side, account, folder],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
            )
            .optional()
        })
    }

    /// Record a new deltaLink after the newest; `changed`: the ids changed since the one
    /// before (None: the changes are unknown, everything is compared). Returns its number.
    pub fn add_delta_link(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        link: &str,
        changed: Option<&[String]>,
    ) -> Result<u64> {
        let changed = changed.map(|c| c.join("\n"));
        self.with(|c| {
            let tx = c.transaction()?;
            let last: Option<i64> = tx.query_row(
                "SELECT MAX(seq) FROM graph_delta WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder],
                |r| r.get(0),
            )?;
            let seq = last.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO graph_delta(side, account, folder, seq, link, changed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![side, account, folder, seq, link, changed],
            )?;
            tx.commit()?;
            Ok(seq as u64)
        })
    }

    /// Replace the newest deltaLink's link (nothing changed since the one before it).
    pub fn renew_delta_link(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        seq: u64,
        link: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE graph_delta SET link = ?5 WHERE side = ?1 AND account = ?2 AND folder = ?3 AND seq = ?4",
                params![side, account, folder, seq as i64, link],
            )?;
            Ok(())
        })
    }

    /// The ids changed after marker `since`; None when unknown (no such marker, or a later
    /// step whose changes are unknown): then everything is compared.
    pub fn delta_changed_since(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        since: u64,
    ) -> Result<Option<Vec<String>>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, changed FROM graph_delta WHERE side = ?1 AND account = ?2 AND folder = ?3
                 AND seq >= ?4 ORDER BY seq",
            )?;
            let rows: Vec<(i64, Option<String>)> = st
                .query_map(params![side, account, folder, since as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<std::result::Result<_, _>>()?;
            if rows.first().map(|r| r.0) != Some(since as i64) {
                return Ok(None);
            }
            let mut out = Vec::new();
            for (_, changed) in &rows[1..] {
                let Some(ids) = changed else {
                    return Ok(None);
                };
                out.extend(ids.split('\n').filter(|s| !s.is_empty()).map(str::to_string));
            }
            Ok(Some(out))
        })
    }
}

#[cfg(test)]
mod tests {
    crate::journal::db::both_backends! {
        fn changes_since_a_marker_are_the_later_steps_ids(s) {
            assert_eq!(s.delta_link("source", "a", "inbox").unwrap(), None);
            let one = s.add_delta_link("source", "a", "inbox", "L1", None).unwrap();
            assert_eq!(one, 1);
            let two = s
                .add_delta_link("source", "a", "inbox", "L2", Some(&["m1".into(), "m2".into()]))
                .unwrap();
            let three = s.add_delta_link("source", "a", "inbox", "L3", Some(&["m3".into()])).unwrap();
            assert_eq!((two, three), (2, 3));
            s.renew_delta_link("source", "a", "inbox", 3, "L3b").unwrap();
            assert_eq!(s.delta_link("source", "a", "inbox").unwrap(), Some((3, "L3b".into())));
            assert_eq!(
                s.delta_changed_since("source", "a", "inbox", 1).unwrap(),
                Some(vec!["m1".to_string(), "m2".into(), "m3".into()])
            );
            assert_eq!(s.delta_changed_since("source", "a", "inbox", 3).unwrap(), Some(vec![]));
            // An unknown marker, or a reset (changes unknown) after it: compare everything.
            assert_eq!(s.delta_changed_since("source", "a", "inbox", 9).unwrap(), None);
            s.add_delta_link("source", "a", "inbox", "L4", None).unwrap();
            assert_eq!(s.delta_changed_since("source", "a", "inbox", 3).unwrap(), None);
            // Other folders are apart.
            assert_eq!(s.delta_link("source", "a", "other").unwrap(), None);
        }
    }
}
