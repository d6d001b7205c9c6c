//! Signals and the emergency stop against real Dovecot servers and the real binary: SIGINT,
//! SIGTERM and SIGHUP stop a headless `cutover run` like Ctrl-C (exit 8, the journal
//! consistent, the next run finishes exactly), and a stop ends the process within 2 s even
//! while the source has gone silent in the middle of a message.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::fault_proxy::{Action, Dir, Fault, FaultProxy, Trigger};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-sig")
        .tempdir()
        .unwrap()
}

const USER: &str = "carol";
const PASS: &str = "carol-pw";

fn mailbox() -> [MailboxLine<'static>; 1] {
    [MailboxLine {
        batch: "b",
        user: USER,
        pass: PASS,
    }]
}

/// The issue demands 2 s; the margin covers process start-up of `kill`/`cutover stop` and a
/// loaded test machine.
const STOP_BOUND: Duration = Duration::from_millis(2500);

fn spawn_run(p: &ProjectDir) -> Child {
    Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cutover run")
}

fn kill(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{sig} failed");
}

/// Wait (bounded by `limit`) for the child to exit; its output and how long it took.
fn wait_exit(mut child: Child, limit: Duration) -> (std::process::Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "cutover still ran {} s after the stop; killed\n{}",
                limit.as_secs(),
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    (child.wait_with_output().unwrap(), took)
}

fn in_doubt(p: &ProjectDir) -> usize {
    messages_in(&p.journal(), "appending")
}

fn mailbox_state(p: &ProjectDir) -> String {
    p.journal().mailbox_rows().unwrap()[0].state.clone()
}

#[test]
fn sigint_sigterm_and_sighup_stop_a_headless_run_like_ctrl_c_and_the_next_run_finishes_exactly() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write: slow enough to be stopped in the middle.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed(USER, 1200, 71, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&mailbox())
        .set("project.folder_workers", 2)
        .create();
    let total = src.dump(USER, PASS).total() as u64;

    for sig in ["TERM", "HUP", "INT"] {
        let before = dst.message_count(USER);
        let run = spawn_run(&p);
        let end = Instant::now() + Duration::from_secs(60);
        while dst.message_count(USER) < before + 50 {
            assert!(Instant::now() < end, "SIG{sig}: nothing copied");
            std::thread::sleep(Duration::from_millis(20));
        }
        kill(&run, sig);
        let (out, took) = wait_exit(run, Duration::from_secs(20));
        assert_eq!(
            out.status.code(),
            Some(8),
            "SIG{sig}: stopped by the operator\n{}",
            text(&out)
        );
        assert!(took < STOP_BOUND, "SIG{sig}: took {took:?} to stop");
        let err = String::from_utf8_lossy(&out.stderr);
        let name = if sig == "INT" {
            "interrupt".to_string()
        } else {
            format!("SIG{sig}")
        };
        assert!(
            err.contains(&format!("{name}: stopping all writes")),
            "{}",
            text(&out)
        );
        assert!(err.contains("stopped by the operator"), "{}", text(&out));
        assert_eq!(mailbox_state(&p), "stopped", "SIG{sig}");
        // The process is gone: once the APPENDs the server had already received have landed
        // (they are in doubt, resolved by the next run), nothing is written any more.
        std::thread::sleep(Duration::from_millis(1500));
        let a = dst.message_count(USER);
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(a, dst.message_count(USER), "SIG{sig}: writes went on");
        assert!(
            a < total,
            "SIG{sig}: the stop came too late to prove anything ({a} of {total})"
        );
    }

    // The terminal itself goes away (an SSH session dropped): the run, session leader of a
    // tmux pane that is killed, gets SIGHUP and can no longer write to its terminal. It stops
    // like above, without a panic on its way out.
    let before = dst.message_count(USER);
    let err = p.dir.path().join("hup.err");
    let socket = format!("cutover-sig-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux")
    };
    let cmd = format!(
        "exec {} run {} 2>{}",
        bin().display(),
        p.path.display(),
        err.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "hup",
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    let pid = String::from_utf8_lossy(&tmux(&["display", "-p", "-t", "hup", "#{pane_pid}"]).stdout)
        .trim()
        .to_string();
    let end = Instant::now() + Duration::from_secs(60);
    while dst.message_count(USER) < before + 50 {
        assert!(Instant::now() < end, "terminal gone: nothing copied");
        std::thread::sleep(Duration::from_millis(20));
    }
    tmux(&["kill-server"]);
    let end = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < end,
            "cutover still runs without its terminal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(said.contains("SIGHUP: stopping all writes"), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    let runs = p.journal().run_rows().unwrap();
    let outcome = runs.last().and_then(|r| r.outcome.as_deref());
    assert_eq!(outcome, Some("exit 8"), "{said}");
    assert_eq!(mailbox_state(&p), "stopped");

    // Whatever the stops left in doubt, the next run resolves; every message exactly once.
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_eq!(in_doubt(&p), 0);
    assert_same_mail(&src.dump(USER, PASS), &dst.dump(USER, PASS), |f| {
        f.to_string()
    });
}

/// What sends `[source]` through a proxy, with a timeout far longer than the stop may take.
fn via(proxy: &FaultProxy) -> toml::Table {
    toml::toml! {
        port = (proxy.port)
        security = "none"
        timeout_secs = 60
    }
}

