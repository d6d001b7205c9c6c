//! The real binary in a real terminal (tmux) against real Dovecot servers: the dashboard
//! reaches the true totals, emergency stop halts writes, SIGHUP leaves a resumable journal,
//! and the terminal is restored after quit.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn start(name: &str, cmd: &str, env: &[(&str, &str)]) -> Tmux {
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

    pub(crate) fn keys(&self, k: &str) {
        self.run(&["send-keys", "-t", "ui", k]);
    }

    pub(crate) fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "ui"])
    }

    /// Wait (bounded) until the screen contains `text`.
    pub(crate) fn wait_for(&self, text: &str, secs: u64) -> String {
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
    pub(crate) fn wait_dead(&self, secs: u64) -> String {
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

/// The screen's line that contains `what`.
fn line_of(screen: &str, what: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no {what:?} line: {screen}"))
        .to_string()
}

/// Issue 19: after the first copy a message arrives on the source; the operator starts a
/// delta pass from the Batches tab (d); the destination receives it, the pass is journalled,
/// and the tab shows the last pass (age, outcome, what it carried), the lag and the
/// final-pass estimate measured from it.
#[test]
fn a_delta_pass_from_the_batches_tab_carries_new_source_mail_and_shows_the_lag() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 30, 41, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    let total = src.dump("alice", "alice-pw").total();
    let cmd = format!("{} {}", bin().display(), p.path.display());
    let t = Tmux::start("delta", &cmd, &[("NO_COLOR", "1")]);
    let screen = t.wait_for("no delta pass yet", 10);
    assert!(
        screen.contains("no estimate before a complete delta pass"),
        "{screen}"
    );
    // The first copy, and at once a delta pass asked while it runs: refused, nothing run.
    t.run(&["send-keys", "-t", "ui", "-l", "Ad"]);
    t.wait_for(&format!("msgs {}/{} (100.0%)", num(total), num(total)), 60);
    t.wait_for("IDLE", 20);
    let refused: Vec<String> = all_issues(&p.journal())
        .into_iter()
        .map(|i| i.message)
        .filter(|m| m.starts_with("delta pass of batch pilot refused: "))
        .collect();
    assert!(
        refused
            .iter()
            .any(|m| m.contains("1 mailbox(es) of batch pilot still running")),
        "{refused:?}"
    );
    assert!(p.journal().sync_passes_of("pilot", 5).unwrap().is_empty());
    // Mail arrives on the source after the first copy: not on the destination yet.
    crate::finalize::deliver(&src, "alice", "INBOX", "arrived-after-the-copy", 1);
    assert_eq!(src.dump("alice", "alice-pw").total(), total + 1);
    assert_eq!(dst.dump("alice", "alice-pw").total(), total);
    // The lag check sees it, without copying anything.
    t.keys("l");
    let screen = t.wait_for("≤1 new", 30);
    assert!(
        line_of(&screen, "Lag:").contains("0 known not copied, checked "),
        "{screen}"
    );
    assert_eq!(dst.dump("alice", "alice-pw").total(), total);
    t.keys("d");
    let screen = t.wait_for("complete in", 60);
    let last = line_of(&screen, "Delta pilot");
    assert!(
        last.contains("last pass") && last.contains(": 1 new · 0 flags · 0 moved · 0 deleted"),
        "{screen}"
    );
    let lag = line_of(&screen, "Lag:");
    assert!(
        lag.contains("0 known not copied; the last ") && lag.contains(" not looked at yet"),
        "{screen}"
    );
    assert!(
        line_of(&screen, "Final pass:").contains("≈ ")
            && screen.contains("(estimate: the mean of the last 1 complete pass)"),
        "{screen}"
    );
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
    // Journalled as a pass of the batch, with what it carried.
    let passes = p.journal().sync_passes_of("pilot", 5).unwrap();
    assert_eq!(passes.len(), 1, "{passes:?}");
    assert_eq!(passes[0].outcome, "complete");
    assert_eq!(passes[0].counts.new_messages, 1);
    // A second pass finds nothing new: the destination is not written to again.
    t.keys("d");
    t.wait_for(": 0 new · 0 flags", 60);
    assert_eq!(dst.dump("alice", "alice-pw").total(), total + 1);
    t.wait_for("the last 2 complete passes", 10);
    // Each start is logged with the operator, each pass with what it did.
    let issues: Vec<String> = all_issues(&p.journal())
        .into_iter()
        .map(|i| i.message)
        .collect();
    assert!(
        issues
            .iter()
            .any(|m| m.starts_with("delta pass of batch pilot started by ")),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|m| m.starts_with("delta pass of batch pilot: ")
                && m.contains("1 new, 0 flag change(s), 0 move(s)")),
        "{issues:?}"
    );
    // On a schedule (D, then a duration as `cutover sync --every` reads it): passes run by
    // themselves, and mail that arrives meanwhile is carried; D again stops them.
    t.keys("D");
    t.wait_for("delta pass every:", 5);
    t.run(&["send-keys", "-t", "ui", "-l", "2s"]);
    t.keys("Enter");
    t.wait_for("[every 2.0 s]", 10);
    crate::finalize::deliver(&src, "alice", "INBOX", "arrived-between-passes", 1);
    let passes_of = || p.journal().sync_passes_of("pilot", 100).unwrap();
    let end = Instant::now() + Duration::from_secs(40);
    while passes_of().len() < 5 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(passes_of().len() >= 5, "{:?}", passes_of());
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
    t.keys("D");
    let end = Instant::now() + Duration::from_secs(10);
    while t.screen().contains("[every") || t.screen().contains("[pass running]") {
        assert!(Instant::now() < end, "{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopped = passes_of().len();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(passes_of().len(), stopped, "no pass after D stopped them");
    assert!(all_issues(&p.journal()).iter().any(|i| {
        i.message
            .starts_with("delta passes of batch pilot stopped by ")
    }),);
    t.keys("q");
    let dead = t.wait_dead(10);
    assert_eq!(dead, "1 0 0", "exit status 0 and the alternate screen left");
}

/// Issue 19: finalize from the Batches tab. F asks once (the batch's name typed); then, with
/// the domain's MX on the destination (a local authoritative server), the DNS is reported,
/// the switch marked, the final pass carries the mail that arrived on the source since the
/// copy, and the batch is verified; every step an operator issue naming the operator.
#[test]
fn finalize_from_the_batches_tab_asks_once_then_switches_passes_and_verifies() {
    use crate::finalize::{COMMON, Zone, deliver};
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 20, 43, &["--no-tricky"]);
    let zone = Zone::start(
        root.path(),
        &format!("{COMMON}acme.test MX 3600 10 mx.new.test\n"),
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "alice",
            pass: "alice-pw",
        }])
        .set("dns.domain", "acme.test")
        .set("dns.dkim_selectors", vec!["selector1"])
        .set("dns.mx", vec!["mx.new.test"])
        .set("dns.autodiscover", "autodiscover.outlook.com")
        .set("dns.spf_include", vec!["spf.protection.outlook.com"])
        .set("dns.resolver", format!("127.0.0.1:{}", zone.port))
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    deliver(&src, "alice", "INBOX", "late", 2);
    let cmd = format!("{} {}", bin().display(), p.path.display());
    let t = Tmux::start("finalize", &cmd, &[("NO_COLOR", "1")]);
    t.wait_for("no delta pass yet", 10);
    // Esc cancels: nothing happens.
    t.keys("F");
    t.wait_for("FINALIZE BATCH pilot?", 5);
    t.keys("Escape");
    t.wait_for("finalize cancelled", 5);
    assert_eq!(p.journal().switched_at("alice->alice").unwrap(), None);
    t.keys("F");
    t.wait_for("FINALIZE BATCH pilot?", 5);
    t.run(&["send-keys", "-t", "ui", "-l", "pilot"]);
    t.keys("Enter");
    let screen = t.wait_for("complete in", 60);
    assert!(
        line_of(&screen, "Delta pilot").contains(": 2 new · 0 flags"),
        "{screen}"
    );
    let end = std::time::Instant::now() + Duration::from_secs(60);
    let issues = loop {
        let issues: Vec<String> = all_issues(&p.journal())
            .into_iter()
            .map(|i| i.message)
            .collect();
        if issues
            .iter()
            .any(|m| m.contains("final pass complete and verified"))
            || std::time::Instant::now() > end
        {
            break issues;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let has = |what: &str| issues.iter().any(|m| m.contains(what));
    assert!(
        has("finalize of batch pilot: DNS of acme.test: ") && has("3600"),
        "{issues:?}"
    );
    assert!(
        has("finalize of batch pilot confirmed by ") && has(" in the console"),
        "{issues:?}"
    );
    assert!(
        has("finalize of batch pilot: switched at ") && has("final pass complete and verified"),
        "{issues:?}"
    );
    let j = p.journal();
    assert!(j.switched_at("alice->alice").unwrap().is_some());
    assert!(j.latest_verifications().unwrap()["alice->alice"].0);
    drop(j);
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
    t.keys("q");
    let dead = t.wait_dead(10);
    assert_eq!(dead, "1 0 0", "exit status 0 and the alternate screen left");
}

/// The reports' recommendations written in the real console: `M` on the Issues tab opens the
/// editor pre-filled with cutover's suggestions, a line typed above them, ctrl-s saves; the
/// journal holds the note with the OS user who wrote it.
#[test]
fn recommendations_are_written_in_the_console_and_journalled() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    let cmd = format!("{} {}", bin().display(), p.path.display());
    let t = Tmux::start("notes", &cmd, &[("NO_COLOR", "1"), ("USER", "ops-lena")]);
    t.wait_for("cutover ·", 10);
    t.keys("3");
    // The suggestions are gathered off the engine's loop as the console starts: until a
    // snapshot carries them the editor opens empty, so close it and open it again.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        t.keys("M");
        let s = t.wait_for("Recommendations (not written yet", 10);
        if s.contains("suggestion: Run a full content verification") {
            break;
        }
        assert!(Instant::now() < end, "no suggestions in the editor: {s}");
        t.keys("Escape");
        std::thread::sleep(Duration::from_millis(200));
    }
    t.keys("Enter");
    t.keys("Up");
    t.keys("Check DNS first.");
    t.keys("C-s");
    t.wait_for("Recommendations saved", 10);
    t.keys("q");
    t.wait_dead(10);
    let notes = p.journal().latest_notes().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        (notes[0].section.as_str(), notes[0].by.as_str()),
        ("recommendations", "ops-lena")
    );
    assert!(
        notes[0]
            .text
            .starts_with("Check DNS first.\nRun a full content verification"),
        "{:?}",
        notes[0].text
    );
}
