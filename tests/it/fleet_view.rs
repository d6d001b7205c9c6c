//! The fleet in the console (issue 20 item 3): workers and leases written directly into a
//! PostgreSQL journal (as the workers write them) reach `cutover watch`'s snapshot as
//! `api::FleetView` (the mailboxes each leases, counts, the rate between two heartbeats, a
//! worker silent past the lease time lost) and the Batches tab's Fleet panel shows them.

use crate::support;

use std::sync::Arc;

use cutover::ui::app::App;
use cutover::ui::draw::draw;
use cutover::ui::theme::Theme;
use cutover_engine::engine::monitor::Monitor;
use cutover_engine::journal::Journal;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::postgres::{PASSWORD, PgCluster};
use support::*;

fn screen(snap: cutover_engine::api::Snapshot) -> String {
    let app = App::new(
        Arc::new(snap),
        Theme::load("default").unwrap(),
        "maria".into(),
    );
    let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
    t.draw(|f| draw(f, &app)).unwrap();
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn workers_in_a_postgres_journal_reach_the_snapshot_and_the_fleet_panel() {
    let pg = PgCluster::start();
    let db = pg.database();
    let p = ProjectBuilder::new("fleet")
        .set("project.state", pg.url(&db))
        .set("project.postgres.password_file", "pg-password")
        .source(project::imap(1))
        .destination(project::imap(2))
        .mailboxes(&[
            MailboxLine {
                batch: "b",
                user: "ann",
                pass: "x",
            },
            MailboxLine {
                batch: "b",
                user: "bob",
                pass: "x",
            },
        ])
        .create();
    std::fs::write(p.dir.path().join("pg-password"), format!("{PASSWORD}\n")).unwrap();
    let project = cutover_engine::config::load(&p.path).unwrap();
    // The journal's tables, as a first engine creates them.
    drop(Journal::open_project(&project).unwrap());
    // Two workers as they register and report: one alive, one silent for a minute.
    pg.psql(
        &db,
        "ALTER TABLE workers ADD COLUMN IF NOT EXISTS messages BIGINT;
         ALTER TABLE workers ADD COLUMN IF NOT EXISTS bytes BIGINT;
         INSERT INTO workers(id, host, pid, heartbeat_at, state, messages, bytes) VALUES
           ('alpha:101:1', 'alpha', 101, julianday('now') - 2 / 86400.0, 'running', 1000, 50000000),
           ('beta:202:1', 'beta', 202, julianday('now') - 60 / 86400.0, 'running', 300, 9000000);
         INSERT INTO leases(mailbox, worker, expires_at) VALUES
           ('ann', 'alpha:101:1', julianday('now') + 30 / 86400.0),
           ('bob', 'beta:202:1', julianday('now') - 30 / 86400.0);",
    );
    let store = Journal::open_project_read_only(&project).unwrap();
    let mut m = Monitor::new(&project, &store, true);
    let snap = m.snapshot(None);
    let fleet = snap.fleet.clone().expect("a fleet on a PostgreSQL journal");
    assert_eq!(fleet.workers.len(), 2);
    let (a, b) = (&fleet.workers[0], &fleet.workers[1]);
    assert_eq!((a.host.as_str(), a.pid), ("alpha", 101));
    assert_eq!(a.mailboxes, vec!["ann".to_string()]);
    // beta's lease expired: it leases nothing, and it is lost.
    assert!(b.mailboxes.is_empty() && b.lost && !a.lost, "{fleet:?}");
    assert!((1.0..5.0).contains(&a.silent_secs), "{}", a.silent_secs);
    assert_eq!(fleet.totals(), (1300, 59_000_000));
    assert_eq!(a.msgs_per_sec, None, "no rate before a second heartbeat");
    // alpha's next heartbeat, 10 s after the last: 250 messages and 10 MB more.
    pg.psql(
        &db,
        "UPDATE workers SET heartbeat_at = heartbeat_at + 10 / 86400.0, messages = 1250,
           bytes = 60000000 WHERE id = 'alpha:101:1'",
    );
    m.refresh(&store);
    let snap = m.snapshot(None);
    let a = &snap.fleet.as_ref().unwrap().workers[0];
    let r = a.msgs_per_sec.expect("a rate between two heartbeats");
    assert!((r - 25.0).abs() < 0.5, "{r}");
    assert!((a.bytes_per_sec.unwrap() - 1_000_000.0).abs() < 20_000.0);
    // The Batches tab shows the panel.
    let text = screen(snap);
    assert!(
        text.contains("Fleet: 1 worker(s) live, 1 LOST, 1 mailbox(es) leased"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("alpha") && l.contains("101") && l.contains("25 msg/s")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("beta") && l.contains("LOST")),
        "{text}"
    );
}

#[test]
fn a_sqlite_journal_has_no_fleet() {
    let d = tempfile::tempdir().unwrap();
    let p = ProjectBuilder::new("one")
        .source(project::imap(1))
        .destination(project::imap(2))
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "ann",
            pass: "x",
        }])
        .write(d.path());
    let project = cutover_engine::config::load(&p).unwrap();
    let store = Journal::open_project(&project).unwrap();
    let snap = Monitor::new(&project, &store, true).snapshot(None);
    assert!(snap.fleet.is_none());
    assert!(!screen(snap).contains("Fleet:"));
}
