//! Hostile servers (`tests/support/hostile_imap.py`) against the real `cutover run`, with a
//! throwaway Dovecot as the destination: endless FETCH lines, an endless LIST, an endless LIST
//! of 60 KiB names, endless Gmail labels, a STARTTLS reply line that never ends, STARTTLS
//! answered only by untagged lines, endless POP3 CAPA and UIDL answers, a POP3 STAT of 10
//! million and a LIST size of 2^64-1, a 400 MB literal announced then stalled in four folders
//! at once, and 100 MB literals (under the message cap) stalled in four folders at once; and a
//! hostile destination answering STATUS with BYE. Each ends with a clear error naming what
//! happened and where, the documented exit code, peak RSS under 200 MB, within the configured
//! timeouts, and no panic.

use crate::support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

/// Peak resident memory allowed for the whole cutover process, whatever the server sends.
const MAX_RSS_KIB: u64 = 200 * 1024;

/// The hostile server, killed on drop.
struct Hostile {
    child: Child,
    port: u16,
}

impl Hostile {
    fn start(args: &[&str]) -> Hostile {
        let mut child = Command::new("python3")
            .arg(support_dir().join("hostile_imap.py"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 tests/support/hostile_imap.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("hostile_imap.py said {line:?}"));
        Hostile { child, port }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_kib: u64,
    elapsed: Duration,
}

impl Outcome {
    fn text(&self) -> String {
        format!(
            "exit {:?} after {:?}, peak {} KiB\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.peak_kib, self.stdout, self.stderr
        )
    }

    /// The same for every behaviour: the documented exit code, no panic, memory and time
    /// bounded.
    fn assert_bounded(&self, code: i32, within: Duration) {
        let t = self.text();
        assert_eq!(self.code, Some(code), "{t}");
        assert!(!self.stderr.contains("panicked"), "{t}");
        assert!(
            self.peak_kib < MAX_RSS_KIB,
            "peak RSS {} KiB, over {MAX_RSS_KIB} KiB\n{t}",
            self.peak_kib
        );
        assert!(self.elapsed < within, "took over {within:?}\n{t}");
    }

    /// An ERROR line on stderr for `place` ("user->user" or "user->user / folder")
    /// containing `what`.
    fn assert_error(&self, place: &str, what: &str) {
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with(&format!("ERROR [server] {place}: ")) && l.contains(what)),
            "no ERROR for {place:?} saying {what:?}\n{}",
            self.text()
        );
    }
}

/// What `[source]` says of the hostile server besides its address.
fn speaking(kind: &str, security: &str, timeout_secs: u32) -> toml::Table {
    toml::toml! {
        kind = (kind)
        security = (security)
        timeout_secs = (timeout_secs)
    }
}

/// `cutover run` of a project whose source is the hostile server (`source` holds the kind,
/// security and timeout, see [`speaking`]) and whose destination is `dst`; killed (and the
/// test failed) after 3 minutes.
fn run(dir: &Path, dst: &Dovecot, port: u16, source: toml::Table) -> Outcome {
    let mut at = toml::toml! {
        host = "127.0.0.1"
        port = (port)
    };
    at.extend(source);
    run_project(dir, at, project::imap(dst.port))
}

/// `cutover run` of a project with these `[source]` and `[destination]` tables (each with
/// `max_connections = 8` added) and one mailbox, u -> u.
fn run_project(dir: &Path, source: toml::Table, destination: toml::Table) -> Outcome {
    let project = ProjectBuilder::new("hostile")
        .set("project.folder_workers", 4)
        .source(source)
        .set("source.max_connections", 8)
        .destination(destination)
        .set("destination.max_connections", 8)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "u",
            pass: "p",
        }])
        .write(dir);
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let start = Instant::now();
    // GNU time reports the child's peak resident set size in KiB on stderr.
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kib=%M"])
        .arg(bin())
        .arg("run")
        .arg(&project)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("/usr/bin/time (apt-get install time)");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "cutover still running after 3 minutes\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let stderr = std::fs::read_to_string(&err).unwrap();
    let peak_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {stderr}"));
    Outcome {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr,
        peak_kib,
        elapsed,
    }
}

fn destination(root: &Path) -> Dovecot {
    Dovecot::start(root, "dst", &[("u", "p")], &[])
}

#[test]
fn endless_fetch_lines_after_examine_are_capped_at_exists_plus_slack() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["fetch-flood"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "none", 2));
    o.assert_bounded(6, Duration::from_secs(30));
    o.assert_error(
        "u->u / INBOX",
        "UID FETCH (metadata): the server sent more than 1003 FETCH responses for a folder of 3 messages",
    );
}

#[test]
fn an_endless_list_is_capped() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["list-flood"]);
    // 100,000 LIST lines take a debug build a few seconds to parse: the LIST deadline is
    // not what this test is about.
    let o = run(root.path(), &dst, h.port, speaking("imap", "none", 30));
    o.assert_bounded(6, Duration::from_secs(60));
    o.assert_error(
        "u->u",
        "LIST: the server listed more than 100000 folders; stopped reading",
    );
}

