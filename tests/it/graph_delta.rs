//! Delta passes (`cutover sync`) with Microsoft Graph as the destination, against the
//! stateful fake Graph and a real Dovecot source: after a first copy, the users' work on
//! the source (50 new, 30 moves, 40 flag and keyword changes, a folder renamed, 10
//! deletions) is mirrored by one pass: moves with `POST /messages/{id}/move` (never a second
//! copy), read and flag state with PATCH, deletions reported, then removed with
//! `[sync] deletions = "propagate"`. And Graph as the source: what a user did in Outlook
//! (moves, which give a message a new id; read and flag state; deletions) mirrored on IMAP.

use crate::graph::{Proj, graph_endpoint, imap_to_graph, seed_graph, start};
use crate::support;
use crate::sync_delta::{USER, pass_counts, users_work};

use std::collections::BTreeMap;
use std::time::Duration;

use support::fake_cloud::graph::{FakeGraph, GraphConfig, Mailbox};
use support::*;

const ALICE: &str = "alice@contoso.com";

/// Per destination folder (named as on the source: Inbox is INBOX, Sent Items is Sent):
/// (sha256 of the stored MIME, read, flagged), sorted.
fn graph_folders(mb: &Mailbox) -> BTreeMap<String, Vec<(String, bool, bool)>> {
    let mut out: BTreeMap<String, Vec<(String, bool, bool)>> = BTreeMap::new();
    for (path, msgs) in mb.by_folder() {
        let name = match path.as_str() {
            "Inbox" => "INBOX".to_string(),
            "Sent Items" => "Sent".to_string(),
            "Deleted Items" => "Trash".to_string(),
            "Junk Email" => "Junk".to_string(),
            _ => path,
        };
        let v = out.entry(name).or_default();
        v.extend(
            msgs.iter()
                .filter_map(|m| Some((sha256(m.mime.as_ref()?), m.is_read, m.flagged))),
        );
        v.sort();
    }
    out
}

/// Messages over this size take Graph's JSON path (no MIME kept to hash): compared by count.
const LARGE: u64 = 3 * 1024 * 1024;

/// The source the same way (its flags as Graph keeps them: \Seen and \Flagged).
fn imap_folders(d: &Dump) -> BTreeMap<String, Vec<(String, bool, bool)>> {
    d.folders
        .iter()
        .map(|(f, ms)| {
            let mut v: Vec<_> = ms
                .iter()
                .filter(|m| m.3 <= LARGE)
                .map(|m| {
                    let has = |x: &str| m.1.iter().any(|f| f == x);
                    (m.0.clone(), has("\\Seen"), has("\\Flagged"))
                })
                .collect();
            v.sort();
            (f.clone(), v)
        })
        .collect()
}

/// Every source folder's messages are in its destination folder (`extra` more there per
/// folder: the deletions reported), nothing else anywhere.
fn assert_mirrored(src: &Dump, mb: &Mailbox, extra: &BTreeMap<String, usize>) {
    let (want, have) = (imap_folders(src), graph_folders(mb));
    let counts = mb.by_folder();
    for (f, ms) in &src.folders {
        let path = match f.as_str() {
            "INBOX" => "Inbox",
            "Sent" => "Sent Items",
            "Trash" => "Deleted Items",
            "Junk" => "Junk Email",
            other => other,
        };
        assert_eq!(
            counts.get(path).map_or(0, Vec::len),
            ms.len() + extra.get(f).copied().unwrap_or(0),
            "{f}: messages on the destination"
        );
    }
    for (f, w) in &want {
        let mut h = have.get(f).cloned().unwrap_or_default();
        for m in w {
            let i = h.iter().position(|x| x == m).unwrap_or_else(|| {
                panic!("{f}: {m:?} not on the destination as on the source; there: {h:?}")
            });
            h.remove(i);
        }
        assert_eq!(
            h.len(),
            extra.get(f).copied().unwrap_or(0),
            "{f}: left over on the destination: {h:?}"
        );
    }
    for (f, h) in &have {
        assert!(
            want.contains_key(f) || h.is_empty(),
            "{f}: {} message(s) on the destination in a folder the source no longer has",
            h.len()
        );
    }
}

