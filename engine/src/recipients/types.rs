//! What the recipients' modules share: what a discovery found, what creating and checking
//! did to each step, the error, and URL-encoding a path segment.

use crate::config::Recipient;
use crate::endpoint::EndpointError;
use crate::journal::JournalError;

/// What a directory API listed.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    /// `graph` or `google`: the journal's origin of what it found.
    pub source: String,
    pub recipients: Vec<Recipient>,
    /// User mailboxes seen.
    pub users: usize,
    /// A user's further addresses (destination address, aliases): set on the destination's
    /// user, not created by cutover.
    pub user_aliases: Vec<(String, Vec<String>)>,
    /// Groups without mail (security groups only): nothing to recreate.
    pub skipped_groups: usize,
    /// What was found and not taken over, for people.
    pub notes: Vec<String>,
}

/// What became of one step on the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// cutover created it now (or a lost answer turned out to have created it).
    Created,
    /// It was there already (made by someone, or by an earlier run of cutover).
    Present,
    /// Cannot be done yet: what it needs is not on the destination (the mailbox, the group,
    /// the member).
    Waiting,
    /// Not for the API: the Exchange Online script does it.
    Script,
}

impl Done {
    pub fn word(self) -> &'static str {
        match self {
            Done::Created => "created",
            Done::Present => "present",
            Done::Waiting => "waiting",
            Done::Script => "script",
        }
    }
}

/// The outcome of one step: the step as people read it, what became of it, why.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub step: String,
    pub done: Done,
    pub detail: String,
}

/// What a read-back found for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// There, as listed (members, aliases and calendar rights included).
    Present,
    /// Not on the destination.
    Missing,
    /// There, but not as listed: what differs.
    Differs(String),
}

/// One recipient's read-back: what was found, and what cannot be verified through the API.
#[derive(Debug, Clone)]
pub struct Checked {
    pub address: String,
    pub kind: String,
    pub found: Found,
    /// FullAccess, SendAs, SendOnBehalf (and calendar rights Graph has no role for).
    pub unverified: Vec<String>,
}

impl Checked {
    /// The journal's state word: present, missing or differs.
    pub fn state(&self) -> &'static str {
        match self.found {
            Found::Present => "present",
            Found::Missing => "missing",
            Found::Differs(_) => "differs",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecipientsError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Setup(String),
}

/// A path segment with everything but unreserved characters percent-encoded.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
