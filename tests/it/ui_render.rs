//! Rendering snapshots (ratatui TestBackend + insta) of each tab and modal, at 80x24 and
//! 160x48, from deterministic engine states; style-critical cells asserted on the buffer.

use crate::ui_fixture;

use cutover::ui::app::{App, key};
use cutover::ui::draw::draw;
use cutover::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::Modifier;
use ui_fixture::{Kind, snapshot};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    t
}

fn app(kind: Kind, theme: &str) -> App {
    App::new(snapshot(kind), Theme::load(theme).unwrap(), "maria".into())
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        app.on_key(key(match c {
            '\n' => KeyCode::Enter,
            c => KeyCode::Char(c),
        }));
    }
    app.take_effects();
}

#[test]
fn every_tab_in_every_state_at_80x24_and_160x48() {
    for (name, kind) in [
        ("empty", 0),
        ("running", 1),
        ("throttled", 2),
        ("failed", 3),
        ("stopped", 4),
    ] {
        for (tab, tkey) in [
            ("checklist", "1"),
            ("batches", "2"),
            ("issues", "3"),
            ("emergency", "4"),
        ] {
            for (w, h) in [(80, 24), (160, 48)] {
                let k = match kind {
                    0 => Kind::Empty,
                    1 => Kind::Running,
                    2 => Kind::Throttled,
                    3 => Kind::Failed,
                    _ => Kind::Stopped,
                };
                let mut a = app(k, "default");
                keys(&mut a, tkey);
                let t = render(&a, w, h);
                insta::assert_snapshot!(format!("{tab}_{name}_{w}x{h}"), t.backend());
            }
        }
    }
}

#[test]
fn drill_down_and_modals() {
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "j\n");
    insta::assert_snapshot!("batches_mailboxes_80x24", render(&a, 80, 24).backend());
    keys(&mut a, "j\n");
    insta::assert_snapshot!("batches_mailbox_detail_80x24", render(&a, 80, 24).backend());

    let mut a = app(Kind::Running, "default");
    keys(&mut a, "S");
    insta::assert_snapshot!("confirm_stop_80x24", render(&a, 80, 24).backend());
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "q");
    insta::assert_snapshot!("quit_dialog_80x24", render(&a, 80, 24).backend());
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "?");
    insta::assert_snapshot!("help_160x48", render(&a, 160, 48).backend());
    let mut a = app(Kind::Running, "default");
    keys(&mut a, ":pause wav");
    insta::assert_snapshot!("command_line_80x24", render(&a, 80, 24).backend());
    // Rollback of the selected batch on the Emergency tab: typed confirmation.
    let mut a = app(Kind::Stopped, "default");
    keys(&mut a, "4Rpil");
    insta::assert_snapshot!("confirm_rollback_80x24", render(&a, 80, 24).backend());
    // Finalize of the selected batch on the Batches tab: typed confirmation.
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "Fpil");
    insta::assert_snapshot!("confirm_finalize_80x24", render(&a, 80, 24).backend());
    let mut a = app(Kind::Failed, "default");
    keys(&mut a, "3jrtold the u");
    insta::assert_snapshot!("issue_resolve_note_80x24", render(&a, 80, 24).backend());
    let mut a = app(Kind::Failed, "default");
    keys(&mut a, "3/sev:warn\n");
    insta::assert_snapshot!("issues_filtered_120x30", render(&a, 120, 30).backend());
}

#[test]
fn checklist_walks_items_with_status_and_why() {
    // The failing auto item selected: its full reason is in the detail panel.
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "1jj");
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("checklist_failed_item_80x24", t.backend());
    let text = format!("{}", t.backend());
    assert!(
        text.contains("[!] fail") && text.contains("AUTHENTICATIONFAILED"),
        "{text}"
    );
    assert!(text.contains("2 required unmet: starts refused"), "{text}");
    let t = render(&a, 160, 48);
    insta::assert_snapshot!("checklist_failed_item_160x48", t.backend());
    // The overridden item says who overrode it and why.
    keys(&mut a, "j");
    let text = format!("{}", render(&a, 160, 48).backend());
    assert!(
        text.contains("[~] overridden") && text.contains("overridden by maria: quota raised"),
        "{text}"
    );
    // o on the failing item asks for the reason.
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "1jjo");
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("checklist_override_prompt_80x24", t.backend());
    assert!(format!("{}", t.backend()).contains("override reason:"));
}

