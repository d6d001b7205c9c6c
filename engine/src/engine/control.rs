//! The engine's control surface for an interactive observer (the console): the controller
//! task that takes [`Command`]s and publishes [`Snapshot`](crate::api::Snapshot)s (a `watch` channel, latest wins)
//! built by the [`Monitor`]. The emergency stop does not queue behind other commands:
//! [`Handle::emergency_stop`] trips the engine's stop flag directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::monitor::Monitor;
use super::state::Engine;
use crate::api::{IssueState, StopSwitch};
use crate::checklist;
use crate::config::Project;
use crate::endpoint::EndpointError;
use crate::events::Severity;
use crate::journal::Journal;

use crate::api::{Command, Handle};

/// Start the engine with its controller task. Nothing runs until a command starts it.
pub fn spawn(project: Project, store: Journal) -> Result<Handle, EndpointError> {
    spawn_engine(project, store).map(|(handle, _)| handle)
}

/// [`spawn`], also giving the engine itself to the command that runs it (for its control
/// socket, and to wait for its mailboxes when the console ends); the console gets the
/// [`Handle`] only.
pub fn spawn_engine(
    project: Project,
    store: Journal,
) -> Result<(Handle, Arc<Engine>), EndpointError> {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(project, store, Some(ev_tx))?);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let mut monitor = Monitor::new(&engine.project, &engine.store, false);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(monitor.snapshot(Some(&engine))));
    let e = engine.clone();
    let mut suggestions = suggest_notes(engine.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_second = Instant::now();
        let mut dirty = false;
        loop {
            tokio::select! {
                c = cmd_rx.recv() => {
                    let Some(c) = c else { break };
                    handle(&e, &mut monitor, c);
                    dirty = true;
                }
                Some(ev) = ev_rx.recv() => {
                    monitor.apply(&ev);
                    dirty = true;
                }
                Some(s) = suggestions.recv() => {
                    monitor.set_suggestions(s);
                    dirty = true;
                }
                _ = tick.tick() => {
                    if last_second.elapsed() >= Duration::from_secs(1) {
                        last_second += Duration::from_secs(1);
                        monitor.close_second();
                        dirty = true;
                    }
                    if dirty {
                        monitor.refresh(&e.store);
                        let _ = snap_tx.send(Arc::new(monitor.snapshot(Some(&e))));
                        dirty = false;
                    }
                }
            }
        }
    });
    let stop = engine.stop_flag();
    let handle = Handle {
        commands: cmd_tx,
        snapshots: snap_rx,
        stop: StopSwitch::new(move || stop.stop()),
        backup: None,
    };
    Ok((handle, engine))
}

/// The report notes' suggestions, computed off the engine's loop (they gather a whole report
/// from the journal): at once, then every five minutes, until the loop is gone.
fn suggest_notes(e: Arc<Engine>) -> mpsc::Receiver<[String; 2]> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let engine = e.clone();
            let got = tokio::task::spawn_blocking(move || {
                crate::report::suggestion_texts(&engine.project, &engine.store)
            })
            .await;
            match got {
                Ok(Ok(s)) => {
                    if tx.send(s).await.is_err() {
                        break;
                    }
                }
                Ok(Err(err)) => {
                    tracing::warn!("cannot gather the report notes' suggestions: {err}")
                }
                Err(err) => tracing::warn!("the report notes' suggestions failed: {err}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(300)) => {}
                _ = tx.closed() => break,
            }
        }
    });
    rx
}

