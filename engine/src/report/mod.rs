//! Daily and final reports, from the journal only (never from the servers): Markdown, one
//! self-contained HTML file with inline SVG charts, or a per-mailbox statistics CSV in the
//! style of Exchange migration user statistics.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::config::Project;
use crate::issues;
use crate::journal::{IssueRow, Journal, JournalError, SkipRow, Totals};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Progress since the last daily report.
    Daily,
    /// The project's closing report.
    Final,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::Final => "final",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Csv => "csv",
        }
    }
}

/// One mailbox's figures, all from the journal.
#[derive(Debug, Clone, Default)]
pub struct MailboxFigures {
    pub key: String,
    pub batch: String,
    pub src_user: String,
    pub dst_user: String,
    /// The journal's state; "not started" when the journal has never seen the mailbox.
    pub state: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_error: Option<String>,
    pub folders: u64,
    pub totals: Totals,
    /// Messages (and bytes) that vanished from the source before they could be copied.
    pub expunged: u64,
    pub expunged_bytes: u64,
    pub skips: Vec<SkipRow>,
    /// Copied (messages, bytes) in the report's window (daily: since the last report).
    pub copied_in_window: (u64, u64),
    /// Gmail source: sightings of a message in a further label or in All Mail, not copied
    /// again (neither copied nor skipped: the message was copied once, from another folder).
    pub gmail_duplicates: u64,
    /// Source folders listed but not copied (refused, or never opened), as people read
    /// them; their messages are in no total, so the mailbox is not all migrated.
    pub folders_not_copied: Vec<String>,
}

impl MailboxFigures {
    /// Messages that are on the source as far as the journal knows.
    pub fn on_source(&self) -> u64 {
        self.totals.messages.saturating_sub(self.expunged)
    }

    /// Whether the journal knows the mailbox's folders (false: it failed before listing, or
    /// never started, so its size on the source is unknown).
    pub fn listed(&self) -> bool {
        self.folders > 0
    }

    /// Bytes on the source as a cell: "-" when the mailbox was never listed.
    fn source_bytes_cell(&self) -> String {
        if self.listed() {
            human(self.totals.bytes.saturating_sub(self.expunged_bytes))
        } else {
            "-".into()
        }
    }

    /// Messages on the source as a cell: "-" when the mailbox was never listed.
    fn on_source_cell(&self) -> String {
        if self.listed() {
            self.on_source().to_string()
        } else {
            "-".into()
        }
    }

    /// Seconds from the first start to the last finish, when both are journalled.
    pub fn duration_secs(&self) -> Option<i64> {
        let s = parse_ts(self.started_at.as_deref()?)?;
        let f = parse_ts(self.finished_at.as_deref()?)?;
        Some((f - s).num_seconds().max(0))
    }
}

/// A checklist item with its tick.
#[derive(Debug, Clone, Default)]
pub struct CheckLine {
    pub id: String,
    pub section: String,
    pub title: String,
    pub required: bool,
    pub done: bool,
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<String>,
}

/// Everything a report shows, gathered from the journal.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: Kind,
    pub project: String,
    /// The end of the report's window (exclusive), when the figures were read.
    pub generated_at: String,
    /// Daily: the previous daily report's time (None: since the beginning).
    pub since: Option<String>,
    pub batches: Vec<String>,
    pub mailboxes: Vec<MailboxFigures>,
    /// (hour "YYYY-MM-DDTHH", messages, bytes) copied, in the report's window.
    pub hours: Vec<(String, u64, u64)>,
    /// Every issue, newest first.
    pub issues: Vec<IssueRow>,
    pub checks: Vec<CheckLine>,
}

fn parse_ts(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ").ok()
}

/// The journal's timestamp format, for `until`.
pub fn journal_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
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
                .map(|n| crate::endpoint::imap::decode_mutf7(n))
                .collect(),
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
                mailboxes.push(f);
            }
            None => mailboxes.push(MailboxFigures {
                key,
                batch: spec.batch.clone(),
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
    })
}

// ---------------------------------------------------------------------------------------
// Metrics (pure)

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
}

impl Metrics {
    pub fn all_migrated(&self) -> bool {
        self.copied >= self.on_source && self.unlisted == 0 && self.folders_not_copied == 0
    }
    /// No loss claimed while a listed folder was not copied: what it holds is unknown.
    pub fn zero_loss(&self) -> bool {
        self.data_loss_issues == 0 && self.folders_not_copied == 0
    }
    /// Auth failures below 1% of the mailboxes.
    pub fn access_ok(&self) -> bool {
        // failures / mailboxes < 1/100, in integers.
        (self.auth_failures as u64) * 100 < self.mailboxes as u64
            || (self.auth_failures == 0 && self.mailboxes == 0)
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
    Metrics {
        on_source,
        copied,
        data_loss_issues,
        auth_failures: auth.len(),
        mailboxes: r.mailboxes.len(),
        unlisted: r.mailboxes.iter().filter(|m| !m.listed()).count(),
        folders_not_copied: r.mailboxes.iter().map(|m| m.folders_not_copied.len()).sum(),
    }
}

/// `n / d` as a percentage with two decimals, rounded down (99.996% never shows as 100.00%);
/// "n/a" when `d` is 0.
pub fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        return "n/a".into();
    }
    let hundredths = (u128::from(n) * 10_000) / u128::from(d);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// Bytes as a human figure (SI units, as the CLI prints them).
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

fn duration(secs: Option<i64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) => format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60),
    }
}

