//! A large folder split across the mailbox's connections (issue 22 item 4): UID ranges
//! fetched and appended in parallel, each range journalled window by window as a whole
//! folder is. The copy is exact (bytes, flags, dates), and a SIGKILL in the middle of it
//! then a re-run leaves every message on the destination exactly once.

use crate::support;

use std::process::Command;
use std::time::Duration;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-split")
        .tempdir()
        .unwrap()
}

/// The most connections the log says a folder was split across (0 when none was).
fn most_split_connections(p: &ProjectDir) -> usize {
    let logs = p.dir.path().join("cutover-logs");
    let mut most = 0;
    for f in std::fs::read_dir(&logs).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for l in text.lines() {
            if let Some((_, rest)) = l.split_once("folder split across ") {
                let n: usize = rest
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("no count in {l}"));
                most = most.max(n);
            }
        }
    }
    most
}

/// Source and destination with `n` small messages for alice (INBOX about a third), and a
/// project of 4 folder workers that splits folders from 500 messages.
fn setup(root: &std::path::Path, n: usize, dst_opts: &[&str]) -> (Dovecot, Dovecot, ProjectDir) {
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root, "src", &users, &[]);
    let dst = Dovecot::start(root, "dst", &users, dst_opts);
    src.seed(
        "alice",
        n,
        22,
        &["--no-tricky", "--max-kb", "8", "--new-ratio", "0"],
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .set("project.folder_workers", 4)
        .set("project.split_folder_messages", 500)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    (src, dst, p)
}

#[test]
fn a_large_folder_is_copied_exactly_across_the_mailboxs_connections() {
    let root = tmp();
    let (src, dst, p) = setup(root.path(), 6000, &[]);
    // INBOX and the small Trash and Drafts: the workers that copy those run out of folders
    // while INBOX still has ranges left, and help with it (with every folder, whether a
    // worker is free before INBOX's last range is taken depends on timing).
    ProjectBuilder::load(&p.path)
        .set("folders.exclude", ["^(?:[^TDI]|I[^N])"])
        .write_to(&p.path);
    let kept = |d: &Dovecot| {
        let mut dump = d.dump("alice", "alice-pw");
        dump.folders
            .retain(|f, _| f == "INBOX" || f.starts_with('T') || f.starts_with('D'));
        dump
    };
    let want = kept(&src);
    let inbox = want.folders["INBOX"].len();
    assert!(inbox > 1500, "a folder of a few thousand messages: {inbox}");
    assert!(want.folders.len() >= 3, "{:?}", want.folders.keys());

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(run_counts(&run).0, want.total() as u64, "{}", text(&run));
    let connections = most_split_connections(&p);
    assert!(
        connections >= 2,
        "a folder of {inbox} messages was split across {connections} connection(s)"
    );
    // Bytes, flags and dates, each message exactly once.
    assert_same_mail(&want, &kept(&dst), |f| f.to_string());
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn sigkill_while_ranges_are_copied_in_parallel_then_a_rerun_copies_each_message_once() {
    let root = tmp();
    // fsync on every write: slow APPENDs, so that the kills land in the middle of windows.
    let (src, dst, p) = setup(root.path(), 4000, &["--fsync", "always"]);
    // INBOX alone: with no other folder to take the mailbox's connections, every run that
    // reaches the copy splits it (with the others, whether a connection is free for a range
    // depends on timing).
    ProjectBuilder::load(&p.path)
        .set(
            "folders.exclude",
            ["^(?:[^I]|I[^N]|IN[^B]|INB[^O]|INBO[^X]|INBOX.)"],
        )
        .write_to(&p.path);
    let inbox = |d: &Dovecot| {
        let mut dump = d.dump("alice", "alice-pw");
        dump.folders.retain(|f, _| f == "INBOX");
        dump
    };
    let want = inbox(&src);
    let total = want.folders["INBOX"].len() as u64;
    assert!(total > 1000, "a folder of a thousand messages and more");
    // Each run is killed when the destination has reached the next fifth of the folder:
    // by progress, not by a timer, so every kill lands while ranges are being copied.
    let mut killed = 0;
    let mut in_doubt = 0;
    for fifth in 1..=3u64 {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path);
        if run_until_sigkill(&mut run, |t| {
            t >= Duration::from_secs(120) || dst.message_count("alice") >= total * fifth / 5
        }) {
            killed += 1;
        }
        if p.dir.path().join("state.sqlite").exists() {
            in_doubt += messages_in(&p.journal(), "appending");
        }
    }
    assert_eq!(killed, 3, "every run is killed while copying");
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let have = inbox(&dst);
    // Bytes, flags and dates, each message exactly once.
    assert_same_mail(&want, &have, |f| f.to_string());
    assert_eq!(
        have.folders["INBOX"].len(),
        want.folders["INBOX"].len(),
        "each message exactly once"
    );
    assert!(
        most_split_connections(&p) >= 2,
        "the folder was split across connections"
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    // Not asserted (timing): how many messages a kill left in doubt.
    eprintln!("kills {killed}, messages left in doubt over the kills: {in_doubt}");
}
