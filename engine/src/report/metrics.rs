//! The service procedure's success metrics, and the other figures every renderer derives from
//! a report alike (pure): per batch, the next steps, the issues of the report's window, the
//! title and the notes.

use std::fmt::Write as _;

use crate::issues;
use crate::journal::{IssueRow, Totals};

use super::model::{Kind, MailboxFigures, Report};
use crate::mail::fmt::percent;

/// The service procedure's success metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Messages on the source (journal: every message minus those expunged on the source).
    pub on_source: u64,
    pub copied: u64,
    /// Unresolved critical issues of category fidelity or verification.
    pub data_loss_issues: usize,
    /// Mailboxes with an unresolved auth issue.
    pub auth_failures: usize,
    pub mailboxes: usize,
    /// Mailboxes whose folders were never listed (their messages are not counted anywhere).
    pub unlisted: usize,
    /// Source folders listed but not copied, over all mailboxes (their messages are not
    /// counted anywhere either).
    pub folders_not_copied: usize,
    /// Mailboxes whose newest verification is a passing full content verification made
    /// after their last copy, and the oldest and newest of those verifications' dates.
    pub content_verified: usize,
    pub verified_between: Option<(String, String)>,
    /// The other mailboxes, each with why it has no proof ("alice->alice: never verified").
    pub unproven: Vec<String>,
    /// Mailboxes of the report with a readiness check (`cutover access`), those whose latest
    /// check found them not ready, and the oldest and newest of those latest checks' dates.
    pub access_checked: usize,
    pub access_not_ready: usize,
    pub access_between: Option<(String, String)>,
}

impl Metrics {
    pub fn all_migrated(&self) -> bool {
        self.copied >= self.on_source && self.unlisted == 0 && self.folders_not_copied == 0
    }
    /// No loss claimed while a listed folder was not copied (what it holds is unknown), nor
    /// without a passing full content verification of every mailbox (a sample is no proof).
    pub fn zero_loss(&self) -> bool {
        self.data_loss_issues == 0
            && self.folders_not_copied == 0
            && self.unproven.is_empty()
            && self.mailboxes > 0
    }
    /// User access issues below 1%: every mailbox's latest readiness check (`cutover
    /// access`) ran, and fewer than 1% found the mailbox not ready. Unknown (not met) while
    /// a mailbox was never checked.
    pub fn access_ok(&self) -> bool {
        // not ready / mailboxes < 1/100, in integers.
        self.mailboxes > 0
            && self.access_checked == self.mailboxes
            && (self.access_not_ready as u64) * 100 < self.mailboxes as u64
    }
}

pub fn metrics(r: &Report) -> Metrics {
    let on_source = r.mailboxes.iter().map(MailboxFigures::on_source).sum();
    let copied = r.mailboxes.iter().map(|m| m.totals.copied).sum();
    let data_loss_issues = r
        .issues
        .iter()
        .filter(|i| {
            i.severity == "critical"
                && (i.category == "fidelity" || i.category == "verification")
                && i.state != "resolved"
        })
        .count();
    let mut auth: Vec<&str> = r
        .issues
        .iter()
        .filter(|i| i.category == "auth" && i.state != "resolved")
        .filter_map(|i| i.mailbox.as_deref())
        .collect();
    auth.sort_unstable();
    auth.dedup();
    let mut unproven = Vec::new();
    let mut dates: Vec<&str> = Vec::new();
    for m in &r.mailboxes {
        match m.unproven() {
            Some(why) => unproven.push(format!("{}: {why}", m.key)),
            None => dates.extend(m.verification.as_ref().map(|v| v.at.as_str())),
        }
    }
    dates.sort_unstable();
    let latest: Vec<&crate::journal::AccessRow> = r
        .access
        .iter()
        .filter(|a| r.mailboxes.iter().any(|m| m.key == a.mailbox))
        .collect();
    let mut access_dates: Vec<&str> = latest.iter().map(|a| a.at.as_str()).collect();
    access_dates.sort_unstable();
    Metrics {
        on_source,
        copied,
        data_loss_issues,
        auth_failures: auth.len(),
        mailboxes: r.mailboxes.len(),
        unlisted: r.mailboxes.iter().filter(|m| !m.listed()).count(),
        folders_not_copied: r.mailboxes.iter().map(|m| m.folders_not_copied.len()).sum(),
        content_verified: dates.len(),
        verified_between: match (dates.first(), dates.last()) {
            (Some(a), Some(b)) => Some((a.to_string(), b.to_string())),
            _ => None,
        },
        unproven,
        access_checked: latest.len(),
        access_not_ready: latest.iter().filter(|a| !a.ready).count(),
        access_between: match (access_dates.first(), access_dates.last()) {
            (Some(a), Some(b)) => Some((a.to_string(), b.to_string())),
            _ => None,
        },
    }
}

