//! A large folder split across the mailbox's connections, so that one big INBOX is not held
//! to one connection's window of round trips.
//!
//! Once a folder's pending messages are known (and what a crash left in doubt resolved),
//! a folder with at least [`Helpers::split_from`] of them, or [`SPLIT_BYTES`], is cut into
//! ranges of consecutive source UIDs (about eight, see [`cut`]). The folder's own pair of
//! connections takes ranges one after another, streamed; so does every helper: another source and
//! destination pair on one of the mailbox's free connection slots (a slot frees when a
//! folder worker of the mailbox has no folder left), with the same folder EXAMINEd and
//! SELECTed under the same UIDVALIDITYs.
//! Helpers are looked for when the copy starts and every [`RECRUIT_EVERY`] after.
//!
//! Each range is copied exactly as a whole folder is ([`super::window`]): one UID FETCH
//! streaming into windows, each window journalled `appending` before it is sent and
//! `copied` after, with the destination UID floor its own connection saw (a floor stays a
//! true lower bound: a UID the server gave out after it was read is higher). After the
//! last range the folder is checked once, on the folder's own connection, over every UID
//! the journal recorded. A range that fails (a lost connection) stops the others taking
//! new ranges; the folder fails with that error and the worker's retry resolves what is
//! in doubt and copies what is still pending, as for any interrupted folder.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::endpoint::MailSession;
use crate::journal::PendingRow;

use super::types::{Ctx, FolderJob, FolderOutcome, SyncError, Tally};
use super::window::copy_pending;

/// Messages per range of a split folder at most (one UID FETCH's worth), and at least.
pub const RANGE_MSGS: usize = 500;
const RANGE_MIN: usize = 100;

/// A folder holding at least this many bytes to copy is split whatever its number of
/// messages (two ranges' worth of [`RANGE_MIN_BYTES`]): a few hundred large messages take a
/// connection as long as thousands of small ones.
pub const SPLIT_BYTES: u64 = 2 * RANGE_MIN_BYTES;
/// A range is closed at an eighth of the folder's bytes, but never under this.
const RANGE_MIN_BYTES: u64 = 1024 * 1024;

/// Messages per range for `n` pending: about eight ranges, so that up to eight connections
/// share the folder and the last range is short.
fn range_msgs(n: usize) -> usize {
    (n / 8).clamp(RANGE_MIN, RANGE_MSGS)
}

/// `pending` cut into ranges of consecutive UIDs: each closed at [`range_msgs`] messages or
/// at an eighth of the bytes (at least [`RANGE_MIN_BYTES`]), whichever comes first. A range
/// that holds several eighths of the bytes (a large message closed it) is handed out
/// first: taken last, it would cross both links alone on one connection while the others
/// are done. The other ranges keep their UID order.
fn cut(pending: &[PendingRow]) -> VecDeque<&[PendingRow]> {
    let msgs = range_msgs(pending.len());
    let bytes = (pending.iter().map(|p| p.size).sum::<u64>() / 8).max(RANGE_MIN_BYTES);
    let mut out = VecDeque::new();
    let (mut start, mut acc) = (0, 0u64);
    for (i, p) in pending.iter().enumerate() {
        acc += p.size;
        if i + 1 - start >= msgs || acc >= bytes {
            out.push_back(&pending[start..=i]);
            (start, acc) = (i + 1, 0);
        }
    }
    if start < pending.len() {
        out.push_back(&pending[start..]);
    }
    // Stable: ranges of about an eighth each stay in UID order.
    let eighths = |r: &&[PendingRow]| r.iter().map(|p| p.size).sum::<u64>() / bytes;
    out.make_contiguous()
        .sort_by_key(|r| std::cmp::Reverse(eighths(r).max(1)));
    out
}
/// How often a split folder's copy looks for a free connection slot (a cheap look: a
/// worker that ran out of folders leaves its connections at any moment).
const RECRUIT_EVERY: Duration = Duration::from_millis(50);