#[test]
fn an_endless_list_of_fat_names_is_capped_in_bytes() {
    let root = tmp();
    let dst = destination(root.path());
    // Names of 60 KiB, each of 20,000 levels: 100,000 of them would be gigabytes.
    let h = Hostile::start(&["list-fat"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "none", 30));
    o.assert_bounded(6, Duration::from_secs(60));
    o.assert_error(
        "u->u",
        "LIST: the folder names the server listed take more than 33554432 bytes (32.0 MiB) in memory",
    );
}

#[test]
fn endless_gmail_labels_are_capped_in_bytes() {
    let root = tmp();
    let dst = destination(root.path());
    // EXISTS 0 allows 1,000 responses; each of 20,000 labels would keep about 1 MiB.
    let h = Hostile::start(&["gmail-labels"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "none", 30));
    o.assert_bounded(6, Duration::from_secs(90));
    assert!(
        o.stderr.contains(
            "UID FETCH (identities): the identities (Message-IDs, labels) the server listed in [Gmail]/All Mail take more than 100663296 bytes (96.0 MiB) in memory"
        ),
        "{}",
        o.text()
    );
    assert!(!o.stdout.contains("complete\n"), "{}", o.text());
}

#[test]
fn a_destination_saying_bye_to_status_is_left_at_once() {
    let root = tmp();
    let users = [("u", "p")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    src.seed("u", 3, 5, &["--no-tricky"]);
    let h = Hostile::start(&["status-bye"]);
    // A 30 s timeout: waiting it out at each of the 5 attempts would take minutes.
    let o = run_project(
        root.path(),
        project::imap(src.port),
        toml::toml! {
            kind = "imap"
            host = "127.0.0.1"
            port = (h.port)
            security = "none"
            timeout_secs = 30
        },
    );
    // The BYE ends STATUS at once (not after 30 s): a lost connection, reconnected; the next
    // attempt finds the messages stored and needs no STATUS.
    o.assert_bounded(0, Duration::from_secs(25));
    assert!(
        o.stderr
            .lines()
            .any(|l| l.starts_with("WARNING [network] u->u / ")
                && l.contains(
                    "the server closed the connection during STATUS (server said BYE: going away)"
                )),
        "{}",
        o.text()
    );
    assert!(!o.stderr.contains("STATUS timed out"), "{}", o.text());
    assert!(o.stdout.contains("complete\n"), "{}", o.text());
}

#[test]
fn a_starttls_reply_line_that_never_ends_is_capped_before_tls() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["starttls-line"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "starttls", 2));
    o.assert_bounded(6, Duration::from_secs(30));
    o.assert_error(
        "u->u",
        &format!(
            "STARTTLS with 127.0.0.1:{}: the server sent a line longer than 65536 bytes",
            h.port
        ),
    );
}

#[test]
fn starttls_answered_by_endless_untagged_lines_ends_at_the_deadline() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["starttls-chatter"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "starttls", 2));
    // One deadline for the whole exchange: 2 s, not 2 s per line.
    o.assert_bounded(6, Duration::from_secs(2 + 20));
    o.assert_error(
        "u->u",
        &format!(
            "STARTTLS with 127.0.0.1:{}: no answer within 2 s; the server sent",
            h.port
        ),
    );
}

#[test]
fn an_endless_pop3_capa_is_capped() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["pop3-capa"]);
    let o = run(root.path(), &dst, h.port, speaking("pop3", "none", 2));
    o.assert_bounded(6, Duration::from_secs(30));
    o.assert_error(
        "u->u",
        "CAPA: the CAPA answer is longer than 200 lines; stopped reading",
    );
}

#[test]
fn an_endless_pop3_uidl_is_capped_at_the_stat_count_plus_slack() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["pop3-uidl"]);
    let o = run(root.path(), &dst, h.port, speaking("pop3", "none", 2));
    o.assert_bounded(6, Duration::from_secs(30));
    o.assert_error(
        "u->u / INBOX",
        "UIDL: the UIDL answer (STAT said 2 messages) is longer than 1002 lines",
    );
}

#[test]
fn a_pop3_stat_of_ten_million_does_not_size_the_listing() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["pop3-stat-lie"]);
    let o = run(root.path(), &dst, h.port, speaking("pop3", "none", 30));
    o.assert_bounded(6, Duration::from_secs(90));
    o.assert_error(
        "u->u / INBOX",
        "UIDL: the UIDL and LIST answers (STAT said 10000000 messages) take more than 67108864 bytes (64.0 MiB) in memory",
    );
}

#[test]
fn a_pop3_list_size_of_u64_max_is_a_named_protocol_error() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["pop3-size-lie"]);
    let o = run(root.path(), &dst, h.port, speaking("pop3", "none", 5));
    o.assert_bounded(6, Duration::from_secs(60));
    o.assert_error(
        "u->u / INBOX",
        "LIST: LIST gave message 1 a size of 18446744073709551615 bytes, more than the 4294967295 a message can have",
    );
    assert_eq!(dst.message_count("u"), 0, "{}", o.text());
}

