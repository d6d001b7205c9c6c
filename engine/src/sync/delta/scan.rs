//! Scanning one source folder for a delta pass: its UIDs and sizes, what of cutover's copies
//! vanished from it, what is new in it, and its flags (the changes since the last pass's
//! HIGHESTMODSEQ with CONDSTORE, all of them otherwise).

use std::collections::HashSet;

use super::types::{FolderScan, NO_SRC_FLAGS, Skipped};
use crate::endpoint::{EndpointError, FolderState, MailSession};
use crate::journal::{FolderRow, Journal, state};
use crate::sync::types::{FolderJob, SyncError};

/// Scan a folder listed on the source; None when there is nothing a delta pass can compare
/// (a new source UIDVALIDITY, which the copy re-matches by fingerprint, or the folder gone
/// meanwhile) or nothing changed since the last pass (and, with `propagate`, no deletion
/// reported earlier waits to be removed). Of `job`: the folder's name for people, the source
/// UIDs a fail-back wrote (its filter's `exclude`) and the state read before (`seen`).
pub async fn scan_listed(
    store: &Journal,
    row: FolderRow,
    job: &FolderJob,
    propagate: bool,
    skipped: &mut Skipped,
    src: &mut impl MailSession,
) -> Result<Option<FolderScan>, SyncError> {
    let display = job.src_display.as_str();
    let exclude: Option<&HashSet<u32>> = job.filter.as_ref().map(|f| &f.exclude);
    let seen = job.seen.src;
    // Nothing added, removed or re-flagged since the last pass (QRESYNC: an expunge raises
    // HIGHESTMODSEQ too): the folder is passed, on the state read before (`seen`, the
    // mailbox's pipelined STATUS) without opening it, else after one EXAMINE.
    let known = store.src_modseq(row.id)?;
    let covers = src.marker_covers_expunges();
    let unchanged = |st: &FolderState, modseq: Option<u64>| -> Result<bool, SyncError> {
        Ok(covers
            && modseq.is_some()
            && known == modseq
            && row.src_uidnext == Some(st.uidnext)
            && row.src_uidvalidity == Some(st.uidvalidity)
            && (!propagate || store.delta_rows(row.id, None, &["src_deleted"])?.is_empty()))
    };
    if let Some((st, modseq)) = seen
        && unchanged(&st, modseq)?
    {
        return Ok(None);
    }
    let (st, modseq) = match src.examine_changes(&row.src_name).await {
        Ok(v) => v,
        Err(EndpointError::NoFolder { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if let Some(n) = src.take_notice() {
        skipped.note(n);
    }
    let validity = match row.src_uidvalidity {
        Some(v) if v != st.uidvalidity => return Ok(None),
        Some(v) => v,
        // Never opened by a copy yet (a folder new on the source): only a target of moves.
        None => st.uidvalidity,
    };
    if unchanged(&st, modseq)? {
        return Ok(None);
    }
    let listing = src
        .list_uids(1)
        .await?
        .into_iter()
        .map(|m| (m.uid, m.size))
        .collect::<std::collections::HashMap<_, _>>();
    let copied = store.delta_rows(row.id, Some(validity), &[state::COPIED])?;
    let copied_uids: HashSet<u32> = copied.iter().map(|c| c.src_uid).collect();
    let pending: HashSet<u32> = store
        .pending(row.id, validity)?
        .iter()
        .map(|p| p.src_uid)
        .collect();
    let mut new_uids: Vec<u32> = listing
        .keys()
        .copied()
        .filter(|u| *u > row.src_high || pending.contains(u) || row.src_uidvalidity.is_none())
        // What a fail-back wrote into the source is never taken for a message moved there.
        .filter(|u| !exclude.is_some_and(|e| e.contains(u)))
        .collect();
    new_uids.sort_unstable();
    let vanished = copied
        .into_iter()
        .filter(|c| !listing.contains_key(&c.src_uid))
        .filter(|c| c.dst_uid.is_some() && c.dst_uidvalidity == row.dst_uidvalidity)
        .collect();
    // The flags: unchanged since the last pass when the HIGHESTMODSEQ is the same; none
    // compared where the source lists no flags.
    let listed = match (known, modseq) {
        (Some(k), Some(m)) if k == m => Ok(Vec::new()),
        (Some(k), Some(_)) => src.list_flags(None, Some(k)).await,
        _ => src.list_flags(None, None).await,
    };
    let src_flags: std::collections::HashMap<u32, Vec<String>> = match listed {
        Ok(v) => v.into_iter().collect(),
        Err(e) if e.is_unsupported() => {
            skipped.add(NO_SRC_FLAGS);
            Default::default()
        }
        Err(e) => return Err(e.into()),
    };
    // A marker found expired while listing (Gmail's history): said once.
    if let Some(n) = src.take_notice() {
        skipped.note(n);
    }
    // On a Gmail API source a message can leave one label's folder for another it was
    // listed in already (its UID there not new): what the history names is looked at too.
    if gmail_api(src.capabilities()) {
        for u in src_flags.keys() {
            if !copied_uids.contains(u)
                && !new_uids.contains(u)
                && !exclude.is_some_and(|e| e.contains(u))
            {
                new_uids.push(*u);
            }
        }
        new_uids.sort_unstable();
    }
    Ok(Some(FolderScan {
        display: display.to_string(),
        src: row.src_name.clone(),
        dst: row.dst_name.clone(),
        validity,
        listing,
        new_uids,
        vanished,
        src_flags,
        modseq,
        listed: true,
        system_flags_only: gmail_api(src.capabilities()),
        row,
    }))
}

/// A folder of the journal the source no longer lists (deleted or renamed since an earlier
/// run): every message copied from it vanished from the source. With `propagate`, also a
/// folder whose deletions an earlier pass reported, so that they are removed now.
pub fn scan_gone(
    store: &Journal,
    row: FolderRow,
    propagate: bool,
) -> Result<Option<FolderScan>, SyncError> {
    let Some(validity) = row.src_uidvalidity else {
        return Ok(None);
    };
    let vanished: Vec<_> = store
        .delta_rows(row.id, Some(validity), &[state::COPIED])?
        .into_iter()
        .filter(|c| c.dst_uid.is_some() && c.dst_uidvalidity == row.dst_uidvalidity)
        .collect();
    if vanished.is_empty()
        && (!propagate || store.delta_rows(row.id, None, &["src_deleted"])?.is_empty())
    {
        return Ok(None);
    }
    Ok(Some(FolderScan {
        display: crate::mail::utf7::decode_mutf7(&row.src_name),
        src: row.src_name.clone(),
        dst: row.dst_name.clone(),
        validity,
        listing: Default::default(),
        new_uids: Vec::new(),
        vanished,
        src_flags: Default::default(),
        modseq: None,
        listed: false,
        system_flags_only: false,
        row,
    }))
}

/// A Gmail API source: its folders are labels, its keywords (the copy's labels-as-keywords)
/// are not flags it lists.
pub fn gmail_api(caps: &crate::endpoint::Capabilities) -> bool {
    caps.raw.iter().any(|c| c == "GMAIL-API")
}
