//! Folder names round-trip exactly, whatever they contain, and a folder that is not copied
//! is never reported as success: two real Dovecot servers.
//!
//! The defect this guards against: a source folder named `Say "hi"` came back from LIST with
//! its quoting escapes still in, was quoted again for EXAMINE, refused, and filed as "the
//! folder disappeared" (a warning) while the run exited 0 and the report said 100%.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

/// Every printable ASCII character but the hierarchy separator '/', and the names that
/// broke or could break quoting, wildcards, literals and modified UTF-7.
fn tricky_names() -> Vec<String> {
    let all_ascii: String = (0x20u8..0x7f)
        .map(char::from)
        .filter(|c| *c != '/')
        .collect();
    [
        "Say \"hi\"",
        "C:\\temp",
        "back\\\\slash\"\"quote",
        "100% done",
        "star*",
        "{braces}",
        "{3}",
        "[brackets]",
        " lead",
        "trail ",
        "Entwürfe",
        "日本語/子 フォルダ",
        "R&D \"Q1\" \\ plan",
        "Kunden &- Partner",
        "🙂 emoji",
        "del\u{7f}name",
        all_ascii.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Deliver one message into `folder` with doveadm (not through cutover's IMAP code).
fn save(d: &Dovecot, user: &str, folder: &str, body: &[u8]) {
    let mut child = Command::new("doveadm")
        .arg("-c")
        .arg(d.dir.join("dovecot.conf"))
        .args(["save", "-u", user, "-m", folder])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run doveadm save");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "doveadm save into {folder:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn message(i: usize, folder: &str) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: message {i} in {folder}\r\n\
         Message-ID: <names-{i}@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody {i} \
         of {folder}\r\n"
    )
    .into_bytes()
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-names")
        .tempdir()
        .unwrap()
}

#[test]
fn every_folder_name_round_trips_byte_exact_and_a_refused_folder_is_never_success() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &["--no-gmail"]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    let names = tricky_names();
    let mut i = 0;
    for name in names
        .iter()
        .map(String::as_str)
        .chain(["INBOX", "Refuse me"])
    {
        if name != "INBOX" {
            src.doveadm(&["mailbox", "create", "-u", "alice", name]);
        }
        for _ in 0..2 {
            i += 1;
            save(&src, "alice", name, &message(i, name));
        }
    }
    let before = src.dump("alice", "alice-pw");
    for name in &names {
        assert_eq!(
            before.folders.get(name).map(Vec::len),
            Some(2),
            "the source holds {name:?}: {:?}",
            before.folders.keys().collect::<Vec<_>>()
        );
    }

    // The destination refuses a name that begins with '~' (Dovecot: "Invalid mailbox
    // name"): one folder mapped there cannot be created.
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "alice",
            pass: "alice-pw",
        }])
        .set(
            "folders.rename",
            vec![toml::toml! {
                from = "^Refuse me$"
                to = "~Refused"
            }],
        )
        .create();

    let plan = p.cutover(&["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        !text(&plan).contains("does not exist"),
        "plan opens every folder: {}",
        text(&plan)
    );

    let run = p.cutover(&["run"]);
    let out = text(&run);
    assert_eq!(run.status.code(), Some(6), "partial completion: {out}");
    assert!(
        out.contains("~Refused") && out.contains("Refuse me"),
        "the refused folder is named: {out}"
    );
    assert!(!out.contains("disappeared"), "{out}");

    // Every other folder, INBOX included, is on the destination under its own name, byte
    // for byte, once.
    let after_src = src.dump("alice", "alice-pw");
    let mut dst_dump = dst.dump("alice", "alice-pw");
    assert!(
        !dst_dump.folders.keys().any(|k| k.starts_with('~')),
        "{:?}",
        dst_dump.folders.keys().collect::<Vec<_>>()
    );
    let mut copied = after_src;
    copied.folders.remove("Refuse me");
    assert_same_mail(&copied, &dst_dump, |f| f.to_string());
    for name in &names {
        assert_eq!(
            dst_dump.folders.remove(name).map(|v| v.len()),
            Some(2),
            "{name:?}"
        );
    }

    // The journal says what was not copied; the report says so, never 100% or zero loss.
    let report = p.cutover(&["report", "--kind", "final", "--format", "md"]);
    assert!(report.status.success(), "{}", text(&report));
    let md = stdout(&report);
    let all = md;
    assert!(all.contains("1 folder(s) not copied"), "{all}");
    assert!(all.contains("share unknown"), "{all}");
    assert!(
        all.contains("Refuse me"),
        "the report names the folder: {all}"
    );
    assert!(!all.contains("= 100.00%"), "{all}");

    // A run again does not turn it into success.
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(6), "{}", text(&again));
    assert_eq!(
        run_counts(&again).0,
        0,
        "nothing copied twice: {}",
        text(&again)
    );
}

#[test]
fn a_folder_the_source_lists_but_will_not_open_fails_the_mailbox_with_the_servers_words() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &["--no-gmail"]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    for (n, name) in ["INBOX", "Locked \"box\"", "Open"].iter().enumerate() {
        if *name != "INBOX" {
            src.doveadm(&["mailbox", "create", "-u", "alice", name]);
        }
        save(&src, "alice", name, &message(n, name));
    }
    // The folder's directory made unreadable for the mail user: LIST still shows it (it is
    // in its parent's listing), EXAMINE is refused.
    let maildir = src.dir.join("mail/alice/Maildir/Locked \"box\"");
    assert!(maildir.is_dir(), "{maildir:?}");
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    // The source must list it first (the journal plans it), then refuse it.
    std::fs::set_permissions(
        &maildir,
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    let listed = src.doveadm(&["mailbox", "list", "-u", "alice"]);
    let run = p.cutover(&["run"]);
    std::fs::set_permissions(
        &maildir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let out = text(&run);
    assert!(
        listed.lines().any(|l| l == "Locked \"box\""),
        "the source must still list the locked folder: {listed}"
    );
    assert_eq!(run.status.code(), Some(6), "{out}");
    assert!(
        out.contains("still lists") && out.contains("Locked \"box\""),
        "named as refused, with the folder: {out}"
    );
    assert!(!out.contains("disappeared"), "{out}");
    let d = dst.dump("alice", "alice-pw");
    assert_eq!(d.folders.get("Open").map(Vec::len), Some(1), "{out}\n{d:?}");
    assert_eq!(d.folders.get("INBOX").map(Vec::len), Some(1), "{out}");

    // Readable again: the next run copies it and the mailbox completes. (Dovecot's list
    // index took the unreadable folder for \Noselect; without the index it looks again.)
    for e in std::fs::read_dir(src.dir.join("mail/alice/Maildir")).unwrap() {
        let e = e.unwrap();
        if e.file_name()
            .to_string_lossy()
            .starts_with("dovecot.list.index")
        {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let d = dst.dump("alice", "alice-pw");
    assert_eq!(
        d.folders.get("Locked \"box\"").map(Vec::len),
        Some(1),
        "{}",
        text(&again)
    );
}
