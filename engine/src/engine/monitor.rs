//! The [`Monitor`]: builds the console's snapshots from the engine's events and the
//! journal, and for `cutover watch` from the journal alone ([`watch_journal`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::state::Engine;
use super::views::pass_view;
use crate::api::{
    BackupState, BatchView, CheckView, Connections, IssueState, IssueView, ItemKind, MailboxState,
    MailboxView, PassView, RunState, Severity, Side, Snapshot, SyncView, Throughput, Totals,
};
use crate::checklist;
use crate::config::Project;
use crate::events::Event;
use crate::journal::Journal;

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
    /// Per batch: its last delta passes, newest first.
    passes: HashMap<String, Vec<PassView>>,
    issues: Vec<IssueView>,
    /// Journal failures this process met (see [`crate::events::Sink::journal_failed`]): not in the
    /// journal, which is what failed, so shown ahead of its issues.
    journal_faults: Vec<IssueView>,
    dirty: HashSet<String>,
    /// Last cumulative counters per (mailbox, folder) run, to turn progress into deltas.
    progress: HashMap<(String, String), (u64, u64)>,
    /// Folders enumerated in this process, per mailbox.
    enumerated: HashMap<String, HashSet<String>>,
    /// This second's appends per mailbox.
    second: HashMap<String, (u64, u64)>,
    overall: Throughput,
    batch_tp: HashMap<String, Throughput>,
    /// The kind of each (mailbox, folder) started in this process (mail when unknown).
    folder_kind: HashMap<(String, String), ItemKind>,
    /// This second's appends per kind of item, and the rates per kind, all batches.
    kind_second: BTreeMap<ItemKind, (u64, u64)>,
    kind_tp: BTreeMap<ItemKind, Throughput>,
    /// Journal totals at the previous refresh (watch mode measures rates from them).
    last_totals: HashMap<String, Totals>,
    pub paused: HashSet<String>,
    pub stopped: bool,
    /// The rollback under way or last finished, in words.
    pub rollback: Option<String>,
    /// The report notes, read at most once a minute (at once after a note was saved), and the
    /// suggestions, which the engine's loop computes off it (they gather a report).
    notes: Vec<crate::api::NoteView>,
    notes_read: Option<std::time::Instant>,
    seq: u64,
    /// The fleet on a PostgreSQL journal, read at each refresh.
    fleet: super::fleet_view::FleetSampler,
    fleet_view: Option<crate::api::FleetView>,
}

