//! The copy of a folder's pending messages: a UID FETCH streams them through the read-ahead
//! budget into windows of pipelined APPENDs; each window is journalled `appending` before it
//! is sent and `copied` (with APPENDUID) after, refusals count against the error budget, and
//! an emergency stop cuts a window short and leaves it in doubt. Where the destination can
//! (IMAP with LITERAL+: MULTIAPPEND, or one APPEND per one-message window), windows are sent
//! before the earlier ones' answers are read: up to [`IN_FLIGHT_WINDOWS`] in flight, each
//! journalled before it is sent.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::api::ItemKind;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::endpoint::{AppendOutcome, EndpointError, MailSession, Message, MessageSink, Preview};
use crate::events::{Event, Halt, RunStats, Severity};
use crate::item::{fingerprint, identity, kind_of_folder};
use crate::journal::{self, AppendIntent};
use crate::mail::fmt::bytes_iec;
use crate::mail::message_id::message_id;

use super::cut_through::{self, CUT_FROM, Through};
use super::delta::{flag_set, flags_text};
use super::types::{Ctx, FolderJob, FolderOutcome, SyncError, Tally};

/// At most this many messages, or bytes, per APPEND window.
const WINDOW_MSGS: usize = 64;
const WINDOW_BYTES: usize = 8 * 1024 * 1024;
/// Messages buffered between the source FETCH and the destination APPENDs. Their bytes are
/// under the process-wide read-ahead budget (`endpoint::bounded::READ_AHEAD_BYTES`); the
/// count only has to let a full window of small messages wait while the last one is stored,
/// so the source's link is not idle meanwhile.
const CHANNEL_MSGS: usize = 256;
/// APPEND windows on the wire at once at most, where the destination pipelines them.
const IN_FLIGHT_WINDOWS: usize = 4;

/// Why a message of `size` bytes is not copied, when it is over the destination's `limit`.
pub(super) fn oversize(limit: Option<u64>, size: u64) -> Option<String> {
    let l = limit.filter(|l| size > *l)?;
    Some(format!(
        "message of {} is over the destination's limit of {}; not copied",
        bytes_iec(size),
        bytes_iec(l)
    ))
}

/// What the copy loop woke up for.
enum Woke {
    Message(Option<(Message, OwnedSemaphorePermit)>),
    Preview(Preview),
}

/// The keywords a plan adds to message `uid` (a Gmail label's), added to `flags`.
fn add_keywords(job: &FolderJob, uid: u32, flags: &mut Vec<String>) {
    let Some(f) = job.filter.as_ref() else {
        return;
    };
    for k in f.keywords.get(&uid).into_iter().flatten() {
        if !flags.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            flags.push(k.clone());
        }
    }
}

/// What the journal records of message `m` (journal row `id`) before it is sent.
fn intent(kind: ItemKind, id: i64, m: &Message, dst_validity: u32, floor: u32) -> AppendIntent {
    AppendIntent {
        id,
        size: m.body.len() as u64,
        fingerprint: fingerprint(kind, m.body.bytes()),
        // An event's or contact's identity is its UID.
        message_id: match kind {
            ItemKind::Mail => message_id(m.body.bytes()),
            _ => identity(kind, m.body.bytes()).uid,
        },
        dst_uidvalidity: dst_validity,
        // A true lower bound even with a window still unanswered: the UIDs the server gives
        // this one are above those it gave before.
        dst_floor: floor,
        // What cutover sets: the base of a delta pass's flag comparison.
        flags: Some(flags_text(&flag_set(m.flags.iter().map(String::as_str)))),
    }
}

/// A window sent to the destination, its messages' read-ahead reservations held until it
/// is answered.
struct Sent {
    window: Vec<Message>,
    _permits: Vec<OwnedSemaphorePermit>,
    size: usize,
    sent: std::time::Instant,
}

/// An emergency stop, then [`Halt::GRACE`] from the stop for the windows in flight to be
/// answered (one grace per stop, however many answers are awaited in turn).
async fn grace(ctx: &Ctx<'_>) {
    ctx.stop.emergency_held(Halt::GRACE).await;
}

/// Said when an emergency stop cut `n` APPENDs short.
fn cut_short(ctx: &Ctx<'_>, mb: &str, fname: &str, n: usize) -> SyncError {
    ctx.sink.issue(
        Severity::Warning,
        "operator",
        Some(mb),
        Some(fname),
        None,
        &format!(
            "emergency stop: {n} APPEND(s) in flight were cut short; they are in doubt and will be resolved against the destination at the next start"
        ),
    );
    SyncError::Stopped
}

