//! Emergency procedures against real Dovecot servers: emergency stop from a second process,
//! one engine per project, the verification brake, rollback of exactly what cutover wrote
//! (and its resumption after an interruption).

use crate::support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover_engine::journal::inspect::MessageRow;
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-em")
        .tempdir()
        .unwrap()
}

/// The message of the first issue in the journal that `matches`.
fn first_message(p: &ProjectDir, matches: impl Fn(&IssueRow) -> bool) -> String {
    let all = all_issues(&p.journal());
    all.iter()
        .find(|i| matches(i))
        .unwrap_or_else(|| panic!("no such issue: {all:?}"))
        .message
        .clone()
}

/// The messages of a mailbox the journal has as copied, by id.
fn copied(p: &ProjectDir, mailbox: &str) -> Vec<MessageRow> {
    p.journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.mailbox == mailbox && m.state == "copied")
        .collect()
}

/// Messages per folder as sorted multisets, empty folders dropped.
fn multiset(d: &Dump) -> BTreeMap<String, Vec<Msg>> {
    d.folders
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            let mut v = v.clone();
            v.sort();
            (k.clone(), v)
        })
        .collect()
}

/// `a` minus `b`, per folder (multiset difference).
fn minus(
    a: &BTreeMap<String, Vec<Msg>>,
    b: &BTreeMap<String, Vec<Msg>>,
) -> BTreeMap<String, Vec<Msg>> {
    let mut out = BTreeMap::new();
    for (k, v) in a {
        let mut rest = v.clone();
        for m in b.get(k).into_iter().flatten() {
            if let Some(i) = rest.iter().position(|x| x == m) {
                rest.remove(i);
            }
        }
        if !rest.is_empty() {
            out.insert(k.clone(), rest);
        }
    }
    out
}

fn plus(
    a: &BTreeMap<String, Vec<Msg>>,
    b: &BTreeMap<String, Vec<Msg>>,
) -> BTreeMap<String, Vec<Msg>> {
    let mut out = a.clone();
    for (k, v) in b {
        let e = out.entry(k.clone()).or_default();
        e.extend(v.iter().cloned());
        e.sort();
    }
    out
}

#[test]
fn stop_from_another_shell_halts_writes_and_the_run_resumes_exactly() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("carol", 3000, 31, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "carol",
            pass: "carol-pw",
        }])
        .set("project.folder_workers", 2)
        .create();
    let total = src.dump("carol", "carol-pw").total() as u64;

    // Nothing runs yet: stop says so.
    let none = p.cutover(&["stop"]);
    assert_eq!(none.status.code(), Some(5), "{}", text(&none));
    assert!(
        text(&none).contains("no cutover is running"),
        "{}",
        text(&none)
    );

    let mut run = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while dst.message_count("carol") < 50 {
        assert!(Instant::now() < end, "nothing copied");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second engine on the same project is refused.
    let second = p.cutover(&["run"]);
    assert_eq!(second.status.code(), Some(10), "{}", text(&second));
    assert!(
        text(&second).contains("already running this project"),
        "{}",
        text(&second)
    );

    let stop = p.cutover(&["stop"]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop));
    assert!(
        stop::contains(&stop, "emergency stop of all batches"),
        "{}",
        text(&stop)
    );
    let status = run.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(8),
        "the run ends as stopped by the operator"
    );
    let a = dst.message_count("carol");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        a,
        dst.message_count("carol"),
        "writes continued after the stop"
    );
    assert!(
        a < total,
        "the stop came too late to prove anything ({a} of {total})"
    );
    let who = first_message(&p, |i| i.category == "operator" && i.severity == "critical");
    assert!(who.contains("from another shell"), "{who}");
    // The socket is gone with the engine; the next run resumes and finishes exactly.
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_same_mail(
        &src.dump("carol", "carol-pw"),
        &dst.dump("carol", "carol-pw"),
        |f| f.to_string(),
    );
}

mod stop {
    pub fn contains(o: &std::process::Output, s: &str) -> bool {
        String::from_utf8_lossy(&o.stdout).contains(s)
    }
}

