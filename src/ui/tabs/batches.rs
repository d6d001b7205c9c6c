//! The Batches tab: per-batch and per-mailbox progress, throughput gauges, drill-down.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Gauge, Paragraph, Row, Table, Wrap};

use crate::ui::app::{App, Level};
use crate::ui::widgets::{
    block, bytes, draw_throughput, hms, num, rate, state_style, state_word, table_state,
};
use cutover_engine::api::figures::duration_words;
use cutover_engine::api::{
    BackupState, BatchView, ItemKind, MailboxState, MailboxType, MailboxView, Totals,
};

pub fn draw_batches(f: &mut Frame, app: &App, area: Rect) {
    let s = &app.snap;
    let t = &app.theme;
    // Between the gauge and the table, the selected batch's delta passes and lag.
    let delta_batch = match &app.level {
        Level::Batches => app.batch_rows().get(app.selected()).cloned(),
        Level::Mailboxes(b) => Some(b.clone()),
        Level::Mailbox(_) => None,
    }
    .and_then(|b| s.batches.iter().find(|x| x.name == b));
    // The fleet on a PostgreSQL journal, above the batches.
    let fleet = s
        .fleet
        .as_ref()
        .filter(|_| matches!(app.level, Level::Batches));
    let [tp, gauge, delta, fleet_area, rest] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Length(if delta_batch.is_some() { 3 } else { 0 }),
        Constraint::Length(fleet.map_or(0, super::fleet::height)),
        Constraint::Min(3),
    ])
    .areas(area);
    if let Some(fv) = fleet {
        super::fleet::draw_fleet(f, app, fleet_area, fv);
    }
    if let Some(b) = delta_batch {
        draw_delta(f, app, delta, b);
    }
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
                draw_gauge(f, app, gauge, &m.totals, m.enumerated);
                draw_mailbox_detail(f, app, rest, m);
            }
            return;
        }
        Level::Mailboxes(b) => {
            let bv = s.batches.iter().find(|x| &x.name == b);
            let tpv = bv.map(|x| x.throughput.clone()).unwrap_or_default();
            let title = match bv.map_or(0, |x| x.parallel) {
                0 => " Throughput of this batch (measured, last 10 min) ".to_string(),
                n => format!(
                    " Throughput of this batch (measured, last 10 min) · up to {n} mailboxes at once (+/-) "
                ),
            };
            draw_throughput(f, app, tp, &tpv, &title);
            let tot = bv.map(|x| x.totals()).unwrap_or_default();
            let exact = bv.is_none_or(|x| x.enumerated());
            draw_gauge(f, app, gauge, &tot, exact);
        }
        Level::Batches => {
            // With events or contacts being copied: the last 5 s per kind in the title.
            let title = if s.kind_throughput.keys().any(|k| *k != ItemKind::Mail) {
                let per: Vec<String> = s
                    .kind_throughput
                    .iter()
                    .map(|(k, x)| match k {
                        ItemKind::Mail => format!("{:.0} msg/s", x.rate(5).0),
                        k => format!("{:.0} {}/s", x.rate(5).0, k.plural()),
                    })
                    .collect();
                format!(" Throughput, all batches: {} (last 5 s) ", per.join(" · "))
            } else {
                " Throughput, all batches (measured, last 10 min) ".to_string()
            };
            draw_throughput(f, app, tp, &s.throughput, &title);
            let tot = s.totals();
            draw_gauge(f, app, gauge, &tot, s.enumerated());
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
                        Cell::from(match non_user(b.mailboxes.iter().map(|m| m.mailbox_type)) {
                            Some(types) => format!("{} · {types}", b.name),
                            None => b.name.clone(),
                        }),
                        Cell::from(state_word(b.state())).style(state_style(app, b.state())),
                        Cell::from(format!(
                            "{}/{}",
                            b.count(MailboxState::Done),
                            b.mailboxes.len()
                        )),
                        Cell::from(format!(
                            "{}/{}{}",
                            num(tot.copied),
                            if b.enumerated() { "" } else { "≥" },
                            num(tot.messages)
                        )),
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
                        backup_cell(app, b),
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
                Constraint::Length(7),
            ];
            let mut header = vec![
                "Batch",
                "State",
                "Mailboxes",
                "Messages",
                "Bytes",
                "Errors",
                "Backup",
            ];
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
                        Cell::from(match m.mailbox_type {
                            MailboxType::User => m.key.clone(),
                            t => format!("{} [{t}]", m.key),
                        }),
                        Cell::from(state_word(m.state)).style(state_style(app, m.state)),
                        Cell::from(format!(
                            "{}/{}{}",
                            num(m.totals.copied),
                            if m.enumerated { "" } else { "≥" },
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
                            Cell::from(m.backup.as_str()).style(backup_style(app, m.backup)),
                        ]);
                    }
                    cells.push(match (&m.last_error, s.throttle_of(&m.key)) {
                        (None, Some(why)) => {
                            Cell::from(format!("⚠ throttled: {why}")).style(t.warn())
                        }
                        (e, _) => Cell::from(e.clone().unwrap_or_default()).style(t.error()),
                    });
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
                    Constraint::Length(10),
                ]);
                header.extend(["Folder", "Folders", "Bytes", "Backup"]);
            }
            widths.push(Constraint::Min(10));
            header.push("Last error");
            (header, rows, widths)
        }
    };
    let all = s
        .batches
        .iter()
        .flat_map(|b| b.mailboxes.iter().map(|m| m.mailbox_type));
    let title = match &app.level {
        Level::Batches => match non_user(all) {
            Some(types) => format!(" Batches (enter: mailboxes) · {types} "),
            None => " Batches (enter: mailboxes) ".to_string(),
        },
        Level::Mailboxes(b) => {
            let types = s
                .batches
                .iter()
                .find(|x| &x.name == b)
                .and_then(|x| non_user(x.mailboxes.iter().map(|m| m.mailbox_type)));
            match types {
                Some(types) => {
                    format!(" Mailboxes of {b} · {types} (enter: details, esc: back) ")
                }
                None => format!(" Mailboxes of {b} (enter: details, esc: back) "),
            }
        }
        Level::Mailbox(_) => String::new(),
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(block(app, title))
        .row_highlight_style(t.selection())
        .highlight_symbol("› ");
    f.render_stateful_widget(table, rest, &mut table_state(sel));
}