/// Point the project's source, on `from`, at another proxy.
fn reroute(p: &ProjectDir, from: &FaultProxy, to: &FaultProxy) {
    let was: toml::Table = toml::from_str(&std::fs::read_to_string(&p.path).unwrap()).unwrap();
    assert_eq!(
        was["source"]["port"].as_integer(),
        Some(i64::from(from.port))
    );
    p.edit(|b| b.set("source.port", to.port));
}

/// Start `cutover ARGS` and return once `proxy`'s fault has fired `n` times and cutover has
/// had a moment to wait on the silent server.
fn stalled(p: &ProjectDir, proxy: &FaultProxy, n: usize, args: &[&str]) -> Child {
    let child = Command::new(bin())
        .arg(args[0])
        .arg(&p.path)
        .args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cutover");
    let end = Instant::now() + Duration::from_secs(30);
    while proxy.fired() != vec![n] {
        assert!(Instant::now() < end, "the source never stalled");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    child
}

/// Stop `child` with `how` (a signal name, or "cutover stop"); it must exit 8 within the
/// bound, measured from just before the stop is sent.
fn stop_within_bound(p: &ProjectDir, child: Child, how: &str) -> std::process::Output {
    let sent = Instant::now();
    if how == "cutover stop" {
        let stop = p.cutover(&["stop"]);
        assert_eq!(stop.status.code(), Some(0), "{}", text(&stop));
    } else {
        kill(&child, how);
    }
    let (out, _) = wait_exit(child, Duration::from_secs(20));
    let took = sent.elapsed();
    eprintln!("{how} while the server is silent: exited after {took:?}");
    assert_eq!(out.status.code(), Some(8), "{how}: {}", text(&out));
    assert!(
        took < STOP_BOUND,
        "{how} while the server is silent took {took:?}\n{}",
        text(&out)
    );
    out
}

#[test]
fn a_stop_ends_the_process_within_2_s_while_the_source_is_silent() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    // 40 small messages (well under 1.5 MB) and one of 3 MB: the stall lands inside its
    // literal ("half a message, then silence"), on each of the first two source connections.
    src.seed(USER, 40, 72, &["--no-tricky", "--huge", "--huge-mb", "3"]);
    let mid_message = || {
        Fault::new(
            Dir::Down,
            Trigger::Bytes(1_500_000),
            Action::Stall(Duration::from_secs(120)),
        )
    };
    let proxy = FaultProxy::start(src.port, vec![mid_message().times(2)]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&mailbox())
        .merge("source", via(&proxy))
        .set("project.folder_workers", 1)
        .create();

    // SIGTERM, then `cutover stop` from another shell, while a message body is half read.
    let run = stalled(&p, &proxy, 1, &["run"]);
    stop_within_bound(&p, run, "TERM");
    let run = stalled(&p, &proxy, 2, &["run"]);
    stop_within_bound(&p, run, "cutover stop");

    // A server that never answers EXAMINE: the command in progress is abandoned after the
    // cut-off, and the journal says so.
    let no_examine = FaultProxy::start(
        src.port,
        vec![Fault::new(
            Dir::Down,
            Trigger::ClientSent(" EXAMINE ".into()),
            Action::Stall(Duration::from_secs(120)),
        )],
    );
    reroute(&p, &proxy, &no_examine);
    let run = stalled(&p, &no_examine, 1, &["run"]);
    stop_within_bound(&p, run, "TERM");
    let abandoned = all_issues(&p.journal())
        .iter()
        .filter(|i| i.category == "operator" && i.message.to_lowercase().contains("abandoned"))
        .count();
    assert!(abandoned >= 1, "the abandoned command is journalled");

    // The source answers again: the next run finishes, every message exactly once.
    reroute(&p, &no_examine, &proxy);
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_eq!(in_doubt(&p), 0);
    assert_same_mail(&src.dump(USER, PASS), &dst.dump(USER, PASS), |f| {
        f.to_string()
    });

    // A command that writes nothing (verify) ends on SIGTERM too while the source is silent.
    let silent = FaultProxy::start(src.port, vec![mid_message()]);
    reroute(&p, &proxy, &silent);
    let verify = stalled(&p, &silent, 1, &["verify"]);
    let out = stop_within_bound(&p, verify, "TERM");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SIGTERM: stopped"),
        "{}",
        text(&out)
    );
}

#[test]
fn sigterm_stops_a_rollback_waiting_on_a_silent_destination_and_the_next_one_finishes() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 60, 73, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&mailbox())
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(dst.message_count(USER) > 0);

    // The destination goes silent when the rollback asks for the fingerprints it re-checks.
    let silent = FaultProxy::start(
        dst.port,
        vec![Fault::new(
            Dir::Down,
            Trigger::ClientSent(" UID FETCH ".into()),
            Action::Stall(Duration::from_secs(120)),
        )],
    );
    let direct = std::fs::read_to_string(&p.path).unwrap();
    p.edit(|b| b.set("destination.port", silent.port));
    let rollback = stalled(&p, &silent, 1, &["rollback", "--batch", "b", "--yes"]);
    let out = stop_within_bound(&p, rollback, "TERM");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SIGTERM: stopping"),
        "{}",
        text(&out)
    );
    assert!(
        dst.message_count(USER) > 0,
        "the stall came before any removal"
    );

    // The destination answers again: the rollback resumes and removes everything it wrote.
    std::fs::write(&p.path, direct).unwrap();
    let again = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(dst.message_count(USER), 0, "{}", text(&again));
}
