//! Issue records and reports against a real migration with injected faults (a wrong password,
//! an oversize message): the journal's issues, then `cutover report` (md, html, csv) with the
//! real binary, every figure checked against the journal; and no password anywhere.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cutover_engine::journal::inspect::MessageRow;
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-report")
        .tempdir()
        .unwrap()
}

const ALICE_PW: &str = "alice-Secret-7f3a";
const BOB_PW: &str = "bob-Secret-91c2";
const BOB_WRONG_PW: &str = "bob-Wrong-5d0e";
const DAN_PW: &str = "dan-Secret-22aa";

/// RFC 4180 records, read by the `csv` crate (an independent parser).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(s.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Per mailbox key, from the journal: (state, folders, messages, copied, copied bytes,
/// skipped, failed, pending, expunged).
type Figures = (String, i64, i64, i64, i64, i64, i64, i64, i64);

fn journal_figures(j: &Journal) -> BTreeMap<String, Figures> {
    let messages = j.message_rows().unwrap();
    j.mailbox_rows()
        .unwrap()
        .into_iter()
        .map(|mb| {
            let ms: Vec<_> = messages
                .iter()
                .filter(|m| m.mailbox == mb.key && m.state != "superseded")
                .collect();
            let count =
                |f: &dyn Fn(&&MessageRow) -> bool| ms.iter().filter(|m| f(m)).count() as i64;
            let copied_bytes: u64 = ms
                .iter()
                .filter(|m| m.state == "copied")
                .map(|m| m.size)
                .sum();
            let figures = (
                mb.state,
                j.folders_of(mb.id).unwrap().len() as i64,
                ms.len() as i64,
                count(&|m| m.state == "copied"),
                copied_bytes as i64,
                count(&|m| m.state == "skipped"),
                count(&|m| m.state == "failed"),
                count(&|m| m.state == "pending" || m.state == "appending"),
                count(&|m| {
                    m.state == "skipped"
                        && m.reason
                            .as_deref()
                            .is_some_and(|r| r.to_lowercase().starts_with("expunged"))
                }),
            );
            (mb.key, figures)
        })
        .collect()
}