/// A helper's pair of sessions, and its place among the mailbox's connections (given back
/// when the helper is dropped).
pub struct Helper<S, D> {
    pub src: S,
    pub dst: D,
    pub slot: Box<dyn Send + Sync>,
}

/// A helper being connected (None when it could not be).
pub type HelperFuture<'a, S, D> = Pin<Box<dyn Future<Output = Option<Helper<S, D>>> + Send + 'a>>;

/// Where a folder's copy finds more connections.
pub trait Helpers<S, D>: Sync {
    /// A folder with at least this many messages to copy, or [`SPLIT_BYTES`] of them, is
    /// split (0: never).
    fn split_from(&self) -> usize;
    /// A helper when one of the mailbox's connection slots is free now, else None.
    fn try_helper(&self) -> Option<HelperFuture<'_, S, D>>;
    /// A split folder's copy starts (`true`) or ends (`false`): while one runs, connections
    /// that run out of folders are worth keeping for it.
    fn splitting(&self, on: bool) {
        let _ = on;
    }
}

/// No helpers: every folder on its own connection pair.
pub struct NoHelpers;

impl<S, D> Helpers<S, D> for NoHelpers {
    fn split_from(&self) -> usize {
        0
    }
    fn try_helper(&self) -> Option<HelperFuture<'_, S, D>> {
        None
    }
}

/// What every range of one folder's copy shares.
struct Shared<'a> {
    ctx: &'a Ctx<'a>,
    job: &'a FolderJob,
    /// Every pending message of the folder; `ranges` are what no connection took yet.
    pending: &'a [PendingRow],
    ranges: Mutex<VecDeque<&'a [PendingRow]>>,
    /// A range failed: no new range is taken.
    failed: AtomicBool,
    limit_after_read: Option<u64>,
    src_validity: u32,
    dst_validity: u32,
    dst_uidnext: u32,
    tally: Tally,
}

