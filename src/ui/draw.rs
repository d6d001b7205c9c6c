//! Rendering: a pure function of the app state (and its snapshot) into a frame.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Sparkline, Table, TableState, Wrap,
};

use super::app::{App, Level, Modal};
use super::keys::{KEYMAP, Tab, footer};
use crate::engine::snapshot::{MailboxView, RunState, Throughput};

pub const MIN_W: u16 = 80;
pub const MIN_H: u16 = 24;

pub fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().si().to_string()
}

fn rate(tp: &Throughput) -> String {
    let (m, b) = tp.rate(5);
    format!("{m:.0} msg/s {}/s", bytes(b as u64))
}

fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn state_style(app: &App, state: &str) -> Style {
    let t = &app.theme;
    match state {
        "done" | "complete" => t.ok(),
        "running" | "pausing" => t.accent(),
        "failed" | "stopped" => t.error(),
        "paused" | "interrupted" => t.warn(),
        _ => t.muted(),
    }
}

/// A state as a symbol and a word (never colour alone).
fn state_word(state: &str) -> String {
    let sym = match state {
        "done" => "✔",
        "running" => "▶",
        "pausing" => "‖",
        "paused" => "‖",
        "failed" => "✖",
        "stopped" => "■",
        "interrupted" => "!",
        _ => "·",
    };
    format!("{sym} {state}")
}

fn run_state_style(app: &App) -> Style {
    let t = &app.theme;
    t.badge(match app.snap.run_state {
        RunState::Running => t.ok(),
        RunState::Pausing => t.warn(),
        RunState::Stopped => t.danger(),
        RunState::Idle => t.base(),
    })
}

