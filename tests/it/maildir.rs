//! The Maildir endpoint against real Dovecot servers: Dovecot → Maildir tree, then a
//! throwaway Dovecot pointed at that tree with the documented `mail_location` serves the same
//! messages (bytes, flags, keywords, received instants); the tree as a source back into a
//! fresh Dovecot gives the original; kill -9 in the middle of a write run, then a re-run,
//! leaves every message exactly once.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-maildir")
        .tempdir()
        .unwrap()
}

/// Per folder: (sha256, sorted flags, INTERNALDATE as an instant, size), sorted.
pub(crate) type Seen = BTreeMap<String, Vec<(String, Vec<String>, i64, u64)>>;

pub(crate) fn instants(d: &Dump) -> Seen {
    d.folders
        .iter()
        .map(|(f, ms)| {
            let mut v: Vec<_> = ms
                .iter()
                .map(|(h, fl, date, size)| {
                    let mut fl = fl.clone();
                    fl.sort();
                    let t = chrono::DateTime::parse_from_str(date, "%d-%b-%Y %H:%M:%S %z")
                        .unwrap_or_else(|e| panic!("INTERNALDATE {date:?}: {e}"))
                        .timestamp();
                    (h.clone(), fl, t, *size)
                })
                .collect();
            v.sort();
            (f.clone(), v)
        })
        .collect()
}

/// Dovecot (user `user`) → a Maildir tree under `backup`.
fn to_maildir(src: &Dovecot, backup: &Path, user: &str, pass: &str) -> ProjectDir {
    ProjectBuilder::new("maildir-backup")
        .source(project::imap(src.port))
        .destination(project::maildir(backup))
        .mailbox(project::mailbox(
            None,
            project::login(user, pass),
            project::user(user),
        ))
        .create()
}

/// A throwaway Dovecot serving the trees under `backup` with the documented line
/// `mail_location = maildir:DIR/%u:LAYOUT=fs`.
pub(crate) fn serve(root: &Path, name: &str, backup: &Path, users: &[(&str, &str)]) -> Dovecot {
    let dir = backup.to_str().unwrap();
    Dovecot::start(root, name, users, &["--mail-root", dir])
}

#[test]
fn dovecot_to_maildir_is_served_by_dovecot_as_the_source_and_a_second_run_copies_nothing() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    src.seed("alice", 200, 18, &[]);
    let before = src.dump("alice", "alice-pw");
    let backup = root.path().join("backup");

    let p = to_maildir(&src, &backup, "alice", "alice-pw");
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        backup.join("alice/cur").is_dir() && backup.join("alice/cutover-manifest.jsonl").is_file(),
        "the tree and its manifest are at DIR/<user>"
    );
    // Keywords are in the folders' dovecot-keywords files, as Dovecot writes them.
    let kw = std::fs::read_to_string(backup.join("alice/dovecot-keywords")).unwrap();
    assert!(
        kw.lines().all(|l| l
            .split_once(' ')
            .is_some_and(|(n, k)| n.parse::<u8>().is_ok_and(|n| n < 26) && !k.is_empty())),
        "{kw:?}"
    );
    // Folder names on disk in modified UTF-7, as Dovecot keeps them.
    assert!(backup.join("alice/A&-B/cur").is_dir());
    assert!(backup.join("alice/Entw&APw-rfe/cur").is_dir());

    // The source is untouched; a second run copies and downloads nothing.
    assert_eq!(src.dump("alice", "alice-pw").folders, before.folders);
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));

    // A Dovecot that never saw cutover serves the same mail from the tree.
    let view = serve(root.path(), "view", &backup, &users);
    let served = view.dump("alice", "alice-pw");
    let (want, got) = (instants(&before), instants(&served));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "the same folders"
    );
    for (f, ms) in &want {
        assert_eq!(
            ms, &got[f],
            "folder {f:?}: bytes, flags, keywords and received instants"
        );
    }
}

