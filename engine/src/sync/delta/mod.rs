//! Delta passes (`cutover sync`): before new mail is copied, what users did on the source
//! since the last pass is mirrored on the destination, for the messages cutover copied.
//!
//! 1. `resume`: rows an interrupted pass left `moving` or `deleting` are settled against the
//!    destination first (found in the target folder by fingerprint above the recorded
//!    UIDNEXT: moved; still in the old folder: not moved; in neither: copied again).
//! 2. `scan`: per folder, the source's UIDs and sizes, and the flags (with CONDSTORE only
//!    those changed since the HIGHESTMODSEQ of the last pass, else all of them).
//! 3. `moves`: a copied message gone from its folder whose fingerprint appears as a new
//!    message in another (or the same) folder is moved on the destination (UID MOVE, or UID
//!    COPY + UID EXPUNGE of exactly that UID), its journal row moved with it: never copied
//!    twice. A source folder gone (deleted, renamed) counts as a folder whose messages all
//!    vanished, so a renamed folder's messages are moved, not copied again.
//! 4. `deletions`: what vanished and was not found elsewhere is reported (`[sync] deletions =
//!    "report"`) or removed from the destination (`"propagate"`), only cutover's own rows.
//! 5. `flags`: flags changed on the source since the last pass are set on the destination
//!    (UID STORE of exactly what changed); a flag changed on the destination alone is kept.
//!
//! 6. `items`: calendars and contacts. An event or contact changed on the source is written
//!    again by the copy in place of cutover's version (never a second copy; one a user changed
//!    on the destination since is kept, a warning); one cutover copied that is gone from the
//!    source collection is a deletion for step 4 (and a removal only where the destination
//!    still holds exactly what cutover wrote).
//!
//! The steps name IMAP's commands, but they ask the endpoints through [`MailSession`]
//! (`examine_changes`, `list_flags`, `set_flags`, `move_messages`, `expunge_uids`): an
//! endpoint that cannot do one answers `EndpointError::Unsupported`, that part is left out
//! (a move undone in the journal, a removal back to reported) and `types::Skipped` says so
//! once per mailbox at the end of the pass.
//!
//! [`MailSession`]: crate::endpoint::MailSession

mod deletions;
mod flags;
mod items;
mod moves;
mod pass;
mod resume;
mod scan;
mod types;

pub use pass::delta_pass;
pub use resume::resume_unfinished;
/// Flag sets as a delta pass compares them (the copy journals what it set with them).
pub use types::{flag_set, flags_text};
