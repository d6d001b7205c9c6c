//! Rendering: a pure function of the app state (and its snapshot) into a frame: the header,
//! the tab bar, the current tab (drawn by [`super::tabs`]), the toast and footer lines and
//! the modal overlays.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Level, Modal};
use super::keys::{KEYMAP, Scope, Tab, footer};
use super::tabs;
use super::widgets::{block, bytes, hms, num};
use cutover_engine::api::{MailboxState, RunState};

pub const MIN_W: u16 = 80;
pub const MIN_H: u16 = 24;

pub(crate) fn run_state_style(app: &App) -> Style {
    let t = &app.theme;
    t.badge(match app.snap.run_state {
        RunState::Running => t.ok(),
        RunState::Pausing => t.warn(),
        RunState::Stopped => t.danger(),
        RunState::Idle => t.base(),
    })
}

pub fn draw(f: &mut Frame, app: &App) {
    draw_screen(f, app);
    defuse(f);
}

/// The last pass over every frame: no cell reaches the terminal holding a control or bidi
/// character from a server or the journal (ratatui drops C0 and C1 controls itself, not the
/// bidi overrides and isolates); such a cell shows U+FFFD instead.
fn defuse(f: &mut Frame) {
    for cell in f.buffer_mut().content.iter_mut() {
        if cell
            .symbol()
            .chars()
            .any(cutover_engine::safe_text::is_unsafe)
        {
            cell.set_symbol("\u{fffd}");
        }
    }
}

fn draw_screen(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_W || area.height < MIN_H {
        too_small(f, app, area);
        draw_modal(f, app, area);
        return;
    }
    let [header, tabs, body, toast, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, app, header);
    draw_tabs(f, app, tabs);
    match app.tab {
        Tab::Checklist => tabs::checklist::draw_checklist(f, app, body),
        Tab::Batches => tabs::batches::draw_batches(f, app, body),
        Tab::Issues => tabs::issues::draw_issues(f, app, body),
        Tab::Emergency => tabs::emergency::draw_emergency(f, app, body),
    }
    draw_toast(f, app, toast);
    draw_footer(f, app, foot);
    draw_modal(f, app, area);
}

fn too_small(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let lines = vec![
        Line::from(Span::styled(
            format!(" {} ", app.snap.run_state.word()),
            run_state_style(app),
        )),
        Line::from(""),
        Line::from(format!(
            "Enlarge the window to at least {MIN_W}x{MIN_H} (now {}x{}).",
            area.width, area.height
        )),
        Line::from(""),
        Line::from(vec![
            Span::styled("S", t.danger()),
            Span::raw(" emergency stop   "),
            Span::styled("q", t.title()),
            Span::raw(" quit"),
        ]),
    ];
    f.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let s = &app.snap;
    let total = s.totals();
    let elapsed = s
        .started
        .map(|st| hms((s.at - st).num_seconds()))
        .unwrap_or_default();
    let pct = if total.messages > 0 {
        format!(
            " ({}{:.1}%)",
            if s.enumerated() { "" } else { "≤" },
            total.copied as f64 * 100.0 / total.messages as f64
        )
    } else {
        String::new()
    };
    let (crit, err, warn, _) = s.issue_counts();
    // Until every folder is enumerated the total is a lower bound, and says so.
    let ge = if s.enumerated() { "" } else { "≥" };
    let mut l1 = vec![
        Span::styled(" cutover ", t.title()),
        Span::styled(format!("· {} ", s.project), t.base()),
        Span::styled(format!(" {} ", s.run_state.word()), run_state_style(app)),
        Span::styled(format!("  elapsed {elapsed}"), t.muted()),
    ];
    if s.read_only {
        l1.push(Span::styled(
            "  READ-ONLY (watch)",
            t.warn().add_modifier(Modifier::BOLD),
        ));
    }
    let wide = area.width >= 120;
    let mut l2 = vec![
        Span::raw(if wide {
            format!(
                " messages {} / {ge}{}{pct}   bytes {} / {ge}{}   ",
                num(total.copied),
                num(total.messages),
                bytes(total.copied_bytes),
                bytes(total.bytes)
            )
        } else {
            format!(
                " msgs {}/{ge}{}{pct} · {}/{ge}{} · ",
                num(total.copied),
                num(total.messages),
                bytes(total.copied_bytes),
                bytes(total.bytes)
            )
        }),
        Span::styled(
            format!("✖{crit} crit"),
            if crit > 0 {
                t.badge(t.danger())
            } else {
                t.muted()
            },
        ),
        Span::raw(" "),
        Span::styled(
            format!("{err} err"),
            if err > 0 { t.error() } else { t.muted() },
        ),
        Span::raw(" "),
        Span::styled(
            format!("{warn} warn"),
            if warn > 0 { t.warn() } else { t.muted() },
        ),
    ];
    if !s.throttled.is_empty() {
        l2.push(Span::styled(
            format!("  ⚠ THROTTLED ({})", s.throttled.len()),
            t.badge(t.warn()),
        ));
    }
    f.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), area);
}

