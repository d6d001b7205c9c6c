//! What the journal counts of a folder or mailbox: items and bytes by outcome (in all and per
//! kind: a folder named `calendar:…` holds events, `contacts:…` contacts, any other mail), the
//! reasons items were not copied, and those that vanished from the source first.

use super::sql::params;

use crate::api::{ItemKind, KindTotals};

use super::db::{Journal, Result};
use super::messages::EXPUNGED_REASON;

/// The counts are the contract's own type: the journal fills it, the views pass it on.
pub use crate::api::Totals;

/// The kind of a journal row from its folder's source name, in SQL (the same rule as
/// `item::folder::kind_of_folder`: case-sensitive prefixes).
const KIND_SQL: &str = "CASE WHEN substr(f.src_name, 1, 9) = 'calendar:' THEN 'event'
     WHEN substr(f.src_name, 1, 9) = 'contacts:' THEN 'contact' ELSE 'mail' END";

/// Why messages of a mailbox were not copied: (state, reason, count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipRow {
    pub state: String,
    pub reason: String,
    pub count: u64,
}

impl Journal {
    pub fn folder_totals(&self, folder_id: i64) -> Result<Totals> {
        self.totals_where("m.folder_id = ?1", folder_id)
    }

    pub fn mailbox_totals(&self, mailbox_id: i64) -> Result<Totals> {
        self.totals_where(
            "m.folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)",
            mailbox_id,
        )
    }

    fn totals_where(&self, cond: &str, arg: i64) -> Result<Totals> {
        let rows = self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {KIND_SQL} AS kind, count(*), coalesce(sum(m.size),0),
                    coalesce(sum(m.state IN ('copied','moving')),0), coalesce(sum(CASE WHEN m.state IN ('copied','moving') THEN m.size END),0),
                    coalesce(sum(m.state = 'skipped'),0), coalesce(sum(m.state = 'failed'),0),
                    coalesce(sum(m.state IN ('pending','appending')),0),
                    coalesce(sum(m.state = 'skipped' AND m.reason = ?2),0)
                 FROM messages m JOIN folders f ON f.id = m.folder_id
                 WHERE {cond} AND m.state NOT IN ('superseded','src_deleted','deleting','deleted') GROUP BY kind"
            ))?;
            st.query_map(params![arg, EXPUNGED_REASON], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
                Ok((
                    r.get::<_, String>(0)?,
                    KindTotals {
                        items: n(1)?,
                        bytes: n(2)?,
                        copied: n(3)?,
                        copied_bytes: n(4)?,
                        skipped: n(5)?,
                        failed: n(6)?,
                        pending: n(7)?,
                        expunged: n(8)?,
                    },
                ))
            })?
            .collect::<super::sql::Result<Vec<_>>>()
        })?;
        let mut t = Totals::default();
        for (kind, k) in rows {
            t.messages += k.items;
            t.bytes += k.bytes;
            t.copied += k.copied;
            t.copied_bytes += k.copied_bytes;
            t.skipped += k.skipped;
            t.failed += k.failed;
            t.pending += k.pending;
            t.by_kind
                .insert(ItemKind::parse(&kind).unwrap_or_default(), k);
        }
        Ok(t)
    }

    /// Messages of a mailbox not copied (skipped or failed), grouped by reason.
    pub fn skip_reasons(&self, mailbox_id: i64) -> Result<Vec<SkipRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT state, coalesce(reason, ''), count(*) FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state IN ('skipped', 'failed')
                 GROUP BY state, reason ORDER BY count(*) DESC, reason",
            )?;
            st.query_map([mailbox_id], |r| {
                Ok(SkipRow {
                    state: r.get(0)?,
                    reason: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }

    /// Messages (and their bytes) of a mailbox that vanished from the source before they
    /// were copied.
    pub fn expunged(&self, mailbox_id: i64) -> Result<(u64, u64)> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state = 'skipped' AND reason = ?2",
                params![mailbox_id, EXPUNGED_REASON],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::messages::AppendIntent;
    use super::*;

    crate::journal::db::both_backends! {
    fn totals_are_split_per_kind_by_folder_name(s) {
        let mb = s.upsert_mailbox("a->b", "pilot", "a", "b").unwrap();
        let inbox = s.folder(mb, "INBOX", "INBOX").unwrap();
        let cal = s.folder(mb, "calendar:work", "calendar:work").unwrap();
        let book = s
            .folder(mb, "contacts:default", "contacts:default")
            .unwrap();
        // An IMAP folder merely containing the word is mail (prefix, case-sensitive).
        let odd = s.folder(mb, "Calendar:old", "Calendar:old").unwrap();
        s.add_pending(inbox.id, 1, &[(1, 100), (2, 200)], 2, 3)
            .unwrap();
        s.add_pending(odd.id, 1, &[(1, 5)], 1, 2).unwrap();
        s.add_pending(cal.id, 1, &[(1, 10), (2, 20), (3, 30)], 3, 4)
            .unwrap();
        s.add_pending(book.id, 1, &[(1, 7)], 1, 2).unwrap();
        let p = s.pending(cal.id, 1).unwrap();
        s.mark_appending(&[AppendIntent {
            id: p[0].id,
            size: 10,
            fingerprint: "ff".into(),
            message_id: Some("uid-1".into()),
            dst_uidvalidity: 9,
            dst_floor: 1,
            flags: None,
        }])
        .unwrap();
        s.mark_copied(&[(p[0].id, Some(1))], 9).unwrap();
        s.mark_skipped(p[1].id, "skipped", "too big").unwrap();
        let pc = s.pending(book.id, 1).unwrap();
        s.mark_skipped(pc[0].id, "skipped", EXPUNGED_REASON)
            .unwrap();

        let t = s.mailbox_totals(mb).unwrap();
        assert_eq!((t.messages, t.bytes, t.copied, t.skipped), (7, 372, 1, 2));
        assert!(t.mixed());
        let mail = t.by_kind[&ItemKind::Mail];
        assert_eq!((mail.items, mail.bytes, mail.pending), (3, 305, 3));
        let ev = t.by_kind[&ItemKind::Event];
        assert_eq!(
            (
                ev.items,
                ev.bytes,
                ev.copied,
                ev.copied_bytes,
                ev.skipped,
                ev.pending
            ),
            (3, 60, 1, 10, 1, 1)
        );
        let c = t.by_kind[&ItemKind::Contact];
        assert_eq!((c.items, c.skipped, c.expunged), (1, 1, 1));
        assert_eq!(ev.expunged, 0);

        // A folder's totals hold its one kind; a mail-only folder is not mixed.
        let f = s.folder_totals(inbox.id).unwrap();
        assert_eq!(f.by_kind.keys().collect::<Vec<_>>(), vec![&ItemKind::Mail]);
        assert!(!f.mixed());
        // Nothing enumerated: no kind at all.
        let empty = s.upsert_mailbox("c->d", "pilot", "c", "d").unwrap();
        assert!(s.mailbox_totals(empty).unwrap().by_kind.is_empty());

        // Summing mailboxes sums kind by kind.
        let mut sum = t.clone();
        sum.add(&t);
        assert_eq!(sum.messages, 14);
        assert_eq!(sum.by_kind[&ItemKind::Event].copied, 2);
        }
    }
}
