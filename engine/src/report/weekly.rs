//! The weekly report's own sections (pure, from the report model): progress per day, risks
//! from the newest assessment and the open issues, the timeline against the batches' planned
//! dates, and the resources (hours of copy runs, measured throughput, throttling).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::journal::IssueRow;
use crate::mail::fmt::{bytes, percent};

use super::metrics::batch_figures;
use super::model::{Report, Week};
use super::section::Section;
use super::svg::days_svg;

/// One day of the week's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Day {
    pub date: String,
    /// Mailboxes whose copy finished (state done) that day.
    pub completed: usize,
    pub copied: u64,
    pub bytes: u64,
    pub opened: usize,
    pub resolved: usize,
}

fn date_of(ts: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(ts.get(..10)?, "%Y-%m-%d").ok()
}

/// The seven days of the window, first to last (the last up to the report's time).
pub(crate) fn days(r: &Report, w: &Week) -> Vec<Day> {
    let Some(first) = date_of(&w.start) else {
        return Vec::new();
    };
    let in_window = |ts: &str| ts >= w.start.as_str() && ts < r.generated_at.as_str();
    (0..7)
        .filter_map(|i| first.checked_add_days(chrono::Days::new(i)))
        .map(|d| {
            let date = d.to_string();
            let on = |ts: &str| ts.starts_with(&date) && in_window(ts);
            let (copied, bytes) = r
                .hours
                .iter()
                .filter(|h| h.0.starts_with(&date))
                .fold((0, 0), |(n, b), h| (n + h.1, b + h.2));
            Day {
                completed: r
                    .mailboxes
                    .iter()
                    .filter(|m| m.state == "done" && m.finished_at.as_deref().is_some_and(on))
                    .count(),
                copied,
                bytes,
                opened: r.issues.iter().filter(|i| on(&i.first_seen)).count(),
                resolved: r
                    .issues
                    .iter()
                    .filter(|i| i.state == "resolved" && i.state_at.as_deref().is_some_and(on))
                    .count(),
                date,
            }
        })
        .collect()
}

pub(crate) const DAY_COLUMNS: [&str; 6] = [
    "day (UTC)",
    "mailboxes completed",
    "items copied",
    "bytes copied",
    "issues opened",
    "issues resolved",
];

fn progress(r: &Report, w: &Week) -> Section {
    let days = days(r, w);
    let mut s = Section::new("Progress per day").columns(&DAY_COLUMNS);
    s.paragraphs.push(
        "Measured from the journal: a mailbox counts on the day its copy finished (state done), an item on the day its copy was journalled.".into(),
    );
    s.figure = Some(days_svg(
        &days
            .iter()
            .map(|d| (d.date.clone(), d.copied, d.bytes))
            .collect::<Vec<_>>(),
    ));
    let mut total = Day::default();
    for d in &days {
        total.completed += d.completed;
        total.copied += d.copied;
        total.bytes += d.bytes;
        total.opened += d.opened;
        total.resolved += d.resolved;
        s.rows.push(day_row(d.date.clone(), d));
    }
    s.rows.push(day_row("week".into(), &total));
    s
}

fn day_row(label: String, d: &Day) -> Vec<String> {
    vec![
        label,
        d.completed.to_string(),
        d.copied.to_string(),
        bytes(d.bytes),
        d.opened.to_string(),
        d.resolved.to_string(),
    ]
}

fn open(i: &IssueRow) -> bool {
    i.state != "resolved"
}