/// Mailboxes counted by type ("2 user, 1 shared") when any is not a user mailbox; None
/// when all are (a users-only project looks as it always has).
fn non_user(types: impl Iterator<Item = MailboxType> + Clone) -> Option<String> {
    types
        .clone()
        .any(|t| t != MailboxType::User)
        .then(|| MailboxType::summary(types))
}

fn backup_style(app: &App, s: BackupState) -> ratatui::style::Style {
    let t = &app.theme;
    match s {
        BackupState::Verified => t.ok(),
        BackupState::Unverified | BackupState::Running => t.warn(),
        BackupState::Failed => t.error(),
        BackupState::None => t.muted(),
    }
}

/// A batch's backup column: mailboxes with a verified source backup, of all ("—": none
/// backed up).
fn backup_cell<'a>(app: &App, b: &BatchView) -> Cell<'a> {
    let n = b.mailboxes.len();
    let verified = b.backups(BackupState::Verified);
    if b.backups(BackupState::None) == n {
        return Cell::from("—").style(app.theme.muted());
    }
    let worst = [
        BackupState::Failed,
        BackupState::None,
        BackupState::Running,
        BackupState::Unverified,
    ]
    .into_iter()
    .find(|s| b.backups(*s) > 0)
    .unwrap_or(BackupState::Verified);
    Cell::from(format!("{verified}/{n}")).style(backup_style(app, worst))
}

