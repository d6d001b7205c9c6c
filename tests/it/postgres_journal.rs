//! The journal on PostgreSQL (`state = "postgres://…"`), end to end against a throwaway
//! cluster (`support::postgres`): a Dovecot-to-Dovecot run killed with SIGKILL mid-copy and
//! run again copies every message exactly once, `verify` and `report` read that journal, and
//! a wrong password or a missing password variable is a clear journal error (exit 9) that
//! never shows the password.

use crate::support;

use std::process::Command;
use std::time::Duration;

use support::postgres::{PASSWORD, PgCluster};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

#[test]
fn a_run_on_a_postgres_journal_survives_sigkill_and_copies_each_message_once() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write makes APPENDs slow enough to be killed in the middle.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("alice", 1000, 5, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .set("project.state", pg.url(&db))
        .set("project.postgres.password_file", "pg-password")
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    std::fs::write(p.dir.path().join("pg-password"), format!("{PASSWORD}\n")).unwrap();

    let mut killed_mid_copy = 0;
    for delay_ms in [400u64, 800, 1200] {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path);
        if run_until_sigkill(&mut run, |t| t >= Duration::from_millis(delay_ms)) {
            killed_mid_copy += 1;
        }
    }
    assert!(
        killed_mid_copy >= 1,
        "a kill must land while copying ({killed_mid_copy})"
    );
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let source = src.dump("alice", "alice-pw");
    assert_same_mail(&source, &dst.dump("alice", "alice-pw"), |f| f.to_string());
    // The journal is in the database, not in a file beside the project.
    assert!(!p.dir.path().join("state.sqlite").exists());
    let copied = pg.psql(&db, "SELECT count(*) FROM messages WHERE state = 'copied'");
    assert_eq!(
        copied,
        source.total().to_string(),
        "messages journalled as copied"
    );
    let doubt = pg.psql(
        &db,
        "SELECT count(*) FROM messages WHERE state = 'appending'",
    );
    assert_eq!(doubt, "0");

    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let rep = p.cutover(&["report", "--kind", "final", "--format", "csv"]);
    assert_eq!(rep.status.code(), Some(0), "{}", text(&rep));
    assert!(stdout(&rep).contains("alice"), "{}", text(&rep));
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM reports WHERE kind = 'final'"),
        "1"
    );
}

#[test]
fn a_wrong_or_missing_password_is_a_journal_error_that_hides_the_password() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    let mailboxes = [MailboxLine {
        batch: "b",
        user: "bob",
        pass: "bob-pw",
    }];
    let url = format!(
        "postgres://postgres:not-the-password@127.0.0.1:{}/{db}?sslmode=disable",
        pg.port
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .set("project.state", url)
        .mailboxes(&mailboxes)
        .create();
    let o = p.cutover(&["run"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!err.contains("not-the-password"), "{err}");
    assert!(
        err.contains(&format!("postgres://postgres@127.0.0.1:{}/{db}", pg.port))
            && err.contains("password"),
        "{err}"
    );

    let p = ProjectBuilder::imap(&src, &dst)
        .set("project.state", pg.url(&db))
        .set(
            "project.postgres.password_env",
            "CUTOVER_TEST_UNSET_PG_PASSWORD",
        )
        .mailboxes(&mailboxes)
        .create();
    let o = p.cutover(&["run"]);
    assert_eq!(o.status.code(), Some(9), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("CUTOVER_TEST_UNSET_PG_PASSWORD"),
        "{}",
        text(&o)
    );
    // With the variable set, the same project runs.
    let ok = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .env("CUTOVER_TEST_UNSET_PG_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
}
