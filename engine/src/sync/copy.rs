//! Copying one folder, the journal protocol from EXAMINE to the closing check (see the
//! steps in [`super`]): open both sides and compare UIDVALIDITYs, plan new source messages
//! as pending, resolve what an interrupted run left in doubt, copy the pending messages
//! ([`super::window`]) and check what was written ([`super::check`]).

use crate::endpoint::{EndpointError, MailSession};
use crate::events::{Event, Severity};
use crate::journal;

use super::check::{self, check_destination};
use super::gmail;
use super::in_doubt::resolve_in_doubt;
use super::rematch::{rematch_destination, rematch_source};
use super::split::{Helpers, copy_split};
use super::types::{Ctx, FolderJob, FolderOutcome, SyncError};
use super::window::oversize;

/// Copies `cutover verify` found altered on the destination: each is removed there (it is
/// cutover's own copy, by its journalled UID under the same UIDVALIDITY), then pending again,
/// so that this pass copies the message afresh. Journalled as a warning per message. A copy
/// under another destination UIDVALIDITY stays damaged (its UID names nothing sure now).
async fn recopy_damaged<D: MailSession>(
    ctx: &Ctx<'_>,
    folder_id: i64,
    dst_validity: u32,
    dst: &mut D,
    issue: &impl Fn(Severity, &str, Option<u32>, &str),
) -> Result<(), SyncError> {
    let rows: Vec<journal::CopiedRow> = ctx
        .store
        .damaged(folder_id)?
        .into_iter()
        .filter(|r| r.dst_uidvalidity.is_none_or(|v| v == dst_validity))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let uids: Vec<u32> = rows.iter().filter_map(|r| r.dst_uid).collect();
    if !uids.is_empty() {
        dst.expunge_uids(&uids).await?;
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ctx.store.mark_recopy(&ids)?;
    for r in &rows {
        issue(
            Severity::Warning,
            "verification",
            Some(r.src_uid),
            "re-copying: verification found the destination copy altered; that copy was removed",
        );
    }
    Ok(())
}

/// A folder whose states read before it was opened ([`FolderJob::seen`], both sides) are
/// what the journal knows: the source's UIDVALIDITY and UIDNEXT unchanged, nothing pending,
/// in doubt or to re-copy, the destination's UIDVALIDITY, EXISTS and UIDNEXT those of its
/// last check. It is passed as [`copy_folder`] passes an unchanged folder, without opening
/// either side (two round trips fewer per folder on a no-op pass). False: copy it as usual.
pub fn pass_unchanged(ctx: &Ctx<'_>, job: &FolderJob) -> Result<bool, SyncError> {
    let (Some((src, _)), Some(dst)) = (job.seen.src, job.seen.dst) else {
        return Ok(false);
    };
    let store = ctx.store;
    let row = store.folder(job.row.mailbox_id, &job.src, &job.dst)?;
    let reclaiming = job.filter.as_ref().is_some_and(|f| !f.reclaim.is_empty());
    if reclaiming
        || src.uidnext == 0
        || row.src_uidvalidity != Some(src.uidvalidity)
        || row.src_uidnext != Some(src.uidnext)
        || row.dst_uidvalidity != Some(dst.uidvalidity)
        || store.dst_seen(row.id)? != Some((dst.exists, dst.uidnext))
        || !store.in_doubt(row.id)?.is_empty()
        || !store.pending(row.id, src.uidvalidity)?.is_empty()
        || !store.damaged(row.id)?.is_empty()
    {
        return Ok(false);
    }
    store.set_folder_state(row.id, journal::folder_state::LISTED)?;
    ctx.sink.send(Event::FolderDone {
        mailbox: job.mailbox.clone(),
        folder: job.src_display.clone(),
        totals: store.folder_totals(row.id)?,
        appended: 0,
        unchanged: true,
    });
    Ok(true)
}

/// Copy one folder on `src`/`dst`; a large one is split across the connections `helpers`
/// finds ([`super::split`]).
pub async fn copy_folder<S: MailSession, D: MailSession, H: Helpers<S, D>>(
    ctx: &Ctx<'_>,
    job: &FolderJob,
    src: &mut S,
    dst: &mut D,
    helpers: &H,
) -> Result<FolderOutcome, SyncError> {
    let store = ctx.store;
    let mb = job.mailbox.as_str();
    let fname = job.src_display.as_str();
    let issue =
        |sev, cat: &str, uid, msg: &str| ctx.sink.issue(sev, cat, Some(mb), Some(fname), uid, msg);

    // Where a listing of the new source messages starts (after the highest UID planned).
    let listing_from = |row: &journal::FolderRow| match &job.filter {
        Some(f) => (row.src_high + 1).max(f.min_uid),
        None => row.src_high + 1,
    };
    // When the source folder has new messages as far as its STATUS told (or it was not
    // read), they are listed with the EXAMINE, in the same round trip.
    let before = store.folder(job.row.mailbox_id, &job.src, &job.dst)?;
    let new_mail = job.seen.src.is_none_or(|(st, _)| {
        before.src_uidvalidity != Some(st.uidvalidity) || before.src_uidnext != Some(st.uidnext)
    });
    let examine = async {
        if new_mail {
            let from = listing_from(&before);
            src.examine_listing(&job.src, from)
                .await
                .map(|(st, metas)| (st, Some((from, metas))))
        } else {
            src.examine(&job.src).await.map(|st| (st, None))
        }
    };
    // Both sides opened at once (they are different connections): one round trip, not two.
    // The destination's answer is looked at once the source's is handled, as before.
    let (examined, opened) = tokio::join!(examine, dst.open_for_append(&job.dst));
    let (st, mut listed) = match examined {
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

    // The folder's HIGHESTMODSEQ read before this EXAMINE, for the next delta pass: only
    // when every copy of the folder will be read after it (nothing copied or in doubt yet),
    // so no flag change older than it goes unseen; a delta pass then lists the folder
    // only when it changed since.
    if let Some((pre, Some(marker))) = job.seen.src
        && pre.uidvalidity == st.uidvalidity
        && store.src_modseq(row.id)?.is_none()
        && store.folder_totals(row.id)?.copied == 0
        && store.in_doubt(row.id)?.is_empty()
    {
        store.set_src_modseq(row.id, Some(marker))?;
    }

    let dst_state = match opened {
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
    recopy_damaged(ctx, row.id, dst_state.uidvalidity, dst, &issue).await?;
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
        let from = listing_from(&row);
        let mut metas = match listed.take() {
            Some((f, metas)) if f == from => metas,
            _ => src.fetch_meta(from).await?,
        };
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
        kind: crate::item::folder::kind_of_folder(&job.src),
        to_copy: pending.len() as u64,
        bytes: total_bytes,
    });

    let mut outcome = FolderOutcome::default();
    if !pending.is_empty() {
        copy_split(
            ctx,
            job,
            &pending,
            limit.filter(|_| !listed_sizes_exact),
            validity,
            dst_state.uidvalidity,
            dst_state.uidnext,
            src,
            dst,
            helpers,
            &mut outcome,
        )
        .await?;
        // The state before the check (whatever changes after it is checked next time), read
        // with the check's listing in one round trip.
        let want = check::written(store, row.id, dst_state.uidvalidity)?;
        let now = match check::lowest(&want) {
            Some(min) => {
                let (now, metas) = dst.status_listing(&job.dst, min).await?;
                check::judge(&want, &metas, dst, &issue, true)?;
                now
            }
            None => dst.status(&job.dst).await?,
        };
        store.set_dst_seen(row.id, now.exists, now.uidnext)?;
    } else if store.dst_seen(row.id)? != Some((dst_state.exists, dst_state.uidnext)) {
        // Nothing written: checked and recorded as an unchanged folder is, so that the next
        // pass can pass this one without opening it (an empty folder costs no command here).
        check_destination(store, row.id, dst_state.uidvalidity, dst, &issue, false).await?;
        store.set_dst_seen(row.id, dst_state.exists, dst_state.uidnext)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use crate::events::{Halt, RunStats, Sink};
    use crate::journal::Journal;
    use crate::sync::mem_session::{Fixture, MemSession};
    use crate::sync::split::NoHelpers;
    use crate::sync::types::UidFilter;

    /// Copy 10 messages, 6 of which the destination refuses, with an error budget.
    async fn copy_with_budget(max_failed: usize) -> (Result<FolderOutcome, SyncError>, Journal) {
        let f = Fixture::new();
        let (ctx, job, store) = (f.ctx(), f.job(max_failed), f.store.clone());
        let mut src = MemSession::source(
            (1..=10)
                .map(|u| {
                    let tag = if u % 5 == 0 || u % 3 == 0 {
                        "REFUSE"
                    } else {
                        "ok"
                    };
                    (u, format!("Subject: {u}\r\n\r\n{tag}\r\n").into_bytes())
                })
                .collect(),
        );
        let mut dst = MemSession::default();
        let r = copy_folder(&ctx, &job, &mut src, &mut dst, &NoHelpers).await;
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

    /// Small messages around two of over 1 MiB (streamed through: cut-through).
    fn with_large() -> Vec<(u32, Vec<u8>)> {
        let big = |u: u32| {
            let mut b = format!("Subject: {u}\r\n\r\n").into_bytes();
            b.extend((0..3 * 1024 * 1024 + 17).map(|i| b'a' + ((i * 7 + u as usize) % 26) as u8));
            b
        };
        let small = |u: u32| format!("Subject: {u}\r\n\r\nsmall\r\n").into_bytes();
        vec![
            (1, small(1)),
            (2, big(2)),
            (3, small(3)),
            (4, small(4)),
            (5, big(5)),
        ]
    }

    /// What `dst` stored, as (source UID, bytes) in UID order.
    fn by_uid(dst: &MemSession) -> Vec<(u32, Vec<u8>)> {
        let mut stored: Vec<(u32, Vec<u8>)> = dst
            .stored()
            .into_iter()
            .map(|m| (m.src_uid, m.bytes))
            .collect();
        stored.sort();
        stored
    }

    fn streaming_destination() -> MemSession {
        MemSession {
            pipelined: true,
            streams: true,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn large_messages_are_streamed_through_and_journalled_before_their_last_byte() {
        let f = Fixture::new();
        let (ctx, job) = (f.ctx(), f.job(50));
        let msgs = with_large();
        let mut src = MemSession::source(msgs.clone());
        let mut dst = streaming_destination();
        // As a streamed message's last bytes go, the journal already holds it in doubt
        // (`appending`, with its fingerprint): a crash then cannot leave an unknown copy.
        let (store, folder) = (f.store.clone(), f.row.id);
        let checked = Arc::new(AtomicUsize::new(0));
        let c = checked.clone();
        dst.on_stream_end = Some(Arc::new(move |uid| {
            let doubt = store.in_doubt(folder).unwrap();
            assert!(
                doubt.iter().any(|d| d.src_uid == uid),
                "{uid} not appending"
            );
            c.fetch_add(1, Relaxed);
        }));
        let out = copy_folder(&ctx, &job, &mut src, &mut dst, &NoHelpers)
            .await
            .unwrap();
        assert_eq!(out.appended, 5);
        assert_eq!((dst.streamed, dst.abandoned), (2, 0));
        assert_eq!(checked.load(Relaxed), 2);
        assert_eq!(
            by_uid(&dst),
            msgs,
            "every message stored once, byte for byte"
        );
        let t = f.store.mailbox_totals(f.mid).unwrap();
        assert_eq!((t.copied, t.pending), (5, 0));
    }

    #[tokio::test]
    async fn a_source_failing_in_a_streamed_message_stores_nothing_of_it() {
        let f = Fixture::new();
        let (ctx, job) = (f.ctx(), f.job(50));
        let msgs = with_large();
        let mut src = MemSession::source(msgs.clone());
        src.fail_mid = Some(5);
        let mut dst = streaming_destination();
        let r = copy_folder(&ctx, &job, &mut src, &mut dst, &NoHelpers).await;
        let e = r.expect_err("the source failed");
        assert!(e.is_transient(), "retried on a fresh connection: {e}");
        assert_eq!((dst.streamed, dst.abandoned), (1, 1));
        let stored: Vec<u32> = dst.stored().iter().map(|m| m.src_uid).collect();
        assert!(
            !stored.contains(&5),
            "nothing of the abandoned APPEND: {stored:?}"
        );
        assert!(
            f.store
                .in_doubt(f.row.id)
                .unwrap()
                .iter()
                .all(|d| d.src_uid != 5),
            "never journalled as sent"
        );
        // The next attempt, on fresh connections, copies what is left, each message once.
        let mut src = MemSession::source(msgs.clone());
        let mut dst2 = dst.on_same(1);
        copy_folder(&ctx, &job, &mut src, &mut dst2, &NoHelpers)
            .await
            .unwrap();
        assert_eq!(by_uid(&dst), msgs);
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
            seen: Default::default(),
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
        let mut src = MemSession::source(
            (1..=10)
                .map(|u| (u, format!("Subject: {u}\r\n\r\nok\r\n").into_bytes()))
                .collect(),
        );
        let mut dst = MemSession::default();
        let out = copy_folder(&ctx, &job, &mut src, &mut dst, &NoHelpers)
            .await
            .unwrap();
        // 2 and 4 are owned and planned; 7 is above what was planned; the rest are not owned.
        assert_eq!(out.appended, 2);
        let flags: Vec<Vec<String>> = dst.stored().into_iter().map(|m| m.flags).collect();
        assert_eq!(flags, vec![vec!["Travel".to_string()], vec![]]);
        let f = store.folder(mid, "Work", "Work").unwrap();
        assert_eq!((f.src_high, f.src_uidnext), (5, Some(6)));
        // The next run's plan owns 7 (and 6 is a duplicate): only 7 is copied.
        job.filter = Some(std::sync::Arc::new(UidFilter {
            only: Some(HashSet::from([2, 4, 7])),
            upto: Some(10),
            validity: Some(1),
            ..Default::default()
        }));
        let out = copy_folder(&ctx, &job, &mut src, &mut dst, &NoHelpers)
            .await
            .unwrap();
        assert_eq!(out.appended, 1);
        assert_eq!(dst.stored().len(), 3);
        // Planned under another UIDVALIDITY: nothing is taken, nothing passed over.
        std::sync::Arc::make_mut(&mut src.msgs).push((11, b"Subject: 11\r\n\r\nok\r\n".to_vec()));
        job.filter = Some(std::sync::Arc::new(UidFilter {
            only: Some(HashSet::from([11])),
            upto: Some(11),
            validity: Some(99),
            ..Default::default()
        }));
        let out = copy_folder(&ctx, &job, &mut src, &mut dst, &NoHelpers)
            .await
            .unwrap();
        assert_eq!(out.appended, 0);
        assert_eq!(store.folder(mid, "Work", "Work").unwrap().src_high, 10);
    }
}