/// Escape text for HTML content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown cell or list item: one line, with the characters Markdown would read as a link,
/// an image, code, raw HTML, an entity or a table border escaped. `[` and `]` escaped are
/// enough to break every link and image form (`[x](y)`, `![x](y)`, `[x][y]`), so `(`, `)`
/// and `!` stay as they are and the report stays readable as plain text. (Control characters
/// are escaped for the whole document afterwards, see [`markdown`].)
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '[' | ']' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Derived lists

struct BatchFigures {
    name: String,
    mailboxes: usize,
    done: usize,
    failed: usize,
    not_started: usize,
    totals: Totals,
    on_source: u64,
    /// Mailboxes of the batch never listed (not in `on_source`).
    unlisted: usize,
    copied_in_window: (u64, u64),
}

impl BatchFigures {
    /// Messages on the source, saying when some mailboxes are not counted.
    fn on_source_label(&self) -> String {
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

fn batch_figures(r: &Report) -> Vec<BatchFigures> {
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

fn issue_place(i: &IssueRow) -> String {
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

fn resolution(i: &IssueRow) -> String {
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

fn opened_closed(r: &Report) -> (Vec<&IssueRow>, Vec<&IssueRow>) {
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

// ---------------------------------------------------------------------------------------
// Renderers

pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Md => markdown(r),
        Format::Html => html(r),
        Format::Csv => csv(r),
    }
}

/// Per-mailbox statistics, one row per mailbox (Exchange migration user statistics style).
pub const CSV_COLUMNS: [&str; 15] = [
    "Identity",
    "Batch",
    "Status",
    "SourceUser",
    "DestinationUser",
    "TotalItemsInSourceMailboxCount",
    "SyncedItemCount",
    "SkippedItemCount",
    "FailedItemCount",
    "PendingItemCount",
    "TotalBytesInSourceMailbox",
    "BytesTransferred",
    "StartTimestamp",
    "CompletionTimestamp",
    "LastError",
];

/// Written by the one CSV writer ([`crate::csv_out`]): RFC 4180 quoting, CRLF line ends,
/// formulas neutralised, controls escaped.
pub fn csv(r: &Report) -> String {
    let rows = r.mailboxes.iter().map(|m| {
        [
            m.dst_user.clone(),
            m.batch.clone(),
            m.state.clone(),
            m.src_user.clone(),
            m.dst_user.clone(),
            if m.listed() {
                m.on_source().to_string()
            } else {
                String::new()
            },
            m.totals.copied.to_string(),
            m.totals.skipped.to_string(),
            m.totals.failed.to_string(),
            m.totals.pending.to_string(),
            if m.listed() {
                m.totals.bytes.saturating_sub(m.expunged_bytes).to_string()
            } else {
                String::new()
            },
            m.totals.copied_bytes.to_string(),
            m.started_at.clone().unwrap_or_default(),
            m.finished_at.clone().unwrap_or_default(),
            m.last_error.clone().unwrap_or_default(),
        ]
    });
    crate::csv_out::to_string(&CSV_COLUMNS, rows)
}

fn title(r: &Report) -> String {
    match r.kind {
        Kind::Daily => format!("Daily report: {}", r.project),
        Kind::Final => format!("Final report: {}", r.project),
    }
}

fn window_line(r: &Report) -> String {
    match (&r.kind, &r.since) {
        (Kind::Daily, Some(s)) => format!("since the last daily report ({s})"),
        (Kind::Daily, None) => "since the beginning (no earlier daily report)".into(),
        (Kind::Final, _) => "the whole project".into(),
    }
}

pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md(&title(r)));
    let _ = writeln!(
        o,
        "Generated {} from the journal; period: {}.\n",
        r.generated_at,
        window_line(r)
    );
    let total = sum_totals(r);
    let m = metrics(r);
    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(o, "| figure | value |\n|---|---|");
    let _ = writeln!(o, "| mailboxes | {} |", r.mailboxes.len());
    for (label, st) in [
        ("done", "done"),
        ("failed", "failed"),
        ("not started", "not started"),
    ] {
        let n = r.mailboxes.iter().filter(|x| x.state == st).count();
        let _ = writeln!(o, "| mailboxes {label} | {n} |");
    }
    let _ = writeln!(
        o,
        "| messages on the source | {}{} |",
        m.on_source,
        unlisted_note(&m)
    );
    let _ = writeln!(
        o,
        "| messages copied | {} ({}) |",
        total.copied,
        human(total.copied_bytes)
    );
    let _ = writeln!(o, "| messages skipped | {} |", total.skipped);
    let _ = writeln!(o, "| messages failed | {} |", total.failed);
    let _ = writeln!(o, "| messages pending | {} |", total.pending);
    let _ = writeln!(o);

    match r.kind {
        Kind::Daily => markdown_daily(r, &mut o),
        Kind::Final => markdown_final(r, &m, &mut o),
    }
    // Control and bidi characters from servers or the journal, in any cell or line: escaped.
    crate::safe_text::terminal_owned(o)
}

fn unlisted_note(m: &Metrics) -> String {
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

const UNLISTED_NOTE: &str = "\"-\": the mailbox was never listed (it failed before listing, or has not started), so its size on the source is unknown.";

fn sum_totals(r: &Report) -> Totals {
    let mut t = Totals::default();
    for m in &r.mailboxes {
        t.messages += m.totals.messages;
        t.bytes += m.totals.bytes;
        t.copied += m.totals.copied;
        t.copied_bytes += m.totals.copied_bytes;
        t.skipped += m.totals.skipped;
        t.failed += m.totals.failed;
        t.pending += m.totals.pending;
    }
    t
}

fn markdown_daily(r: &Report, o: &mut String) {
    let _ = writeln!(o, "## Progress per batch\n");
    let _ = writeln!(
        o,
        "| batch | mailboxes | done | failed | not started | copied in window | bytes in window | copied / on source |\n|---|---|---|---|---|---|---|---|"
    );
    for b in batch_figures(r) {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} ({}) |",
            md(&b.name),
            b.mailboxes,
            b.done,
            b.failed,
            b.not_started,
            b.copied_in_window.0,
            human(b.copied_in_window.1),
            b.totals.copied,
            b.on_source_label(),
            pct(b.totals.copied, b.on_source)
        );
    }
    let _ = writeln!(o, "\n## Progress per mailbox\n");
    let _ = writeln!(
        o,
        "| mailbox | batch | state | copied in window | bytes in window | copied / on source | pending | last error |\n|---|---|---|---|---|---|---|---|"
    );
    for m in &r.mailboxes {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} |",
            md(&m.key),
            md(&m.batch),
            md(&m.state),
            m.copied_in_window.0,
            human(m.copied_in_window.1),
            m.totals.copied,
            m.on_source_cell(),
            m.totals.pending,
            md(m.last_error.as_deref().unwrap_or(""))
        );
    }
    markdown_throughput(r, o);
    let (opened, closed) = opened_closed(r);
    let _ = writeln!(
        o,
        "\n## Issues\n\n{} opened, {} resolved in the window; {} not resolved in all.\n",
        opened.len(),
        closed.len(),
        r.issues.iter().filter(|i| i.state != "resolved").count()
    );
    markdown_issue_table(&opened, o, "Opened");
    markdown_issue_table(&closed, o, "Resolved");
    let _ = writeln!(o, "## Next steps\n");
    let steps = next_steps(r);
    if steps.is_empty() {
        let _ = writeln!(o, "Nothing outstanding.");
    }
    for s in steps {
        let _ = writeln!(o, "- {}", md(&s));
    }
}

