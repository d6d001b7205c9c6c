//! The console without a terminal: key sequences in, the exact engine commands out.

use crate::ui_fixture;

use cutover::ui::app::{App, Effect, Level, Modal, key};
use cutover::ui::keys::Tab;
use cutover::ui::theme::Theme;
use cutover_engine::api::Command;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ui_fixture::{Kind, snapshot};

fn app(kind: Kind) -> App {
    App::new(
        snapshot(kind),
        Theme::load("default").unwrap(),
        "maria".into(),
    )
}

fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        app.on_key(key(code));
    }
    app.take_effects()
}

#[test]
fn s_then_y_gives_exactly_one_emergency_stop_from_any_tab() {
    for tab in ["1", "2", "3", "4"] {
        let mut a = app(Kind::Running);
        press(&mut a, tab);
        assert_eq!(press(&mut a, "S"), vec![]);
        assert!(matches!(a.modal, Modal::ConfirmStop));
        assert_eq!(press(&mut a, "y"), vec![Effect::EmergencyStop], "tab {tab}");
        assert!(matches!(a.modal, Modal::None));
    }
}

#[test]
fn anything_but_y_cancels_the_stop() {
    let mut a = app(Kind::Running);
    assert_eq!(press(&mut a, "Sn"), vec![]);
    assert_eq!(press(&mut a, "S\n"), vec![]);
    assert_eq!(press(&mut a, "S\x1b"), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("cancelled"));
}

#[test]
fn read_only_refuses_every_write() {
    let mut snap = (*snapshot(Kind::Running)).clone();
    snap.read_only = true;
    let mut a = App::new(
        std::sync::Arc::new(snap),
        Theme::load("mono").unwrap(),
        "watcher".into(),
    );
    assert_eq!(press(&mut a, "Sy"), vec![]);
    assert_eq!(press(&mut a, "2spA"), vec![]);
    assert_eq!(press(&mut a, ":stop!\n"), vec![]);
    assert_eq!(press(&mut a, ":pause\n"), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("read-only"));
    // Quitting is always possible, and immediate.
    assert_eq!(press(&mut a, "q"), vec![Effect::Quit]);
}

#[test]
fn batches_drill_down_and_start_pause_commands() {
    let mut a = app(Kind::Running);
    assert_eq!(a.tab, Tab::Batches);
    assert_eq!(
        press(&mut a, "s"),
        vec![Effect::Send(Command::Start {
            batch: Some("pilot".into())
        })]
    );
    assert_eq!(
        press(&mut a, "jp"),
        vec![Effect::Send(Command::Pause {
            batch: Some("wave-1".into())
        })]
    );
    press(&mut a, "\n");
    assert_eq!(a.level, Level::Mailboxes("wave-1".into()));
    assert_eq!(
        press(&mut a, "js"),
        vec![Effect::Send(Command::StartMailbox {
            key: "carol->carol@new.test".into()
        })]
    );
    press(&mut a, "\n");
    assert_eq!(a.level, Level::Mailbox("carol->carol@new.test".into()));
    assert_eq!(
        press(&mut a, "r"),
        vec![Effect::Send(Command::StartMailbox {
            key: "carol->carol@new.test".into()
        })]
    );
    press(&mut a, "\x1b\x1b");
    assert_eq!(a.level, Level::Batches);
    assert_eq!(
        press(&mut a, "A"),
        vec![Effect::Send(Command::Start { batch: None })]
    );
    assert_eq!(
        press(&mut a, "+"),
        vec![Effect::Send(Command::SetBatchParallel {
            batch: "pilot".into(),
            n: 5
        })]
    );
    assert_eq!(
        press(&mut a, ":parallel 6\n"),
        vec![Effect::Send(Command::SetParallel(6))]
    );
    assert_eq!(
        press(&mut a, "-"),
        vec![Effect::Send(Command::SetBatchParallel {
            batch: "pilot".into(),
            n: 3
        })]
    );
}