/// `exact`: every folder is enumerated; otherwise the total is a lower bound ("≥") and the
/// percentage an upper bound ("≤"). With events or contacts the gauge counts items and names
/// each kind; mail only, messages as always.
fn draw_gauge(f: &mut Frame, app: &App, area: Rect, tot: &Totals, exact: bool) {
    let (done, total) = (tot.copied, tot.messages);
    let ratio = if total > 0 {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let label = if total > 0 {
        let (ge, le) = if exact { ("", "") } else { ("≥", "≤") };
        let mut label = format!(
            "{} / {ge}{} {} ({le}{:.1}%)",
            num(done),
            num(total),
            if tot.mixed() { "items" } else { "messages" },
            ratio * 100.0
        );
        if tot.mixed() {
            label.push_str(&format!(" · {}", kinds_line(tot)));
        }
        label
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
    let mut lines = vec![
        kv(
            "mailbox",
            match m.mailbox_type {
                MailboxType::User => m.key.clone(),
                t => format!("{} ({t} mailbox)", m.key),
            },
        ),
        Line::from(vec![
            Span::styled(format!("{:<18}", "batch"), t.muted()),
            Span::raw(format!("{} · source backup: ", m.batch)),
            Span::styled(m.backup.as_str(), backup_style(app, m.backup)),
        ]),
        Line::from(vec![
            Span::styled(format!("{:<18}", "state"), t.muted()),
            Span::styled(state_word(m.state), state_style(app, m.state)),
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
                "{} copied of {} known{}",
                num(m.totals.copied),
                num(m.totals.messages),
                if m.enumerated {
                    ""
                } else {
                    " (folders still to enumerate)"
                }
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
        // Only while it holds, so that a small screen keeps the lines above.
        match app.snap.throttle_of(&m.key) {
            Some(why) => Line::from(vec![
                Span::styled(format!("{:<18}", "throttled"), t.muted()),
                Span::styled(format!("⚠ {why}"), t.warn()),
            ]),
            None => Line::from(""),
        },
        Line::from(Span::styled(
            "s start/retry   p pause batch   esc back",
            t.muted(),
        )),
    ];
    // A mailbox with calendars or address books: its counts per kind, under "messages"
    // (which then counts every item).
    if m.totals.mixed() {
        lines[5] = kv(
            "items",
            format!(
                "{} copied of {} known{}",
                num(m.totals.copied),
                num(m.totals.messages),
                if m.enumerated {
                    ""
                } else {
                    " (folders still to enumerate)"
                }
            ),
        );
        lines.insert(6, kv("by kind", kinds_line(&m.totals)));
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block(app, " Mailbox "))
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// "1,200/1,900 messages · 30/60 events · 4/40 contacts": copied of known, per kind.
fn kinds_line(tot: &Totals) -> String {
    tot.by_kind
        .iter()
        .map(|(k, x)| format!("{}/{} {}", num(x.copied), num(x.items), k.plural()))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The delta passes of a batch in three lines: the last pass (its age, outcome, duration and
/// what it carried); the lag (what the journal knows is not copied, then what a lag check
/// found since the last pass, or else the window whose changes nothing has looked at yet);
/// the final pass's estimated duration.
fn draw_delta(f: &mut Frame, app: &App, area: Rect, b: &BatchView) {
    let t = &app.theme;
    let now = app.snap.at;
    let words = |d: std::time::Duration| match d.as_secs_f64() {
        s if s < 10.0 => format!("{s:.1} s"),
        s => duration_words(s),
    };
    let sync = &b.sync;
    let state = match (sync.finalizing, sync.running, sync.every) {
        (true, _, _) => " [FINALIZING]".to_string(),
        (_, true, _) => " [pass running]".to_string(),
        (_, _, Some(e)) => format!(" [every {}]", words(e)),
        _ => String::new(),
    };
    let last = match sync.last_ended() {
        None => "no delta pass yet (d runs one, D every N minutes)".to_string(),
        Some(p) => {
            let c = p.counts;
            let age = p
                .ended()
                .map(|e| (now - e).to_std().unwrap_or_default())
                .unwrap_or_default();
            format!(
                "last pass {} ago, {} in {:.1} s: {} new · {} flags · {} moved · {} deleted{}",
                words(age),
                p.outcome,
                p.duration.unwrap_or_default().as_secs_f64(),
                num(c.new_messages),
                num(c.flag_changes),
                num(c.moves),
                num(c.deletions),
                if p.shared {
                    " (with other batches)"
                } else {
                    ""
                }
            )
        }
    };
    let lag = b.lag(now);
    let mut behind = format!("{} known not copied", num(lag.not_copied));
    if lag.failed > 0 {
        behind.push_str(&format!(", {} failed", num(lag.failed)));
    }
    match (lag.checked, lag.since) {
        (Some(c), _) => behind.push_str(&format!(
            ", checked {} ago: ≤{} new, {}/{} folders changed{}",
            words((now - c.at).to_std().unwrap_or_default()),
            num(c.new_messages),
            c.changed_folders,
            c.folders,
            if c.unchecked > 0 {
                " (some not checked)"
            } else {
                ""
            }
        )),
        (None, Some(d)) => behind.push_str(&format!(
            "; the last {} not looked at yet (l looks now)",
            words(d)
        )),
        (None, None) => {}
    }
    let estimate = match sync.final_estimate() {
        Some(e) => format!(
            "≈ {} (estimate: the mean of the last {} complete pass{})",
            words(e.duration),
            e.from_passes,
            if e.from_passes == 1 { "" } else { "es" }
        ),
        None => "no estimate before a complete delta pass".to_string(),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(format!(" Delta {}{state}: ", b.name), t.title()),
            Span::raw(last),
        ]),
        Line::from(vec![Span::styled(" Lag: ", t.title()), Span::raw(behind)]),
        Line::from(vec![
            Span::styled(" Final pass: ", t.title()),
            Span::raw(estimate),
        ]),
    ];
    f.render_widget(Paragraph::new(lines), area);
}