#[test]
fn a_message_removed_behind_cutovers_back_trips_the_brake_and_is_named_by_uid() {
    let root = tmp();
    let users = [("dave", "dave-pw"), ("erin", "erin-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("dave", 120, 41, &["--no-tricky"]);
    src.seed("erin", 60, 42, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "w",
                user: "dave",
                pass: "dave-pw",
            },
            MailboxLine {
                batch: "w",
                user: "erin",
                pass: "erin-pw",
            },
        ])
        .set("project.brake", "batch")
        .create();
    let first = p.cutover(&["run"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    // Someone deletes a message cutover wrote, on the destination.
    let mut uids: Vec<Option<u32>> = copied(&p, "dave->dave")
        .iter()
        .filter(|m| m.dst_folder == "INBOX")
        .map(|m| m.dst_uid)
        .collect();
    uids.sort();
    let uid = uids[3].expect("a copied message has its destination UID");
    dst.doveadm(&[
        "expunge",
        "-u",
        "dave",
        "mailbox",
        "INBOX",
        "uid",
        &uid.to_string(),
    ]);
    // On a pass that copies nothing, a missing message is only a warning (users delete mail
    // once they work on the destination): no brake.
    let quiet = p.cutover(&["run"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert!(
        text(&quiet).contains(&format!("destination UID {uid} recorded")),
        "{}",
        text(&quiet)
    );
    // New mail in that folder: the copy's check finds the hole, raises it as critical and brakes.
    deliver(&src, "dave", "INBOX", 2);
    let second = p.cutover(&["run"]);
    assert_eq!(second.status.code(), Some(7), "{}", text(&second));
    let out = text(&second);
    assert!(
        out.contains(&format!(
            "destination UID {uid} recorded as written is not on the destination"
        )),
        "{out}"
    );
    let crit = all_issues(&p.journal())
        .iter()
        .filter(|i| {
            i.severity == "critical"
                && i.category == "verification"
                && i.mailbox.as_deref() == Some("dave->dave")
                && i.message.to_lowercase().contains(&format!("uid {uid} "))
        })
        .count();
    assert_eq!(crit, 1);
    let brake = first_message(&p, |i| i.message.to_lowercase().starts_with("brake:"));
    assert!(brake.contains("batch w paused"), "{brake}");
    // Nothing was re-sent blindly: the destination still lacks exactly that one message.
    let s = src.dump("dave", "dave-pw").total();
    let d = dst.dump("dave", "dave-pw").total();
    assert_eq!(s, d + 1);
}

/// Append a raw message on a server with `doveadm save`, as another client would.
fn deliver(d: &Dovecot, user: &str, folder: &str, n: usize) {
    for i in 0..n {
        let msg = format!(
            "From: someone@else.test\r\nTo: {user}@new.test\r\nSubject: arrived meanwhile {i}\r\nMessage-ID: <meanwhile-{i}@else.test>\r\nDate: Tue, 24 Nov 2026 10:00:0{} +0000\r\n\r\nnew mail {i}\r\n",
            i % 10
        );
        let mut c = Command::new("doveadm")
            .arg("-c")
            .arg(d.dir.join("dovecot.conf"))
            .args(["save", "-u", user, "-m", folder])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(msg.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    }
}

#[test]
fn rollback_removes_exactly_what_cutover_wrote_and_an_interrupted_one_resumes() {
    let root = tmp();
    let users = [("frank", "frank-pw"), ("gina", "gina-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("frank", 250, 51, &[]);
    src.seed("gina", 150, 52, &["--no-tricky"]);
    // The destination already holds mail (and folders) before the migration.
    dst.seed("frank", 15, 53, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "pilot",
                user: "frank",
                pass: "frank-pw",
            },
            MailboxLine {
                batch: "wave",
                user: "gina",
                pass: "gina-pw",
            },
        ])
        .create();
    let before_f = multiset(&dst.dump("frank", "frank-pw"));
    let folders_before: Vec<String> = dst.dump("frank", "frank-pw").folders.into_keys().collect();
    let before_g = multiset(&dst.dump("gina", "gina-pw"));
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let migrated = multiset(&dst.dump("frank", "frank-pw"));
    // Others deliver mail to the destination during the migration window.
    deliver(&dst, "frank", "INBOX", 4);
    let after_others = multiset(&dst.dump("frank", "frank-pw"));
    let others = minus(&after_others, &migrated);
    assert_eq!(others.values().map(Vec::len).sum::<usize>(), 4);

    // Dry run: counts, and nothing changes.
    let dry = p.cutover(&["rollback", "--batch", "pilot", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let written = copied(&p, "frank->frank").len();
    assert!(
        stdout(&dry).contains(&format!("up to {written} message(s)")),
        "{}",
        text(&dry)
    );
    assert_eq!(multiset(&dst.dump("frank", "frank-pw")), after_others);
    // Without a terminal and without --yes, nothing happens.
    let unconfirmed = p.cutover(&["rollback", "--batch", "pilot"]);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", text(&unconfirmed));

    // Simulate a rollback cut short by a crash: some messages journalled `removing`, some of
    // them already expunged on the server, the journal not told.
    let victims: Vec<(i64, i64)> = copied(&p, "frank->frank")
        .iter()
        .filter(|m| m.dst_folder == "INBOX")
        .take(10)
        .map(|m| {
            let uid = m.dst_uid.expect("a copied message has its destination UID");
            (m.id, i64::from(uid))
        })
        .collect();
    let j = p.journal_for_damage();
    for (id, _) in &victims {
        j.execute("UPDATE messages SET state = 'removing' WHERE id = ?1", [id])
            .unwrap();
    }
    j.execute(
        "UPDATE mailboxes SET state = 'rolling back' WHERE key = 'frank->frank'",
        [],
    )
    .unwrap();
    for (_, uid) in &victims[..5] {
        dst.doveadm(&[
            "expunge",
            "-u",
            "frank",
            "mailbox",
            "INBOX",
            "uid",
            &uid.to_string(),
        ]);
    }
    drop(j);
    // A run refuses to migrate a mailbox whose rollback is unfinished.
    let refused = p.cutover(&["run", "--batch", "pilot"]);
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    assert!(
        text(&refused).contains("rollback of this mailbox was interrupted"),
        "{}",
        text(&refused)
    );

    let rb = p.cutover(&["rollback", "--batch", "pilot", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(
        stdout(&rb).contains(&format!("{} removed, 5 already gone", written - 5)),
        "{}",
        text(&rb)
    );
    // The destination is exactly what it was before, plus what others delivered meanwhile.
    let now = dst.dump("frank", "frank-pw");
    assert_eq!(multiset(&now), plus(&before_f, &others));
    // Folders cutover created are gone; those that existed before are still there.
    for f in now.folders.keys() {
        assert!(
            folders_before.contains(f) || others.contains_key(f),
            "folder {f} was created by cutover and should have been deleted"
        );
    }
    for f in &folders_before {
        assert!(
            now.folders.contains_key(f),
            "folder {f} existed before and was deleted"
        );
    }
    // The other batch is untouched.
    assert_eq!(
        multiset(&dst.dump("gina", "gina-pw")),
        plus(&before_g, &multiset(&src.dump("gina", "gina-pw")))
    );
    let state = p.journal().mailbox_state("frank->frank").unwrap();
    assert_eq!(state.map(|s| s.1).as_deref(), Some("rolled back"));
    // A second rollback has nothing left to do.
    let again = p.cutover(&["rollback", "--mailbox", "frank", "--yes"]);
    assert!(
        stdout(&again).contains("0 removed, 0 already gone"),
        "{}",
        text(&again)
    );

    // Migrating again after the rollback is clean: every source message exactly once more.
    let rerun = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    let verify = p.cutover(&["verify", "--batch", "pilot"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    let count = |m: &BTreeMap<String, Vec<Msg>>| m.values().map(Vec::len).sum::<usize>();
    assert_eq!(
        dst.dump("frank", "frank-pw").total(),
        count(&before_f) + count(&others) + src.dump("frank", "frank-pw").total()
    );
}

#[test]
fn failback_copies_exactly_the_mail_that_arrived_after_the_migration() {
    let root = tmp();
    let users = [("hank", "hank-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("hank", 80, 61, &["--no-tricky"]);
    dst.seed("hank", 6, 62, &["--no-tricky"]); // there before: never copied back
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "hank",
            pass: "hank-pw",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let src_before = multiset(&src.dump("hank", "hank-pw"));
    let dst_migrated = multiset(&dst.dump("hank", "hank-pw"));
    // After the cutover, new mail lands on the destination only.
    deliver(&dst, "hank", "INBOX", 3);
    let other = src_before
        .keys()
        .find(|k| k.as_str() != "INBOX")
        .expect("a second folder")
        .clone();
    deliver(&dst, "hank", &other, 2);
    let arrived = minus(&multiset(&dst.dump("hank", "hank-pw")), &dst_migrated);
    assert_eq!(arrived.values().map(Vec::len).sum::<usize>(), 5);

    let dry = p.cutover(&["failback", "--mailbox", "hank", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        stdout(&dry).contains("5 message(s) arrived"),
        "{}",
        text(&dry)
    );
    assert_eq!(
        multiset(&src.dump("hank", "hank-pw")),
        src_before,
        "a dry run changes nothing"
    );

    let fb = p.cutover(&["failback", "--mailbox", "hank", "--yes"]);
    assert_eq!(fb.status.code(), Some(0), "{}", text(&fb));
    // The source now holds what it had plus exactly the 5 new messages, byte for byte.
    assert_eq!(
        multiset(&src.dump("hank", "hank-pw")),
        plus(&src_before, &arrived)
    );

    // Idempotent: nothing more to copy back.
    let again = p.cutover(&["failback", "--mailbox", "hank", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        stdout(&again).contains("0 message(s) arrived"),
        "{}",
        text(&again)
    );
    assert_eq!(
        multiset(&src.dump("hank", "hank-pw")),
        plus(&src_before, &arrived)
    );

    // And the forward direction does not send them back to the destination.
    let dst_now = multiset(&dst.dump("hank", "hank-pw"));
    let fwd = p.cutover(&["run"]);
    assert_eq!(fwd.status.code(), Some(0), "{}", text(&fwd));
    assert_eq!(run_counts(&fwd).0, 0, "{}", text(&fwd));
    assert_eq!(multiset(&dst.dump("hank", "hank-pw")), dst_now);
}
