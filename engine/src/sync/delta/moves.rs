//! Moves: a message cutover copied that vanished from one source folder and appears, same
//! fingerprint, as a new message in another is moved on the destination, never copied
//! again. Each move is journalled (`moving`, with the target folder's UIDNEXT) before the
//! destination is touched; afterwards the message is found in the target folder by
//! fingerprint above that UIDNEXT, and its row is moved with it (`locate`, which also
//! settles a move an interrupted pass left behind).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::types::{FolderScan, Move, NO_MOVES, Skipped};
use crate::endpoint::MailSession;
use crate::events::{RunStats, Severity};
use crate::journal::{DeltaRow, FolderRow, SyncChange, state};
use crate::sync::types::{Ctx, SyncError};

/// Pair vanished messages with new ones by fingerprint (sizes first, so only candidates of
/// a vanished message's size are downloaded and hashed; every new message where the source
/// lists estimated sizes, as Graph and Gmail do). The matched rows leave the scans'
/// `vanished`.
pub async fn find_moves(
    ctx: &Ctx<'_>,
    scans: &mut [FolderScan],
    src: &mut impl MailSession,
) -> Result<Vec<Move>, SyncError> {
    let sizes: HashSet<u64> = scans
        .iter()
        .flat_map(|s| s.vanished.iter().map(|r| r.size))
        .collect();
    if sizes.is_empty() {
        return Ok(Vec::new());
    }
    // Vanished rows by fingerprint: (scan, row).
    let mut pool: HashMap<String, Vec<(usize, DeltaRow)>> = HashMap::new();
    for (i, s) in scans.iter().enumerate() {
        for r in &s.vanished {
            pool.entry(r.fingerprint.clone())
                .or_default()
                .push((i, r.clone()));
        }
    }
    let mut out = Vec::new();
    let inexact = src.capabilities().inexact_sizes;
    for (to, scan) in scans.iter().enumerate() {
        let cands: Vec<u32> = scan
            .new_uids
            .iter()
            .copied()
            .filter(|u| inexact || scan.listing.get(u).is_some_and(|s| sizes.contains(s)))
            .collect();
        if cands.is_empty() || !scan.listed {
            continue;
        }
        let st = src.examine(&scan.src).await?;
        if st.uidvalidity != scan.validity {
            continue;
        }
        let fps = src.fetch_fingerprints(&cands, 0).await?;
        RunStats::add(&ctx.stats.bodies_fetched, fps.len() as u64);
        RunStats::add(&ctx.stats.bytes_fetched, fps.iter().map(|f| f.size).sum());
        for f in fps {
            let Some(v) = pool.get_mut(&f.fingerprint) else {
                continue;
            };
            // The same folder first (a message re-filed under a new UID), then any other.
            let pick = v.iter().position(|(i, _)| *i == to).unwrap_or(0);
            if v.is_empty() {
                continue;
            }
            let (from, row) = v.remove(pick);
            out.push(Move {
                from,
                to,
                row,
                uid: f.uid,
            });
        }
    }
    let moved: HashSet<i64> = out.iter().map(|m| m.row.id).collect();
    for s in scans.iter_mut() {
        s.vanished.retain(|r| !moved.contains(&r.id));
    }
    Ok(out)
}

