//! A fleet of `cutover run` workers on one PostgreSQL journal (issue 20 item 2): three workers
//! migrate 12 mailboxes between two Dovecots, each mailbox only while it holds its lease; one
//! worker is SIGKILLed while the journal shows it holds the lease of a mailbox that is part
//! copied, and another worker takes that mailbox over once the lease expires and finishes it.

use crate::support;

use std::fs::File;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::postgres::{PASSWORD, PgCluster};
use support::*;

const USERS: usize = 12;

/// A worker that holds the lease of a mailbox part copied (some rows copied, some not):
/// (worker id, mailbox key).
const HOLDS_PART_COPIED: &str = "SELECT l.worker || ' ' || l.mailbox FROM leases l
     JOIN mailboxes m ON m.key = l.mailbox
     WHERE m.state = 'running' AND l.expires_at > julianday('now')
       AND EXISTS (SELECT 1 FROM messages x JOIN folders f ON f.id = x.folder_id
                   WHERE f.mailbox_id = m.id AND x.state = 'copied')
       AND EXISTS (SELECT 1 FROM messages x JOIN folders f ON f.id = x.folder_id
                   WHERE f.mailbox_id = m.id AND x.state <> 'copied')
     ORDER BY l.mailbox LIMIT 1";

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

/// The project of `users` (one batch, `b`) from `servers.0` to `servers.1`, journalled in
/// database `db` of `pg` with a lease of 3 s, and what `more` sets.
fn fleet_project(
    pg: &PgCluster,
    db: &str,
    servers: (&Dovecot, &Dovecot),
    users: &[(&str, &str)],
    more: impl FnOnce(ProjectBuilder) -> ProjectBuilder,
) -> ProjectDir {
    let lines: Vec<MailboxLine> = users
        .iter()
        .map(|(u, p)| MailboxLine {
            batch: "b",
            user: u,
            pass: p,
        })
        .collect();
    let b = ProjectBuilder::imap(servers.0, servers.1)
        .set("project.state", pg.url(db))
        .set("project.postgres.password_file", "pg-password")
        .set("project.fleet.lease_seconds", 3);
    let p = more(b).mailboxes(&lines).create();
    std::fs::write(p.dir.path().join("pg-password"), format!("{PASSWORD}\n")).unwrap();
    p
}

#[test]
fn three_workers_share_twelve_mailboxes_and_survive_one_killed() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let names: Vec<(String, String)> = (0..USERS)
        .map(|i| (format!("user{i:02}"), format!("pw{i:02}")))
        .collect();
    let users: Vec<(&str, &str)> = names
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write: APPENDs slow enough for the kill to land mid-mailbox.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    for (i, (u, _)) in users.iter().enumerate() {
        src.seed(u, 150, 10 + i as u64, &[]);
    }
    let p = fleet_project(&pg, &db, (&src, &dst), &users, |b| {
        b.set("project.parallel_mailboxes", 2)
    });

    let mut workers: Vec<Child> = (0..3)
        .map(|i| {
            let out = File::create(p.dir.path().join(format!("w{i}.out"))).unwrap();
            let err = File::create(p.dir.path().join(format!("w{i}.err"))).unwrap();
            Command::new(bin())
                .arg("run")
                .arg(&p.path)
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    let output = |i: usize| {
        let r = |f: String| std::fs::read_to_string(p.dir.path().join(f)).unwrap_or_default();
        format!(
            "--- w{i} stdout\n{}\n--- w{i} stderr\n{}",
            r(format!("w{i}.out")),
            r(format!("w{i}.err"))
        )
    };

    // Kill the worker holding a part-copied mailbox, as soon as the journal shows one.
    let start = Instant::now();
    let mut killed = None;
    while killed.is_none() && start.elapsed() < Duration::from_secs(120) {
        let has_tables = pg.psql(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'leases'",
        );
        let row = if has_tables == "1" {
            pg.psql(&db, HOLDS_PART_COPIED)
        } else {
            String::new()
        };
        if let Some((worker, mailbox)) = row.split_once(' ') {
            let pid: u32 = worker.split(':').nth(1).unwrap().parse().unwrap();
            let i = workers
                .iter()
                .position(|c| c.id() == pid)
                .unwrap_or_else(|| panic!("{worker} is none of the three workers"));
            workers[i].kill().unwrap();
            workers[i].wait().unwrap();
            killed = Some((i, mailbox.to_string()));
        } else if workers.iter_mut().all(|c| c.try_wait().unwrap().is_some()) {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let (dead, mailbox) = killed.unwrap_or_else(|| {
        panic!(
            "no worker was seen holding a part-copied mailbox\n{}",
            (0..3).map(output).collect::<Vec<_>>().join("\n")
        )
    });
    for (i, w) in workers.iter_mut().enumerate() {
        if i == dead {
            continue;
        }
        let status = w.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", output(i));
    }
    // The dead worker's mailbox was finished by another worker, and every lease was given
    // back (the dead worker's ones were taken over after they expired).
    assert_eq!(
        pg.psql(
            &db,
            &format!("SELECT state FROM mailboxes WHERE key = '{mailbox}'")
        ),
        "done"
    );
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM leases"), "0");
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM mailboxes WHERE state = 'done'"),
        USERS.to_string()
    );
    // The survivors say they are done, with their totals for the fleet console.
    let survivors = pg.psql(
        &db,
        "SELECT count(*) FROM workers WHERE state = 'done' AND messages IS NOT NULL AND bytes IS NOT NULL",
    );
    assert_eq!(survivors, "2");

    // Every message exactly once, byte for byte; nothing left in doubt.
    for (u, pw) in &users {
        assert_same_mail(&src.dump(u, pw), &dst.dump(u, pw), |f| f.to_string());
    }
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM messages WHERE state <> 'copied'"),
        "0"
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // A re-run (one worker) writes nothing.
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again).0, 0, "{}", text(&again));
}

