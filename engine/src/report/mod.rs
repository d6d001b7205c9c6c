//! Daily, weekly and final reports, from the journal only (never from the servers): Markdown, one
//! self-contained HTML file with inline SVG charts, or a per-mailbox statistics CSV in the
//! style of Exchange migration user statistics.
//!
//! [`gather()`] reads the journal into the report model ([`Report`] and its parts, in `model`);
//! `metrics` derives the success metrics and the other figures; `markdown`, `html` (with the
//! charts of `svg`) and `csv` write them; [`render()`] picks the writer for a [`Format`]. The
//! children share what they need through `model` and `fmt`, never through this module.

mod csv;
mod escape;
mod gather;
mod html;
mod kinds;
mod lessons;
mod markdown;
mod metrics;
mod model;
mod recipients;
mod section;
mod svg;
mod weekly;

pub use self::csv::{CSV_COLUMNS, csv};
pub use self::escape::html_escape;
pub use self::gather::{gather, journal_now, week_start};
pub use self::html::html;
pub use self::lessons::{NOTE_SECTIONS, suggestion_texts, suggestions};
pub use self::markdown::markdown;
pub use self::metrics::{Metrics, metrics, next_steps};
pub use self::model::{CheckLine, Format, Kind, MailboxFigures, Report, ReportError, Week};
pub use self::svg::{batches_svg, days_svg, fill_hours, throughput_svg};

