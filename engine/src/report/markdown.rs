//! The Markdown report: tables GitHub and most viewers render, every cell escaped so server
//! text stays in its cell and links nowhere.

use std::fmt::Write as _;

use crate::journal::IssueRow;

use super::kinds::{KIND_COLUMNS, mailbox_rows, summary_rows};
use super::metrics::{
    Metrics, UNLISTED_NOTE, batch_figures, categories_seen, issue_place, metric_rows, metrics,
    next_steps, opened_closed, resolution, sum_totals, title, unlisted_note, verification_issues,
    versions_line, window_line,
};
use super::model::{Kind, Report};
use super::recipients::{RECIPIENT_COLUMNS, recipient_rows, recipients_note};
use super::section::Section;
use crate::mail::fmt::{bytes, duration, percent};

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

pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md(&title(r)));
    let _ = writeln!(
        o,
        "Generated {} from the journal; period: {}.\n",
        r.generated_at,
        window_line(r)
    );
    if let Some(v) = versions_line(r) {
        let _ = writeln!(o, "{}\n", md(&v));
    }
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
        bytes(total.copied_bytes)
    );
    let _ = writeln!(o, "| messages skipped | {} |", total.skipped);
    let _ = writeln!(o, "| messages failed | {} |", total.failed);
    let _ = writeln!(o, "| messages pending | {} |", total.pending);
    for (label, value) in summary_rows(r) {
        let _ = writeln!(o, "| {label} | {} |", md(&value));
    }
    let _ = writeln!(o);
    markdown_kinds(r, &mut o);

    match r.kind {
        Kind::Daily => markdown_daily(r, &mut o),
        Kind::Final => markdown_final(r, &m, &mut o),
        Kind::Weekly => markdown_weekly(r, &m, &mut o),
    }
    markdown_backups(r, &mut o);
    markdown_recipients(r, &mut o);
    // Control and bidi characters from servers or the journal, in any cell or line: escaped.
    crate::safe_text::terminal_owned(o)
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
            bytes(b.copied_in_window.1),
            b.totals.copied,
            b.on_source_label(),
            percent(b.totals.copied, b.on_source)
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
            bytes(m.copied_in_window.1),
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

/// Backups and restores, a row per mailbox and side backed up; nothing when none was made.
fn markdown_backups(r: &Report, o: &mut String) {
    let lines = r.backup_lines();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Backups\n");
    let _ = writeln!(
        o,
        "| mailbox | side | finished | verified | messages | bytes | outcome | last restore | directory |\n|---|---|---|---|---|---|---|---|---|"
    );
    for b in lines {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&b.mailbox),
            b.side,
            md(&b.finished_at),
            md(&b.verified),
            b.messages,
            bytes(b.bytes),
            md(&b.outcome),
            md(&b.restore),
            md(&b.dir)
        );
    }
}