/// Carry out the moves on the destination, one pair of folders at a time.
pub async fn apply_moves(
    ctx: &Ctx<'_>,
    mailbox: &str,
    scans: &[FolderScan],
    moves: Vec<Move>,
    skipped: &mut Skipped,
    dst: &mut impl MailSession,
) -> Result<(), SyncError> {
    let mut groups: BTreeMap<(usize, usize), Vec<Move>> = BTreeMap::new();
    for m in moves {
        groups.entry((m.from, m.to)).or_default().push(m);
    }
    for ((from, to), group) in groups {
        if ctx.stop.is_set() {
            return Err(SyncError::Stopped);
        }
        let (a, b) = (&scans[from], &scans[to]);
        let target = ctx.store.folder(b.row.mailbox_id, &b.src, &b.dst)?;
        // The target's destination folder as the journal knows it (a folder new on the
        // source: first opened here, as a copy would).
        let tstate = dst.status(&b.dst).await?;
        let tvalidity = match target.dst_uidvalidity {
            Some(v) if v == tstate.uidvalidity => v,
            Some(_) => continue,
            None => {
                ctx.store
                    .set_dst_uidvalidity(target.id, tstate.uidvalidity)?;
                ctx.store.set_dst_start(target.id, tstate.uidnext)?;
                tstate.uidvalidity
            }
        };
        if target.src_uidvalidity.is_none() {
            ctx.store.set_src_uidvalidity(target.id, b.validity)?;
        }
        let intents: Vec<(i64, i64, u32, u32)> = group
            .iter()
            .map(|m| (m.row.id, target.id, m.uid, b.validity))
            .collect();
        if a.dst == b.dst {
            // Both source folders land in one destination folder: nothing moves there.
            ctx.store.mark_moving(&intents, tstate.uidnext)?;
            for m in &group {
                let uid = m.row.dst_uid.unwrap_or(0);
                ctx.store.finish_move(
                    m.row.id,
                    uid,
                    tvalidity,
                    &change(mailbox, a, b, &m.row, uid),
                )?;
            }
            RunStats::add(&ctx.stats.moves, group.len() as u64);
            continue;
        }
        ctx.store.mark_moving(&intents, tstate.uidnext)?;
        let st = dst.open_for_append(&a.dst).await?;
        let uids: Vec<u32> = group
            .iter()
            .filter(|m| Some(st.uidvalidity) == m.row.dst_uidvalidity)
            .filter_map(|m| m.row.dst_uid)
            .collect();
        match dst.move_messages(&uids, &b.dst).await {
            Ok(()) => {}
            // Left where they are: the copy writes the message into its new folder.
            Err(e) if e.is_unsupported() => {
                for m in &group {
                    ctx.store.undo_move(m.row.id)?;
                }
                skipped.add(NO_MOVES);
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let rows: Vec<DeltaRow> = group
            .into_iter()
            .map(|m| DeltaRow {
                move_to: Some((target.id, m.uid, b.validity, tstate.uidnext)),
                ..m.row
            })
            .collect();
        locate(ctx, mailbox, b.row.mailbox_id, &rows, dst).await?;
    }
    Ok(())
}

fn change(mailbox: &str, a: &FolderScan, b: &FolderScan, row: &DeltaRow, to: u32) -> SyncChange {
    SyncChange {
        mailbox: mailbox.into(),
        kind: "move",
        folder: a.display.clone(),
        to_folder: Some(b.display.clone()),
        dst_uid: row.dst_uid,
        to_dst_uid: Some(to),
        fingerprint: row.fingerprint.clone(),
    }
}

/// Settle rows journalled `moving`: found in the target destination folder (by fingerprint,
/// above the UIDNEXT recorded before the move): moved, the row follows; still in the old
/// folder: not moved (a later pass moves it); in neither: copied again from the source
/// folder it moved to.
pub async fn locate(
    ctx: &Ctx<'_>,
    mailbox: &str,
    mailbox_id: i64,
    rows: &[DeltaRow],
    dst: &mut impl MailSession,
) -> Result<(), SyncError> {
    if rows.is_empty() {
        return Ok(());
    }
    let folders: HashMap<i64, FolderRow> = ctx
        .store
        .folders_of(mailbox_id)?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut groups: BTreeMap<(i64, i64), Vec<&DeltaRow>> = BTreeMap::new();
    for r in rows {
        if let Some((to, ..)) = r.move_to {
            groups.entry((r.folder_id, to)).or_default().push(r);
        }
    }
    for ((from, to), group) in groups {
        let (Some(a), Some(b)) = (folders.get(&from), folders.get(&to)) else {
            continue;
        };
        let show = |f: &FolderRow| crate::mail::utf7::decode_mutf7(&f.src_name);
        let floor = group
            .iter()
            .filter_map(|r| r.move_to.map(|m| m.3))
            .min()
            .unwrap_or(1);
        let tstate = dst.open_for_append(&b.dst_name).await?;
        let mut found: HashMap<String, Vec<u32>> = HashMap::new();
        if Some(tstate.uidvalidity) == b.dst_uidvalidity {
            let owned: HashSet<u32> = ctx
                .store
                .delta_rows(b.id, None, &[state::COPIED])?
                .iter()
                .filter_map(|r| r.dst_uid)
                .collect();
            for f in dst.fetch_fingerprints(&[], floor).await? {
                if f.uid >= floor && !owned.contains(&f.uid) {
                    found.entry(f.fingerprint).or_default().push(f.uid);
                }
            }
        }
        let mut missing = Vec::new();
        for r in group {
            match found.get_mut(&r.fingerprint).and_then(|v| v.pop()) {
                Some(uid) => {
                    let c = SyncChange {
                        mailbox: mailbox.into(),
                        kind: "move",
                        folder: show(a),
                        to_folder: Some(show(b)),
                        dst_uid: r.dst_uid,
                        to_dst_uid: Some(uid),
                        fingerprint: r.fingerprint.clone(),
                    };
                    ctx.store.finish_move(r.id, uid, tstate.uidvalidity, &c)?;
                    RunStats::add(&ctx.stats.moves, 1);
                }
                None => missing.push(r),
            }
        }
        if missing.is_empty() {
            continue;
        }
        let st = dst.open_for_append(&a.dst_name).await?;
        let min = missing.iter().filter_map(|r| r.dst_uid).min().unwrap_or(1);
        let there: HashSet<u32> = if Some(st.uidvalidity) == a.dst_uidvalidity {
            dst.fetch_meta(min).await?.iter().map(|m| m.uid).collect()
        } else {
            HashSet::new()
        };
        for r in missing {
            if r.dst_uid.is_some_and(|u| there.contains(&u)) {
                ctx.store.undo_move(r.id)?;
            } else {
                ctx.store.move_lost(r.id)?;
                ctx.sink.issue(
                    Severity::Warning,
                    "destination",
                    Some(mailbox),
                    Some(&show(b)),
                    r.move_to.map(|m| m.1),
                    "a message being moved on the destination is in neither folder after an \
                     interrupted pass: it is copied again from the source",
                );
            }
        }
    }
    Ok(())
}