/// The report in one format.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Md => markdown(r),
        Format::Html => html(r),
        Format::Csv if r.kind == Kind::Weekly => weekly::csv(r),
        Format::Csv => csv(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{IssueRow, Totals};

    use super::metrics::{metric_rows, opened_closed};
    use crate::mail::fmt::duration;

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
            backups: vec![],
            versions: vec![],
            recipients: vec![],
            recipient_changes: vec![],
            access: vec![],
            notes: vec![],
            week: None,
            folder_rules: (0, 0),
        }
    }

    #[test]
    fn backups_get_a_row_per_mailbox_and_side_only_when_there_are_any() {
        let mut r = report(vec![mailbox("a->a", 10, 10, 0)], vec![]);
        assert!(!markdown(&r).contains("## Backups"));
        assert!(!html(&r).contains("<h2>Backups</h2>"));
        let row = |id, kind: &str, side: &str, verified: Option<&str>| crate::journal::BackupRow {
            id,
            kind: kind.into(),
            mailbox: "a->a".into(),
            side: side.into(),
            dir: "/srv/b".into(),
            started_at: "2026-11-24T10:00:00.000Z".into(),
            finished_at: Some(format!("2026-11-24T1{id}:00:00.000Z")),
            verified_at: verified.map(str::to_string),
            messages: 10,
            bytes: 1000,
            outcome: "complete".into(),
        };
        r.backups = vec![
            row(1, "backup", "source", None),
            row(2, "backup", "source", Some("2026-11-24T13:00:00.000Z")),
            row(3, "restore", "source", None),
        ];
        let lines = r.backup_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].verified, "yes (2026-11-24T13:00:00.000Z)");
        assert!(
            lines[0]
                .restore
                .starts_with("10 restored at 2026-11-24T13:00")
        );
        let md = markdown(&r);
        assert!(
            md.contains(
                "| a->a | source | 2026-11-24T12:00:00.000Z | yes (2026-11-24T13:00:00.000Z) | 10 |"
            ),
            "{md}"
        );
        assert!(html(&r).contains("<h2>Backups</h2>"));
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
        // No loss claimed without a passing full content verification of every mailbox.
        let mut a = mailbox("a", 10, 8, 2);
        let m2 = metrics(&report(vec![a.clone()], vec![]));
        // No access check ran: the access metric is unknown, not met.
        assert!(m2.all_migrated() && !m2.access_ok());
        assert!(!m2.zero_loss());
        assert_eq!(m2.unproven, vec!["a: never verified".to_string()]);
        let pass = crate::journal::VerificationRow {
            mailbox: "a".into(),
            ok: true,
            at: "2026-11-25T10:00:00.000Z".into(),
            method: "content".into(),
            scope: "sample".into(),
            sample_percent: Some(10.0),
            sample_seed: Some(42),
            ..Default::default()
        };
        a.verification = Some(pass.clone());
        let m3 = metrics(&report(vec![a.clone()], vec![]));
        assert!(!m3.zero_loss());
        assert!(m3.unproven[0].contains("a sample is no proof"), "{m3:?}");
        a.verification = Some(crate::journal::VerificationRow {
            scope: "full".into(),
            ..pass.clone()
        });
        let m4 = metrics(&report(vec![a.clone()], vec![]));
        assert!(m4.zero_loss(), "{m4:?}");
        let md = markdown(&report(vec![a.clone()], vec![]));
        assert!(
            md.contains("1 / 1 (verified 2026-11-25T10:00:00.000Z)"),
            "{md}"
        );
        // A copy that finished after the verification is not covered by it.
        a.finished_at = Some("2026-11-25T11:00:00.000Z".into());
        assert!(!metrics(&report(vec![a], vec![])).zero_loss());
    }

    #[test]
    fn access_threshold_is_strictly_below_one_percent_of_checked_mailboxes() {
        let m = |not_ready, checked, n| Metrics {
            access_not_ready: not_ready,
            access_checked: checked,
            mailboxes: n,
            ..Default::default()
        };
        assert!(m(0, 1, 1).access_ok());
        assert!(m(1, 101, 101).access_ok());
        assert!(!m(1, 100, 100).access_ok());
        assert!(!m(50, 5000, 5000).access_ok());
        assert!(m(49, 5000, 5000).access_ok());
        // A mailbox never checked: unknown, so not met; none checked at all: not 0%.
        assert!(!m(0, 4, 5).access_ok());
        assert!(!m(0, 0, 5).access_ok());
        assert!(!m(0, 0, 0).access_ok());
    }

    #[test]
    fn the_access_metric_reads_the_latest_checks_with_their_dates() {
        let mut r = report(
            vec![mailbox("a", 1, 1, 0), mailbox("b", 1, 1, 0)],
            vec![issue(1, "error", "auth", Some("a"), "open")],
        );
        let row = |r: &Report| metric_rows(&metrics(r))[2].clone();
        let (_, v, ok) = row(&r);
        assert!(!ok);
        assert!(v.starts_with("no access check ran"), "{v}");
        assert!(v.ends_with("own sign-ins: 1"), "{v}");
        let check = |mb: &str, ready, at: &str| crate::journal::AccessRow {
            mailbox: mb.into(),
            at: at.into(),
            ready,
            state: if ready { "ready" } else { "no-mailbox" }.into(),
            ..Default::default()
        };
        r.access = vec![check("a", true, "2026-11-25T10:00:00.000Z")];
        let (_, v, ok) = row(&r);
        assert!(!ok);
        assert!(
            v.starts_with(
                "0 / 1 = 0.00% (checked 2026-11-25T10:00:00.000Z); 1 mailbox(es) never checked"
            ),
            "{v}"
        );
        r.access.push(check("b", false, "2026-11-25T11:00:00.000Z"));
        r.access
            .push(check("gone", false, "2026-11-25T12:00:00.000Z"));
        let (_, v, ok) = row(&r);
        assert!(!ok);
        assert!(
            v.starts_with(
                "1 / 2 = 50.00% (checked 2026-11-25T10:00:00.000Z to 2026-11-25T11:00:00.000Z);"
            ),
            "{v}"
        );
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

    #[test]
    fn kinds_appear_only_when_a_mailbox_has_events_or_contacts() {
        use crate::api::{ItemKind, KindTotals};
        let mail_only = report(vec![mailbox("a", 10, 8, 2)], vec![]);
        for f in [Format::Md, Format::Html, Format::Csv] {
            let s = render(&mail_only, f);
            assert!(
                !s.contains("per kind") && !s.contains("EventItemCount"),
                "{s}"
            );
        }
        let mut m = mailbox("cal", 5, 4, 0);
        m.totals.by_kind.insert(
            ItemKind::Mail,
            KindTotals {
                items: 2,
                copied: 2,
                ..Default::default()
            },
        );
        m.totals.by_kind.insert(
            ItemKind::Event,
            KindTotals {
                items: 3,
                copied: 2,
                skipped: 1,
                copied_bytes: 2048,
                ..Default::default()
            },
        );
        let r = report(vec![mailbox("a", 10, 8, 2), m], vec![]);
        let md = render(&r, Format::Md);
        assert!(md.contains("## Items per kind"), "{md}");
        assert!(
            md.contains("| cal | events | 3 | 2 | 2.0 kB | 1 | 0 | 0 |"),
            "{md}"
        );
        assert!(md.contains("| cal | messages | 2 | 2 |"), "{md}");
        // The mail-only mailbox is not repeated per kind.
        assert!(!md.contains("| a | messages |"), "{md}");
        assert!(
            md.contains("| events | 2 copied of 3 on the source"),
            "{md}"
        );
        let html = render(&r, Format::Html);
        assert!(html.contains("<h2>Items per kind</h2>"), "{html}");
        assert!(html.contains("<td>events</td>"), "{html}");
        let csv = render(&r, Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(
            "MailItemCount,MailSyncedItemCount,EventItemCount,EventSyncedItemCount,ContactItemCount,ContactSyncedItemCount"
        ));
        assert!(lines[2].ends_with(",2,2,3,2,0,0"), "{csv}");
        // A mail-only mailbox of a mixed report: zeros for the kinds it has not.
        assert!(lines[1].ends_with(",0,0,0,0,0,0"), "{csv}");
    }
}
