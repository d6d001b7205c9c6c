//! The HTML report: one self-contained file (inline CSS, inline SVG charts), printable.

use std::fmt::Write as _;

use crate::journal::{IssueRow, SkipRow};

use super::escape::html_escape;
use super::kinds::{KIND_COLUMNS, mailbox_rows, summary_rows};
use super::metrics::{
    UNLISTED_NOTE, batch_figures, categories_seen, issue_place, metric_rows, metrics, next_steps,
    opened_closed, resolution, sum_totals, title, unlisted_note, verification_issues,
    versions_line, window_line,
};
use super::model::{Kind, MailboxFigures, Report};
use super::recipients::{RECIPIENT_COLUMNS, recipient_rows, recipients_note};
use super::section::Section;
use super::svg::{batches_svg, throughput_svg};
use crate::mail::fmt::{bytes, duration};

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

pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let t = html_escape(&title(r));
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>{CSS}</style></head><body>\n<h1>{t}</h1>\n<p class=\"muted\">Generated {} from the journal; period: {}.</p>",
        html_escape(&r.generated_at),
        html_escape(&window_line(r))
    );
    if let Some(v) = versions_line(r) {
        let _ = writeln!(o, "<p class=\"muted\">{}</p>", html_escape(&v));
    }
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
            format!("{} ({})", total.copied, bytes(total.copied_bytes)),
        ),
        ("messages skipped", total.skipped.to_string()),
        ("messages failed", total.failed.to_string()),
        ("messages pending", total.pending.to_string()),
    ] {
        let _ = writeln!(o, "<tr>{}{}</tr>", td(k), tdn(html_escape(&v)));
    }
    for (k, v) in summary_rows(r) {
        let _ = writeln!(o, "<tr>{}{}</tr>", td(&k), tdn(html_escape(&v)));
    }
    o.push_str("</tbody></table>\n");
    html_kinds(r, &mut o);

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
            tdn(bytes(b.copied_in_window.1)),
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

    for sec in super::weekly::sections(r) {
        html_section(&sec, &mut o);
    }

    if r.kind == Kind::Weekly {
        o.push_str("<h2>Success metrics so far</h2>\n");
        metrics_table(&m, &mut o);
    }
    if r.kind == Kind::Final {
        o.push_str("<h2>Success metrics</h2>\n");
        metrics_table(&m, &mut o);
        o.push_str("<h2>Content verification</h2>\n<p>Each mailbox's newest <code>cutover verify</code>: zero data loss is claimed only from a passing full content verification of every mailbox, made after its last copy (a sample is no proof).</p>\n");
        o.push_str(&table_head(&[
            "mailbox",
            "newest verification",
            "method",
            "scope",
            "outcome",
        ]));
        for x in &r.mailboxes {
            let [at, method, scope, outcome] = x.verification_cells();
            let _ = writeln!(
                o,
                "<tr>{}{}{}{}{}</tr>",
                td(&x.key),
                td(&at),
                td(&method),
                td(&scope),
                td(&outcome)
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
            tdn(bytes(x.totals.copied_bytes)),
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
        Kind::Daily | Kind::Weekly => {
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
    let backups = r.backup_lines();
    if !backups.is_empty() {
        o.push_str("<h2>Backups</h2>\n");
        o.push_str(&table_head(&[
            "mailbox",
            "side",
            "finished",
            "verified",
            "messages",
            "bytes",
            "outcome",
            "last restore",
            "directory",
        ]));
        for b in backups {
            let _ = writeln!(
                o,
                "<tr>{}{}{}{}{}{}{}{}{}</tr>",
                tdw(&b.mailbox),
                td(&b.side),
                td(&b.finished_at),
                td(&b.verified),
                tdn(b.messages),
                tdn(bytes(b.bytes)),
                tdw(&b.outcome),
                tdw(&b.restore),
                tdw(&b.dir)
            );
        }
        o.push_str("</tbody></table>\n");
    }
    let recipients = recipient_rows(r);
    if !recipients.is_empty() && r.kind == Kind::Final {
        o.push_str("<h2>Shared mailboxes, lists and permissions</h2>\n");
        let _ = writeln!(o, "<p>{}</p>", html_escape(&recipients_note(r)));
        o.push_str(&table_head(&RECIPIENT_COLUMNS));
        for row in recipients {
            let cells: String = row.iter().map(|c| tdw(c)).collect();
            let _ = writeln!(o, "<tr>{cells}</tr>");
        }
        o.push_str("</tbody></table>\n");
    }
    if r.kind != Kind::Daily {
        for sec in super::lessons::sections(r) {
            html_section(&sec, &mut o);
        }
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

fn metrics_table(m: &super::metrics::Metrics, o: &mut String) {
    o.push_str(&table_head(&["metric", "measured", "met"]));
    for (k, v, ok) in metric_rows(m) {
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

/// A section built as data (`section`): heading, paragraphs, figure, table, list, closing
/// lines; every text escaped (the figure is cutover's own SVG, its text escaped within).
fn html_section(s: &Section, o: &mut String) {
    let _ = writeln!(o, "<h2>{}</h2>", html_escape(&s.heading));
    for p in &s.paragraphs {
        let _ = writeln!(o, "<p>{}</p>", html_escape(p));
    }
    if let Some(f) = &s.figure {
        o.push_str(f);
    }
    if !s.columns.is_empty() && !s.rows.is_empty() {
        let cols: Vec<&str> = s.columns.iter().map(String::as_str).collect();
        o.push_str(&table_head(&cols));
        for row in &s.rows {
            let cells: String = row.iter().map(|c| tdw(c)).collect();
            let _ = writeln!(o, "<tr>{cells}</tr>");
        }
        o.push_str("</tbody></table>\n");
    }
    if !s.items.is_empty() {
        o.push_str("<ul>\n");
        for i in &s.items {
            let _ = writeln!(o, "<li>{}</li>", html_escape(i));
        }
        o.push_str("</ul>\n");
    }
    for p in &s.after {
        let _ = writeln!(o, "<p>{}</p>", html_escape(p));
    }
}

/// Per mailbox with events or contacts, a row per kind (nothing for a mail-only report).
fn html_kinds(r: &Report, o: &mut String) {
    let rows = mailbox_rows(r);
    if rows.is_empty() {
        return;
    }
    o.push_str("<h2>Items per kind</h2>\n");
    o.push_str(&table_head(&KIND_COLUMNS));
    for k in rows {
        let _ = writeln!(
            o,
            "<tr>{}{}{}{}{}{}{}{}</tr>",
            tdw(&k.mailbox),
            td(k.kind.plural()),
            tdn(k.on_source),
            tdn(k.copied),
            tdn(bytes(k.copied_bytes)),
            tdn(k.skipped),
            tdn(k.failed),
            tdn(k.pending)
        );
    }
    o.push_str("</tbody></table>\n");
}
