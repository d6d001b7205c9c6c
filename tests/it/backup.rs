//! Backup and restore against real Dovecot servers: `cutover backup` into Maildir trees that a
//! throwaway Dovecot serves as the source was; `--verify` against the files and the live
//! source; a simulated incident (folders and messages deleted on the source) repaired by
//! `cutover restore`, exactly, once; kill -9 during a backup and during a restore; the
//! checklist's automatic `backup` item at the gate; the free-space refusal.

use crate::maildir::{instants, serve};
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-backup")
        .tempdir()
        .unwrap()
}

fn project(src: &Dovecot, dst: &Dovecot, users: &[(&str, &str, &str)]) -> ProjectDir {
    let lines: Vec<MailboxLine<'_>> = users
        .iter()
        .map(|(batch, user, pass)| MailboxLine { batch, user, pass })
        .collect();
    ProjectBuilder::imap(src, dst).mailboxes(&lines).create()
}

/// The default backup directory of the source: `backups/source/` next to the journal.
fn source_backups(p: &ProjectDir) -> PathBuf {
    p.dir.path().join("backups/source")
}

/// The folders Dovecot lists for `user`, besides INBOX, each with its message count.
fn folders_with_mail(src: &Dovecot, user: &str) -> Vec<(String, u64)> {
    src.doveadm(&["mailbox", "status", "-u", user, "messages", "*"])
        .lines()
        .filter_map(|l| {
            let (name, n) = l.rsplit_once(" messages=")?;
            Some((name.trim().to_string(), n.trim().parse().ok()?))
        })
        .filter(|(n, c)| n != "INBOX" && *c > 0)
        .collect()
}

/// Delete a leaf folder (one without children) and the first `n` INBOX messages: the
/// simulated incident. Returns the folder deleted.
fn incident(src: &Dovecot, user: &str, n: u32) -> String {
    let folders = folders_with_mail(src, user);
    let names: Vec<&str> = folders.iter().map(|(f, _)| f.as_str()).collect();
    let leaf = folders
        .iter()
        .map(|(f, _)| f.clone())
        .find(|f| !names.iter().any(|o| o.starts_with(&format!("{f}/"))))
        .expect("a leaf folder with mail");
    src.doveadm(&["mailbox", "delete", "-u", user, &leaf]);
    src.doveadm(&[
        "expunge",
        "-u",
        user,
        "mailbox",
        "INBOX",
        "uid",
        &format!("1:{n}"),
    ]);
    leaf
}

fn assert_exactly(before: &Dump, now: &Dump, what: &str) {
    assert_same_mail(before, now, |f| f.to_string());
    assert_eq!(
        before.total(),
        now.total(),
        "{what}: nothing more, nothing twice"
    );
    assert_eq!(
        before.folders.keys().collect::<Vec<_>>(),
        now.folders.keys().collect::<Vec<_>>(),
        "{what}: the same folders"
    );
}

