//! Calendars and contacts in a delta pass. An event or contact changed on the source is a
//! newer version under a new source UID (`MailSession::newer_versions`): the copy writes it
//! in place of the version cutover wrote (same resource, `If-Match`), and journals the older
//! row `superseded`; an item a user changed on the destination since cutover wrote it is
//! kept (`AppendOutcome::Kept`, a warning). What this step adds: an item cutover copied that
//! is gone from its source collection, not as an older version of an item still there, is a
//! deletion, reported or propagated by [`super::deletions`] like mail's.

use super::types::{FolderScan, Skipped};
use crate::endpoint::{EndpointError, MailSession};
use crate::journal::state;
use crate::sync::types::{Ctx, FolderJob, SyncError};

/// What a pass leaves out when the source cannot tell a changed item from a deleted one.
pub const NO_ITEM_DELETIONS: &str = "deletions of events and contacts (the source cannot tell \
                                     an item changed from an item deleted: none is reported)";

/// Scan one calendar or address book of the source: the items cutover copied that are gone
/// from it (older versions of items still there excluded). None when there is nothing to
/// compare (never copied yet, a new collection identity, or the collection gone).
pub async fn scan_items(
    ctx: &Ctx<'_>,
    mailbox_id: i64,
    job: &FolderJob,
    skipped: &mut Skipped,
    src: &mut impl MailSession,
) -> Result<Option<FolderScan>, SyncError> {
    let row = ctx.store.folder(mailbox_id, &job.src, &job.dst)?;
    let st = match src.examine(&row.src_name).await {
        Ok(v) => v,
        Err(EndpointError::NoFolder { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(validity) = row.src_uidvalidity.filter(|v| *v == st.uidvalidity) else {
        return Ok(None);
    };
    let listing: std::collections::HashMap<u32, u64> = src
        .fetch_meta(1)
        .await?
        .into_iter()
        .map(|m| (m.uid, m.size))
        .collect();
    let gone: Vec<_> = ctx
        .store
        .delta_rows(row.id, Some(validity), &[state::COPIED])?
        .into_iter()
        .filter(|c| !listing.contains_key(&c.src_uid))
        .filter(|c| c.dst_uid.is_some() && c.dst_uidvalidity == row.dst_uidvalidity)
        .collect();
    let mut vanished = Vec::new();
    if !gone.is_empty() {
        let uids: Vec<u32> = gone.iter().map(|r| r.src_uid).collect();
        let changed: std::collections::HashSet<u32> = match src.newer_versions(&uids).await {
            Ok(v) => v.into_iter().map(|(old, _)| old).collect(),
            Err(e) if e.is_unsupported() => {
                skipped.add(NO_ITEM_DELETIONS);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        vanished = gone
            .into_iter()
            .filter(|r| !changed.contains(&r.src_uid))
            .collect();
    }
    Ok(Some(FolderScan {
        display: job.src_display.clone(),
        src: row.src_name.clone(),
        dst: row.dst_name.clone(),
        validity,
        listing,
        new_uids: Vec::new(),
        vanished,
        src_flags: Default::default(),
        modseq: None,
        listed: true,
        system_flags_only: false,
        row,
    }))
}