#[test]
fn a_maildir_tree_as_a_source_restores_the_original_into_a_fresh_dovecot() {
    let root = tmp();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    src.seed("bob", 150, 19, &[]);
    let before = src.dump("bob", "bob-pw");
    let backup = root.path().join("backup");
    let run = to_maildir(&src, &backup, "bob", "bob-pw").cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let listing = |d: &Path| {
        let mut v: Vec<String> = walkdir(d);
        v.sort();
        v
    };
    let tree_before = listing(&backup);

    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    let p = ProjectBuilder::new("maildir-restore")
        .source(project::maildir(&backup))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::user("bob"),
            project::login("bob", "bob-pw"),
        ))
        .create();
    let restore = p.cutover(&["run"]);
    assert_eq!(restore.status.code(), Some(0), "{}", text(&restore));
    let got = dst.dump("bob", "bob-pw");
    assert_same_mail(&before, &got, |f| f.to_string());
    assert_eq!(before.total(), got.total(), "nothing more than the source");
    // Reading never changes the tree.
    assert_eq!(
        listing(&backup),
        tree_before,
        "the Maildir source was modified"
    );
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// Every file under `d` with its size and modification time.
fn walkdir(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let md = e.metadata().unwrap();
            if md.is_dir() {
                stack.push(e.path());
            } else {
                out.push(format!(
                    "{} {} {:?}",
                    e.path().display(),
                    md.len(),
                    md.modified().unwrap()
                ));
            }
        }
    }
    out
}

#[test]
fn kill_9_during_a_maildir_write_then_a_rerun_leaves_every_message_exactly_once() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    src.seed("carol", 400, 20, &[]);
    let before = src.dump("carol", "carol-pw");
    let backup = root.path().join("backup");
    let p = to_maildir(&src, &backup, "carol", "carol-pw");
    let manifest = backup.join("carol/cutover-manifest.jsonl");
    let mut killed = 0;
    for lines in [40usize, 150, 300] {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path);
        let m = manifest.clone();
        if run_until_sigkill(&mut run, |t| {
            t >= Duration::from_secs(60)
                || std::fs::read(&m)
                    .is_ok_and(|b| b.iter().filter(|c| **c == b'\n').count() >= lines)
        }) {
            killed += 1;
        }
    }
    assert!(killed >= 1, "at least one kill must land while writing");
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));

    let view = serve(root.path(), "view", &backup, &users);
    let (want, got) = (instants(&before), instants(&view.dump("carol", "carol-pw")));
    for (f, ms) in &want {
        assert_eq!(ms, &got[f], "folder {f:?}: every message exactly once");
    }
    assert_eq!(
        want.values().map(Vec::len).sum::<usize>(),
        got.values().map(Vec::len).sum::<usize>()
    );
}

#[test]
fn maildir_path_errors_are_located_and_refused_combinations_named() {
    let root = tmp();
    let file = root.path().join("blocker");
    std::fs::write(&file, b"").unwrap();
    let check = |dst: toml::Table| {
        let p = ProjectBuilder::new("maildir-config")
            .source(project::imap(1143))
            .destination(dst)
            .mailbox(project::mailbox(
                None,
                project::login("ann", "pw"),
                project::user("ann"),
            ))
            .create();
        let out = p.cutover(&["check"]);
        (out.status.code(), text(&out), p)
    };
    let (code, out, _) = check(toml::toml! { kind = "maildir" path = "relative/dir" });
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("destination.path")
            && out.contains("absolute")
            && out.contains("project.toml:"),
        "{out}"
    );
    let (code, out, _) = check(toml::toml! { kind = "maildir" });
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("destination.path: missing"), "{out}");
    let under_file = file.join("x");
    let (code, out, _) = check(project::maildir(&under_file));
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("not writable") || out.contains("not a directory"),
        "{out}"
    );
    let mut with_host = project::maildir(root.path());
    with_host.insert("host".into(), "mail.example.com".into());
    let (code, out, _) = check(with_host);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("destination.host: a maildir endpoint"),
        "{out}"
    );
    let (code, out, _) = check(project::maildir(&root.path().join("new-backup")));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("maildir:") && out.contains("/%u:LAYOUT=fs"),
        "{out}"
    );
    assert!(
        !root.path().join("new-backup").exists(),
        "check creates nothing"
    );
}

