//! Deletions on the source: a message cutover copied that vanished from the source and was
//! found in no other folder. Reported per mailbox and folder, and left on the destination
//! (`[sync] deletions = "report"`, the default: row `src_deleted`); or removed from the
//! destination (`"propagate"`: row `deleting` before the UID STORE \Deleted + UID EXPUNGE of
//! exactly its UID, `deleted` after), only ever a message cutover itself wrote there.

use super::types::{FolderScan, NO_REMOVALS, Skipped};
use crate::api::ItemKind;
use crate::config::Deletions;
use crate::endpoint::MailSession;
use crate::events::{RunStats, Severity};
use crate::item::folder::kind_of_folder;
use crate::journal::{DeltaRow, SyncChange};
use crate::sync::types::{Ctx, SyncError};

/// What a folder holds, as the report counts it: "message(s)" or "item(s)".
fn noun(folder: &str) -> &'static str {
    match kind_of_folder(folder) {
        ItemKind::Mail => "message(s)",
        _ => "item(s)",
    }
}

pub async fn apply_deletions(
    ctx: &Ctx<'_>,
    mailbox: &str,
    scan: &FolderScan,
    mode: Deletions,
    skipped: &mut Skipped,
    dst: &mut impl MailSession,
) -> Result<(), SyncError> {
    let found = scan.vanished.len() as u64;
    let mut rows: Vec<DeltaRow> = scan.vanished.clone();
    if mode == Deletions::Propagate {
        // Reported by earlier passes (under `report`), removed now.
        rows.extend(ctx.store.delta_rows(scan.row.id, None, &["src_deleted"])?);
    }
    if rows.is_empty() {
        return Ok(());
    }
    RunStats::add(&ctx.stats.deletions, found);
    let change = |r: &DeltaRow, kind: &'static str| SyncChange {
        mailbox: mailbox.into(),
        kind,
        folder: scan.display.clone(),
        to_folder: None,
        dst_uid: r.dst_uid,
        to_dst_uid: None,
        fingerprint: r.fingerprint.clone(),
    };
    let issue = |sev, msg: &str| {
        ctx.sink
            .issue(sev, "source", Some(mailbox), Some(&scan.display), None, msg)
    };
    match mode {
        Deletions::Report => {
            let marks: Vec<_> = rows.iter().map(|r| (r.id, change(r, "reported"))).collect();
            ctx.store.mark_source_deleted(&marks, "src_deleted")?;
            issue(
                Severity::Warning,
                &format!(
                    "{found} {} copied from {} were deleted on the source since the last \
                     pass; they stay on the destination ([sync] deletions = \"report\")",
                    noun(&scan.src),
                    scan.display
                ),
            );
        }
        Deletions::Propagate => {
            if ctx.stop.is_set() {
                return Err(SyncError::Stopped);
            }
            let marks: Vec<_> = rows.iter().map(|r| (r.id, SyncChange::default())).collect();
            ctx.store.mark_source_deleted(&marks, "deleting")?;
            let Some(removed) = remove(
                ctx,
                mailbox,
                &scan.dst,
                &scan.display,
                &rows,
                scan.row.dst_uidvalidity,
                skipped,
                dst,
            )
            .await?
            else {
                return Ok(());
            };
            if removed == 0 {
                return Ok(());
            }
            issue(
                Severity::Info,
                &format!(
                    "{} {} copied from {} and deleted on the source were removed from \
                     the destination ([sync] deletions = \"propagate\")",
                    removed,
                    noun(&scan.src),
                    scan.display
                ),
            );
        }
    }
    Ok(())
}

/// Remove rows journalled `deleting` from their destination folder, then journal them
/// `deleted` (also what settles a removal an interrupted pass left behind: a UID already
/// gone is simply not there any more); how many were removed. Those the destination changed
/// since cutover wrote them (items a user edited there) are kept and back to `src_deleted`.
/// None when the destination cannot remove messages: the rows are then back to
/// `src_deleted` (reported) and `skipped` says so.
#[allow(clippy::too_many_arguments)]
pub async fn remove(
    ctx: &Ctx<'_>,
    mailbox: &str,
    dst_folder: &str,
    display: &str,
    rows: &[DeltaRow],
    dst_validity: Option<u32>,
    skipped: &mut Skipped,
    dst: &mut impl MailSession,
) -> Result<Option<usize>, SyncError> {
    let st = dst.open_for_append(dst_folder).await?;
    let uids: Vec<u32> = rows
        .iter()
        .filter(|r| {
            r.dst_uidvalidity == Some(st.uidvalidity) && dst_validity == Some(st.uidvalidity)
        })
        .filter_map(|r| r.dst_uid)
        .collect();
    let kept = match dst.expunge_unchanged(&uids).await {
        Ok(k) => k,
        Err(e) if e.is_unsupported() => {
            let marks: Vec<_> = rows.iter().map(|r| (r.id, SyncChange::default())).collect();
            ctx.store.mark_source_deleted(&marks, "src_deleted")?;
            skipped.add(NO_REMOVALS);
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    // Changed on the destination since cutover wrote them (an item a user edited there):
    // kept, and back to reported.
    let (kept, rows): (Vec<&DeltaRow>, Vec<&DeltaRow>) = rows
        .iter()
        .partition(|r| r.dst_uid.is_some_and(|u| kept.contains(&u)));
    if !kept.is_empty() {
        let marks: Vec<_> = kept.iter().map(|r| (r.id, SyncChange::default())).collect();
        ctx.store.mark_source_deleted(&marks, "src_deleted")?;
        ctx.sink.issue(
            Severity::Warning,
            "destination",
            Some(mailbox),
            Some(display),
            None,
            &format!(
                "{} {} deleted on the source {} changed on the destination since cutover wrote \
                 them; kept there",
                kept.len(),
                noun(dst_folder),
                if kept.len() == 1 { "was" } else { "were" }
            ),
        );
    }
    let marks: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.id,
                SyncChange {
                    mailbox: mailbox.into(),
                    kind: "removed",
                    folder: display.into(),
                    to_folder: None,
                    dst_uid: r.dst_uid,
                    to_dst_uid: None,
                    fingerprint: r.fingerprint.clone(),
                },
            )
        })
        .collect();
    ctx.store.mark_source_deleted(&marks, "deleted")?;
    RunStats::add(&ctx.stats.removed, rows.len() as u64);
    Ok(Some(rows.len()))
}