#[test]
fn imap_to_graph_sync_pass_moves_with_graph_move_carries_state_and_reports_deletions() {
    let root = tempfile::Builder::new()
        .prefix("cutover-graph-delta")
        .tempdir()
        .unwrap();
    let src = Dovecot::start(root.path(), "src", &[USER], &[]);
    src.seed(USER.0, 700, 25, &["--no-tricky"]);
    let cloud = start(FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE));
    let p = imap_to_graph(&cloud, &src, toml::Table::new());
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = src.dump(USER.0, USER.1);
    assert_mirrored(&before, &cloud.graph.mailbox(ALICE), &BTreeMap::new());
    let imported = cloud.graph.stats().import_mime;

    let deleted = users_work(&src, &before);
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let c = pass_counts(&pass);
    // new, flag changes, moves, deletions, removed (the flag changes: those Graph has); the
    // renamed folder is renamed on Graph, its messages not moved.
    assert_eq!((c[0], c[2], c[3], c[4]), (50, 30, 10, 0), "{}", text(&pass));
    let now = src.dump(USER.0, USER.1);
    assert_mirrored(&now, &cloud.graph.mailbox(ALICE), &deleted);
    let stats = cloud.graph.stats();
    // Moved with Graph's move, not copied again: only the 50 new messages were imported.
    assert_eq!(stats.moves, 30, "{stats:?}");
    assert_eq!(stats.import_mime, imported + 50, "{stats:?}");
    let issues = all_issues(&p.journal());
    assert!(
        !issues.iter().any(|i| i.message.contains("not carried")),
        "{issues:?}"
    );

    // A second pass changes nothing.
    let again = p.cutover(&["sync"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        pass_counts(&again),
        vec![0, 0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );

    // Propagated: the destination is the source, folder by folder; verify agrees, and
    // rollback finds the moved messages under their new ids.
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert_eq!(
        pass_counts(&prop),
        vec![0, 0, 0, 0, 10, 0],
        "{}",
        text(&prop)
    );
    assert_mirrored(&now, &cloud.graph.mailbox(ALICE), &BTreeMap::new());
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let rb = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(cloud.graph.mailbox(ALICE).messages.is_empty());
}

/// Folders with messages only (a Dovecot lists its empty special-use folders too).
fn filled(
    m: BTreeMap<String, Vec<(String, bool, bool)>>,
) -> BTreeMap<String, Vec<(String, bool, bool)>> {
    m.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

#[test]
fn graph_source_sync_pass_follows_outlook_moves_state_and_deletions() {
    const BOB: &str = "bob@contoso.com";
    let root = tempfile::Builder::new()
        .prefix("cutover-graph-delta")
        .tempdir()
        .unwrap();
    let dst = Dovecot::start(root.path(), "dst", &[("bob", "bob-pw")], &["--no-gmail"]);
    dst.doveadm(&["mailbox", "create", "-u", "bob", "Sent", "Archive"]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", BOB);
    seed_graph(&graph, BOB, 60);
    let cloud = start(graph);
    let p = Proj::new(
        graph_endpoint(&cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"),
        project::imap(dst.port),
        &[(BOB, "", "bob")],
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(
        filled(imap_folders(&dst.dump("bob", "bob-pw"))),
        graph_folders(&cloud.graph.mailbox(BOB))
    );

    // In Outlook: 5 moved from Inbox to Archive and 3 from Sent Items to Projects/Alpha (new
    // ids), 6 read or flag changes, 4 deletions, 5 new messages.
    let by = cloud.graph.mailbox(BOB).by_folder();
    let ids = |f: &str| by[f].iter().map(|m| m.id.clone()).collect::<Vec<_>>();
    let (inbox, sent, archive) = (ids("Inbox"), ids("Sent Items"), ids("Archive"));
    let g = &cloud.graph;
    for id in &inbox[..5] {
        g.user_change(BOB, id, Some("Archive"), None);
    }
    for id in &sent[..3] {
        g.user_change(BOB, id, Some("Projects/Alpha"), None);
    }
    for m in &by["Inbox"][5..11] {
        g.user_change(BOB, &m.id, None, Some((!m.is_read, !m.flagged)));
    }
    for id in inbox[11..13].iter().chain(&archive[..2]) {
        g.user_change(BOB, id, None, None);
    }
    for i in 0..5 {
        let mime = format!("Subject: new {i}\r\nMessage-ID: <n{i}@contoso.com>\r\n\r\nnew {i}\r\n");
        g.seed(
            BOB,
            "Inbox",
            mime.as_bytes(),
            false,
            false,
            "2024-06-01T00:00:00Z",
        );
    }
    let deleted = BTreeMap::from([("INBOX".to_string(), 2), ("Archive".to_string(), 2)]);

    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let c = pass_counts(&pass);
    assert_eq!(&c[..5], &[5, 6, 8, 4, 0], "{}", text(&pass));
    // The destination holds the source folder by folder, plus the deletions reported.
    let src = graph_folders(&cloud.graph.mailbox(BOB));
    let have = filled(imap_folders(&dst.dump("bob", "bob-pw")));
    for (f, want) in &src {
        let mut h = have.get(f).cloned().unwrap_or_default();
        for m in want {
            let i = h
                .iter()
                .position(|x| x == m)
                .unwrap_or_else(|| panic!("{f}: {m:?} not on the destination as on the source"));
            h.remove(i);
        }
        assert_eq!(h.len(), deleted.get(f).copied().unwrap_or(0), "{f}: {h:?}");
    }
    // The source was read only.
    assert_eq!(cloud.graph.stats().moves, 0);
    assert_eq!(cloud.graph.stats().permanent_deletes, 0);

    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert_eq!(
        &pass_counts(&prop)[..5],
        &[0, 0, 0, 0, 4],
        "{}",
        text(&prop)
    );
    assert_eq!(
        filled(imap_folders(&dst.dump("bob", "bob-pw"))),
        graph_folders(&cloud.graph.mailbox(BOB))
    );
}

#[test]
fn imap_to_graph_sync_pass_killed_midway_resumes_exactly() {
    let root = tempfile::Builder::new()
        .prefix("cutover-graph-delta")
        .tempdir()
        .unwrap();
    let src = Dovecot::start(root.path(), "src", &[USER], &[]);
    src.seed(USER.0, 700, 26, &["--no-tricky"]);
    let cloud = start(FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE));
    let p = imap_to_graph(&cloud, &src, toml::Table::new());
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = src.dump(USER.0, USER.1);
    p.edit(|b| b.set("sync.deletions", "propagate"));
    users_work(&src, &before);
    // Kill passes later and later (each resumes what the last one left) until one ends by
    // itself; some must die with Graph moves half done (a message moved under a new id
    // whose row still says `moving`).
    let total_moves = 30 + before.folders["Archive/2023"].len();
    let key = format!("{}->{ALICE}", USER.0);
    let (mut killed, mut midway) = (0, 0);
    for step in 0..60u64 {
        let mut cmd = p.cmd(&["sync"]);
        let delay = Duration::from_millis(150 + 60 * step);
        if !run_until_sigkill(&mut cmd, |t| t >= delay) {
            break;
        }
        killed += 1;
        let j = p.journal();
        let moves = j.sync_changes(&key, "move").unwrap().len();
        let unfinished = messages_in(&j, "moving") + messages_in(&j, "deleting");
        if unfinished > 0 || (moves > 0 && moves < total_moves) {
            midway += 1;
        }
    }
    assert!(killed >= 1, "at least one kill must land during a pass");
    assert!(
        midway >= 1,
        "at least one kill must land with the moves half done"
    );
    let done = p.cutover(&["sync"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    // Exactly the source, folder by folder: nothing moved twice, nothing copied again.
    let now = src.dump(USER.0, USER.1);
    assert_mirrored(&now, &cloud.graph.mailbox(ALICE), &BTreeMap::new());
    let again = p.cutover(&["sync"]);
    assert_eq!(
        pass_counts(&again),
        vec![0, 0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// The IMAP destination holds the Graph source folder by folder, plus `extra` per folder.
fn assert_graph_mirrored(
    g: &FakeGraph,
    upn: &str,
    dst: &Dovecot,
    extra: &BTreeMap<String, usize>,
    at: &str,
) {
    let src = graph_folders(&g.mailbox(upn));
    let have = filled(imap_folders(&dst.dump("bob", "bob-pw")));
    for (f, want) in &src {
        let mut h = have.get(f).cloned().unwrap_or_default();
        for m in want {
            let i = h.iter().position(|x| x == m).unwrap_or_else(|| {
                panic!("{at}: {f}: {m:?} not on the destination as on the source; there: {h:?}")
            });
            h.remove(i);
        }
        assert_eq!(
            h.len(),
            extra.get(f).copied().unwrap_or(0),
            "{at}: {f}: {h:?}"
        );
    }
}

#[test]
fn graph_source_sync_passes_use_delta_queries_and_one_full_pass_after_an_expired_token() {
    const BOB: &str = "bob@contoso.com";
    let root = tempfile::Builder::new()
        .prefix("cutover-graph-delta")
        .tempdir()
        .unwrap();
    let dst = Dovecot::start(root.path(), "dst", &[("bob", "bob-pw")], &["--no-gmail"]);
    dst.doveadm(&["mailbox", "create", "-u", "bob", "Sent", "Archive"]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", BOB);
    seed_graph(&graph, BOB, 60);
    let cloud = start(graph);
    let p = Proj::new(
        graph_endpoint(&cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"),
        project::imap(dst.port),
        &[(BOB, "", "bob")],
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let g = &cloud.graph;
    let none = BTreeMap::new();
    // Read or flag changes in Outlook on `n` Inbox messages from `from`, one moved to Archive.
    let work = |from: usize, n: usize| {
        let by = g.mailbox(BOB).by_folder();
        for m in &by["Inbox"][from..from + n] {
            g.user_change(BOB, &m.id, None, Some((!m.is_read, !m.flagged)));
        }
        g.user_change(BOB, &by["Inbox"][from + n].id, Some("Archive"), None);
    };

    // The first pass has no token: every folder's delta starts from the beginning, and the
    // flags are compared in full.
    work(0, 4);
    let first = p.cutover(&["sync"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(&pass_counts(&first)[..4], &[0, 4, 1, 0], "{}", text(&first));
    assert_graph_mirrored(g, BOB, &dst, &none, "first pass");
    let s1 = g.stats();
    assert!(s1.delta_full >= 3, "{s1:?}");
    assert_eq!((s1.delta_changes, s1.delta_rejected), (0, 0), "{s1:?}");

    // The next pass asks each folder for its changes only, and carries them all.
    work(6, 5);
    let second = p.cutover(&["sync"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(
        &pass_counts(&second)[..4],
        &[0, 5, 1, 0],
        "{}",
        text(&second)
    );
    assert_graph_mirrored(g, BOB, &dst, &none, "second pass");
    let s2 = g.stats();
    assert_eq!(s2.delta_full, s1.delta_full, "{s2:?}");
    assert!(s2.delta_changes >= s1.delta_full, "{s2:?}");
    let j = p.journal();
    assert!(
        !all_issues(&j)
            .iter()
            .any(|i| i.message.contains("delta token")),
        "{:?}",
        all_issues(&j)
    );

    // Graph forgets the tokens: one full comparison, said once per folder, still exact.
    g.expire_delta_tokens();
    work(13, 3);
    let third = p.cutover(&["sync"]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert_eq!(&pass_counts(&third)[..4], &[0, 3, 1, 0], "{}", text(&third));
    assert_graph_mirrored(g, BOB, &dst, &none, "after the expired token");
    let s3 = g.stats();
    assert!(s3.delta_rejected >= 3, "{s3:?}");
    assert_eq!(s3.delta_full, s2.delta_full + s3.delta_rejected, "{s3:?}");
    let said: Vec<_> = all_issues(&p.journal())
        .into_iter()
        .filter(|i| i.message.contains("no longer accepts the delta token"))
        .collect();
    assert_eq!(said.len() as u64, s3.delta_rejected, "{said:?}");
    assert!(said.iter().all(|i| i.severity == "info"), "{said:?}");
    assert!(
        said.iter().any(|i| i.message.contains("folder INBOX (")),
        "{said:?}"
    );

    // And the pass after that is a delta again.
    work(18, 2);
    let fourth = p.cutover(&["sync"]);
    assert_eq!(fourth.status.code(), Some(0), "{}", text(&fourth));
    assert_eq!(
        &pass_counts(&fourth)[..4],
        &[0, 2, 1, 0],
        "{}",
        text(&fourth)
    );
    assert_graph_mirrored(g, BOB, &dst, &none, "fourth pass");
    let s4 = g.stats();
    assert_eq!(
        (s4.delta_full, s4.delta_rejected),
        (s3.delta_full, s3.delta_rejected)
    );
    assert!(s4.delta_changes > s3.delta_changes, "{s4:?}");
}
