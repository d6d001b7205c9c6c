//! An assessment as a whole, and what can make one fail.

use crate::journal::JournalError;

use super::complexity::Classification;
use super::discovery::MailboxAssessment;
use super::estimate::BatchEstimate;
use super::risks::Risk;

#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(
        "cannot write the CSV report {path}: {message} (check the directory exists and is writable)"
    )]
    Csv { path: String, message: String },
    #[error("no mailbox in batch(es) {0}: name batches the project file defines")]
    NoMailbox(String),
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub batches: Vec<String>,
    pub mailboxes: Vec<MailboxAssessment>,
    pub classification: Classification,
    pub risks: Vec<Risk>,
    pub estimates: Vec<BatchEstimate>,
    /// (bytes, seconds, runs) measured in the journal.
    pub throughput: Option<(u64, f64, u32)>,
}
