//! Read-only views of the journal for inspection (the integration tests, an engineer looking
//! at a project's journal): whole tables as plain rows, in the order they were written, with
//! no aggregation, so that whoever reads them can check the engine's own figures against
//! them independently. Nothing here writes.

use super::assessments::{AssessedFolderRow, AssessedMessageRow};
use super::db::{Journal, Result};
use super::sql::params;

/// A message as journalled, with its folder's names and its mailbox's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    /// The mailbox key ("alice->alice").
    pub mailbox: String,
    pub folder_id: i64,
    /// The source folder's name.
    pub folder: String,
    /// The destination folder's name.
    pub dst_folder: String,
    pub src_uidvalidity: u32,
    pub src_uid: u32,
    pub size: u64,
    /// One of [`super::state`].
    pub state: String,
    pub reason: Option<String>,
    pub dst_uidvalidity: Option<u32>,
    pub dst_uid: Option<u32>,
}

/// One command run against the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub command: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: Option<String>,
}

/// One report produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: i64,
    pub kind: String,
    pub format: String,
    pub created_at: String,
}

/// An endpoint id (Graph id, Gmail message id, POP3 UIDL) and the UID it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRow {
    pub side: String,
    pub account: String,
    pub folder: String,
    pub uid: u32,
    pub reference: String,
}

impl Journal {
    /// Every message of every mailbox, superseded ones included, by id.
    pub fn message_rows(&self) -> Result<Vec<MessageRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT m.id, b.key, f.id, f.src_name, f.dst_name, m.src_uidvalidity, m.src_uid,
                        m.size, m.state, m.reason, m.dst_uidvalidity, m.dst_uid
                 FROM messages m JOIN folders f ON f.id = m.folder_id
                 JOIN mailboxes b ON b.id = f.mailbox_id
                 ORDER BY m.id",
            )?;
            st.query_map(params![], |r| {
                Ok(MessageRow {
                    id: r.get(0)?,
                    mailbox: r.get(1)?,
                    folder_id: r.get(2)?,
                    folder: r.get(3)?,
                    dst_folder: r.get(4)?,
                    src_uidvalidity: r.get(5)?,
                    src_uid: r.get(6)?,
                    size: r.get::<_, i64>(7)? as u64,
                    state: r.get(8)?,
                    reason: r.get(9)?,
                    dst_uidvalidity: r.get(10)?,
                    dst_uid: r.get(11)?,
                })
            })?
            .collect()
        })
    }

    /// Every run recorded, oldest first.
    pub fn run_rows(&self) -> Result<Vec<RunRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, command, started_at, finished_at, outcome FROM runs ORDER BY id",
            )?;
            st.query_map(params![], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    outcome: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Every report recorded, oldest first.
    pub fn report_rows(&self) -> Result<Vec<ReportRow>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT id, kind, format, created_at FROM reports ORDER BY id")?;
            st.query_map(params![], |r| {
                Ok(ReportRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    format: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    /// Every endpoint id given a UID, by side, account, folder and UID.
    pub fn ref_rows(&self) -> Result<Vec<RefRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT side, account, folder, uid, ref FROM refs ORDER BY side, account, folder, uid",
            )?;
            st.query_map(params![], |r| {
                Ok(RefRow {
                    side: r.get(0)?,
                    account: r.get(1)?,
                    folder: r.get(2)?,
                    uid: r.get(3)?,
                    reference: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// The folders of the newest assessment that covered each mailbox (as
    /// [`Journal::latest_assessed_mailboxes`]), in the order they were journalled.
    pub fn latest_assessed_folders(&self) -> Result<Vec<AssessedFolderRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mailbox, folder, dst_folder, special, messages, bytes, largest
                 FROM assessed_folders a
                 WHERE assessment_id = (SELECT max(assessment_id) FROM assessed_mailboxes b WHERE b.mailbox = a.mailbox)
                 ORDER BY rowid",
            )?;
            st.query_map(params![], |r| {
                Ok(AssessedFolderRow {
                    mailbox: r.get(0)?,
                    folder: r.get(1)?,
                    dst_folder: r.get(2)?,
                    special: r.get(3)?,
                    messages: r.get::<_, i64>(4)? as u64,
                    bytes: r.get::<_, i64>(5)? as u64,
                    largest: r.get::<_, i64>(6)? as u64,
                })
            })?
            .collect()
        })
    }

    /// The messages named by the newest assessment that covered each mailbox (the largest
    /// and the oversize ones), in the order they were journalled.
    pub fn latest_assessed_messages(&self) -> Result<Vec<AssessedMessageRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mailbox, folder, uid, size, kind
                 FROM assessed_messages a
                 WHERE assessment_id = (SELECT max(assessment_id) FROM assessed_mailboxes b WHERE b.mailbox = a.mailbox)
                 ORDER BY rowid",
            )?;
            st.query_map(params![], |r| {
                Ok(AssessedMessageRow {
                    mailbox: r.get(0)?,
                    folder: r.get(1)?,
                    uid: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    kind: r.get(4)?,
                })
            })?
            .collect()
        })
    }
}
