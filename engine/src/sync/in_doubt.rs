//! In-doubt APPENDs: messages a crash or an emergency stop left `appending` (or copied
//! without a destination UID) are looked for on the destination, by size then fingerprint
//! above the recorded UID floor, once the folder has settled; found ones are copied, the
//! others go back to pending. Nothing is sent twice.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::endpoint::{EndpointError, MailSession};
use crate::events::{RunStats, Severity};

use super::types::{Ctx, SyncError};

/// Match rows by fingerprint against candidates, each candidate used at most once.
pub(super) fn match_by_fingerprint<'a, T>(
    rows: impl IntoIterator<Item = (i64, &'a str)>,
    candidates: &[(u32, String)],
    claimed: &HashSet<u32>,
    mut on_match: impl FnMut(i64, u32) -> T,
) -> Vec<i64> {
    let mut by_fp: HashMap<&str, Vec<u32>> = HashMap::new();
    for (uid, fp) in candidates.iter().rev() {
        if !claimed.contains(uid) {
            by_fp.entry(fp.as_str()).or_default().push(*uid);
        }
    }
    let mut unmatched = Vec::new();
    for (id, fp) in rows {
        match by_fp.get_mut(fp).and_then(Vec::pop) {
            Some(uid) => {
                on_match(id, uid);
            }
            None => unmatched.push(id),
        }
    }
    unmatched
}

/// Resolve `appending` rows (and copied rows without a destination UID) against the
/// destination: only candidates above the recorded floor with a matching size are downloaded.
pub(crate) async fn resolve_in_doubt<D: MailSession>(
    ctx: &Ctx<'_>,
    folder: &str,
    folder_id: i64,
    dst_validity: u32,
    dst: &mut D,
    issue: &impl Fn(Severity, &str, Option<u32>, &str),
) -> Result<(), SyncError> {
    let store = ctx.store;
    let doubt = store.in_doubt(folder_id)?;
    if doubt.is_empty() {
        return Ok(());
    }
    // A run killed moments ago may still have APPENDs executing on the server: the server
    // goes on with the commands it had already received (a pipelined window), one after the
    // other, each as slow as its fsync. Judge only once they had time to land and the folder
    // has been still for a while.
    let youngest = doubt
        .iter()
        .filter(|d| !d.confirmed)
        .map(|d| d.age_secs)
        .fold(f64::INFINITY, f64::min);
    if youngest < IN_FLIGHT_GRACE.as_secs_f64() {
        let rest = IN_FLIGHT_GRACE.as_secs_f64() - youngest.max(0.0);
        tokio::time::sleep(std::time::Duration::from_secs_f64(rest)).await;
    }
    let floor = doubt.iter().map(|d| d.dst_floor).min().unwrap_or(1);
    let sizes: HashSet<u64> = doubt.iter().map(|d| d.size).collect();
    let claimed: HashSet<u32> = store
        .copied(folder_id)?
        .iter()
        .filter(|c| c.dst_uidvalidity == Some(dst_validity))
        .filter_map(|c| c.dst_uid)
        .collect();
    let exact = !dst.capabilities().inexact_sizes;
    let mut quiet = SETTLE;
    let (found, unmatched) = loop {
        if youngest.is_finite() {
            settle(dst, folder, quiet).await?;
        }
        let metas = dst.fetch_meta(floor).await?;
        let cand: Vec<u32> = metas
            .iter()
            .filter(|m| (!exact || sizes.contains(&m.size)) && !claimed.contains(&m.uid))
            .map(|m| m.uid)
            .collect();
        let fps = if cand.is_empty() {
            Vec::new()
        } else {
            dst.fetch_fingerprints(&cand, 0).await?
        };
        RunStats::add(&ctx.stats.bodies_fetched, fps.len() as u64);
        let candidates: Vec<(u32, String)> =
            fps.into_iter().map(|f| (f.uid, f.fingerprint)).collect();
        let mut found = Vec::new();
        let unmatched: HashSet<i64> = match_by_fingerprint(
            doubt.iter().map(|d| (d.id, d.fingerprint.as_str())),
            &candidates,
            &claimed,
            |id, uid| found.push((id, Some(uid))),
        )
        .into_iter()
        .collect();
        // Not found yet, after a crash recent enough that the server may still be storing
        // what it had received (a stalled fsync can keep the folder still for seconds): look
        // again once the folder has been still for much longer. Sending now would make a
        // second copy if the first one lands afterwards.
        let missing_recent = doubt.iter().any(|d| {
            unmatched.contains(&d.id) && !d.confirmed && d.age_secs < LINGER.as_secs_f64()
        });
        if missing_recent && quiet < SETTLE_LONG {
            quiet = SETTLE_LONG;
            continue;
        }
        break (found, unmatched);
    };
    store.mark_copied(&found, dst_validity)?;
    // An APPEND that never landed goes back to pending; a confirmed one we cannot find
    // any more is reported, not re-sent.
    let mut again = Vec::new();
    let mut confirmed_missing = Vec::new();
    for d in doubt.iter().filter(|d| unmatched.contains(&d.id)) {
        if d.confirmed {
            // UID 0: confirmed stored, not identifiable on the destination any more.
            confirmed_missing.push((d.id, Some(0)));
            issue(
                Severity::Warning,
                "verification",
                Some(d.src_uid),
                "the destination confirmed this message but it cannot be found there now (deleted or changed on the destination?); not sent again",
            );
        } else {
            again.push(d.id);
        }
    }
    store.mark_copied(&confirmed_missing, dst_validity)?;
    store.set_pending(&again)?;
    if !found.is_empty() || !again.is_empty() {
        issue(
            Severity::Info,
            "resume",
            None,
            &format!(
                "resolved {} in-doubt append(s) from an interrupted run: {} found on the destination, {} to send again",
                found.len() + again.len(),
                found.len(),
                again.len()
            ),
        );
    }
    Ok(())
}

