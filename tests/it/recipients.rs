//! `[recipients] csv` and `cutover recipients`: shared/resource mailboxes, lists, groups,
//! members, aliases and access read from the CSV (located errors), journalled, planned, and
//! written as an idempotent Exchange Online PowerShell script (a golden file); the checklist
//! item `recipients`.

use crate::support;

use support::project::imap;
use support::*;

/// Names that break naive quoting: an apostrophe, typographic quotes (PowerShell reads them as
/// single quotes), a `$(...)` and backtick that a double-quoted string would run, non-ASCII.
const CSV: &str = "Type,Address,DisplayName,Members,Aliases,Access
Shared,info@new.test,Info O'Brien & Söhne,,kontakt@new.test;hallo@new.test,alice@new.test:FullAccess;alice@new.test:SendAs;bob@new.test:SendOnBehalf
room,raum.zürich@new.test,Raum „Zürich“ ‘groß’,,,bob@new.test:CalendarDelegate;alice@new.test:calendarreviewer
equipment,beamer@new.test,Beamer $(Remove-Item -Recurse C:\\) `n,,,
distribution,team@new.test,Team 東京,alice@new.test;bob@new.test;info@new.test,all@new.test,carol@new.test:SendAs
m365group,projekt@new.test,Projekt X,alice@new.test;bob@new.test,,
security,sec@new.test,Sec,carol@new.test,,
";

fn project(csv: &str) -> ProjectDir {
    let p = ProjectBuilder::new("Müller's move")
        .source(imap(10143))
        .destination(imap(11143))
        .set("destination.preset", "m365")
        .mailbox(support::project::mailbox(
            None,
            support::project::login("alice", "pw"),
            support::project::login("alice@new.test", "pw"),
        ))
        .set("recipients.csv", "recipients.csv")
        .set("checklist.defaults", true)
        .create();
    std::fs::write(p.dir.path().join("recipients.csv"), csv).unwrap();
    p
}

#[test]
fn the_script_is_quoted_idempotent_and_stable() {
    let p = project(CSV);
    let out = p.dir.path().join("recipients.ps1");
    let o = p.cutover(&["recipients", "--script", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("6 recipient(s), 21 step(s)"),
        "{}",
        text(&o)
    );
    let script = std::fs::read_to_string(&out).unwrap();
    // Every step checks before it changes: one guard per step.
    let steps = script
        .lines()
        .filter(|l| l.starts_with("# ") && l.contains(" (line "))
        .count();
    let guards = script.lines().filter(|l| l.starts_with("if (")).count();
    assert_eq!(
        (steps, guards),
        (21, 21 + 1),
        "a guard per step and the sign-in check: {script}"
    );
    // No value outside single quotes: the dangerous text only ever appears quoted.
    assert!(script.contains("'Beamer $(Remove-Item -Recurse C:\\) `n'"));
    assert!(script.contains("'Info O''Brien & Söhne'"));
    assert!(script.contains("'Raum „Zürich“ ‘‘groß’’'"));
    // The same CSV gives the same script (the file is the golden one).
    let again = p.cutover(&["recipients", "--script", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), script);
    insta::assert_snapshot!("recipients_script", script);
}

