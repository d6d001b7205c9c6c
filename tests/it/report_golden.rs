//! Golden files of the reports: the Markdown, HTML and CSV that `cutover report` writes, checked
//! byte for byte (as insta snapshots, beside the console's) against a real journal.
//!
//! The journal is a real SQLite file built through the journal's API as a migration would
//! leave it: a mailbox done (with oversize and expunged messages), one whose login was refused,
//! one not started, one still running with a pending message, a failed one and a folder the
//! destination refused (its name in modified UTF-7), and one the journal knows from an earlier
//! project file (with Gmail duplicates); issues open, acknowledged and resolved; a checklist
//! half ticked; verifications full, sampled and from before content verification. The journal writes its own timestamps (SQLite's clock), so the test then sets
//! the clock: every timestamp is pinned to a fixed time, and the reports are gathered with a
//! fixed end of window, so the files are the same on every run.

use std::path::Path;

use cutover_engine::config::{self, Durability, Project};
use cutover_engine::journal::{
    AssessmentRows, EXPUNGED_REASON, GmailSeenRow, Issue, Journal, RiskRow, VerificationScope,
    folder_state,
};
use cutover_engine::report::{self, Format, Kind};

const PROJECT: &str = r#"
[project]
name = "Acme Corp: legacy IMAP to new IMAP"
state = "journal.sqlite"

[source]
kind = "imap"
host = "imap.old.example"

[destination]
kind = "imap"
host = "imap.new.example"

[[mailbox]]
batch = "pilot"
source = { user = "alice", password = "a" }
destination = { user = "alice@new.example", password = "a" }

[[mailbox]]
batch = "pilot"
source = { user = "bob", password = "b" }
destination = { user = "bob@new.example", password = "b" }

[[mailbox]]
batch = "wave-2"
source = { user = "carol", password = "c" }
destination = { user = "carol@new.example", password = "c" }

[[mailbox]]
batch = "wave-2"
type = "shared"
source = { user = "dan", password = "d" }
destination = { user = "dan@new.example", password = "d" }

[recipients]
csv = "recipients.csv"

[folders]
rename = [{ from = "^Sent$", to = "Sent Items" }]

[batch.pilot]
start = "2026-11-24"
planned = "2026-11-24"

[batch.wave-2]
start = "2026-11-25"
planned = "2026-11-27"

[[check]]
id = "backup"
title = "Backup of the old server taken"

[[check]]
id = "users-told"
section = "Communication"
title = "Users told of the cutover date"
required = false
"#;

const ALICE: &str = "alice->alice@new.example";
const BOB: &str = "bob->bob@new.example";
const DAN: &str = "dan->dan@new.example";
/// Known from an earlier project file only.
const ERIN: &str = "erin->erin@new.example";

/// The previous daily report, and the ends of the two windows.
const SINCE: &str = "2026-11-25T00:00:00.000Z";
const DAILY_UNTIL: &str = "2026-11-25T12:00:00.000Z";
const FINAL_UNTIL: &str = "2026-11-26T00:00:00.000Z";
/// The weekly report's end: its window is 2026-11-19T00:00 to here.
const WEEKLY_UNTIL: &str = "2026-11-25T18:00:00.000Z";