/// The scenario "a Maildir tree from a decommissioned server → IMAP": the tree Dovecot itself
/// keeps (its index and uidlist files, messages in new/ and cur/, its own dovecot-keywords)
/// read as a source, each mailbox's tree at DIR/<user>.
#[test]
fn a_tree_left_by_a_dovecot_server_migrates_to_imap_with_flags_keywords_and_dates() {
    let root = tmp();
    let users = [("dora", "dora-pw")];
    let old = Dovecot::start(root.path(), "old", &users, &[]);
    old.seed("dora", 150, 21, &[]);
    let before = old.dump("dora", "dora-pw");
    // The decommissioned server's mail directory, one tree per user.
    let trees = root.path().join("old-server");
    std::fs::create_dir_all(&trees).unwrap();
    std::os::unix::fs::symlink(old.dir.join("mail/dora/Maildir"), trees.join("dora")).unwrap();

    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    let p = ProjectBuilder::new("maildir-old-server")
        .source(project::maildir(&trees))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::user("dora"),
            project::login("dora", "dora-pw"),
        ))
        .create();
    let mut killed = Command::new(bin());
    killed.arg("run").arg(&p.path);
    run_until_sigkill(&mut killed, |t| t >= Duration::from_millis(400));
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let got = dst.dump("dora", "dora-pw");
    assert_same_mail(&before, &got, |f| f.to_string());
    assert_eq!(before.total(), got.total(), "each message once");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn a_maildir_plus_plus_tree_is_refused_naming_its_folder_not_read_as_inbox_alone() {
    let root = tmp();
    let trees = root.path().join("trees");
    for d in [
        "eve/cur",
        "eve/new",
        "eve/tmp",
        "eve/.Sent/cur",
        "eve/.Sent/new",
    ] {
        std::fs::create_dir_all(trees.join(d)).unwrap();
    }
    std::fs::write(trees.join("eve/.Sent/maildirfolder"), b"").unwrap();
    let dst = Dovecot::start(root.path(), "dst", &[("eve", "eve-pw")], &[]);
    let p = ProjectBuilder::new("maildir-plusplus")
        .source(project::maildir(&trees))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::user("eve"),
            project::login("eve", "eve-pw"),
        ))
        .create();
    let run = p.cutover(&["run"]);
    assert_ne!(run.status.code(), Some(0), "{}", text(&run));
    let all = text(&run);
    assert!(all.contains("Maildir++") && all.contains(".Sent"), "{all}");
}

/// Message files anywhere under `d` (in cur/ or new/).
fn message_files(d: &Path) -> usize {
    walkdir(d)
        .iter()
        .filter(|l| l.contains("/cur/") || l.contains("/new/"))
        .count()
}