fn report(p: &ProjectDir, kind: &str, format: &str, out: Option<&Path>) -> String {
    let mut args = vec!["report", "--kind", kind, "--format", format];
    let out_s;
    if let Some(o) = out {
        out_s = o.display().to_string();
        args.extend(["--out", &out_s]);
    }
    let o = p.cutover(&args);
    assert_eq!(o.status.code(), Some(0), "report: {}", text(&o));
    match out {
        Some(path) => {
            assert!(o.stdout.is_empty(), "--out writes nothing to stdout");
            std::fs::read_to_string(path).unwrap()
        }
        None => stdout(&o),
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn issues_are_recorded_folded_and_reported_with_the_journals_figures() {
    let root = tmp();
    let users = [("alice", ALICE_PW), ("bob", BOB_PW), ("dan", DAN_PW)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(
        "alice",
        40,
        11,
        &["--no-tricky", "--huge", "--huge-mb", "3"],
    );
    src.seed("bob", 10, 12, &["--no-tricky"]);
    src.seed("dan", 5, 13, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "pilot",
                user: "alice",
                pass: ALICE_PW,
            },
            MailboxLine {
                batch: "pilot",
                user: "bob",
                pass: BOB_WRONG_PW,
            },
            MailboxLine {
                batch: "wave-2",
                user: "dan",
                pass: DAN_PW,
            },
        ])
        .set("destination.max_message_size", "2 MiB")
        .create();
    // Before anything ran there is nothing to report.
    let none = p.cutover(&["report", "--kind", "final"]);
    assert_eq!(none.status.code(), Some(9), "{}", text(&none));
    assert!(text(&none).contains("nothing to report"), "{}", text(&none));

    let mut outputs = Vec::new();
    let run = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(run.status.code(), Some(6), "partial: {}", text(&run));
    outputs.push(text(&run));

    let j = p.journal();
    let issues = all_issues(&j);
    // The wrong password: one auth issue on bob's mailbox, no folder, no UID.
    type AuthRow = (String, Option<String>, Option<i64>, i64, String, String);
    let auth: Vec<AuthRow> = issues
        .iter()
        .filter(|i| i.category == "auth" && i.mailbox.as_deref() == Some("bob->bob"))
        .map(|i| {
            (
                i.severity.clone(),
                i.folder.clone(),
                i.uid.map(i64::from),
                i64::from(i.count),
                i.message.clone(),
                i.state.clone(),
            )
        })
        .collect();
    assert_eq!(auth.len(), 1, "{auth:?}");
    assert_eq!(auth[0].0, "error");
    assert_eq!((auth[0].1.as_deref(), auth[0].2), (None, None));
    assert_eq!(auth[0].3, 1);
    assert!(auth[0].4.contains("login as bob refused"), "{auth:?}");
    assert_eq!(auth[0].5, "open");

    // The oversize message(s): one warning each, on alice's mailbox, folder and source UID,
    // exactly the messages journalled as skipped.
    let mut oversize: Vec<(String, String, i64, i64)> = issues
        .iter()
        .filter(|i| i.category == "oversize" && i.mailbox.as_deref() == Some("alice->alice"))
        .map(|i| {
            (
                i.severity.clone(),
                i.folder
                    .clone()
                    .expect("an oversize issue names its folder"),
                i64::from(i.uid.expect("an oversize issue names its UID")),
                i64::from(i.count),
            )
        })
        .collect();
    oversize.sort_by_key(|o| o.2);
    let mut skipped: Vec<(String, i64)> = j
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "skipped")
        .map(|m| (m.folder, i64::from(m.src_uid)))
        .collect();
    skipped.sort_by_key(|s| s.1);
    assert!(!skipped.is_empty(), "the seed has a message over 2 MiB");
    assert_eq!(oversize.len(), skipped.len(), "{oversize:?} vs {skipped:?}");
    for (o, s) in oversize.iter().zip(&skipped) {
        assert_eq!(o.0, "warning");
        assert_eq!((&o.1, o.2), (&s.0, s.1));
        assert_eq!(o.3, 1);
    }
    // Mailbox durations are journalled for finished and failed mailboxes.
    let unset = j
        .mailbox_rows()
        .unwrap()
        .iter()
        .filter(|m| m.started_at.is_none() || m.finished_at.is_none())
        .count();
    assert_eq!(unset, 0);
    drop(j);

    // Run again, with the most verbose logging: the auth failure folds into the same record (count 2);
    // the oversize messages are not raised again (they are skipped for good).
    let run2 = Command::new(bin())
        .args(["run"])
        .arg(&p.path)
        .args(["--batch", "pilot"])
        .env("CUTOVER_LOG", "trace,async_imap=trace")
        .output()
        .unwrap();
    assert_eq!(run2.status.code(), Some(6), "{}", text(&run2));
    outputs.push(text(&run2));
    let issues = all_issues(&p.journal());
    // (how many, the highest count) of the issues that match.
    let folded = |f: &dyn Fn(&IssueRow) -> bool| {
        let m: Vec<&IssueRow> = issues.iter().filter(|i| f(i)).collect();
        (m.len(), m.iter().map(|i| i.count).max())
    };
    assert_eq!(
        folded(&|i| i.category == "auth" && i.mailbox.as_deref() == Some("bob->bob")),
        (1, Some(2)),
        "a repeat folds into one record"
    );
    assert_eq!(
        folded(&|i| i.category == "oversize"),
        (skipped.len(), Some(1))
    );

    // An operator resolves one oversize issue with a note (the console's ResolveIssue).
    let store = cutover_engine::journal::Journal::open(
        &p.dir.path().join("state.sqlite"),
        cutover_engine::config::Durability::Crash,
    )
    .unwrap();
    let oversize_id = all_issues(&p.journal())
        .iter()
        .filter(|i| i.category == "oversize")
        .map(|i| i.id)
        .min()
        .unwrap();
    store
        .set_issue_state(
            oversize_id,
            "resolved",
            "maria",
            Some("user told; attachment sent by file share"),
        )
        .unwrap();
    drop(store);
    let resolved = all_issues(&p.journal())
        .into_iter()
        .find(|i| i.id == oversize_id)
        .unwrap();
    assert_eq!(
        (
            resolved.state.as_str(),
            resolved.state_by.as_deref(),
            resolved.note.as_deref()
        ),
        (
            "resolved",
            Some("maria"),
            Some("user told; attachment sent by file share")
        )
    );
    assert!(resolved.state_at.is_some());

    // The figures every report must show, from the journal.
    let figs = journal_figures(&p.journal());
    let alice = figs["alice->alice"].clone();
    let bob = figs["bob->bob"].clone();
    assert!(!figs.contains_key("dan->dan"), "dan's batch never ran");
    assert_eq!(alice.0, "done");
    assert_eq!(bob.0, "failed");
    assert!(alice.3 > 0 && alice.5 as usize == skipped.len());
    let on_source: i64 = figs.values().map(|f| f.2 - f.8).sum();
    let copied: i64 = figs.values().map(|f| f.3).sum();

    // CSV: one row per mailbox of the project (dan's too, not started), counts from the journal.
    let csv_path = p.dir.path().join("users.csv");
    let csv = report(&p, "final", "csv", Some(&csv_path));
    outputs.push(csv.clone());
    let rows = parse_csv(&csv);
    let head = &rows[0];
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 4, "header + 3 mailboxes:\n{csv}");
    for row in &rows[1..] {
        assert_eq!(row.len(), head.len(), "{row:?}");
        let key = format!(
            "{}->{}",
            row[col("SourceUser")],
            row[col("DestinationUser")]
        );
        assert_eq!(row[col("Identity")], row[col("DestinationUser")]);
        match figs.get(&key) {
            Some(f) => {
                assert_eq!(row[col("Status")], f.0, "{key}");
                // A mailbox that never got listed has no known size on the source.
                let listed = f.1 > 0;
                assert_eq!(
                    row[col("TotalItemsInSourceMailboxCount")],
                    if listed {
                        (f.2 - f.8).to_string()
                    } else {
                        String::new()
                    },
                    "{key}"
                );
                assert_eq!(row[col("SyncedItemCount")], f.3.to_string(), "{key}");
                assert_eq!(row[col("BytesTransferred")], f.4.to_string(), "{key}");
                assert_eq!(row[col("SkippedItemCount")], f.5.to_string(), "{key}");
                assert_eq!(row[col("FailedItemCount")], f.6.to_string(), "{key}");
                assert_eq!(row[col("PendingItemCount")], f.7.to_string(), "{key}");
                assert!(!row[col("StartTimestamp")].is_empty());
                assert!(!row[col("CompletionTimestamp")].is_empty());
            }
            None => {
                assert_eq!(key, "dan->dan");
                assert_eq!(row[col("Batch")], "wave-2");
                assert_eq!(row[col("Status")], "not started");
                assert_eq!(row[col("SyncedItemCount")], "0");
                assert_eq!(row[col("TotalItemsInSourceMailboxCount")], "");
            }
        }
    }
    let bob_row = rows.iter().find(|r| r[col("SourceUser")] == "bob").unwrap();
    assert!(
        bob_row[col("LastError")].contains("login as bob refused"),
        "{bob_row:?}"
    );

    // Markdown (stdout): summary, metrics, per-mailbox rows, skipped reasons, issues.
    let md = report(&p, "final", "md", None);
    outputs.push(md.clone());
    assert!(md.starts_with("# Final report: test"), "{md}");
    assert!(
        md.contains(&format!(
            "| messages on the source | {on_source} (not counting 2 mailbox(es) never listed) |"
        )),
        "{md}"
    );
    let pct = |n: i64, d: i64| {
        let h = n * 10_000 / d;
        format!("{}.{:02}%", h / 100, h % 100)
    };
    assert!(
        md.contains(&format!(
            "| {copied} / {on_source} = {}; 2 mailbox(es) never listed | NO |",
            pct(copied, on_source)
        )),
        "100% migrated is not met (oversize skipped):\n{md}"
    );
    // No issue and every folder copied, but nothing content-verified: no zero-loss claim.
    let zero = md
        .lines()
        .find(|l| l.starts_with("| zero data loss"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        zero.contains("folders not copied) | 0 / 3; 0; 0; unverified: ")
            && zero.contains("alice->alice: never verified")
            && zero.ends_with("| NO |"),
        "{zero}"
    );
    // No `cutover access` ran: the access metric says so (never 0%), with the auth issue of
    // the migration's own sign-in beside it.
    assert!(
        md.contains(
            "| no access check ran (cutover access PROJECT): unknown; unresolved auth issues of the migration's own sign-ins: 1 | NO |"
        ),
        "auth: 1 of 3:\n{md}"
    );
    let row = format!(
        "| alice->alice | pilot | done | {} | {} | {} |",
        alice.1,
        alice.2 - alice.8,
        alice.3
    );
    assert!(md.contains(&row), "no {row:?} in\n{md}");
    let verification = format!(
        "| alice->alice | {} | {} | {} | 0 |",
        alice.2 - alice.8,
        alice.3,
        alice.2 - alice.8 - alice.3
    );
    assert!(md.contains(&verification), "no {verification:?} in\n{md}");
    assert_eq!(bob.1, 0, "bob's folders were never listed");
    assert!(
        md.contains("| bob->bob | pilot | failed | 0 | - | 0 |"),
        "{md}"
    );
    assert!(md.contains("| bob->bob | - | 0 | - | 0 |"), "{md}");
    assert!(
        md.contains("| alice->alice | skipped | message of")
            && md.contains(&format!("not copied | {} |", skipped.len())),
        "{md}"
    );
    assert!(
        md.contains("resolved by maria at ")
            && md.contains(": user told; attachment sent by file share |"),
        "{md}"
    );
    assert!(
        md.contains("- retry mailbox bob->bob (batch pilot)"),
        "{md}"
    );
    assert!(
        md.contains("- start batch wave-2 (1 mailbox(es), not started)"),
        "{md}"
    );
    assert!(md.contains("| auth | a server refused the login"), "{md}");

    // HTML: one self-contained file with inline SVG charts and print CSS.
    let html_path = p.dir.path().join("final.html");
    let html = report(&p, "final", "html", Some(&html_path));
    outputs.push(html.clone());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<svg") && html.contains("<rect"),
        "inline charts"
    );
    assert!(html.contains("@media print"));
    let lower = html.to_lowercase();
    for bad in ["src=", "href=", "<link", "<script", "@import", "url("] {
        assert!(
            !lower.contains(bad),
            "external resource {bad:?} in the HTML"
        );
    }
    assert!(html.contains(&format!("<td class=\"n\">{on_source}</td>")));
    assert!(html.contains("alice-&gt;alice"), "keys are escaped");
    assert!(!html.contains("alice->alice"));

    // Daily: the first covers everything; the next one (right after) nothing new.
    let d1 = report(&p, "daily", "md", None);
    outputs.push(d1.clone());
    assert!(d1.contains("since the beginning"), "{d1}");
    let alice_daily = format!("| alice->alice | pilot | done | {} | ", alice.3);
    assert!(d1.contains(&alice_daily), "no {alice_daily:?} in\n{d1}");
    let d2 = report(&p, "daily", "md", None);
    outputs.push(d2.clone());
    assert!(d2.contains("since the last daily report ("), "{d2}");
    assert!(d2.contains("| alice->alice | pilot | done | 0 | "), "{d2}");
    assert!(d2.contains("No message copied in this window."), "{d2}");
    assert!(d2.contains("0 opened, 0 resolved in the window"), "{d2}");
    let reports = p.journal().report_rows().unwrap().len();
    assert_eq!(reports, 5, "every report run is recorded");

    // Weekly: the migration ran just now, so the week holds all of it; the figures are the
    // journal's. No access check ran: the metric says so, not 0%.
    let w = report(&p, "weekly", "md", None);
    outputs.push(w.clone());
    assert!(w.starts_with("# Weekly report: "), "{w}");
    assert!(w.contains(&format!("| week | 1 | {copied} | ")), "{w}");
    assert!(
        w.contains("no access check ran (cutover access PROJECT): unknown"),
        "{w}"
    );
    assert!(w.contains("Timeline against the planned dates"), "{w}");
    assert!(w.contains("| hours of copy runs | "), "{w}");
    // Lessons and recommendations: suggestions until the operator writes them.
    let oversized = format!(
        "- suggestion: {} oversize item(s) were skipped (over the destination's size limit): alice->alice.",
        skipped.len()
    );
    assert!(w.contains(&oversized), "no {oversized:?} in\n{w}");
    assert!(
        w.contains("- suggestion: Check every mailbox's credentials"),
        "{w}"
    );
    let bad = p.cutover(&["report", "--note", "summary", "x"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let empty = p.cutover(&["report", "--note", "lessons", "  "]);
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));
    let noted = p
        .cutover_as("ops-anna")
        .args([
            "--note",
            "lessons",
            "Bob's password was wrong in the CSV.\nCheck logins first.",
        ])
        .output()
        .unwrap();
    assert_eq!(noted.status.code(), Some(0), "{}", text(&noted));
    let f = report(&p, "final", "md", None);
    outputs.push(f.clone());
    let lessons = f.split("## Lessons learned").nth(1).unwrap();
    assert!(lessons.contains("Written by ops-anna on "), "{f}");
    assert!(
        lessons.contains("- Bob's password was wrong in the CSV.\n- Check logins first.\n"),
        "{f}"
    );
    let recs = lessons.split("## Recommendations").nth(1).unwrap();
    assert!(recs.contains("- suggestion: "), "{f}");
    let notes = p.journal().latest_notes().unwrap();
    assert_eq!(
        (notes[0].section.as_str(), notes[0].by.as_str()),
        ("lessons", "ops-anna")
    );

    // No password anywhere: logs (at the most verbose level), reports, journal bytes, output.
    let mut files = Vec::new();
    all_files(p.dir.path(), &mut files);
    let mut checked = 0;
    for f in files.iter().filter(|f| !f.ends_with("project.toml")) {
        let bytes = std::fs::read(f).unwrap();
        let s = String::from_utf8_lossy(&bytes);
        for pw in [ALICE_PW, BOB_PW, BOB_WRONG_PW, DAN_PW] {
            assert!(!s.contains(pw), "password found in {}", f.display());
        }
        checked += 1;
    }
    let logs = p.dir.path().join("cutover-logs");
    assert!(
        files.iter().any(|f| f.starts_with(&logs)),
        "logs were written to {}",
        logs.display()
    );
    assert!(files.iter().any(|f| f.ends_with("state.sqlite")));
    assert!(checked >= 4);
    for o in &outputs {
        for pw in [ALICE_PW, BOB_PW, BOB_WRONG_PW, DAN_PW] {
            assert!(!o.contains(pw), "password in output:\n{o}");
        }
    }
}

