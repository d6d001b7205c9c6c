//! A folder renumbered (a new UIDVALIDITY) on either side: the journal is carried over by
//! fingerprint, never by a blind recopy.

use std::collections::{HashMap, HashSet};

use crate::endpoint::MailSession;
use crate::engine::events::RunStats;

use super::in_doubt::match_by_fingerprint;
use super::types::{Ctx, SyncError};

/// The source folder got a new UIDVALIDITY: carry the journal over by fingerprint.
pub(super) async fn rematch_source<S: MailSession>(
    ctx: &Ctx<'_>,
    folder_id: i64,
    validity: u32,
    src: &mut S,
) -> Result<(), SyncError> {
    let store = ctx.store;
    let old = store.copied_other_validity(folder_id, validity)?;
    if old.is_empty() {
        return Ok(());
    }
    let fps = src.fetch_fingerprints(&[], 1).await?;
    RunStats::add(&ctx.stats.bodies_fetched, fps.len() as u64);
    let mut by_fp: HashMap<&str, Vec<i64>> = HashMap::new();
    for o in old.iter().rev() {
        by_fp.entry(o.fingerprint.as_str()).or_default().push(o.id);
    }
    for f in &fps {
        if let Some(old_id) = by_fp.get_mut(f.fingerprint.as_str()).and_then(Vec::pop) {
            store.carry_over(old_id, validity, f.uid)?;
        }
    }
    Ok(())
}

/// The destination folder got a new UIDVALIDITY: find every copied message again by
/// fingerprint; what is really gone from the destination is copied again.
pub(super) async fn rematch_destination<D: MailSession>(
    ctx: &Ctx<'_>,
    folder_id: i64,
    dst_validity: u32,
    dst: &mut D,
) -> Result<(), SyncError> {
    let store = ctx.store;
    let copied = store.copied(folder_id)?;
    let fps = dst.fetch_fingerprints(&[], 1).await?;
    RunStats::add(&ctx.stats.bodies_fetched, fps.len() as u64);
    // Highest UIDs first: cutover's copies came after whatever the folder held before, and
    // renumbering keeps the order, so an identical older message stays the user's.
    let mut candidates: Vec<(u32, String)> =
        fps.into_iter().map(|f| (f.uid, f.fingerprint)).collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut found = Vec::new();
    let missing = match_by_fingerprint(
        copied.iter().map(|c| (c.id, c.fingerprint.as_str())),
        &candidates,
        &HashSet::new(),
        |id, uid| found.push((id, Some(uid))),
    );
    store.mark_copied(&found, dst_validity)?;
    store.set_pending(&missing)?;
    Ok(())
}
