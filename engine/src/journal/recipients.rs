//! Shared/resource mailboxes, lists and groups as journalled: what was last listed (from the
//! `[recipients]` CSV) and their state.

use super::sql::params;

use super::db::{Journal, NOW, Result};

/// A recipient as journalled; lists are `;`-separated, access `user:Right;...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientRow {
    pub address: String,
    pub kind: String,
    pub display_name: String,
    pub members: String,
    pub aliases: String,
    pub access: String,
    /// Where it was listed from ("file.csv:4").
    pub origin: String,
    /// `listed` until something creates or verifies it.
    pub state: String,
    pub listed_at: String,
}

impl Journal {
    /// Record the recipients as now listed, in one transaction: new ones added, known ones
    /// updated (their state kept), ones no longer listed removed.
    pub fn save_recipients(&self, rows: &[RecipientRow]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("CREATE TEMP TABLE IF NOT EXISTS listed(address TEXT PRIMARY KEY)", params![])?;
            tx.execute("DELETE FROM listed", params![])?;
            for r in rows {
                tx.execute(
                    &format!(
                        "INSERT INTO recipients(address, kind, display_name, members, aliases, access, origin, listed_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {NOW})
                         ON CONFLICT(address) DO UPDATE SET kind = excluded.kind,
                           display_name = excluded.display_name, members = excluded.members,
                           aliases = excluded.aliases, access = excluded.access,
                           origin = excluded.origin, listed_at = excluded.listed_at"
                    ),
                    params![
                        r.address,
                        r.kind,
                        r.display_name,
                        r.members,
                        r.aliases,
                        r.access,
                        r.origin
                    ],
                )?;
                tx.execute("INSERT OR IGNORE INTO listed(address) VALUES (?1)", [&r.address])?;
            }
            tx.execute(
                "DELETE FROM recipients WHERE address NOT IN (SELECT address FROM listed)", params![],
            )?;
            tx.commit()
        })
    }

    /// Every journalled recipient, by address.
    pub fn recipient_rows(&self) -> Result<Vec<RecipientRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT address, kind, display_name, members, aliases, access, origin, state, listed_at
                 FROM recipients ORDER BY address",
            )?;
            st.query_map(params![], |r| {
                Ok(RecipientRow {
                    address: r.get(0)?,
                    kind: r.get(1)?,
                    display_name: r.get(2)?,
                    members: r.get(3)?,
                    aliases: r.get(4)?,
                    access: r.get(5)?,
                    origin: r.get(6)?,
                    state: r.get(7)?,
                    listed_at: r.get(8)?,
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
    fn saving_again_updates_and_drops_what_is_no_longer_listed(s) {
        let row = |a: &str, m: &str| RecipientRow {
            address: a.into(),
            kind: "distribution".into(),
            display_name: "D".into(),
            members: m.into(),
            origin: "r.csv:2".into(),
            ..Default::default()
        };
        s.save_recipients(&[row("a@x.test", "b@x.test"), row("c@x.test", "")])
            .unwrap();
        s.save_recipients(&[row("a@x.test", "b@x.test;d@x.test")])
            .unwrap();
        let rows = s.recipient_rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].members, "b@x.test;d@x.test");
        assert_eq!(rows[0].state, "listed");
        }
    }
}