impl Shared<'_> {
    fn next(&self) -> Option<&[PendingRow]> {
        if self.failed.load(Relaxed) || self.ctx.stop.is_set() {
            return None;
        }
        self.ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn has_more(&self) -> bool {
        !self.failed.load(Relaxed)
            && !self.ctx.stop.is_set()
            && !self
                .ranges
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// Take ranges until none is left (or one failed), streamed on one connection pair.
    async fn run<S: MailSession, D: MailSession>(
        &self,
        src: &mut S,
        dst: &mut D,
    ) -> (FolderOutcome, Result<(), SyncError>) {
        let mut out = FolderOutcome::default();
        let r = copy_pending(
            self.ctx,
            self.job,
            self.pending,
            &|| self.next(),
            self.limit_after_read,
            self.dst_validity,
            self.dst_uidnext,
            src,
            dst,
            &self.tally,
            &mut out,
        )
        .await;
        if r.is_err() {
            self.failed.store(true, Relaxed);
        }
        (out, r)
    }

    /// A helper: open the folder on both sides (same UIDVALIDITYs, else it stays out), take
    /// ranges, log out. Its connections count as ranges copied by it.
    async fn help<S: MailSession, D: MailSession>(
        &self,
        mut h: Helper<S, D>,
    ) -> (FolderOutcome, Result<(), SyncError>, bool) {
        // Both sides at once: one round trip.
        let opened = match tokio::join!(
            h.src.examine(&self.job.src),
            h.dst.open_for_append(&self.job.dst)
        ) {
            (Ok(s), Ok(d)) => {
                Ok(s.uidvalidity == self.src_validity && d.uidvalidity == self.dst_validity)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        if !matches!(opened, Ok(true)) {
            tracing::info!(
                mailbox = %self.job.mailbox,
                folder = %self.job.src_display,
                "a helper connection could not open the folder as the copy sees it ({opened:?}); it leaves"
            );
            return (FolderOutcome::default(), Ok(()), false);
        }
        let (out, r) = self.run(&mut h.src, &mut h.dst).await;
        if r.is_ok() {
            h.src.logout().await;
            h.dst.logout().await;
        }
        (out, r, true)
    }
}

/// Copy `pending` (the folder's pending messages, in UID order) on `src`/`dst`, split
/// across helpers when there are enough of them; the folder's totals in `outcome`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn copy_split<S: MailSession, D: MailSession, H: Helpers<S, D>>(
    ctx: &Ctx<'_>,
    job: &FolderJob,
    pending: &[PendingRow],
    limit_after_read: Option<u64>,
    src_validity: u32,
    dst_validity: u32,
    dst_uidnext: u32,
    src: &mut S,
    dst: &mut D,
    helpers: &H,
    outcome: &mut FolderOutcome,
) -> Result<(), SyncError> {
    let from = helpers.split_from();
    let bytes: u64 = pending.iter().map(|p| p.size).sum();
    let split = from > 0 && pending.len() >= 2 && (pending.len() >= from || bytes >= SPLIT_BYTES);
    let shared = Shared {
        ctx,
        job,
        pending,
        ranges: Mutex::new(if split {
            cut(pending)
        } else {
            VecDeque::from([pending])
        }),
        failed: AtomicBool::new(false),
        limit_after_read,
        src_validity,
        dst_validity,
        dst_uidnext,
        tally: Tally::default(),
    };
    let ranges = shared
        .ranges
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    /// Says the split's end however the copy ends (a stop drops it mid-way).
    struct Splitting<'h, S, D, H: Helpers<S, D>>(&'h H, std::marker::PhantomData<fn(S, D)>);
    impl<S, D, H: Helpers<S, D>> Drop for Splitting<'_, S, D, H> {
        fn drop(&mut self) {
            self.0.splitting(false);
        }
    }
    let _splitting = split.then(|| {
        helpers.splitting(true);
        Splitting(helpers, std::marker::PhantomData)
    });
    let (results, connections) = {
        let own = shared.run(src, dst);
        tokio::pin!(own);
        let mut own_result = None;
        let mut connecting = FuturesUnordered::new();
        let mut helping = FuturesUnordered::new();
        let mut results = Vec::new();
        let mut connections = 1;
        let mut tick = tokio::time::interval(RECRUIT_EVERY);
        loop {
            if split && shared.has_more() {
                while connecting.len() + helping.len() + 1 < ranges {
                    match helpers.try_helper() {
                        Some(f) => connecting.push(f),
                        None => break,
                    }
                }
            }
            if own_result.is_some()
                && helping.is_empty()
                && (connecting.is_empty() || !shared.has_more())
            {
                // Helpers still connecting have nothing left to take: dropped.
                break;
            }
            tokio::select! {
                r = &mut own, if own_result.is_none() => own_result = Some(r),
                Some(h) = connecting.next() => {
                    if let Some(h) = h {
                        helping.push(shared.help(h));
                        // Said as it happens too: a run killed before the end leaves it.
                        tracing::info!(
                            mailbox = %job.mailbox,
                            folder = %job.src_display,
                            "folder split across {} connections so far ({ranges} ranges)",
                            helping.len() + 1
                        );
                    }
                }
                Some((out, r, joined)) = helping.next() => {
                    if joined {
                        connections += 1;
                    }
                    results.push((out, r));
                }
                _ = tick.tick() => {}
            }
        }
        results.extend(own_result);
        (results, connections)
    };
    if split {
        tracing::info!(
            mailbox = %job.mailbox,
            folder = %job.src_display,
            messages = pending.len(),
            ranges,
            "folder split across {connections} connections ({ranges} ranges)"
        );
    }
    let mut first_err: Option<SyncError> = None;
    for (out, r) in results {
        outcome.appended += out.appended;
        outcome.skipped += out.skipped;
        if let Err(e) = r {
            // The error that says most: anything before an operator's stop.
            if first_err
                .as_ref()
                .is_none_or(|f| matches!(f, SyncError::Stopped) && !matches!(e, SyncError::Stopped))
            {
                first_err = Some(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    if connections > 1 {
        // The folder's own session saw only its own APPENDs (a server updates a selected
        // folder's view at its own pace): select it again, so that the check after the copy
        // sees what the helpers stored too.
        dst.open_for_append(&job.dst).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    use crate::sync::mem_session::{Fixture, MemSession};

    /// Up to `left` helpers, each a new session pair on the same source and destination.
    struct Give {
        left: AtomicUsize,
        src: MemSession,
        dst: MemSession,
    }

    impl Helpers<MemSession, MemSession> for Give {
        fn split_from(&self) -> usize {
            200
        }
        fn try_helper(&self) -> Option<HelperFuture<'_, MemSession, MemSession>> {
            let left = self
                .left
                .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
                .ok()?;
            Some(Box::pin(async move {
                Some(Helper {
                    src: self.src.on_same(left),
                    dst: self.dst.on_same(left),
                    slot: Box::new(()),
                })
            }))
        }
    }

    #[tokio::test]
    async fn a_large_folder_is_copied_once_across_helpers_and_journalled() {
        let f = Fixture::new();
        let (ctx, job, store, mid, row) = (f.ctx(), f.job(50), &f.store, f.mid, &f.row);
        let give = Give {
            left: AtomicUsize::new(3),
            src: MemSession::source(
                (1..=1000)
                    .map(|u| (u, format!("Subject: {u}\r\n\r\nbody {u}\r\n").into_bytes()))
                    .collect(),
            ),
            dst: MemSession::default(),
        };
        let msgs = give.src.msgs.clone();
        let list: Vec<(u32, u64)> = msgs.iter().map(|(u, b)| (*u, b.len() as u64)).collect();
        store.add_pending(row.id, 1, &list, 1000, 1001).unwrap();
        let pending = store.pending(row.id, 1).unwrap();
        let (mut src, mut dst) = (give.src.on_same(99), give.dst.on_same(99));
        let mut out = FolderOutcome::default();
        copy_split(
            &ctx, &job, &pending, None, 1, 7, 1, &mut src, &mut dst, &give, &mut out,
        )
        .await
        .unwrap();
        assert_eq!(out.appended, 1000);
        let stored = give.dst.stored();
        let mut uids: Vec<u32> = stored.iter().map(|s| s.src_uid).collect();
        uids.sort_unstable();
        assert_eq!(uids, (1..=1000).collect::<Vec<_>>(), "each message once");
        for m in &stored {
            assert_eq!(m.bytes, msgs[m.src_uid as usize - 1].1);
        }
        let sessions: std::collections::HashSet<usize> = stored.iter().map(|s| s.session).collect();
        assert!(
            sessions.len() >= 2,
            "copied on one session only: {sessions:?}"
        );
        let t = store.mailbox_totals(mid).unwrap();
        assert_eq!((t.pending, t.copied), (0, 1000), "{t:?}");
        assert!(store.in_doubt(row.id).unwrap().is_empty());
    }

    /// Two windows in flight (the destination answers a window only after the next one was
    /// sent): every message once, in the journal as copied with its own destination UID, the
    /// refused ones failed, nothing left in doubt.
    #[tokio::test]
    async fn with_two_windows_in_flight_each_message_is_journalled_once() {
        let f = Fixture::new();
        let (ctx, job, store, mid, row) = (f.ctx(), f.job(50), &f.store, f.mid, &f.row);
        let mut src = MemSession::source(
            (1..=600)
                .map(|u| {
                    let tag = if u % 97 == 0 { "REFUSE" } else { "ok" };
                    (u, format!("Subject: {u}\r\n\r\n{tag} {u}\r\n").into_bytes())
                })
                .collect(),
        );
        let mut dst = MemSession {
            pipelined: true,
            ..Default::default()
        };
        let list: Vec<(u32, u64)> = src.msgs.iter().map(|(u, b)| (*u, b.len() as u64)).collect();
        store.add_pending(row.id, 1, &list, 600, 601).unwrap();
        let pending = store.pending(row.id, 1).unwrap();
        let mut out = FolderOutcome::default();
        copy_split(
            &ctx, &job, &pending, None, 1, 7, 1, &mut src, &mut dst, &NoHelpers, &mut out,
        )
        .await
        .unwrap();
        assert!(
            dst.deepest.load(Relaxed) >= 2,
            "never two windows in flight"
        );
        let refused = 600 / 97;
        assert_eq!(out.appended, 600 - refused as u64);
        let stored = dst.stored();
        let mut uids: Vec<u32> = stored.iter().map(|s| s.src_uid).collect();
        uids.sort_unstable();
        let want: Vec<u32> = (1..=600).filter(|u| u % 97 != 0).collect();
        assert_eq!(uids, want, "each message once, the refused ones not");
        let t = store.mailbox_totals(mid).unwrap();
        assert_eq!(
            (t.pending, t.copied, t.failed),
            (0, 600 - refused as u64, refused as u64),
            "{t:?}"
        );
        assert!(store.in_doubt(row.id).unwrap().is_empty());
        // Each journalled copy points at the destination UID that holds its message.
        for c in store.copied(row.id).unwrap() {
            let at = c.dst_uid.expect("a destination UID") as usize - 1;
            assert_eq!(stored[at].src_uid, c.src_uid);
        }
    }

    #[test]
    fn ranges_are_about_an_eighth_within_bounds() {
        assert_eq!(range_msgs(1000), 125);
        assert_eq!(range_msgs(300), 100);
        assert_eq!(range_msgs(100_000), RANGE_MSGS);
    }

    fn rows(sizes: impl IntoIterator<Item = u64>) -> Vec<PendingRow> {
        sizes
            .into_iter()
            .enumerate()
            .map(|(i, size)| PendingRow {
                id: i as i64,
                src_uid: i as u32 + 1,
                size,
            })
            .collect()
    }

    #[test]
    fn a_folder_is_cut_by_messages_or_by_bytes_whichever_comes_first() {
        // 1,000 small messages: ranges of 125, every message in exactly one, in order.
        let small = rows([1_000; 1000]);
        let r = cut(&small);
        assert_eq!(r.iter().map(|r| r.len()).collect::<Vec<_>>(), [125; 8]);
        // 160 messages of 100 KB (16 MB): an eighth of the bytes is 2 MB, 20 messages.
        let large = rows([100_000; 160]);
        let r = cut(&large);
        assert_eq!(
            r.len(),
            8,
            "{:?}",
            r.iter().map(|r| r.len()).collect::<Vec<_>>()
        );
        let uids: Vec<u32> = r.iter().flat_map(|r| r.iter().map(|p| p.src_uid)).collect();
        assert_eq!(uids, (1..=160).collect::<Vec<_>>());
        // A 30 MB message alone, then small ones: its range closes at once.
        let mixed = rows([30_000_000, 10, 10, 10]);
        assert_eq!(
            cut(&mixed).iter().map(|r| r.len()).collect::<Vec<_>>(),
            [1, 3]
        );
        // An 8 MB message among 100 KB ones (16 MB, an eighth is 2 MB): its range is handed
        // out first, the others keep their order, and every message is in one range.
        let big = rows((0..81).map(|i| if i == 40 { 8_000_000 } else { 100_000 }));
        let r = cut(&big);
        assert_eq!(r[0].iter().map(|p| p.src_uid).collect::<Vec<_>>(), [41]);
        let firsts: Vec<u32> = r.iter().map(|r| r[0].src_uid).collect();
        assert_eq!(firsts, [41, 1, 21, 42, 62]);
        let mut uids: Vec<u32> = r.iter().flat_map(|r| r.iter().map(|p| p.src_uid)).collect();
        uids.sort_unstable();
        assert_eq!(uids, (1..=81).collect::<Vec<_>>());
    }
}
