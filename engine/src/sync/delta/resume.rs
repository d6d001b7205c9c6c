//! Before a delta pass: settle what an interrupted one left `moving` (see
//! [`super::moves::locate`]) or `deleting` (removed again: a UID already gone is simply not
//! there), so that nothing is copied twice and nothing is lost after a `kill -9`.

use std::collections::{BTreeMap, HashMap};

use super::deletions::remove;
use super::moves::locate;
use super::types::Skipped;
use crate::endpoint::MailSession;
use crate::journal::DeltaRow;
use crate::sync::types::{Ctx, SyncError};

pub async fn resume_unfinished(
    ctx: &Ctx<'_>,
    mailbox: &str,
    mailbox_id: i64,
    dst: &mut impl MailSession,
) -> Result<(), SyncError> {
    let mut skipped = Skipped::default();
    resume(ctx, mailbox, mailbox_id, &mut skipped, dst).await?;
    skipped.report(ctx, mailbox);
    Ok(())
}

/// [`resume_unfinished`] within a pass, which reports what was left out once at its end.
pub async fn resume(
    ctx: &Ctx<'_>,
    mailbox: &str,
    mailbox_id: i64,
    skipped: &mut Skipped,
    dst: &mut impl MailSession,
) -> Result<(), SyncError> {
    let rows = ctx.store.unfinished_delta(mailbox_id)?;
    if rows.is_empty() {
        return Ok(());
    }
    let (moving, deleting): (Vec<DeltaRow>, Vec<DeltaRow>) =
        rows.into_iter().partition(|r| r.move_to.is_some());
    locate(ctx, mailbox, mailbox_id, &moving, dst).await?;
    let folders: HashMap<i64, _> = ctx
        .store
        .folders_of(mailbox_id)?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut by_folder: BTreeMap<i64, Vec<DeltaRow>> = BTreeMap::new();
    for r in deleting {
        by_folder.entry(r.folder_id).or_default().push(r);
    }
    for (id, rows) in by_folder {
        let Some(f) = folders.get(&id) else { continue };
        let display = crate::mail::utf7::decode_mutf7(&f.src_name);
        remove(
            ctx,
            mailbox,
            &f.dst_name,
            &display,
            &rows,
            f.dst_uidvalidity,
            skipped,
            dst,
        )
        .await?;
    }
    Ok(())
}
