//! The console's state and its reaction to keys: pure (no terminal, no engine), so key
//! sequences can be tested for the exact commands they produce.

use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::TextArea;

use super::filter;
use super::keys::{Action, Tab, action_for};
use super::theme::Theme;
use cutover_engine::api::figures::{duration_words, parse_duration};
use cutover_engine::api::{
    CheckStatus, Command, IssueState, IssueView, MailboxView, NoteSection, RunState, Severity,
    Snapshot,
};

/// What the loop around the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Send(Command),
    /// Trip the emergency stop (out of band), then log it.
    EmergencyStop,
    Quit,
    /// Leave the screen; the engine goes on headless until done.
    Detach,
    /// Full redraw (Ctrl-L).
    Redraw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    Batches,
    Mailboxes(String),
    Mailbox(String),
}

pub enum Modal {
    None,
    Help,
    ConfirmStop,
    Quit,
    Command(Box<TextArea<'static>>),
    Filter(Box<TextArea<'static>>),
    Note(String, Box<TextArea<'static>>),
    /// Rollback of a batch: its name must be typed to confirm.
    Rollback(String, Box<TextArea<'static>>),
    /// Resolving an issue: the operator's note.
    Resolve(i64, Box<TextArea<'static>>),
    /// The reason for overriding a checklist item.
    Override(String, Box<TextArea<'static>>),
    /// Finalize of a batch: its name must be typed to confirm.
    Finalize(String, Box<TextArea<'static>>),
    /// The interval of a batch's delta passes, in minutes.
    Every(String, Box<TextArea<'static>>),
    /// The reports' lessons learned or recommendations (`notes`).
    ReportNote(NoteSection, Box<TextArea<'static>>),
}

pub struct App {
    pub snap: Arc<Snapshot>,
    pub tab: Tab,
    pub modal: Modal,
    pub level: Level,
    pub sel: [usize; 4],
    pub filter: String,
    pub theme: Theme,
    pub toast: Option<String>,
    pub operator: String,
    pub quit_when_idle: bool,
    pub should_quit: bool,
    pub detach: bool,
    /// Until the operator changes tab or the checklist is known: open on the Checklist tab
    /// when a required item is unmet (see [`App::open_where_needed`]).
    first_tab_pending: bool,
    effects: Vec<Effect>,
}

fn line_input(placeholder: &str) -> Box<TextArea<'static>> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    Box::new(t)
}

impl App {
    pub fn new(snap: Arc<Snapshot>, theme: Theme, operator: String) -> App {
        App {
            snap,
            tab: Tab::Batches,
            modal: Modal::None,
            level: Level::Batches,
            sel: [0; 4],
            filter: String::new(),
            theme,
            toast: None,
            operator,
            quit_when_idle: false,
            should_quit: false,
            detach: false,
            first_tab_pending: false,
            effects: Vec::new(),
        }
    }

    /// The console as an operator opens it: on the Checklist tab while a required item is
    /// unmet (the gate that would refuse a start), else on the Batches tab. Decided on the
    /// first snapshot that carries the checklist, unless the operator changed tab before.
    pub fn open_where_needed(&mut self) {
        self.first_tab_pending = true;
        self.choose_first_tab();
    }

    fn choose_first_tab(&mut self) {
        if !self.first_tab_pending || self.snap.checks.is_empty() {
            return;
        }
        self.first_tab_pending = false;
        if self
            .snap
            .checks
            .iter()
            .any(|c| c.required && !c.status.met())
        {
            self.tab = Tab::Checklist;
        }
    }

    pub fn read_only(&self) -> bool {
        self.snap.read_only
    }

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn set_snapshot(&mut self, s: Arc<Snapshot>) {
        // A new open critical issue is unmissable from any tab: it takes the toast line.
        let known: std::collections::HashSet<i64> = self
            .snap
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Critical)
            .map(|i| i.id)
            .collect();
        if let Some(new) = s.issues.iter().find(|i| {
            i.severity == Severity::Critical
                && i.state == IssueState::Open
                && !known.contains(&i.id)
        }) {
            let place = new.mailbox.as_deref().unwrap_or("project");
            self.toast = Some(format!(
                "✖ NEW CRITICAL ISSUE ({place}): {} — press 3 for the Issues tab",
                new.message
            ));
        }
        self.snap = s;
        self.choose_first_tab();
        if self.quit_when_idle
            && self.snap.run_state != RunState::Running
            && self.snap.run_state != RunState::Pausing
        {
            self.should_quit = true;
            self.effects.push(Effect::Quit);
        }
    }

    fn work_running(&self) -> bool {
        matches!(self.snap.run_state, RunState::Running | RunState::Pausing)
    }

    fn send(&mut self, c: Command) {
        if self.read_only() {
            self.toast =
                Some("read-only (cutover watch): this console cannot change anything".into());
            return;
        }
        self.effects.push(Effect::Send(c));
    }

    /// The rows of the Batches tab at the current level: batch names or mailbox keys.
    pub fn batch_rows(&self) -> Vec<String> {
        let f = self.filter.to_lowercase();
        match &self.level {
            Level::Batches => self.snap.batches.iter().map(|b| b.name.clone()).collect(),
            Level::Mailboxes(b) => self
                .snap
                .batches
                .iter()
                .filter(|x| &x.name == b)
                .flat_map(|x| &x.mailboxes)
                .filter(|m| f.is_empty() || m.key.to_lowercase().contains(&f))
                .map(|m| m.key.clone())
                .collect(),
            Level::Mailbox(k) => vec![k.clone()],
        }
    }

    pub fn issue_rows(&self) -> Vec<&IssueView> {
        self.snap
            .issues
            .iter()
            .filter(|i| filter::matches(i, &self.filter))
            .collect()
    }

    fn row_count(&self) -> usize {
        match self.tab {
            Tab::Checklist => self.snap.checks.len(),
            Tab::Batches => self.batch_rows().len(),
            Tab::Issues => self.issue_rows().len(),
            Tab::Emergency => self.snap.batches.len(),
        }
    }

    pub fn selected(&self) -> usize {
        let n = self.row_count();
        self.sel[self.tab.index()].min(n.saturating_sub(1))
    }

    fn selected_batch(&self) -> Option<String> {
        match &self.level {
            Level::Batches => self.batch_rows().get(self.selected()).cloned(),
            Level::Mailboxes(b) => Some(b.clone()),
            Level::Mailbox(k) => self.snap.mailbox(k).map(|m| m.batch.clone()),
        }
    }

    fn selected_mailbox(&self) -> Option<&MailboxView> {
        match &self.level {
            Level::Batches => None,
            Level::Mailboxes(_) => self
                .batch_rows()
                .get(self.selected())
                .and_then(|k| self.snap.mailbox(k)),
            Level::Mailbox(k) => self.snap.mailbox(k),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        self.toast = None;
        let rollback = matches!(self.modal, Modal::Rollback(..));
        match &mut self.modal {
            Modal::None => {}
            Modal::Help => {
                self.modal = Modal::None;
                return;
            }
            Modal::ReportNote(section, t) => {
                let k = super::notes::key(t, *section, key, &self.operator);
                if k.close {
                    self.modal = Modal::None;
                }
                self.toast = k.toast;
                k.command.into_iter().for_each(|c| self.send(c));
                return;
            }
            Modal::ConfirmStop => {
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.effects.push(Effect::EmergencyStop);
                    self.toast = Some("EMERGENCY STOP: all writes halted".into());
                } else {
                    self.toast = Some("emergency stop cancelled".into());
                }
                self.modal = Modal::None;
                return;
            }
            Modal::Quit => {
                match key.code {
                    KeyCode::Char('p') => {
                        self.send(Command::Pause { batch: None });
                        self.quit_when_idle = true;
                        self.toast = Some("pausing every batch; quitting when the windows in flight are journalled".into());
                    }
                    KeyCode::Char('d') => {
                        self.detach = true;
                        self.should_quit = true;
                        self.effects.push(Effect::Detach);
                    }
                    _ => {}
                }
                self.modal = Modal::None;
                return;
            }
            // Typed confirmations: the batch's name, then enter; anything else sends nothing.
            Modal::Rollback(batch, t) | Modal::Finalize(batch, t) => {
                let what = if rollback { "rollback" } else { "finalize" };
                match key.code {
                    KeyCode::Esc => {
                        self.toast = Some(format!("{what} cancelled; nothing changed"));
                        self.modal = Modal::None;
                    }
                    KeyCode::Enter => {
                        let typed = t.lines().join(" ").trim().to_string();
                        let batch = batch.clone();
                        self.modal = Modal::None;
                        if typed != batch {
                            self.toast = Some(format!(
                                "{what} not confirmed (typed {typed:?}, not {batch:?}); nothing changed"
                            ));
                        } else if rollback {
                            self.send(Command::Rollback {
                                batch: batch.clone(),
                                operator: self.operator.clone(),
                            });
                            self.toast = Some(format!("rolling back batch {batch}"));
                        } else {
                            self.send(Command::Finalize {
                                batch: batch.clone(),
                                operator: self.operator.clone(),
                            });
                            self.toast = Some(format!(
                                "finalizing batch {batch}: each step is logged in the Issues tab"
                            ));
                        }
                    }
                    _ => {
                        t.input(key);
                    }
                }
                return;
            }
            Modal::Command(t)
            | Modal::Every(_, t)
            | Modal::Filter(t)
            | Modal::Note(_, t)
            | Modal::Resolve(_, t)
            | Modal::Override(_, t) => {
                match key.code {
                    KeyCode::Esc => {
                        if matches!(self.modal, Modal::Filter(_)) {
                            self.filter.clear();
                        }
                        self.modal = Modal::None;
                    }
                    KeyCode::Enter => {
                        let text = t.lines().join(" ").trim().to_string();
                        let modal = std::mem::replace(&mut self.modal, Modal::None);
                        match modal {
                            Modal::Command(_) => self.command(&text),
                            Modal::Filter(_) => self.filter = text,
                            Modal::Note(id, _) => {
                                let done = self.snap.checks.iter().any(|c| c.id == id && c.done);
                                self.send(Command::SetCheck {
                                    id,
                                    done,
                                    note: Some(text),
                                    operator: self.operator.clone(),
                                });
                            }
                            Modal::Resolve(id, _) => {
                                if text.is_empty() {
                                    self.toast = Some(
                                        "not resolved: say what was done (the note goes into the final report)"
                                            .into(),
                                    );
                                } else {
                                    self.send(Command::ResolveIssue {
                                        id,
                                        note: text,
                                        operator: self.operator.clone(),
                                    });
                                }
                            }
                            Modal::Override(id, _) if !text.is_empty() => {
                                self.send(Command::OverrideCheck {
                                    id: Some(id),
                                    reason: text,
                                    operator: self.operator.clone(),
                                });
                            }
                            // Minutes, or a duration as `cutover sync --every` reads it.
                            Modal::Every(batch, _) => match text
                                .parse::<u64>()
                                .map(|m| format!("{m}m"))
                                .map_or_else(|_| parse_duration(&text), |m| parse_duration(&m))
                            {
                                Ok(every) => {
                                    self.send(Command::DeltaPass {
                                        batch: batch.clone(),
                                        every: Some(every),
                                        operator: self.operator.clone(),
                                    });
                                    self.toast = Some(format!(
                                        "delta passes of {batch} every {}, the first now (D stops them)",
                                        duration_words(every.as_secs_f64())
                                    ));
                                }
                                Err(e) => self.toast = Some(format!("no schedule: {e}")),
                            },
                            Modal::Override(..) => {
                                self.toast = Some("no override: a reason is required".into());
                            }
                            _ => {}
                        }
                    }
                    _ => {
                        t.input(key);
                        if let Modal::Filter(t) = &self.modal {
                            self.filter = t.lines().join(" ");
                        }
                    }
                }
                return;
            }
        }
        let Some(action) = action_for(&key, self.tab) else {
            return;
        };
        self.act(action);
    }

    pub fn act(&mut self, action: Action) {
        let i = self.tab.index();
        match action {
            Action::NextTab => {
                self.first_tab_pending = false;
                self.tab = Tab::ALL[(i + 1) % 4]
            }
            Action::PrevTab => {
                self.first_tab_pending = false;
                self.tab = Tab::ALL[(i + 3) % 4]
            }
            Action::GoTab(n) => {
                self.first_tab_pending = false;
                self.tab = Tab::ALL[n.min(3)]
            }
            Action::Up => self.sel[i] = self.selected().saturating_sub(1),
            Action::Down => {
                self.sel[i] = (self.selected() + 1).min(self.row_count().saturating_sub(1))
            }
            Action::Help => self.modal = Modal::Help,
            Action::CommandLine => {
                self.modal = Modal::Command(line_input(
                    "start [batch] | pause [batch] | stop | rollback BATCH | retry MAILBOX | parallel N | theme NAME | q",
                ))
            }
            Action::Filter => {
                let mut t = line_input("filter");
                t.insert_str(&self.filter);
                self.modal = Modal::Filter(t);
            }
            Action::Redraw => self.effects.push(Effect::Redraw),
            Action::Quit => {
                if self.work_running() && !self.read_only() {
                    self.modal = Modal::Quit;
                } else {
                    self.should_quit = true;
                    self.effects.push(Effect::Quit);
                }
            }
            Action::EmergencyStop => {
                if self.read_only() {
                    self.toast = Some(
                        "read-only (cutover watch): this console cannot change anything".into(),
                    );
                } else {
                    self.modal = Modal::ConfirmStop;
                }
            }
            Action::Back => match &self.level {
                Level::Mailbox(k) => {
                    let b = self
                        .snap
                        .mailbox(k)
                        .map(|m| m.batch.clone())
                        .unwrap_or_default();
                    self.level = Level::Mailboxes(b);
                }
                Level::Mailboxes(_) => {
                    self.level = Level::Batches;
                    self.sel[i] = 0;
                }
                Level::Batches => self.filter.clear(),
            },
            Action::Enter => match self.tab {
                Tab::Batches => match self.level.clone() {
                    Level::Batches => {
                        if let Some(b) = self.batch_rows().get(self.selected()).cloned() {
                            self.level = Level::Mailboxes(b);
                            self.sel[i] = 0;
                        }
                    }
                    Level::Mailboxes(_) => {
                        if let Some(k) = self.batch_rows().get(self.selected()).cloned() {
                            self.level = Level::Mailbox(k);
                        }
                    }
                    Level::Mailbox(_) => {}
                },
                Tab::Issues => {
                    let target = self
                        .issue_rows()
                        .get(self.selected())
                        .and_then(|x| x.mailbox.clone());
                    if let Some(k) = target.filter(|k| self.snap.mailbox(k).is_some()) {
                        self.tab = Tab::Batches;
                        self.level = Level::Mailbox(k);
                    }
                }
                _ => {}
            },
            Action::StartSelected => {
                if let Some(m) = self.selected_mailbox().map(|m| m.key.clone()) {
                    self.send(Command::StartMailbox { key: m });
                } else if let Some(b) = self.selected_batch() {
                    self.send(Command::Start { batch: Some(b) });
                }
                if let Some(b) = self.selected_batch() {
                    self.warn_blocked(&[b]);
                }
            }
            Action::PauseSelected => {
                if let Some(m) = self.selected_mailbox().map(|m| m.key.clone()) {
                    self.send(Command::PauseMailbox { key: m });
                } else if let Some(b) = self.selected_batch() {
                    self.send(Command::Pause { batch: Some(b) });
                }
            }
            Action::StartAll => {
                self.send(Command::Start { batch: None });
                self.warn_blocked(&[]);
            }
            Action::PauseAll => self.send(Command::Pause { batch: None }),
            Action::RetryMailbox => {
                if let Some(m) = self.selected_mailbox().map(|m| m.key.clone()) {
                    self.send(Command::StartMailbox { key: m });
                } else {
                    self.toast = Some("select a mailbox first (enter on a batch)".into());
                }
            }
            Action::MoreParallel | Action::LessParallel => {
                let Some(b) = self.selected_batch() else {
                    return;
                };
                let now = self
                    .snap
                    .batches
                    .iter()
                    .find(|x| x.name == b)
                    .map_or(self.snap.parallel, |x| x.parallel);
                let n = if action == Action::MoreParallel {
                    now + 1
                } else {
                    now.saturating_sub(1).max(1)
                };
                self.send(Command::SetBatchParallel { batch: b, n });
            }
            Action::ToggleCheck => {
                if let Some(c) = self
                    .snap
                    .checks
                    .get(self.selected())
                    .filter(|c| !c.tickable)
                {
                    self.toast = Some(format!(
                        "{} is verified by the engine: c runs it, o overrides it",
                        c.id
                    ));
                } else if let Some(c) = self.snap.checks.get(self.selected()).cloned() {
                    self.send(Command::SetCheck {
                        id: c.id,
                        done: !c.done,
                        note: None,
                        operator: self.operator.clone(),
                    });
                }
            }
            Action::EditNote => {
                if let Some(c) = self.snap.checks.get(self.selected()).cloned() {
                    let mut t = line_input("note (enter saves, esc cancels)");
                    t.insert_str(c.note.unwrap_or_default());
                    self.modal = Modal::Note(c.id, t);
                }
            }
            Action::Rollback => {
                let batch = self
                    .snap
                    .batches
                    .get(self.selected())
                    .map(|b| b.name.clone());
                self.ask_rollback(batch);
            }
            Action::Backup => {
                let batch = self
                    .snap
                    .batches
                    .get(self.selected())
                    .map(|b| b.name.clone());
                if let Some(b) = batch {
                    self.toast = Some(format!(
                        "backing up the source of {b}, then verifying it, in the background: the Backup column shows it, the Issues tab the outcome"
                    ));
                    self.send(Command::Backup {
                        batch: Some(b),
                        operator: self.operator.clone(),
                    });
                }
            }
            Action::DeltaPass => {
                if let Some(batch) = self.selected_batch() {
                    self.toast = Some(format!(
                        "delta pass of {batch} started: the figures above the table follow it"
                    ));
                    self.send(Command::DeltaPass {
                        batch: batch.clone(),
                        every: None,
                        operator: self.operator.clone(),
                    });
                    self.warn_blocked(&[batch]);
                }
            }
            Action::DeltaEvery => {
                let Some(batch) = self.selected_batch() else {
                    return;
                };
                let scheduled = self
                    .snap
                    .batches
                    .iter()
                    .any(|b| b.name == batch && b.sync.every.is_some());
                if scheduled {
                    self.toast = Some(format!("no further delta pass of {batch}"));
                    self.send(Command::StopDeltaPasses {
                        batch,
                        operator: self.operator.clone(),
                    });
                } else if !self.read_only() {
                    let t = line_input("minutes, or 30s / 2h (enter starts, esc cancels)");
                    self.modal = Modal::Every(batch, t);
                }
            }
            Action::MeasureLag => {
                if let Some(batch) = self.selected_batch() {
                    self.toast = Some(format!("looking at the source of {batch} ..."));
                    self.send(Command::MeasureLag { batch });
                }
            }
            Action::Finalize => match self.selected_batch() {
                _ if self.read_only() => {
                    self.toast = Some(
                        "read-only (cutover watch): this console cannot change anything".into(),
                    )
                }
                Some(b) => {
                    let t = line_input(&format!("type {b} to confirm, esc cancels"));
                    self.modal = Modal::Finalize(b, t);
                }
                None => self.toast = Some("select a batch first".into()),
            },
            Action::EditLessons | Action::EditRecommendations => {
                let s = [NoteSection::Recommendations, NoteSection::Lessons]
                    [usize::from(action == Action::EditLessons)];
                self.modal = Modal::ReportNote(s, super::notes::editor(&self.snap, s));
            }
            Action::ResolveIssue => {
                if let Some(i) = self.issue_rows().get(self.selected()).copied() {
                    let mut t = line_input("what was done about it (enter resolves, esc cancels)");
                    t.insert_str(i.note.clone().unwrap_or_default());
                    self.modal = Modal::Resolve(i.id, t);
                }
            }
            Action::RunCheck => match self.snap.checks.get(self.selected()) {
                Some(c) if c.auto => {
                    let id = c.id.clone();
                    self.toast = Some(format!("running the {id} check ..."));
                    self.send(Command::RunChecks { id: Some(id) });
                }
                Some(c) => {
                    self.toast = Some(format!("{} is a manual item: space ticks it", c.id));
                }
                None => {}
            },
            Action::RunAllChecks => {
                self.toast = Some("running every auto check ...".into());
                self.send(Command::RunChecks { id: None });
            }
            Action::OverrideCheck => match self.snap.checks.get(self.selected()) {
                Some(c) if matches!(c.status, CheckStatus::Fail | CheckStatus::Pending) => {
                    let id = c.id.clone();
                    self.modal = Modal::Override(
                        id,
                        line_input("why start anyway? (enter overrides, esc cancels)"),
                    );
                }
                Some(c) => {
                    self.toast = Some(format!("{} is {}: nothing to override", c.id, c.status));
                }
                None => {}
            },
            Action::AckIssue => {
                if let Some(id) = self.issue_rows().get(self.selected()).map(|x| x.id) {
                    self.send(Command::AckIssue {
                        id,
                        operator: self.operator.clone(),
                    });
                }
            }
        }
    }

    /// Open the typed confirmation for rolling back a batch.
    fn ask_rollback(&mut self, batch: Option<String>) {
        if self.read_only() {
            self.toast =
                Some("read-only (cutover watch): this console cannot change anything".into());
            return;
        }
        match batch {
            Some(b) if self.snap.batches.iter().any(|x| x.name == b) => {
                let t = line_input(&format!("type {b} to confirm, esc cancels"));
                self.modal = Modal::Rollback(b, t);
            }
            Some(b) => self.toast = Some(format!("no batch {b}")),
            None => self.toast = Some("select a batch first".into()),
        }
    }

    /// Say at once when the checklist keeps the batches (all when empty) from starting; the
    /// engine refuses them and records why as an issue.
    fn warn_blocked(&mut self, batches: &[String]) {
        if self.read_only() {
            return;
        }
        let mut ids: Vec<String> = Vec::new();
        for b in self
            .snap
            .batches
            .iter()
            .filter(|b| batches.is_empty() || batches.contains(&b.name))
        {
            for id in &b.blocked {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        if !ids.is_empty() {
            self.toast = Some(format!(
                "not started: checklist item(s) unmet: {} (Checklist tab: c checks, o overrides)",
                ids.join(", ")
            ));
        }
    }

    /// The `:` command line.
    pub fn command(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or("");
        let arg = words.next().map(str::to_string);
        match verb {
            "" => {}
            "q" | "quit" => self.act(Action::Quit),
            "q!" | "quit!" => {
                self.should_quit = true;
                self.effects.push(Effect::Quit);
            }
            "stop" => self.act(Action::EmergencyStop),
            "stop!" => {
                if self.read_only() {
                    self.toast = Some(
                        "read-only (cutover watch): this console cannot change anything".into(),
                    );
                } else {
                    self.effects.push(Effect::EmergencyStop);
                }
            }
            "start" => self.send(Command::Start { batch: arg }),
            "pause" => self.send(Command::Pause { batch: arg }),
            "retry" => match arg {
                Some(key) if self.snap.mailbox(&key).is_some() => {
                    self.send(Command::StartMailbox { key })
                }
                Some(key) => self.toast = Some(format!("no mailbox {key}")),
                None => self.toast = Some("usage: retry SOURCE->DESTINATION".into()),
            },
            "parallel" => match arg.and_then(|a| a.parse::<usize>().ok()) {
                Some(n) if n > 0 => self.send(Command::SetParallel(n)),
                _ => self.toast = Some("usage: parallel N (N >= 1)".into()),
            },
            "theme" => match arg.as_deref().map(Theme::load) {
                Some(Ok(t)) => self.theme = t,
                Some(Err(e)) => self.toast = Some(e.to_string()),
                None => self.toast = Some("usage: theme NAME".into()),
            },
            "rollback" => self.ask_rollback(arg),
            "help" => self.modal = Modal::Help,
            other => {
                self.toast = Some(format!("unknown command :{other} (try :help)"));
            }
        }
    }
}

/// A key event for tests and scripted input.
pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}