pub(crate) struct BatchFigures {
    pub(crate) name: String,
    pub(crate) mailboxes: usize,
    pub(crate) done: usize,
    pub(crate) failed: usize,
    pub(crate) not_started: usize,
    pub(crate) totals: Totals,
    pub(crate) on_source: u64,
    /// Mailboxes of the batch never listed (not in `on_source`).
    pub(crate) unlisted: usize,
    pub(crate) copied_in_window: (u64, u64),
}

impl BatchFigures {
    /// Messages on the source, saying when some mailboxes are not counted.
    pub(crate) fn on_source_label(&self) -> String {
        unlisted_label(self.on_source, self.unlisted)
    }
}

fn unlisted_label(on_source: u64, unlisted: usize) -> String {
    if unlisted > 0 {
        format!("{on_source} + {unlisted} mailbox(es) not listed")
    } else {
        on_source.to_string()
    }
}

pub(crate) fn batch_figures(r: &Report) -> Vec<BatchFigures> {
    r.batches
        .iter()
        .map(|b| {
            let ms: Vec<&MailboxFigures> = r.mailboxes.iter().filter(|m| &m.batch == b).collect();
            let mut t = Totals::default();
            let mut w = (0, 0);
            for m in &ms {
                t.messages += m.totals.messages;
                t.bytes += m.totals.bytes;
                t.copied += m.totals.copied;
                t.copied_bytes += m.totals.copied_bytes;
                t.skipped += m.totals.skipped;
                t.failed += m.totals.failed;
                t.pending += m.totals.pending;
                for (k, x) in &m.totals.by_kind {
                    t.by_kind.entry(*k).or_default().add(x);
                }
                w.0 += m.copied_in_window.0;
                w.1 += m.copied_in_window.1;
            }
            BatchFigures {
                name: b.clone(),
                mailboxes: ms.len(),
                done: ms.iter().filter(|m| m.state == "done").count(),
                failed: ms.iter().filter(|m| m.state == "failed").count(),
                not_started: ms
                    .iter()
                    .filter(|m| m.state == "not started" || m.state == "new")
                    .count(),
                on_source: ms.iter().map(|m| m.on_source()).sum(),
                unlisted: ms.iter().filter(|m| !m.listed()).count(),
                totals: t,
                copied_in_window: w,
            }
        })
        .collect()
}

/// What the operator should do next, derived from the journal.
pub fn next_steps(r: &Report) -> Vec<String> {
    let mut v = Vec::new();
    for m in r.mailboxes.iter().filter(|m| m.state == "failed") {
        v.push(format!(
            "retry mailbox {} (batch {}): {}",
            m.key,
            m.batch,
            m.last_error.as_deref().unwrap_or("failed")
        ));
    }
    for m in r
        .mailboxes
        .iter()
        .filter(|m| !m.folders_not_copied.is_empty())
    {
        v.push(format!(
            "copy folder(s) {} of mailbox {} (batch {}): listed on the source, not copied (see its issues)",
            m.folders_not_copied.join(", "),
            m.key,
            m.batch
        ));
    }
    for m in r
        .mailboxes
        .iter()
        .filter(|m| m.state != "failed" && m.totals.pending > 0)
    {
        v.push(format!(
            "finish mailbox {} (batch {}): {} message(s) still pending",
            m.key, m.batch, m.totals.pending
        ));
    }
    for i in r
        .issues
        .iter()
        .filter(|i| i.severity == "critical" && i.state != "resolved")
    {
        v.push(format!(
            "resolve critical {} issue #{}{}: {} (fix: {})",
            i.category,
            i.id,
            i.mailbox
                .as_deref()
                .map(|m| format!(" on {m}"))
                .unwrap_or_default(),
            i.message,
            issues::category(&i.category).fix
        ));
    }
    for b in batch_figures(r)
        .iter()
        .filter(|b| b.not_started == b.mailboxes && b.mailboxes > 0)
    {
        v.push(format!(
            "start batch {} ({} mailbox(es), not started)",
            b.name, b.mailboxes
        ));
    }
    v
}

