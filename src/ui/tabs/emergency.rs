//! The Emergency tab: emergency stop and rollback controls.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use crate::ui::app::App;
use crate::ui::widgets::{block, bytes, num, state_style, state_word, table_state};
use cutover_engine::api::{MailboxState, RunState};

pub fn draw_emergency(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let s = &app.snap;
    let running: usize = s
        .batches
        .iter()
        .map(|b| b.count(MailboxState::Running))
        .sum();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" EMERGENCY STOP ", t.badge(t.danger())),
            Span::styled(
                " S then y, from any tab (:stop! skips the question)",
                t.base(),
            ),
        ]),
        Line::from("  Halts every write now: windows in flight are journalled, or left in doubt"),
        Line::from("  and resolved at the next start (never re-sent blindly). Nothing is deleted."),
        Line::from(format!(
            "  Now: {running} mailbox(es) running; connections source {}/{}, destination {}/{}.",
            s.connections.src_in_use,
            s.connections.src_max,
            s.connections.dst_in_use,
            s.connections.dst_max
        )),
        Line::from(vec![
            Span::styled(" PAUSE ", t.badge(t.warn())),
            Span::raw(" p pauses every batch gracefully (P from any tab); s resumes"),
        ]),
        Line::from(vec![
            Span::styled(" ROLLBACK ", t.badge(t.danger())),
            Span::raw(" R on a batch below, then type its name (or :rollback BATCH)"),
        ]),
        Line::from("  Removes exactly what cutover wrote, each message re-checked first, then the"),
        Line::from("  folders it created once empty. Mail from others stays; never the source."),
        Line::from(vec![
            Span::styled(" BACKUP ", t.badge(t.ok())),
            Span::raw(" b on a batch below: its source into backups/source/, then verified"),
        ]),
    ];
    if let Some(r) = &s.rollback {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("  ▶ ", t.warn()),
            Span::styled(r.clone(), t.title()),
        ]));
    }
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
    let [top, table] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 2),
        Constraint::Min(3),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(lines)
            .block(block(app, " Emergency "))
            .wrap(Wrap { trim: false }),
        top,
    );
    let rows: Vec<Row> = s
        .batches
        .iter()
        .map(|b| {
            let tot = b.totals();
            let running = b.count(MailboxState::Running);
            Row::new(vec![
                Cell::from(b.name.clone()),
                Cell::from(state_word(b.state())).style(state_style(app, b.state())),
                Cell::from(format!("{}", b.mailboxes.len())),
                Cell::from(num(tot.copied)),
                Cell::from(bytes(tot.copied_bytes)),
                Cell::from(if running > 0 {
                    format!("{running} running: pause first")
                } else if tot.copied > 0 {
                    format!("removes {} msgs", num(tot.copied))
                } else {
                    "nothing written".to_string()
                }),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(14),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Min(18),
    ];
    let header = Row::new(vec![
        "batch",
        "state",
        "mboxes",
        "written",
        "bytes",
        "rollback (R)",
    ])
    .style(t.title());
    f.render_stateful_widget(
        Table::new(rows, widths)
            .header(header)
            .row_highlight_style(t.selection())
            .block(block(
                app,
                " Batches: what cutover wrote to the destination ",
            )),
        table,
        &mut table_state(app.selected()),
    );
}
