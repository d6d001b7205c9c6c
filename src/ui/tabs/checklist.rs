//! The Checklist tab: the pre-migration checklist, by section, with each item's status
//! (pass / fail / pending / overridden / n/a) and why; the selected item in full below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use crate::ui::app::App;
use crate::ui::theme::Theme;
use crate::ui::widgets::{block, table_state};
use cutover_engine::api::{CheckStatus, CheckView};

/// The status cell: a mark that reads without colour, and its style.
fn status(c: &CheckView, t: &Theme) -> (String, Style) {
    let (mark, style) = match c.status {
        CheckStatus::Pass => ("[x]", t.ok()),
        CheckStatus::Fail if c.required => ("[!]", t.error()),
        CheckStatus::Fail => ("[!]", t.warn()),
        CheckStatus::Overridden => ("[~]", t.warn()),
        CheckStatus::NotApplicable => ("[-]", t.muted()),
        CheckStatus::Pending if c.required => ("[ ]", t.warn()),
        CheckStatus::Pending => ("[ ]", t.muted()),
    };
    (format!("{mark} {}", c.status), style)
}

pub fn draw_checklist(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let s = &app.snap;
    if s.checks.is_empty() {
        f.render_widget(
            Paragraph::new(vec![
                Line::from("No checklist items in the project file: nothing gates a start."),
                Line::from(""),
                Line::from(Span::styled(
                    "Add [checklist] defaults = true for the built-in items, or [[check]] entries: id, title, section, required = true|false, kind = \"manual\"|\"auto\".",
                    t.muted(),
                )),
            ])
            .wrap(Wrap { trim: true })
            .block(block(app, " Pre-migration checklist ")),
            area,
        );
        return;
    }
    let [list, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(5)]).areas(area);
    // Narrow screens drop the kind and who/when columns (the detail panel has them).
    let wide = area.width >= 120;
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
            let (word, style) = status(c, t);
            let why = match c.status {
                CheckStatus::Pass if !c.auto => c.note.clone().unwrap_or_default(),
                _ => c.reason.clone(),
            };
            let mut cells = vec![
                Cell::from(sec).style(t.title()),
                Cell::from(word).style(style),
                Cell::from(c.title.clone()),
            ];
            if wide {
                cells.push(Cell::from(if c.required { "required" } else { "optional" }));
                cells.push(Cell::from(if c.auto { "auto" } else { "manual" }));
                cells.push(Cell::from(when(c)));
            } else {
                cells.push(Cell::from(if c.required { "req" } else { "opt" }));
            }
            cells.push(Cell::from(why));
            Row::new(cells)
        })
        .collect();
    let met = s.checks.iter().filter(|c| c.status.met()).count();
    let unmet_required = s
        .checks
        .iter()
        .filter(|c| c.required && matches!(c.status, CheckStatus::Fail | CheckStatus::Pending))
        .count();
    let gate = if unmet_required == 0 {
        "gate open".to_string()
    } else {
        format!("{unmet_required} required unmet: starts refused")
    };
    let (widths, header) = if wide {
        (
            vec![
                Constraint::Length(10),
                Constraint::Length(15),
                Constraint::Min(24),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(22),
                Constraint::Min(10),
            ],
            vec![
                "Section",
                "Status",
                "Item",
                "",
                "Kind",
                "By / at",
                "Why / note",
            ],
        )
    } else {
        (
            vec![
                Constraint::Length(10),
                Constraint::Length(15),
                Constraint::Min(20),
                Constraint::Length(3),
                Constraint::Min(10),
            ],
            vec!["Section", "Status", "Item", "", "Why / note"],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(block(
            app,
            format!(
                " Pre-migration checklist: {met}/{} met, {gate} ",
                s.checks.len()
            ),
        ))
        .row_highlight_style(t.selection())
        .highlight_symbol("› ");
    f.render_stateful_widget(table, list, &mut table_state(app.selected()));

    // The selected item in full: its reason and note can be longer than a cell.
    if let Some(c) = s.checks.get(app.selected()) {
        let (word, style) = status(c, t);
        let who = when(c);
        let mut lines = vec![Line::from(vec![
            Span::styled(format!("{} ", c.id), t.title()),
            Span::styled(word, style),
            Span::styled(
                format!(
                    " ({}, {}{}{})",
                    if c.required { "required" } else { "optional" },
                    if c.auto { "auto" } else { "manual" },
                    if who.is_empty() { "" } else { ", " },
                    who
                ),
                t.muted(),
            ),
            Span::raw(format!("  {}", c.reason)),
        ])];
        if let Some(n) = &c.note {
            lines.push(Line::from(vec![
                Span::styled("note: ", t.muted()),
                Span::raw(n.clone()),
            ]));
        }
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(block(app, " Selected item ")),
            detail,
        );
    }
}

/// "maria 2026-11-24T18:02" (who and when), as far as known.
fn when(c: &CheckView) -> String {
    match (&c.by, &c.at) {
        (Some(b), Some(a)) => format!("{b} {}", a.get(..16).unwrap_or(a)),
        (None, Some(a)) => a.get(..16).unwrap_or(a).to_string(),
        _ => String::new(),
    }
}
