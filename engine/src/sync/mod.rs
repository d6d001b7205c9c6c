//! Planning and copying one folder.
//!
//! The journal protocol for one folder:
//! 1. EXAMINE the source (read-only), SELECT the destination; compare both UIDVALIDITYs with
//!    the journal. A change falls back to fingerprint matching, never to a blind recopy.
//! 2. If the source UIDNEXT is what the journal saw and nothing is pending: nothing to do
//!    (no FETCH at all).
//! 3. New source UIDs are enumerated (UID and size only) into the journal as `pending`.
//! 4. Messages left `appending` by a crash are resolved against the destination (size, then
//!    fingerprint of candidates above the recorded UID floor) before anything is re-sent.
//! 5. Pending messages stream from a UID FETCH into windows of pipelined APPENDs; each window
//!    is journalled `appending` before it is sent and `copied` (with APPENDUID) after.
//! 6. A cheap check closes the folder: every UID the journal says it wrote exists on the
//!    destination with the right size.

pub mod gmail;
pub mod mapping;

use std::collections::{HashMap, HashSet};

use crate::endpoint::{AppendOutcome, EndpointError, MailSession, MessageSink, fingerprint};
use crate::events::{Event, Halt, RunStats, Severity, Sink};
use crate::journal::{self, AppendIntent, FolderRow, Journal, JournalError};

/// At most this many messages, or bytes, per APPEND window.
const WINDOW_MSGS: usize = 64;
const WINDOW_BYTES: usize = 8 * 1024 * 1024;
/// Messages buffered between the source FETCH and the destination APPENDs (their bytes are
/// under the process-wide read-ahead budget, `endpoint::bounded::READ_AHEAD_BYTES`).
const CHANNEL_MSGS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("stopped by the operator")]
    Stopped,
    #[error("verification failed: {0}")]
    Verification(String),
    /// Refused until the operator does something first (the message says what).
    #[error("{0}")]
    Blocked(String),
    /// A folder that could not be copied (the message names it and says why); the other
    /// folders go on, the mailbox is not complete.
    #[error("{0}")]
    Refused(String),
    #[error(
        "{failed} message(s) of this mailbox were refused by the destination, the error budget \
         (max_failed_messages = {budget}): the mailbox stops rather than refuse more; see the \
         refused issues, fix the cause, then run again"
    )]
    ErrorBudget { failed: u64, budget: usize },
}

impl SyncError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Endpoint(e) if e.is_transient())
    }

    /// The journal could not be read or written: nothing more of the mailbox can be done
    /// safely, and the command ends with exit 9.
    pub fn is_journal(&self) -> bool {
        match self {
            SyncError::Journal(_) => true,
            SyncError::Endpoint(e) => e.is_journal(),
            _ => false,
        }
    }
}

/// One folder to copy, as the mailbox planner resolved it.
#[derive(Debug, Clone)]
pub struct FolderJob {
    pub mailbox: String,
    pub row: FolderRow,
    /// Source folder name on the wire, and for people.
    pub src: String,
    pub src_display: String,
    pub dst: String,
    /// The mailbox's error budget (`max_failed_messages`).
    pub max_failed: usize,
    /// Which source messages this job may copy (fail-back, and the forward direction after
    /// a fail-back); all when None.
    pub filter: Option<std::sync::Arc<UidFilter>>,
}

/// Source UIDs a job copies: at or above `min_uid`, and not in `exclude` (messages cutover
/// itself wrote in the other direction); with `only`, just those (a Gmail source: the UIDs
/// this folder owns, see [`gmail`]).
#[derive(Debug, Clone, Default)]
pub struct UidFilter {
    pub min_uid: u32,
    pub exclude: HashSet<u32>,
    /// When set, only these UIDs are copied; the others are passed over for good.
    pub only: Option<HashSet<u32>>,
    /// When set, UIDs above it were not planned yet: they are neither enumerated nor passed
    /// over, so that a later run plans and copies them.
    pub upto: Option<u32>,
    /// Keywords added to a message's own flags when it is copied (Gmail's other labels).
    pub keywords: HashMap<u32, Vec<String>>,
    /// The source UIDVALIDITY `only` and `upto` were planned under: under another one
    /// (renumbered in between) nothing is planned, and the next run plans again.
    pub validity: Option<u32>,
    /// UIDs passed over by an earlier run that are to be copied now (a Gmail message whose
    /// owning label was removed before it was copied): enumerated again below the folder's
    /// high-water mark.
    pub reclaim: HashSet<u32>,
}

