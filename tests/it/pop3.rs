//! POP3 source (the inbox only) against Dovecot's real POP3 service: every inbox message once,
//! byte for byte, identity by UIDL, the source left exactly as it was (no DELE, and TOP rather
//! than RETR so nothing is marked seen), no-op and incremental re-runs, kill -9 and resume.

use crate::support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-pop3")
        .tempdir()
        .unwrap()
}

/// A project with a POP3 source and an IMAP destination.
/// `user` from the source's POP3 to the destination's IMAP.
fn project(src: &Dovecot, dst: &Dovecot, user: &str, pass: &str) -> ProjectBuilder {
    ProjectBuilder::new("pop3")
        .source(project::pop3(
            src.pop3_port.expect("source started with --pop3-port"),
        ))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::login(user, pass),
            project::login(user, pass),
        ))
}

/// The sorted content hashes of a dumped folder.
fn hashes(d: &Dump, folder: &str) -> Vec<String> {
    let mut v: Vec<String> = d
        .folders
        .get(folder)
        .map(|ms| ms.iter().map(|m| m.0.clone()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn pop3_inbox_is_copied_once_byte_exact_and_the_source_is_untouched() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &["--pop3-port", "auto"]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 150, 11, &[]);
    let before = src.dump("alice", "alice-pw");
    let inbox = hashes(&before, "INBOX");
    assert!(inbox.len() > 20, "the seed puts mail in the inbox");

    let p = project(&src, &dst, "alice", "alice-pw").create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let got = dst.dump("alice", "alice-pw");
    assert_eq!(
        hashes(&got, "INBOX"),
        inbox,
        "the inbox, byte for byte, once"
    );
    assert_eq!(
        got.total(),
        inbox.len(),
        "only the inbox: POP3 has no other folders"
    );
    // The source is exactly as it was: same messages, same flags (nothing marked seen).
    let after = src.dump("alice", "alice-pw");
    assert_eq!(
        before.folders, after.folders,
        "the POP3 source was modified"
    );

    // Identity by UIDL: a second pass copies and downloads nothing.
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));

    // New mail in the inbox: only it is copied.
    let new = b"From: late@example.com\r\nTo: alice@example.com\r\nSubject: arrived later\r\n\
Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <late-1@example.com>\r\n\r\nhello\r\n";
    let mut save = Command::new("doveadm")
        .arg("-c")
        .arg(src.dir.join("dovecot.conf"))
        .args(["save", "-u", "alice", "-m", "INBOX"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    save.stdin.take().unwrap().write_all(new).unwrap();
    assert!(save.wait().unwrap().success());
    let third = p.cutover(&["run"]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert_eq!(run_counts(&third).0, 1, "{}", text(&third));
    assert_eq!(
        hashes(&dst.dump("alice", "alice-pw"), "INBOX"),
        hashes(&src.dump("alice", "alice-pw"), "INBOX")
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // The UIDLs are in the journal, each mapped to one UID.
    let uidls: std::collections::BTreeSet<String> = p
        .journal()
        .ref_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.side == "source" && r.account == "alice")
        .map(|r| r.reference)
        .collect();
    assert_eq!(uidls.len(), inbox.len() + 1);
}

#[test]
fn pop3_source_killed_mid_copy_resumes_without_loss_or_duplicates() {
    let root = tmp();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &["--pop3-port", "auto"]);
    // fsync on every write makes APPENDs slow enough to be killed in the middle.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("bob", 900, 12, &[]);
    let p = project(&src, &dst, "bob", "bob-pw").create();
    let mut killed = 0;
    for delay_ms in [150u64, 300, 450] {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path);
        if run_until_sigkill(&mut run, |t| t >= Duration::from_millis(delay_ms)) {
            killed += 1;
        }
    }
    assert!(killed >= 1, "at least one kill must land while copying");
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let s = src.dump("bob", "bob-pw");
    let d = dst.dump("bob", "bob-pw");
    assert_eq!(hashes(&d, "INBOX"), hashes(&s, "INBOX"));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn pop3_wrong_password_is_an_auth_failure_naming_the_mailbox() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("carol", "carol-pw")],
        &["--pop3-port", "auto"],
    );
    let dst = Dovecot::start(root.path(), "dst", &[("carol", "carol-pw")], &[]);
    let p = project(&src, &dst, "carol", "wrong").create();
    let run = p.cutover(&["run"]);
    assert_ne!(run.status.code(), Some(0), "{}", text(&run));
    let t = text(&run);
    assert!(t.contains("carol"), "{t}");
    assert!(
        !t.contains("wrong"),
        "the password must not be printed: {t}"
    );
}