#[test]
fn rollback_removes_exactly_what_cutover_wrote_into_the_tree() {
    let root = tmp();
    let users = [("fred", "fred-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    src.seed("fred", 60, 22, &[]);
    let backup = root.path().join("backup");
    let p = to_maildir(&src, &backup, "fred", "fred-pw");
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // A message someone else put in the tree's INBOX stays.
    let other = backup.join("fred/cur/1600000000.M1P1.elsewhere:2,S");
    std::fs::write(&other, b"Subject: not ours\r\n\r\nx\r\n").unwrap();
    assert!(backup.join("fred/Archive/2024/cur").is_dir());
    let written = message_files(&backup) - 1;
    assert_eq!(written, src.dump("fred", "fred-pw").total());

    let rb = p.cutover(&["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert_eq!(message_files(&backup), 1, "{}", walkdir(&backup).join("\n"));
    assert!(other.is_file(), "a file cutover did not write was touched");
    assert!(
        !backup.join("fred/Archive/2024/cur").exists(),
        "folders cutover created are removed"
    );
}

#[test]
fn a_mailbox_without_a_tree_fails_naming_where_it_was_looked_for_and_assess_reads_a_tree() {
    let root = tmp();
    let (trees, out) = (root.path().join("trees"), root.path().join("out"));
    for d in [
        "gus/cur",
        "gus/new",
        "gus/tmp",
        "gus/Work/cur",
        "gus/Work/new",
    ] {
        std::fs::create_dir_all(trees.join(d)).unwrap();
    }
    std::fs::write(
        trees.join("gus/Work/cur/1600000000.M1P1.h:2,FS"),
        b"Subject: w\n\nbody\n",
    )
    .unwrap();
    let p = ProjectBuilder::new("maildir-to-maildir")
        .source(project::maildir(&trees))
        .destination(project::maildir(&out))
        .mailbox(project::mailbox(
            None,
            project::user("gus"),
            project::user("gus"),
        ))
        .mailbox(project::mailbox(
            None,
            project::user("hal"),
            project::user("hal"),
        ))
        .create();
    let run = p.cutover(&["run"]);
    let all = text(&run);
    assert_ne!(run.status.code(), Some(0), "{all}");
    assert!(
        all.contains("no Maildir tree for this mailbox") && all.contains("trees/hal"),
        "{all}"
    );
    // The mailbox that has a tree was copied: its one message, flagged and seen, CRLF.
    let copied: Vec<_> = std::fs::read_dir(out.join("gus/Work/cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copied.len(), 1, "{all}");
    assert!(copied[0].to_string_lossy().ends_with(":2,FS"));
    assert_eq!(
        std::fs::read(&copied[0]).unwrap(),
        b"Subject: w\r\n\r\nbody\r\n"
    );
    std::fs::remove_dir_all(&out).unwrap();
    let a = p.cutover(&["assess"]);
    assert!(
        stdout(&a).contains("gus"),
        "assess reads a Maildir source: {}",
        text(&a)
    );
    assert!(!stdout(&a).contains("lacks UIDPLUS"), "{}", text(&a));
    // Assessment's write probe (a folder created, then deleted) leaves nothing behind.
    let left: Vec<_> = std::fs::read_dir(out.join("gus"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 3, "only INBOX's cur, new, tmp: {left:?}");
}

/// The scenario "a Maildir tree from a decommissioned server → Microsoft 365": the tree read
/// as a source, written through Graph (the stateful fake), each message once, byte for byte
/// (messages small enough for importMime), with their read state.
#[test]
fn a_maildir_tree_migrates_to_microsoft_365_through_graph() {
    use support::fake_cloud::Cloud;
    use support::fake_cloud::graph::{FakeGraph, GraphConfig};
    use support::fake_cloud::token::Tokens;

    let root = tmp();
    let old = Dovecot::start(root.path(), "old", &[("ivy", "ivy-pw")], &["--no-gmail"]);
    old.seed("ivy", 80, 23, &[]);
    let before = old.dump("ivy", "ivy-pw");
    let trees = root.path().join("old-server");
    std::fs::create_dir_all(&trees).unwrap();
    std::os::unix::fs::symlink(old.dir.join("mail/ivy/Maildir"), trees.join("ivy")).unwrap();

    let upn = "ivy@contoso.com";
    let c = Cloud::start(
        Tokens::new(Duration::from_secs(3600)).with_client("contoso", "app-1", "secret-1"),
        FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", upn),
        |g| g,
    );
    let url = c.cloud.url();
    let token_url = format!("{url}/contoso/oauth2/v2.0/token");
    let graph = toml::toml! {
        kind = "graph"
        api_url = (url.as_str())

        [oauth]
        provider = "entra"
        tenant = "contoso"
        client_id = "app-1"
        client_secret_env = "CUTOVER_TEST_SECRET_1"
        token_url = (token_url.as_str())
    };
    let p = ProjectBuilder::new("maildir-to-m365")
        .source(project::maildir(&trees))
        .destination(graph)
        .mailbox(project::mailbox(
            None,
            project::user("ivy"),
            project::user(upn),
        ))
        .create();
    let run = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .env("CUTOVER_TEST_SECRET_1", "secret-1")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // importMime takes messages up to ~3 MiB as they are; larger ones are rebuilt as JSON.
    let limit = 4 * 1024 * 1024 * 3 / 4;
    let mut want: Vec<(String, bool)> = before
        .folders
        .values()
        .flatten()
        .filter(|m| m.3 <= limit)
        .map(|m| (m.0.clone(), m.1.iter().any(|f| f == "\\Seen")))
        .collect();
    let mut have: Vec<(String, bool)> = c
        .graph
        .mailbox(upn)
        .messages
        .iter()
        .filter_map(|m| Some((sha256(m.mime.as_ref()?), m.is_read)))
        .collect();
    want.sort();
    have.sort();
    assert_eq!(want.len(), have.len(), "{}", text(&run));
    assert_eq!(
        want, have,
        "each message once, byte for byte, read state kept"
    );
}