#[test]
fn too_small_screen_still_shows_state_and_the_stop_key() {
    let a = app(Kind::Running, "default");
    let t = render(&a, 60, 15);
    insta::assert_snapshot!("too_small_60x15", t.backend());
    let text = format!("{}", t.backend());
    assert!(text.contains("RUNNING") && text.contains("emergency stop") && text.contains("80x24"));
    // The stop still works from there.
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "S");
    let text = format!("{}", render(&a, 60, 15).backend());
    assert!(text.contains("EMERGENCY STOP?"), "{text}");
}

#[test]
fn selection_is_reverse_video_in_mono_and_the_stopped_badge_stands_out() {
    let a = app(Kind::Running, "mono");
    let t = render(&a, 80, 24);
    let buf = t.backend().buffer();
    // The selected batch row ("› pilot") is reversed even without colours.
    let row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol())
                .collect::<String>()
                .contains("› pilot")
        })
        .expect("selected row");
    let cell = &buf[(4, row)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "{cell:?}");

    let a = app(Kind::Stopped, "mono");
    let t = render(&a, 80, 24);
    let buf = t.backend().buffer();
    let line0: String = (0..80).map(|x| buf[(x, 0)].symbol()).collect();
    let x = line0.find("STOPPED").expect("badge") as u16;
    let cell = &buf[(x, 0)];
    assert!(
        cell.modifier.contains(Modifier::REVERSED | Modifier::BOLD),
        "{cell:?}"
    );
}