#[test]
fn the_plan_lists_everything_and_journals_it() {
    let p = project(CSV);
    let check = p.cutover(&["check"]);
    assert!(
        stdout(&check).contains("recipients 6 listed in "),
        "{}",
        text(&check)
    );
    let o = p.cutover(&["recipients"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    for want in [
        "recipients from recipients.csv: 1 shared, 1 room, 1 equipment, 1 distribution, 1 m365group, 1 security",
        "  shared       info@new.test (Info O'Brien & Söhne)",
        "    aliases: kontakt@new.test, hallo@new.test",
        "    access: bob@new.test has SendOnBehalf",
        "    access: bob@new.test has CalendarDelegate",
        "    members: alice@new.test, bob@new.test, info@new.test",
        "  create shared mailbox info@new.test (script)\n",
        "  create Microsoft 365 group projekt@new.test (Graph)\n",
        "  create mail-enabled security group sec@new.test (script)\n",
        "  add member info@new.test to team@new.test (script)\n",
        "  grant alice@new.test FullAccess on info@new.test (script)\n",
        "  grant alice@new.test CalendarReviewer on raum.zürich@new.test (Graph)\n",
        // An IMAP destination: nothing is created by cutover.
        "the destination's directory cannot be written by cutover",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    let db = rusqlite::Connection::open(p.dir.path().join("state.sqlite")).unwrap();
    let (n, members, access): (i64, String, String) = db
        .query_row(
            "SELECT (SELECT count(*) FROM recipients), members, access FROM recipients WHERE address = 'team@new.test'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(n, 6);
    assert_eq!(members, "alice@new.test;bob@new.test;info@new.test");
    assert_eq!(access, "carol@new.test:SendAs");
}

#[test]
fn the_checklist_item_is_pending_until_ticked() {
    let p = project(CSV);
    let line = |o: &std::process::Output| {
        stdout(o)
            .lines()
            .find(|l| l.trim_start().starts_with("recipients "))
            .unwrap_or_else(|| panic!("no recipients line: {}", text(o)))
            .to_string()
    };
    let before = p.cutover(&["checklist"]);
    let l = line(&before);
    assert!(l.contains("pending") && l.contains("optional"), "{l}");
    assert!(l.contains("6 recipient(s) to create"), "{l}");
    // A batch without a shared/resource mailbox is not held by it.
    let b = p.cutover(&["checklist", "--batch", "default"]);
    let l = line(&b);
    assert!(l.contains("n/a") && l.contains("batch(es) default"), "{l}");
    let tick = p.cutover(&["checklist", "--tick", "recipients", "--note", "script run"]);
    // Ticked (exit 11 all the same: the built-in required manual items are still unmet).
    assert!(
        stdout(&tick).starts_with("ticked recipients"),
        "{}",
        text(&tick)
    );
    let after = p.cutover(&["checklist"]);
    let l = line(&after);
    assert!(
        l.contains("pass") && l.contains("not verified by cutover"),
        "{l}"
    );
}

#[test]
fn a_bad_recipients_csv_names_file_line_and_column() {
    for (csv, want) in [
        (
            "Type,Address\nshared,a@x.test\nmailinglist,b@x.test\n",
            "recipients.csv:3:1: column Type: unknown recipient type \"mailinglist\"; expected one of shared, room, equipment, distribution, m365group, security, user",
        ),
        (
            "Type,Address,Access\nshared,a@x.test,bob@x.test:ReadOnly\n",
            "recipients.csv:2:3: column Access: unknown right \"ReadOnly\"",
        ),
        (
            "Type,Address,Members\nshared,a@x.test,bob@x.test\n",
            "recipients.csv:2:3: column Members: a shared mailbox has no members",
        ),
        (
            "Type,Address,Access\ndistribution,l@x.test,bob@x.test:FullAccess\n",
            "recipients.csv:2:3: column Access: FullAccess is a mailbox right",
        ),
        (
            "Type,Address\nshared,a@x.test\nroom,A@x.test\n",
            "recipients.csv:3:2: A@x.test is listed twice (first on line 2)",
        ),
        (
            "Type,Address\nshared,not an address\n",
            "recipients.csv:2:2: column Address: \"not an address\" is not an email address",
        ),
        (
            "Type,Adress\nshared,a@x.test\n",
            "recipients.csv:1:2: unknown column \"Adress\"",
        ),
    ] {
        let p = project(csv);
        let o = p.cutover(&["check"]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{want:?} in {err}");
    }
}

#[test]
fn without_a_recipients_csv_the_command_says_what_to_add() {
    let p = ProjectBuilder::new("plain")
        .source(imap(10143))
        .destination(imap(11143))
        .mailbox(support::project::mailbox(
            None,
            support::project::login("alice", "pw"),
            support::project::login("alice", "pw"),
        ))
        .set("checklist.defaults", true)
        .create();
    let o = p.cutover(&["recipients"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("add [recipients] csv = \"FILE\""),
        "{}",
        text(&o)
    );
    // The checklist item does not apply: existing projects start as before.
    let c = p.cutover(&["checklist"]);
    let line = stdout(&c)
        .lines()
        .find(|l| l.trim_start().starts_with("recipients "))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("n/a") && line.contains("optional"),
        "{}",
        text(&c)
    );
}
