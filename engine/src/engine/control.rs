//! The engine's control surface for an interactive observer (the console): commands in,
//! snapshots out (a `watch` channel, latest wins). The emergency stop does not queue behind
//! other commands: [`Handle::emergency_stop`] trips the engine's stop flag directly.
//!
//! The same [`Monitor`] builds snapshots for `cutover watch` from the journal alone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use super::Engine;
use super::snapshot::{
    BatchView, CheckView, Connections, MailboxView, RunState, Snapshot, Throughput,
};
use crate::checklist;
use crate::config::Project;
use crate::endpoint::EndpointError;
use crate::events::{Event, Severity};
use crate::journal::{Journal, Totals};

/// What an operator can ask of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start (or resume) a batch; every batch when None.
    Start {
        batch: Option<String>,
    },
    /// Start (or retry) one mailbox.
    StartMailbox {
        key: String,
    },
    /// Graceful pause: windows in flight finish, the journal stays consistent.
    Pause {
        batch: Option<String>,
    },
    /// Graceful pause of one mailbox; starting it (or its batch) resumes it.
    PauseMailbox {
        key: String,
    },
    /// Logged record of an emergency stop (the stop itself is tripped out of band).
    EmergencyStop {
        operator: String,
    },
    /// Mailboxes allowed to run at once.
    SetParallel(usize),
    /// Mailboxes of one batch allowed to run at once.
    SetBatchParallel {
        batch: String,
        n: usize,
    },
    SetCheck {
        id: String,
        done: bool,
        note: Option<String>,
        operator: String,
    },
    AckIssue {
        id: i64,
        operator: String,
    },
    /// Remove from the destination what cutover wrote for this batch (typed confirmation
    /// happened in the console). Refused while a mailbox of the batch runs.
    Rollback {
        batch: String,
        operator: String,
    },
    /// Close an issue with the operator's note (what was done about it).
    ResolveIssue {
        id: i64,
        note: String,
        operator: String,
    },
    /// Run the checklist's auto checks (one item, or all when None) in the background.
    RunChecks {
        id: Option<String>,
    },
    /// Override an unmet checklist item (every unmet required item when None) with a reason;
    /// journalled as an operator issue.
    OverrideCheck {
        id: Option<String>,
        reason: String,
        operator: String,
    },
}

pub struct Handle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub engine: Arc<Engine>,
}

impl Handle {
    /// Halt every write now (checked before each APPEND window), then log it.
    pub fn emergency_stop(&self, operator: &str) {
        self.engine.stop_flag().stop();
        let _ = self.commands.send(Command::EmergencyStop {
            operator: operator.to_string(),
        });
    }

    pub fn send(&self, c: Command) {
        if let Command::EmergencyStop { operator } = &c {
            self.emergency_stop(operator);
        } else {
            let _ = self.commands.send(c);
        }
    }
}

/// Start the engine with its controller task. Nothing runs until a command starts it.
pub fn spawn(project: Project, store: Journal) -> Result<Handle, EndpointError> {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(project, store, Some(ev_tx))?);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let mut monitor = Monitor::new(&engine.project, &engine.store, false);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(monitor.snapshot(Some(&engine))));
    let e = engine.clone();
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
    Ok(Handle {
        commands: cmd_tx,
        snapshots: snap_rx,
        engine,
    })
}

