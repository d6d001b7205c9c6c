//! The Checklist tab: the pre-migration checklist.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::ui::app::App;
use crate::ui::draw::*;

pub fn draw_checklist(f: &mut Frame, app: &App, area: Rect) {
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