#[test]
fn command_line() {
    let mut a = app(Kind::Running);
    assert_eq!(
        press(&mut a, ":pause wave-1\n"),
        vec![Effect::Send(Command::Pause {
            batch: Some("wave-1".into())
        })]
    );
    assert_eq!(
        press(&mut a, ":start\n"),
        vec![Effect::Send(Command::Start { batch: None })]
    );
    assert_eq!(
        press(&mut a, ":parallel 2\n"),
        vec![Effect::Send(Command::SetParallel(2))]
    );
    assert_eq!(press(&mut a, ":stop!\n"), vec![Effect::EmergencyStop]);
    assert_eq!(press(&mut a, ":retry nobody\n"), vec![]);
    assert!(
        a.toast
            .as_deref()
            .unwrap_or("")
            .contains("no mailbox nobody")
    );
    assert_eq!(press(&mut a, ":bogus\n"), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("unknown command"));
    press(&mut a, ":theme mono\n");
    assert!(a.theme.mono);
    // :stop asks like S does.
    assert_eq!(press(&mut a, ":stop\n"), vec![]);
    assert_eq!(press(&mut a, "y"), vec![Effect::EmergencyStop]);
}

#[test]
fn quit_while_running_asks_and_ctrl_c_never_quits_silently() {
    let mut a = app(Kind::Running);
    assert_eq!(press(&mut a, "q"), vec![]);
    assert!(matches!(a.modal, Modal::Quit));
    assert_eq!(press(&mut a, "\x1b"), vec![]);
    assert!(!a.should_quit);
    a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(matches!(a.modal, Modal::Quit));
    assert_eq!(press(&mut a, "d"), vec![Effect::Detach]);
    assert!(a.should_quit && a.detach);

    let mut a = app(Kind::Running);
    assert_eq!(
        press(&mut a, "qp"),
        vec![Effect::Send(Command::Pause { batch: None })]
    );
    assert!(!a.should_quit, "quits only once the work paused");
    a.set_snapshot(snapshot(Kind::Empty));
    assert!(a.should_quit);

    // Nothing running: q quits at once.
    let mut a = app(Kind::Empty);
    assert_eq!(press(&mut a, "q"), vec![Effect::Quit]);
}

#[test]
fn checklist_ticks_and_notes_and_issue_ack() {
    let mut a = app(Kind::Running);
    press(&mut a, "1");
    assert_eq!(
        press(&mut a, "j "),
        vec![Effect::Send(Command::SetCheck {
            id: "dns".into(),
            done: true,
            note: None,
            operator: "maria".into()
        })]
    );
    assert_eq!(
        press(&mut a, "nTTL 300 since noon\n"),
        vec![Effect::Send(Command::SetCheck {
            id: "dns".into(),
            done: false,
            note: Some("TTL 300 since noon".into()),
            operator: "maria".into()
        })]
    );
    press(&mut a, "3");
    assert_eq!(
        press(&mut a, "a"),
        vec![Effect::Send(Command::AckIssue {
            id: 3,
            operator: "maria".into()
        })]
    );
    // Enter on an issue jumps to its mailbox in the Batches tab.
    press(&mut a, "\n");
    assert_eq!(a.tab, Tab::Batches);
    assert_eq!(a.level, Level::Mailbox("carol->carol@new.test".into()));
}

#[test]
fn checklist_runs_auto_checks_and_overrides_with_a_reason() {
    let mut a = app(Kind::Running);
    press(&mut a, "1jj");
    // An auto item is not ticked by hand.
    assert_eq!(press(&mut a, " "), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("c runs it"));
    assert_eq!(
        press(&mut a, "c"),
        vec![Effect::Send(Command::RunChecks {
            id: Some("login".into())
        })]
    );
    assert_eq!(
        press(&mut a, "C"),
        vec![Effect::Send(Command::RunChecks { id: None })]
    );
    // Override: asks for a reason; an empty one overrides nothing.
    assert_eq!(press(&mut a, "o"), vec![]);
    assert!(matches!(a.modal, Modal::Override(..)));
    assert_eq!(press(&mut a, "\n"), vec![]);
    assert!(
        a.toast
            .as_deref()
            .unwrap_or("")
            .contains("reason is required")
    );
    assert_eq!(
        press(&mut a, "obob moves next week\n"),
        vec![Effect::Send(Command::OverrideCheck {
            id: Some("login".into()),
            reason: "bob moves next week".into(),
            operator: "maria".into()
        })]
    );
    // Starting a batch the checklist blocks: the command goes to the engine (which decides
    // and records why) and the console says so at once.
    press(&mut a, "2j");
    assert_eq!(
        press(&mut a, "s"),
        vec![Effect::Send(Command::Start {
            batch: Some("wave-1".into())
        })]
    );
    let toast = a.toast.clone().unwrap_or_default();
    assert!(
        toast.contains("not started") && toast.contains("login, dns"),
        "{toast}"
    );
    press(&mut a, "k");
    press(&mut a, "s");
    assert!(a.toast.is_none(), "the pilot is not blocked: {:?}", a.toast);
    press(&mut a, "1");
    // A met item has nothing to override; c on a manual item runs nothing.
    press(&mut a, "kk");
    assert_eq!(press(&mut a, "o"), vec![]);
    assert!(matches!(a.modal, Modal::None));
    assert!(
        a.toast
            .as_deref()
            .unwrap_or("")
            .contains("nothing to override")
    );
    assert_eq!(press(&mut a, "c"), vec![]);
}