impl Monitor {
    pub fn new(project: &Project, store: &Journal, read_only: bool) -> Monitor {
        let mut m = Monitor {
            project: project.name.clone(),
            log_dir: project.log_dir.display().to_string(),
            journal: project.journal_name(),
            started: Utc::now(),
            read_only,
            batch_order: Vec::new(),
            mailboxes: BTreeMap::new(),
            order: Vec::new(),
            project_def: project.clone(),
            check_rows: Vec::new(),
            blocked: HashMap::new(),
            passes: HashMap::new(),
            issues: Vec::new(),
            journal_faults: Vec::new(),
            dirty: HashSet::new(),
            progress: HashMap::new(),
            enumerated: HashMap::new(),
            second: HashMap::new(),
            overall: Throughput::default(),
            batch_tp: HashMap::new(),
            folder_kind: HashMap::new(),
            kind_second: BTreeMap::new(),
            kind_tp: BTreeMap::new(),
            last_totals: HashMap::new(),
            paused: HashSet::new(),
            stopped: false,
            rollback: None,
            notes: crate::api::NoteSection::ALL
                .iter()
                .map(|s| crate::api::NoteView {
                    section: *s,
                    ..Default::default()
                })
                .collect(),
            notes_read: None,
            seq: 0,
            fleet: super::fleet_view::FleetSampler::new(project.lease_seconds),
            fleet_view: None,
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
                    mailbox_type: spec.mailbox_type,
                    state: MailboxState::New,
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
                    v.state = MailboxState::Running;
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
                mailbox,
                folder,
                kind,
                ..
            } => {
                self.folder_kind
                    .insert((mailbox.clone(), folder.clone()), *kind);
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
                let d = (copied.saturating_sub(last.0), bytes.saturating_sub(last.1));
                let s = self.second.entry(mailbox.clone()).or_default();
                s.0 += d.0;
                s.1 += d.1;
                let kind = self
                    .folder_kind
                    .get(&(mailbox.clone(), folder.clone()))
                    .copied()
                    .unwrap_or_default();
                let k = self.kind_second.entry(kind).or_default();
                k.0 += d.0;
                k.1 += d.1;
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
                    v.state = *state;
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
                    v.state = MailboxState::RollingBack;
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
                    v.state = MailboxState::New;
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
                self.journal_faults.push(IssueView {
                    severity: Severity::Critical,
                    category: category.clone(),
                    message: message.clone(),
                    count: 1,
                    last_seen: now.clone(),
                    state: IssueState::Open,
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
        // Per kind: every kind seen so far gets its second (zero when idle).
        for k in self.kind_second.keys() {
            self.kind_tp.entry(*k).or_default();
        }
        for (k, tp) in self.kind_tp.iter_mut() {
            let s = self.kind_second.remove(k).unwrap_or_default();
            tp.push_second(s.0, s.1);
        }
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
            let totals: Totals = store.mailbox_totals(id).unwrap_or_default();
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
                    for (k, t) in &totals.by_kind {
                        let p = prev.kind(*k);
                        let ks = self.kind_second.entry(*k).or_default();
                        ks.0 += t.copied.saturating_sub(p.copied);
                        ks.1 += t.copied_bytes.saturating_sub(p.copied_bytes);
                    }
                    self.last_totals.insert(key.clone(), totals.clone());
                    v.state = MailboxState::from(state.as_str());
                    v.last_error = err;
                } else if v.state == MailboxState::New {
                    // What an earlier run left, until this process starts the mailbox.
                    v.state = match MailboxState::from(state.as_str()) {
                        MailboxState::Running => MailboxState::Interrupted,
                        s => s,
                    };
                    v.last_error = err;
                }
                if v.state == MailboxState::Done {
                    // A completed pass enumerated every folder.
                    v.enumerated = true;
                }
                v.totals = totals;
            }
        }
        if self
            .notes_read
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60))
        {
            match store.latest_notes() {
                Ok(rows) => {
                    for v in &mut self.notes {
                        let row = rows.iter().find(|r| r.section == v.section.as_str());
                        v.text = row.map(|r| r.text.clone());
                        v.by = row.map(|r| r.by.clone());
                        v.at = row.map(|r| r.at.clone());
                    }
                }
                Err(e) => tracing::warn!("cannot read the report notes: {e}"),
            }
            self.notes_read = Some(std::time::Instant::now());
        }
        self.fleet_view = self.fleet.read(store);
        if let Ok(rows) = store.issue_rows(500) {
            self.issues = self
                .journal_faults
                .iter()
                .rev()
                .cloned()
                .chain(rows.into_iter().map(IssueView::from))
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
        // A journal from before delta passes (read-only in watch mode) has none.
        for b in &self.batch_order {
            if let Ok(rows) = store.sync_passes_of(b, SyncView::KEEP) {
                let passes = rows.into_iter().map(|r| pass_view(r, b)).collect();
                self.passes.insert(b.clone(), passes);
            }
        }
        if let Ok(items) = checklist::evaluate(&self.project_def, store, &[]) {
            self.check_rows = items.into_iter().map(CheckView::from).collect();
        }
        // A journal from before backups (read-only in watch mode) has no such table: none.
        if let Ok(latest) = store.latest_backups(Side::Source.as_str()) {
            for (key, v) in self.mailboxes.iter_mut() {
                v.backup = latest.get(key).map_or(BackupState::None, |b| {
                    match (b.outcome.as_str(), &b.verified_at) {
                        ("running", _) => BackupState::Running,
                        ("complete", Some(_)) => BackupState::Verified,
                        ("complete", None) => BackupState::Unverified,
                        _ => BackupState::Failed,
                    }
                });
            }
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
                sync: {
                    let (running, finalizing, every) =
                        engine.map_or((false, false, None), |e| e.sync_state(b));
                    SyncView {
                        passes: self.passes.get(b).cloned().unwrap_or_default(),
                        running,
                        every,
                        finalizing,
                        checked: engine.and_then(|e| e.lag_checked(b)),
                    }
                },
            })
            .collect();
        let running = batches.iter().any(|b| b.count(MailboxState::Running) > 0);
        let stopped = self.stopped || engine.is_some_and(|e| e.stop_flag().is_stopped());
        let run_state = if stopped {
            RunState::Stopped
        } else if running
            && batches
                .iter()
                .any(|b| b.paused && b.count(MailboxState::Running) > 0)
        {
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
            kind_throughput: self.kind_tp.clone(),
            connections: engine
                .map(|e| Connections {
                    src_in_use: e.src.in_use(),
                    src_max: e.src.max_connections(),
                    dst_in_use: e.dst.in_use(),
                    dst_max: e.dst.max_connections(),
                    src_wire: e.src.wire(),
                    dst_wire: e.dst.wire(),
                })
                .unwrap_or_default(),
            parallel: engine.map_or(0, |e| e.parallel()),
            issues: self.issues.clone(),
            checks: self.check_rows.clone(),
            throttled,
            log_dir: self.log_dir.clone(),
            journal: self.journal.clone(),
            rollback: self.rollback.clone(),
            notes: self.notes.clone(),
            fleet: self.fleet_view.clone(),
        }
    }

    /// A note was saved: read the notes again at the next refresh.
    pub fn notes_changed(&mut self) {
        self.notes_read = None;
    }

    /// The suggestions per section, as the engine's loop computed them.
    pub fn set_suggestions(&mut self, suggestions: [String; 2]) {
        for (v, s) in self.notes.iter_mut().zip(suggestions) {
            v.suggestions = s;
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
    use tokio::sync::mpsc;

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

    /// The Batches tab's delta figures, from passes as `cutover sync` and the console
    /// journal them: the passes that covered the batch (alone, with others, all batches),
    /// the final-pass estimate from the last three complete ones, and the lag.
    #[test]
    fn lag_and_final_pass_estimate_come_from_the_journalled_passes() {
        use crate::api::{Lag, PassCounts, PassOutcome};
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        let rw = Journal::open(&p.state_path, p.durability).unwrap();
        let pass = |batches: &str, ms: Option<u64>, new: u64, flags: u64, outcome: &str| {
            let id = rw.begin_sync_pass(batches).unwrap();
            if let Some(ms) = ms {
                let c = PassCounts {
                    new_messages: new,
                    flag_changes: flags,
                    ..Default::default()
                };
                rw.end_sync_pass(id, ms, c, outcome).unwrap();
            }
        };
        // Before any pass: no figure, nothing invented.
        let snap = Monitor::new(&p, &rw, true).snapshot(None);
        let b = &snap.batches[0];
        assert_eq!(b.sync.final_estimate(), None);
        assert_eq!(b.lag(snap.at), Lag::default());
        // Oldest first.
        pass("b", Some(40_000), 900, 0, "exit 0"); // the oldest: beyond the last three
        pass("b", Some(10_000), 100, 0, "complete");
        pass("all", Some(4_000), 5, 1, "exit 0");
        pass("other", Some(60_000), 50, 0, "complete"); // another batch alone: not b's
        pass("other,b", Some(2_000), 2, 1, "complete");
        pass("b", Some(30_000), 0, 0, "exit 3"); // failed: not in the estimate
        pass("b", None, 0, 0, ""); // under way
        let snap = Monitor::new(&p, &rw, true).snapshot(None);
        let b = &snap.batches[0];
        let outcomes: Vec<PassOutcome> = b.sync.passes.iter().map(|p| p.outcome).collect();
        assert_eq!(
            outcomes,
            [
                PassOutcome::Running,
                PassOutcome::Incomplete,
                PassOutcome::Complete,
                PassOutcome::Complete,
                PassOutcome::Complete
            ]
        );
        assert!(b.sync.passes[2].shared && !b.sync.passes[1].shared);
        let est = b.sync.final_estimate().expect("three complete passes");
        assert_eq!(est.from_passes, 3);
        assert_eq!(est.duration, Duration::from_millis(16_000) / 3);
        assert!((est.changes_per_pass - 109.0 / 3.0).abs() < 1e-9);
        // The lag ten minutes later: what the journal knows is not copied, what the last
        // complete pass carried, and how long ago it ended.
        let now = snap.at + chrono::Duration::minutes(10);
        let lag = b.sync.lag(now, 7, 1);
        assert_eq!(
            (lag.not_copied, lag.failed, lag.last_pass_changes),
            (7, 1, Some(3))
        );
        let since = lag.since.expect("a pass ended");
        assert!(
            since > Duration::from_secs(590) && since <= Duration::from_secs(600),
            "{since:?}"
        );
        assert_eq!(
            b.sync.last_ended().map(|p| p.outcome),
            Some(PassOutcome::Incomplete)
        );
        // A lag check counts only when made after the last pass ended.
        let mut v = b.sync.clone();
        let end = v.last_ended().and_then(|p| p.ended()).expect("ended");
        let check = |secs: i64| crate::api::LagCheck {
            at: end + chrono::Duration::seconds(secs),
            new_messages: 4,
            ..Default::default()
        };
        v.checked = Some(check(-1));
        assert_eq!(v.lag(now, 0, 0).checked, None, "older than the last pass");
        v.checked = Some(check(1));
        assert_eq!(v.lag(now, 0, 0).checked.map(|c| c.new_messages), Some(4));
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

    /// Appends are measured per kind of item from the folder each progress event names.
    #[test]
    fn throughput_is_measured_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        let store = Journal::open(&p.state_path, p.durability).unwrap();
        let mut m = Monitor::new(&p, &store, false);
        let key = p.mailboxes[0].key();
        // Nothing copied yet: no kind.
        assert!(m.snapshot(None).kind_throughput.is_empty());
        for (folder, kind) in [
            ("INBOX", ItemKind::Mail),
            ("calendar:work", ItemKind::Event),
        ] {
            m.apply(&Event::FolderStarted {
                mailbox: key.clone(),
                folder: folder.into(),
                dst: folder.into(),
                kind,
                to_copy: 10,
                bytes: 1000,
            });
        }
        for (folder, copied) in [("INBOX", 4), ("calendar:work", 3), ("calendar:work", 5)] {
            m.apply(&Event::Progress {
                mailbox: key.clone(),
                folder: folder.into(),
                copied,
                bytes: copied * 100,
            });
        }
        m.close_second();
        let snap = m.snapshot(None);
        let last = |k| snap.kind_throughput[&k].samples.back().copied().unwrap();
        assert_eq!(last(ItemKind::Mail), (4, 400));
        assert_eq!(last(ItemKind::Event), (5, 500));
        assert!(!snap.kind_throughput.contains_key(&ItemKind::Contact));
        // An idle second is a zero sample for every kind seen.
        m.close_second();
        let s = m.snapshot(None);
        assert_eq!(
            s.kind_throughput[&ItemKind::Event].samples.back(),
            Some(&(0, 0))
        );
    }
}
