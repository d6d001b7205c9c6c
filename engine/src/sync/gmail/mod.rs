//! Gmail as a source: each message copied once.
//!
//! Gmail shows each label as a folder and every message (but Spam and Trash) again in
//! `[Gmail]/All Mail`; a message with two labels shows in three folders. A folder-by-folder
//! copy would multiply it. For a Gmail-shaped source (`preset = "gmail"`, `kind = "gmail"`, a
//! `[source.gmail]` table, or a source listing a `\All` folder named `[Gmail]/All Mail` or
//! `[Google Mail]/All Mail`), a pre-pass over the mailbox's folders fetches every message's
//! identity without its body, decides which folder(s) own it, and hands each folder job the
//! UIDs it owns (a [`UidFilter`](crate::sync::UidFilter) with `only`) and the keywords to add.
//!
//! - Owner order: INBOX, Sent, Drafts, then user labels by name (case-insensitive, then
//!   exact), then Spam and Trash (when included). All Mail comes last: a message seen in no
//!   other folder is owned by its All Mail sighting, which is copied into the destination's
//!   Archive folder (its `\Archive` folder, else one named Archive, else Archive is created).
//! - `first-label` (default): one copy, in the first label's folder; the other labels become
//!   IMAP keywords on that copy ([`keyword_atom`]). `copy-per-label`: one copy in each
//!   label's folder; All Mail is still never copied besides.
//! - `[Gmail]/Starred` and `[Gmail]/Important` are views, never folders of their own
//!   (Starred is the `\Flagged` flag, copied with the message); Spam and Trash are left out
//!   unless `include_spam` / `include_trash`.
//! - Identity: the provider's id (X-GM-MSGID, when the server offers X-GM-EXT-1, or the Gmail
//!   API id), else Message-ID plus RFC822.SIZE, else (no Message-ID) the content fingerprint,
//!   for which the body is downloaded once. Several messages with the same identity in one
//!   folder are told apart by their order there (an ordinal in the identity).
//!
//! Decisions are journalled per sighting (`gmail_seen`) before anything is copied, and never
//! revised: a rerun or a resume only decides sightings it has not seen (UIDs above those
//! recorded), so a message copied once is never copied again from another folder. All Mail
//! is listed first: mail arriving during the pre-pass then shows in its label (and is owned
//! there) rather than in All Mail alone. Duplicates never enter the copy journal: they are
//! neither copied nor skipped, and are counted apart (an Info issue per run, and
//! `Journal::gmail_counts`).
//!
//! The modules, by concern:
//! - `roles`: what each source folder is, whether a source is Gmail-shaped, the mapping's
//!   adjustments;
//! - `decide`: identities, sightings and the decision (pure);
//! - `prepass`: the pre-pass over a mailbox's folders, journalled;
//! - `plan`: the plan's per-folder filters, and the keywords a destination refuses;
//! - `verify`: what verification expects of a Gmail source.

mod decide;
mod plan;
mod prepass;
mod roles;
mod verify;

pub use decide::{Decision, Identity, Known, LabelFolder, Sighting, decide, keyword_atom};
pub use plan::{GmailPlan, merge_filter, warn_refused_keywords};
pub use prepass::prepass;
pub use roles::{ALL_MAIL_WHY, Role, adjust_mappings, detect, role_of};
pub use verify::{Owned, owned_sightings, restrict_for_verify};
