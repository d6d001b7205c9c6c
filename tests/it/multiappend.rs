//! MULTIAPPEND (RFC 3502) against a real Dovecot: a window of messages goes as one APPEND
//! command, which the server stores all or nothing, and APPENDUID's UID set gives each
//! message its destination UID.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;

use support::fault_proxy::{Action, Dir, Fault, FaultProxy, Trigger};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-multiappend")
        .tempdir()
        .unwrap()
}

/// A Maildir tree for `user` with `n` messages of about 4 KB in INBOX only.
fn inbox_tree(dir: &std::path::Path, user: &str, n: usize) {
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(user).join(d)).unwrap();
    }
    for i in 0..n {
        let body = format!(
            "From: a{i}@example.com\r\nTo: {user}@example.com\r\nSubject: window test {i}\r\nMessage-ID: <w{i}@example.com>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n{}\r\n",
            format!("line {i} of the body, long enough to make a message of some kilobytes.\r\n")
                .repeat(55)
        );
        std::fs::write(
            dir.join(user)
                .join(format!("cur/17000000{i:02}.M{i}P1.test:2,S")),
            body,
        )
        .unwrap();
    }
}

#[test]
fn a_window_goes_as_one_multiappend_stored_all_or_nothing_with_each_uid() {
    let root = tmp();
    let trees = root.path().join("trees");
    inbox_tree(&trees, "mia", 30);
    let users = [("mia", "mia-pw")];
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    // Half way through the window's bytes, the client -> server stream stalls for 6 s.
    let proxy = FaultProxy::start(
        dst.port,
        vec![Fault::new(
            Dir::Up,
            Trigger::Bytes(60_000),
            Action::Stall(Duration::from_secs(6)),
        )],
    );
    let mut dst_ep = project::imap(proxy.port);
    dst_ep.insert("timeout_secs".into(), 30.into());
    let p = ProjectBuilder::new("multiappend")
        .source(project::maildir(&trees))
        .destination(dst_ep)
        .mailbox(project::mailbox(
            None,
            project::user("mia"),
            project::login("mia", "mia-pw"),
        ))
        .create();
    let run = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while proxy.fired() != vec![1] {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the stall never fired: {:?}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Dovecot has half the window and stores none of it: one command, not yet complete.
    // (Pipelined single APPENDs would have stored the messages already sent.)
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        dst.message_count("mia"),
        0,
        "nothing of a half-sent window is stored"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(dst.message_count("mia"), 30);
    // Each message got its own destination UID from APPENDUID's set.
    let uids: Vec<Option<u32>> = p
        .journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .map(|m| m.dst_uid)
        .collect();
    let mut got: Vec<u32> = uids.iter().map(|u| u.expect("a destination UID")).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=30).collect::<Vec<u32>>());
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}
