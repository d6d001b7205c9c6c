//! Crash safety: SIGKILL mid-copy, in-doubt APPENDs, UIDVALIDITY changes. In every case the
//! destination ends up with every source message exactly once.

use crate::support;

use std::process::Command;
use std::time::Duration;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

fn same(f: &str) -> String {
    f.to_string()
}

#[test]
fn sigkill_at_any_moment_loses_and_duplicates_nothing() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // fsync on every write makes APPENDs slow enough to be killed in the middle.
    let dst = Dovecot::start(root.path(), "dst", &users, &["--fsync", "always"]);
    src.seed("alice", 1500, 7, &["--huge", "--huge-mb", "8"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    let mut killed_mid_copy = 0;
    let mut left_in_doubt = 0;
    for delay_ms in [120u64, 260, 330, 410, 520, 640, 700, 810] {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path);
        if run_until_sigkill(&mut run, |t| t >= Duration::from_millis(delay_ms)) {
            killed_mid_copy += 1;
        }
        if p.dir.path().join("state.sqlite").exists() {
            left_in_doubt += messages_in(&p.journal(), "appending");
        }
    }
    assert!(
        killed_mid_copy >= 3,
        "the kills must land while copying ({killed_mid_copy})"
    );
    assert!(
        left_in_doubt > 0,
        "at least one kill must land between an APPEND and its journal entry"
    );
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        same,
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn in_doubt_appends_are_resolved_against_the_destination_not_resent() {
    let root = tmp();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("bob", 300, 8, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "bob",
            pass: "bob-pw",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // Simulate a crash between APPEND and its journal entry: a third of INBOX's messages are
    // "appending" again, with no destination UID. Two of them really did not arrive: they are
    // removed from the destination.
    let messages = p.journal().message_rows().unwrap();
    let inbox = messages
        .iter()
        .find(|m| m.folder == "INBOX")
        .expect("INBOX in the journal")
        .folder_id;
    let lost: Vec<u32> = messages
        .iter()
        .filter(|m| m.folder_id == inbox && m.state == "copied")
        .take(2)
        .map(|m| m.dst_uid.expect("a copied message has its destination UID"))
        .collect();
    for uid in &lost {
        dst.doveadm(&[
            "expunge",
            "-u",
            "bob",
            "mailbox",
            "INBOX",
            "uid",
            &uid.to_string(),
        ]);
    }
    let n = p
        .journal_for_damage()
        .execute(
            "UPDATE messages SET state = 'appending', dst_uid = NULL
             WHERE folder_id = ?1 AND (id % 3 = 0 OR dst_uid IN (?2, ?3))",
            rusqlite::params![inbox, lost[0], lost[1]],
        )
        .unwrap();
    assert!(n > 10);

    let resumed = p.cutover(&["run"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    // Exactly the two that never arrived are sent again.
    assert_eq!(run_counts(&resumed).0, 2, "{}", text(&resumed));
    assert!(text(&resumed).contains("in-doubt"), "{}", text(&resumed));
    assert_same_mail(&src.dump("bob", "bob-pw"), &dst.dump("bob", "bob-pw"), same);
    let left = p
        .journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "appending" || (m.state == "copied" && m.dst_uid.is_none()))
        .count();
    assert_eq!(left, 0);
}

#[test]
fn uidvalidity_changes_fall_back_to_fingerprints_not_a_blind_recopy() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("carol", 200, 9, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "carol",
            pass: "carol-pw",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // The source INBOX is rebuilt with a new UIDVALIDITY (and two new messages arrive).
    src.doveadm(&[
        "mailbox",
        "update",
        "-u",
        "carol",
        "--uid-validity",
        "4242",
        "INBOX",
    ]);
    src.seed("carol", 2, 9, &["--offset", "200", "--no-tricky"]);
    let r = p.cutover(&["run"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(text(&r).contains("UIDVALIDITY changed"), "{}", text(&r));
    let inbox_new = src.dump("carol", "carol-pw").folders["INBOX"].len();
    assert!(inbox_new > 0);
    assert!(
        run_counts(&r).0 <= 2,
        "only new mail may be appended: {}",
        text(&r)
    );
    assert_same_mail(
        &src.dump("carol", "carol-pw"),
        &dst.dump("carol", "carol-pw"),
        same,
    );

    // The destination's INBOX changes UIDVALIDITY and loses one message meanwhile.
    let first_uid = dst.doveadm(&["search", "-u", "carol", "mailbox", "INBOX", "all"]);
    let uid = first_uid.split_whitespace().nth(1).unwrap().to_string();
    dst.doveadm(&["expunge", "-u", "carol", "mailbox", "INBOX", "uid", &uid]);
    dst.doveadm(&[
        "mailbox",
        "update",
        "-u",
        "carol",
        "--uid-validity",
        "777",
        "INBOX",
    ]);
    let r = p.cutover(&["run"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert_eq!(
        run_counts(&r).0,
        1,
        "only the lost message is copied again: {}",
        text(&r)
    );
    assert_same_mail(
        &src.dump("carol", "carol-pw"),
        &dst.dump("carol", "carol-pw"),
        same,
    );
}