const FOLDERS: [&str; 4] = ["INBOX", "Folder1", "Folder2", "Folder3"];

#[test]
fn a_400_mb_literal_for_a_56_byte_message_is_refused_before_allocation_in_every_folder() {
    let root = tmp();
    let dst = destination(root.path());
    let h = Hostile::start(&["big-literal", "--folders", "4", "--literal", "400000000"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "none", 2));
    // Refused at once as permanent (no retry, no wait for the stalled bytes).
    o.assert_bounded(6, Duration::from_secs(30));
    for f in FOLDERS {
        o.assert_error(
            &format!("u->u / {f}"),
            "UID FETCH: the server announced a literal of 400000000 bytes (381.5 MiB), more than the 268435456 bytes (256.0 MiB) accepted for a message",
        );
    }
    assert!(
        !o.stderr.contains("reconnecting"),
        "a refused literal is not retried\n{}",
        o.text()
    );
}

#[test]
fn stalled_literals_under_the_cap_in_four_folders_share_one_read_ahead_budget() {
    let root = tmp();
    let dst = destination(root.path());
    // 100 MB each: accepted (the cap is 256 MiB), so the client allocates a buffer for the
    // literal once its reservation is made. Four at once would be 400 MB; with one budget
    // for the process, one waits in the budget at a time and the others hold nothing.
    let h = Hostile::start(&["big-literal", "--folders", "4", "--literal", "100000000"]);
    let o = run(root.path(), &dst, h.port, speaking("imap", "none", 1));
    // A stall is a network timeout: retried 5 times per folder (waits for the budget do not
    // count against the timeout, so the four folders' 1 s stalls take turns), then exit 5.
    o.assert_bounded(5, Duration::from_secs(120));
    for f in FOLDERS {
        assert!(
            o.stderr
                .lines()
                .any(|l| l.starts_with(&format!("ERROR [network] u->u / {f}: "))
                    && l.contains("UID FETCH (reading a message) timed out after 1 s")),
            "{f} did not reach its literal\n{}",
            o.text()
        );
    }
}

#[test]
fn the_caps_do_not_bite_a_large_real_folder_filled_in_one_session() {
    // A control: a real Dovecot source whose INBOX holds well over 1,000 messages, copied in
    // one run. The destination INBOX starts empty (EXISTS 0 at SELECT), so the check after
    // the copy lists more FETCH responses than EXISTS + 1000 unless the cap follows the
    // folder as cutover's own APPENDs fill it.
    let root = tmp();
    let users = [("u", "p")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = destination(root.path());
    src.seed("u", 3600, 11, &["--no-tricky"]);
    let inbox = src
        .dump("u", "p")
        .folders
        .get("INBOX")
        .map_or(0, |m| m.len());
    assert!(inbox > 1100, "the seed puts {inbox} messages in INBOX");
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "u",
            pass: "p",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_same_mail(&src.dump("u", "p"), &dst.dump("u", "p"), |f| f.to_string());
}

/// A source answering with a UID cutover cannot read (the parser drops it as if absent) or a
/// folder with UIDVALIDITY 0: a named protocol error, the mailbox not complete, never
/// "complete" with the message silently left behind.
#[test]
fn a_negative_or_too_large_uid_and_uidvalidity_0_are_named_protocol_errors() {
    for (behaviour, what) in [
        (
            "uid-negative",
            "UID FETCH in INBOX: the server answered for message 2 with no valid UID",
        ),
        (
            "uid-huge",
            "UID FETCH in INBOX: the server answered for message 2 with no valid UID",
        ),
        (
            "uidvalidity-0",
            "EXAMINE INBOX: the server gave UIDVALIDITY 0",
        ),
        (
            "flags-only",
            "UID FETCH in INBOX: the server answered for UID 1 with its flags but never its bytes",
        ),
    ] {
        let root = tmp();
        let dst = destination(root.path());
        let h = Hostile::start(&[behaviour]);
        let o = run(root.path(), &dst, h.port, speaking("imap", "none", 5));
        o.assert_bounded(6, Duration::from_secs(60));
        assert!(
            o.stderr.contains(what),
            "{behaviour}: no {what:?}\n{}",
            o.text()
        );
        assert!(
            !o.stdout.contains("complete\n"),
            "{behaviour}\n{}",
            o.text()
        );
        // Nothing was written under a UIDVALIDITY of 0 or for the unreadable UID's folder.
        let n = dst.message_count("u");
        assert_eq!(
            n,
            0,
            "{behaviour}: {n} message(s) on the destination\n{}",
            o.text()
        );
        // No message was taken for expunged on the source either.
        let skipped = messages_in(&read_journal(&root.path().join("state.sqlite")), "skipped");
        assert_eq!(skipped, 0, "{behaviour}\n{}", o.text());
    }
}