fn handle(e: &Arc<Engine>, m: &mut Monitor, c: Command) {
    tracing::info!(command = ?c, "operator command");
    match c {
        Command::Start { batch } => {
            if !gate_open(e, batch.as_slice()) {
                return;
            }
            if e.stop_flag().is_stopped() {
                // Starting after an emergency stop is the operator's explicit resume.
                e.stop_flag().clear();
                m.stopped = false;
            }
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
            let batches: Vec<String> = match batch {
                Some(b) => vec![b],
                None => e
                    .project
                    .mailboxes
                    .iter()
                    .map(|s| s.batch.clone())
                    .collect(),
            };
            for b in batches {
                e.pause_batch(&b);
                m.paused.insert(b);
            }
        }
        Command::EmergencyStop { operator } => {
            super::remote::emergency_stop(e, &operator, None, "the console");
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
            match e.store.set_issue_state(id, "acknowledged", &operator, None) {
                Ok(()) => tracing::info!(issue = id, operator, "issue acknowledged"),
                Err(err) => e
                    .sink()
                    .journal_failed(&format!("cannot acknowledge issue {id}: {err}")),
            }
        }
        Command::ResolveIssue { id, note, operator } => {
            let note = Some(note.as_str()).filter(|n| !n.trim().is_empty());
            match e.store.set_issue_state(id, "resolved", &operator, note) {
                Ok(()) => tracing::info!(issue = id, operator, note, "issue resolved"),
                Err(err) => e
                    .sink()
                    .journal_failed(&format!("cannot resolve issue {id}: {err}")),
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

/// Builds snapshots from engine events and the journal.
pub struct Monitor {
    project: String,
    log_dir: String,
    journal: String,
    started: chrono::DateTime<Utc>,
    read_only: bool,
    /// Batch order as in the project file.
    batch_order: Vec<String>,
    mailboxes: BTreeMap<String, MailboxView>,
    order: Vec<String>,
    project_def: Project,
    check_rows: Vec<CheckView>,
    /// Per batch: the required checklist items that keep it from starting.
    blocked: HashMap<String, Vec<String>>,
    issues: Vec<crate::journal::IssueRow>,
    /// Journal failures this process met (see [`crate::events::Sink::journal_failed`]): not in the
    /// journal, which is what failed, so shown ahead of its issues.
    journal_faults: Vec<crate::journal::IssueRow>,
    dirty: HashSet<String>,
    /// Last cumulative counters per (mailbox, folder) run, to turn progress into deltas.
    progress: HashMap<(String, String), (u64, u64)>,
    /// Folders enumerated in this process, per mailbox.
    enumerated: HashMap<String, HashSet<String>>,
    /// This second's appends per mailbox.
    second: HashMap<String, (u64, u64)>,
    overall: Throughput,
    batch_tp: HashMap<String, Throughput>,
    /// Journal totals at the previous refresh (watch mode measures rates from them).
    last_totals: HashMap<String, Totals>,
    pub paused: HashSet<String>,
    pub stopped: bool,
    /// The rollback under way or last finished, in words.
    pub rollback: Option<String>,
    seq: u64,
}

impl Monitor {
    pub fn new(project: &Project, store: &Journal, read_only: bool) -> Monitor {
        let mut m = Monitor {
            project: project.name.clone(),
            log_dir: project.log_dir.display().to_string(),
            journal: project.state_path.display().to_string(),
            started: Utc::now(),
            read_only,
            batch_order: Vec::new(),
            mailboxes: BTreeMap::new(),
            order: Vec::new(),
            project_def: project.clone(),
            check_rows: Vec::new(),
            blocked: HashMap::new(),
            issues: Vec::new(),
            journal_faults: Vec::new(),
            dirty: HashSet::new(),
            progress: HashMap::new(),
            enumerated: HashMap::new(),
            second: HashMap::new(),
            overall: Throughput::default(),
            batch_tp: HashMap::new(),
            last_totals: HashMap::new(),
            paused: HashSet::new(),
            stopped: false,
            rollback: None,
            seq: 0,
        };
        for spec in &project.mailboxes {
            if !m.batch_order.contains(&spec.batch) {
                m.batch_order.push(spec.batch.clone());
            }
            let key = spec.key();
            m.order.push(key.clone());
            m.mailboxes.insert(
                key.clone(),
                MailboxView {
                    key: key.clone(),
                    batch: spec.batch.clone(),
                    state: "new".into(),
                    ..Default::default()
                },
            );
            m.dirty.insert(key);
        }
        m.refresh(store);
        // Rates start from what the journal already holds.
        for (k, v) in &m.mailboxes {
            m.last_totals.insert(k.clone(), v.totals.clone());
        }
        m
    }

    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::MailboxStarted { mailbox, .. } => {
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    v.state = "running".into();
                    v.folders_done = 0;
                    v.last_error = None;
                }
                self.enumerated.remove(mailbox);
            }
            Event::MailboxPlanned { mailbox, folders } => {
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    v.folders_total = Some(*folders);
                    v.enumerated = *folders == 0;
                }
            }
            Event::FolderStarted {
                mailbox, folder, ..
            } => {
                self.mark_enumerated(mailbox, folder);
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    v.current_folder = Some(folder.clone());
                }
                self.progress
                    .insert((mailbox.clone(), folder.clone()), (0, 0));
            }
            Event::Progress {
                mailbox,
                folder,
                copied,
                bytes,
            } => {
                let last = self
                    .progress
                    .insert((mailbox.clone(), folder.clone()), (*copied, *bytes))
                    .unwrap_or((0, 0));
                let s = self.second.entry(mailbox.clone()).or_default();
                s.0 += copied.saturating_sub(last.0);
                s.1 += bytes.saturating_sub(last.1);
                self.dirty.insert(mailbox.clone());
            }
            Event::FolderDone {
                mailbox, folder, ..
            } => {
                self.mark_enumerated(mailbox, folder);
                self.progress.remove(&(mailbox.clone(), folder.clone()));
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    v.folders_done += 1;
                    if v.current_folder.as_deref() == Some(folder) {
                        v.current_folder = None;
                    }
                }
                self.dirty.insert(mailbox.clone());
            }
            Event::MailboxDone {
                mailbox,
                state,
                error,
                ..
            } => {
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    v.state = state.clone();
                    v.current_folder = None;
                    v.last_error = error.clone();
                }
                self.dirty.insert(mailbox.clone());
            }
            Event::RollbackProgress {
                mailbox,
                folder,
                removed,
            } => {
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    v.state = crate::rollback::ROLLING_BACK.into();
                }
                self.rollback = Some(format!(
                    "rolling back {mailbox}: {removed} message(s) removed so far (folder {folder})"
                ));
            }
            Event::RollbackDone {
                mailbox,
                removed,
                error,
            } => {
                self.rollback = Some(match error {
                    None => format!(
                        "rollback of {mailbox} done: {removed} message(s) removed from the destination"
                    ),
                    Some(e) => format!(
                        "rollback of {mailbox} interrupted after {removed} removed: {e} (roll back again to finish)"
                    ),
                });
                self.dirty.insert(mailbox.clone());
                if let Some(v) = self.mailboxes.get_mut(mailbox) {
                    // The journal has the final word on the next refresh.
                    v.state = "new".into();
                }
            }
            // Only `Sink::journal_failed` sends a critical `journal` issue.
            Event::Issue {
                severity: Severity::Critical,
                category,
                message,
                ..
            } if category == "journal" => {
                let now = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                self.journal_faults.push(crate::journal::IssueRow {
                    severity: Severity::Critical.as_str().into(),
                    category: category.clone(),
                    message: message.clone(),
                    count: 1,
                    last_seen: now.clone(),
                    state: "open".into(),
                    first_seen: now,
                    ..Default::default()
                });
                self.issues
                    .splice(0..0, self.journal_faults.last().cloned());
            }
            Event::Issue { .. } => {}
        }
    }

    fn mark_enumerated(&mut self, mailbox: &str, folder: &str) {
        let set = self.enumerated.entry(mailbox.to_string()).or_default();
        set.insert(folder.to_string());
        let n = set.len();
        if let Some(v) = self.mailboxes.get_mut(mailbox)
            && v.folders_total.is_some_and(|t| n >= t)
        {
            v.enumerated = true;
        }
    }

    /// Close the current second of throughput.
    pub fn close_second(&mut self) {
        let mut total = (0, 0);
        let mut per_batch: HashMap<String, (u64, u64)> = HashMap::new();
        for (key, v) in self.mailboxes.iter_mut() {
            let s = self.second.remove(key).unwrap_or((0, 0));
            v.throughput.push_second(s.0, s.1);
            let b = per_batch.entry(v.batch.clone()).or_default();
            b.0 += s.0;
            b.1 += s.1;
            total.0 += s.0;
            total.1 += s.1;
        }
        for b in &self.batch_order {
            let s = per_batch.get(b).copied().unwrap_or_default();
            self.batch_tp
                .entry(b.clone())
                .or_default()
                .push_second(s.0, s.1);
        }
        self.overall.push_second(total.0, total.1);
    }

    /// Re-read what changed from the journal.
    pub fn refresh(&mut self, store: &Journal) {
        let keys: Vec<String> = if self.read_only {
            self.order.clone()
        } else {
            self.dirty.drain().collect()
        };
        for key in keys {
            let Ok(Some((id, state, err))) = store.mailbox_state(&key) else {
                continue;
            };
            let totals = store.mailbox_totals(id).unwrap_or_default();
            if let Some(v) = self.mailboxes.get_mut(&key) {
                if self.read_only {
                    // Watch mode: state and rates come from the journal only.
                    let prev = self.last_totals.get(&key).cloned().unwrap_or_default();
                    let d = (
                        totals.copied.saturating_sub(prev.copied),
                        totals.copied_bytes.saturating_sub(prev.copied_bytes),
                    );
                    let s = self.second.entry(key.clone()).or_default();
                    s.0 += d.0;
                    s.1 += d.1;
                    self.last_totals.insert(key.clone(), totals.clone());
                    v.state = state;
                    v.last_error = err;
                } else if v.state == "new" {
                    // What an earlier run left, until this process starts the mailbox.
                    v.state = match state.as_str() {
                        "running" => "interrupted".into(),
                        s => s.into(),
                    };
                    v.last_error = err;
                }
                if v.state == "done" {
                    // A completed pass enumerated every folder.
                    v.enumerated = true;
                }
                v.totals = totals;
            }
        }
        if let Ok(rows) = store.issue_rows(500) {
            self.issues = self
                .journal_faults
                .iter()
                .rev()
                .cloned()
                .chain(rows)
                .collect();
        }
        if !self.project_def.checks.is_empty() {
            for b in &self.batch_order {
                if let Ok(items) =
                    checklist::blockers(&self.project_def, store, std::slice::from_ref(b))
                {
                    self.blocked
                        .insert(b.clone(), items.into_iter().map(|i| i.id).collect());
                }
            }
        }
        if let Ok(items) = checklist::evaluate(&self.project_def, store, &[]) {
            self.check_rows = items
                .into_iter()
                .map(|c| CheckView {
                    id: c.id,
                    section: c.section,
                    title: c.title,
                    required: c.required,
                    done: c.done,
                    by: c.by,
                    at: c.at,
                    note: c.note,
                    auto: c.kind == crate::config::CheckKind::Auto,
                    status: c.status.word().to_string(),
                    reason: c.reason,
                })
                .collect();
        }
    }

    pub fn snapshot(&mut self, engine: Option<&Engine>) -> Snapshot {
        self.seq += 1;
        let batches: Vec<BatchView> = self
            .batch_order
            .iter()
            .map(|b| BatchView {
                name: b.clone(),
                mailboxes: self
                    .order
                    .iter()
                    .filter_map(|k| self.mailboxes.get(k))
                    .filter(|m| &m.batch == b)
                    .cloned()
                    .collect(),
                throughput: self.batch_tp.get(b).cloned().unwrap_or_default(),
                paused: self.paused.contains(b),
                parallel: engine.map_or(0, |e| e.batch_parallel(b)),
                blocked: self.blocked.get(b).cloned().unwrap_or_default(),
            })
            .collect();
        let running = batches.iter().any(|b| b.count("running") > 0);
        let stopped = self.stopped || engine.is_some_and(|e| e.stop_flag().is_stopped());
        let run_state = if stopped {
            RunState::Stopped
        } else if running && batches.iter().any(|b| b.paused && b.count("running") > 0) {
            RunState::Pausing
        } else if running {
            RunState::Running
        } else {
            RunState::Idle
        };
        let cutoff = (Utc::now() - chrono::Duration::seconds(60))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let mut throttled: Vec<String> = self
            .issues
            .iter()
            .filter(|i| i.category == "throttling" && i.last_seen >= cutoff)
            .filter_map(|i| i.mailbox.clone())
            .collect();
        // HTTP API endpoints wait out throttling themselves; they say which mailboxes.
        if let Some(e) = engine {
            for a in e
                .src
                .throttled_accounts()
                .into_iter()
                .chain(e.dst.throttled_accounts())
            {
                if !throttled.contains(&a) {
                    throttled.push(a);
                }
            }
        }
        Snapshot {
            seq: self.seq,
            at: Utc::now(),
            project: self.project.clone(),
            started: Some(self.started),
            run_state,
            read_only: self.read_only,
            batches,
            throughput: self.overall.clone(),
            connections: engine
                .map(|e| Connections {
                    src_in_use: e.src.in_use(),
                    src_max: e.src.max_connections(),
                    dst_in_use: e.dst.in_use(),
                    dst_max: e.dst.max_connections(),
                })
                .unwrap_or_default(),
            parallel: engine.map_or(0, |e| e.parallel()),
            issues: self.issues.clone(),
            checks: self.check_rows.clone(),
            throttled,
            log_dir: self.log_dir.clone(),
            journal: self.journal.clone(),
            rollback: self.rollback.clone(),
        }
    }
}

