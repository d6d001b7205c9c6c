//! The mailboxes of the project as journalled: their batch, users and state.

use super::sql::{OptionalExtension, params};

use super::db::{Journal, NOW, Result};

/// A mailbox as journalled.
#[derive(Debug, Clone, Default)]
pub struct MailboxRow {
    pub id: i64,
    pub key: String,
    pub batch: String,
    pub src_user: String,
    pub dst_user: String,
    pub state: String,
    /// The type word as written (user, shared, room, equipment); None before types existed.
    pub mailbox_type: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_error: Option<String>,
}

impl Journal {
    pub fn upsert_mailbox(&self, key: &str, batch: &str, src: &str, dst: &str) -> Result<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO mailboxes(key, batch, src_user, dst_user) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET batch = excluded.batch",
                params![key, batch, src, dst],
            )?;
            c.query_row("SELECT id FROM mailboxes WHERE key = ?1", [key], |r| {
                r.get(0)
            })
        })
    }

    /// Record a mailbox's type word (user, shared, room, equipment).
    pub fn set_mailbox_type(&self, id: i64, mailbox_type: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE mailboxes SET mailbox_type = ?2 WHERE id = ?1",
                params![id, mailbox_type],
            )
            .map(drop)
        })
    }

    pub fn set_mailbox_state(&self, id: i64, state: &str, error: Option<&str>) -> Result<()> {
        self.with(|c| {
            let sql = match state {
                "running" => format!(
                    "UPDATE mailboxes SET state = ?2, started_at = coalesce(started_at, {NOW}), last_error = ?3 WHERE id = ?1"
                ),
                "done" | "failed" => format!(
                    "UPDATE mailboxes SET state = ?2, finished_at = {NOW}, last_error = ?3 WHERE id = ?1"
                ),
                _ => "UPDATE mailboxes SET state = ?2, last_error = ?3 WHERE id = ?1".to_string(),
            };
            c.execute(&sql, params![id, state, error]).map(drop)
        })
    }

    /// (state, last_error) of a mailbox, when the journal knows it.
    pub fn mailbox_state(&self, key: &str) -> Result<Option<(i64, String, Option<String>)>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, state, last_error FROM mailboxes WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
    }

    /// Every mailbox the journal knows, in the order they were first seen.
    pub fn mailbox_rows(&self) -> Result<Vec<MailboxRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, key, batch, src_user, dst_user, state, started_at, finished_at, last_error,
                        mailbox_type
                 FROM mailboxes ORDER BY id",
            )?;
            st.query_map(params![], |r| {
                Ok(MailboxRow {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    batch: r.get(2)?,
                    src_user: r.get(3)?,
                    dst_user: r.get(4)?,
                    state: r.get(5)?,
                    started_at: r.get(6)?,
                    finished_at: r.get(7)?,
                    last_error: r.get(8)?,
                    mailbox_type: r.get(9)?,
                })
            })?
            .collect()
        })
    }

    pub fn mailbox_id(&self, key: &str) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row("SELECT id FROM mailboxes WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }
}