/// How long after an APPEND was journalled its outcome may still be pending on the server.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(8);

/// How long the destination's UIDNEXT must stay still before in-doubt APPENDs are judged.
const SETTLE: Duration = Duration::from_millis(1500);

/// How long it must stay still before APPENDs of a recent crash are judged missing and sent
/// again: longer than the longest pause between two stores of a busy server.
const SETTLE_LONG: Duration = Duration::from_secs(6);

/// An interrupted run's APPENDs older than this cannot be landing any more.
const LINGER: Duration = Duration::from_secs(120);

/// How often UIDNEXT is read while waiting for the folder to be still.
const SETTLE_POLL: Duration = Duration::from_millis(500);

/// The longest wait for a folder to be still.
const SETTLE_MAX: Duration = Duration::from_secs(60);

/// Wait until the destination folder's UIDNEXT has not moved for `quiet`. A killed client's
/// APPENDs can still be executing on the server (pipelined commands already in its input
/// buffer, a slow fsync); judging them before they land would send them twice.
async fn settle<D: MailSession>(
    dst: &mut D,
    folder: &str,
    quiet: Duration,
) -> Result<(), SyncError> {
    let start = tokio::time::Instant::now();
    let mut last = dst.status(folder).await?.uidnext;
    let mut still_since = tokio::time::Instant::now();
    while start.elapsed() < SETTLE_MAX {
        tokio::time::sleep(SETTLE_POLL.min(quiet)).await;
        let now = dst.status(folder).await?.uidnext;
        if now != last {
            last = now;
            still_since = tokio::time::Instant::now();
        } else if still_since.elapsed() >= quiet {
            return Ok(());
        }
    }
    Err(SyncError::Endpoint(EndpointError::Protocol {
        op: "resume".into(),
        message: format!(
            "destination folder {folder} keeps growing; another client may be writing to it. \
             Stop it, then run again to resolve interrupted appends"
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matching_uses_each_candidate_once() {
        let cands = vec![
            (10, "a".to_string()),
            (11, "a".to_string()),
            (12, "b".to_string()),
        ];
        let mut got = Vec::new();
        let unmatched = match_by_fingerprint(
            [(1, "a"), (2, "a"), (3, "a"), (4, "b")],
            &cands,
            &HashSet::from([12]),
            |id, uid| got.push((id, uid)),
        );
        assert_eq!(got, vec![(1, 10), (2, 11)]);
        assert_eq!(unmatched, vec![3, 4]);
    }
}
