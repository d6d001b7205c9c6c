//! The console's delta passes and finalize (the Batches tab's d, D and F): the steps of
//! `cutover sync --batch` and `cutover finalize --batch`, run by the engine in the
//! background, each step and outcome an operator issue (the console shows them in the Issues
//! tab, the figures in the Batches tab).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::Engine;
use crate::events::Severity;

fn say(e: &Engine, severity: Severity, msg: &str) {
    e.sink().issue(severity, "operator", None, None, None, msg);
}

/// Mailboxes of the batch running now (a pass would skip them).
fn busy(e: &Engine, batch: &str) -> Vec<String> {
    e.selected(&[batch.to_string()])
        .iter()
        .map(|s| s.key())
        .filter(|k| e.is_running(k))
        .collect()
}

/// Why a pass or a finalize of `batch` cannot start now; None when it can.
fn refusal(e: &Engine, batch: &str) -> Option<String> {
    if e.selected(&[batch.to_string()]).is_empty() {
        return Some(format!("no mailbox in batch {batch}"));
    }
    let (running, finalizing, _) = e.sync.state(batch);
    if running {
        return Some(format!(
            "a {} of batch {batch} runs already",
            if finalizing { "finalize" } else { "delta pass" }
        ));
    }
    let busy = busy(e, batch);
    (!busy.is_empty()).then(|| {
        format!(
            "{} mailbox(es) of batch {batch} still running ({}); pause them or let them finish first",
            busy.len(),
            busy.join(", ")
        )
    })
}

/// One journalled delta pass over one batch (`what`: "delta pass", "final pass"): its
/// `sync_passes` row, the batch's mailboxes run as a delta pass, its duration, counts and
/// outcome recorded, and said as an issue. The counts are the engine's run counters before
/// and after: another batch copying at the same time adds its new messages to them. True
/// when every mailbox went through.
async fn one_pass(e: &Arc<Engine>, batch: &str, what: &str) -> bool {
    let id = match e.store.begin_sync_pass(batch) {
        Ok(id) => id,
        Err(err) => {
            e.sink()
                .journal_failed(&format!("cannot record the {what} of batch {batch}: {err}"));
            return false;
        }
    };
    let before = e.stats.pass_counts();
    let started = Instant::now();
    let results = e.run(&[batch.to_string()]).await;
    let took = started.elapsed();
    let c = e.stats.pass_counts().since(before);
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.failure.as_ref().map(|(_, m)| format!("{}: {m}", r.key)))
        .collect();
    let outcome = if failed.is_empty() {
        "complete".to_string()
    } else {
        format!("incomplete: {} mailbox(es) failed", failed.len())
    };
    if let Err(err) = e
        .store
        .end_sync_pass(id, took.as_millis() as u64, c, &outcome)
    {
        e.sink()
            .journal_failed(&format!("cannot record the {what} of batch {batch}: {err}"));
    }
    let mut msg = format!(
        "{what} of batch {batch}: {:.1} s; {}, {} flag change(s), {} move(s), {} deleted on the source ({} removed from the destination); {outcome}",
        took.as_secs_f64(),
        c.new_and_changed(),
        c.flag_changes,
        c.moves,
        c.deletions,
        c.removed,
    );
    if !failed.is_empty() {
        msg.push_str(&format!(" ({})", failed.join("; ")));
    }
    let severity = if failed.is_empty() {
        Severity::Info
    } else {
        Severity::Warning
    };
    say(e, severity, &msg);
    failed.is_empty()
}

