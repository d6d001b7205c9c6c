//! A journal write that fails ends the command with exit 9 and a message naming the journal,
//! never silently. The journal is a real SQLite file: another connection (this test) makes
//! SQLite refuse one kind of write with a trigger, while or before `cutover` runs, so that the
//! very write the command does fails as a full disk or a lost lock would make it fail.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

const REFUSED: &str = "journal write refused by the test";

/// Make the journal refuse `event` (`BEFORE UPDATE OF state ON mailboxes WHEN ...`) from
/// now on, under the name `name`.
fn refuse(db: &rusqlite::Connection, name: &str, event: &str) {
    db.execute_batch(&format!(
        "CREATE TRIGGER {name} {event} BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END;"
    ))
    .unwrap();
}

fn allow(db: &rusqlite::Connection, name: &str) {
    db.execute_batch(&format!("DROP TRIGGER {name};")).unwrap();
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn a_journal_write_refused_mid_run_ends_the_run_with_exit_9() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write: the copy lasts long enough to change the journal under it.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("alice", 600, 91, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    let journal = p.dir.path().join("state.sqlite");
    let out = p.dir.path().join("run.out");
    let err = p.dir.path().join("run.err");
    let mut child = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    // Once the mailbox is being migrated, the journal refuses to record it as done.
    let start = Instant::now();
    let state = || -> Option<String> {
        let rows = Journal::open_read_only(&journal)
            .ok()?
            .mailbox_rows()
            .ok()?;
        rows.into_iter().next().map(|m| m.state)
    };
    let db = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the mailbox did not start in 60 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the test could change the journal:\n{}\n{}",
            std::fs::read_to_string(&out).unwrap(),
            std::fs::read_to_string(&err).unwrap()
        );
        if journal.exists() && state().as_deref() == Some("running") {
            let db = p.journal_for_damage();
            db.busy_timeout(Duration::from_secs(30)).unwrap();
            break db;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // Under the write lock, so that the run cannot record its end meanwhile: it is still
    // running when the trigger lands.
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(
        state().as_deref(),
        Some("running"),
        "the run recorded its end already"
    );
    refuse(
        &db,
        "no_done",
        "BEFORE UPDATE OF state ON mailboxes WHEN NEW.state = 'done'",
    );
    db.execute_batch("COMMIT").unwrap();
    let status = child.wait().unwrap();
    let (stdout, stderr) = (
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&err).unwrap(),
    );
    let said = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(status.code(), Some(9), "{said}");
    assert!(
        stderr.contains("the state journal could not be written")
            && stderr.contains(&journal.display().to_string())
            && stderr.contains(REFUSED),
        "{said}"
    );
    assert!(stdout.contains("failed: state journal"), "{said}");
    // Everything else was journalled as it happened: the mail is there once, and with the
    // journal writable again, a rerun finds nothing left to copy.
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
    allow(&db, "no_done");
    drop(db);
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn every_journal_write_that_used_to_be_dropped_now_ends_the_command_with_exit_9() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 20, 92, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    let first = p.cutover(&["run"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let journal = p.dir.path().join("state.sqlite").display().to_string();
    let db = p.journal_for_damage();
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    let names_the_journal = |o: &std::process::Output, what: &str| {
        let e = stderr(o);
        assert!(
            e.contains(what) && e.contains(&journal) && e.contains(REFUSED),
            "{what}: {}",
            text(o)
        );
    };

    // The start of a run cannot be recorded: nothing starts.
    refuse(&db, "no_run", "BEFORE INSERT ON runs");
    let o = p.cutover(&["run"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    names_the_journal(&o, "cannot record the start of this run");
    assert!(!stdout(&o).contains("appended"), "{}", text(&o));
    allow(&db, "no_run");

    // verify compares and prints, but cannot record its verdict (the checklist's
    // pilot-verified item reads it).
    refuse(&db, "no_verification", "BEFORE INSERT ON verifications");
    let o = p.cutover(&["verify"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    names_the_journal(&o, "cannot record the verification");
    assert!(
        stdout(&o).contains("every source message is on the destination exactly once"),
        "{}",
        text(&o)
    );
    allow(&db, "no_verification");
    let o = p.cutover(&["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // assess cannot record the end of its run.
    refuse(&db, "no_end", "BEFORE UPDATE ON runs");
    let o = p.cutover(&["assess"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    names_the_journal(&o, "cannot record the end of this run");
    allow(&db, "no_end");

    // A rollback whose issue (the operator's record of it) cannot be journalled: the
    // destination is rolled back all the same, and the command says the journal failed.
    refuse(&db, "no_issue", "BEFORE INSERT ON issues");
    let o = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    names_the_journal(
        &o,
        "the state journal could not be written: cannot journal an issue",
    );
    assert_eq!(dst.message_count("alice"), 0);
    allow(&db, "no_issue");

    // A rollback that cannot record the mailbox as rolled back.
    refuse(
        &db,
        "no_rolled_back",
        "BEFORE UPDATE OF state ON mailboxes WHEN NEW.state = 'rolled back'",
    );
    let o = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    names_the_journal(&o, "the state journal could not be written");
    assert!(stdout(&o).contains("INTERRUPTED"), "{}", text(&o));
    allow(&db, "no_rolled_back");
    let o = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// The journal's SQLite locks are POSIX locks, which a process loses on closing any
/// descriptor of the file: cutover must never open and close the journal (or its -wal and
/// -shm) behind SQLite's back while it has it open. Otherwise another process that opens and
/// closes the journal meanwhile (`cutover report` or `plan` during a run, sqlite3) takes
/// itself for the last user, checkpoints and deletes the -wal, and every later write of the
/// running engine goes to a deleted file: lost without an error.
#[test]
fn another_process_closing_the_journal_loses_none_of_its_writes() {
    let dir = tmp();
    let path = dir.path().join("state.sqlite");
    let store =
        cutover_engine::journal::Journal::open(&path, cutover_engine::config::Durability::Crash)
            .unwrap();
    store.upsert_mailbox("a->a", "b", "a", "a").unwrap();
    let count = || {
        let o = Command::new("python3")
            .arg("-c")
            .arg(
                "import sqlite3, sys\n\
                 c = sqlite3.connect(sys.argv[1])\n\
                 print(c.execute('SELECT count(*) FROM mailboxes').fetchone()[0])\n\
                 c.close()\n",
            )
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(count(), "1");
    store.upsert_mailbox("b->b", "b", "b", "b").unwrap();
    assert_eq!(
        count(),
        "2",
        "a write after another process closed the journal was lost"
    );
    assert!(
        dir.path().join("state.sqlite-wal").exists(),
        "the -wal of the open journal was deleted"
    );
}