#[test]
fn filter_narrows_the_issue_list() {
    let mut a = app(Kind::Failed);
    press(&mut a, "3");
    assert_eq!(a.issue_rows().len(), 3);
    press(&mut a, "/auth\n");
    assert_eq!(a.issue_rows().len(), 1);
    press(&mut a, "/\x1b");
    assert_eq!(a.issue_rows().len(), 3);
}

#[test]
fn rollback_needs_the_batch_name_typed_and_sends_one_command() {
    let mut a = app(Kind::Stopped);
    press(&mut a, "4");
    assert_eq!(press(&mut a, "R"), vec![]);
    assert!(matches!(a.modal, Modal::Rollback(ref b, _) if b == "pilot"));
    // A wrong name changes nothing.
    assert_eq!(press(&mut a, "pilo\n"), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("not confirmed"));
    // Esc cancels.
    assert_eq!(press(&mut a, "Rpilot\x1b"), vec![]);
    // The second batch, by name.
    assert_eq!(press(&mut a, "j"), vec![]);
    assert_eq!(
        press(&mut a, "Rwave-1\n"),
        vec![Effect::Send(Command::Rollback {
            batch: "wave-1".into(),
            operator: "maria".into()
        })]
    );
    // And from the command line.
    assert_eq!(
        press(&mut a, ":rollback pilot\npilot\n"),
        vec![Effect::Send(Command::Rollback {
            batch: "pilot".into(),
            operator: "maria".into()
        })]
    );
}

#[test]
fn b_on_the_emergency_tab_backs_up_the_selected_batch() {
    let mut a = app(Kind::Running);
    press(&mut a, "4");
    assert_eq!(
        press(&mut a, "jb"),
        vec![Effect::Send(Command::Backup {
            batch: Some("wave-1".into()),
            operator: "maria".into()
        })]
    );
    assert!(a.toast.as_deref().unwrap_or("").contains("backing up"));
    // Not on another tab.
    press(&mut a, "2");
    assert_eq!(press(&mut a, "b"), vec![]);
}

#[test]
fn p_pauses_the_selected_mailbox_or_the_selected_batch() {
    let mut a = app(Kind::Running);
    press(&mut a, "2");
    assert_eq!(
        press(&mut a, "p"),
        vec![Effect::Send(Command::Pause {
            batch: Some("pilot".into())
        })]
    );
    // Drill into the batch: p now pauses the mailbox under the cursor only.
    press(&mut a, "\n");
    let key = match a.batch_rows().first() {
        Some(k) => k.clone(),
        None => panic!("no mailbox rows"),
    };
    assert_eq!(
        press(&mut a, "p"),
        vec![Effect::Send(Command::PauseMailbox { key })]
    );
}

#[test]
fn plus_and_minus_change_the_selected_batchs_concurrency_live() {
    let mut a = app(Kind::Running);
    press(&mut a, "2j");
    assert_eq!(
        press(&mut a, "+"),
        vec![Effect::Send(Command::SetBatchParallel {
            batch: "wave-1".into(),
            n: 3
        })]
    );
    assert_eq!(
        press(&mut a, "-"),
        vec![Effect::Send(Command::SetBatchParallel {
            batch: "wave-1".into(),
            n: 1
        })]
    );
}