fn risks(r: &Report, w: &Week) -> Section {
    let mut s = Section::new("Risks and their status").columns(&[
        "severity",
        "mailbox",
        "risk (assessment)",
        "status now",
    ]);
    match &w.risks {
        None => s.paragraphs.push(
            "No assessment in the journal (cutover assess PROJECT): the risks below are the open issues only.".into(),
        ),
        Some((at, list)) => {
            s.paragraphs
                .push(format!("From the newest assessment ({at}), with each risk's status now."));
            if list.is_empty() {
                s.paragraphs.push("The assessment found no risk.".into());
            }
            for k in list {
                s.rows.push(vec![
                    k.severity.clone(),
                    k.mailbox.clone().unwrap_or_else(|| "(project)".into()),
                    k.message.clone(),
                    risk_status(r, k.mailbox.as_deref()),
                ]);
            }
        }
    }
    // Open issues by severity and category: what is still in the way.
    // (rank, severity, category) -> (issues, occurrences, mailboxes)
    type Open<'a> = (usize, u64, Vec<&'a str>);
    let mut by: BTreeMap<(u8, &str, &str), Open> = BTreeMap::new();
    for i in r.issues.iter().filter(|i| open(i)) {
        let rank = match i.severity.as_str() {
            "critical" => 0,
            "error" => 1,
            "warning" => 2,
            _ => 3,
        };
        let e = by
            .entry((rank, i.severity.as_str(), i.category.as_str()))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(i.count);
        if let Some(m) = i.mailbox.as_deref()
            && !e.2.contains(&m)
        {
            e.2.push(m);
        }
    }
    if by.is_empty() {
        s.after.push("No open issue.".into());
    } else {
        s.after.push(format!(
            "Open issues (not resolved): {}.",
            by.iter()
                .map(|((_, sev, cat), (n, occ, mbs))| format!(
                    "{n} {sev} {cat} ({occ} occurrence(s); {})",
                    if mbs.is_empty() {
                        "project-wide".to_string()
                    } else {
                        mbs.join(", ")
                    }
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    s
}

fn risk_status(r: &Report, mailbox: Option<&str>) -> String {
    let Some(key) = mailbox else {
        let n = r.issues.iter().filter(|i| open(i)).count();
        return format!("project-wide; {n} open issue(s) in the project");
    };
    let state = r
        .mailboxes
        .iter()
        .find(|m| m.key == key)
        .map_or("not in the project", |m| m.state.as_str());
    let cats: Vec<&str> = r
        .issues
        .iter()
        .filter(|i| open(i) && i.mailbox.as_deref() == Some(key))
        .map(|i| i.category.as_str())
        .collect();
    if cats.is_empty() {
        format!("mailbox {state}; no open issue")
    } else {
        format!(
            "mailbox {state}; {} open issue(s): {}",
            cats.len(),
            cats.join(", ")
        )
    }
}

fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

fn timeline(r: &Report, w: &Week) -> Section {
    let mut s = Section::new("Timeline against the planned dates").columns(&[
        "batch",
        "planned start",
        "planned done",
        "started",
        "finished",
        "copied / on the source",
        "status",
    ]);
    if w.batch_dates.is_empty() {
        s.paragraphs.push(
            "The project file gives no planned dates: add [batch.NAME] with start and planned (\"YYYY-MM-DD\") to set the progress against them.".into(),
        );
    }
    let today = date_of(&r.generated_at);
    for b in batch_figures(r) {
        let dates = w
            .batch_dates
            .iter()
            .find(|(n, _)| n == &b.name)
            .map(|(_, d)| *d)
            .unwrap_or_default();
        let ms: Vec<_> = r.mailboxes.iter().filter(|m| m.batch == b.name).collect();
        let started = ms.iter().filter_map(|m| m.started_at.as_deref()).min();
        let all_done = !ms.is_empty() && ms.iter().all(|m| m.state == "done");
        let finished = if all_done {
            ms.iter().filter_map(|m| m.finished_at.as_deref()).max()
        } else {
            None
        };
        let late = |by: i64, what: &str| match by {
            0 => format!("{what} on the planned day"),
            n if n > 0 => format!("{what} {n} day(s) late"),
            n => format!("{what} {} day(s) early", -n),
        };
        let status = match (finished.and_then(date_of), dates.planned, today) {
            (Some(f), Some(p), _) => late(days_between(p, f), "done"),
            (Some(_), None, _) => "done (no planned date)".into(),
            (None, Some(p), Some(t)) if t > p => {
                format!(
                    "overdue: planned done {p}, {} day(s) ago",
                    days_between(p, t)
                )
            }
            (None, planned, Some(t)) => match (started, dates.start) {
                (None, Some(st)) if t > st => format!(
                    "not started: planned start {st} passed {} day(s) ago",
                    days_between(st, t)
                ),
                (None, Some(st)) => {
                    format!("not started: starts in {} day(s)", days_between(t, st))
                }
                (None, None) => "not started".into(),
                (Some(_), _) => match planned {
                    Some(p) if p == t => "running: planned done today".into(),
                    Some(p) => format!("running: {} day(s) to the planned day", days_between(t, p)),
                    None => "running (no planned date)".into(),
                },
            },
            _ => "-".into(),
        };
        let opt = |d: Option<NaiveDate>| d.map_or("-".to_string(), |d| d.to_string());
        s.rows.push(vec![
            b.name.clone(),
            opt(dates.start),
            opt(dates.planned),
            started.unwrap_or("-").to_string(),
            finished.unwrap_or("-").to_string(),
            format!(
                "{} / {} ({})",
                b.totals.copied,
                b.on_source_label(),
                percent(b.totals.copied, b.on_source)
            ),
            status,
        ]);
    }
    s
}

fn ts(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ").ok()
}

/// The week's runs: copy runs' seconds inside the window with what they copied (items,
/// bytes), how many, those with no end journalled, and the other commands.
struct Runs {
    secs: f64,
    copied: (u64, u64),
    copy_runs: usize,
    unfinished: usize,
    other: usize,
}

fn runs(r: &Report, w: &Week) -> Runs {
    let mut out = Runs {
        secs: 0.0,
        copied: (0, 0),
        copy_runs: 0,
        unfinished: 0,
        other: 0,
    };
    let (Some(from), Some(until)) = (ts(&w.start), ts(&r.generated_at)) else {
        return out;
    };
    for (command, start, end, items, bytes) in &w.runs {
        if command != "run" && command != "sync" {
            out.other += 1;
            continue;
        }
        let (Some(s), Some(e)) = (ts(start), end.as_deref().and_then(ts)) else {
            out.unfinished += 1;
            continue;
        };
        out.copy_runs += 1;
        out.copied.0 += items;
        out.copied.1 += bytes;
        let (s, e) = (s.max(from), e.min(until));
        if e > s {
            out.secs += (e - s).num_milliseconds() as f64 / 1000.0;
        }
    }
    out
}

/// The throttling issues seen in the window: (occurrences, mailboxes, server-named wait in ms).
pub(crate) fn throttling(r: &Report, since: Option<&str>) -> (u64, Vec<String>, u64) {
    let (mut n, mut mbs, mut waited) = (0u64, Vec::new(), 0u64);
    for i in r.issues.iter().filter(|i| {
        i.category == "throttling"
            && since.is_none_or(|s| i.last_seen.as_str() >= s)
            && i.last_seen < r.generated_at
    }) {
        n += u64::from(i.count);
        if let Some(m) = &i.mailbox
            && !mbs.contains(m)
        {
            mbs.push(m.clone());
        }
        waited += named_wait_ms(&i.message) * u64::from(i.count);
    }
    (n, mbs, waited)
}

/// The wait a throttling issue's message says the server asked for ("waiting 1500 ms as the
/// server asked"), 0 when it named none.
fn named_wait_ms(message: &str) -> u64 {
    message
        .split_once("waiting ")
        .and_then(|(_, rest)| rest.split_once(" ms as the server asked"))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(0)
}

fn resources(r: &Report, w: &Week) -> Section {
    let mut s = Section::new("Resources").columns(&["figure", "value", "how it is known"]);
    let runs = runs(r, w);
    let (copied, copied_bytes) = r.hours.iter().fold((0, 0), |(n, b), h| (n + h.1, b + h.2));
    s.rows.push(vec![
        "hours of copy runs".into(),
        format!(
            "{:.1} h over {} run(s){}",
            runs.secs / 3600.0,
            runs.copy_runs,
            if runs.unfinished > 0 {
                format!(
                    "; {} run(s) with no end journalled, not counted",
                    runs.unfinished
                )
            } else {
                String::new()
            }
        ),
        "measured: cutover run and cutover sync, their start and end in the journal, inside the week".into(),
    ]);
    s.rows.push(vec![
        "other commands".into(),
        runs.other.to_string(),
        "measured: assess, verify, backup and the others, as journalled".into(),
    ]);
    s.rows.push(vec![
        "copied in the week".into(),
        format!("{copied} item(s), {}", bytes(copied_bytes)),
        "measured: copies journalled in the week".into(),
    ]);
    s.rows.push(vec![
        "throughput".into(),
        if runs.secs >= 1.0 && runs.copied.1 > 0 {
            let h = runs.secs / 3600.0;
            format!(
                "{}/h, {:.0} item(s)/h",
                bytes((runs.copied.1 as f64 / h) as u64),
                runs.copied.0 as f64 / h
            )
        } else {
            "not measured (no finished copy run copied anything in the week)".into()
        },
        "measured: what the finished copy runs copied over their hours (a run with no end is left out)".into(),
    ]);
    let (n, mbs, waited) = throttling(r, Some(&w.start));
    s.rows.push(vec![
        "throttling".into(),
        if n == 0 {
            "none journalled".into()
        } else {
            format!(
                "{n} throttling answer(s) on {} mailbox(es); servers asked for {:.1} s of waits (Retry-After)",
                mbs.len(),
                waited as f64 / 1000.0
            )
        },
        "measured: the throttling issues journalled when a mailbox's work was retried; a 429 waited out inside one REST request is in the log, not here".into(),
    ]);
    s
}

/// The weekly report's own sections, in order.
pub(crate) fn sections(r: &Report) -> Vec<Section> {
    let Some(w) = &r.week else {
        return Vec::new();
    };
    vec![progress(r, w), risks(r, w), timeline(r, w), resources(r, w)]
}

/// The weekly CSV: a row per day and one for the week.
pub(crate) fn csv(r: &Report) -> String {
    let header = [
        "Date",
        "MailboxesCompleted",
        "ItemsCopied",
        "BytesCopied",
        "IssuesOpened",
        "IssuesResolved",
    ];
    let Some(w) = &r.week else {
        return crate::csv_out::to_string(&header, std::iter::empty::<Vec<String>>());
    };
    let days = days(r, w);
    let mut total = Day {
        date: "week".into(),
        ..Default::default()
    };
    let mut rows = Vec::new();
    for d in &days {
        total.completed += d.completed;
        total.copied += d.copied;
        total.bytes += d.bytes;
        total.opened += d.opened;
        total.resolved += d.resolved;
        rows.push(csv_row(d));
    }
    rows.push(csv_row(&total));
    crate::csv_out::to_string(&header, rows)
}

fn csv_row(d: &Day) -> Vec<String> {
    vec![
        d.date.clone(),
        d.completed.to_string(),
        d.copied.to_string(),
        d.bytes.to_string(),
        d.opened.to_string(),
        d.resolved.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BatchDates;
    use crate::report::{Kind, MailboxFigures};

    fn mailbox(batch: &str, state: &str, start: Option<&str>, end: Option<&str>) -> MailboxFigures {
        MailboxFigures {
            key: format!("{batch}-{state}"),
            batch: batch.into(),
            state: state.into(),
            started_at: start.map(Into::into),
            finished_at: end.map(Into::into),
            ..Default::default()
        }
    }

    fn day(d: &str) -> Option<NaiveDate> {
        Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn the_timeline_says_early_late_overdue_or_not_started_against_the_planned_days() {
        let dates = |start, planned| BatchDates {
            start: day(start),
            planned: day(planned),
        };
        let r = Report {
            kind: Kind::Weekly,
            project: "p".into(),
            generated_at: "2026-11-25T12:00:00.000Z".into(),
            since: Some("2026-11-19T00:00:00.000Z".into()),
            batches: ["late", "early", "over", "wait", "missed", "run"]
                .map(String::from)
                .to_vec(),
            mailboxes: vec![
                mailbox(
                    "late",
                    "done",
                    Some("2026-11-20T08:00:00.000Z"),
                    Some("2026-11-23T09:00:00.000Z"),
                ),
                mailbox(
                    "early",
                    "done",
                    Some("2026-11-20T08:00:00.000Z"),
                    Some("2026-11-21T09:00:00.000Z"),
                ),
                mailbox("over", "failed", Some("2026-11-20T08:00:00.000Z"), None),
                mailbox("wait", "not started", None, None),
                mailbox("missed", "not started", None, None),
                mailbox("run", "running", Some("2026-11-25T08:00:00.000Z"), None),
            ],
            hours: vec![],
            issues: vec![],
            checks: vec![],
            backups: vec![],
            versions: vec![],
            recipients: vec![],
            recipient_changes: vec![],
            access: vec![],
            notes: vec![],
            week: None,
            folder_rules: (0, 0),
        };
        let w = Week {
            start: "2026-11-19T00:00:00.000Z".into(),
            batch_dates: vec![
                ("late".into(), dates("2026-11-20", "2026-11-21")),
                ("early".into(), dates("2026-11-20", "2026-11-22")),
                ("over".into(), dates("2026-11-20", "2026-11-22")),
                ("wait".into(), dates("2026-11-27", "2026-11-28")),
                ("missed".into(), dates("2026-11-24", "2026-11-30")),
                ("run".into(), dates("2026-11-25", "2026-11-25")),
            ],
            ..Default::default()
        };
        let status: Vec<String> = timeline(&r, &w)
            .rows
            .into_iter()
            .map(|row| row[6].clone())
            .collect();
        assert_eq!(
            status,
            [
                "done 2 day(s) late",
                "done 1 day(s) early",
                "overdue: planned done 2026-11-22, 3 day(s) ago",
                "not started: starts in 2 day(s)",
                "not started: planned start 2026-11-24 passed 1 day(s) ago",
                "running: planned done today",
            ]
        );
    }

    #[test]
    fn the_wait_a_server_named_is_read_from_the_issue() {
        assert_eq!(
            named_wait_ms("HTTP 429; waiting 1500 ms as the server asked, then reconnecting"),
            1500
        );
        assert_eq!(
            named_wait_ms("throttled; backing off, then reconnecting"),
            0
        );
    }
}
