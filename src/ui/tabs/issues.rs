//! The Issues tab: every warning and error, newest first, filterable by severity, category,
//! state and text (the filter: [`crate::ui::filter`]); the selected issue's cause and fix
//! below the list.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use crate::ui::app::App;
use crate::ui::widgets::{block, table_state};
use cutover_engine::api::{self, Severity};

pub fn draw_issues(f: &mut Frame, app: &App, area: Rect) {
    // The selected issue with its cause and fix, under the list when there is room (cause and
    // fix wrap onto two lines each on a narrow screen).
    let wide = area.width >= 120;
    let detail_h = match (area.height >= 16, wide) {
        (false, _) => 0,
        (true, true) => 7,
        (true, false) => 9,
    };
    let [list, detail] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(detail_h)]).areas(area);
    draw_list(f, app, list);
    if detail_h > 0 {
        draw_detail(f, app, detail, wide);
    }
}

/// "2026-11-24T22:10:00.000Z" as "11-24 22:10:00".
fn short_time(ts: &str) -> String {
    ts.get(5..19).unwrap_or(ts).replacen('T', " ", 1)
}

fn draw_detail(f: &mut Frame, app: &App, area: Rect, wide: bool) {
    let t = &app.theme;
    let rows = app.issue_rows();
    let title = " Selected issue: a ack, r resolve with a note ";
    let Some(i) = rows.get(app.selected()) else {
        f.render_widget(Paragraph::new("").block(block(app, title)), area);
        return;
    };
    let c = api::category(&i.category);
    let place = [
        i.mailbox.clone(),
        i.folder.clone(),
        i.uid.map(|u| format!("UID {u}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" / ");
    let mut seen = format!("  ×{}", i.count);
    if wide && !i.first_seen.is_empty() {
        seen.push_str(&format!(" first {}", short_time(&i.first_seen)));
    }
    seen.push_str(&format!(" last {}", short_time(&i.last_seen)));
    let mut state = i.state.to_string();
    if let Some(by) = &i.state_by {
        state.push_str(&format!(" by {by}"));
    }
    if let Some(at) = &i.state_at {
        state.push_str(&format!(" at {}", short_time(at)));
    }
    if let Some(n) = &i.note {
        state.push_str(&format!(": {n}"));
    }
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", i.severity), t.title()),
            Span::styled(format!("[{}] ", i.category), t.accent()),
            Span::raw(place),
            Span::styled(seen, t.muted()),
        ]),
        Line::from(vec![Span::styled("cause: ", t.muted()), Span::raw(c.cause)]),
        Line::from(vec![Span::styled("fix:   ", t.muted()), Span::raw(c.fix)]),
        Line::from(vec![
            Span::styled("retry: ", t.muted()),
            Span::raw(c.retry.as_str()),
            Span::styled("   state: ", t.muted()),
            Span::raw(state),
        ]),
    ];
    if wide {
        // On a narrow screen the line under the list already holds the message.
        lines.push(Line::from(Span::styled(i.message.clone(), t.base())));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(block(app, title)),
        area,
    );
}

fn draw_list(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let wide = area.width >= 120;
    let rows: Vec<Row> = app
        .issue_rows()
        .iter()
        .map(|i| {
            let sev = match i.severity {
                Severity::Critical => ("✖ CRIT", t.badge(t.danger())),
                Severity::Error => ("✖ error", t.error()),
                Severity::Warning => ("! warn", t.warn()),
                Severity::Info => ("· info", t.muted()),
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
                    Cell::from(i.state.as_str()),
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
            format!(
                " Issues, newest first ({n}): / filter (sev: cat: state: text), a ack, r resolve "
            ),
        ))
        .row_highlight_style(t.selection())
        .highlight_symbol("› ");
    f.render_stateful_widget(table, area, &mut table_state(app.selected()));
}
