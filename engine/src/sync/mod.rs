//! Planning and copying one folder.
//!
//! The journal protocol for one folder ([`copy_folder`]):
//! 1. EXAMINE the source (read-only), SELECT the destination; compare both UIDVALIDITYs with
//!    the journal. A change falls back to fingerprint matching, never to a blind recopy
//!    (`rematch`).
//! 2. If the source UIDNEXT is what the journal saw and nothing is pending: nothing to do
//!    (no FETCH at all).
//! 3. New source UIDs are enumerated (UID and size only) into the journal as `pending`.
//! 4. Messages left `appending` by a crash are resolved against the destination (size, then
//!    fingerprint of candidates above the recorded UID floor) before anything is re-sent
//!    (`in_doubt`).
//! 5. Pending messages stream from a UID FETCH into windows of pipelined APPENDs; each window
//!    is journalled `appending` before it is sent and `copied` (with APPENDUID) after
//!    (`window`). A large folder is cut into UID ranges copied so on several of the
//!    mailbox's connections at once (`split`).
//! 6. A cheap check closes the folder: every UID the journal says it wrote exists on the
//!    destination with the right size (`check`).
//!
//! A delta pass (`cutover sync`, [`delta`]) first mirrors what users did on the source since
//! the last pass (flags, moves between folders, deletions) for the messages cutover copied.
//!
//! [`mapping`] decides which destination folder each source folder lands in, and [`gmail`]
//! plans a Gmail source so that a message with several labels is copied once. The job, its
//! filter, context, outcome and error are in `types`.

mod check;
mod copy;
mod cut_through;
pub mod delta;
pub mod gmail;
mod in_doubt;
pub mod mapping;
#[cfg(test)]
mod mem_session;
mod rematch;
pub mod split;
mod types;
mod window;

pub use copy::{copy_folder, pass_unchanged};
pub(crate) use in_doubt::resolve_in_doubt;
pub use split::{Helper, HelperFuture, Helpers, NoHelpers, RANGE_MSGS};
pub use types::{Ctx, FolderJob, FolderOutcome, Seen, SyncError, Tally, UidFilter};