fn markdown_throughput(r: &Report, o: &mut String) {
    let _ = writeln!(
        o,
        "\n## Throughput per hour (UTC, when copies were journalled)\n"
    );
    if r.hours.is_empty() {
        let _ = writeln!(o, "No message copied in this window.");
        return;
    }
    let _ = writeln!(o, "| hour | messages | bytes |\n|---|---|---|");
    for (h, n, b) in &r.hours {
        let _ = writeln!(o, "| {h}:00 | {n} | {} |", human(*b));
    }
}

fn markdown_issue_table(list: &[&IssueRow], o: &mut String, heading: &str) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(o, "### {heading}\n");
    let _ = writeln!(
        o,
        "| # | severity | category | where | message | count | first seen | last seen | state |\n|---|---|---|---|---|---|---|---|---|"
    );
    for i in list {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i.id,
            md(&i.severity),
            md(&i.category),
            md(&issue_place(i)),
            md(&i.message),
            i.count,
            i.first_seen,
            i.last_seen,
            md(&resolution(i))
        );
    }
    let _ = writeln!(o);
}

fn metric_rows(m: &Metrics) -> [(String, String, bool); 3] {
    [
        (
            "100% of the data migrated (copied / messages on the source)".to_string(),
            {
                // With a folder not copied, what it holds is in no count: no percentage
                // can be claimed, 100% least of all.
                let share = if m.folders_not_copied > 0 {
                    "share unknown".to_string()
                } else {
                    pct(m.copied, m.on_source)
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
            "zero data loss (unresolved critical fidelity or verification issues; folders not copied)"
                .to_string(),
            format!("{}; {}", m.data_loss_issues, m.folders_not_copied),
            m.zero_loss(),
        ),
        (
            "user access issues below 1% (mailboxes with an unresolved auth issue / mailboxes)"
                .to_string(),
            format!(
                "{} / {} = {}",
                m.auth_failures,
                m.mailboxes,
                pct(m.auth_failures as u64, m.mailboxes as u64)
            ),
            m.access_ok(),
        ),
    ]
}

fn markdown_final(r: &Report, m: &Metrics, o: &mut String) {
    let _ = writeln!(o, "## Success metrics\n");
    let _ = writeln!(o, "| metric | measured | met |\n|---|---|---|");
    for (k, v, ok) in metric_rows(m) {
        let _ = writeln!(o, "| {k} | {v} | {} |", if ok { "yes" } else { "NO" });
    }
    let _ = writeln!(o, "\n## Mailboxes\n");
    let _ = writeln!(
        o,
        "| mailbox | batch | state | folders | on the source | copied | bytes on the source | bytes copied | skipped | failed | pending | duration | last error |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for x in &r.mailboxes {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&x.key),
            md(&x.batch),
            md(&x.state),
            x.folders,
            x.on_source_cell(),
            x.totals.copied,
            x.source_bytes_cell(),
            human(x.totals.copied_bytes),
            x.totals.skipped,
            x.totals.failed,
            x.totals.pending,
            duration(x.duration_secs()),
            md(x.last_error.as_deref().unwrap_or(""))
        );
    }
    if r.mailboxes.iter().any(|x| !x.listed()) {
        let _ = writeln!(o, "\n{UNLISTED_NOTE}");
    }
    let _ = writeln!(o, "\n## Skipped and failed items\n");
    let mut any = false;
    for x in &r.mailboxes {
        for s in &x.skips {
            if !any {
                let _ = writeln!(
                    o,
                    "| mailbox | state | reason | messages |\n|---|---|---|---|"
                );
                any = true;
            }
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                md(&x.key),
                md(&s.state),
                md(&s.reason),
                s.count
            );
        }
    }
    if !any {
        let _ = writeln!(o, "None.");
    }
    for x in r.mailboxes.iter().filter(|x| x.gmail_duplicates > 0) {
        let _ = writeln!(
            o,
            "\n{}: {} Gmail duplicate(s) (the same message in a further label or in All Mail) not copied again; each message was copied once.",
            md(&x.key),
            x.gmail_duplicates
        );
    }
    let _ = writeln!(o, "\n## Verification (journal)\n");
    let _ = writeln!(
        o,
        "| mailbox | on the source | copied | not copied | verification issues |\n|---|---|---|---|---|"
    );
    for x in &r.mailboxes {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            md(&x.key),
            x.on_source_cell(),
            x.totals.copied,
            if x.listed() {
                x.on_source().saturating_sub(x.totals.copied).to_string()
            } else {
                "-".into()
            },
            verification_issues(r, &x.key)
        );
    }
    markdown_throughput(r, o);
    let _ = writeln!(o, "\n## Checklist\n");
    if r.checks.is_empty() {
        let _ = writeln!(o, "The project file defines no checklist.");
    } else {
        let _ = writeln!(
            o,
            "| section | item | required | done | by | at | note |\n|---|---|---|---|---|---|---|"
        );
        for c in &r.checks {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                md(&c.section),
                md(&c.title),
                if c.required { "yes" } else { "no" },
                if c.done { "yes" } else { "NO" },
                md(c.by.as_deref().unwrap_or("")),
                md(c.at.as_deref().unwrap_or("")),
                md(c.note.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = writeln!(o, "\n## Issues\n");
    if r.issues.is_empty() {
        let _ = writeln!(o, "None.");
    } else {
        let all: Vec<&IssueRow> = r.issues.iter().collect();
        markdown_issue_table(&all, o, "All issues");
        let _ = writeln!(o, "### Causes and fixes\n");
        let _ = writeln!(o, "| category | cause | fix | retry |\n|---|---|---|---|");
        for c in categories_seen(r) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                c.name,
                md(c.cause),
                md(c.fix),
                c.retry.as_str()
            );
        }
    }
    let _ = writeln!(o, "\n## Next steps\n");
    let steps = next_steps(r);
    if steps.is_empty() {
        let _ = writeln!(o, "Nothing outstanding.");
    }
    for s in steps {
        let _ = writeln!(o, "- {}", md(&s));
    }
}