/// Rows of mailbox `key` journalled as copied.
fn copied(pg: &PgCluster, db: &str, key: &str) -> u64 {
    pg.psql(
        db,
        &format!(
            "SELECT count(*) FROM messages x JOIN folders f ON f.id = x.folder_id
             JOIN mailboxes m ON m.id = f.mailbox_id WHERE m.key = '{key}' AND x.state = 'copied'"
        ),
    )
    .parse()
    .unwrap()
}

#[test]
fn a_worker_whose_lease_is_taken_stops_writing_that_mailbox_and_finishes_it_later() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("ann", "ann-pw"), ("ben", "ben-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("ann", 600, 3, &[]);
    src.seed("ben", 100, 4, &[]);
    let p = fleet_project(&pg, &db, (&src, &dst), &users, |b| {
        b.set("project.parallel_mailboxes", 1)
    });
    let out = File::create(p.dir.path().join("w.out")).unwrap();
    let mut worker = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(out)
        .stderr(File::create(p.dir.path().join("w.err")).unwrap())
        .spawn()
        .unwrap();
    let key = "ann->ann";
    let total = src.dump("ann", "ann-pw").total() as u64;
    // Once ann is part copied, another (pretend) worker takes her lease for 8 s.
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "ann never part copied"
        );
        let has = pg.psql(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'messages'",
        );
        if has == "1" {
            let n = copied(&pg, &db, key);
            if n > 0 && n < total / 3 {
                break;
            }
            assert!(n < total, "ann was copied before the lease could be taken");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stolen = pg.psql(
        &db,
        &format!(
            "UPDATE leases SET worker = 'thief', expires_at = julianday('now') + 8 / 86400.0
             WHERE mailbox = '{key}' RETURNING mailbox"
        ),
    );
    assert!(stolen.starts_with(key), "{stolen}");
    // Within a heartbeat (1 s) and the window in flight the worker stops writing there, and
    // writes nothing more to ann while the thief holds the lease.
    std::thread::sleep(Duration::from_secs(3));
    let frozen = copied(&pg, &db, key);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        copied(&pg, &db, key),
        frozen,
        "writes went on without the lease"
    );
    assert!(frozen < total);
    let issue = pg.psql(
        &db,
        &format!("SELECT count(*) FROM issues WHERE category = 'fleet' AND mailbox = '{key}'"),
    );
    assert_eq!(issue, "1");
    // Once the thief's lease expires, the worker takes ann back and finishes her.
    let status = worker.wait().unwrap();
    let log = std::fs::read_to_string(p.dir.path().join("w.out")).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    for (u, pw) in &users {
        assert_same_mail(&src.dump(u, pw), &dst.dump(u, pw), |f| f.to_string());
    }
    assert_eq!(copied(&pg, &db, key), total);
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM leases"), "0");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// A worker with nothing left to lease waits while another worker holds the lease of an
/// unfinished mailbox, and a stop while it waits ends it with exit 8 (stopped).
#[test]
fn a_worker_waits_for_a_mailbox_leased_elsewhere_and_a_stop_ends_the_wait() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("cat", "cat-pw"), ("dan", "dan-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("cat", 300, 5, &[]);
    src.seed("dan", 20, 6, &[]);
    let p = fleet_project(&pg, &db, (&src, &dst), &users, |b| {
        b.set("project.parallel_mailboxes", 1)
    });
    let mut worker = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(File::create(p.dir.path().join("w.out")).unwrap())
        .stderr(File::create(p.dir.path().join("w.err")).unwrap())
        .spawn()
        .unwrap();
    // While cat is being copied, another (pretend) worker leases dan for a long time.
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "cat never started"
        );
        let has = pg.psql(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'messages'",
        );
        if has == "1" && copied(&pg, &db, "cat->cat") > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    pg.psql(
        &db,
        "INSERT INTO leases(mailbox, worker, expires_at)
         VALUES ('dan->dan', 'elsewhere', julianday('now') + 600 / 86400.0)",
    );
    // cat ends; the worker then waits for dan instead of exiting.
    let start = Instant::now();
    while pg.psql(&db, "SELECT state FROM mailboxes WHERE key = 'cat->cat'") != "done" {
        assert!(start.elapsed() < Duration::from_secs(120), "cat never done");
        assert!(
            worker.try_wait().unwrap().is_none(),
            "the worker ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker exited while dan is unfinished"
    );
    assert_eq!(pg.psql(&db, "SELECT state FROM workers"), "waiting");
    assert_eq!(copied(&pg, &db, "dan->dan"), 0);
    let kill = Command::new("kill")
        .args(["-INT", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = worker.wait().unwrap();
    let log = std::fs::read_to_string(p.dir.path().join("w.out")).unwrap();
    assert_eq!(status.code(), Some(8), "{log}");
    assert_eq!(pg.psql(&db, "SELECT state FROM workers"), "stopped");
    // The lease held elsewhere is untouched.
    assert_eq!(
        pg.psql(&db, "SELECT worker FROM leases WHERE mailbox = 'dan->dan'"),
        "elsewhere"
    );
}

/// A TCP proxy to 127.0.0.1:`port` that counts the client connections open at once: its
/// port and the most it saw.
fn counting_proxy(port: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let me = l.local_addr().unwrap().port();
    let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = most.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(client) = c else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let n = open.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(Shutdown::Write);
            });
            let open = open.clone();
            let (mut c, mut s) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c, &mut s);
                // The client closed: the connection no longer counts.
                open.fetch_sub(1, Ordering::SeqCst);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    (me, seen)
}