#[derive(Debug, Default, Clone)]
pub struct FolderOutcome {
    pub appended: u64,
    pub skipped: u64,
    pub unchanged: bool,
}

pub struct Ctx<'a> {
    pub store: &'a Journal,
    pub sink: &'a Sink,
    pub stop: &'a Halt,
    pub stats: &'a RunStats,
}

pub async fn copy_folder<S: MailSession, D: MailSession>(
    ctx: &Ctx<'_>,
    job: &FolderJob,
    src: &mut S,
    dst: &mut D,
) -> Result<FolderOutcome, SyncError> {
    let store = ctx.store;
    let mb = job.mailbox.as_str();
    let fname = job.src_display.as_str();
    let issue =
        |sev, cat: &str, uid, msg: &str| ctx.sink.issue(sev, cat, Some(mb), Some(fname), uid, msg);

    let st = match src.examine(&job.src).await {
        Ok(st) => st,
        Err(e @ EndpointError::NoFolder { .. }) => {
            // Gone, or refused? Only a fresh LIST tells: a folder the server still lists
            // but will not open is mail left behind, never a warning.
            let listed = src.list_folders().await?;
            if listed.iter().any(|f| f.wire_name == job.src) {
                store.set_folder_state(job.row.id, journal::folder_state::REFUSED)?;
                return Err(SyncError::Refused(format!(
                    "the source server refused to open folder {fname}, which it still lists: \
                     {e}; nothing copied from it (check the folder's permissions or name on \
                     the source, then run again)"
                )));
            }
            issue(
                Severity::Warning,
                "source",
                None,
                "the source folder disappeared since it was listed (deleted or renamed); nothing copied from it this run",
            );
            store.set_folder_state(job.row.id, journal::folder_state::GONE)?;
            return Ok(FolderOutcome::default());
        }
        Err(e) => return Err(e.into()),
    };
    store.set_folder_state(job.row.id, journal::folder_state::OPEN)?;
    let mut row = store.folder(job.row.mailbox_id, &job.src, &job.dst)?;

    let mut revalidate_src = false;
    match row.src_uidvalidity {
        None => store.set_src_uidvalidity(row.id, st.uidvalidity)?,
        Some(v) if v != st.uidvalidity => {
            issue(
                Severity::Warning,
                "source",
                None,
                &format!(
                    "source UIDVALIDITY changed ({v} -> {}): matching messages by fingerprint, nothing is re-sent blindly",
                    st.uidvalidity
                ),
            );
            store.set_src_uidvalidity(row.id, st.uidvalidity)?;
            revalidate_src = true;
        }
        Some(_) => {}
    }
    if revalidate_src || row.src_uidvalidity.is_none() {
        row = store.folder(job.row.mailbox_id, &job.src, &job.dst)?;
    }

    let dst_state = match dst.open_for_append(&job.dst).await {
        Ok(s) => s,
        Err(EndpointError::NoFolder { .. }) => {
            if dst.create_folder(&job.dst).await? {
                store.mark_folder_created(row.id)?;
            }
            dst.open_for_append(&job.dst).await?
        }
        Err(e) => return Err(e.into()),
    };
    let mut revalidate_dst = false;
    match row.dst_uidvalidity {
        None => {
            store.set_dst_uidvalidity(row.id, dst_state.uidvalidity)?;
            store.set_dst_start(row.id, dst_state.uidnext)?;
        }
        Some(v) if v != dst_state.uidvalidity => {
            issue(
                Severity::Warning,
                "destination",
                None,
                &format!(
                    "destination UIDVALIDITY changed ({v} -> {}): re-identifying copied messages by fingerprint",
                    dst_state.uidvalidity
                ),
            );
            store.set_dst_uidvalidity(row.id, dst_state.uidvalidity)?;
            // The old numbering's start is meaningless now; fail-back starts from here.
            store.reset_dst_start(row.id, dst_state.uidnext)?;
            revalidate_dst = true;
        }
        Some(_) => {}
    }

    let validity = st.uidvalidity;
    let doubt = store.in_doubt(row.id)?;
    let pending_before = store.pending(row.id, validity)?;
    let unchanged_src = !revalidate_src && row.src_uidnext == Some(st.uidnext) && st.uidnext != 0;
    let reclaiming = job.filter.as_ref().is_some_and(|f| !f.reclaim.is_empty());
    if unchanged_src
        && !revalidate_dst
        && doubt.is_empty()
        && pending_before.is_empty()
        && !reclaiming
    {
        // Nothing to copy; still make sure what was written is still there (metadata only).
        // Once users work on the destination they delete mail, so here a message gone is a
        // warning, not a data-loss incident: the brake is for what a copy just wrote.
        // Skipped when the folder's EXISTS and UIDNEXT are what they were at the last check:
        // nothing was added or removed there since.
        if store.dst_seen(row.id)? != Some((dst_state.exists, dst_state.uidnext)) {
            check_destination(store, row.id, dst_state.uidvalidity, dst, &issue, false).await?;
            store.set_dst_seen(row.id, dst_state.exists, dst_state.uidnext)?;
        }
        store.set_folder_state(row.id, journal::folder_state::LISTED)?;
        let totals = store.folder_totals(row.id)?;
        ctx.sink.send(Event::FolderDone {
            mailbox: mb.into(),
            folder: fname.into(),
            totals,
            appended: 0,
            unchanged: true,
        });
        return Ok(FolderOutcome {
            unchanged: true,
            ..Default::default()
        });
    }

    // New source messages into the journal. A Gmail plan that planned nothing of a folder
    // holding mail (its pre-pass could not read it) leaves the folder not listed.
    let mut planned_nothing = false;
    if !unchanged_src {
        let from = match &job.filter {
            Some(f) => (row.src_high + 1).max(f.min_uid),
            None => row.src_high + 1,
        };
        let mut metas = src.fetch_meta(from).await?;
        let mut uidnext = st.uidnext;
        let upto = job.filter.as_ref().and_then(|f| match f.validity {
            Some(v) if v != st.uidvalidity => Some(0),
            _ => f.upto,
        });
        if let Some(upto) = upto {
            planned_nothing = upto == 0 && st.uidnext > 1;
            metas.retain(|m| m.uid <= upto);
            uidnext = uidnext.min(upto.saturating_add(1));
        }
        let seen_high = metas.iter().map(|m| m.uid).max();
        if let Some(f) = &job.filter {
            metas.retain(|m| !f.exclude.contains(&m.uid));
            if let Some(only) = &f.only {
                metas.retain(|m| only.contains(&m.uid));
            }
        }
        let high = seen_high.unwrap_or(0).max(row.src_high);
        let list: Vec<(u32, u64)> = metas.iter().map(|m| (m.uid, m.size)).collect();
        store.add_pending(row.id, validity, &list, high, uidnext)?;
    }

    // Messages passed over earlier and now planned here (Gmail ownership moved).
    if let Some(f) = &job.filter
        && !f.reclaim.is_empty()
        && f.validity.is_none_or(|v| v == validity)
    {
        let min = f.reclaim.iter().copied().min().unwrap_or(1);
        let list: Vec<(u32, u64)> = src
            .fetch_meta(min)
            .await?
            .iter()
            .filter(|m| f.reclaim.contains(&m.uid))
            .map(|m| (m.uid, m.size))
            .collect();
        let row = store.folder(job.row.mailbox_id, &job.src, &job.dst)?;
        store.add_pending(
            row.id,
            validity,
            &list,
            row.src_high,
            row.src_uidnext.unwrap_or(st.uidnext),
        )?;
    }

    // Every message of the folder is in the journal now (copied, pending or passed over):
    // from here the totals account for all of it.
    if !planned_nothing {
        store.set_folder_state(row.id, journal::folder_state::LISTED)?;
    }

    if revalidate_src {
        rematch_source(ctx, row.id, validity, src).await?;
    }
    if revalidate_dst {
        rematch_destination(ctx, row.id, dst_state.uidvalidity, dst).await?;
    }
    resolve_in_doubt(ctx, &job.dst, row.id, dst_state.uidvalidity, dst, &issue).await?;
    if let Some(f) = &job.filter {
        gmail::warn_refused_keywords(f, dst.permanent_keywords(), &job.dst, &issue);
    }

    // Oversize messages are skipped, with the reason journalled and raised: here when the
    // source's listed sizes are exact, else once each message's real size is known.
    let limit = dst.capabilities().append_limit;
    let listed_sizes_exact = !src.capabilities().inexact_sizes;
    let skip_oversize = |id: i64, size: u64, src_uid: u32| -> Result<bool, SyncError> {
        let Some(reason) = oversize(limit, size) else {
            return Ok(false);
        };
        store.mark_skipped(id, journal::state::SKIPPED, &reason)?;
        issue(Severity::Warning, "oversize", Some(src_uid), &reason);
        Ok(true)
    };
    let mut pending = Vec::new();
    for p in store.pending(row.id, validity)? {
        if !(listed_sizes_exact && skip_oversize(p.id, p.size, p.src_uid)?) {
            pending.push(p);
        }
    }
    let total_bytes: u64 = pending.iter().map(|p| p.size).sum();
    ctx.sink.send(Event::FolderStarted {
        mailbox: mb.into(),
        folder: fname.into(),
        dst: job.dst.clone(),
        to_copy: pending.len() as u64,
        bytes: total_bytes,
    });

    let mut outcome = FolderOutcome::default();
    if !pending.is_empty() {
        copy_pending(
            ctx,
            job,
            &pending,
            limit.filter(|_| !listed_sizes_exact),
            dst_state.uidvalidity,
            dst_state.uidnext,
            src,
            dst,
            &mut outcome,
        )
        .await?;
        // The state before the check: whatever changes after it is checked next time.
        let now = dst.status(&job.dst).await?;
        check_destination(store, row.id, dst_state.uidvalidity, dst, &issue, true).await?;
        store.set_dst_seen(row.id, now.exists, now.uidnext)?;
    }
    let totals = store.folder_totals(row.id)?;
    ctx.sink.send(Event::FolderDone {
        mailbox: mb.into(),
        folder: fname.into(),
        totals,
        appended: outcome.appended,
        unchanged: false,
    });
    Ok(outcome)
}

