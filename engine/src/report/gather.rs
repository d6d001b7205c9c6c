//! Reading the journal into the report model (never the servers).

use std::collections::{BTreeMap, HashMap};

use crate::config::Project;
use crate::journal::Journal;

use super::model::{CheckLine, Kind, MailboxFigures, Report, ReportError, Week};

/// The journal's timestamp format, for `until`.
pub fn journal_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The weekly window's start: 00:00 UTC six days before `until`'s day, so the window holds
/// seven calendar days, the last up to `until` (an unreadable `until` gives the beginning).
pub fn week_start(until: &str) -> String {
    until
        .get(..10)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.checked_sub_days(chrono::Days::new(6)))
        .map(|d| format!("{d}T00:00:00.000Z"))
        .unwrap_or_default()
}

/// Read the figures of a report. A daily report's window is [`since`, `until`): windows of
/// successive daily reports neither overlap nor leave a gap.
pub fn gather(
    project: &Project,
    store: &Journal,
    kind: Kind,
    since: Option<String>,
    until: &str,
) -> Result<Report, ReportError> {
    let window = match kind {
        Kind::Daily => since.clone(),
        Kind::Final => None,
        Kind::Weekly => Some(week_start(until)),
    };
    let mut per_mailbox: HashMap<i64, (u64, u64)> = HashMap::new();
    let mut hours: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (hour, mb, n, b) in store.copied_per_hour(window.as_deref(), until)? {
        let e = per_mailbox.entry(mb).or_default();
        e.0 += n;
        e.1 += b;
        let h = hours.entry(hour).or_default();
        h.0 += n;
        h.1 += b;
    }
    let rows = store.mailbox_rows()?;
    let verifications = store.latest_verification_rows()?;
    let verification = |key: &str| verifications.iter().find(|v| v.mailbox == key).cloned();
    let mut mailboxes = Vec::new();
    let mut batches: Vec<String> = Vec::new();
    let mut add_batch = |b: &str| {
        if !batches.iter().any(|x| x == b) {
            batches.push(b.to_string());
        }
    };
    let figures = |r: &crate::journal::MailboxRow| -> Result<MailboxFigures, ReportError> {
        let (expunged, expunged_bytes) = store.expunged(r.id)?;
        Ok(MailboxFigures {
            key: r.key.clone(),
            batch: r.batch.clone(),
            mailbox_type: r
                .mailbox_type
                .as_deref()
                .and_then(crate::api::MailboxType::parse)
                .unwrap_or_default(),
            src_user: r.src_user.clone(),
            dst_user: r.dst_user.clone(),
            state: r.state.clone(),
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            last_error: r.last_error.clone(),
            folders: store.folder_count(r.id)?,
            totals: store.mailbox_totals(r.id)?,
            expunged,
            expunged_bytes,
            skips: store.skip_reasons(r.id)?,
            copied_in_window: per_mailbox.get(&r.id).copied().unwrap_or_default(),
            gmail_duplicates: store.gmail_counts(r.id)?.1,
            folders_not_copied: store
                .folders_not_copied(r.id)?
                .iter()
                .map(|n| crate::mail::utf7::decode_mutf7(n))
                .collect(),
            verification: verification(&r.key),
        })
    };
    // The project's mailboxes in file order, then any the journal knows from earlier files.
    for spec in &project.mailboxes {
        let key = spec.key();
        add_batch(&spec.batch);
        match rows.iter().find(|r| r.key == key) {
            Some(r) => {
                let mut f = figures(r)?;
                f.batch = spec.batch.clone();
                f.mailbox_type = spec.mailbox_type;
                mailboxes.push(f);
            }
            None => mailboxes.push(MailboxFigures {
                verification: verification(&key),
                key,
                batch: spec.batch.clone(),
                mailbox_type: spec.mailbox_type,
                src_user: spec.source.user.clone(),
                dst_user: spec.destination.user.clone(),
                state: "not started".into(),
                ..Default::default()
            }),
        }
    }
    for r in rows
        .iter()
        .filter(|r| !project.mailboxes.iter().any(|s| s.key() == r.key))
    {
        add_batch(&r.batch);
        mailboxes.push(figures(r)?);
    }
    let ticks = store.checks()?;
    let checks = project
        .checks
        .iter()
        .map(|c| {
            let t = ticks.get(&c.id);
            CheckLine {
                id: c.id.clone(),
                section: c.section.clone(),
                title: c.title.clone(),
                required: c.required,
                done: t.is_some_and(|t| t.0),
                by: t.and_then(|t| t.1.clone()),
                at: t.and_then(|t| t.2.clone()),
                note: t.and_then(|t| t.3.clone()),
            }
        })
        .collect();
    let week = match (&window, kind) {
        (Some(start), Kind::Weekly) => Some(Week {
            start: start.clone(),
            runs: store.runs_between(start, until)?,
            risks: store.latest_risks()?,
            batch_dates: batches
                .iter()
                .filter_map(|b| project.batch_dates.get(b).map(|d| (b.clone(), *d)))
                .collect(),
        }),
        _ => None,
    };
    Ok(Report {
        kind,
        project: project.name.clone(),
        generated_at: until.to_string(),
        since: window,
        batches,
        mailboxes,
        hours: hours.into_iter().map(|(h, (n, b))| (h, n, b)).collect(),
        issues: store.issue_rows(usize::MAX)?,
        checks,
        backups: store.backup_rows()?,
        versions: store.run_versions()?,
        recipients: store.recipient_rows()?,
        recipient_changes: store.recipient_changes()?,
        access: store.latest_access()?,
        notes: store.latest_notes()?,
        week,
        folder_rules: (project.folders.exclude.len(), project.folders.rename.len()),
    })
}