pub(crate) fn issue_place(i: &IssueRow) -> String {
    [
        i.mailbox.clone(),
        i.folder.clone(),
        i.uid.map(|u| format!("UID {u}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" / ")
}

pub(crate) fn resolution(i: &IssueRow) -> String {
    let mut s = i.state.clone();
    if let Some(by) = &i.state_by {
        let _ = write!(s, " by {by}");
    }
    if let Some(at) = &i.state_at {
        let _ = write!(s, " at {at}");
    }
    if let Some(n) = &i.note {
        let _ = write!(s, ": {n}");
    }
    s
}

fn in_window(ts: &str, since: Option<&str>, until: &str) -> bool {
    since.is_none_or(|s| ts >= s) && ts < until
}

pub(crate) fn opened_closed(r: &Report) -> (Vec<&IssueRow>, Vec<&IssueRow>) {
    let since = r.since.as_deref();
    let opened = r
        .issues
        .iter()
        .filter(|i| in_window(&i.first_seen, since, &r.generated_at))
        .collect();
    let closed = r
        .issues
        .iter()
        .filter(|i| {
            i.state == "resolved"
                && i.state_at
                    .as_deref()
                    .is_some_and(|t| in_window(t, since, &r.generated_at))
        })
        .collect();
    (opened, closed)
}

pub(crate) fn title(r: &Report) -> String {
    match r.kind {
        Kind::Daily => format!("Daily report: {}", r.project),
        Kind::Final => format!("Final report: {}", r.project),
        Kind::Weekly => format!("Weekly report: {}", r.project),
    }
}

pub(crate) fn window_line(r: &Report) -> String {
    match (&r.kind, &r.since) {
        (Kind::Daily, Some(s)) => format!("since the last daily report ({s})"),
        (Kind::Daily, None) => "since the beginning (no earlier daily report)".into(),
        (Kind::Final, _) => "the whole project".into(),
        (Kind::Weekly, Some(s)) => format!("the week from {s}"),
        (Kind::Weekly, None) => "the week".into(),
    }
}

/// Which versions of cutover did the work ("0.1.0 (commit …): 12 runs, from … to …"); None
/// before anything ran.
pub(crate) fn versions_line(r: &Report) -> Option<String> {
    if r.versions.is_empty() {
        return None;
    }
    let each: Vec<String> = r
        .versions
        .iter()
        .map(|(v, n, first, last)| {
            if n == &1 {
                format!("{v}: 1 run, {first}")
            } else {
                format!("{v}: {n} runs, from {first} to {last}")
            }
        })
        .collect();
    Some(format!("Commands ran with cutover {}.", each.join("; ")))
}

pub(crate) fn unlisted_note(m: &Metrics) -> String {
    let mut not = Vec::new();
    if m.unlisted > 0 {
        not.push(format!("{} mailbox(es) never listed", m.unlisted));
    }
    if m.folders_not_copied > 0 {
        not.push(format!("{} folder(s) not copied", m.folders_not_copied));
    }
    if not.is_empty() {
        String::new()
    } else {
        format!(" (not counting {})", not.join(", "))
    }
}

pub(crate) const UNLISTED_NOTE: &str = "\"-\": the mailbox was never listed (it failed before listing, or has not started), so its size on the source is unknown.";

pub(crate) fn sum_totals(r: &Report) -> Totals {
    let mut t = Totals::default();
    for m in &r.mailboxes {
        t.messages += m.totals.messages;
        t.bytes += m.totals.bytes;
        t.copied += m.totals.copied;
        t.copied_bytes += m.totals.copied_bytes;
        t.skipped += m.totals.skipped;
        t.failed += m.totals.failed;
        t.pending += m.totals.pending;
        for (k, x) in &m.totals.by_kind {
            t.by_kind.entry(*k).or_default().add(x);
        }
    }
    t
}

pub(crate) fn metric_rows(m: &Metrics) -> [(String, String, bool); 3] {
    [
        (
            "100% of the data migrated (copied / messages on the source)".to_string(),
            {
                // With a folder not copied, what it holds is in no count: no percentage
                // can be claimed, 100% least of all.
                let share = if m.folders_not_copied > 0 {
                    "share unknown".to_string()
                } else {
                    percent(m.copied, m.on_source)
                };
                let mut v = format!("{} / {} = {share}", m.copied, m.on_source);
                if m.unlisted > 0 {
                    let _ = write!(v, "; {} mailbox(es) never listed", m.unlisted);
                }
                if m.folders_not_copied > 0 {
                    let _ = write!(
                        v,
                        "; {} folder(s) not copied, their messages not counted",
                        m.folders_not_copied
                    );
                }
                v
            },
            m.all_migrated(),
        ),
        (
            "zero data loss (mailboxes with a passing full content verification / mailboxes; unresolved critical fidelity or verification issues; folders not copied)"
                .to_string(),
            {
                let mut v = format!("{} / {}", m.content_verified, m.mailboxes);
                if let Some((a, b)) = &m.verified_between {
                    if a == b {
                        let _ = write!(v, " (verified {a})");
                    } else {
                        let _ = write!(v, " (verified {a} to {b})");
                    }
                }
                let _ = write!(v, "; {}; {}", m.data_loss_issues, m.folders_not_copied);
                if !m.unproven.is_empty() {
                    let _ = write!(v, "; unverified: {}", m.unproven.join("; "));
                }
                v
            },
            m.zero_loss(),
        ),
        (
            "user access issues below 1% (mailboxes whose latest cutover access check found them not ready / mailboxes checked)"
                .to_string(),
            access_value(m),
            m.access_ok(),
        ),
    ]
}

/// The access metric as measured: from the readiness checks, with their dates; "no access
/// check ran" rather than 0% when there is none.
fn access_value(m: &Metrics) -> String {
    let auth = format!(
        "unresolved auth issues of the migration's own sign-ins: {}",
        m.auth_failures
    );
    let Some((a, b)) = &m.access_between else {
        return format!("no access check ran (cutover access PROJECT): unknown; {auth}");
    };
    let mut v = format!(
        "{} / {} = {}",
        m.access_not_ready,
        m.access_checked,
        percent(m.access_not_ready as u64, m.access_checked as u64)
    );
    if a == b {
        let _ = write!(v, " (checked {a})");
    } else {
        let _ = write!(v, " (checked {a} to {b})");
    }
    if m.access_checked < m.mailboxes {
        let _ = write!(
            v,
            "; {} mailbox(es) never checked",
            m.mailboxes - m.access_checked
        );
    }
    let _ = write!(v, "; {auth}");
    v
}

pub(crate) fn verification_issues(r: &Report, key: &str) -> usize {
    r.issues
        .iter()
        .filter(|i| i.category == "verification" && i.mailbox.as_deref() == Some(key))
        .count()
}

pub(crate) fn categories_seen(r: &Report) -> Vec<&'static issues::Category> {
    let mut v: Vec<&'static issues::Category> = Vec::new();
    for i in &r.issues {
        let c = issues::category(&i.category);
        if !v.iter().any(|x| std::ptr::eq(*x, c)) {
            v.push(c);
        }
    }
    v
}