/// The throttle state is shown per mailbox: in the batch's mailbox list and in the detail.
#[test]
fn a_throttled_mailbox_says_so_in_its_row_and_detail() {
    let text = |t: &Terminal<TestBackend>| {
        let buf = t.backend().buffer();
        let area = buf.area;
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut a = app(Kind::Throttled, "default");
    keys(&mut a, "j\n");
    let rows = text(&render(&a, 160, 48));
    assert!(
        rows.lines()
            .any(|l| l.contains("bob->bob@new.test") && l.contains("⚠ throttled:")),
        "{rows}"
    );
    keys(&mut a, "\n");
    let detail = text(&render(&a, 160, 48));
    assert!(
        detail.contains("throttled") && detail.contains("⚠ "),
        "{detail}"
    );
    // A mailbox not throttled says nothing of it.
    let mut a = app(Kind::Running, "default");
    keys(&mut a, "j\n");
    assert!(!text(&render(&a, 160, 48)).contains("⚠ throttled:"));
}

/// Control and bidi characters from a server (a folder name, a NO text) never reach the
/// terminal through the console: every cell of every tab is free of them.
#[test]
fn control_and_bidi_characters_from_servers_never_reach_a_cell() {
    let hostile = "Inbox\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{9b}31m\u{202e}txt.exe\u{2066}\u{7f}";
    let mut snap = (*snapshot(Kind::Failed)).clone();
    for m in snap.batches.iter_mut().flat_map(|b| b.mailboxes.iter_mut()) {
        m.current_folder = Some(hostile.to_string());
        m.last_error = Some(format!("SELECT {hostile}: server said NO: {hostile}"));
        m.key = format!("{hostile}->x");
    }
    for i in snap.issues.iter_mut() {
        i.message = format!("folder {hostile} refused");
        i.folder = Some(hostile.to_string());
    }
    let snap = std::sync::Arc::new(snap);
    for tkey in ["1", "2", "3", "4"] {
        let mut a = App::new(
            snap.clone(),
            Theme::load("default").unwrap(),
            "maria".into(),
        );
        keys(&mut a, tkey);
        // Drill into the first row too, where the full texts are shown.
        keys(&mut a, "\n");
        let t = render(&a, 160, 48);
        let buf = t.backend().buffer();
        let bad: Vec<String> = buf
            .content
            .iter()
            .map(|c| c.symbol().to_string())
            .filter(|s| s.chars().any(cutover_engine::safe_text::is_unsafe))
            .collect();
        assert!(bad.is_empty(), "tab {tkey}: raw {bad:?}");
    }
}

/// A mailbox with calendars and address books: the gauge counts items and names each kind,
/// the mailbox detail shows its counts per kind (mail-only fixtures above render as before).
#[test]
fn mixed_kinds_in_the_gauge_and_the_mailbox_detail() {
    use cutover_engine::api::{ItemKind, KindTotals};
    let mut s = (*snapshot(Kind::Running)).clone();
    // Every mailbox's mail as one kind (what the journal says of a mail-only mailbox)...
    for m in s.batches.iter_mut().flat_map(|b| b.mailboxes.iter_mut()) {
        let t = &m.totals;
        let mail = KindTotals {
            items: t.messages,
            copied: t.copied,
            ..Default::default()
        };
        m.totals.by_kind.insert(ItemKind::Mail, mail);
    }
    // ... and carol with calendars and address books.
    let m = s
        .batches
        .iter_mut()
        .flat_map(|b| b.mailboxes.iter_mut())
        .find(|m| m.key == "carol->carol@new.test")
        .expect("the fixture has carol");
    assert_eq!((m.totals.copied, m.totals.messages), (233, 500));
    for (k, items, copied) in [
        (ItemKind::Mail, 440, 200),
        (ItemKind::Event, 40, 25),
        (ItemKind::Contact, 20, 8),
    ] {
        m.totals.by_kind.insert(
            k,
            KindTotals {
                items,
                copied,
                ..Default::default()
            },
        );
    }
    // Events and contacts being copied: the rates per kind.
    for (k, n) in [
        (ItemKind::Mail, 249),
        (ItemKind::Event, 5),
        (ItemKind::Contact, 2),
    ] {
        let tp = s.kind_throughput.entry(k).or_default();
        for _ in 0..5 {
            tp.push_second(n, n * 1000);
        }
    }
    let mut a = App::new(
        std::sync::Arc::new(s),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("batches_mixed_batches_80x24", t.backend());
    keys(&mut a, "j\n");
    let t = render(&a, 80, 24);
    let screen: String = t
        .backend()
        .buffer()
        .content
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(screen.contains(" items ("), "{screen}");
    insta::assert_snapshot!("batches_mixed_mailboxes_80x24", t.backend());
    keys(&mut a, "j\n");
    let t = render(&a, 80, 24);
    insta::assert_snapshot!("batches_mixed_mailbox_detail_80x24", t.backend());
}

/// A shared mailbox is marked in its row and detail, and the batch row and table titles count
/// the types; a users-only batch looks as before.
#[test]
fn a_shared_mailbox_is_marked_and_counted_by_type() {
    let text = |t: &Terminal<TestBackend>| {
        let buf = t.backend().buffer();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut snap = (*snapshot(Kind::Running)).clone();
    let batch = &mut snap.batches[0];
    let name = batch.name.clone();
    let n = batch.mailboxes.len();
    let shared = batch.mailboxes.last_mut().unwrap();
    shared.mailbox_type = cutover_engine::api::MailboxType::Shared;
    let key = shared.key.clone();
    let mut a = App::new(
        std::sync::Arc::new(snap),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    let counts = if n > 1 {
        format!("{} user, 1 shared", n - 1)
    } else {
        "1 shared".to_string()
    };
    let batches = text(&render(&a, 160, 48));
    assert!(
        batches.contains(&format!("{name} · {counts}")),
        "{counts:?} in {batches}"
    );
    keys(&mut a, "\n");
    let rows = text(&render(&a, 160, 48));
    assert!(
        rows.contains(&format!("Mailboxes of {name} · {counts}")),
        "{rows}"
    );
    assert!(rows.contains(&format!("{key} [shared]")), "{rows}");
    // Users-only: no marker, no counts.
    let plain = text(&render(&app(Kind::Running, "default"), 160, 48));
    assert!(
        !plain.contains(" user, ") && !plain.contains("[shared]"),
        "{plain}"
    );
}
