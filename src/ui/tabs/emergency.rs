//! The Emergency tab: emergency stop and rollback controls.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::engine::snapshot::RunState;
use crate::ui::app::App;
use crate::ui::draw::*;

pub fn draw_emergency(f: &mut Frame, app: &App, area: Rect) {
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
