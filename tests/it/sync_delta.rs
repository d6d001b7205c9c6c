//! Delta passes (`cutover sync`): after a first full copy, users keep working on the source
//! (new mail, moves between folders, flag and keyword changes, a folder renamed, deletions);
//! one pass later the destination equals the source folder by folder, nothing twice, the
//! deletions reported (or removed with `[sync] deletions = "propagate"`); the same after a
//! `kill -9` in the middle of a pass.

use crate::support;

use std::collections::BTreeMap;
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

pub(crate) const USER: (&str, &str) = ("alice", "alice-pw");

/// The UIDs of a source folder (doveadm search: "<guid> <uid>" lines).
fn uids(src: &Dovecot, folder: &str) -> Vec<String> {
    src.doveadm(&["search", "-u", USER.0, "mailbox", folder, "ALL"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// The users' work on the source since the first copy: 50 new messages, 30 moves between
/// folders, 40 flag and keyword changes, a folder renamed and 10 deletions. The messages
/// deleted, by folder (their dump entries), for the `report` check.
pub(crate) fn users_work(src: &Dovecot, before: &Dump) -> BTreeMap<String, usize> {
    users_work_then(src, before, || {
        src.seed(USER.0, 50, 11, &["--offset", "5000", "--no-tricky"])
    })
}

/// [`users_work`] with the 50 new messages written by `new_mail`.
fn users_work_then(
    src: &Dovecot,
    before: &Dump,
    new_mail: impl FnOnce(),
) -> BTreeMap<String, usize> {
    let inbox = uids(src, "INBOX");
    let sent = uids(src, "Sent");
    let archive = uids(src, "Archive");
    assert!(
        inbox.len() >= 60 && sent.len() >= 30 && archive.len() >= 10,
        "seed too small: {} {} {}",
        inbox.len(),
        sent.len(),
        archive.len()
    );
    // 30 moves: 20 from INBOX to Archive, 10 from Sent to Projects/Alpha.
    for u in &inbox[..20] {
        src.doveadm(&[
            "move", "-u", USER.0, "Archive", "mailbox", "INBOX", "uid", u,
        ]);
    }
    for u in &sent[..10] {
        src.doveadm(&[
            "move",
            "-u",
            USER.0,
            "Projects/Alpha",
            "mailbox",
            "Sent",
            "uid",
            u,
        ]);
    }
    // 40 flag and keyword changes.
    for u in &inbox[20..40] {
        src.doveadm(&[
            "flags",
            "add",
            "-u",
            USER.0,
            "\\Flagged $Project",
            "mailbox",
            "INBOX",
            "uid",
            u,
        ]);
    }
    for u in &sent[10..30] {
        src.doveadm(&[
            "flags",
            "replace",
            "-u",
            USER.0,
            "\\Answered",
            "mailbox",
            "Sent",
            "uid",
            u,
        ]);
    }
    // 10 deletions: 6 in INBOX, 4 in Archive (among the messages copied before).
    for u in &inbox[40..46] {
        src.doveadm(&["expunge", "-u", USER.0, "mailbox", "INBOX", "uid", u]);
    }
    for u in &archive[..4] {
        src.doveadm(&["expunge", "-u", USER.0, "mailbox", "Archive", "uid", u]);
    }
    // 50 new messages (in all folders), then one folder renamed.
    new_mail();
    src.doveadm(&[
        "mailbox",
        "rename",
        "-u",
        USER.0,
        "Archive/2023",
        "Archive/Old",
    ]);
    let _ = before;
    BTreeMap::from([("INBOX".to_string(), 6), ("Archive".to_string(), 4)])
}

/// Every source message is on the destination in its folder, exactly as often; besides,
/// each folder holds only the messages deleted on the source (`extra` per folder).
fn assert_same_plus(src: &Dump, dst: &Dump, extra: &BTreeMap<String, usize>) {
    for (folder, msgs) in &src.folders {
        let got = &dst.folders[folder];
        let key = |m: &Msg| (m.0.clone(), m.1.clone(), m.3);
        let mut have: Vec<_> = got.iter().map(key).collect();
        for m in msgs {
            let k = key(m);
            let i = have
                .iter()
                .position(|h| *h == k)
                .unwrap_or_else(|| panic!("{folder}: source message {k:?} not on the destination"));
            have.remove(i);
        }
        let want = extra.get(folder).copied().unwrap_or(0);
        assert_eq!(
            have.len(),
            want,
            "{folder}: left over on the destination: {have:?}"
        );
    }
}

fn first_copy(seed: u64) -> (tempfile::TempDir, Dovecot, Dovecot, ProjectDir, Dump) {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[USER], &[]);
    let dst = Dovecot::start(root.path(), "dst", &[USER], &[]);
    src.seed(USER.0, 700, seed, &[]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: USER.0,
            pass: USER.1,
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = src.dump(USER.0, USER.1);
    assert_same_mail(&before, &dst.dump(USER.0, USER.1), same);
    (root, src, dst, p, before)
}

/// "pass 1: ... 50 new, 40 flag change(s), 44 move(s), 10 deleted on the source (0 removed
/// ...); 94 message bodies downloaded": the numbers in order.
pub(crate) fn pass_counts(o: &std::process::Output) -> Vec<u64> {
    let s = stdout(o);
    let line = s
        .lines()
        .find(|l| l.starts_with("pass "))
        .unwrap_or_else(|| panic!("no pass line in\n{}", text(o)));
    let (_, rest) = line.split_once(" s; ").unwrap();
    rest.split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect()
}

#[test]
fn one_sync_pass_mirrors_what_users_did_and_reports_deletions() {
    let (_root, src, dst, p, before) = first_copy(21);
    let deleted = users_work(&src, &before);
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let c = pass_counts(&pass);
    // The renamed folder is renamed on the destination: its messages are neither moved nor
    // downloaded.
    assert_eq!(
        c,
        vec![50, 40, 30, 10, 0, 50 + 30],
        "new, flags, moves, deletions, removed:\n{}",
        text(&pass)
    );
    let now = src.dump(USER.0, USER.1);
    assert_same_plus(&now, &dst.dump(USER.0, USER.1), &deleted);
    // Fail-back takes neither cutover's moves nor the deletions it left on the destination
    // for mail that arrived there later: it copies nothing back.
    let on_source = src.message_count(USER.0);
    let fb = p.cutover(&["failback", "--mailbox", USER.0, "--yes"]);
    assert_eq!(fb.status.code(), Some(0), "{}", text(&fb));
    assert_eq!(src.message_count(USER.0), on_source, "{}", text(&fb));
    // The renamed folder was renamed on the destination (no empty folder left under the
    // old name), its messages neither moved nor copied again.
    let d = dst.dump(USER.0, USER.1);
    assert!(
        !d.folders.contains_key("Archive/2023"),
        "{:?}",
        d.folders.keys()
    );
    assert_eq!(
        d.folders["Archive/Old"].len(),
        now.folders["Archive/Old"].len()
    );
    let issues = all_issues(&p.journal());
    assert!(
        issues.iter().any(|i| i
            .message
            .contains("source folder Archive/2023 was renamed Archive/Old")),
        "{issues:?}"
    );
    // Deletions are reported per folder, and journalled with every move.
    let issues = all_issues(&p.journal());
    assert!(
        issues.iter().any(|i| i
            .message
            .contains("6 message(s) copied from INBOX were deleted on the source")),
        "{issues:?}"
    );
    let j = p.journal();
    assert_eq!(
        j.sync_changes("alice->alice", "move").unwrap().len() as u64,
        30
    );
    assert_eq!(
        j.sync_changes("alice->alice", "reported").unwrap().len(),
        10
    );
    let passes = j.sync_passes(5).unwrap();
    assert_eq!(passes.len(), 1);
    assert_eq!(passes[0].counts.moves, 30);
    assert_eq!(passes[0].outcome, "exit 0");

    // A second pass finds nothing to do.
    let again = p.cutover(&["sync"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    // Nothing downloaded: every folder's HIGHESTMODSEQ and UIDNEXT are unchanged.
    assert_eq!(
        pass_counts(&again),
        vec![0, 0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );

    // With deletions = "propagate", the reported deletions are removed too: the
    // destination is the source, folder by folder.
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert_eq!(
        pass_counts(&prop),
        vec![0, 0, 0, 0, 10, 0],
        "{}",
        text(&prop)
    );
    assert_same_mail(&src.dump(USER.0, USER.1), &dst.dump(USER.0, USER.1), same);
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // Rollback removes what cutover wrote, moved messages from the folder they are in now.
    let rb = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert_eq!(dst.message_count(USER.0), 0);
}

#[test]
fn a_sync_pass_killed_midway_resumes_exactly() {
    let (_root, src, dst, p, before) = first_copy(22);
    p.edit(|b| b.set("sync.deletions", "propagate"));
    users_work(&src, &before);
    // Kill passes later and later (each resumes what the last one left) until one ends by
    // itself; some must die with moves half done.
    let total_moves = 30 + before.folders["Archive/2023"].len();
    let (mut killed, mut midway) = (0, 0);
    for step in 0..60u64 {
        let mut cmd = Command::new(bin());
        cmd.arg("sync").arg(&p.path);
        let delay = Duration::from_millis(100 + 40 * step);
        if !run_until_sigkill(&mut cmd, |t| t >= delay) {
            break;
        }
        killed += 1;
        if p.dir.path().join("state.sqlite").exists() {
            let j = p.journal();
            let moves = j.sync_changes("alice->alice", "move").unwrap().len();
            let unfinished = messages_in(&j, "moving") + messages_in(&j, "deleting");
            if unfinished > 0 || (moves > 0 && moves < total_moves) {
                midway += 1;
            }
        }
    }
    assert!(killed >= 1, "at least one kill must land during a pass");
    assert!(
        midway >= 1,
        "at least one kill must land with the moves half done"
    );
    let done = p.cutover(&["sync"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_same_mail(&src.dump(USER.0, USER.1), &dst.dump(USER.0, USER.1), same);
    let again = p.cutover(&["sync"]);
    assert_eq!(
        pass_counts(&again),
        vec![0, 0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );
}

#[test]
fn repeated_passes_until_a_time_and_a_clean_stop_on_sigterm() {
    let (_root, src, dst, p, _) = first_copy(23);
    // Passes every second until 3 s from now: at least two, then done (exit 0).
    let until = (chrono::Local::now() + chrono::Duration::seconds(3)).to_rfc3339();
    src.seed(USER.0, 5, 12, &["--offset", "6000", "--no-tricky"]);
    let out = p.cutover(&["sync", "--every", "1s", "--until", &until]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let passes = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("pass "))
        .count();
    assert!(passes >= 2, "{}", text(&out));
    assert_eq!(p.journal().sync_passes(100).unwrap().len(), passes);
    assert_same_mail(&src.dump(USER.0, USER.1), &dst.dump(USER.0, USER.1), same);
    // Bad durations and times are usage errors (exit 2), naming the value.
    let bad = p.cutover(&["sync", "--every", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("\"soon\" is not a duration"),
        "{}",
        text(&bad)
    );

    // SIGTERM while waiting for the next pass: a clean stop, exit 8, the pass journalled.
    let mut child = Command::new(bin())
        .arg("sync")
        .arg(&p.path)
        .args(["--every", "1h"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while p.journal().sync_passes(100).unwrap().len() <= passes
        || p.journal().sync_passes(1).unwrap()[0].duration_ms.is_none()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no pass journalled"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let t = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(8));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

/// The flags of the message with `uid` in `folder`, as Dovecot has them.
fn flags_of(d: &Dovecot, folder: &str, uid: &str) -> Vec<String> {
    let out = d.doveadm(&[
        "fetch", "-u", USER.0, "flags", "mailbox", folder, "uid", uid,
    ]);
    let mut v: Vec<String> = out
        .trim()
        .trim_start_matches("flags:")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn the_source_decides_its_changes_and_a_destination_change_is_kept() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[USER], &[]);
    let dst = Dovecot::start(root.path(), "dst", &[USER], &[]);
    src.seed(USER.0, 40, 24, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: USER.0,
            pass: USER.1,
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // The first INBOX message on both sides (copied in UID order).
    let s = uids(&src, "INBOX")[0].clone();
    let d = {
        let v: Vec<String> = dst
            .doveadm(&["search", "-u", USER.0, "mailbox", "INBOX", "ALL"])
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        v[0].clone()
    };
    assert_eq!(flags_of(&src, "INBOX", &s), flags_of(&dst, "INBOX", &d));
    // On the destination a user marks it unread and tags it; on the source it is flagged.
    dst.doveadm(&[
        "flags", "remove", "-u", USER.0, "\\Seen", "mailbox", "INBOX", "uid", &d,
    ]);
    dst.doveadm(&[
        "flags", "add", "-u", USER.0, "$DstOnly", "mailbox", "INBOX", "uid", &d,
    ]);
    src.doveadm(&[
        "flags",
        "add",
        "-u",
        USER.0,
        "\\Seen \\Flagged",
        "mailbox",
        "INBOX",
        "uid",
        &s,
    ]);
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let got = flags_of(&dst, "INBOX", &d);
    // \Flagged came from the source; $DstOnly, the destination's own change, is kept.
    assert!(got.contains(&"\\Flagged".to_string()), "{got:?}");
    assert!(got.contains(&"$DstOnly".to_string()), "{got:?}");
    // The source then removes \Flagged: removed on the destination, $DstOnly still kept.
    src.doveadm(&[
        "flags",
        "remove",
        "-u",
        USER.0,
        "\\Flagged",
        "mailbox",
        "INBOX",
        "uid",
        &s,
    ]);
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let got = flags_of(&dst, "INBOX", &d);
    assert!(!got.contains(&"\\Flagged".to_string()), "{got:?}");
    assert!(got.contains(&"$DstOnly".to_string()), "{got:?}");
}

/// A new user re-runs `cutover run` (not `sync`) after the users worked on the source: the
/// re-run mirrors it too (IMAP to IMAP), so a moved message is moved, never copied a second
/// time, and its summary says what it mirrored.
#[test]
fn a_rerun_of_cutover_run_moves_what_users_moved_and_copies_nothing_twice() {
    let (_root, src, dst, p, before) = first_copy(14);
    let extra = users_work(&src, &before);
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let said = stdout(&run);
    let line = said
        .lines()
        .find(|l| l.starts_with("this run: "))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        line.contains("40 flag change(s)") && line.contains("10 deleted on the source"),
        "{line}"
    );
    assert!(line.contains(" move(s)"), "{line}");
    assert_same_plus(&src.dump(USER.0, USER.1), &dst.dump(USER.0, USER.1), &extra);
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// `seed-maildir.py` into a Maildir tree (fs layout), owned by `owner` when given.
fn seed_tree(tree: &std::path::Path, n: usize, seed: u64, extra: &[&str], owner: Option<&str>) {
    let mut cmd = Command::new("python3");
    cmd.arg(support_dir().join("seed-maildir.py"))
        .arg("--maildir")
        .arg(tree)
        .args(["--user", USER.0, "--layout", "fs", "-q"])
        .args(["-n", &n.to_string(), "--seed", &seed.to_string()])
        .args(extra);
    if let Some(o) = owner {
        cmd.args(["--owner", o]);
    }
    let out = cmd.output().expect("run seed-maildir.py");
    assert!(
        out.status.success(),
        "seed-maildir.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The delta pass is endpoint-neutral: a Maildir tree as the source (users working on it
/// through a Dovecot that serves the tree), IMAP as the destination. Flags (the tree lists
/// them, without a change marker), moves (UID MOVE on the destination), the renamed folder
/// and deletions are mirrored as from IMAP; a second pass changes nothing; `propagate`
/// removes the deletions.
#[test]
fn a_maildir_source_is_mirrored_like_imap_moves_flags_and_deletions() {
    let root = tmp();
    let tree = root.path().join("tree");
    seed_tree(&tree.join(USER.0), 700, 23, &[], None);
    // Users work on the tree through Dovecot (which takes the tree over: root mode gives it
    // to the mail uid).
    let view = Dovecot::start(
        root.path(),
        "view",
        &[USER],
        &["--mail-root", tree.to_str().unwrap()],
    );
    let env = std::fs::read_to_string(view.dir.join("instance.env")).unwrap();
    let key = |k: &str| {
        env.split_whitespace()
            .find_map(|t| t.strip_prefix(&format!("{k}=")).map(str::to_string))
    };
    let owner = key("mail_uid")
        .zip(key("mail_gid"))
        .map(|(u, g)| format!("{u}:{g}"));
    let dst = Dovecot::start(root.path(), "dst", &[USER], &[]);
    let p = ProjectBuilder::new("maildir-delta")
        .source(project::maildir(&tree))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            Some("b"),
            project::user(USER.0),
            project::login(USER.0, USER.1),
        ))
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = view.dump(USER.0, USER.1);
    assert_same_mail(&before, &dst.dump(USER.0, USER.1), same);
    let renamed = before.folders["Archive/2023"].len() as u64;

    let deleted = users_work_then(&view, &before, || {
        seed_tree(
            &tree.join(USER.0),
            50,
            11,
            &["--offset", "5000", "--no-tricky"],
            owner.as_deref(),
        );
        // Dovecot sees the new files at its next look (the tree is its own to list).
        view.doveadm(&["force-resync", "-u", USER.0, "*"]);
    });
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    // A tree's listed sizes are not the bytes read (bare LFs become CRLF), so every new
    // message is fingerprinted as a possible move (50 more bodies than from IMAP).
    assert_eq!(
        pass_counts(&pass),
        vec![50, 40, 30 + renamed, 10, 0, 50 + 50 + 30 + renamed],
        "new, flags, moves, deletions, removed:\n{}",
        text(&pass)
    );
    assert_same_plus(
        &view.dump(USER.0, USER.1),
        &dst.dump(USER.0, USER.1),
        &deleted,
    );
    // Nothing was left out, so nothing is said about it.
    let issues = all_issues(&p.journal());
    assert!(
        !issues.iter().any(|i| i.message.contains("not carried")),
        "{issues:?}"
    );
    // Without a change marker a second pass lists the flags again, and changes nothing.
    let again = p.cutover(&["sync"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        pass_counts(&again),
        vec![0, 0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert_eq!(
        pass_counts(&prop),
        vec![0, 0, 0, 0, 10, 0],
        "{}",
        text(&prop)
    );
    assert_same_mail(&view.dump(USER.0, USER.1), &dst.dump(USER.0, USER.1), same);
}

/// A destination that cannot set flags nor move messages (a Maildir tree): the pass carries
/// the rest, says once per mailbox what it left out, and loses nothing. A moved message is
/// copied into its new folder; the next pass finds its old copy gone from the source and
/// treats it as a deletion: with `propagate` it is removed, and the tree is the source.
#[test]
fn a_destination_without_flags_or_moves_is_said_once_and_loses_nothing() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[USER], &[]);
    src.seed(USER.0, 700, 27, &[]);
    let tree = root.path().join("tree");
    let p = ProjectBuilder::new("to-maildir-delta")
        .source(project::imap(src.port))
        .destination(project::maildir(&tree))
        .mailbox(project::mailbox(
            Some("b"),
            project::login(USER.0, USER.1),
            project::user(USER.0),
        ))
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = src.dump(USER.0, USER.1);
    users_work(&src, &before);
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let c = pass_counts(&pass);
    // 50 new plus the moved messages copied into their new folders; no flag change nor
    // move made; the 10 deletions reported.
    // (The renamed folder is renamed in the tree: none of its messages copied again.)
    assert_eq!(&c[..5], &[50 + 30, 0, 0, 10, 0], "{}", text(&pass));
    let said: Vec<_> = all_issues(&p.journal())
        .into_iter()
        .filter(|i| i.message.contains("not carried"))
        .collect();
    assert_eq!(said.len(), 1, "said once for the mailbox: {said:?}");
    assert!(
        said[0].message.contains("the destination cannot set flags")
            && said[0].message.contains("moves between folders"),
        "{}",
        said[0].message
    );
    // Nothing lost: every source message is in its folder in the tree.
    let now = src.dump(USER.0, USER.1);
    let view = Dovecot::start(
        root.path(),
        "view",
        &[USER],
        &["--mail-root", tree.to_str().unwrap()],
    );
    let got = view.dump(USER.0, USER.1);
    for (f, msgs) in &now.folders {
        let mut have: Vec<&String> = got.folders[f].iter().map(|m| &m.0).collect();
        for m in msgs {
            let i = have
                .iter()
                .position(|h| **h == m.0)
                .unwrap_or_else(|| panic!("{f}: {} not in the tree", m.0));
            have.remove(i);
        }
    }
    // With propagate, the old copies of the moved messages go with the deletions.
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert_eq!(pass_counts(&prop)[4], 10 + 30, "{}", text(&prop));
    let got = view.dump(USER.0, USER.1);
    for (f, msgs) in &now.folders {
        let mut a: Vec<&String> = msgs.iter().map(|m| &m.0).collect();
        let mut b: Vec<&String> = got.folders[f].iter().map(|m| &m.0).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{f}: the tree holds the source's messages");
    }
}

/// A run killed while following a renamed folder (the journal already under the new names,
/// the destination's RENAME not sent, or sent): the next pass finishes it either way, and the
/// destination equals the source with no folder left under the old name.
#[test]
fn a_folder_rename_interrupted_either_side_of_the_destination_is_finished() {
    for renamed_on_destination in [false, true] {
        let (_root, src, dst, p, before) = first_copy(31);
        let deleted = users_work(&src, &before);
        // What a kill right after the journal's half leaves.
        let changed = p
            .journal_for_damage()
            .execute(
                "UPDATE folders SET renamed_from = dst_name,
                   src_name = replace(src_name, '2023', 'Old'),
                   dst_name = replace(dst_name, '2023', 'Old')
                 WHERE src_name LIKE '%2023'",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
        if renamed_on_destination {
            dst.doveadm(&[
                "mailbox",
                "rename",
                "-u",
                USER.0,
                "Archive/2023",
                "Archive/Old",
            ]);
        }
        let pass = p.cutover(&["sync"]);
        assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
        let d = dst.dump(USER.0, USER.1);
        assert!(
            !d.folders.contains_key("Archive/2023"),
            "{:?}",
            d.folders.keys()
        );
        assert_same_plus(&src.dump(USER.0, USER.1), &d, &deleted);
        let left: i64 = p
            .journal_for_damage()
            .query_row(
                "SELECT count(*) FROM folders WHERE renamed_from IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "the rename is finished in the journal");
    }
}