fn verification_issues(r: &Report, key: &str) -> usize {
    r.issues
        .iter()
        .filter(|i| i.category == "verification" && i.mailbox.as_deref() == Some(key))
        .count()
}

fn categories_seen(r: &Report) -> Vec<&'static issues::Category> {
    let mut v: Vec<&'static issues::Category> = Vec::new();
    for i in &r.issues {
        let c = issues::category(&i.category);
        if !v.iter().any(|x| std::ptr::eq(*x, c)) {
            v.push(c);
        }
    }
    v
}

// ---------------------------------------------------------------------------------------
// HTML

const CSS: &str = "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#1b1b1b;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}
td.w{overflow-wrap:anywhere}
th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#0a6b0a;font-weight:bold}.bad{color:#b00000;font-weight:bold}
.muted{color:#666}svg{max-width:100%;height:auto}
.sev-critical{color:#fff;background:#b00000}.sev-error{color:#b00000}.sev-warning{color:#8a5a00}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{page-break-after:avoid}
tr,svg{page-break-inside:avoid}th{background:#eee !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

fn td(s: &str) -> String {
    format!("<td>{}</td>", html_escape(s))
}

/// A cell of long text (messages, timestamps, places) that may break anywhere to fit the page.
fn tdw(s: &str) -> String {
    format!("<td class=\"w\">{}</td>", html_escape(s))
}

fn tdn(n: impl std::fmt::Display) -> String {
    format!("<td class=\"n\">{n}</td>")
}

fn table_head(cols: &[&str]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for c in cols {
        let _ = write!(s, "<th>{}</th>", html_escape(c));
    }
    s.push_str("</tr></thead><tbody>\n");
    s
}

/// The hours from the first to the last with a copy, quiet hours as zero, so the chart's
/// x axis is time (at most 14 days of hours; beyond that only the hours with copies).
pub fn fill_hours(hours: &[(String, u64, u64)]) -> Vec<(String, u64, u64)> {
    let parse = |h: &str| {
        chrono::NaiveDateTime::parse_from_str(&format!("{h}:00:00"), "%Y-%m-%dT%H:%M:%S").ok()
    };
    let (Some(first), Some(last)) = (
        hours.first().and_then(|h| parse(&h.0)),
        hours.last().and_then(|h| parse(&h.0)),
    ) else {
        return hours.to_vec();
    };
    let span = (last - first).num_hours();
    if !(0..=24 * 14).contains(&span) {
        return hours.to_vec();
    }
    let have: HashMap<&str, (u64, u64)> = hours
        .iter()
        .map(|(h, n, b)| (h.as_str(), (*n, *b)))
        .collect();
    (0..=span)
        .map(|i| {
            let h = (first + chrono::Duration::hours(i))
                .format("%Y-%m-%dT%H")
                .to_string();
            let (n, b) = have.get(h.as_str()).copied().unwrap_or_default();
            (h, n, b)
        })
        .collect()
}

/// Bar chart of messages copied per hour (inline SVG).
pub fn throughput_svg(hours: &[(String, u64, u64)]) -> String {
    let hours = &fill_hours(hours)[..];
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 60.0, 40.0, 20.0);
    let max = hours.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let n = hours.len().max(1) as f64;
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    // Bars at most 48 px wide, so one hour is not a wall of colour.
    let bar = (plot_w / n).min(48.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"messages copied per hour\">\n"
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#444\"/><line x1=\"{left}\" y1=\"{0}\" x2=\"{}\" y2=\"{0}\" stroke=\"#444\"/>",
        top + plot_h,
        w - 10.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{max}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top + 4.0,
        left - 4.0,
        top + plot_h
    );
    for (i, (hour, msgs, bytes)) in hours.iter().enumerate() {
        let bh = plot_h * (*msgs as f64) / (max as f64);
        let x = left + bar * i as f64 + 1.0;
        let y = top + plot_h - bh;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#2f6fb3\"><title>{}:00 UTC: {msgs} messages, {}</title></rect>",
            (bar - 2.0).max(1.0),
            html_escape(hour),
            html_escape(&human(*bytes))
        );
    }
    if let (Some(first), Some(last)) = (hours.first(), hours.last()) {
        let _ = writeln!(
            s,
            "<text x=\"{left}\" y=\"{}\" font-size=\"11\">{}:00</text><text x=\"{}\" y=\"{0}\" font-size=\"11\" text-anchor=\"end\">{}:00</text>",
            h - bottom + 16.0,
            html_escape(&first.0),
            w - 10.0,
            html_escape(&last.0)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">messages copied per hour (UTC)</text>",
        left + plot_w / 2.0,
        h - 6.0
    );
    s.push_str("</svg>\n");
    s
}

/// One progress bar per batch: copied / on the source (inline SVG).
/// Rows: (batch, copied, on the source, mailboxes never listed).
pub fn batches_svg(rows: &[(String, u64, u64, usize)]) -> String {
    let (w, row_h, label_w) = (720.0_f64, 28.0_f64, 160.0_f64);
    let h = row_h * rows.len().max(1) as f64 + 8.0;
    let bar_w = w - label_w - 320.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"progress per batch\">\n"
    );
    for (i, (name, copied, on_source, unlisted)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let frac = if *on_source == 0 {
            0.0
        } else {
            (*copied as f64 / *on_source as f64).min(1.0)
        };
        let _ = writeln!(
            s,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{}</text><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{bar_w}\" height=\"18\" fill=\"#e3e3e3\" stroke=\"#999\"/><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"18\" fill=\"#2e8b3a\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{copied} / {on_source} ({}){}</text>",
            y + 13.0,
            html_escape(name),
            bar_w * frac,
            label_w + bar_w + 6.0,
            y + 13.0,
            pct(*copied, *on_source),
            if *unlisted > 0 {
                format!(", {unlisted} mailbox(es) not listed")
            } else {
                String::new()
            }
        );
    }
    s.push_str("</svg>\n");
    s
}

pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let t = html_escape(&title(r));
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>{CSS}</style></head><body>\n<h1>{t}</h1>\n<p class=\"muted\">Generated {} from the journal; period: {}.</p>",
        html_escape(&r.generated_at),
        html_escape(&window_line(r))
    );
    let total = sum_totals(r);
    let m = metrics(r);
    o.push_str("<h2>Summary</h2>\n");
    o.push_str(&table_head(&["figure", "value"]));
    let count = |st: &str| r.mailboxes.iter().filter(|x| x.state == st).count();
    for (k, v) in [
        ("mailboxes", r.mailboxes.len().to_string()),
        ("mailboxes done", count("done").to_string()),
        ("mailboxes failed", count("failed").to_string()),
        ("mailboxes not started", count("not started").to_string()),
        (
            "messages on the source",
            format!("{}{}", m.on_source, unlisted_note(&m)),
        ),
        (
            "messages copied",
            format!("{} ({})", total.copied, human(total.copied_bytes)),
        ),
        ("messages skipped", total.skipped.to_string()),
        ("messages failed", total.failed.to_string()),
        ("messages pending", total.pending.to_string()),
    ] {
        let _ = writeln!(o, "<tr>{}{}</tr>", td(k), tdn(html_escape(&v)));
    }
    o.push_str("</tbody></table>\n");

    let bf = batch_figures(r);
    o.push_str("<h2>Progress per batch</h2>\n");
    o.push_str(&batches_svg(
        &bf.iter()
            .map(|b| (b.name.clone(), b.totals.copied, b.on_source, b.unlisted))
            .collect::<Vec<_>>(),
    ));
    o.push_str(&table_head(&[
        "batch",
        "mailboxes",
        "done",
        "failed",
        "not started",
        "copied in window",
        "bytes in window",
        "copied",
        "on the source",
    ]));
    for b in &bf {
        let _ = writeln!(
            o,
            "<tr>{}{}{}{}{}{}{}{}{}</tr>",
            td(&b.name),
            tdn(b.mailboxes),
            tdn(b.done),
            tdn(b.failed),
            tdn(b.not_started),
            tdn(b.copied_in_window.0),
            tdn(human(b.copied_in_window.1)),
            tdn(b.totals.copied),
            tdn(html_escape(&b.on_source_label()))
        );
    }
    o.push_str("</tbody></table>\n");

    o.push_str("<h2>Throughput per hour (UTC, when copies were journalled)</h2>\n");
    if r.hours.is_empty() {
        o.push_str("<p>No message copied in this window.</p>\n");
    } else {
        o.push_str(&throughput_svg(&r.hours));
    }

    if r.kind == Kind::Final {
        o.push_str("<h2>Success metrics</h2>\n");
        o.push_str(&table_head(&["metric", "measured", "met"]));
        for (k, v, ok) in metric_rows(&m) {
            let _ = writeln!(
                o,
                "<tr>{}{}<td class=\"{}\">{}</td></tr>",
                td(&k),
                td(&v),
                if ok { "ok" } else { "bad" },
                if ok { "yes" } else { "NO" }
            );
        }
        o.push_str("</tbody></table>\n");
    }

    o.push_str("<h2>Mailboxes</h2>\n");
    o.push_str(&table_head(&[
        "mailbox",
        "batch",
        "state",
        "folders",
        "on the source",
        "copied",
        "copied in window",
        "bytes on the source",
        "bytes copied",
        "skipped",
        "failed",
        "pending",
        "duration",
        "last error",
    ]));
    for x in &r.mailboxes {
        let _ = writeln!(
            o,
            "<tr>{}{}{}{}{}{}{}{}{}{}{}{}{}{}</tr>",
            td(&x.key),
            td(&x.batch),
            td(&x.state),
            tdn(x.folders),
            tdn(x.on_source_cell()),
            tdn(x.totals.copied),
            tdn(x.copied_in_window.0),
            tdn(x.source_bytes_cell()),
            tdn(human(x.totals.copied_bytes)),
            tdn(x.totals.skipped),
            tdn(x.totals.failed),
            tdn(x.totals.pending),
            tdn(duration(x.duration_secs())),
            tdw(x.last_error.as_deref().unwrap_or(""))
        );
    }
    o.push_str("</tbody></table>\n");
    if r.mailboxes.iter().any(|x| !x.listed()) {
        let _ = writeln!(o, "<p class=\"muted\">{}</p>", html_escape(UNLISTED_NOTE));
    }

    if r.kind == Kind::Final {
        o.push_str("<h2>Skipped and failed items</h2>\n");
        let skips: Vec<(&MailboxFigures, &SkipRow)> = r
            .mailboxes
            .iter()
            .flat_map(|x| x.skips.iter().map(move |s| (x, s)))
            .collect();
        if skips.is_empty() {
            o.push_str("<p>None.</p>\n");
        } else {
            o.push_str(&table_head(&["mailbox", "state", "reason", "messages"]));
            for (x, s) in skips {
                let _ = writeln!(
                    o,
                    "<tr>{}{}{}{}</tr>",
                    td(&x.key),
                    td(&s.state),
                    tdw(&s.reason),
                    tdn(s.count)
                );
            }
            o.push_str("</tbody></table>\n");
        }
        for x in r.mailboxes.iter().filter(|x| x.gmail_duplicates > 0) {
            let _ = writeln!(
                o,
                "<p>{}: {} Gmail duplicate(s) (the same message in a further label or in All Mail) not copied again; each message was copied once.</p>",
                html_escape(&x.key),
                x.gmail_duplicates
            );
        }
        o.push_str("<h2>Verification (journal)</h2>\n");
        o.push_str(&table_head(&[
            "mailbox",
            "on the source",
            "copied",
            "not copied",
            "verification issues",
        ]));
        for x in &r.mailboxes {
            let _ = writeln!(
                o,
                "<tr>{}{}{}{}{}</tr>",
                td(&x.key),
                tdn(x.on_source_cell()),
                tdn(x.totals.copied),
                tdn(if x.listed() {
                    x.on_source().saturating_sub(x.totals.copied).to_string()
                } else {
                    "-".into()
                }),
                tdn(verification_issues(r, &x.key))
            );
        }
        o.push_str("</tbody></table>\n");
        o.push_str("<h2>Checklist</h2>\n");
        if r.checks.is_empty() {
            o.push_str("<p>The project file defines no checklist.</p>\n");
        } else {
            o.push_str(&table_head(&[
                "section", "item", "required", "done", "by", "at", "note",
            ]));
            for c in &r.checks {
                let _ = writeln!(
                    o,
                    "<tr>{}{}{}<td class=\"{}\">{}</td>{}{}{}</tr>",
                    td(&c.section),
                    td(&c.title),
                    td(if c.required { "yes" } else { "no" }),
                    if c.done { "ok" } else { "bad" },
                    if c.done { "yes" } else { "NO" },
                    td(c.by.as_deref().unwrap_or("")),
                    td(c.at.as_deref().unwrap_or("")),
                    td(c.note.as_deref().unwrap_or(""))
                );
            }
            o.push_str("</tbody></table>\n");
        }
    }

    let (opened, closed) = opened_closed(r);
    o.push_str("<h2>Issues</h2>\n");
    let _ = writeln!(
        o,
        "<p>{} opened, {} resolved in the window; {} not resolved in all.</p>",
        opened.len(),
        closed.len(),
        r.issues.iter().filter(|i| i.state != "resolved").count()
    );
    let list: Vec<&IssueRow> = match r.kind {
        Kind::Final => r.issues.iter().collect(),
        Kind::Daily => {
            let mut v = opened.clone();
            for c in closed {
                if !v.iter().any(|x| x.id == c.id) {
                    v.push(c);
                }
            }
            v
        }
    };
    if !list.is_empty() {
        o.push_str(&table_head(&[
            "#",
            "severity",
            "category",
            "where",
            "message",
            "count",
            "first seen",
            "last seen",
            "state",
        ]));
        for i in &list {
            let _ = writeln!(
                o,
                "<tr>{}<td class=\"sev-{}\">{}</td>{}{}{}{}{}{}{}</tr>",
                tdn(i.id),
                html_escape(&i.severity),
                html_escape(&i.severity),
                td(&i.category),
                tdw(&issue_place(i)),
                tdw(&i.message),
                tdn(i.count),
                tdw(&i.first_seen),
                tdw(&i.last_seen),
                tdw(&resolution(i))
            );
        }
        o.push_str("</tbody></table>\n");
        o.push_str("<h3>Causes and fixes</h3>\n");
        o.push_str(&table_head(&["category", "cause", "fix", "retry"]));
        for c in categories_seen(r) {
            let _ = writeln!(
                o,
                "<tr>{}{}{}{}</tr>",
                td(c.name),
                td(c.cause),
                td(c.fix),
                td(c.retry.as_str())
            );
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("<h2>Next steps</h2>\n");
    let steps = next_steps(r);
    if steps.is_empty() {
        o.push_str("<p>Nothing outstanding.</p>\n");
    } else {
        o.push_str("<ul>\n");
        for s in steps {
            let _ = writeln!(o, "<li>{}</li>", html_escape(&s));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    // The HTML report may go to stdout: control and bidi characters escaped there too.
    crate::safe_text::terminal_owned(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(id: i64, sev: &str, cat: &str, mb: Option<&str>, state: &str) -> IssueRow {
        IssueRow {
            id,
            severity: sev.into(),
            category: cat.into(),
            mailbox: mb.map(Into::into),
            message: "m".into(),
            count: 1,
            state: state.into(),
            ..Default::default()
        }
    }

    fn report(mailboxes: Vec<MailboxFigures>, issues: Vec<IssueRow>) -> Report {
        Report {
            kind: Kind::Final,
            project: "p".into(),
            generated_at: "2026-11-25T00:00:00Z".into(),
            since: None,
            batches: vec!["b".into()],
            mailboxes,
            hours: vec![],
            issues,
            checks: vec![],
        }
    }

    fn mailbox(key: &str, messages: u64, copied: u64, expunged: u64) -> MailboxFigures {
        MailboxFigures {
            key: key.into(),
            batch: "b".into(),
            state: "done".into(),
            totals: Totals {
                messages,
                copied,
                skipped: messages - copied,
                ..Default::default()
            },
            expunged,
            folders: 1,
            ..Default::default()
        }
    }

    #[test]
    fn percentages_round_down_and_handle_zero() {
        assert_eq!(pct(9999, 10000), "99.99%");
        assert_eq!(pct(99_999, 100_000), "99.99%");
        assert_eq!(pct(1, 3), "33.33%");
        assert_eq!(pct(2, 3), "66.66%");
        assert_eq!(pct(5, 5), "100.00%");
        assert_eq!(pct(0, 0), "n/a");
        assert_eq!(pct(u64::MAX, u64::MAX), "100.00%");
    }

    #[test]
    fn metrics_exclude_expunged_and_count_unresolved_issues() {
        // 10 journalled, 2 expunged on the source, 8 copied: 100% migrated.
        let r = report(
            vec![mailbox("a", 10, 8, 2), mailbox("b", 5, 4, 0)],
            vec![
                issue(1, "critical", "verification", Some("a"), "open"),
                issue(2, "critical", "verification", Some("a"), "resolved"),
                issue(3, "critical", "operator", None, "open"),
                issue(4, "error", "auth", Some("b"), "open"),
                issue(5, "error", "auth", Some("b"), "acknowledged"),
                issue(6, "error", "auth", Some("c"), "resolved"),
            ],
        );
        let m = metrics(&r);
        assert_eq!(m.on_source, 13);
        assert_eq!(m.copied, 12);
        assert!(!m.all_migrated());
        assert_eq!(m.data_loss_issues, 1);
        assert!(!m.zero_loss());
        assert_eq!(m.auth_failures, 1);
        assert_eq!(m.mailboxes, 2);
        assert!(!m.access_ok());
        let m2 = metrics(&report(vec![mailbox("a", 10, 8, 2)], vec![]));
        assert!(m2.all_migrated() && m2.zero_loss() && m2.access_ok());
    }

    #[test]
    fn access_threshold_is_strictly_below_one_percent() {
        let m = |f, n| Metrics {
            auth_failures: f,
            mailboxes: n,
            ..Default::default()
        };
        assert!(m(0, 1).access_ok());
        assert!(m(1, 101).access_ok());
        assert!(!m(1, 100).access_ok());
        assert!(!m(50, 5000).access_ok());
        assert!(m(49, 5000).access_ok());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let mut r = report(
            vec![mailbox("<b>evil</b>->x", 1, 1, 0)],
            vec![issue(1, "error", "server", Some("<b>evil</b>->x"), "open")],
        );
        r.issues[0].message = "NO [ALERT] <img src=x onerror=alert(1)>".into();
        let h = html(&r);
        assert!(!h.contains("<b>evil"));
        assert!(!h.contains("<img"));
        assert!(h.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(h.contains("<svg"));
    }

    #[test]
    fn csv_fields_are_quoted_neutralised_and_escaped() {
        let mut m = mailbox("a->a@x", 3, 2, 0);
        m.dst_user = "a@x".into();
        m.last_error = Some("NO, \"quota\"".into());
        let c = csv(&report(vec![m], vec![]));
        let lines: Vec<&str> = c.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert!(lines[1].starts_with("a@x,b,done,"));
        assert!(lines[1].ends_with(",\"NO, \"\"quota\"\"\""));
        let mut m = mailbox("a->a@x", 3, 2, 0);
        m.batch = "\t=1+1".into();
        m.last_error = Some("=cmd|'/C calc'!A0 \x1b]0;title\x07 \u{202e}".into());
        let c = csv(&report(vec![m], vec![]));
        assert!(c.contains(",'\t=1+1,"), "{c}");
        assert!(
            c.ends_with(",'=cmd|'/C calc'!A0 \\x1b]0;title\\x07 \\u{202e}\r\n"),
            "{c}"
        );
    }

    #[test]
    fn daily_windows_are_half_open() {
        let at = |id, first: &str, resolved: Option<&str>| IssueRow {
            first_seen: first.into(),
            state: if resolved.is_some() {
                "resolved"
            } else {
                "open"
            }
            .into(),
            state_at: resolved.map(Into::into),
            ..issue(id, "error", "server", None, "open")
        };
        let mut r = report(
            vec![],
            vec![
                at(1, "2026-11-24T09:00:00.000Z", None),
                at(
                    2,
                    "2026-11-24T10:00:00.000Z",
                    Some("2026-11-25T09:59:59.999Z"),
                ),
                at(3, "2026-11-25T10:00:00.000Z", None),
                at(
                    4,
                    "2026-11-23T10:00:00.000Z",
                    Some("2026-11-25T10:00:00.000Z"),
                ),
            ],
        );
        r.kind = Kind::Daily;
        r.since = Some("2026-11-24T10:00:00.000Z".into());
        r.generated_at = "2026-11-25T10:00:00.000Z".into();
        let (opened, closed) = opened_closed(&r);
        assert_eq!(opened.iter().map(|i| i.id).collect::<Vec<_>>(), vec![2]);
        assert_eq!(closed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn quiet_hours_are_zero_bars() {
        let h = |s: &str, n| (s.to_string(), n, n * 10);
        let filled = fill_hours(&[h("2026-11-24T22", 5), h("2026-11-25T01", 7)]);
        assert_eq!(
            filled,
            vec![
                h("2026-11-24T22", 5),
                h("2026-11-24T23", 0),
                h("2026-11-25T00", 0),
                h("2026-11-25T01", 7)
            ]
        );
        assert_eq!(fill_hours(&[]), vec![]);
        assert_eq!(fill_hours(&[h("garbage", 1)]), vec![h("garbage", 1)]);
        // More than 14 days apart: only the hours with copies.
        let far = [h("2026-01-01T00", 1), h("2026-03-01T00", 2)];
        assert_eq!(fill_hours(&far), far.to_vec());
        let svg = throughput_svg(&[h("2026-11-24T22", 5), h("2026-11-25T01", 7)]);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("<title>2026-11-24T23:00 UTC: 0 messages"));
    }

    #[test]
    fn markdown_cells_stay_in_their_cell() {
        assert_eq!(md("a|b\nc<d"), "a\\|b c&lt;d");
        assert_eq!(
            md("![x](http://e/i.png) [y](javascript:z) [r][1] `c` &#x202e; <http://a> C:\\t"),
            "!\\[x\\](http://e/i.png) \\[y\\](javascript:z) \\[r\\]\\[1\\] \\`c\\` &amp;#x202e; &lt;http://a> C:\\\\t"
        );
    }

    #[test]
    fn reports_show_control_and_bidi_characters_escaped() {
        let mut m = mailbox("a->a@x", 3, 2, 0);
        m.state = "failed".into();
        m.last_error = Some("NO \x1b]52;c;aGk=\x07\x1b[2J\u{9b}31m \u{202e}gpj.exe".into());
        let r = report(
            vec![m],
            vec![issue(
                1,
                "error",
                "server",
                Some("a->a@x\x1b]0;t\x07"),
                "open",
            )],
        );
        let shown = "\\x1b]52;c;aGk=\\x07\\x1b[2J\\u{9b}31m \\u{202e}gpj.exe";
        let md_shown = "\\x1b\\]52;c;aGk=\\x07\\x1b\\[2J\\u{9b}31m \\u{202e}gpj.exe";
        for (what, out, want) in [
            ("md", markdown(&r), md_shown),
            ("html", html(&r), shown),
            ("csv", csv(&r), shown),
        ] {
            // (The CSV's own CRLF line ends aside.)
            assert!(
                !out.replace("\r\n", "\n")
                    .chars()
                    .any(crate::safe_text::is_unsafe),
                "{what}: raw control characters in\n{out}"
            );
            assert!(out.contains(want), "{what}: {out}");
        }
        let md = markdown(&r);
        assert!(md.contains("| a->a@x\\x1b\\]0;t\\x07 |"), "{md}");
    }

    #[test]
    fn durations_come_from_the_journal_timestamps() {
        let mut m = mailbox("a", 1, 1, 0);
        assert_eq!(m.duration_secs(), None);
        m.started_at = Some("2026-11-24T22:00:00.000Z".into());
        m.finished_at = Some("2026-11-24T23:01:02.500Z".into());
        assert_eq!(m.duration_secs(), Some(3662));
        assert_eq!(duration(m.duration_secs()), "1:01:02");
    }

    #[test]
    fn next_steps_name_failed_mailboxes_critical_issues_and_idle_batches() {
        let mut failed = mailbox("f->f", 0, 0, 0);
        failed.state = "failed".into();
        failed.last_error = Some("login refused".into());
        let mut idle = mailbox("i->i", 0, 0, 0);
        idle.state = "not started".into();
        idle.batch = "wave-2".into();
        let mut r = report(
            vec![failed, idle],
            vec![issue(9, "critical", "verification", Some("f->f"), "open")],
        );
        r.batches.push("wave-2".into());
        let s = next_steps(&r);
        assert!(s.iter().any(|x| x.contains("retry mailbox f->f")));
        assert!(
            s.iter()
                .any(|x| x.contains("critical verification issue #9"))
        );
        assert!(s.iter().any(|x| x.contains("start batch wave-2")));
        assert!(!s.iter().any(|x| x.contains("start batch b ")));
    }
}
