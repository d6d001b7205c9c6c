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
    /// Owners (groups from a directory API), `;`-separated.
    pub owners: String,
    /// Where it was listed from ("file.csv:4", "graph", "google", "project").
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
                        "INSERT INTO recipients(address, kind, display_name, members, aliases, access, origin, owners, listed_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {NOW})
                         ON CONFLICT(address) DO UPDATE SET kind = excluded.kind,
                           display_name = excluded.display_name, members = excluded.members,
                           aliases = excluded.aliases, access = excluded.access,
                           origin = excluded.origin, owners = excluded.owners,
                           listed_at = excluded.listed_at"
                    ),
                    params![
                        r.address,
                        r.kind,
                        r.display_name,
                        r.members,
                        r.aliases,
                        r.access,
                        r.origin,
                        r.owners
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
                "SELECT address, kind, display_name, members, aliases, access, origin, state, listed_at,
                   coalesce(owners, '')
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
                    owners: r.get(9)?,
                })
            })?
            .collect()
        })
    }
}

/// Which change: (api, what, address, target).
pub type ChangeKey<'a> = (&'a str, &'a str, &'a str, &'a str);

/// A change `cutover recipients` made (or found made) on the destination's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientChange {
    pub id: i64,
    /// `graph` or `google`.
    pub api: String,
    /// `group`, `member` or `calendar`.
    pub what: String,
    pub address: String,
    pub target: String,
    pub remote_id: Option<String>,
    pub parent_id: Option<String>,
    /// `pending`, `created`, `existed` or `removed`.
    pub state: String,
    pub at: String,
}

impl Journal {
    /// Set a recipient's state (`listed`, `created`, `present`, `missing`, ...).
    pub fn set_recipient_state(&self, address: &str, state: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE recipients SET state = ?2 WHERE lower(address) = lower(?1)",
                params![address, state],
            )
            .map(drop)
        })
    }

    /// The change of (api, what, address, target), if one is journalled.
    pub fn recipient_change(
        &self,
        api: &str,
        what: &str,
        address: &str,
        target: &str,
    ) -> Result<Option<RecipientChange>> {
        Ok(self.recipient_changes()?.into_iter().find(|r| {
            r.api == api
                && r.what == what
                && r.address.eq_ignore_ascii_case(address)
                && r.target.eq_ignore_ascii_case(target)
        }))
    }

    /// Record a change's state (and ids when known), creating its row the first time.
    pub fn set_recipient_change(
        &self,
        (api, what, address, target): ChangeKey<'_>,
        state: &str,
        remote_id: Option<&str>,
        parent_id: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO recipient_changes(api, what, address, target, state, remote_id, parent_id, at)
                     VALUES (?1, ?2, lower(?3), lower(?4), ?5, ?6, ?7, {NOW})
                     ON CONFLICT(api, what, address, target) DO UPDATE SET state = excluded.state,
                       remote_id = coalesce(excluded.remote_id, remote_id),
                       parent_id = coalesce(excluded.parent_id, parent_id), at = excluded.at"
                ),
                params![api, what, address, target, state, remote_id, parent_id],
            )
            .map(drop)
        })
    }

    /// Every journalled directory change, oldest first.
    pub fn recipient_changes(&self) -> Result<Vec<RecipientChange>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, api, what, address, target, remote_id, parent_id, state, at
                 FROM recipient_changes ORDER BY id",
            )?;
            st.query_map(params![], |r| {
                Ok(RecipientChange {
                    id: r.get(0)?,
                    api: r.get(1)?,
                    what: r.get(2)?,
                    address: r.get(3)?,
                    target: r.get(4)?,
                    remote_id: r.get(5)?,
                    parent_id: r.get(6)?,
                    state: r.get(7)?,
                    at: r.get(8)?,
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

    crate::journal::db::both_backends! {
    fn a_change_is_one_row_whose_ids_survive_a_state_change(s) {
        s.set_recipient_change(("graph", "group", "Team@x.test", ""), "pending", None, None)
            .unwrap();
        s.set_recipient_change(
            ("graph", "group", "team@x.test", ""),
            "created",
            Some("g1"),
            None,
        )
        .unwrap();
        s.set_recipient_change(("graph", "group", "team@x.test", ""), "removed", None, None)
            .unwrap();
        let all = s.recipient_changes().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].remote_id.as_deref(), Some("g1"));
        assert_eq!(all[0].state, "removed");
    }
    }
}
