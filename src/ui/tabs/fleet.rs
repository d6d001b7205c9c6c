//! The fleet panel of the Batches tab (PostgreSQL journal): one row per worker (host, pid,
//! the mailboxes it leases, what it copied, its rate between heartbeats, seconds since its
//! last heartbeat, its state; a worker silent past the lease time shown LOST), and the
//! fleet's totals in the title.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use crate::ui::app::App;
use crate::ui::widgets::{block, num};
use cutover_engine::api::FleetView;
use cutover_engine::api::figures::bytes;

/// Rows the panel shows at most (the rest are counted in the title).
pub const MAX_ROWS: usize = 6;

/// The panel's height for this fleet: borders, the header and a row per worker.
pub fn height(fleet: &FleetView) -> u16 {
    3 + fleet.workers.len().clamp(1, MAX_ROWS) as u16
}

/// The title: workers live and lost, mailboxes leased, totals and the fleet's rate.
pub fn title(fleet: &FleetView) -> String {
    let (m, b) = fleet.totals();
    let (mr, br) = fleet.rate();
    let more = fleet.workers.len().saturating_sub(MAX_ROWS);
    format!(
        " Fleet: {} worker(s) live{}, {} mailbox(es) leased · {} messages, {} · {:.0} msg/s, {}/s{} ",
        fleet.live(),
        match fleet.lost() {
            0 => String::new(),
            n => format!(", {n} LOST"),
        },
        fleet.leased(),
        num(m),
        bytes(b),
        mr,
        bytes(br as u64),
        if more > 0 {
            format!(" · {more} more not shown")
        } else {
            String::new()
        }
    )
}

/// One worker's cells: host, pid, mailboxes, messages, bytes, rate, silence, state.
pub fn cells(w: &cutover_engine::api::WorkerView) -> [String; 8] {
    let mailboxes = match w.mailboxes.len() {
        0 => "—".to_string(),
        1 => w.mailboxes[0].clone(),
        n => format!("{} +{}", w.mailboxes[0], n - 1),
    };
    let dash = || "—".to_string();
    [
        w.host.clone(),
        w.pid.to_string(),
        mailboxes,
        w.messages.map_or_else(dash, num),
        w.bytes.map_or_else(dash, bytes),
        match (w.msgs_per_sec, w.bytes_per_sec) {
            (Some(m), Some(b)) => format!("{m:.0} msg/s {}/s", bytes(b as u64)),
            _ => dash(),
        },
        format!("{:.0} s", w.silent_secs.max(0.0)),
        if w.lost {
            "LOST".to_string()
        } else {
            w.state.clone()
        },
    ]
}

pub fn draw_fleet(f: &mut Frame, app: &App, area: Rect, fleet: &FleetView) {
    let t = &app.theme;
    let rows: Vec<Row> = fleet
        .workers
        .iter()
        .take(MAX_ROWS)
        .map(|w| {
            let style = if w.lost { t.error() } else { t.base() };
            Row::new(cells(w)).style(style)
        })
        .collect();
    let header = Row::new([
        "host",
        "pid",
        "mailboxes",
        "messages",
        "bytes",
        "rate",
        "heartbeat",
        "state",
    ])
    .style(t.muted());
    let widths = [
        Constraint::Min(12),
        Constraint::Length(8),
        Constraint::Min(16),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(20),
        Constraint::Length(9),
        Constraint::Length(8),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block(app, title(fleet)));
    f.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_engine::api::WorkerView;

    #[test]
    fn a_lost_worker_and_the_totals_are_said() {
        let fleet = FleetView {
            workers: vec![
                WorkerView {
                    id: "a:1:0".into(),
                    host: "a".into(),
                    pid: 1,
                    mailboxes: vec!["ann".into(), "bob".into()],
                    messages: Some(1200),
                    bytes: Some(3_000_000),
                    msgs_per_sec: Some(40.0),
                    bytes_per_sec: Some(100_000.0),
                    silent_secs: 2.0,
                    state: "running".into(),
                    lost: false,
                },
                WorkerView {
                    id: "b:2:0".into(),
                    host: "b".into(),
                    pid: 2,
                    silent_secs: 95.0,
                    state: "running".into(),
                    lost: true,
                    ..Default::default()
                },
            ],
            lost_after_secs: 30.0,
        };
        let title = title(&fleet);
        assert!(title.contains("1 worker(s) live, 1 LOST"), "{title}");
        assert!(title.contains("2 mailbox(es) leased"), "{title}");
        assert!(
            title.contains("1,200 messages") && title.contains("40 msg/s"),
            "{title}"
        );
        let c = cells(&fleet.workers[0]);
        assert_eq!(c[2], "ann +1");
        assert!(c[5].starts_with("40 msg/s"), "{c:?}");
        assert_eq!(cells(&fleet.workers[1])[7], "LOST");
        assert_eq!(cells(&fleet.workers[1])[3], "—");
        assert_eq!(height(&fleet), 5);
    }
}
