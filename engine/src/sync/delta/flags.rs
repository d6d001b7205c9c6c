//! Flags and keywords: for each message cutover copied whose flags changed on the source
//! since the last pass, exactly the change is set on the destination (UID STORE +FLAGS /
//! -FLAGS). The rule: the source decides content; what cutover last set is journalled
//! (`messages.flags`), and a flag changed on the destination since (users already working
//! there) is kept. A message whose flags cutover never recorded (copied before delta
//! passes) takes the destination's flags as what cutover set.

use std::collections::HashMap;

use super::types::{FolderScan, NO_DST_FLAGS, Skipped, flag_changes, flag_set, flags_text};
use crate::endpoint::MailSession;
use crate::events::RunStats;
use crate::journal::state;
use crate::sync::types::{Ctx, SyncError};

pub async fn carry_flags(
    ctx: &Ctx<'_>,
    scan: &FolderScan,
    skipped: &mut Skipped,
    dst: &mut impl MailSession,
) -> Result<(), SyncError> {
    if !scan.listed {
        return Ok(());
    }
    let row = ctx
        .store
        .folder(scan.row.mailbox_id, &scan.src, &scan.dst)?;
    // The source's flags of a row; where the source lists no keywords, with the keywords
    // cutover set (journalled), so they are neither added nor removed.
    let src_of = |r: &crate::journal::DeltaRow| {
        let mut set = flag_set(scan.src_flags[&r.src_uid].iter().map(String::as_str));
        if scan.system_flags_only {
            let known = r.flags.as_deref().unwrap_or_default();
            for (k, v) in flag_set(known.split(' ').filter(|f| !f.starts_with('\\'))) {
                set.entry(k).or_insert(v);
            }
        }
        set
    };
    // Rows as they are after the moves (a message moved here is compared here).
    let rows: Vec<_> = ctx
        .store
        .delta_rows(row.id, Some(scan.validity), &[state::COPIED])?
        .into_iter()
        .filter(|r| r.dst_uid.is_some() && r.dst_uidvalidity == row.dst_uidvalidity)
        .filter(|r| {
            scan.src_flags.contains_key(&r.src_uid)
                && r.flags
                    .as_deref()
                    .is_none_or(|known| flag_set(known.split(' ')) != src_of(r))
        })
        .collect();
    if !rows.is_empty() {
        if ctx.stop.is_set() {
            return Err(SyncError::Stopped);
        }
        let st = dst.open_for_append(&scan.dst).await?;
        if Some(st.uidvalidity) != row.dst_uidvalidity {
            return Ok(());
        }
        let uids: Vec<u32> = rows.iter().filter_map(|r| r.dst_uid).collect();
        let now: HashMap<u32, Vec<String>> = match dst.list_flags(Some(&uids), None).await {
            Ok(v) => v.into_iter().collect(),
            // Not carried, and the marker stays where it was (a later pass compares again).
            Err(e) if e.is_unsupported() => {
                skipped.add(NO_DST_FLAGS);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let mut journal = Vec::new();
        for r in &rows {
            let uid = r.dst_uid.unwrap_or(0);
            // Gone from the destination: the folder's check reports it.
            let Some(d) = now.get(&uid) else { continue };
            let mut src = src_of(r);
            let d = flag_set(d.iter().map(String::as_str));
            let base = match &r.flags {
                Some(known) => flag_set(known.split(' ')),
                None => d.clone(),
            };
            // Keywords the source cannot list stay as the base has them.
            if scan.system_flags_only {
                for (k, v) in base.iter().filter(|(k, _)| !k.starts_with('\\')) {
                    src.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let (add, remove) = flag_changes(&src, &base, &d);
            if !add.is_empty() || !remove.is_empty() {
                if ctx.stop.is_set() {
                    ctx.store.set_flags(&journal)?;
                    return Err(SyncError::Stopped);
                }
                match dst.set_flags(uid, &add, &remove).await {
                    Ok(()) => {}
                    Err(e) if e.is_unsupported() => {
                        ctx.store.set_flags(&journal)?;
                        skipped.add(NO_DST_FLAGS);
                        return Ok(());
                    }
                    Err(e) => {
                        ctx.store.set_flags(&journal)?;
                        return Err(e.into());
                    }
                }
                RunStats::add(&ctx.stats.flag_changes, 1);
            }
            journal.push((r.id, flags_text(&src)));
        }
        ctx.store.set_flags(&journal)?;
    }
    ctx.store.set_src_modseq(row.id, scan.modseq)?;
    Ok(())
}
