//! Assessments as journalled: each `cutover assess` with its mailboxes, folders, notable
//! messages and risks.

use super::sql::{OptionalExtension, params};

use super::db::{Journal, Result};

/// One mailbox of an assessment, as journalled.
#[derive(Debug, Clone, Default)]
pub struct AssessedMailboxRow {
    pub mailbox: String,
    pub batch: String,
    pub src_caps: String,
    pub dst_caps: String,
    pub src_error: Option<String>,
    pub dst_error: Option<String>,
    pub read_error: Option<String>,
    pub folders: u64,
    pub messages: u64,
    pub bytes: u64,
    pub to_copy_bytes: u64,
    pub largest: u64,
    pub oversize: u64,
    pub size_limit: Option<u64>,
    pub quota_used: Option<u64>,
    pub quota_limit: Option<u64>,
    pub probe: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AssessedFolderRow {
    pub mailbox: String,
    pub folder: String,
    pub dst_folder: Option<String>,
    pub special: Option<String>,
    pub messages: u64,
    pub bytes: u64,
    pub largest: u64,
}

/// A message worth naming: one of the largest ("largest") or over the limit ("oversize").
#[derive(Debug, Clone, Default)]
pub struct AssessedMessageRow {
    pub mailbox: String,
    pub folder: String,
    pub uid: u32,
    pub size: u64,
    pub kind: String,
}

#[derive(Debug, Clone, Default)]
pub struct RiskRow {
    pub severity: String,
    pub mailbox: Option<String>,
    pub message: String,
}

/// Everything one `cutover assess` found.
#[derive(Debug, Clone, Default)]
pub struct AssessmentRows {
    pub batches: String,
    pub complexity: String,
    pub factors: String,
    pub mailboxes: Vec<AssessedMailboxRow>,
    pub folders: Vec<AssessedFolderRow>,
    pub messages: Vec<AssessedMessageRow>,
    pub risks: Vec<RiskRow>,
}

impl Journal {
    /// Journal an assessment in one transaction; returns its id.
    pub fn save_assessment(&self, a: &AssessmentRows) -> Result<i64> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO assessments(batches, complexity, factors) VALUES (?1, ?2, ?3)",
                params![a.batches, a.complexity, a.factors],
            )?;
            let id = tx.last_insert_rowid()?;
            for m in &a.mailboxes {
                tx.execute(
                    "INSERT INTO assessed_mailboxes(assessment_id, mailbox, batch, src_caps, dst_caps, src_error,
                       dst_error, read_error, folders, messages, bytes, to_copy_bytes, largest, oversize,
                       size_limit, quota_used, quota_limit, probe)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                    params![
                        id,
                        m.mailbox,
                        m.batch,
                        m.src_caps,
                        m.dst_caps,
                        m.src_error,
                        m.dst_error,
                        m.read_error,
                        m.folders as i64,
                        m.messages as i64,
                        m.bytes as i64,
                        m.to_copy_bytes as i64,
                        m.largest as i64,
                        m.oversize as i64,
                        m.size_limit.map(|v| v as i64),
                        m.quota_used.map(|v| v as i64),
                        m.quota_limit.map(|v| v as i64),
                        m.probe
                    ],
                )?;
            }
            for f in &a.folders {
                tx.execute(
                    "INSERT INTO assessed_folders(assessment_id, mailbox, folder, dst_folder, special, messages, bytes, largest)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        id,
                        f.mailbox,
                        f.folder,
                        f.dst_folder,
                        f.special,
                        f.messages as i64,
                        f.bytes as i64,
                        f.largest as i64
                    ],
                )?;
            }
            for m in &a.messages {
                tx.execute(
                    "INSERT INTO assessed_messages(assessment_id, mailbox, folder, uid, size, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, m.mailbox, m.folder, m.uid, m.size as i64, m.kind],
                )?;
            }
            for r in &a.risks {
                tx.execute(
                    "INSERT INTO risks(assessment_id, severity, mailbox, message) VALUES (?1, ?2, ?3, ?4)",
                    params![id, r.severity, r.mailbox, r.message],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
    }

    /// The risks of the newest assessment, with its time: None when nothing was assessed.
    pub fn latest_risks(&self) -> Result<Option<(String, Vec<RiskRow>)>> {
        self.with(|c| {
            let newest: Option<(i64, String)> = c
                .query_row(
                    "SELECT id, at FROM assessments ORDER BY id DESC LIMIT 1",
                    params![],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((id, at)) = newest else {
                return Ok(None);
            };
            let mut st = c.prepare(
                "SELECT severity, mailbox, message FROM risks WHERE assessment_id = ?1 ORDER BY rowid",
            )?;
            let risks = st
                .query_map([id], |r| {
                    Ok(RiskRow {
                        severity: r.get(0)?,
                        mailbox: r.get(1)?,
                        message: r.get(2)?,
                    })
                })?
                .collect::<super::sql::Result<Vec<_>>>()?;
            Ok(Some((at, risks)))
        })
    }

    /// The mailboxes of the newest assessment that covered each mailbox (latest wins).
    pub fn latest_assessed_mailboxes(&self) -> Result<Vec<AssessedMailboxRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mailbox, batch, src_caps, dst_caps, src_error, dst_error, folders, messages, bytes,
                        to_copy_bytes, largest, oversize, size_limit, quota_used, quota_limit, probe, read_error
                 FROM assessed_mailboxes a
                 WHERE assessment_id = (SELECT max(assessment_id) FROM assessed_mailboxes b WHERE b.mailbox = a.mailbox)
                 ORDER BY mailbox",
            )?;
            st.query_map(params![], |r| {
                Ok(AssessedMailboxRow {
                    mailbox: r.get(0)?,
                    batch: r.get(1)?,
                    src_caps: r.get(2)?,
                    dst_caps: r.get(3)?,
                    src_error: r.get(4)?,
                    dst_error: r.get(5)?,
                    folders: r.get::<_, i64>(6)? as u64,
                    messages: r.get::<_, i64>(7)? as u64,
                    bytes: r.get::<_, i64>(8)? as u64,
                    to_copy_bytes: r.get::<_, i64>(9)? as u64,
                    largest: r.get::<_, i64>(10)? as u64,
                    oversize: r.get::<_, i64>(11)? as u64,
                    size_limit: r.get::<_, Option<i64>>(12)?.map(|v| v as u64),
                    quota_used: r.get::<_, Option<i64>>(13)?.map(|v| v as u64),
                    quota_limit: r.get::<_, Option<i64>>(14)?.map(|v| v as u64),
                    probe: r.get(15)?,
                    read_error: r.get(16)?,
                })
            })?
            .collect()
        })
    }
}
