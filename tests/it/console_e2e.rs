//! The real binary in a real terminal (tmux) against real Dovecot servers: the dashboard
//! reaches the true totals, emergency stop halts writes, SIGHUP leaves a resumable journal,
//! and the terminal is restored after quit.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, cmd: &str, env: &[(&str, &str)]) -> Tmux {
        let socket = format!("cutover-test-{}-{name}", std::process::id());
        let t = Tmux { socket };
        let mut args: Vec<String> = vec![
            "-f".into(),
            "/dev/null".into(),
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            "ui".into(),
            "-x".into(),
            "100".into(),
            "-y".into(),
            "30".into(),
        ];
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push("sleep 600".into());
        t.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        t.run(&["set-option", "-t", "ui", "remain-on-exit", "on"]);
        t.run(&["respawn-pane", "-k", "-t", "ui", cmd]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux (apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn keys(&self, k: &str) {
        self.run(&["send-keys", "-t", "ui", k]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "ui"])
    }

    /// Wait (bounded) until the screen contains `text`.
    fn wait_for(&self, text: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < end,
                "{text:?} never appeared; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pane(&self, fmt: &str) -> String {
        self.run(&["display", "-p", "-t", "ui", fmt])
            .trim()
            .to_string()
    }

    /// Wait until the program exits: "1 STATUS ALT" (tmux 3.3 prints an empty status for 0).
    fn wait_dead(&self, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s =
                self.pane("#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{alternate_on}");
            let f: Vec<&str> = s.split('|').collect();
            // tmux can show the pane dead a moment before it records how the process ended
            // (seen under load: an exit 8 read as 0); an empty status and signal are read
            // again, and taken as 0 only at the deadline (tmux versions that print an empty
            // status for 0).
            if f[0] == "1"
                && f[1].is_empty()
                && f[2].is_empty()
                && Instant::now() + Duration::from_secs(1) < end
            {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            if f[0] == "1" {
                let status = if f[1].is_empty() && f[2].is_empty() {
                    "0"
                } else {
                    f[1]
                };
                let status = if status.is_empty() {
                    format!("signal {}", f[2])
                } else {
                    status.to_string()
                };
                return format!("1 {status} {}", f.get(3).unwrap_or(&""));
            }
            assert!(
                Instant::now() < end,
                "cutover did not exit: {s}\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-ui")
        .tempdir()
        .unwrap()
}

fn num(n: usize) -> String {
    cutover::ui::widgets::num(n as u64)
}

#[test]
fn console_follows_a_migration_to_the_true_totals_and_restores_the_terminal() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 300, 21, &[]);
    src.seed("bob", 200, 22, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "pilot",
                user: "alice",
                pass: "alice-pw",
            },
            MailboxLine {
                batch: "wave-1",
                user: "bob",
                pass: "bob-pw",
            },
        ])
        .create();
    let total = src.dump("alice", "alice-pw").total() + src.dump("bob", "bob-pw").total();
    let cmd = format!("{} {}", bin().display(), p.path.display());
    let t = Tmux::start("follow", &cmd, &[("NO_COLOR", "1")]);
    t.wait_for("not started", 10);
    assert_eq!(
        t.pane("#{alternate_on}"),
        "1",
        "the console owns the alternate screen"
    );
    // Selection highlight survives NO_COLOR as reverse video.
    let styled = t.run(&["capture-pane", "-p", "-e", "-t", "ui"]);
    assert!(
        styled.contains("\x1b[7m"),
        "reverse video missing:\n{styled:?}"
    );
    t.keys("A");
    let screen = t.wait_for(&format!("msgs {}/{} (100.0%)", num(total), num(total)), 60);
    assert!(
        screen.contains("IDLE") || screen.contains("done"),
        "{screen}"
    );
    // Drill into a mailbox.
    t.keys("Enter");
    t.wait_for("Mailboxes of pilot", 5);
    t.keys("Enter");
    t.wait_for("current folder", 5);
    // 100% copied is shown before the last folder's closing check ends: wait for "done".
    t.wait_for("✔ done", 10);
    // Esc then another key in the same read is Alt+key to a terminal: wait for each screen.
    t.keys("Escape");
    t.wait_for("Mailboxes of pilot", 5);
    t.keys("Escape");
    t.wait_for("Batches (enter: mailboxes)", 5);
    // Help lists the log file.
    t.keys("?");
    t.wait_for("logs:", 5);
    t.keys("x");
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
    assert_same_mail(
        &src.dump("bob", "bob-pw"),
        &dst.dump("bob", "bob-pw"),
        |f| f.to_string(),
    );
    // Roll back the pilot batch from the Emergency tab: type its name to confirm.
    t.keys("4");
    t.wait_for("what cutover wrote", 5);
    t.keys("R");
    t.wait_for("ROLL BACK BATCH pilot?", 5);
    t.run(&["send-keys", "-t", "ui", "-l", "pilot"]);
    t.keys("Enter");
    t.wait_for("rollback of alice->alice done", 30);
    assert_eq!(
        dst.dump("alice", "alice-pw").total(),
        0,
        "alice's destination holds nothing cutover wrote"
    );
    assert_same_mail(
        &src.dump("bob", "bob-pw"),
        &dst.dump("bob", "bob-pw"),
        |f| f.to_string(),
    );
    t.keys("q");
    let dead = t.wait_dead(10);
    assert_eq!(dead, "1 0 0", "exit status 0 and the alternate screen left");
}