fn draw_tabs(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tab.title());
        let style = if *tab == app.tab {
            t.selection()
        } else {
            t.muted()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::styled("│", t.border()));
    }
    if let Tab::Batches = app.tab {
        let crumb = match &app.level {
            Level::Batches => String::new(),
            Level::Mailboxes(b) => format!("  › {b}"),
            Level::Mailbox(k) => format!("  › {k}"),
        };
        spans.push(Span::styled(crumb, t.accent()));
    }
    if !app.filter.is_empty() {
        spans.push(Span::styled(format!("  filter: {}", app.filter), t.warn()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_toast(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let line = match (&app.modal, &app.toast) {
        (
            Modal::Command(_)
            | Modal::Every(_, _)
            | Modal::Filter(_)
            | Modal::Note(_, _)
            | Modal::Resolve(_, _)
            | Modal::Override(_, _),
            _,
        ) => {
            return draw_input(f, app, area);
        }
        (_, Some(msg)) => Line::from(Span::styled(format!(" {msg}"), t.warn())),
        // On the Issues tab the line under the list holds the selected issue in full.
        _ if app.tab == Tab::Issues => match app.issue_rows().get(app.selected()) {
            Some(i) => Line::from(Span::styled(format!(" {}", i.message), t.base())),
            None => Line::from(""),
        },
        _ => Line::from(""),
    };
    f.render_widget(Paragraph::new(line), area);
}

fn draw_input(f: &mut Frame, app: &App, area: Rect) {
    let (prefix, ta) = match &app.modal {
        Modal::Command(t) => (":", t),
        Modal::Filter(t) => ("/", t),
        Modal::Note(_, t) => ("note: ", t),
        Modal::Resolve(_, t) => ("resolve: ", t),
        Modal::Override(_, t) => ("override reason: ", t),
        Modal::Every(_, t) => ("delta pass every: ", t),
        _ => return,
    };
    let [p, rest] = Layout::horizontal([
        Constraint::Length(prefix.len() as u16 + 1),
        Constraint::Min(1),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(format!(" {prefix}")).style(app.theme.title()),
        p,
    );
    f.render_widget(&**ta, rest);
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    // The stop, help and quit keys always fit; the others as room allows, in keymap order.
    let all = footer(app.tab);
    let must = |k: &str| matches!(k, "S" | "?" | "q");
    let width = |k: &str, d: &str| k.chars().count() + d.chars().count() + 3;
    let mut room = area.width as usize;
    for (k, d) in all.iter().filter(|(k, _)| must(k)) {
        room = room.saturating_sub(width(k, d));
    }
    let mut spans = Vec::new();
    for (k, d) in &all {
        if !must(k) {
            if width(k, d) > room {
                continue;
            }
            room -= width(k, d);
        }
        let style = if *k == "S" { t.danger() } else { t.title() };
        spans.push(Span::styled(format!(" {k}"), style));
        spans.push(Span::styled(format!(" {d} "), t.muted()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_modal(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    match &app.modal {
        Modal::Help => {
            let mut lines: Vec<Line> = vec![
                Line::from(Span::styled(
                    format!(" logs: {}", app.snap.log_dir),
                    t.muted(),
                )),
                Line::from(Span::styled(
                    format!(" journal: {}", app.snap.journal),
                    t.muted(),
                )),
                Line::from(Span::styled(" any key closes this help", t.muted())),
                Line::from(""),
            ];
            lines.extend(KEYMAP.iter().filter(|b| !b.label.is_empty()).map(|b| {
                let scope = match b.scope {
                    Scope::Global => "any tab".to_string(),
                    Scope::In(tab) => tab.title().to_string(),
                };
                Line::from(vec![
                    Span::styled(format!(" {:<10}", b.label), t.title()),
                    Span::styled(format!("{:<11}", scope), t.muted()),
                    Span::raw(b.desc),
                ])
            }));
            let r = centered(area, 90, lines.len() as u16 + 2);
            f.render_widget(Clear, r);
            f.render_widget(Paragraph::new(lines).block(block(app, " Keys ")), r);
        }
        Modal::ConfirmStop => {
            let running: usize = app
                .snap
                .batches
                .iter()
                .map(|b| b.count(MailboxState::Running))
                .sum();
            let lines = vec![
                Line::from(Span::styled(" EMERGENCY STOP? ", t.badge(t.danger()))),
                Line::from(""),
                Line::from(format!(
                    " Halts every write now. {running} mailbox(es) are running."
                )),
                Line::from(" The journal stays consistent; start again to resume."),
                Line::from(""),
                Line::from(vec![
                    Span::styled(" y", t.danger()),
                    Span::raw(" stop now      "),
                    Span::styled("any other key", t.title()),
                    Span::raw(" cancel (the default)"),
                ]),
            ];
            let r = centered(area, 64, 8);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(t.danger()),
                ),
                r,
            );
        }
        Modal::Rollback(batch, input) => {
            let b = app.snap.batches.iter().find(|x| &x.name == batch);
            let (n, bytes_) = b
                .map(|b| (b.totals().copied, b.totals().copied_bytes))
                .unwrap_or_default();
            let mailboxes = b.map_or(0, |b| b.mailboxes.len());
            let lines = vec![
                Line::from(Span::styled(
                    format!(" ROLL BACK BATCH {batch}? "),
                    t.badge(t.danger()),
                )),
                Line::from(""),
                Line::from(format!(
                    " Removes the {} message(s) ({}) cutover wrote to the destination for",
                    num(n),
                    bytes(bytes_)
                )),
                Line::from(format!(
                    " {mailboxes} mailbox(es), each re-checked first; nothing else, never the source."
                )),
                Line::from(format!(
                    " Type the batch name ({batch}) and press enter; esc cancels."
                )),
                Line::from(""),
            ];
            let r = centered(area, 80, 10);
            f.render_widget(Clear, r);
            let [text, field] = Layout::vertical([Constraint::Length(7), Constraint::Length(1)])
                .areas(r.inner(ratatui::layout::Margin::new(1, 1)));
            f.render_widget(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.danger()),
                r,
            );
            f.render_widget(Paragraph::new(lines), text);
            f.render_widget(&**input, field);
        }
        Modal::Finalize(batch, input) => {
            let mailboxes = app
                .snap
                .batches
                .iter()
                .find(|x| &x.name == batch)
                .map_or(0, |b| b.mailboxes.len());
            let lines = vec![
                Line::from(Span::styled(
                    format!(" FINALIZE BATCH {batch}? "),
                    t.badge(t.danger()),
                )),
                Line::from(""),
                Line::from(
                    " Checks the domain's DNS (refused while MX does not point at the destination),",
                ),
                Line::from(format!(
                    " marks the switch of its {mailboxes} mailbox(es) to the destination, runs the final"
                )),
                Line::from(
                    " delta pass and verifies. Logged with your name; never writes to the source.",
                ),
                Line::from(format!(
                    " Type the batch name ({batch}) and press enter; esc cancels."
                )),
            ];
            let r = centered(area, 86, 10);
            f.render_widget(Clear, r);
            let [text, field] = Layout::vertical([Constraint::Length(7), Constraint::Length(1)])
                .areas(r.inner(ratatui::layout::Margin::new(1, 1)));
            f.render_widget(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.danger()),
                r,
            );
            f.render_widget(Paragraph::new(lines), text);
            f.render_widget(&**input, field);
        }
        Modal::Quit => {
            let lines = vec![
                Line::from(Span::styled(" Work is running. Quit how? ", t.title())),
                Line::from(""),
                Line::from(vec![
                    Span::styled(" p", t.title()),
                    Span::raw(
                        "  pause every batch, quit once the windows in flight are journalled",
                    ),
                ]),
                Line::from(vec![
                    Span::styled(" d", t.title()),
                    Span::raw("  detach: leave the screen, keep migrating headless until done"),
                ]),
                Line::from(vec![Span::styled(" esc", t.title()), Span::raw(" cancel")]),
            ];
            let r = centered(area, 74, 7);
            f.render_widget(Clear, r);
            f.render_widget(Paragraph::new(lines).block(block(app, " Quit ")), r);
        }
        Modal::ReportNote(s, ta) => {
            super::notes::draw(f, centered(area, 100, 18), t, &app.snap, *s, ta);
        }
        _ => {}
    }
}
