//! What a folder copy takes and gives: the job the mailbox planner resolved, the filter of
//! UIDs it may copy, the context it reports to, its outcome and its error.

use std::collections::{HashMap, HashSet};

use crate::endpoint::EndpointError;
use crate::events::{Halt, RunStats, Sink};
use crate::journal::{FolderRow, Journal, JournalError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("stopped by the operator")]
    Stopped,
    #[error("verification failed: {0}")]
    Verification(String),
    /// Refused until the operator does something first (the message says what).
    #[error("{0}")]
    Blocked(String),
    /// A folder that could not be copied (the message names it and says why); the other
    /// folders go on, the mailbox is not complete.
    #[error("{0}")]
    Refused(String),
    #[error(
        "{failed} message(s) of this mailbox were refused by the destination, the error budget \
         (max_failed_messages = {budget}): the mailbox stops rather than refuse more; see the \
         refused issues, fix the cause, then run again"
    )]
    ErrorBudget { failed: u64, budget: usize },
}

impl SyncError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Endpoint(e) if e.is_transient())
    }

    /// The journal could not be read or written: nothing more of the mailbox can be done
    /// safely, and the command ends with exit 9.
    pub fn is_journal(&self) -> bool {
        match self {
            SyncError::Journal(_) => true,
            SyncError::Endpoint(e) => e.is_journal(),
            _ => false,
        }
    }
}

/// One folder to copy, as the mailbox planner resolved it.
#[derive(Debug, Clone)]
pub struct FolderJob {
    pub mailbox: String,
    pub row: FolderRow,
    /// Source folder name on the wire, and for people.
    pub src: String,
    pub src_display: String,
    pub dst: String,
    /// The mailbox's error budget (`max_failed_messages`).
    pub max_failed: usize,
    /// Which source messages this job may copy (fail-back, and the forward direction after
    /// a fail-back); all when None.
    pub filter: Option<std::sync::Arc<UidFilter>>,
    /// Both sides' state of the folder read before it is opened, for the whole mailbox in
    /// one round trip per side (see [`crate::endpoint::MailSession::statuses`]): an unchanged
    /// folder is then passed without opening it ([`super::copy::pass_unchanged`]).
    pub seen: Seen,
}

/// A folder's state read without opening it: the source's with its change marker
/// (HIGHESTMODSEQ), the destination's. None where unknown (then the folder is opened).
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    pub src: Option<(crate::endpoint::FolderState, Option<u64>)>,
    pub dst: Option<crate::endpoint::FolderState>,
}

/// Source UIDs a job copies: at or above `min_uid`, and not in `exclude` (messages cutover
/// itself wrote in the other direction); with `only`, just those (a Gmail source: the UIDs
/// this folder owns, see [`super::gmail`]).
#[derive(Debug, Clone, Default)]
pub struct UidFilter {
    pub min_uid: u32,
    pub exclude: HashSet<u32>,
    /// When set, only these UIDs are copied; the others are passed over for good.
    pub only: Option<HashSet<u32>>,
    /// When set, UIDs above it were not planned yet: they are neither enumerated nor passed
    /// over, so that a later run plans and copies them.
    pub upto: Option<u32>,
    /// Keywords added to a message's own flags when it is copied (Gmail's other labels).
    pub keywords: HashMap<u32, Vec<String>>,
    /// The source UIDVALIDITY `only` and `upto` were planned under: under another one
    /// (renumbered in between) nothing is planned, and the next run plans again.
    pub validity: Option<u32>,
    /// UIDs passed over by an earlier run that are to be copied now (a Gmail message whose
    /// owning label was removed before it was copied): enumerated again below the folder's
    /// high-water mark.
    pub reclaim: HashSet<u32>,
}

#[derive(Debug, Default, Clone)]
pub struct FolderOutcome {
    pub appended: u64,
    pub skipped: u64,
    pub unchanged: bool,
}

/// Messages and bytes a folder's copy stored so far, shared by the ranges of a folder split
/// across connections: the progress events carry the folder's totals.
#[derive(Debug, Default)]
pub struct Tally {
    copied: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
}

impl Tally {
    /// Add a window's messages and bytes; the folder's totals after it.
    pub fn add(&self, copied: u64, bytes: u64) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.copied.fetch_add(copied, Relaxed) + copied,
            self.bytes.fetch_add(bytes, Relaxed) + bytes,
        )
    }
}

pub struct Ctx<'a> {
    pub store: &'a Journal,
    pub sink: &'a Sink,
    pub stop: &'a Halt,
    pub stats: &'a RunStats,
}