#[test]
fn emergency_stop_halts_writes_and_sighup_leaves_a_resumable_journal() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write: slow enough to stop in the middle.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("carol", 3000, 23, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "carol",
            pass: "carol-pw",
        }])
        .set("project.folder_workers", 2)
        .create();
    let total = src.dump("carol", "carol-pw").total() as u64;
    let cmd = format!("{} tui --start {}", bin().display(), p.path.display());
    let t = Tmux::start("stop", &cmd, &[]);
    t.wait_for("RUNNING", 15);
    // Let some mail arrive, then stop.
    let end = Instant::now() + Duration::from_secs(30);
    while dst.message_count("carol") < 50 {
        assert!(Instant::now() < end, "nothing copied:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    t.keys("S");
    t.wait_for("EMERGENCY STOP?", 5);
    t.keys("y");
    t.wait_for("STOPPED", 5);
    // Give the windows in flight time to land, then the count must not move any more.
    std::thread::sleep(Duration::from_millis(1500));
    let a = dst.message_count("carol");
    std::thread::sleep(Duration::from_secs(2));
    let b = dst.message_count("carol");
    assert_eq!(a, b, "writes continued after the emergency stop");
    assert!(
        a < total,
        "the stop came too late to prove anything ({a} of {total})"
    );
    let issues = all_issues(&p.journal());
    let issue = &issues
        .iter()
        .find(|i| i.category == "operator" && i.severity == "critical")
        .unwrap_or_else(|| panic!("no critical operator issue: {issues:?}"))
        .message;
    assert!(
        issue.contains("emergency stop of all batches by"),
        "{issue}"
    );
    t.keys("q");
    assert_eq!(t.wait_dead(10), "1 0 0");

    // Resume in the console, then the terminal goes away (SIGHUP) mid-copy.
    let t2 = Tmux::start("hup", &cmd, &[]);
    t2.wait_for("RUNNING", 15);
    let c0 = dst.message_count("carol");
    let end = Instant::now() + Duration::from_secs(30);
    while dst.message_count("carol") < c0 + 50 {
        assert!(
            Instant::now() < end,
            "nothing copied after resume:\n{}",
            t2.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = t2.pane("#{pane_pid}");
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    t2.wait_dead(20);
    let in_doubt = messages_in(&p.journal(), "appending");
    assert_eq!(
        in_doubt, 0,
        "a graceful pause journals every window in flight"
    );
    // The headless run finishes the job exactly.
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_same_mail(
        &src.dump("carol", "carol-pw"),
        &dst.dump("carol", "carol-pw"),
        |f| f.to_string(),
    );
}

#[test]
fn a_detached_console_still_honours_sigterm_by_pausing_gracefully() {
    let root = tmp();
    let users = [("dora", "dora-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("dora", 1500, 24, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "dora",
            pass: "dora-pw",
        }])
        .set("project.folder_workers", 2)
        .create();
    let total = src.dump("dora", "dora-pw").total() as u64;
    // The shell records cutover's exit status: what tmux reports for a dead pane was seen
    // to read 0 under load.
    let status = root.path().join("exit-status");
    let cmd = format!(
        "{} tui --start {}; echo $? > {}; sleep 600",
        bin().display(),
        p.path.display(),
        status.display()
    );
    let t = Tmux::start("detach", &cmd, &[]);
    t.wait_for("RUNNING", 15);
    t.keys("q");
    t.wait_for("Quit how?", 5);
    t.keys("d");
    t.wait_for("detached from the console", 5);
    let end = Instant::now() + Duration::from_secs(30);
    while dst.message_count("dora") < 50 {
        assert!(Instant::now() < end, "nothing copied:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The console's own SIGTERM handler is gone with the screen; headless, SIGTERM must not
    // be ignored: every batch pauses gracefully and the process exits 8.
    // cutover is the shell's child in the pane.
    let shell = t.pane("#{pane_pid}");
    let out = Command::new("pgrep")
        .args(["-P", shell.trim()])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no child of the pane's shell\n{}", t.screen()))
        .to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Ok(c) = std::fs::read_to_string(&status)
            && !c.trim().is_empty()
        {
            break c.trim().to_string();
        }
        assert!(Instant::now() < end, "cutover did not exit\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, "8", "{}", t.screen());
    let screen = t.screen();
    assert!(screen.contains("SIGTERM: pausing every batch"), "{screen}");
    let copied = dst.message_count("dora");
    assert!(
        copied < total,
        "the stop came too late to prove anything ({copied} of {total})"
    );
    let in_doubt = messages_in(&p.journal(), "appending");
    assert_eq!(
        in_doubt, 0,
        "a graceful pause journals every window in flight"
    );
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_same_mail(
        &src.dump("dora", "dora-pw"),
        &dst.dump("dora", "dora-pw"),
        |f| f.to_string(),
    );
}

/// A project behind the built-in checklist, assessed but with its manual items unticked: the
/// console opens on the Checklist tab, the automatic items already evaluated (logins pass),
/// and a start of the waves is refused for the pilot's verification.
#[test]
fn the_console_opens_on_an_unmet_checklist_with_the_pilot_gate_visible() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 5, 23, &["--no-tricky"]);
    src.seed("bob", 5, 24, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "pilot",
                user: "alice",
                pass: "alice-pw",
            },
            MailboxLine {
                batch: "wave-1",
                user: "bob",
                pass: "bob-pw",
            },
        ])
        .set("checklist.defaults", true)
        .create();
    let a = p.cutover(&["assess"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    let cmd = format!("{} {}", bin().display(), p.path.display());
    let t = Tmux::start("checklist", &cmd, &[("NO_COLOR", "1")]);
    let screen = t.wait_for("Pre-migration checklist", 10);
    assert!(screen.contains("starts refused"), "{screen}");
    let line = |what: &str| {
        screen
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} line: {screen}"))
            .to_string()
    };
    assert!(
        line("User accounts created").contains("[x] pass"),
        "the automatic items are evaluated already: {screen}"
    );
    assert!(line("Target tenant").contains("[ ] pending"), "{screen}");
    assert!(
        line("Pilot batch migrated").contains("pilot batch pilot not verified"),
        "the pilot gate: {screen}"
    );
    // The Batches tab: starting the wave is refused, naming the pilot gate.
    t.keys("2");
    t.wait_for("Batches (enter: mailboxes)", 5);
    t.keys("j");
    t.keys("s");
    t.wait_for("pilot-verified", 5);
    t.keys("q");
    t.wait_dead(10);
}