/// Three workers whose destination allows 2 connections: each alone would open one per
/// mailbox it works (three at once); together, through the fleet's leased slots, the
/// destination never sees more than 2 (6 without the slots: 2 per worker).
#[test]
fn the_destination_connection_budget_holds_across_the_fleet() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let names: Vec<(String, String)> = (0..6)
        .map(|i| (format!("slot{i}"), format!("pw{i}")))
        .collect();
    let users: Vec<(&str, &str)> = names
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    for (i, (u, _)) in users.iter().enumerate() {
        src.seed(u, 60, 20 + i as u64, &[]);
    }
    let (port, most) = counting_proxy(dst.port);
    let p = fleet_project(&pg, &db, (&src, &dst), &users, |b| {
        b.set("project.parallel_mailboxes", 1)
            .set("destination.port", port)
            .set("destination.max_connections", 2)
    });
    let workers: Vec<Child> = (0..3)
        .map(|i| {
            Command::new(bin())
                .arg("run")
                .arg(&p.path)
                .stdout(File::create(p.dir.path().join(format!("w{i}.out"))).unwrap())
                .stderr(File::create(p.dir.path().join(format!("w{i}.err"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, mut w) in workers.into_iter().enumerate() {
        let status = w.wait().unwrap();
        let log = std::fs::read_to_string(p.dir.path().join(format!("w{i}.out"))).unwrap();
        assert_eq!(status.code(), Some(0), "{log}");
    }
    let most = most.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(most, 2, "destination connections open at once");
    // Every slot was given back.
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM slots"), "0");
    for (u, pw) in &users {
        assert_same_mail(&src.dump(u, pw), &dst.dump(u, pw), |f| f.to_string());
    }
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM leases"), "0");
}

/// Every other engine on a PostgreSQL journal (here `cutover sync`, as the console's and
/// finalize's do) holds a mailbox's lease while it migrates it: a mailbox a worker holds is
/// not started (a `fleet` warning naming the holder, the run not complete), the others are
/// copied; once the lease is gone the next pass copies it, exactly, and gives the lease back.
#[test]
fn an_engine_outside_the_fleet_never_writes_a_mailbox_a_worker_holds() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("ann", "ann-pw"), ("ben", "ben-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("ann", 40, 5, &[]);
    src.seed("ben", 40, 6, &[]);
    let p = fleet_project(&pg, &db, (&src, &dst), &users, |b| b);
    // The journal's tables, then a worker elsewhere holding ann for ten minutes.
    let project = cutover_engine::config::load(&p.path).unwrap();
    drop(cutover_engine::journal::Journal::open_project(&project).unwrap());
    pg.psql(
        &db,
        "INSERT INTO leases(mailbox, worker, expires_at)
         VALUES ('ann->ann', 'elsewhere:1:0', julianday('now') + 600 / 86400.0)",
    );

    let first = p.cutover(&["sync"]);
    assert_ne!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(dst.message_count("ann"), 0, "{}", text(&first));
    assert_same_mail(
        &src.dump("ben", "ben-pw"),
        &dst.dump("ben", "ben-pw"),
        |f| f.to_string(),
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM issues WHERE category = 'fleet' AND mailbox = 'ann->ann'
               AND message LIKE '%elsewhere:1:0 is migrating this mailbox%'"
        ),
        "1",
        "{}",
        text(&first)
    );

    pg.psql(&db, "DELETE FROM leases WHERE worker = 'elsewhere:1:0'");
    let second = p.cutover(&["sync"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_same_mail(
        &src.dump("ann", "ann-pw"),
        &dst.dump("ann", "ann-pw"),
        |f| f.to_string(),
    );
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM leases"), "0");
}

/// The fleet's pause holds a worker's writes without ending it (it waits, its mailbox
/// released), and the fleet's start (the console's start on any machine) resumes it: the
/// copy then ends exactly.
#[test]
fn a_paused_fleet_waits_and_a_start_from_anywhere_resumes_it() {
    let root = tmp();
    let pg = PgCluster::start();
    let db = pg.database();
    let users = [("ann", "ann-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write: slow enough to pause in the middle.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("ann", 600, 7, &[]);
    let p = fleet_project(&pg, &db, (&src, &dst), &users, |b| b);
    let project = cutover_engine::config::load(&p.path).unwrap();
    let store = cutover_engine::journal::Journal::open_project(&project).unwrap();
    let channel = cutover_engine::journal::fleet_channel(&project.name);
    let mut worker = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(File::create(p.dir.path().join("w.out")).unwrap())
        .stderr(File::create(p.dir.path().join("w.err")).unwrap())
        .spawn()
        .unwrap();
    let total = src.dump("ann", "ann-pw").total() as u64;
    let start = Instant::now();
    while copied(&pg, &db, "ann->ann") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "ann never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    store
        .issue_fleet_command(&channel, "pause", None, "test", "test:1")
        .unwrap();
    // The window in flight ends; then nothing more while paused, and the worker waits.
    std::thread::sleep(Duration::from_secs(2));
    let held = copied(&pg, &db, "ann->ann");
    assert!(
        held < total,
        "ann was copied before the pause could hold it"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(copied(&pg, &db, "ann->ann"), held, "a write while paused");
    assert!(
        worker.try_wait().unwrap().is_none(),
        "a paused worker waits for a start"
    );
    store
        .issue_fleet_command(&channel, "start", None, "test", "test:1")
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = worker.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the worker did not finish after the start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(p.dir.path().join("w.out")).unwrap_or_default();
    let err = std::fs::read_to_string(p.dir.path().join("w.err")).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{out}\n{err}");
    assert_same_mail(
        &src.dump("ann", "ann-pw"),
        &dst.dump("ann", "ann-pw"),
        |f| f.to_string(),
    );
}