trait AsUser {
    /// `cutover report PROJECT` run as another OS user (`$USER`), arguments to follow.
    fn cutover_as(&self, user: &str) -> Command;
}

impl AsUser for ProjectDir {
    fn cutover_as(&self, user: &str) -> Command {
        let mut c = Command::new(support::bin());
        c.arg("report").arg(&self.path).env("USER", user);
        c
    }
}

/// The console resolves through the engine's command channel, never the store: the command
/// lands in the journal with the operator and the note, and the next snapshot shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_from_the_console_goes_through_the_engine_into_the_journal() {
    use cutover_engine::api::Command;
    use cutover_engine::engine::control::spawn;
    let dir = tmp();
    let path = ProjectBuilder::new("t")
        .source(project::imap(9))
        .destination(project::imap(9))
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "u",
            pass: "p",
        }])
        .write(dir.path());
    let project = cutover_engine::config::load(&path).unwrap();
    let store =
        cutover_engine::journal::Journal::open(&project.state_path, project.durability).unwrap();
    store
        .record_issue(&cutover_engine::journal::Issue {
            severity: "warning",
            category: "oversize",
            mailbox: Some("u->u"),
            folder: Some("INBOX"),
            uid: Some(7),
            message: "too big",
        })
        .unwrap();
    let id = store.issue_rows(1).unwrap()[0].id;
    let handle = spawn(project, store).unwrap();
    handle.send(Command::AckIssue {
        id,
        operator: "maria".into(),
    });
    handle.send(Command::ResolveIssue {
        id,
        note: "user told".into(),
        operator: "joe".into(),
    });
    let mut rx = handle.snapshots.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let done = rx
            .borrow()
            .issues
            .iter()
            .any(|i| i.id == id && i.state == "resolved");
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the snapshot never showed the issue resolved"
        );
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.changed()).await;
    }
    let snap = rx.borrow().clone();
    let i = snap.issues.iter().find(|i| i.id == id).unwrap();
    assert_eq!(i.state_by.as_deref(), Some("joe"));
    assert_eq!(i.note.as_deref(), Some("user told"));
    let row = all_issues(&read_journal(&dir.path().join("state.sqlite")))
        .into_iter()
        .find(|i| i.id == id)
        .map(|i| (i.state, i.state_by, i.note))
        .unwrap();
    assert_eq!(
        row,
        (
            "resolved".into(),
            Some("joe".into()),
            Some("user told".into())
        )
    );
}