/// Why a message of `size` bytes is not copied, when it is over the destination's `limit`.
fn oversize(limit: Option<u64>, size: u64) -> Option<String> {
    let l = limit.filter(|l| size > *l)?;
    Some(format!(
        "message of {} is over the destination's limit of {}; not copied",
        bytesize::ByteSize(size),
        bytesize::ByteSize(l)
    ))
}

#[allow(clippy::too_many_arguments)]
async fn copy_pending<S: MailSession, D: MailSession>(
    ctx: &Ctx<'_>,
    job: &FolderJob,
    pending: &[journal::PendingRow],
    limit_after_read: Option<u64>,
    dst_validity: u32,
    dst_uidnext: u32,
    src: &mut S,
    dst: &mut D,
    outcome: &mut FolderOutcome,
) -> Result<(), SyncError> {
    let store = ctx.store;
    let mb = job.mailbox.as_str();
    let fname = job.src_display.as_str();
    let ids: HashMap<u32, i64> = pending.iter().map(|p| (p.src_uid, p.id)).collect();
    let uids: Vec<u32> = pending.iter().map(|p| p.src_uid).collect();
    let (sink, rx) = MessageSink::new(CHANNEL_MSGS);

    let producer = async move {
        let sink = sink;
        src.fetch_messages(&uids, &sink).await
    };
    // The consumer owns the receiver: when it stops (emergency stop, pause, a destination
    // failure) the receiver is dropped, the producer's next send fails and the FETCH ends.
    let consumer = async {
        let mut rx = rx;
        let mut floor = dst_uidnext.max(1);
        let mut seen = HashSet::new();
        let mut copied = 0u64;
        let mut bytes = 0u64;
        loop {
            if ctx.stop.is_set() {
                return Err(SyncError::Stopped);
            }
            // Nothing is in flight while waiting here: a stop ends the wait at once, even
            // when the source has gone silent in the middle of a message.
            let next = tokio::select! {
                m = rx.recv() => m,
                _ = ctx.stop.halted() => return Err(SyncError::Stopped),
            };
            let Some((first, permit)) = next else {
                break;
            };
            let mut size = first.body.len();
            let mut window = vec![first];
            // Reservations are released when the window is done.
            let mut permits = vec![permit];
            while window.len() < WINDOW_MSGS && size < WINDOW_BYTES {
                match rx.try_recv() {
                    Ok((m, p)) => {
                        size += m.body.len();
                        window.push(m);
                        permits.push(p);
                    }
                    Err(_) => break,
                }
            }
            if ctx.stop.is_set() {
                return Err(SyncError::Stopped);
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
            let intents: Vec<AppendIntent> = window
                .iter()
                .filter_map(|m| {
                    let id = *ids.get(&m.uid)?;
                    seen.insert(m.uid);
                    Some(AppendIntent {
                        id,
                        size: m.body.len() as u64,
                        fingerprint: fingerprint(m.body.bytes()),
                        message_id: message_id(m.body.bytes()),
                        dst_uidvalidity: dst_validity,
                        dst_floor: floor,
                    })
                })
                .collect();
            window.retain(|m| ids.contains_key(&m.uid));
            if let Some(f) = job.filter.as_ref().filter(|f| !f.keywords.is_empty()) {
                for m in window.iter_mut() {
                    for k in f.keywords.get(&m.uid).into_iter().flatten() {
                        if !m.flags.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                            m.flags.push(k.clone());
                        }
                    }
                }
            }
            store.mark_appending(&intents)?;
            // An emergency stop lets the window in flight finish for a moment, then cuts it
            // short: its messages stay journalled `appending` (in doubt) and the next start
            // resolves them against the destination before sending anything again.
            let results = tokio::select! {
                r = dst.append(&job.dst, &window) => r?,
                _ = async {
                    ctx.stop.emergency().await;
                    tokio::time::sleep(Halt::GRACE).await;
                } => {
                    ctx.sink.issue(
                        Severity::Warning,
                        "operator",
                        Some(mb),
                        Some(fname),
                        None,
                        &format!(
                            "emergency stop: {} APPEND(s) in flight were cut short; they are in doubt and will be resolved against the destination at the next start",
                            window.len()
                        ),
                    );
                    return Err(SyncError::Stopped);
                }
            };
            let mut done = Vec::new();
            let mut failed: Option<EndpointError> = None;
            let mut refused_any = false;
            let mut back_to_pending = Vec::new();
            for (m, r) in window.iter().zip(results) {
                let id = ids[&m.uid];
                match r {
                    AppendOutcome::Stored { uid, uidvalidity } => {
                        let uid = uid.filter(|_| uidvalidity.is_none_or(|v| v == dst_validity));
                        if let Some(u) = uid {
                            floor = floor.max(u + 1);
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
                        outcome.skipped += 1;
                        refused_any = true;
                    }
                    AppendOutcome::Failed { error } => {
                        back_to_pending.push(id);
                        failed.get_or_insert(error);
                    }
                }
            }
            store.mark_copied(&done, dst_validity)?;
            store.set_pending(&back_to_pending)?;
            outcome.appended += done.len() as u64;
            RunStats::add(&ctx.stats.appended, done.len() as u64);
            ctx.sink.send(Event::Progress {
                mailbox: mb.into(),
                folder: fname.into(),
                copied,
                bytes,
            });
            drop(window);
            drop(permits);
            if let Some(e) = failed {
                return Err(e.into());
            }
            if refused_any {
                let refused = store.mailbox_totals(job.row.mailbox_id)?.failed;
                if refused >= job.max_failed as u64 {
                    return Err(SyncError::ErrorBudget {
                        failed: refused,
                        budget: job.max_failed,
                    });
                }
            }
        }
        Ok::<HashSet<u32>, SyncError>(seen)
    };
    // When the consumer fails or stops, the producer is dropped where it waits rather than
    // awaited: a stalled source read must not hold up a stop (the source session is then
    // mid-FETCH, and every caller drops a session after an error).
    let (p, seen) = {
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
    p?;
    {
        // Messages that vanished from the source between listing and fetching.
        let gone: Vec<&journal::PendingRow> = pending
            .iter()
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

/// The Message-ID header, for the journal (resolution and reports use it).
pub fn message_id(body: &[u8]) -> Option<String> {
    mail_parser::MessageParser::default()
        .parse_headers(body)
        .and_then(|m| m.message_id().map(str::to_string))
}

/// Match rows by fingerprint against candidates, each candidate used at most once.
fn match_by_fingerprint<'a, T>(
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
    if doubt.iter().any(|d| !d.confirmed) {
        // A run killed moments ago may still have APPENDs executing on the server (a busy
        // server can take seconds to store what it had already received): give them time
        // to land before judging, then wait for the folder to be still.
        let youngest = doubt
            .iter()
            .map(|d| d.age_secs)
            .fold(f64::INFINITY, f64::min);
        if youngest < IN_FLIGHT_GRACE.as_secs_f64() {
            let rest = IN_FLIGHT_GRACE.as_secs_f64() - youngest.max(0.0);
            tokio::time::sleep(std::time::Duration::from_secs_f64(rest)).await;
        }
        settle(dst, folder).await?;
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
    let candidates: Vec<(u32, String)> = fps.into_iter().map(|f| (f.uid, f.fingerprint)).collect();
    let mut found = Vec::new();
    let unmatched = match_by_fingerprint(
        doubt.iter().map(|d| (d.id, d.fingerprint.as_str())),
        &candidates,
        &claimed,
        |id, uid| found.push((id, Some(uid))),
    );
    store.mark_copied(&found, dst_validity)?;
    let unmatched: HashSet<i64> = unmatched.into_iter().collect();
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
const IN_FLIGHT_GRACE: std::time::Duration = std::time::Duration::from_secs(8);

/// How long the destination's UIDNEXT must stay still before in-doubt APPENDs are judged.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Wait until the destination folder stops growing. A killed client's APPENDs can still be
/// executing on the server (pipelined commands already in its input buffer, a slow fsync);
/// judging them before they land would send them twice.
async fn settle<D: MailSession>(dst: &mut D, folder: &str) -> Result<(), SyncError> {
    let mut last = dst.status(folder).await?.uidnext;
    for _ in 0..40 {
        tokio::time::sleep(SETTLE).await;
        let now = dst.status(folder).await?.uidnext;
        if now == last {
            return Ok(());
        }
        last = now;
    }
    Err(SyncError::Endpoint(EndpointError::Protocol {
        op: "resume".into(),
        message: format!(
            "destination folder {folder} keeps growing; another client may be writing to it. \
             Stop it, then run again to resolve interrupted appends"
        ),
    }))
}

/// The source folder got a new UIDVALIDITY: carry the journal over by fingerprint.
async fn rematch_source<S: MailSession>(
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
async fn rematch_destination<D: MailSession>(
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

/// After a folder was copied: every destination UID the journal recorded for this folder
/// exists with the recorded size. A mismatch is a critical issue naming the UIDs, and fails
/// the folder (the engine's brake then pauses what the project's `brake` says). On a pass over
/// an unchanged folder (`after_copy` false) the same check only warns.
async fn check_destination<D: MailSession>(
    store: &Journal,
    folder_id: i64,
    dst_validity: u32,
    dst: &mut D,
    issue: &impl Fn(Severity, &str, Option<u32>, &str),
    after_copy: bool,
) -> Result<(), SyncError> {
    let sev = if after_copy {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let copied = store.copied(folder_id)?;
    let want: Vec<&journal::CopiedRow> = copied
        .iter()
        .filter(|c| c.dst_uidvalidity == Some(dst_validity) && c.dst_uid.is_some_and(|u| u > 0))
        .collect();
    if want.is_empty() {
        return Ok(());
    }
    // Re-select so the server reports what it holds now.
    let min = want.iter().filter_map(|c| c.dst_uid).min().unwrap_or(1);
    let metas = dst.fetch_meta(min).await?;
    let have: HashMap<u32, u64> = metas.iter().map(|m| (m.uid, m.size)).collect();
    // Where listed sizes are estimates, presence is checked here and content by `verify`.
    let exact = !dst.capabilities().inexact_sizes;
    let mut bad = 0;
    for c in &want {
        let uid = c.dst_uid.unwrap_or(0);
        match have.get(&uid) {
            Some(_) if !exact => {}
            Some(&size) if size == c.size => {}
            Some(&size) => {
                bad += 1;
                issue(
                    sev.clone(),
                    "verification",
                    Some(c.src_uid),
                    &format!(
                        "destination UID {uid} has {size} bytes, the source message {} bytes",
                        c.size
                    ),
                );
            }
            None => {
                bad += 1;
                issue(
                    sev.clone(),
                    "verification",
                    Some(c.src_uid),
                    &format!("destination UID {uid} recorded as written is not on the destination"),
                );
            }
        }
    }
    if bad > 0 && !after_copy {
        issue(
            Severity::Warning,
            "verification",
            None,
            &format!(
                "{bad} message(s) cutover wrote earlier are no longer on the destination as written (deleted or changed there since?); not re-sent. If nobody should have touched them, treat this as a data-loss incident"
            ),
        );
    } else if bad > 0 {
        return Err(SyncError::Verification(format!(
            "{bad} message(s) recorded as copied are missing or altered on the destination"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{
        Body, Capabilities, Fingerprinted, Folder, FolderState, Message, MessageMeta,
    };

    /// An in-memory endpoint: a source holding `msgs`, or a destination that refuses every
    /// message containing "REFUSE" (NO for that message) and stores the others.
    #[derive(Default)]
    struct Fake {
        caps: Capabilities,
        msgs: Vec<(u32, Vec<u8>)>,
        stored: Vec<(u32, u64)>,
        /// The flags of each stored message, in order.
        stored_flags: Vec<Vec<String>>,
    }

    impl MailSession for Fake {
        fn capabilities(&self) -> &Capabilities {
            &self.caps
        }
        async fn list_folders(&mut self) -> crate::endpoint::Result<Vec<Folder>> {
            Ok(Vec::new())
        }
        async fn examine(&mut self, _: &str) -> crate::endpoint::Result<FolderState> {
            Ok(FolderState {
                uidvalidity: 1,
                uidnext: self.msgs.len() as u32 + 1,
                exists: self.msgs.len() as u32,
            })
        }
        async fn open_for_append(&mut self, f: &str) -> crate::endpoint::Result<FolderState> {
            self.status(f).await
        }
        async fn status(&mut self, _: &str) -> crate::endpoint::Result<FolderState> {
            Ok(FolderState {
                uidvalidity: 7,
                uidnext: self.stored.len() as u32 + 1,
                exists: self.stored.len() as u32,
            })
        }
        async fn create_folder(&mut self, _: &str) -> crate::endpoint::Result<bool> {
            Ok(true)
        }
        async fn rename_folder(&mut self, _: &str, _: &str) -> crate::endpoint::Result<()> {
            Ok(())
        }
        async fn fetch_meta(&mut self, from: u32) -> crate::endpoint::Result<Vec<MessageMeta>> {
            let all = self.msgs.iter().map(|(u, b)| (*u, b.len() as u64));
            let all: Vec<(u32, u64)> = if self.msgs.is_empty() {
                self.stored.clone()
            } else {
                all.collect()
            };
            Ok(all
                .into_iter()
                .filter(|(u, _)| *u >= from)
                .map(|(uid, size)| MessageMeta { uid, size })
                .collect())
        }
        async fn fetch_messages(
            &mut self,
            uids: &[u32],
            sink: &MessageSink,
        ) -> crate::endpoint::Result<()> {
            for (uid, b) in self.msgs.iter().filter(|(u, _)| uids.contains(u)) {
                let m = Message {
                    uid: *uid,
                    flags: Vec::new(),
                    internal_date: None,
                    body: Body::new(b.clone()),
                };
                if !sink.send(m).await {
                    break;
                }
            }
            Ok(())
        }
        async fn fetch_fingerprints(
            &mut self,
            _: &[u32],
            _: u32,
        ) -> crate::endpoint::Result<Vec<Fingerprinted>> {
            Ok(Vec::new())
        }
        async fn append(
            &mut self,
            _: &str,
            msgs: &[Message],
        ) -> crate::endpoint::Result<Vec<AppendOutcome>> {
            Ok(msgs
                .iter()
                .map(|m| {
                    if m.body.bytes().windows(6).any(|w| w == b"REFUSE") {
                        AppendOutcome::Refused {
                            reason: "destination refused the message: policy".into(),
                        }
                    } else {
                        let uid = self.stored.len() as u32 + 1;
                        self.stored.push((uid, m.body.len() as u64));
                        self.stored_flags.push(m.flags.clone());
                        AppendOutcome::Stored {
                            uidvalidity: Some(7),
                            uid: Some(uid),
                        }
                    }
                })
                .collect())
        }
        async fn expunge_uids(&mut self, _: &[u32]) -> crate::endpoint::Result<()> {
            Ok(())
        }
        async fn delete_folder(&mut self, _: &str) -> crate::endpoint::Result<()> {
            Ok(())
        }
        fn permanent_keywords(&self) -> Option<&[String]> {
            None
        }
        async fn logout(self) {}
    }

    /// Copy 10 messages, 6 of which the destination refuses, with an error budget.
    async fn copy_with_budget(max_failed: usize) -> (Result<FolderOutcome, SyncError>, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let store = Journal::open(&dir.path().join("j.sqlite"), Default::default()).unwrap();
        let mid = store.upsert_mailbox("a->a", "b", "a", "a").unwrap();
        let row = store.folder(mid, "INBOX", "INBOX").unwrap();
        let sink = Sink::new(store.clone(), None);
        let (halt, stats) = (Halt::default(), RunStats::default());
        let ctx = Ctx {
            store: &store,
            sink: &sink,
            stop: &halt,
            stats: &stats,
        };
        let job = FolderJob {
            mailbox: "a->a".into(),
            row,
            src: "INBOX".into(),
            src_display: "INBOX".into(),
            dst: "INBOX".into(),
            max_failed,
            filter: None,
        };
        let mut src = Fake {
            msgs: (1..=10)
                .map(|u| {
                    let tag = if u % 5 == 0 || u % 3 == 0 {
                        "REFUSE"
                    } else {
                        "ok"
                    };
                    (u, format!("Subject: {u}\r\n\r\n{tag}\r\n").into_bytes())
                })
                .collect(),
            ..Default::default()
        };
        let mut dst = Fake::default();
        let r = copy_folder(&ctx, &job, &mut src, &mut dst).await;
        (r, store)
    }

    #[tokio::test]
    async fn refused_messages_beyond_the_error_budget_fail_the_mailbox() {
        let (r, store) = copy_with_budget(3).await;
        match r {
            Err(SyncError::ErrorBudget { failed, budget }) => {
                assert_eq!(budget, 3);
                assert!(failed >= 3, "{failed}");
            }
            other => panic!("expected the error budget to stop the copy: {other:?}"),
        }
        let mid = store.mailbox_id("a->a").unwrap().unwrap();
        let t = store.mailbox_totals(mid).unwrap();
        assert_eq!(t.failed, 5, "every refusal is journalled with its reason");
        assert_eq!(t.pending, 0);

        // Within the budget the copy goes on: refusals recorded, the rest copied.
        let (r, store) = copy_with_budget(50).await;
        let out = r.unwrap();
        assert_eq!((out.appended, out.skipped), (5, 5));
        let mid = store.mailbox_id("a->a").unwrap().unwrap();
        assert_eq!(store.mailbox_totals(mid).unwrap().failed, 5);
    }

    #[tokio::test]
    async fn a_planned_filter_copies_only_its_uids_adds_keywords_and_leaves_later_uids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Journal::open(&dir.path().join("j.sqlite"), Default::default()).unwrap();
        let mid = store.upsert_mailbox("a->a", "b", "a", "a").unwrap();
        let row = store.folder(mid, "Work", "Work").unwrap();
        let sink = Sink::new(store.clone(), None);
        let (halt, stats) = (Halt::default(), RunStats::default());
        let ctx = Ctx {
            store: &store,
            sink: &sink,
            stop: &halt,
            stats: &stats,
        };
        let mut job = FolderJob {
            mailbox: "a->a".into(),
            row,
            src: "Work".into(),
            src_display: "Work".into(),
            dst: "Work".into(),
            max_failed: 50,
            filter: Some(std::sync::Arc::new(UidFilter {
                only: Some(HashSet::from([2, 4, 7])),
                upto: Some(5),
                keywords: HashMap::from([(2, vec!["Travel".to_string()])]),
                validity: Some(1),
                ..Default::default()
            })),
        };
        let mut src = Fake {
            msgs: (1..=10)
                .map(|u| (u, format!("Subject: {u}\r\n\r\nok\r\n").into_bytes()))
                .collect(),
            ..Default::default()
        };
        let mut dst = Fake::default();
        let out = copy_folder(&ctx, &job, &mut src, &mut dst).await.unwrap();
        // 2 and 4 are owned and planned; 7 is above what was planned; the rest are not owned.
        assert_eq!(out.appended, 2);
        assert_eq!(dst.stored_flags, vec![vec!["Travel".to_string()], vec![]]);
        let f = store.folder(mid, "Work", "Work").unwrap();
        assert_eq!((f.src_high, f.src_uidnext), (5, Some(6)));
        // The next run's plan owns 7 (and 6 is a duplicate): only 7 is copied.
        job.filter = Some(std::sync::Arc::new(UidFilter {
            only: Some(HashSet::from([2, 4, 7])),
            upto: Some(10),
            validity: Some(1),
            ..Default::default()
        }));
        let out = copy_folder(&ctx, &job, &mut src, &mut dst).await.unwrap();
        assert_eq!(out.appended, 1);
        assert_eq!(dst.stored.len(), 3);
        // Planned under another UIDVALIDITY: nothing is taken, nothing passed over.
        src.msgs.push((11, b"Subject: 11\r\n\r\nok\r\n".to_vec()));
        job.filter = Some(std::sync::Arc::new(UidFilter {
            only: Some(HashSet::from([11])),
            upto: Some(11),
            validity: Some(99),
            ..Default::default()
        }));
        let out = copy_folder(&ctx, &job, &mut src, &mut dst).await.unwrap();
        assert_eq!(out.appended, 0);
        assert_eq!(store.folder(mid, "Work", "Work").unwrap().src_high, 10);
    }

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