pub fn draw(f: &mut Frame, app: &App) {
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
        Tab::Checklist => draw_checklist(f, app, body),
        Tab::Batches => draw_batches(f, app, body),
        Tab::Issues => draw_issues(f, app, body),
        Tab::Emergency => draw_emergency(f, app, body),
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
            " ({:.1}%)",
            total.copied as f64 * 100.0 / total.messages as f64
        )
    } else {
        String::new()
    };
    let (crit, err, warn, _) = s.issue_counts();
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
                " messages {} / {}{pct}   bytes {} / {}   ",
                num(total.copied),
                num(total.messages),
                bytes(total.copied_bytes),
                bytes(total.bytes)
            )
        } else {
            format!(
                " msgs {}/{}{pct} · {}/{} · ",
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
        (Modal::Command(_) | Modal::Filter(_) | Modal::Note(_, _), _) => {
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

fn block<'a>(app: &App, title: impl Into<std::borrow::Cow<'a, str>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border())
        .title(Span::styled(title, app.theme.title()))
}

fn spark_data(tp: &Throughput, width: u16) -> Vec<u64> {
    let n = width as usize;
    let v: Vec<u64> = tp.samples.iter().map(|(m, _)| *m).collect();
    let start = v.len().saturating_sub(n);
    v[start..].to_vec()
}

fn draw_throughput(f: &mut Frame, app: &App, area: Rect, tp: &Throughput, title: &str) {
    let s = &app.snap;
    let t = &app.theme;
    let b = block(app, title);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [info, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let mut spans = vec![
        Span::styled("now ", t.muted()),
        Span::styled(rate(tp), t.accent()),
        Span::styled("   connections ", t.muted()),
        Span::raw(format!(
            "source {}/{}  destination {}/{}",
            s.connections.src_in_use,
            s.connections.src_max,
            s.connections.dst_in_use,
            s.connections.dst_max
        )),
    ];
    if s.parallel > 0 {
        spans.push(Span::styled("   mailboxes at once ", t.muted()));
        spans.push(Span::raw(s.parallel.to_string()));
    }
    if !s.throttled.is_empty() {
        spans.push(Span::styled(" ⚠ throttled", t.badge(t.warn())));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);
    let data = spark_data(tp, chart.width);
    f.render_widget(
        Sparkline::default()
            .data(&data)
            .style(t.gauge())
            .max(data.iter().copied().max().unwrap_or(1).max(1)),
        chart,
    );
}

fn table_state(sel: usize) -> TableState {
    TableState::default().with_selected(Some(sel))
}

fn draw_batches(f: &mut Frame, app: &App, area: Rect) {
    let s = &app.snap;
    let t = &app.theme;
    let [tp, gauge, rest] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(area);
    match &app.level {
        Level::Mailbox(k) => {
            if let Some(m) = s.mailbox(k) {
                draw_throughput(
                    f,
                    app,
                    tp,
                    &m.throughput,
                    " Throughput of this mailbox (measured, last 10 min) ",
                );
                draw_gauge(f, app, gauge, m.totals.copied, m.totals.messages);
                draw_mailbox_detail(f, app, rest, m);
            }
            return;
        }
        Level::Mailboxes(b) => {
            let bv = s.batches.iter().find(|x| &x.name == b);
            let tpv = bv.map(|x| x.throughput.clone()).unwrap_or_default();
            draw_throughput(
                f,
                app,
                tp,
                &tpv,
                " Throughput of this batch (measured, last 10 min) ",
            );
            let tot = bv.map(|x| x.totals()).unwrap_or_default();
            draw_gauge(f, app, gauge, tot.copied, tot.messages);
        }
        Level::Batches => {
            draw_throughput(
                f,
                app,
                tp,
                &s.throughput,
                " Throughput, all batches (measured, last 10 min) ",
            );
            let tot = s.totals();
            draw_gauge(f, app, gauge, tot.copied, tot.messages);
        }
    }
    let rows_keys = app.batch_rows();
    let sel = app.selected();
    let wide = rest.width >= 120;
    let (header, rows, widths): (Vec<&str>, Vec<Row>, Vec<Constraint>) = match &app.level {
        Level::Batches => {
            let rows = s
                .batches
                .iter()
                .map(|b| {
                    let tot = b.totals();
                    let mut cells = vec![
                        Cell::from(b.name.clone()),
                        Cell::from(state_word(b.state())).style(state_style(app, b.state())),
                        Cell::from(format!("{}/{}", b.count("done"), b.mailboxes.len())),
                        Cell::from(format!("{}/{}", num(tot.copied), num(tot.messages))),
                        Cell::from(if wide {
                            format!("{}/{}", bytes(tot.copied_bytes), bytes(tot.bytes))
                        } else {
                            bytes(tot.copied_bytes)
                        }),
                        Cell::from(b.errors().to_string()).style(if b.errors() > 0 {
                            t.error()
                        } else {
                            t.base()
                        }),
                    ];
                    if wide {
                        cells.push(Cell::from(rate(&b.throughput)));
                    }
                    Row::new(cells)
                })
                .collect();
            let mut widths = vec![
                Constraint::Min(10),
                Constraint::Length(13),
                Constraint::Length(9),
                Constraint::Length(15),
                Constraint::Length(if wide { 21 } else { 9 }),
                Constraint::Length(6),
            ];
            let mut header = vec!["Batch", "State", "Mailboxes", "Messages", "Bytes", "Errors"];
            if wide {
                widths.push(Constraint::Length(22));
                header.push("Rate");
            }
            (header, rows, widths)
        }
        _ => {
            let rows = rows_keys
                .iter()
                .filter_map(|k| s.mailbox(k))
                .map(|m| {
                    let mut cells = vec![
                        Cell::from(m.key.clone()),
                        Cell::from(state_word(&m.state)).style(state_style(app, &m.state)),
                        Cell::from(format!(
                            "{}/{}",
                            num(m.totals.copied),
                            num(m.totals.messages)
                        )),
                        Cell::from(
                            m.eta_secs()
                                .map(|e| format!("~{}", hms(e as i64)))
                                .unwrap_or("—".into()),
                        ),
                    ];
                    if wide {
                        cells.extend([
                            Cell::from(m.current_folder.clone().unwrap_or_default()),
                            Cell::from(format!(
                                "{}/{}",
                                m.folders_done,
                                m.folders_total.map_or("?".into(), |n| n.to_string())
                            )),
                            Cell::from(bytes(m.totals.copied_bytes)),
                        ]);
                    }
                    cells.push(
                        Cell::from(m.last_error.clone().unwrap_or_default()).style(t.error()),
                    );
                    Row::new(cells)
                })
                .collect();
            let mut widths = vec![
                Constraint::Length(if wide { 32 } else { 24 }),
                Constraint::Length(13),
                Constraint::Length(13),
                Constraint::Length(10),
            ];
            let mut header = vec!["Mailbox", "State", "Messages", "ETA (est.)"];
            if wide {
                widths.extend([
                    Constraint::Length(16),
                    Constraint::Length(8),
                    Constraint::Length(10),
                ]);
                header.extend(["Folder", "Folders", "Bytes"]);
            }
            widths.push(Constraint::Min(10));
            header.push("Last error");
            (header, rows, widths)
        }
    };
    let title = match &app.level {
        Level::Batches => " Batches (enter: mailboxes) ".to_string(),
        Level::Mailboxes(b) => format!(" Mailboxes of {b} (enter: details, esc: back) "),
        Level::Mailbox(_) => String::new(),
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(block(app, title))
        .row_highlight_style(t.selection())
        .highlight_symbol("› ");
    f.render_stateful_widget(table, rest, &mut table_state(sel));
}

fn draw_gauge(f: &mut Frame, app: &App, area: Rect, done: u64, total: u64) {
    let ratio = if total > 0 {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let label = if total > 0 {
        format!(
            "{} / {} messages ({:.1}%)",
            num(done),
            num(total),
            ratio * 100.0
        )
    } else {
        "not scanned yet: totals appear once the source folders are listed".into()
    };
    f.render_widget(
        Gauge::default()
            .gauge_style(app.theme.gauge())
            .ratio(ratio)
            .label(label)
            .use_unicode(true),
        area,
    );
}

fn draw_mailbox_detail(f: &mut Frame, app: &App, area: Rect, m: &MailboxView) {
    let t = &app.theme;
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<18}"), t.muted()),
            Span::raw(v),
        ])
    };
    let lines = vec![
        kv("mailbox", m.key.clone()),
        kv("batch", m.batch.clone()),
        Line::from(vec![
            Span::styled(format!("{:<18}", "state"), t.muted()),
            Span::styled(state_word(&m.state), state_style(app, &m.state)),
        ]),
        kv(
            "current folder",
            m.current_folder.clone().unwrap_or("—".into()),
        ),
        kv(
            "folders",
            format!(
                "{} done of {}",
                m.folders_done,
                m.folders_total.map_or("?".into(), |n| n.to_string())
            ),
        ),
        kv(
            "messages",
            format!(
                "{} copied of {} known",
                num(m.totals.copied),
                num(m.totals.messages)
            ),
        ),
        kv(
            "bytes",
            format!(
                "{} of {}",
                bytes(m.totals.copied_bytes),
                bytes(m.totals.bytes)
            ),
        ),
        kv(
            "skipped / failed",
            format!(
                "{} / {} (reasons in the Issues tab)",
                m.totals.skipped, m.totals.failed
            ),
        ),
        kv("rate (measured)", rate(&m.throughput)),
        kv(
            "ETA (estimate)",
            m.eta_secs()
                .map(|e| format!("~{} at the last minute's rate", hms(e as i64)))
                .unwrap_or("—".into()),
        ),
        Line::from(vec![
            Span::styled(format!("{:<18}", "last error"), t.muted()),
            Span::styled(m.last_error.clone().unwrap_or("—".into()), t.error()),
        ]),
        Line::from(""),
        Line::from(Span::styled(
            "s start/retry   p pause batch   esc back",
            t.muted(),
        )),
    ];
    f.render_widget(
        Paragraph::new(lines)
            .block(block(app, " Mailbox "))
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn draw_issues(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let wide = area.width >= 120;
    let rows: Vec<Row> = app
        .issue_rows()
        .iter()
        .map(|i| {
            let sev = match i.severity.as_str() {
                "critical" => ("✖ CRIT", t.badge(t.danger())),
                "error" => ("✖ error", t.error()),
                "warning" => ("! warn", t.warn()),
                _ => ("· info", t.muted()),
            };
            let msg = if i.count > 1 {
                format!("{} (×{})", i.message, i.count)
            } else {
                i.message.clone()
            };
            let time = i.last_seen.get(11..19).unwrap_or("").to_string();
            if wide {
                Row::new(vec![
                    Cell::from(time),
                    Cell::from(sev.0).style(sev.1),
                    Cell::from(i.category.clone()),
                    Cell::from(i.mailbox.clone().unwrap_or_default()),
                    Cell::from(i.folder.clone().unwrap_or_default()),
                    Cell::from(i.uid.map(|u| u.to_string()).unwrap_or_default()),
                    Cell::from(msg),
                    Cell::from(i.state.clone()),
                ])
            } else {
                let place = [
                    i.mailbox
                        .as_deref()
                        .map(|m| m.split("->").next().unwrap_or(m).to_string()),
                    i.folder.clone(),
                    i.uid.map(|u| format!("UID {u}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/");
                Row::new(vec![
                    Cell::from(time),
                    Cell::from(sev.0).style(sev.1),
                    Cell::from(i.category.clone()),
                    Cell::from(place),
                    Cell::from(msg),
                ])
            }
        })
        .collect();
    let n = rows.len();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "Time", "Severity", "Category", "Mailbox", "Folder", "UID", "Message", "State",
            ],
            vec![
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(24),
                Constraint::Length(14),
                Constraint::Length(7),
                Constraint::Min(30),
                Constraint::Length(13),
            ],
        )
    } else {
        (
            vec!["Time", "Severity", "Category", "Where", "Message"],
            vec![
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Min(20),
            ],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(block(
            app,
            format!(" Issues, newest first ({n}): / filter, a ack, enter: mailbox "),
        ))
        .row_highlight_style(t.selection())
        .highlight_symbol("› ");
    f.render_stateful_widget(table, area, &mut table_state(app.selected()));
}

fn draw_checklist(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let s = &app.snap;
    if s.checks.is_empty() {
        f.render_widget(
            Paragraph::new(vec![
                Line::from("No checklist items in the project file."),
                Line::from(""),
                Line::from(Span::styled(
                    "Add [[check]] entries: id, title, section, required = true|false, kind = \"manual\"|\"auto\".",
                    t.muted(),
                )),
            ])
            .block(block(app, " Pre-migration checklist ")),
            area,
        );
        return;
    }
    let mut section = "";
    let rows: Vec<Row> = s
        .checks
        .iter()
        .map(|c| {
            let sec = if c.section != section {
                section = &c.section;
                c.section.clone()
            } else {
                String::new()
            };
            Row::new(vec![
                Cell::from(sec).style(t.title()),
                Cell::from(if c.done { "[x] done" } else { "[ ] open" }).style(if c.done {
                    t.ok()
                } else if c.required {
                    t.warn()
                } else {
                    t.muted()
                }),
                Cell::from(c.title.clone()),
                Cell::from(if c.required { "required" } else { "optional" }),
                Cell::from(match (&c.by, &c.at) {
                    (Some(b), Some(a)) => format!("{b} {}", a.get(..16).unwrap_or(a)),
                    _ => String::new(),
                }),
                Cell::from(c.note.clone().unwrap_or_default()),
            ])
        })
        .collect();
    let done = s.checks.iter().filter(|c| c.done).count();
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(9),
            Constraint::Min(24),
            Constraint::Length(9),
            Constraint::Length(22),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["Section", "Status", "Item", "", "Ticked by / at", "Note"]).style(t.title()))
    .block(block(
        app,
        format!(
            " Pre-migration checklist: {done}/{} done — space tick, n note ",
            s.checks.len()
        ),
    ))
    .row_highlight_style(t.selection())
    .highlight_symbol("› ");
    f.render_stateful_widget(table, area, &mut table_state(app.selected()));
}

fn draw_emergency(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let s = &app.snap;
    let running: usize = s.batches.iter().map(|b| b.count("running")).sum();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" EMERGENCY STOP ", t.badge(t.danger())),
            Span::styled(
                "   S, then y to confirm (from any tab; :stop! skips the question)",
                t.base(),
            ),
        ]),
        Line::from(""),
        Line::from(
            "  Halts every write at once: no APPEND starts after it. Windows already sent are journalled, or",
        ),
        Line::from(
            "  resolved against the destination at the next start (never re-sent blindly). Nothing is deleted.",
        ),
        Line::from(format!(
            "  It would affect now: {running} mailbox(es) running; connections in use: source {}/{}, destination {}/{}.",
            s.connections.src_in_use,
            s.connections.src_max,
            s.connections.dst_in_use,
            s.connections.dst_max
        )),
        Line::from(
            "  Afterwards, start a batch again (s on the Batches tab, or :start) to resume where it stopped.",
        ),
        Line::from(""),
        Line::from(vec![
            Span::styled(" PAUSE ", t.badge(t.warn())),
            Span::raw(
                "   p here pauses every batch gracefully (P from any tab); p on a batch pauses that batch.",
            ),
        ]),
        Line::from(""),
        Line::from(vec![
            Span::styled(" ROLLBACK ", t.badge(t.muted())),
            Span::styled(
                "   not in this version: removing what cutover wrote comes with the rollback feature.",
                t.muted(),
            ),
        ]),
    ];
    if s.run_state == RunState::Stopped {
        lines.insert(
            0,
            Line::from(Span::styled(
                " ■ STOPPED — all writes halted ",
                t.badge(t.danger()),
            )),
        );
        lines.insert(1, Line::from(""));
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block(app, " Emergency "))
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
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
                    super::keys::Scope::Global => "any tab".to_string(),
                    super::keys::Scope::In(tab) => tab.title().to_string(),
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
            let running: usize = app.snap.batches.iter().map(|b| b.count("running")).sum();
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
        _ => {}
    }
}