/// Snapshots of a project from its journal alone, for `cutover watch` (read-only).
pub fn watch_journal(project: Project, store: Journal) -> watch::Receiver<Arc<Snapshot>> {
    let mut monitor = Monitor::new(&project, &store, true);
    let (tx, rx) = watch::channel(Arc::new(monitor.snapshot(None)));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            monitor.refresh(&store);
            monitor.close_second();
            if tx.send(Arc::new(monitor.snapshot(None))).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Sink;
    use crate::journal::Issue;

    fn project(dir: &std::path::Path) -> crate::config::Project {
        let file = dir.join("p.toml");
        std::fs::write(
            &file,
            "[project]\nname = \"t\"\nstate = \"state.sqlite\"\n\n\
             [source]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
             [destination]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
             [[mailbox]]\nbatch = \"b\"\nsource = { user = \"a\", password = \"x\" }\ndestination = { user = \"a\", password = \"x\" }\n",
        )
        .unwrap();
        crate::config::load(&file).unwrap()
    }

    /// An issue the journal refuses (here: a read-only connection, as SQLite refuses it) is
    /// kept for the exit code, said to observers, and shown first in the console's issues.
    #[test]
    fn an_issue_the_journal_refuses_is_kept_for_exit_9_and_shown_in_the_console() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        let rw = Journal::open(&p.state_path, p.durability).unwrap();
        let ro = Journal::open_read_only(&p.state_path).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = Sink::new(ro, Some(tx));
        assert_eq!(sink.journal_fault(), None);
        sink.issue(
            Severity::Warning,
            "operator",
            Some("a->a"),
            None,
            None,
            "paused",
        );
        let fault = sink.journal_fault().expect("the failure is kept");
        assert!(
            fault.contains("cannot journal an issue (paused)")
                && fault.contains(&p.state_path.display().to_string()),
            "{fault}"
        );
        // The first failure is the one kept.
        sink.journal_failed("a later one");
        assert_eq!(sink.journal_fault().as_deref(), Some(fault.as_str()));

        let mut monitor = Monitor::new(&p, &rw, false);
        let mut seen = Vec::new();
        while let Ok(e) = rx.try_recv() {
            monitor.apply(&e);
            seen.push(e);
        }
        assert!(
            matches!(&seen[0], Event::Issue { severity: Severity::Critical, category, message, .. }
                if category == "journal" && *message == fault),
            "{seen:?}"
        );
        assert!(
            matches!(&seen[1], Event::Issue { severity: Severity::Warning, message, .. } if message == "paused"),
            "{seen:?}"
        );
        // Shown ahead of the journal's own issues, also after the journal is read again.
        rw.record_issue(&Issue {
            severity: "error",
            category: "network",
            mailbox: None,
            folder: None,
            uid: None,
            message: "journalled",
        })
        .unwrap();
        monitor.refresh(&rw);
        let shown: Vec<(String, String)> = monitor
            .snapshot(None)
            .issues
            .iter()
            .map(|i| (i.category.clone(), i.message.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("journal".to_string(), "a later one".to_string()),
                ("journal".to_string(), fault),
                ("network".to_string(), "journalled".to_string()),
            ]
        );
    }
}