fn handle(e: &Arc<Engine>, m: &mut Monitor, c: Command) {
    tracing::info!(command = ?c, "operator command");
    match c {
        Command::Start { batch } => {
            if !gate_open(e, batch.as_slice()) {
                return;
            }
            resume_after_stop(e, m);
            // The whole fleet resumes what a pause held (PostgreSQL journal).
            super::fleet::broadcast(e, "start", batch.as_deref(), "the console");
            for spec in e.selected(batch.as_slice()) {
                m.paused.remove(&spec.batch);
                e.start_mailbox(spec);
            }
        }
        Command::StartMailbox { key } => {
            if let Some(spec) = e.project.mailboxes.iter().find(|s| s.key() == key) {
                if !gate_open(e, std::slice::from_ref(&spec.batch)) {
                    return;
                }
                e.stop_flag().clear();
                m.stopped = false;
                e.start_mailbox(spec.clone());
            }
        }
        Command::PauseMailbox { key } => {
            e.pause_mailbox(&key);
        }
        Command::Pause { batch } => {
            let batch_named = batch.clone();
            let batches: Vec<String> = match batch {
                Some(b) => vec![b],
                None => e
                    .project
                    .mailboxes
                    .iter()
                    .map(|s| s.batch.clone())
                    .collect(),
            };
            // The whole fleet pauses with it (PostgreSQL journal; who paused is not known).
            super::fleet::broadcast(e, "pause", batch_named.as_deref(), "the console");
            for b in batches {
                e.pause_batch(&b);
                m.paused.insert(b);
            }
        }
        Command::EmergencyStop { operator } => {
            super::remote::emergency_stop(e, &operator, None, "the console");
            // And every other engine of the fleet (PostgreSQL journal).
            super::fleet::broadcast(e, "stop", None, &operator);
            m.stopped = true;
        }
        Command::SetBatchParallel { batch, n } => {
            e.set_batch_parallel(&batch, n);
            e.sink().issue(
                Severity::Info,
                "operator",
                None,
                None,
                None,
                &format!("mailboxes at once in batch {batch} set to {}", n.max(1)),
            );
        }
        Command::SetParallel(n) => {
            e.set_parallel(n);
            e.sink().issue(
                Severity::Info,
                "operator",
                None,
                None,
                None,
                &format!("mailboxes at once set to {}", n.max(1)),
            );
        }
        Command::SetCheck {
            id,
            done,
            note,
            operator,
        } => {
            if let Err(err) = e.store.set_check(&id, done, &operator, note.as_deref()) {
                e.sink()
                    .journal_failed(&format!("cannot record checklist item {id}: {err}"));
            }
        }
        Command::Rollback { batch, operator } => {
            let specs = e.selected(std::slice::from_ref(&batch));
            let busy: Vec<String> = specs
                .iter()
                .map(|s| s.key())
                .filter(|k| e.is_running(k))
                .collect();
            if !busy.is_empty() {
                e.sink().issue(
                    Severity::Warning,
                    "operator",
                    None,
                    None,
                    None,
                    &format!(
                        "rollback of batch {batch} refused: {} mailbox(es) still running ({}); pause or stop the batch first",
                        busy.len(),
                        busy.join(", ")
                    ),
                );
                return;
            }
            m.rollback = Some(format!("rolling back batch {batch}…"));
            let e = e.clone();
            tokio::spawn(async move {
                let claimed: Vec<String> = specs
                    .iter()
                    .filter(|s| e.claim(&s.key()))
                    .map(|s| s.key())
                    .collect();
                for spec in specs.iter().filter(|s| !claimed.contains(&s.key())) {
                    e.sink().issue(
                        Severity::Warning,
                        "operator",
                        Some(&spec.key()),
                        None,
                        None,
                        "not rolled back: it was started meanwhile; pause it and roll back again",
                    );
                }
                let halt = crate::events::Halt {
                    emergency: e.stop_flag(),
                    ..Default::default()
                };
                for spec in specs.iter().filter(|s| claimed.contains(&s.key())) {
                    crate::rollback::rollback_mailbox(
                        &e.dst,
                        &e.store,
                        e.sink(),
                        spec,
                        &operator,
                        &halt,
                    )
                    .await;
                }
                for k in &claimed {
                    e.release(k);
                }
            });
        }
        Command::AckIssue { id, operator } => {
            match e
                .store
                .set_issue_state(id, IssueState::Acknowledged.as_str(), &operator, None)
            {
                Ok(()) => tracing::info!(issue = id, operator, "issue acknowledged"),
                Err(err) => e
                    .sink()
                    .journal_failed(&format!("cannot acknowledge issue {id}: {err}")),
            }
        }
        Command::ResolveIssue { id, note, operator } => {
            let note = Some(note.as_str()).filter(|n| !n.trim().is_empty());
            match e
                .store
                .set_issue_state(id, IssueState::Resolved.as_str(), &operator, note)
            {
                Ok(()) => tracing::info!(issue = id, operator, note, "issue resolved"),
                Err(err) => e
                    .sink()
                    .journal_failed(&format!("cannot resolve issue {id}: {err}")),
            }
        }
        Command::SetReportNote {
            section,
            text,
            operator,
        } => {
            let text = text.trim();
            if text.is_empty() {
                return;
            }
            match e.store.record_note(section.as_str(), text, &operator) {
                Ok(()) => {
                    tracing::info!(section = section.as_str(), operator, "report note saved");
                    m.notes_changed();
                }
                Err(err) => e
                    .sink()
                    .journal_failed(&format!("cannot save the {section} note: {err}")),
            }
        }
        Command::RunChecks { id } => {
            let e = e.clone();
            tokio::spawn(async move { run_checks(&e, id.as_deref()).await });
        }
        Command::OverrideCheck {
            id,
            reason,
            operator,
        } => {
            let reason = reason.trim();
            if reason.is_empty() {
                return;
            }
            let items = match checklist::evaluate(&e.project, &e.store, &[]) {
                Ok(items) => items,
                Err(err) => {
                    tracing::error!("cannot read the checklist: {err}");
                    return;
                }
            };
            let unmet: Vec<_> = items
                .into_iter()
                .filter(|i| !i.status.met())
                .filter(|i| match &id {
                    Some(id) => &i.id == id,
                    None => i.required,
                })
                .collect();
            if unmet.is_empty() {
                return;
            }
            match checklist::override_items(&e.store, &unmet, &operator, reason) {
                Ok(msg) => e
                    .sink()
                    .issue(Severity::Warning, "operator", None, None, None, &msg),
                Err(err) => e
                    .sink()
                    .journal_failed(&format!("cannot record the override: {err}")),
            }
        }
        Command::DeltaPass {
            batch,
            every,
            operator,
        } => {
            if gate_open(e, std::slice::from_ref(&batch)) {
                resume_after_stop(e, m);
                m.paused.remove(&batch);
                super::passes::start(e, batch, every, &operator);
            }
        }
        Command::StopDeltaPasses { batch, operator } => super::passes::stop(e, &batch, &operator),
        Command::MeasureLag { batch } => super::lag::measure(e, batch),
        Command::Finalize { batch, operator } => {
            if gate_open(e, std::slice::from_ref(&batch)) {
                resume_after_stop(e, m);
                m.paused.remove(&batch);
                super::passes::finalize(e, batch, operator);
            }
        }
        // Reaches the engine only where the handle has no backup switch.
        Command::Backup { .. } => e.sink().issue(
            Severity::Warning,
            "operator",
            None,
            None,
            None,
            "backup: not available from this console; run `cutover backup PROJECT` in a shell",
        ),
    }
}