#[test]
fn issue_filter_by_severity_category_state_and_text() {
    let mut a = app(Kind::Failed);
    press(&mut a, "3");
    let ids = |a: &App| a.issue_rows().iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(&a), vec![5, 3, 2]);
    for (filter, want) in [
        ("sev:err", vec![5]),
        ("severity:WARNING", vec![3]),
        ("cat:over", vec![3]),
        ("state:open", vec![5, 3, 2]),
        ("state:unresolved", vec![5, 3, 2]),
        ("state:resolved", vec![]),
        ("bob", vec![5, 2]),
        ("sev:info bob", vec![2]),
        ("4411", vec![3]),
        ("cat:auth sev:warning", vec![]),
    ] {
        press(&mut a, &format!("/{filter}\n"));
        assert_eq!(ids(&a), want, "filter {filter:?}");
        press(&mut a, "/\x1b");
    }
}

#[test]
fn resolving_an_issue_takes_a_note() {
    let mut a = app(Kind::Failed);
    press(&mut a, "3");
    assert_eq!(press(&mut a, "r"), vec![]);
    assert!(matches!(a.modal, Modal::Resolve(5, _)));
    assert_eq!(
        press(&mut a, "password reset by helpdesk\n"),
        vec![Effect::Send(Command::ResolveIssue {
            id: 5,
            note: "password reset by helpdesk".into(),
            operator: "maria".into()
        })]
    );
    assert!(matches!(a.modal, Modal::None));
    // An empty note resolves nothing and says why; esc cancels.
    assert_eq!(press(&mut a, "r\n"), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("not resolved"));
    assert_eq!(press(&mut a, "rsome words\x1b"), vec![]);
    assert!(matches!(a.modal, Modal::None));
    // The selected row is the one resolved, also under a filter.
    press(&mut a, "/cat:oversize\n");
    assert_eq!(
        press(&mut a, "rtold carol\n"),
        vec![Effect::Send(Command::ResolveIssue {
            id: 3,
            note: "told carol".into(),
            operator: "maria".into()
        })]
    );
    // Read-only consoles resolve nothing.
    let mut snap = (*snapshot(Kind::Failed)).clone();
    snap.read_only = true;
    let mut w = App::new(
        std::sync::Arc::new(snap),
        Theme::load("default").unwrap(),
        "watcher".into(),
    );
    assert_eq!(press(&mut w, "3rfixed\n"), vec![]);
    assert!(w.toast.as_deref().unwrap_or("").contains("read-only"));
}

#[test]
fn a_new_critical_issue_takes_the_toast_line_on_any_tab() {
    let mut a = app(Kind::Running);
    press(&mut a, "1");
    assert!(a.toast.is_none());
    let mut next = (*snapshot(Kind::Running)).clone();
    let mut crit = next.issues[0].clone();
    crit.id = 999;
    crit.severity = "critical".into();
    crit.state = "open".into();
    crit.message = "destination UID 42 recorded as written is not on the destination".into();
    next.issues.insert(0, crit);
    a.set_snapshot(std::sync::Arc::new(next.clone()));
    let toast = a.toast.clone().unwrap_or_default();
    assert!(
        toast.contains("NEW CRITICAL ISSUE") && toast.contains("UID 42"),
        "{toast}"
    );
    // Only once per issue.
    a.toast = None;
    a.set_snapshot(std::sync::Arc::new(next));
    assert!(a.toast.is_none());
}