/// What becomes of a source message.
enum Fate {
    Copied,
    Pending,
    Skipped(&'static str),
    Failed(&'static str),
}

/// One listed folder and its messages: (UID, size, fate, when the journal last wrote it).
fn folder(
    j: &Journal,
    mailbox: i64,
    src: &str,
    dst: &str,
    msgs: &[(u32, u64, Fate, &str)],
    db: &rusqlite::Connection,
) {
    let f = j.folder(mailbox, src, dst).unwrap();
    j.set_src_uidvalidity(f.id, 7).unwrap();
    let list: Vec<(u32, u64)> = msgs.iter().map(|m| (m.0, m.1)).collect();
    let high = list.iter().map(|m| m.0).max().unwrap_or(0);
    j.add_pending(f.id, 7, &list, high, high + 1).unwrap();
    j.set_folder_state(f.id, folder_state::LISTED).unwrap();
    let rows = j.pending(f.id, 7).unwrap();
    for (uid, _, fate, at) in msgs {
        let id = rows.iter().find(|r| r.src_uid == *uid).unwrap().id;
        match fate {
            Fate::Copied => {
                j.mark_copied(&[(id, Some(*uid + 100))], 9).unwrap();
            }
            Fate::Pending => {}
            Fate::Skipped(reason) => j.mark_skipped(id, "skipped", reason).unwrap(),
            Fate::Failed(reason) => j.mark_skipped(id, "failed", reason).unwrap(),
        }
        pin(
            db,
            "UPDATE messages SET updated_at = ?2 WHERE id = ?1",
            id,
            at,
        );
    }
}

/// Set one timestamp the journal wrote with SQLite's clock.
fn pin(db: &rusqlite::Connection, sql: &str, id: impl rusqlite::ToSql, at: &str) {
    assert_eq!(
        db.execute(sql, rusqlite::params![id, at]).unwrap(),
        1,
        "{sql}"
    );
}

fn issue(
    j: &Journal,
    severity: &str,
    category: &str,
    mailbox: &str,
    folder: Option<&str>,
    uid: Option<u32>,
    message: &str,
) {
    j.record_issue(&Issue {
        severity,
        category,
        mailbox: Some(mailbox),
        folder,
        uid,
        message,
    })
    .unwrap();
}

/// The journal as the migration left it, every timestamp pinned.
fn journal(dir: &Path) -> Journal {
    let path = dir.join("journal.sqlite");
    let j = Journal::open(&path, Durability::Crash).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    let mailbox =
        |key: &str, batch: &str, at: (&str, Option<&str>), state: &str, error: Option<&str>| {
            let (src, dst) = key.split_once("->").unwrap();
            let id = j.upsert_mailbox(key, batch, src, dst).unwrap();
            j.set_mailbox_state(id, "running", None).unwrap();
            if state != "running" {
                j.set_mailbox_state(id, state, error).unwrap();
            }
            pin(
                &db,
                "UPDATE mailboxes SET started_at = ?2 WHERE id = ?1",
                id,
                at.0,
            );
            if let Some(f) = at.1 {
                pin(
                    &db,
                    "UPDATE mailboxes SET finished_at = ?2 WHERE id = ?1",
                    id,
                    f,
                );
            }
            id
        };

    // Erin: migrated in an earlier trial, from a Gmail-shaped source.
    let erin = mailbox(
        ERIN,
        "trial",
        ("2026-11-24T19:58:00.000Z", Some("2026-11-24T20:05:30.000Z")),
        "done",
        None,
    );
    folder(
        &j,
        erin,
        "INBOX",
        "INBOX",
        &[
            (1, 5_200, Fate::Copied, "2026-11-24T20:01:00.000Z"),
            (2, 14_000, Fate::Copied, "2026-11-24T20:04:00.000Z"),
        ],
        &db,
    );
    let seen = |folder: &str, uid, ident: &str, own| GmailSeenRow {
        folder: folder.into(),
        uidvalidity: 7,
        uid,
        ident: ident.into(),
        own,
        keywords: String::new(),
        reason: None,
    };
    j.add_gmail_seen(
        erin,
        &[
            seen("INBOX", 1, "m1", true),
            seen("INBOX", 2, "m2", true),
            seen("[Gmail]/All Mail", 11, "m1", false),
            seen("[Gmail]/All Mail", 12, "m2", false),
        ],
    )
    .unwrap();

    // Alice: done, over two sessions; one message too large, one deleted by its owner.
    let alice = mailbox(
        ALICE,
        "pilot",
        ("2026-11-24T22:00:00.000Z", Some("2026-11-25T01:31:05.250Z")),
        "done",
        None,
    );
    folder(
        &j,
        alice,
        "INBOX",
        "INBOX",
        &[
            (1, 48_000, Fate::Copied, "2026-11-24T22:05:00.000Z"),
            (2, 1_250_000, Fate::Copied, "2026-11-24T22:40:00.000Z"),
            (
                3,
                31_457_280,
                Fate::Skipped("over the destination's size limit (25 MB)"),
                "2026-11-24T22:41:00.000Z",
            ),
            (4, 9_800, Fate::Copied, "2026-11-25T01:10:00.000Z"),
            (
                5,
                3_100,
                Fate::Skipped(EXPUNGED_REASON),
                "2026-11-25T01:12:00.000Z",
            ),
        ],
        &db,
    );
    folder(
        &j,
        alice,
        "Sent",
        "Sent Items",
        &[
            (1, 22_000, Fate::Copied, "2026-11-25T01:20:00.000Z"),
            (2, 640_000, Fate::Copied, "2026-11-25T01:30:00.000Z"),
        ],
        &db,
    );
    issue(
        &j,
        "warning",
        "oversize",
        ALICE,
        Some("INBOX"),
        Some(3),
        "message of 31457280 bytes over the destination's limit of 25000000: skipped",
    );

    // Bob: the login was refused, before anything was listed.
    mailbox(
        BOB,
        "pilot",
        ("2026-11-24T22:00:00.000Z", Some("2026-11-24T22:00:03.500Z")),
        "failed",
        Some("login as bob refused: NO [AUTHENTICATIONFAILED] Authentication failed."),
    );
    issue(
        &j,
        "error",
        "auth",
        BOB,
        None,
        None,
        "login as bob refused: NO [AUTHENTICATIONFAILED] Authentication failed.",
    );

    // Dan: running; a message pending, one refused by the destination, and a folder the
    // destination would not create ("Entwürfe").
    let dan = mailbox(
        DAN,
        "wave-2",
        ("2026-11-25T08:00:00.000Z", None),
        "running",
        None,
    );
    folder(
        &j,
        dan,
        "INBOX",
        "INBOX",
        &[
            (10, 7_000, Fate::Copied, "2026-11-25T08:02:00.000Z"),
            (11, 12_000, Fate::Copied, "2026-11-25T08:03:00.000Z"),
            (12, 2_400_000, Fate::Copied, "2026-11-25T09:15:00.000Z"),
            (
                13,
                56_000,
                Fate::Failed("APPEND refused: NO [LIMIT] | too many <appends> now"),
                "2026-11-25T09:20:00.000Z",
            ),
            (14, 8_000, Fate::Pending, "2026-11-25T09:21:00.000Z"),
        ],
        &db,
    );
    let refused = j.folder(dan, "Entw&APw-rfe", "Entw&APw-rfe").unwrap();
    j.set_folder_state(refused.id, folder_state::REFUSED)
        .unwrap();
    issue(
        &j,
        "error",
        "server",
        DAN,
        Some("INBOX"),
        None,
        "BYE [UNAVAILABLE] server shutting down",
    );
    issue(
        &j,
        "critical",
        "verification",
        DAN,
        Some("INBOX"),
        None,
        "1 message(s) journalled as copied are missing on the destination",
    );
    issue(
        &j,
        "error",
        "destination",
        DAN,
        Some("Entwürfe"),
        None,
        "the destination refused to create folder Entwürfe (for source folder Entwürfe): \
         NO [CANNOT] invalid folder name; nothing copied into it",
    );
    // A Graph-like throttle on Dan, twice: the server named its wait.
    for _ in 0..2 {
        issue(
            &j,
            "warning",
            "throttling",
            DAN,
            Some("INBOX"),
            None,
            "throttled: HTTP 429 Too Many Requests; waiting 1500 ms as the server asked, then reconnecting (attempt 1 of 5)",
        );
    }
    let ids: Vec<(i64, String)> = j
        .issue_rows(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.category))
        .collect();
    let id_of = |cat: &str| ids.iter().find(|(_, c)| c == cat).unwrap().0;
    j.set_issue_state(
        id_of("server"),
        "resolved",
        "ops",
        Some("the server was restarted"),
    )
    .unwrap();
    j.set_issue_state(id_of("destination"), "acknowledged", "ops", None)
        .unwrap();
    for (cat, first, last, state_at) in [
        (
            "oversize",
            "2026-11-24T22:41:00.000Z",
            "2026-11-24T22:41:00.000Z",
            None,
        ),
        (
            "auth",
            "2026-11-24T22:00:03.400Z",
            "2026-11-24T22:00:03.400Z",
            None,
        ),
        (
            "server",
            "2026-11-25T08:10:00.000Z",
            "2026-11-25T08:12:30.000Z",
            Some("2026-11-25T08:40:00.000Z"),
        ),
        (
            "verification",
            "2026-11-25T09:30:00.000Z",
            "2026-11-25T09:30:00.000Z",
            None,
        ),
        (
            "destination",
            "2026-11-25T08:01:00.000Z",
            "2026-11-25T08:01:00.000Z",
            Some("2026-11-25T10:00:00.000Z"),
        ),
        (
            "throttling",
            "2026-11-25T08:05:00.000Z",
            "2026-11-25T08:06:30.000Z",
            None,
        ),
    ] {
        let id = id_of(cat);
        pin(
            &db,
            "UPDATE issues SET first_seen = ?2 WHERE id = ?1",
            id,
            first,
        );
        pin(
            &db,
            "UPDATE issues SET last_seen = ?2 WHERE id = ?1",
            id,
            last,
        );
        if let Some(at) = state_at {
            pin(&db, "UPDATE issues SET state_at = ?2 WHERE id = ?1", id, at);
        }
    }

    j.set_check("backup", true, "ops@example", Some("snapshot of /var/mail"))
        .unwrap();
    pin(
        &db,
        "UPDATE checks SET at = ?2 WHERE id = ?1",
        "backup",
        "2026-11-23T16:00:00.000Z",
    );
    // Verifications: Alice's newest a passing full content verification, Bob's a passing
    // sample (no proof), Erin's from before content verification (fingerprint only).
    let full = VerificationScope {
        method: "content".into(),
        scope: "full".into(),
        sample_percent: None,
        sample_seed: None,
        items_checked: 2,
    };
    let sample = VerificationScope {
        scope: "sample".into(),
        sample_percent: Some(50.0),
        sample_seed: Some(42),
        ..full.clone()
    };
    j.record_verification(
        ERIN,
        "trial",
        true,
        "every source message on the destination exactly once",
    )
    .unwrap();
    j.record_verification_scoped(
        ALICE,
        "pilot",
        false,
        "mismatch in INBOX: 0 missing, 0 duplicated, 1 damaged",
        &full,
    )
    .unwrap();
    j.record_verification_scoped(
        ALICE,
        "pilot",
        true,
        "content of 2 compared, all equal",
        &full,
    )
    .unwrap();
    j.record_verification_scoped(
        BOB,
        "pilot",
        true,
        "content of 0 compared, all equal",
        &sample,
    )
    .unwrap();
    for (id, at) in [
        (1, "2026-11-24T20:10:00.000Z"),
        (2, "2026-11-25T09:00:00.000Z"),
        (3, "2026-11-25T10:30:00.000Z"),
        (4, "2026-11-25T10:45:00.000Z"),
    ] {
        pin(
            &db,
            "UPDATE verifications SET at = ?2 WHERE id = ?1",
            id,
            at,
        );
    }
    // The commands that did the work, and the versions they ran with: an assessment, a copy
    // run that finished, and the one still running.
    for (command, version, at, end) in [
        (
            "assess",
            "0.1.0 (commit 1a2b3c4d5e6f)",
            "2026-11-23T09:00:00.000Z",
            Some("2026-11-23T09:04:00.000Z"),
        ),
        (
            "run",
            "0.1.0 (commit 1a2b3c4d5e6f)",
            "2026-11-24T21:30:00.000Z",
            Some("2026-11-25T01:36:00.000Z"),
        ),
        (
            "run",
            "0.1.1 (commit 9f8e7d6c5b4a)",
            "2026-11-25T08:00:00.000Z",
            None,
        ),
    ] {
        let run = j.begin_run(command, version).unwrap();
        pin(
            &db,
            "UPDATE runs SET started_at = ?2 WHERE id = ?1",
            run,
            at,
        );
        if let Some(end) = end {
            pin(
                &db,
                "UPDATE runs SET finished_at = ?2 WHERE id = ?1",
                run,
                end,
            );
        }
    }
    // The assessment's risks.
    let assessment = j
        .save_assessment(&AssessmentRows {
            batches: "pilot, wave-2".into(),
            complexity: "medium".into(),
            factors: "4 mailboxes".into(),
            risks: vec![
                RiskRow {
                    severity: "warning".into(),
                    mailbox: Some(ALICE.into()),
                    message: "1 message over the destination's size limit (30.0 MiB)".into(),
                },
                RiskRow {
                    severity: "error".into(),
                    mailbox: Some(BOB.into()),
                    message: "the source refused the login".into(),
                },
                RiskRow {
                    severity: "info".into(),
                    mailbox: None,
                    message: "no maintenance window given for wave-2".into(),
                },
            ],
            ..Default::default()
        })
        .unwrap();
    pin(
        &db,
        "UPDATE assessments SET at = ?2 WHERE id = ?1",
        assessment,
        "2026-11-23T09:03:00.000Z",
    );
    // Readiness checks: Alice ready, Bob's destination without a mailbox; Dan never checked.
    j.record_access(ALICE, true, "ready", "mailbox exists, 2.0 GB free", false)
        .unwrap();
    j.record_access(
        BOB,
        false,
        "no-mailbox",
        "bob@new.example has no mailbox",
        false,
    )
    .unwrap();
    for (id, at) in [
        (1, "2026-11-24T21:00:00.000Z"),
        (2, "2026-11-24T21:00:05.000Z"),
    ] {
        pin(
            &db,
            "UPDATE access_checks SET at = ?2 WHERE id = ?1",
            id,
            at,
        );
    }
    // The operator wrote the lessons (the recommendations are left to the suggestions).
    j.record_note(
        "lessons",
        "- The pilot showed the old server's Sent folder must be renamed.\n- Bob's account was never created on the new side: check accounts before each wave.",
        "ops",
    )
    .unwrap();
    pin(
        &db,
        "UPDATE report_notes SET at = ?2 WHERE id = ?1",
        1,
        "2026-11-25T11:00:00.000Z",
    );
    j
}

fn project(dir: &Path) -> Project {
    let path = dir.join("project.toml");
    std::fs::write(&path, PROJECT).unwrap();
    // A shared mailbox with an alias and two rights, a list of three members.
    std::fs::write(
        dir.join("recipients.csv"),
        "Type,Address,DisplayName,Members,Aliases,Access\n\
         shared,dan@new.example,Dan's desk,,desk@new.example,alice@new.example:FullAccess;bob@new.example:SendAs\n\
         distribution,team@new.example,Team Zürich,alice@new.example;bob@new.example;dan@new.example,,\n",
    )
    .unwrap();
    config::load(&path).unwrap()
}

/// A report of the scripted history, as `cutover report` writes it (the browser test opens
/// its HTML).
pub fn render(kind: Kind, since: Option<&str>, until: &str, format: Format) -> String {
    let dir = tempfile::Builder::new()
        .prefix("cutover-golden")
        .tempdir()
        .unwrap();
    let p = project(dir.path());
    let j = journal(dir.path());
    cutover_engine::recipients::journal_recipients(&p, &j).unwrap();
    let r = report::gather(&p, &j, kind, since.map(str::to_string), until).unwrap();
    report::render(&r, format)
}

#[test]
fn final_report_markdown() {
    insta::assert_snapshot!(
        "final_md",
        render(Kind::Final, None, FINAL_UNTIL, Format::Md)
    );
}

#[test]
fn final_report_html() {
    insta::assert_snapshot!(
        "final_html",
        render(Kind::Final, None, FINAL_UNTIL, Format::Html)
    );
}

#[test]
fn daily_report_markdown() {
    insta::assert_snapshot!(
        "daily_md",
        render(Kind::Daily, Some(SINCE), DAILY_UNTIL, Format::Md)
    );
}

#[test]
fn daily_report_html() {
    insta::assert_snapshot!(
        "daily_html",
        render(Kind::Daily, Some(SINCE), DAILY_UNTIL, Format::Html)
    );
}

#[test]
fn weekly_report_markdown() {
    insta::assert_snapshot!(
        "weekly_md",
        render(Kind::Weekly, None, WEEKLY_UNTIL, Format::Md)
    );
}

#[test]
fn weekly_report_html() {
    insta::assert_snapshot!(
        "weekly_html",
        render(Kind::Weekly, None, WEEKLY_UNTIL, Format::Html)
    );
}

#[test]
fn weekly_csv() {
    let csv = render(Kind::Weekly, None, WEEKLY_UNTIL, Format::Csv);
    assert!(csv.ends_with("\r\n"), "{csv:?}");
    insta::assert_snapshot!("weekly_csv", csv);
}

#[test]
fn daily_csv() {
    let csv = render(Kind::Daily, Some(SINCE), DAILY_UNTIL, Format::Csv);
    assert!(csv.ends_with("\r\n"), "{csv:?}");
    insta::assert_snapshot!("daily_csv", csv);
}

/// The HTML reports as a browser shows them (`report_browser`).
pub const WEEKLY: (Kind, &str) = (Kind::Weekly, WEEKLY_UNTIL);
pub const FINAL: (Kind, &str) = (Kind::Final, FINAL_UNTIL);
pub const DAILY: (Kind, &str, &str) = (Kind::Daily, SINCE, DAILY_UNTIL);

#[test]
fn statistics_csv() {
    let csv = render(Kind::Final, None, FINAL_UNTIL, Format::Csv);
    // insta compares with CRLF read as LF: the line ends are checked here.
    assert!(csv.ends_with("\r\n"), "{csv:?}");
    assert_eq!(
        csv.matches('\n').count(),
        csv.matches("\r\n").count(),
        "{csv:?}"
    );
    insta::assert_snapshot!("csv", csv);
}