/// [`crate::api::Command::DeltaPass`]: one pass of the batch now, repeated every `every`
/// (from the start of one pass to the start of the next) until stopped, a pass that does not
/// complete, or an emergency stop. The checklist gate is the caller's.
pub(super) fn start(e: &Arc<Engine>, batch: String, every: Option<Duration>, operator: &str) {
    if let Some(why) = refusal(e, &batch) {
        say(
            e,
            Severity::Warning,
            &format!("delta pass of batch {batch} refused: {why}"),
        );
        return;
    }
    // Claimed now, so that a second start meanwhile is refused, not run twice.
    if !e.sync.begin(&batch, false) {
        return;
    }
    let schedule = every.map(|d| (d, e.sync.schedule(&batch, d)));
    say(
        e,
        Severity::Info,
        &match every {
            None => format!("delta pass of batch {batch} started by {operator}"),
            Some(d) => format!(
                "delta passes of batch {batch} every {} started by {operator} (D stops them)",
                crate::mail::fmt::duration_words(d.as_secs_f64())
            ),
        },
    );
    let e = e.clone();
    tokio::spawn(async move {
        loop {
            let started = Instant::now();
            let complete = one_pass(&e, &batch, "delta pass").await;
            e.sync.end(&batch);
            let Some((every, (cancel, generation))) = &schedule else {
                break;
            };
            if cancel.is_stopped() {
                break;
            }
            if !complete || e.stop_flag().is_stopped() {
                e.sync.schedule_ended(&batch, *generation);
                say(
                    &e,
                    Severity::Warning,
                    &format!(
                        "delta passes of batch {batch} ended: the last pass did not complete (see above); d or D starts them again"
                    ),
                );
                break;
            }
            let stop = e.stop_flag();
            tokio::select! {
                _ = tokio::time::sleep_until((started + *every).into()) => {}
                _ = cancel.stopped() => break,
                _ = stop.stopped() => {
                    e.sync.schedule_ended(&batch, *generation);
                    break;
                }
            }
            // A pass started by hand meanwhile: this one waits for it.
            while !e.sync.begin(&batch, false) {
                if cancel.is_stopped() || e.stop_flag().is_stopped() {
                    e.sync.schedule_ended(&batch, *generation);
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if cancel.is_stopped() {
                e.sync.end(&batch);
                break;
            }
        }
    });
}

/// [`crate::api::Command::StopDeltaPasses`].
pub(super) fn stop(e: &Engine, batch: &str, operator: &str) {
    let msg = if e.sync.unschedule(batch) {
        format!("delta passes of batch {batch} stopped by {operator} (a pass under way finishes)")
    } else {
        format!("no delta passes of batch {batch} were scheduled")
    };
    say(e, Severity::Info, &msg);
}

/// [`crate::api::Command::Finalize`]: the domain's DNS (refused while MX does not point at
/// the destination: `cutover finalize --force-dns` in a shell goes ahead anyway), the switch
/// marked per mailbox, one final delta pass, the switch of mailboxes that pass copied first,
/// then the verification of every mailbox. The checklist gate is the caller's.
pub(super) fn finalize(e: &Arc<Engine>, batch: String, operator: String) {
    if let Some(why) = refusal(e, &batch) {
        say(
            e,
            Severity::Warning,
            &format!("finalize of batch {batch} refused: {why}"),
        );
        return;
    }
    if !e.sync.begin(&batch, true) {
        return;
    }
    if e.sync.unschedule(&batch) {
        say(
            e,
            Severity::Info,
            &format!("delta passes of batch {batch} stopped: finalize runs the last one"),
        );
    }
    let e = e.clone();
    tokio::spawn(async move {
        run_finalize(&e, &batch, &operator).await;
        e.sync.end(&batch);
    });
}

async fn run_finalize(e: &Arc<Engine>, batch: &str, operator: &str) {
    let refuse = |why: String| {
        say(
            e,
            Severity::Warning,
            &format!(
                "finalize of batch {batch} refused: {why}; nothing changed (`cutover finalize PROJECT --batch {batch} --force-dns REASON` in a shell goes ahead anyway)"
            ),
        )
    };
    let (report, why) = crate::finalize::dns_gate(&e.project).await;
    if let Some(report) = &report {
        if let Err(err) = crate::checklist::record_dns(&e.store, report) {
            e.sink()
                .journal_failed(&format!("cannot record the DNS report: {err}"));
            return;
        }
        say(e, Severity::Info, &crate::finalize::dns_line(batch, report));
    }
    if let Some(why) = why {
        return refuse(why);
    }
    say(
        e,
        Severity::Info,
        &format!(
            "finalize of batch {batch} confirmed by {operator} in the console: switch, final pass, verify"
        ),
    );
    let Some(at) = mark_all(e, batch).await else {
        return;
    };
    if !one_pass(e, batch, "final pass").await {
        say(
            e,
            Severity::Error,
            &format!(
                "finalize of batch {batch}: the switch is marked, the final pass did not complete (see above); finalize again once fixed"
            ),
        );
        return;
    }
    // Mailboxes copied for the first time by the final pass get their mark now.
    let Some(later) = mark_all(e, batch).await else {
        return;
    };
    let at = at.or(later).unwrap_or_else(|| "?".into());
    let mut bad = Vec::new();
    for spec in e.selected(&[batch.to_string()]) {
        // Content compared, as `cutover verify` does by default: a full verification the
        // final report can take as proof; damaged items marked for the next run.
        let m = crate::verify::verify_mailbox(
            &e.project,
            &e.src,
            &e.dst,
            &spec,
            crate::verify::Method::Content,
        )
        .await;
        let what = m.summary();
        let recorded = crate::verify::record(&e.store, batch, &m, m.ok(), &what, None)
            .and_then(|()| crate::verify::mark_damaged(&e.store, &m));
        if let Err(err) = recorded {
            e.sink().journal_failed(&format!(
                "cannot record the verification of {}: {err}",
                m.key
            ));
        }
        if !m.ok() {
            bad.push(format!("{}: {what}", m.key));
        }
    }
    if bad.is_empty() {
        say(
            e,
            Severity::Info,
            &format!(
                "finalize of batch {batch}: switched at {at}; final pass complete and verified"
            ),
        );
    } else {
        say(
            e,
            Severity::Error,
            &format!(
                "finalize of batch {batch}: switched at {at}; verification failed: {}",
                bad.join("; ")
            ),
        );
    }
}

/// Mark the switch of every mailbox of the batch the journal knows (a first mark is kept):
/// Some(the first moment, if any), or None when a mark failed (said as an issue).
async fn mark_all(e: &Arc<Engine>, batch: &str) -> Option<Option<String>> {
    let specs = e.selected(&[batch.to_string()]);
    match crate::finalize::mark_switches(&e.store, &e.dst, &specs).await {
        Ok(marks) => Some(marks.into_iter().next().map(|s| s.at)),
        Err((key, err)) => {
            let msg = format!(
                "finalize of batch {batch} stopped: cannot mark the switch of {key}: {err}; finalize again"
            );
            if err.is_journal() {
                e.sink().journal_failed(&msg);
            } else {
                say(e, Severity::Error, &msg);
            }
            None
        }
    }
}
