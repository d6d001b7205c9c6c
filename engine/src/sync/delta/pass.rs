//! One mailbox's delta pass, its steps in order (see [`super`]).

use super::deletions::apply_deletions;
use super::flags::carry_flags;
use super::items::scan_items;
use super::moves::{apply_moves, find_moves};
use super::resume::resume;
use super::scan::{scan_gone, scan_listed};
use super::types::Skipped;
use crate::config::Deletions;
use crate::endpoint::MailSession;
use crate::item::folder::kind_of_folder;
use crate::journal::folder_state;
use crate::sync::types::{Ctx, FolderJob, SyncError};

/// Mirror on the destination what users did on the source since the last pass, for the
/// folders of `jobs` (Gmail-planned folders are left to the copy; of calendars and address
/// books, deletions: their changed items are written again by the copy, see [`super::items`]). New mail is then copied by the folder copies as in any run. What an endpoint
/// cannot do (`EndpointError::Unsupported`) is left out and said once for the mailbox.
/// True when some folder changed since the last pass (the destination may have changed too).
pub async fn delta_pass(
    ctx: &Ctx<'_>,
    mailbox: &str,
    mailbox_id: i64,
    jobs: &[FolderJob],
    deletions: Deletions,
    src: &mut impl MailSession,
    dst: &mut impl MailSession,
) -> Result<bool, SyncError> {
    let mut skipped = Skipped::default();
    resume(ctx, mailbox, mailbox_id, &mut skipped, dst).await?;
    let mut scans = Vec::new();
    let mut item_scans = Vec::new();
    // A Gmail API source lists each label's messages as its own (a message moved between
    // labels leaves one listing and turns up, under a new UID, in another), so its planned
    // folders are compared as any; an IMAP Gmail source's are not (All Mail lists them all).
    let gmail_api = super::scan::gmail_api(src.capabilities());
    for job in jobs {
        // A Gmail plan decides per UID which folder copies a message: left to the copy
        // (but on a Gmail API source). A fail-back's filter only excludes what fail-back
        // wrote into the source folder.
        let planned = !gmail_api
            && job
                .filter
                .as_ref()
                .is_some_and(|f| f.only.is_some() || f.upto.is_some() || !f.reclaim.is_empty());
        // Calendars and contacts (a Gmail source's plan covers them too: only copied rows
        // are compared, whatever the plan).
        if kind_of_folder(&job.src) != crate::api::ItemKind::Mail {
            if ctx.stop.is_set() {
                return Err(SyncError::Stopped);
            }
            if let Some(s) = scan_items(ctx, mailbox_id, job, &mut skipped, src).await? {
                item_scans.push(s);
            }
            continue;
        }
        if planned {
            continue;
        }
        if ctx.stop.is_set() {
            return Err(SyncError::Stopped);
        }
        let row = ctx.store.folder(mailbox_id, &job.src, &job.dst)?;
        if let Some(s) = scan_listed(
            ctx.store,
            row,
            job,
            deletions == Deletions::Propagate,
            &mut skipped,
            src,
        )
        .await?
        {
            scans.push(s);
        }
    }
    // Folders the source no longer lists: their messages vanished (a renamed folder's
    // reappear in the new one and are moved there).
    for row in ctx.store.folders_of(mailbox_id)? {
        let listed = jobs.iter().any(|j| j.src == row.src_name);
        if listed || ctx.store.folder_state_of(row.id)?.as_deref() != Some(folder_state::GONE) {
            continue;
        }
        // A calendar or address book deleted whole: its items are deletions (never moves).
        let items = kind_of_folder(&row.src_name) != crate::api::ItemKind::Mail;
        if let Some(s) = scan_gone(ctx.store, row, deletions == Deletions::Propagate)? {
            if items {
                item_scans.push(s);
            } else {
                scans.push(s);
            }
        }
    }
    let moves = find_moves(ctx, &mut scans, src).await?;
    apply_moves(ctx, mailbox, &scans, moves, &mut skipped, dst).await?;
    for scan in scans.iter().chain(&item_scans) {
        apply_deletions(ctx, mailbox, scan, deletions, &mut skipped, dst).await?;
    }
    for scan in &scans {
        carry_flags(ctx, scan, &mut skipped, dst).await?;
    }
    skipped.report(ctx, mailbox);
    Ok(!scans.is_empty() || !item_scans.is_empty())
}