/// Starting work after an emergency stop is the operator's explicit resume.
fn resume_after_stop(e: &Arc<Engine>, m: &mut Monitor) {
    if e.stop_flag().is_stopped() {
        e.stop_flag().clear();
        m.stopped = false;
    }
}

/// The checklist gate for starting batches: refused (and said so as an issue) while a
/// required item is unmet and not overridden.
fn gate_open(e: &Arc<Engine>, batches: &[String]) -> bool {
    match checklist::blockers(&e.project, &e.store, batches) {
        Ok(b) if b.is_empty() => true,
        Ok(b) => {
            let what = if batches.is_empty() {
                "every batch".to_string()
            } else {
                format!("batch {}", batches.join(", "))
            };
            e.sink().issue(
                Severity::Warning,
                "checklist",
                None,
                None,
                None,
                &format!(
                    "{what} not started: required checklist item(s) unmet: {}. Run the auto checks (Checklist tab: c / C), tick manual items, or override (o) with a reason.",
                    checklist::describe(&b)
                ),
            );
            false
        }
        Err(err) => {
            tracing::error!("cannot read the checklist: {err}");
            false
        }
    }
}

/// Run auto checks from the console: the per-mailbox ones need a discovery of every
/// mailbox (metadata only); the rest are quick.
async fn run_checks(e: &Arc<Engine>, id: Option<&str>) {
    let needs_discovery = id.is_none_or(|i| matches!(i, "login" | "folders" | "quota"));
    let assessment = if needs_discovery {
        match crate::assess::assess(&e.project, &e.store, &e.src, &e.dst, &[]).await {
            Ok(a) => Some(a),
            Err(err @ crate::assess::AssessError::Journal(_)) => {
                e.sink()
                    .journal_failed(&format!("auto checks could not run: {err}"));
                return;
            }
            Err(err) => {
                e.sink().issue(
                    Severity::Error,
                    "checklist",
                    None,
                    None,
                    None,
                    &format!("auto checks could not run: {err}"),
                );
                return;
            }
        }
    } else {
        None
    };
    let outcome = checklist::run_auto_checks(&e.project, &e.store, assessment.as_ref(), id).await;
    let msg = match (outcome, checklist::evaluate(&e.project, &e.store, &[])) {
        (Ok(()), Ok(items)) => {
            let auto: Vec<_> = items
                .iter()
                .filter(|i| i.kind == crate::config::CheckKind::Auto)
                .filter(|i| id.is_none_or(|x| x == i.id))
                .collect();
            let failed = auto
                .iter()
                .filter(|i| i.status == checklist::Status::Fail)
                .count();
            format!(
                "auto checks run ({}): {} item(s), {failed} failing",
                id.unwrap_or("all"),
                auto.len()
            )
        }
        (Err(err), _) | (_, Err(err)) => {
            e.sink()
                .journal_failed(&format!("auto checks could not be recorded: {err}"));
            return;
        }
    };
    e.sink()
        .issue(Severity::Info, "checklist", None, None, None, &msg);
}