#[test]
fn backup_verify_incident_restore_is_exact_and_a_second_restore_does_nothing() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 200, 31, &[]);
    let before = src.dump("alice", "alice-pw");
    let p = project(&src, &dst, &[("pilot", "alice", "alice-pw")]);

    let b = p.cutover(&["backup"]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let dir = source_backups(&p);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700,
        "the backup directory is private to its owner"
    );
    assert!(dir.join("backup-journal.sqlite").is_file());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("alice/cutover-backup.json")).unwrap())
            .unwrap();
    assert_eq!(summary["messages"], before.total() as u64, "{summary}");
    assert_eq!(summary["mailbox"], "alice->alice");
    assert!(summary["tool"].as_str().unwrap().starts_with("cutover "));
    assert_eq!(
        summary["folders"].as_array().unwrap().len(),
        before.folders.len()
    );
    // The source is untouched, the destination too; a re-run copies nothing.
    assert_eq!(src.dump("alice", "alice-pw").folders, before.folders);
    assert_eq!(dst.dump("alice", "alice-pw").total(), 0);
    let again = p.cutover(&["backup"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(stdout(&again).contains("complete"), "{}", text(&again));

    // Verified against the files and the live source; journalled in the project's journal.
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(stdout(&v).contains("verified"), "{}", text(&v));
    let rows = p.journal().backup_rows().unwrap();
    let done: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "backup" && r.outcome == "complete")
        .collect();
    assert_eq!(done.len(), 2, "{rows:?}");
    assert!(done[1].verified_at.is_some(), "{rows:?}");
    assert_eq!(done[0].messages, before.total() as u64);

    // The format is open: a Dovecot that never saw cutover serves the backup as the source.
    let view = serve(root.path(), "view", &dir, &users);
    let (want, got) = (instants(&before), instants(&view.dump("alice", "alice-pw")));
    assert_eq!(want, got, "messages, flags, keywords and received instants");
    drop(view);

    // The incident: a folder and ten INBOX messages deleted on the source.
    let gone = incident(&src, "alice", 10);
    let hit = src.dump("alice", "alice-pw");
    assert!(!hit.folders.contains_key(&gone));
    let lost = before.total() - hit.total();
    assert!(lost > 10, "{lost}");
    // The backup is intact: still verified, the loss is named as a note.
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(
        stdout(&v).contains("no longer on the source"),
        "{}",
        text(&v)
    );

    // A dry run lists what it would restore and writes nothing.
    let dry = p.cutover(&["restore", "--mailbox", "alice", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        stdout(&dry).contains(&format!("{lost} message(s) to restore")),
        "{}",
        text(&dry)
    );
    assert_eq!(src.dump("alice", "alice-pw").total(), hit.total());
    // Without a terminal and without --yes, writing to the source is refused.
    let asked = p.cutover(&["restore", "--mailbox", "alice"]);
    assert_eq!(asked.status.code(), Some(2), "{}", text(&asked));
    assert_eq!(src.dump("alice", "alice-pw").total(), hit.total());

    let r = p.cutover(&["restore", "--mailbox", "alice", "--yes"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(
        stdout(&r).contains(&format!("{lost} message(s) written this run")),
        "{}",
        text(&r)
    );
    assert_exactly(&before, &src.dump("alice", "alice-pw"), "restore");

    // A second restore finds everything there and writes nothing.
    let r2 = p.cutover(&["restore", "--mailbox", "alice", "--yes"]);
    assert_eq!(r2.status.code(), Some(0), "{}", text(&r2));
    assert!(stdout(&r2).contains("nothing to restore"), "{}", text(&r2));
    assert_exactly(&before, &src.dump("alice", "alice-pw"), "second restore");

    // The restore is journalled, and logged as an operator issue.
    let rows = p.journal().backup_rows().unwrap();
    let restores: Vec<_> = rows.iter().filter(|r| r.kind == "restore").collect();
    assert_eq!(restores.len(), 1, "{rows:?}");
    assert_eq!(
        (restores[0].outcome.as_str(), restores[0].messages),
        ("complete", lost as u64)
    );
    assert!(
        all_issues(&p.journal())
            .iter()
            .any(|i| i.category == "operator" && i.message.contains("restore of alice->alice")),
        "{:?}",
        all_issues(&p.journal())
    );

    // The reports carry a backup row per mailbox.
    let rep = p.cutover(&["report", "--kind", "final"]);
    assert_eq!(rep.status.code(), Some(0), "{}", text(&rep));
    let line = stdout(&rep)
        .lines()
        .find(|l| l.starts_with("| alice->alice | source |"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no backup row: {}", text(&rep)));
    assert!(
        line.contains("| yes (") && line.contains(&format!("| {lost} restored at ")),
        "{line}"
    );

    // A second incident; a restore of one folder brings back that folder alone.
    let gone = incident(&src, "alice", 20);
    let hit = src.dump("alice", "alice-pw");
    let display = gone.clone();
    let one = p.cutover(&[
        "restore",
        "--mailbox",
        "alice",
        "--folder",
        &display,
        "--yes",
    ]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    let now = src.dump("alice", "alice-pw");
    assert_eq!(now.folders[&gone], before.folders[&gone]);
    assert_eq!(
        now.folders["INBOX"], hit.folders["INBOX"],
        "INBOX not restored"
    );
    let bad = p.cutover(&[
        "restore",
        "--mailbox",
        "alice",
        "--folder",
        "No/Such",
        "--yes",
    ]);
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad));
    assert!(
        text(&bad).contains("\"No/Such\" is not in the backup"),
        "{}",
        text(&bad)
    );

    // New mail on the source since the backup: verify names it as not backed up (exit 7);
    // a second backup copies just that, and verifies.
    src.seed("alice", 3, 99, &["--offset", "5000", "--no-tricky"]);
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    assert!(stdout(&v).contains("are not in the backup"), "{}", text(&v));
    let more = p.cutover(&["backup"]);
    assert_eq!(more.status.code(), Some(0), "{}", text(&more));
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // A file of the backup altered behind cutover's back: verify names it, exit 7.
    let victim = std::fs::read_dir(dir.join("alice/cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes.extend_from_slice(b"tampered\r\n");
    std::fs::write(&victim, bytes).unwrap();
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    assert!(
        stdout(&v).contains("folder INBOX") && stdout(&v).contains("changed since the backup"),
        "{}",
        text(&v)
    );
    // And one removed.
    std::fs::remove_file(&victim).unwrap();
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    assert!(
        stdout(&v).contains("file missing from the backup"),
        "{}",
        text(&v)
    );
}

/// Lines of a manifest (messages delivered into the backup).
fn manifest_lines(m: &Path) -> usize {
    std::fs::read(m).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
}

#[test]
fn kill_9_during_a_backup_and_during_a_restore_then_a_rerun_is_exact() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("carol", 400, 32, &[]);
    let before = src.dump("carol", "carol-pw");
    let p = project(&src, &dst, &[("default", "carol", "carol-pw")]);
    let dir = source_backups(&p);
    let manifest = dir.join("carol/cutover-manifest.jsonl");

    let mut killed = 0;
    for lines in [60usize, 200] {
        let mut run = Command::new(bin());
        run.arg("backup").arg(&p.path);
        let m = manifest.clone();
        if run_until_sigkill(&mut run, |t| {
            t >= Duration::from_secs(60) || manifest_lines(&m) >= lines
        }) {
            killed += 1;
        }
    }
    assert!(killed >= 1, "at least one kill must land while backing up");
    let b = p.cutover(&["backup"]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let view = serve(root.path(), "view", &dir, &users);
    assert_eq!(
        instants(&before),
        instants(&view.dump("carol", "carol-pw")),
        "every message in the backup exactly once"
    );
    drop(view);

    // Most of the mailbox lost; the restore is killed twice while writing, then finished.
    let _ = incident(&src, "carol", 150);
    let hit = src.message_count("carol");
    let lost = before.total() as u64 - hit;
    let mut killed = 0;
    for part in [4u64, 2] {
        let mut run = Command::new(bin());
        run.args(["restore"])
            .arg(&p.path)
            .args(["--mailbox", "carol", "--yes"]);
        if run_until_sigkill(&mut run, |t| {
            t >= Duration::from_secs(60) || src.message_count("carol") >= hit + lost / part
        }) {
            killed += 1;
        }
    }
    assert!(killed >= 1, "at least one kill must land while restoring");
    let r = p.cutover(&["restore", "--mailbox", "carol", "--yes"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert_exactly(
        &before,
        &src.dump("carol", "carol-pw"),
        "restore after kill -9",
    );
    let r2 = p.cutover(&["restore", "--mailbox", "carol", "--yes"]);
    assert_eq!(r2.status.code(), Some(0), "{}", text(&r2));
    assert!(stdout(&r2).contains("nothing to restore"), "{}", text(&r2));
}

#[test]
fn the_gate_needs_a_verified_backup_when_required_and_override_works_with_a_reason() {
    let root = tmp();
    let users = [("ann", "ann-pw"), ("ben", "ben-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("ann", 20, 33, &["--no-tricky"]);
    src.seed("ben", 20, 34, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "pilot",
                user: "ann",
                pass: "ann-pw",
            },
            MailboxLine {
                batch: "wave-1",
                user: "ben",
                pass: "ben-pw",
            },
        ])
        .check(toml::toml! {
            id = "backup"
            title = "Source backed up and verified"
            kind = "auto"
        })
        .create();
    let refused = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(refused.status.code(), Some(11), "{}", text(&refused));
    assert!(
        text(&refused).contains("backup") && text(&refused).contains("no verified backup"),
        "{}",
        text(&refused)
    );
    assert_eq!(dst.dump("ann", "ann-pw").total(), 0);

    // A backup alone is not enough: it must be verified.
    let b = p.cutover(&["backup", "--batch", "wave-1"]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let refused = p.cutover(&["run", "--batch", "wave-1"]);
    assert_eq!(refused.status.code(), Some(11), "{}", text(&refused));
    let v = p.cutover(&["backup", "--batch", "wave-1", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let run = p.cutover(&["run", "--batch", "wave-1"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(dst.dump("ben", "ben-pw").total(), 20);

    // Still refused for the pilot (ann has no backup); overridden with a reason it runs, and
    // the override is an operator issue (it stands for the item, as every override does).
    let refused = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(refused.status.code(), Some(11), "{}", text(&refused));
    let run = p.cutover(&[
        "run",
        "--batch",
        "pilot",
        "--override",
        "customer's own snapshot, ticket 81",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(dst.dump("ann", "ann-pw").total(), 20);
    assert!(
        all_issues(&p.journal())
            .iter()
            .any(|i| i.category == "operator"
                && i.message.contains("customer's own snapshot, ticket 81")),
        "{:?}",
        all_issues(&p.journal())
    );

    // The destination can be backed up too (what it held), into backups/destination/.
    let d = p.cutover(&["backup", "--side", "destination"]);
    assert_eq!(d.status.code(), Some(0), "{}", text(&d));
    assert!(p.dir.path().join("backups/destination/ben/cur").is_dir());
    let v = p.cutover(&["backup", "--side", "destination", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(
        stdout(&v).contains("match the manifest and the destination: verified"),
        "{}",
        text(&v)
    );
}

#[test]
fn a_backup_is_refused_when_the_disk_lacks_the_assessed_size_plus_ten_percent() {
    let root = tmp();
    let users = [("dan", "dan-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("dan", 20, 35, &["--no-tricky"]);
    let p = project(&src, &dst, &[("default", "dan", "dan-pw")]);
    let a = p.cutover(&["assess"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    // The assessment says the mailbox holds 1 EB: no disk here has that.
    let n = p
        .journal_for_damage()
        .execute(
            "UPDATE assessed_mailboxes SET bytes = 1000000000000000000",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    let b = p.cutover(&["backup"]);
    assert_eq!(b.status.code(), Some(12), "{}", text(&b));
    let err = String::from_utf8_lossy(&b.stderr).to_string();
    assert!(
        err.contains("not enough free space")
            && err.contains("1100000000000000000 bytes")
            && err.contains(" free, "),
        "{err}"
    );
    assert!(
        !source_backups(&p).join("dan").exists(),
        "nothing copied: {err}"
    );
    assert!(
        p.journal().backup_rows().unwrap().is_empty(),
        "nothing journalled as a backup"
    );
}

/// The console's backup action: `Command::Backup` through a handle whose backup switch is set
/// as the console sets it; the outcome is an operator issue, the state in the snapshot.
#[test]
fn the_console_backup_command_backs_up_verifies_and_says_so() {
    use cutover_engine::api::{BackupState, BackupSwitch, Command};

    let root = tmp();
    let users = [("eve", "eve-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("eve", 25, 36, &["--no-tricky"]);
    let p = project(&src, &dst, &[("pilot", "eve", "eve-pw")]);
    let project = cutover_engine::config::load(&p.path).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = cutover_engine::journal::Journal::open(
            &project.state_path,
            cutover_engine::config::Durability::Crash,
        )
        .unwrap();
        let (pr, st) = (project.clone(), store.clone());
        let (mut handle, _engine) =
            cutover_engine::engine::control::spawn_engine(project, store.clone()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        handle.backup = Some(BackupSwitch::new(move |batch, operator| {
            let (pr, st, tx) = (pr.clone(), st.clone(), tx.clone());
            tokio::spawn(async move {
                cutover_engine::backup::backup_and_verify(
                    pr,
                    st,
                    batch.into_iter().collect(),
                    operator,
                )
                .await;
                let _ = tx.send(());
            });
        }));
        handle.send(Command::Backup {
            batch: Some("pilot".into()),
            operator: "maria".into(),
        });
        tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("the backup ends");
        let issues = store.issue_rows(100).unwrap();
        assert!(
            issues.iter().any(|i| i.category == "operator"
                && i.severity == "info"
                && i.message
                    .starts_with("backup of batch pilot (source) by maria")
                && i.message
                    .contains("1 of 1 mailbox(es) complete, 1 verified")),
            "{issues:?}"
        );
        // The snapshot's mailbox shows it verified within a few refreshes.
        let mut snaps = handle.snapshots.clone();
        let mut state = BackupState::None;
        for _ in 0..20 {
            state = snaps.borrow_and_update().batches[0].mailboxes[0].backup;
            if state == BackupState::Verified {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), snaps.changed()).await;
        }
        assert_eq!(state, BackupState::Verified);
    });
    assert!(source_backups(&p).join("eve/cutover-backup.json").is_file());
}

/// A restore after the migration copied the mailbox: the project's journal follows the
/// restored messages, so the next run copies nothing twice and verify finds every message
/// once, whether the loss was on the source or on the destination.
#[test]
fn after_a_restore_the_migration_neither_copies_again_nor_misses_a_message() {
    let root = tmp();
    let users = [("fay", "fay-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("fay", 80, 37, &["--no-tricky"]);
    let before = src.dump("fay", "fay-pw");
    let p = project(&src, &dst, &[("default", "fay", "fay-pw")]);
    for args in [
        &["backup"][..],
        &["run"],
        &["backup", "--side", "destination"],
    ] {
        let o = p.cutover(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    assert_eq!(dst.dump("fay", "fay-pw").total(), before.total());

    // A folder and messages lost on the source after the migration; restored; the next run
    // copies none (the recreated folder is re-matched by fingerprint, the messages followed).
    let _ = incident(&src, "fay", 5);
    let r = p.cutover(&["restore", "--mailbox", "fay", "--yes"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert_exactly(&before, &src.dump("fay", "fay-pw"), "source restored");
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(
        run_counts(&run).0,
        0,
        "nothing copied twice: {}",
        text(&run)
    );
    assert_exactly(
        &before,
        &dst.dump("fay", "fay-pw"),
        "destination after the run",
    );

    // Messages lost on the destination; restored from the backup of the destination.
    dst.doveadm(&["expunge", "-u", "fay", "mailbox", "INBOX", "uid", "1:5"]);
    let dir = p.dir.path().join("backups/destination");
    let dir = dir.to_str().unwrap();
    let r = p.cutover(&[
        "restore",
        "--mailbox",
        "fay",
        "--into",
        "destination",
        "--dir",
        dir,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert_exactly(&before, &dst.dump("fay", "fay-pw"), "destination restored");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(run_counts(&run).0, 0, "{}", text(&run));
    assert_exactly(
        &before,
        &dst.dump("fay", "fay-pw"),
        "destination after the run",
    );
}