#[test]
fn the_console_opens_on_the_checklist_while_a_required_item_is_unmet() {
    // The fixture has required items pending and failed: the Checklist tab first.
    let mut a = app(Kind::Running);
    a.open_where_needed();
    assert_eq!(a.tab, Tab::Checklist);
    // Every required item met (passed, overridden or n/a): the Batches tab, as before.
    let mut met = (*snapshot(Kind::Running)).clone();
    for c in met.checks.iter_mut() {
        c.status = "pass".into();
    }
    let mut b = App::new(
        std::sync::Arc::new(met.clone()),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    b.open_where_needed();
    assert_eq!(b.tab, Tab::Batches);
    // A first snapshot without the checklist yet: decided when it arrives, unless the
    // operator has moved on by then.
    let mut bare = met.clone();
    bare.checks.clear();
    let mut c = App::new(
        std::sync::Arc::new(bare.clone()),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    c.open_where_needed();
    assert_eq!(c.tab, Tab::Batches);
    c.set_snapshot(snapshot(Kind::Running));
    assert_eq!(c.tab, Tab::Checklist);
    let mut d = App::new(
        std::sync::Arc::new(bare),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    d.open_where_needed();
    press(&mut d, "3");
    d.set_snapshot(snapshot(Kind::Running));
    assert_eq!(d.tab, Tab::Issues, "the operator's choice stands");
}

/// An auto item the engine cannot verify (`recipients`) takes a tick like a manual one; the
/// other auto items do not.
#[test]
fn a_tickable_auto_item_ticks_and_the_others_do_not() {
    let mut snap = (*snapshot(Kind::Running)).clone();
    let login = snap.checks.iter().position(|c| c.id == "login").unwrap();
    let mut recipients = snap.checks[login].clone();
    recipients.id = "recipients".into();
    recipients.tickable = true;
    recipients.status = "pending".into();
    snap.checks.insert(login + 1, recipients);
    let mut a = App::new(
        std::sync::Arc::new(snap),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    press(&mut a, "1");
    let down = "j".repeat(login);
    // On login (auto, not tickable): space sends nothing.
    assert_eq!(press(&mut a, &format!("{down} ")), vec![]);
    assert_eq!(
        press(&mut a, "j "),
        vec![Effect::Send(Command::SetCheck {
            id: "recipients".into(),
            done: true,
            note: None,
            operator: "maria".into()
        })]
    );
}

/// Issue 19: the Batches tab's delta pass (d), its schedule (D: minutes asked, D again
/// stops it) and finalize (F: the batch's name typed, else nothing is sent).
#[test]
fn delta_pass_schedule_and_finalize_keys_send_typed_commands() {
    use std::time::Duration;
    let mut a = app(Kind::Running);
    assert_eq!(
        press(&mut a, "d"),
        vec![Effect::Send(Command::DeltaPass {
            batch: "pilot".into(),
            every: None,
            operator: "maria".into(),
        })]
    );
    // The fixture's pilot has passes every 15 min: D stops them.
    assert_eq!(
        press(&mut a, "D"),
        vec![Effect::Send(Command::StopDeltaPasses {
            batch: "pilot".into(),
            operator: "maria".into(),
        })]
    );
    // Without a schedule, D asks the minutes.
    let mut snap = (*a.snap).clone();
    snap.batches[0].sync.every = None;
    a.set_snapshot(std::sync::Arc::new(snap));
    assert_eq!(press(&mut a, "D"), vec![]);
    assert!(matches!(a.modal, Modal::Every(ref b, _) if b == "pilot"));
    assert_eq!(
        press(&mut a, "15\n"),
        vec![Effect::Send(Command::DeltaPass {
            batch: "pilot".into(),
            every: Some(Duration::from_secs(900)),
            operator: "maria".into(),
        })]
    );
    assert_eq!(press(&mut a, "Dx\n"), vec![], "not a duration: nothing");
    assert!(a.toast.as_deref().unwrap_or("").contains("no schedule"));
    assert_eq!(press(&mut a, "D0\n"), vec![], "zero: nothing");
    assert_eq!(
        press(&mut a, "D90s\n"),
        vec![Effect::Send(Command::DeltaPass {
            batch: "pilot".into(),
            every: Some(Duration::from_secs(90)),
            operator: "maria".into(),
        })]
    );
    // Finalize asks once: the name typed wrong sends nothing; esc sends nothing.
    assert_eq!(press(&mut a, "F"), vec![]);
    assert!(matches!(a.modal, Modal::Finalize(ref b, _) if b == "pilot"));
    assert_eq!(press(&mut a, "pilo\n"), vec![]);
    assert!(a.toast.as_deref().unwrap_or("").contains("not confirmed"));
    assert_eq!(press(&mut a, "Fpilot\x1b"), vec![]);
    assert_eq!(
        press(&mut a, "Fpilot\n"),
        vec![Effect::Send(Command::Finalize {
            batch: "pilot".into(),
            operator: "maria".into(),
        })]
    );
    // The second batch, selected.
    assert_eq!(
        press(&mut a, "jd"),
        vec![Effect::Send(Command::DeltaPass {
            batch: "wave-1".into(),
            every: None,
            operator: "maria".into(),
        })]
    );
}
