//! The fleet from the console, end to end (issue 20 item 3): the real binary in tmux, a
//! console on a PostgreSQL journal while a `cutover run` of the same project works it from
//! another process (two project files, a mailbox each: one machine runs two engines only
//! so). The console shows the Fleet panel (a worker row written as workers write them, silent
//! past the lease time: LOST), and its emergency stop halts the other engine: it exits 8.

use crate::console_e2e::Tmux;
use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::postgres::{PASSWORD, PgCluster};
use support::*;

fn listeners(pg: &PgCluster, db: &str) -> u32 {
    pg.psql(
        db,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{}'",
            cutover_engine::journal::LISTENER_NAME
        ),
    )
    .parse()
    .unwrap()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_console_shows_the_fleet_and_its_emergency_stop_halts_another_engine() {
    let root = tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("alice", 3000, 31, &["--no-tricky"]);
    let project = |user: &str| {
        let pass = format!("{user}-pw");
        let p = ProjectBuilder::imap(&src, &dst)
            .set("project.state", pg.url(&db))
            .set("project.postgres.password_file", "pg-password")
            .mailboxes(&[MailboxLine {
                batch: "b",
                user,
                pass: &pass,
            }])
            .create();
        std::fs::write(p.dir.path().join("pg-password"), format!("{PASSWORD}\n")).unwrap();
        p
    };
    let pa = project("alice");
    let pb = project("bob");
    let mut run = Command::new(bin())
        .arg("run")
        .arg(&pa.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the run's listener", Duration::from_secs(30), || {
        listeners(&pg, &db) == 1
    });
    // A worker that stopped answering a minute ago, as a worker registers.
    pg.psql(
        &db,
        "INSERT INTO workers(id, host, pid, heartbeat_at) VALUES ('gamma:7:1', 'gamma', 7, julianday('now') - 90 / 86400.0)",
    );
    let cmd = format!("{} tui {}", bin().display(), pb.path.display());
    let t = Tmux::start("fleet", &cmd, &[("PGPASSWORD", PASSWORD)]);
    t.wait_for("Fleet:", 20);
    let screen = t.wait_for("LOST", 10);
    assert!(
        screen
            .lines()
            .any(|l| l.contains("gamma") && l.contains("LOST")),
        "{screen}"
    );
    wait_for("the console's listener", Duration::from_secs(20), || {
        listeners(&pg, &db) == 2
    });
    wait_for("copying", Duration::from_secs(60), || {
        dst.message_count("alice") >= 100
    });
    t.keys("S");
    t.wait_for("EMERGENCY STOP?", 5);
    t.keys("y");
    t.wait_for("STOPPED", 5);
    let pressed = Instant::now();
    while run.try_wait().unwrap().is_none() {
        assert!(
            pressed.elapsed() < Duration::from_secs(10),
            "the other engine still runs 10 s after the console's stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        dst.message_count("alice") < 3000,
        "stopped too late to prove anything"
    );
    let heard = pg.psql(
        &db,
        "SELECT count(*) FROM issues WHERE category = 'operator' AND message LIKE 'emergency stop of all batches%(from fleet command #%'",
    );
    assert_eq!(heard, "1", "the run journals the stop it heard once");
    t.keys("q");
    t.wait_dead(10);
    // The next run finishes exactly.
    let done = pa.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
}
