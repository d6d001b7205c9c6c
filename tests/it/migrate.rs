//! IMAP to IMAP against two real Dovecot servers: fidelity, idempotence, incremental passes,
//! oversize handling, connection budget, exit codes.

use crate::support;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

/// The destination in these tests uses '.' as separator: a '.' inside a source name becomes '_'.
fn dotted(folder: &str) -> String {
    folder.replace('.', "_")
}

#[test]
fn imap_to_imap_is_byte_exact_idempotent_and_incremental() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // Different layout and separator on the destination, reached over TLS with a private CA.
    let dst = Dovecot::start(
        root.path(),
        "dst",
        &users,
        &["--layout", "maildir++", "--separator", ".", "--no-gmail"],
    );
    src.seed("alice", 400, 1, &["--huge", "--huge-mb", "6"]);
    src.seed("bob", 150, 2, &[]);
    src.doveadm(&["mailbox", "create", "-u", "alice", "Empty/Nested/Deeper"]);

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
        .set("destination.port", dst.tls_port)
        .set("destination.security", "tls")
        .set("destination.ca_file", dst.ca.display().to_string())
        .create();

    let plan = p.cutover(&["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(stdout(&plan).contains("Dots.in.name") && stdout(&plan).contains("Dots_in_name"));
    assert_eq!(
        dst.dump("alice", "alice-pw").total(),
        0,
        "plan must copy nothing"
    );

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        stdout(&run).contains("[alice->alice] INBOX"),
        "per-folder progress: {}",
        text(&run)
    );
    for (u, pw) in users {
        let s = src.dump(u, pw);
        let d = dst.dump(u, pw);
        assert!(s.total() > 0);
        assert_same_mail(&s, &d, dotted);
    }
    // The empty nested folder exists on the destination too.
    assert!(
        dst.dump("alice", "alice-pw")
            .folders
            .contains_key("Empty/Nested/Deeper")
    );

    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // A second run: nothing new, so no APPEND and no body download.
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));

    // New mail on the source: only that is copied.
    src.seed("alice", 25, 1, &["--offset", "400"]);
    let inc = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(inc.status.code(), Some(0), "{}", text(&inc));
    assert_eq!(run_counts(&inc).0, 25, "{}", text(&inc));
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        dotted,
    );
    // The batch filter left bob alone, and bob is still complete.
    assert!(!stdout(&inc).contains("[bob->bob]"));
}

#[test]
fn oversize_messages_are_skipped_with_a_reason_never_silently() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("carol", 60, 3, &["--no-tricky", "--huge", "--huge-mb", "3"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "carol",
            pass: "carol-pw",
        }])
        .set("destination.max_message_size", "2 MiB")
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(
        run.status.code(),
        Some(6),
        "partial completion: {}",
        text(&run)
    );
    assert!(
        text(&run).contains("over the destination's limit"),
        "{}",
        text(&run)
    );
    let s = src.dump("carol", "carol-pw");
    let over = s
        .folders
        .values()
        .flatten()
        .filter(|m| m.3 > 2 * 1024 * 1024)
        .count() as i64;
    assert!(over >= 1, "the seed has a message over 2 MiB");
    let j = p.journal();
    let skipped: Vec<_> = j
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "skipped")
        .collect();
    assert_eq!(skipped.len() as i64, over);
    let reason = skipped.iter().filter_map(|m| m.reason.clone()).max();
    assert!(reason.unwrap_or_default().contains("limit"));
    let issues = all_issues(&j)
        .iter()
        .filter(|i| i.category == "oversize")
        .count();
    assert_eq!(issues as i64, over);
    // Everything else arrived; verify reports exactly the skipped messages as missing.
    let d = dst.dump("carol", "carol-pw");
    assert_eq!(s.total(), d.total() + over as usize);
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    let missing: i64 = stdout(&v)
        .lines()
        .filter_map(|l| l.split("missing").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse::<i64>().ok())
        .sum();
    assert_eq!(missing, over, "{}", text(&v));
}

#[test]
fn connection_budget_is_respected_over_starttls_and_authenticate() {
    let root = tmp();
    let users = [("dave", "dave-pw")];
    // Dovecot itself refuses a third connection per user and IP: exceeding the budget fails.
    let src = Dovecot::start(root.path(), "src", &users, &["--max-conn", "2"]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--max-conn", "2"]);
    src.seed("dave", 300, 4, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "dave",
            pass: "dave-pw",
        }])
        .set("source.max_connections", 2)
        // AUTHENTICATE (the XOAUTH2 path) against the real server, with PLAIN.
        .set("source.auth", "plain")
        .set("destination.security", "starttls")
        .set("destination.ca_file", dst.ca.display().to_string())
        .set("destination.max_connections", 2)
        .set("project.folder_workers", 6)
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_same_mail(
        &src.dump("dave", "dave-pw"),
        &dst.dump("dave", "dave-pw"),
        |f| f.to_string(),
    );
}

#[test]
fn exit_codes_for_auth_and_connection_failures() {
    let root = tmp();
    let users = [("erin", "erin-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "erin",
            pass: "wrong-password",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(4), "auth failure: {}", text(&run));
    assert!(
        text(&run).contains("login as erin refused"),
        "{}",
        text(&run)
    );

    // Nothing listens on the destination port any more.
    let port = dst.port;
    drop(dst);
    let p2 = ProjectBuilder::new("test")
        .source(project::imap(src.port))
        .destination(project::imap(port))
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "erin",
            pass: "erin-pw",
        }])
        .create();
    let run = p2.cutover(&["run"]);
    assert_eq!(
        run.status.code(),
        Some(5),
        "connection failure: {}",
        text(&run)
    );
    assert!(
        text(&run).contains("cannot connect to 127.0.0.1"),
        "{}",
        text(&run)
    );
}

#[test]
fn a_huge_message_costs_about_its_own_size_in_memory() {
    let root = tmp();
    let users = [("frank", "frank-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(
        "frank",
        40,
        5,
        &["--no-tricky", "--huge", "--huge-mb", "60"],
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "frank",
            pass: "frank-pw",
        }])
        .create();
    // GNU time reports the child's peak resident set size in KiB.
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kib=%M"])
        .arg(bin())
        .arg("run")
        .arg(&p.path)
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {err}"));
    let huge = src
        .dump("frank", "frank-pw")
        .folders
        .values()
        .flatten()
        .map(|m| m.3)
        .max()
        .unwrap();
    assert!(huge > 60_000_000, "the seed has a 60 MB message ({huge})");
    eprintln!("peak RSS {kib} KiB for a {huge}-byte message");
    // One copy of the message plus the process's own ~30 MB, its connections (the folder is
    // split: helpers' pairs too) and slack; a second copy (60 MB more) would exceed it.
    let limit_kib = huge / 1024 + 56 * 1024;
    assert!(
        kib < limit_kib,
        "peak RSS {kib} KiB for a {huge}-byte message (limit {limit_kib} KiB)"
    );
    assert_same_mail(
        &src.dump("frank", "frank-pw"),
        &dst.dump("frank", "frank-pw"),
        |f| f.to_string(),
    );
}
