//! Verification: compare source and destination folder by folder.
//!
//! - `check`: the comparison's figures per folder and mailbox, and the fingerprint
//!   comparison (presence: every source message exactly as many times on the destination).
//! - `mailbox`: one mailbox's verification, folder by folder.
//! - `content`: re-reading the messages of a destination whose fingerprints are stamped
//!   properties (Graph) and comparing what they say with the source (`mail::content`).
//! - `record`: the verification journalled with its method and scope, damaged items marked.
//! - `sample`: a reproducible random sample of mailboxes (`cutover verify --sample N%`).

mod check;
mod content;
mod mailbox;
mod record;
mod sample;

pub use check::{Damaged, FolderCheck, MailboxCheck, Method, compare};
pub use mailbox::verify_mailbox;
pub use record::{mark_damaged, record};
pub use sample::{Sample, new_seed, parse_percent};
