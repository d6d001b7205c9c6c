//! The Issues tab: every warning and error, newest first, filterable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};

use crate::ui::app::App;
use crate::ui::draw::*;

pub fn draw_issues(f: &mut Frame, app: &App, area: Rect) {
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