/// Shared/resource mailboxes, lists and groups (final report only); nothing when none listed.
fn markdown_recipients(r: &Report, o: &mut String) {
    let rows = recipient_rows(r);
    if rows.is_empty() || r.kind != Kind::Final {
        return;
    }
    let _ = writeln!(o, "\n## Shared mailboxes, lists and permissions\n");
    let _ = writeln!(o, "{}\n", recipients_note(r));
    let _ = writeln!(
        o,
        "| {} |\n|{}",
        RECIPIENT_COLUMNS.join(" | "),
        "---|".repeat(RECIPIENT_COLUMNS.len())
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
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
        let _ = writeln!(o, "| {h}:00 | {n} | {} |", bytes(*b));
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

fn markdown_final(r: &Report, m: &Metrics, o: &mut String) {
    let _ = writeln!(o, "## Success metrics\n");
    let _ = writeln!(o, "| metric | measured | met |\n|---|---|---|");
    for (k, v, ok) in metric_rows(m) {
        let _ = writeln!(o, "| {k} | {v} | {} |", if ok { "yes" } else { "NO" });
    }
    let _ = writeln!(
        o,
        "\n## Content verification\n\nEach mailbox's newest `cutover verify`: zero data loss is claimed only from a passing full content verification of every mailbox, made after its last copy (a sample is no proof).\n"
    );
    let _ = writeln!(
        o,
        "| mailbox | newest verification | method | scope | outcome |\n|---|---|---|---|---|"
    );
    for x in &r.mailboxes {
        let [at, method, scope, outcome] = x.verification_cells();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            md(&x.key),
            md(&at),
            md(&method),
            md(&scope),
            md(&outcome)
        );
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
            bytes(x.totals.copied_bytes),
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
    let _ = writeln!(o);
    for s in super::lessons::sections(r) {
        markdown_section(&s, o);
    }
    let _ = writeln!(o, "## Next steps\n");
    let steps = next_steps(r);
    if steps.is_empty() {
        let _ = writeln!(o, "Nothing outstanding.");
    }
    for s in steps {
        let _ = writeln!(o, "- {}", md(&s));
    }
}

/// The weekly report: its own sections, the success metrics so far, the week's issues, the
/// lessons and recommendations, the next steps.
fn markdown_weekly(r: &Report, m: &Metrics, o: &mut String) {
    for s in super::weekly::sections(r) {
        markdown_section(&s, o);
    }
    let _ = writeln!(o, "## Success metrics so far\n");
    let _ = writeln!(o, "| metric | measured | met |\n|---|---|---|");
    for (k, v, ok) in metric_rows(m) {
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            md(&k),
            md(&v),
            if ok { "yes" } else { "NO" }
        );
    }
    let (opened, closed) = opened_closed(r);
    let _ = writeln!(
        o,
        "\n## Issues of the week\n\n{} opened, {} resolved in the week; {} not resolved in all.\n",
        opened.len(),
        closed.len(),
        r.issues.iter().filter(|i| i.state != "resolved").count()
    );
    markdown_issue_table(&opened, o, "Opened");
    markdown_issue_table(&closed, o, "Resolved");
    for s in super::lessons::sections(r) {
        markdown_section(&s, o);
    }
    let _ = writeln!(o, "## Next steps\n");
    let steps = next_steps(r);
    if steps.is_empty() {
        let _ = writeln!(o, "Nothing outstanding.");
    }
    for s in steps {
        let _ = writeln!(o, "- {}", md(&s));
    }
}

/// A section built as data (`section`): heading, paragraphs, table, list, closing lines.
fn markdown_section(s: &Section, o: &mut String) {
    let _ = writeln!(o, "## {}\n", md(&s.heading));
    for p in &s.paragraphs {
        let _ = writeln!(o, "{}\n", md(p));
    }
    if !s.columns.is_empty() && !s.rows.is_empty() {
        let cols: Vec<String> = s.columns.iter().map(|c| md(c)).collect();
        let _ = writeln!(
            o,
            "| {} |\n|{}",
            cols.join(" | "),
            "---|".repeat(cols.len())
        );
        for row in &s.rows {
            let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(o);
    }
    for i in &s.items {
        let _ = writeln!(o, "- {}", md(i));
    }
    if !s.items.is_empty() {
        let _ = writeln!(o);
    }
    for p in &s.after {
        let _ = writeln!(o, "{}\n", md(p));
    }
}

/// Per mailbox with events or contacts, a row per kind (nothing for a mail-only report).
fn markdown_kinds(r: &Report, o: &mut String) {
    let rows = mailbox_rows(r);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Items per kind\n");
    let _ = writeln!(
        o,
        "| {} |\n|{}",
        KIND_COLUMNS.join(" | "),
        "---|".repeat(KIND_COLUMNS.len())
    );
    for k in rows {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&k.mailbox),
            k.kind.plural(),
            k.on_source,
            k.copied,
            bytes(k.copied_bytes),
            k.skipped,
            k.failed,
            k.pending
        );
    }
    let _ = writeln!(o);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_stay_in_their_cell() {
        assert_eq!(md("a|b\nc<d"), "a\\|b c&lt;d");
        assert_eq!(
            md("![x](http://e/i.png) [y](javascript:z) [r][1] `c` &#x202e; <http://a> C:\\t"),
            "!\\[x\\](http://e/i.png) \\[y\\](javascript:z) \\[r\\]\\[1\\] \\`c\\` &amp;#x202e; &lt;http://a> C:\\\\t"
        );
    }
}