/// The answer of the oldest window sent (`n`: the messages in flight, for the stop's
/// warning).
async fn finish<D: MailSession>(
    ctx: &Ctx<'_>,
    job: &FolderJob,
    dst: &mut D,
    window: &[Message],
    n: usize,
) -> Result<Vec<AppendOutcome>, SyncError> {
    tokio::select! {
        r = dst.append_finish(&job.dst, window) => Ok(r?),
        _ = grace(ctx) => Err(cut_short(ctx, &job.mailbox, &job.src_display, n)),
    }
}

/// What a window's answer changes: the journal (copied with the destination UID, refused,
/// kept, or pending again), the folder's totals and the run's, the progress shown.
struct Landed<'a, 'c> {
    ctx: &'a Ctx<'c>,
    job: &'a FolderJob,
    ids: &'a HashMap<u32, i64>,
    dst_validity: u32,
    /// The lowest UID the destination can give the next window.
    floor: &'a mut u32,
    tally: &'a Tally,
    outcome: &'a mut FolderOutcome,
}

impl Landed<'_, '_> {
    fn settle(&mut self, w: Sent, results: Vec<AppendOutcome>) -> Result<(), SyncError> {
        let (ctx, store) = (self.ctx, self.ctx.store);
        let (mb, fname) = (self.job.mailbox.as_str(), self.job.src_display.as_str());
        tracing::debug!(
            mailbox = mb,
            folder = fname,
            messages = w.window.len(),
            bytes = w.size,
            ms = w.sent.elapsed().as_millis() as u64,
            "APPEND window answered"
        );
        let mut done = Vec::new();
        // What this window stored (the folder's totals are in `tally`).
        let (mut copied, mut bytes) = (0u64, 0u64);
        let mut failed: Option<EndpointError> = None;
        let mut refused_any = false;
        let mut back_to_pending = Vec::new();
        for (m, r) in w.window.iter().zip(results) {
            let id = self.ids[&m.uid];
            match r {
                AppendOutcome::Stored { uid, uidvalidity } => {
                    let uid = uid.filter(|_| uidvalidity.is_none_or(|v| v == self.dst_validity));
                    if let Some(u) = uid {
                        *self.floor = (*self.floor).max(u + 1);
                    }
                    done.push((id, uid));
                    copied += 1;
                    bytes += m.body.len() as u64;
                }
                AppendOutcome::Refused { reason } => {
                    store.mark_skipped(id, journal::state::FAILED, &reason)?;
                    ctx.sink.issue(
                        Severity::Error,
                        "refused",
                        Some(mb),
                        Some(fname),
                        Some(m.uid),
                        &reason,
                    );
                    self.outcome.skipped += 1;
                    refused_any = true;
                }
                AppendOutcome::Kept { reason } => {
                    // The version on the destination stands (the older row keeps
                    // pointing at it): this newer one is not counted as an item.
                    store.mark_skipped(id, journal::state::SUPERSEDED, &reason)?;
                    ctx.sink.issue(
                        Severity::Warning,
                        "destination",
                        Some(mb),
                        Some(fname),
                        Some(m.uid),
                        &reason,
                    );
                }
                AppendOutcome::Failed { error } => {
                    back_to_pending.push(id);
                    failed.get_or_insert(error);
                }
            }
        }
        let replaced = store.mark_copied(&done, self.dst_validity)?;
        RunStats::add(&ctx.stats.changed, replaced);
        store.set_pending(&back_to_pending)?;
        self.outcome.appended += done.len() as u64;
        RunStats::add(&ctx.stats.appended, done.len() as u64);
        RunStats::add(&ctx.stats.bytes_appended, bytes);
        let (copied, bytes) = self.tally.add(copied, bytes);
        ctx.sink.send(Event::Progress {
            mailbox: mb.into(),
            folder: fname.into(),
            copied,
            bytes,
        });
        drop(w);
        if let Some(e) = failed {
            return Err(e.into());
        }
        if refused_any {
            let refused = store.mailbox_totals(self.job.row.mailbox_id)?.failed;
            if refused >= self.job.max_failed as u64 {
                return Err(SyncError::ErrorBudget {
                    failed: refused,
                    budget: self.job.max_failed,
                });
            }
        }
        Ok(())
    }
}