/// The console's lessons editor (Issues tab, `L`): pre-filled with cutover's suggestions from
/// the journal, edited, saved with ctrl-s through the engine into the journal (who, when);
/// the next snapshot and the final report show it. Esc saves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lessons_written_in_the_console_are_journalled_and_reported() {
    use cutover::ui::app::{App, Effect, Modal, key};
    use cutover_engine::api::NoteSection;
    use cutover_engine::engine::control::spawn;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let dir = tmp();
    let path = ProjectBuilder::new("t")
        .source(project::imap(9))
        .destination(project::imap(9))
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "u",
            pass: "p",
        }])
        .write(dir.path());
    let project = cutover_engine::config::load(&path).unwrap();
    let store =
        cutover_engine::journal::Journal::open(&project.state_path, project.durability).unwrap();
    store
        .record_issue(&cutover_engine::journal::Issue {
            severity: "warning",
            category: "oversize",
            mailbox: Some("u->u"),
            folder: Some("INBOX"),
            uid: Some(7),
            message: "too big",
        })
        .unwrap();
    let handle = spawn(project.clone(), store).unwrap();
    let mut rx = handle.snapshots.clone();
    // The suggestions are gathered off the engine's loop: a snapshot soon carries them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let snap = loop {
        let snap = rx.borrow().clone();
        if snap.notes.iter().any(|n| !n.suggestions.is_empty()) {
            break snap;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no suggestions: {:?}",
            snap.notes
        );
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.changed()).await;
    };
    assert_eq!(snap.notes.len(), 2, "{:?}", snap.notes);
    let mut app = App::new(
        snap,
        cutover::ui::theme::Theme::load("default").unwrap(),
        "joe".into(),
    );
    // Esc leaves the recommendations unsaved.
    for c in ['3', 'M'] {
        app.on_key(key(KeyCode::Char(c)));
    }
    assert!(matches!(
        app.modal,
        Modal::ReportNote(NoteSection::Recommendations, _)
    ));
    app.on_key(key(KeyCode::Esc));
    assert!(matches!(app.modal, Modal::None));
    assert!(app.take_effects().is_empty());
    // L: the suggestions, marked.
    app.on_key(key(KeyCode::Char('L')));
    let Modal::ReportNote(NoteSection::Lessons, t) = &app.modal else {
        panic!("no lessons editor");
    };
    assert_eq!(
        t.lines()[0],
        "suggestion: 1 oversize item(s) were skipped (over the destination's size limit): u->u."
    );
    // A line of the operator's own above the suggestions, then ctrl-s.
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Up));
    for c in "Users were told late.".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert!(matches!(app.modal, Modal::None));
    let effects = app.take_effects();
    let [Effect::Send(c)] = &effects[..] else {
        panic!("{effects:?}");
    };
    let cutover_engine::api::Command::SetReportNote {
        section,
        text,
        operator,
    } = c
    else {
        panic!("{c:?}");
    };
    assert_eq!((*section, operator.as_str()), (NoteSection::Lessons, "joe"));
    assert!(
        text.starts_with("Users were told late.\n1 oversize item(s) were skipped"),
        "{text}"
    );
    handle.send(c.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let shown = rx
            .borrow()
            .notes
            .iter()
            .any(|n| n.section == NoteSection::Lessons && n.by.as_deref() == Some("joe"));
        if shown {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the snapshot never showed the note"
        );
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.changed()).await;
    }
    let j = read_journal(&dir.path().join("state.sqlite"));
    let notes = j.latest_notes().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].by.as_str(), notes[0].text.as_str()),
        ("joe", text.as_str())
    );
    let r = cutover_engine::report::gather(
        &project,
        &j,
        cutover_engine::report::Kind::Final,
        None,
        &cutover_engine::report::journal_now(),
    )
    .unwrap();
    let md = cutover_engine::report::markdown(&r);
    let lessons = md.split("## Lessons learned").nth(1).unwrap();
    assert!(lessons.contains("Written by joe on "), "{md}");
    assert!(
        lessons.contains("- Users were told late.\n- 1 oversize item(s) were skipped"),
        "{md}"
    );
}