/// Copy the ranges of `pending` (the folder's pending messages) that `next_range` hands
/// out, one after another on `src`/`dst`, until it has none left: the next range's UID
/// FETCH is on the wire before the last one's answer is read (IMAP,
/// `MailSession::fetch_each`), while the destination is still storing what was read, so a
/// folder split in many ranges costs no round trip per range.
#[allow(clippy::too_many_arguments)]
pub(super) async fn copy_pending<'p, S: MailSession, D: MailSession>(
    ctx: &Ctx<'_>,
    job: &FolderJob,
    pending: &'p [journal::PendingRow],
    next_range: &(dyn Fn() -> Option<&'p [journal::PendingRow]> + Sync),
    limit_after_read: Option<u64>,
    dst_validity: u32,
    dst_uidnext: u32,
    src: &mut S,
    dst: &mut D,
    tally: &Tally,
    outcome: &mut FolderOutcome,
) -> Result<(), SyncError> {
    let store = ctx.store;
    let mb = job.mailbox.as_str();
    let fname = job.src_display.as_str();
    let ids: HashMap<u32, i64> = pending.iter().map(|p| (p.src_uid, p.id)).collect();
    let (mut sink, rx) = MessageSink::new(CHANNEL_MSGS);
    // Large messages are streamed through where the destination can (cut-through).
    let mut previews = dst
        .append_streams(&job.dst)
        .then(|| sink.with_previews(CUT_FROM));
    let kind = kind_of_folder(&job.src);

    let producer = async move {
        let sink = sink;
        let mut taken = Vec::new();
        let mut next = || {
            let range = next_range()?;
            taken.push(range);
            Some(range.iter().map(|p| p.src_uid).collect())
        };
        src.fetch_each(&mut next, &sink).await?;
        Ok::<_, EndpointError>(taken)
    };
    // The consumer owns the receiver: when it stops (emergency stop, pause, a destination
    // failure) the receiver is dropped, the producer's next send fails and the FETCH ends.
    let consumer = async {
        let mut rx = rx;
        let mut floor = dst_uidnext.max(1);
        let mut seen = HashSet::new();
        let mut landed = Landed {
            ctx,
            job,
            ids: &ids,
            dst_validity,
            floor: &mut floor,
            tally,
            outcome,
        };
        // The windows sent whose answers are not read yet, oldest first: where the
        // destination can, windows go on the wire before the earlier ones are answered (up
        // to IN_FLIGHT_WINDOWS), so the link is not idle while an answer travels back. The
        // oldest answer is read when that many are out, when it comes while the next window
        // fills, and at the end.
        let mut in_flight: VecDeque<Sent> = VecDeque::new();
        // The oldest window in flight answered and journalled. When its answer ends the
        // folder (a refusal over the error budget, a failed message), the later windows are
        // on the wire too: their answers go to the journal first, so they are not left in
        // doubt (what they say beyond that error changes nothing).
        macro_rules! answer_oldest {
            () => {
                if let Some(p) = in_flight.pop_front() {
                    let n =
                        p.window.len() + in_flight.iter().map(|w| w.window.len()).sum::<usize>();
                    let results = finish(ctx, job, dst, &p.window, n).await?;
                    if let Err(e) = landed.settle(p, results) {
                        while let Some(w) = in_flight.pop_front() {
                            let n = w.window.len()
                                + in_flight.iter().map(|w| w.window.len()).sum::<usize>();
                            match finish(ctx, job, dst, &w.window, n).await {
                                Ok(results) => {
                                    let _ = landed.settle(w, results);
                                }
                                Err(_) => break,
                            }
                        }
                        return Err(e);
                    }
                }
            };
        }
        macro_rules! answer_all {
            () => {
                while !in_flight.is_empty() {
                    answer_oldest!();
                }
            };
        }
        // A pause or a stop lets the windows sent be answered (an emergency stop cuts that
        // short too): nothing is left in doubt by a graceful stop. Messages taken from the
        // channel and not journalled stay pending.
        macro_rules! stop_here {
            () => {{
                answer_all!();
                return Err(SyncError::Stopped);
            }};
        }
        // The next window, filled as messages arrive: it goes when full, or as soon as
        // nothing is in flight (the link would be idle), or at the end of the stream. (Sent
        // sooner, windows are smaller: each command costs the destination a commit, and a
        // loopback pass was measured 20% slower.)
        let (mut window, mut permits, mut size) = (Vec::new(), Vec::new(), 0usize);
        let mut ended = false;
        // Messages taken from the channel so far, and the large message to stream through
        // once the window before it is sent.
        let (mut got, mut cut) = (0u64, None::<Preview>);
        macro_rules! take {
            ($m:expr, $p:expr) => {{
                got += 1;
                size += $m.body.len();
                window.push($m);
                permits.push($p);
            }};
        }
        loop {
            if ctx.stop.is_set() {
                stop_here!();
            }
            if in_flight.len() >= IN_FLIGHT_WINDOWS {
                answer_oldest!();
                continue;
            }
            if window.is_empty()
                && let Some(p) = cut.take()
            {
                let uid = p.uid;
                let mut earlier = Vec::new();
                let mut flags = p.flags.clone();
                add_keywords(job, uid, &mut flags);
                let through =
                    cut_through::stream(ctx, &job.dst, dst, p, flags, &mut rx, &mut earlier).await;
                for (m, p) in earlier {
                    take!(m, p);
                }
                let s = match through? {
                    Through::Ready(s) => s,
                    Through::NotStarted => {
                        previews = None;
                        continue;
                    }
                    Through::Stopped => stop_here!(),
                    Through::SourceEnded => {
                        // The source's own error (a timeout, a dropped connection) is the
                        // one to tell; the windows sent before are answered first.
                        answer_all!();
                        return Ok((seen, Some(uid)));
                    }
                };
                got += 1;
                if ctx.stop.is_emergency() {
                    // Stopped as the message came whole: its APPEND is not finished.
                    dst.append_stream_abort(&job.dst);
                    stop_here!();
                }
                let mut m = s.message;
                let n = m.body.len();
                RunStats::add(&ctx.stats.bodies_fetched, 1);
                RunStats::add(&ctx.stats.bytes_fetched, n as u64);
                add_keywords(job, uid, &mut m.flags);
                seen.insert(uid);
                let journalled = store.mark_appending(&[intent(
                    kind,
                    ids[&uid],
                    &m,
                    dst_validity,
                    *landed.floor,
                )]);
                if let Err(e) = journalled {
                    dst.append_stream_abort(&job.dst);
                    return Err(e.into());
                }
                let waiting: usize = in_flight.iter().map(|p| p.window.len()).sum();
                tokio::select! {
                    r = dst.append_stream_end(&job.dst, &m.body.bytes()[s.written..]) => r?,
                    _ = grace(ctx) => return Err(cut_short(ctx, mb, fname, waiting + 1)),
                };
                in_flight.push_back(Sent {
                    window: vec![m],
                    _permits: vec![s.permit],
                    size: n,
                    sent: std::time::Instant::now(),
                });
                continue;
            }
            // Whatever already waits joins the window, up to its size (not past a large
            // message to stream through: the window before it goes first).
            while cut.is_none() && !ended && window.len() < WINDOW_MSGS && size < WINDOW_BYTES {
                match rx.try_recv() {
                    Ok((m, p)) => take!(m, p),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => ended = true,
                }
            }
            let full = window.len() >= WINDOW_MSGS || size >= WINDOW_BYTES;
            if window.is_empty() && ended {
                answer_all!();
                break;
            }
            if window.is_empty() || !(full || ended || in_flight.is_empty() || cut.is_some()) {
                // Wait for the next message, a large one's start, or the oldest window's
                // answer, whichever comes first (an answer read meanwhile is kept by the
                // session). With nothing in flight a stop ends the wait at once, even when
                // the source has gone silent in the middle of a message.
                let preview = async {
                    match previews.as_mut() {
                        Some(r) => r.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let woke = if in_flight.is_empty() {
                    tokio::select! {
                        m = rx.recv() => Woke::Message(m),
                        Some(p) = preview => Woke::Preview(p),
                        _ = ctx.stop.halted() => return Err(SyncError::Stopped),
                    }
                } else {
                    tokio::select! {
                        m = rx.recv() => Woke::Message(m),
                        Some(p) = preview => Woke::Preview(p),
                        r = dst.append_ready(&job.dst) => {
                            r?;
                            answer_oldest!();
                            continue;
                        }
                        _ = ctx.stop.halted() => continue,
                    }
                };
                match woke {
                    Woke::Message(Some((m, p))) => take!(m, p),
                    Woke::Message(None) => ended = true,
                    // Streamed through when the message has not come whole yet (`after`
                    // counts the messages queued before it), those before it fit in this
                    // window, and it is one to copy.
                    Woke::Preview(p) => {
                        let before = p.after.saturating_sub(got) as usize;
                        if cut.is_none()
                            && p.after >= got
                            && window.len() + before < WINDOW_MSGS
                            && ids.contains_key(&p.uid)
                            && oversize(limit_after_read, p.size).is_none()
                        {
                            for _ in 0..before {
                                match rx.try_recv() {
                                    Ok((m, p)) => take!(m, p),
                                    Err(_) => break,
                                }
                            }
                            if got == p.after && p.chunks.take_up() {
                                cut = Some(p);
                            }
                        }
                    }
                }
                continue;
            }
            // This window goes: the next one starts empty.
            let mut window = std::mem::take(&mut window);
            let permits = std::mem::take(&mut permits);
            let size = std::mem::take(&mut size);
            if ctx.stop.is_set() {
                stop_here!();
            }
            RunStats::add(&ctx.stats.bodies_fetched, window.len() as u64);
            RunStats::add(&ctx.stats.bytes_fetched, size as u64);
            if let Some(limit) = limit_after_read {
                // Listed sizes were estimates: now that each size is known, skip what the
                // destination cannot take.
                let mut kept = Vec::with_capacity(window.len());
                for m in window {
                    let (Some(&id), Some(reason)) =
                        (ids.get(&m.uid), oversize(Some(limit), m.body.len() as u64))
                    else {
                        kept.push(m);
                        continue;
                    };
                    seen.insert(m.uid);
                    store.mark_skipped(id, journal::state::SKIPPED, &reason)?;
                    ctx.sink.issue(
                        Severity::Warning,
                        "oversize",
                        Some(mb),
                        Some(fname),
                        Some(m.uid),
                        &reason,
                    );
                }
                window = kept;
                if window.is_empty() {
                    continue;
                }
            }
            for m in window.iter_mut() {
                add_keywords(job, m.uid, &mut m.flags);
            }
            let intents: Vec<AppendIntent> = window
                .iter()
                .filter_map(|m| {
                    let id = *ids.get(&m.uid)?;
                    seen.insert(m.uid);
                    Some(intent(kind, id, m, dst_validity, *landed.floor))
                })
                .collect();
            window.retain(|m| ids.contains_key(&m.uid));
            store.mark_appending(&intents)?;
            let this = Sent {
                window,
                _permits: permits,
                size,
                sent: std::time::Instant::now(),
            };
            let waiting: usize = in_flight.iter().map(|p| p.window.len()).sum();
            // An emergency stop lets the windows in flight finish for a moment, then cuts
            // them short: their messages stay journalled `appending` (in doubt) and the next
            // start resolves them against the destination before sending anything again.
            let sent = tokio::select! {
                r = dst.append_send(&job.dst, &this.window) => r?,
                _ = grace(ctx) => return Err(cut_short(ctx, mb, fname, waiting + this.window.len())),
            };
            if sent {
                in_flight.push_back(this);
                continue;
            }
            // Sent on its own (one message, or a destination that does not pipeline
            // windows): the windows in flight are answered first, their answers coming
            // before its own.
            answer_all!();
            let results = tokio::select! {
                r = dst.append(&job.dst, &this.window) => r?,
                _ = grace(ctx) => return Err(cut_short(ctx, mb, fname, this.window.len())),
            };
            landed.settle(this, results)?;
        }
        Ok::<_, SyncError>((seen, None))
    };
    // When the consumer fails or stops, the producer is dropped where it waits rather than
    // awaited: a stalled source read must not hold up a stop (the source session is then
    // mid-FETCH, and every caller drops a session after an error).
    let (p, (seen, abandoned)) = {
        tokio::pin!(producer);
        tokio::pin!(consumer);
        let mut produced = None;
        loop {
            tokio::select! {
                r = &mut producer, if produced.is_none() => produced = Some(r),
                c = &mut consumer => {
                    let seen = c?;
                    // The receiver saw the end: the producer has finished or is finishing.
                    let p = match produced {
                        Some(p) => p,
                        None => producer.await,
                    };
                    break (p, seen);
                }
            }
        }
    };
    // Only a FETCH that completed proves that the unseen messages are gone: after a dropped
    // connection they stay pending and the retry fetches them.
    let taken = p?;
    if let Some(uid) = abandoned {
        // The FETCH ended without the message whose APPEND was streamed (never so far):
        // that APPEND was abandoned and the destination connection must go.
        return Err(EndpointError::ConnectionLost {
            op: format!(
                "UID FETCH of UID {uid} in {fname} (its APPEND, streamed as it arrived, was \
                 abandoned: nothing stored)"
            ),
        }
        .into());
    }
    {
        // Messages that vanished from the source between listing and fetching.
        let gone: Vec<&journal::PendingRow> = taken
            .iter()
            .flat_map(|r| r.iter())
            .filter(|p| !seen.contains(&p.src_uid))
            .collect();
        for p in &gone {
            store.mark_skipped(p.id, journal::state::SKIPPED, journal::EXPUNGED_REASON)?;
        }
        if !gone.is_empty() {
            ctx.sink.issue(
                Severity::Info,
                "source",
                Some(mb),
                Some(fname),
                None,
                &format!(
                    "{} message(s) were expunged on the source during the copy",
                    gone.len()
                ),
            );
        }
    }
    Ok(())
}
