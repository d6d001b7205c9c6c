//! Delta passes (`cutover sync`) with the Gmail API as the source, against the fake Gmail
//! API's history (`users.history.list`, tests/it/support/fake_cloud/gmail_history.rs) and a
//! real Dovecot destination: after a first copy, what users did in Gmail (new mail, labels
//! changed, i.e. moves, read and starred state changed, messages deleted) is mirrored by one
//! pass that reads the history and fetches only the messages it names; a historyId Gmail no
//! longer keeps gives one full comparison, said once, and the pass after is a delta again.

use crate::gmail::{GUSER, cloud, connector, cred, cutover, gmail_endpoint, mail, tmp};
use crate::support;
use crate::sync_delta::pass_counts;

use std::collections::{BTreeMap, HashSet};

use support::fake_cloud::gmail::Gmail;
use support::*;

/// Per destination folder: (sha256, sorted flags), sorted.
type Folders = BTreeMap<String, Vec<(String, Vec<String>)>>;

/// What the destination must hold for the fake's messages: each in its folder label's folder
/// (Archive without one), `\Seen` unless UNREAD, `\Flagged` when STARRED.
fn model(g: &Gmail) -> Folders {
    let mut out = Folders::new();
    for (raw, labels, _) in g.messages(GUSER) {
        let folder = labels
            .iter()
            .find_map(|l| match l.as_str() {
                "INBOX" => Some("INBOX".to_string()),
                "SENT" => Some("Sent".into()),
                "UNREAD" | "STARRED" | "IMPORTANT" => None,
                l if l.starts_with("CATEGORY_") => None,
                l => Some(l.to_string()),
            })
            .unwrap_or_else(|| "Archive".into());
        let mut flags = Vec::new();
        if labels.iter().any(|l| l == "STARRED") {
            flags.push("\\Flagged".to_string());
        }
        if !labels.iter().any(|l| l == "UNREAD") {
            flags.push("\\Seen".to_string());
        }
        out.entry(folder).or_default().push((sha256(&raw), flags));
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

fn dest(d: &Dovecot) -> Folders {
    let mut out = Folders::new();
    for (f, ms) in d.dump("alice", "alice-pw").folders {
        for m in ms {
            // System flags: the keywords the copy wrote for other labels are checked apart.
            let mut flags: Vec<String> =
                m.1.into_iter()
                    .filter(|f| f != "\\Recent" && f.starts_with('\\'))
                    .collect();
            flags.sort();
            out.entry(f.clone()).or_default().push((m.0, flags));
        }
    }
    out.retain(|_, v| !v.is_empty());
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The destination equals the model folder by folder, plus `extra` (reported deletions,
/// by their sha256) left where they were; no message twice.
fn assert_mirrored(g: &Gmail, d: &Dovecot, extra: &HashSet<String>, what: &str) {
    let want = model(g);
    let mut have = dest(d);
    for (f, v) in have.iter_mut() {
        v.retain(|(sha, _)| !extra.contains(sha));
        let _ = f;
    }
    have.retain(|_, v| !v.is_empty());
    assert_eq!(have, want, "{what}: the destination is the source");
    let all: Vec<String> = dest(d).into_values().flatten().map(|m| m.0).collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "{what}: no message twice");
}

/// messages.get calls per message id since `before`.
fn gets_since(g: &Gmail, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    g.got
        .lock()
        .unwrap()
        .iter()
        .map(|(id, n)| (id.clone(), n - before.get(id).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn gets(g: &Gmail) -> BTreeMap<String, u64> {
    g.got.lock().unwrap().clone().into_iter().collect()
}

#[test]
fn gmail_source_sync_pass_reads_the_history_and_one_full_pass_after_it_expired() {
    let root = tmp();
    let dst = Dovecot::start(
        root.path(),
        "dst",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    let c = cloud(|g| g);
    let g = &c.gmail;
    let work = g.add_label(GUSER, "Work");
    let projects = g.add_label(GUSER, "Projects");
    let mut n = 0;
    let mut add = |g: &Gmail, labels: &[&str]| {
        n += 1;
        let raw = mail(n, "Tue, 14 Nov 2023 22:13:20 +0000");
        g.add_message(GUSER, &raw, labels, 1_700_000_000_000 + n as i64 * 60_000)
    };
    let mut inbox = Vec::new();
    for i in 0..40 {
        let labels: &[&str] = match i % 4 {
            0 => &["INBOX", "UNREAD"],
            1 => &["INBOX", "STARRED"],
            _ => &["INBOX"],
        };
        inbox.push(add(g, labels));
    }
    let w: Vec<String> = (0..15).map(|_| add(g, &[&work])).collect();
    let pr: Vec<String> = (0..10).map(|_| add(g, &[&projects])).collect();
    let _archived: Vec<String> = (0..5).map(|_| add(g, &[])).collect();
    // Two labels: copied once into INBOX, Work as a keyword there.
    let multi = add(g, &["INBOX", &work, "UNREAD"]);
    let multi_raw = mail(71, "Tue, 14 Nov 2023 22:13:20 +0000");
    // Two labels too; then INBOX removed: it leaves INBOX for Work, where it was listed
    // already (a move all the same).
    let multi2 = add(g, &["INBOX", &work]);

    let p = ProjectBuilder::new("from-gmail-delta")
        .source(gmail_endpoint(&c.cloud))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::user(GUSER),
            project::login("alice", "alice-pw"),
        ))
        .create();
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let none = HashSet::new();
    assert_mirrored(g, &dst, &none, "first copy");
    let total = g.messages(GUSER).len();
    assert_eq!(total, 72);
    assert_eq!(g.calls_of("history.list"), 0, "a copy reads no history");

    // In Gmail: 4 new messages; 3 moved INBOX -> Work, 1 Work -> Projects, 1 archived
    // (INBOX removed); 3 read/unread and 2 starred changes; 2 deleted.
    let mut touched: HashSet<String> = HashSet::new();
    for labels in [&["INBOX"][..], &["INBOX", "UNREAD"], &[&work], &[&projects]] {
        touched.insert(add(g, labels));
    }
    for id in &inbox[2..5] {
        g.relabel(GUSER, id, &[&work], &["INBOX"]);
    }
    g.relabel(GUSER, &w[0], &[&projects], &[&work]);
    g.relabel(GUSER, &inbox[6], &[], &["INBOX"]);
    g.relabel(GUSER, &inbox[8], &[], &["UNREAD"]); // read
    g.relabel(GUSER, &inbox[10], &["UNREAD"], &[]); // unread
    g.relabel(GUSER, &inbox[11], &["UNREAD"], &[]); // unread
    g.relabel(GUSER, &w[3], &["STARRED"], &[]);
    g.relabel(GUSER, &inbox[9], &[], &["STARRED"]);
    g.relabel(GUSER, &multi, &[], &["UNREAD"]);
    touched.insert(multi.clone());
    g.relabel(GUSER, &multi2, &[], &["INBOX"]);
    touched.insert(multi2.clone());
    let deleted_raw: HashSet<String> = g
        .messages(GUSER)
        .iter()
        .filter(|(raw, _, _)| {
            let t = String::from_utf8_lossy(raw);
            t.contains("Message-ID: <g13@") || t.contains("Message-ID: <g60@")
        })
        .map(|(raw, _, _)| sha256(raw))
        .collect();
    assert_eq!(deleted_raw.len(), 2);
    g.delete_message(GUSER, &inbox[12]); // message 13
    g.delete_message(GUSER, &pr[4]); // message 60
    for i in [2, 3, 4, 6, 8, 9, 10, 11, 12] {
        touched.insert(inbox[i].clone());
    }
    for id in [&w[0], &w[3]] {
        touched.insert(id.clone());
    }
    touched.insert(pr[4].clone());

    let hist_before = g.calls_of("history.list");
    let got_before = gets(g);
    let pass = cutover(&p, &["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    // new, flag changes, moves, deleted on the source, removed.
    assert_eq!(
        &pass_counts(&pass)[..5],
        &[4, 6, 6, 2, 0],
        "{}",
        text(&pass)
    );
    assert_mirrored(g, &dst, &deleted_raw, "delta pass");
    // Read now, and its Work keyword kept (the source lists no keywords to compare).
    let sha = sha256(&multi_raw);
    let copy = dst.dump("alice", "alice-pw").folders["INBOX"]
        .iter()
        .find(|m| m.0 == sha)
        .cloned()
        .expect("the two-label message in INBOX");
    assert!(copy.1.iter().any(|f| f == "\\Seen"), "{copy:?}");
    assert!(
        copy.1.iter().any(|f| f.eq_ignore_ascii_case("Work")),
        "{copy:?}"
    );
    assert!(
        g.calls_of("history.list") > hist_before,
        "the pass read the history"
    );
    let fetched = gets_since(g, &got_before);
    let untouched: Vec<&String> = fetched.keys().filter(|id| !touched.contains(*id)).collect();
    assert!(
        untouched.is_empty(),
        "only messages the history names are fetched; also fetched: {untouched:?} ({} of {total})",
        untouched.len()
    );
    // The source is read only.
    assert_eq!(
        g.calls_of("messages.modify")
            + g.calls_of("messages.import")
            + g.calls_of("messages.delete"),
        0
    );
    assert!(
        !all_issues(&p.journal())
            .iter()
            .any(|i| i.message.contains("no longer keeps the history")),
        "{:?}",
        all_issues(&p.journal())
    );

    // Every folder compared recorded the historyId it compared at (its next start).
    let j = p.journal();
    let mid = j
        .mailbox_id("alice@example.com->alice")
        .unwrap()
        .expect("mailbox");
    let markers: Vec<(String, Option<u64>)> = j
        .folders_of(mid)
        .unwrap()
        .into_iter()
        .map(|f| (f.src_name.clone(), j.src_modseq(f.id).unwrap()))
        .collect();
    assert!(
        markers
            .iter()
            .all(|(_, m)| m.is_some() && *m == markers[0].1),
        "{markers:?}"
    );

    // Gmail forgets the history: one full comparison, said once, still exact.
    g.expire_history(GUSER);
    g.relabel(GUSER, &inbox[14], &["STARRED"], &[]);
    g.relabel(GUSER, &w[5], &["UNREAD"], &[]);
    let got_before = gets(g);
    let full = cutover(&p, &["sync"]);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));
    assert_eq!(
        &pass_counts(&full)[..5],
        &[0, 2, 0, 0, 0],
        "{}",
        text(&full)
    );
    assert_mirrored(g, &dst, &deleted_raw, "after the expired history");
    let fetched = gets_since(g, &got_before);
    let all_now = g.mailboxes.lock().unwrap()[GUSER].messages.clone();
    let missed: Vec<_> = all_now
        .values()
        .filter(|m| !fetched.contains_key(&m.id))
        .map(|m| m.labels.clone())
        .collect();
    assert!(
        missed.is_empty(),
        "a full comparison reads every message; not read: {missed:?}\n{}",
        text(&full)
    );
    let said: Vec<_> = all_issues(&p.journal())
        .into_iter()
        .filter(|i| i.message.contains("no longer keeps the history"))
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0].severity, "info", "{said:?}");
    assert!(
        stdout(&full).contains("no longer keeps the history") || stderr_has(&full),
        "{}",
        text(&full)
    );

    // A message moved between labels is not taken for one that left its label before it
    // was copied (the Gmail plan's ownership follows the move).
    assert!(
        !all_issues(&p.journal())
            .iter()
            .any(|i| i.message.contains("before it was copied")),
        "{:?}",
        all_issues(&p.journal())
    );

    // The pass after that reads the history again.
    g.relabel(GUSER, &inbox[15], &["UNREAD"], &[]);
    let got_before = gets(g);
    let hist_before = g.calls_of("history.list");
    let again = cutover(&p, &["sync"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        &pass_counts(&again)[..5],
        &[0, 1, 0, 0, 0],
        "{}",
        text(&again)
    );
    assert_mirrored(g, &dst, &deleted_raw, "the pass after");
    assert!(g.calls_of("history.list") > hist_before);
    let fetched = gets_since(g, &got_before);
    assert_eq!(
        fetched.keys().collect::<Vec<_>>(),
        vec![&inbox[15]],
        "only the changed message is fetched"
    );
}

/// The log (stderr) names the expired history too.
fn stderr_has(o: &std::process::Output) -> bool {
    String::from_utf8_lossy(&o.stderr).contains("no longer keeps the history")
}

/// The session's contract: more records than one page (500) are all read, only the messages
/// they name are fetched, and a history Gmail no longer keeps gives every message's flags and
/// one notice.
#[tokio::test]
async fn history_pages_are_followed_and_only_the_messages_named_are_read() {
    use cutover_engine::endpoint::MailSession;
    let c = cloud(|g| g);
    let g = &c.gmail;
    let ids: Vec<String> = (0..20)
        .map(|i| {
            g.add_message(
                GUSER,
                &mail(i, "Tue, 14 Nov 2023 22:13:20 +0000"),
                &["INBOX"],
                i as i64,
            )
        })
        .collect();
    let dir = tmp();
    let conn = connector(&c, "source", dir.path());
    let mut s = conn.connect(&cred()).await.unwrap();
    let (_, marker) = s.examine_changes("INBOX").await.unwrap();
    let marker = marker.expect("a Gmail source has a change marker");
    drop(s);
    // 600 records on 3 messages (read, unread, ... read), then one starred.
    for k in 0..200 {
        for id in &ids[..3] {
            if k % 2 == 0 {
                g.relabel(GUSER, id, &["UNREAD"], &[]);
            } else {
                g.relabel(GUSER, id, &[], &["UNREAD"]);
            }
        }
    }
    g.relabel(GUSER, &ids[0], &["STARRED"], &[]);
    assert_eq!(g.history_of(GUSER).len(), 20 + 601);
    let (pages, gets) = (g.calls_of("history.list"), g.calls_of("messages.get"));
    let mut s = conn.connect(&cred()).await.unwrap();
    let (_, now) = s.examine_changes("INBOX").await.unwrap();
    assert!(now.unwrap() > marker, "historyIds increase");
    let mut flags = s.list_flags(None, Some(marker)).await.unwrap();
    flags.sort();
    assert_eq!(g.calls_of("history.list") - pages, 2, "both pages read");
    assert_eq!(g.calls_of("messages.get") - gets, 3, "the 3 messages named");
    assert_eq!(flags.len(), 3, "{flags:?}");
    assert_eq!(
        flags
            .iter()
            .filter(|f| f.1.iter().any(|x| x == "\\Flagged"))
            .count(),
        1,
        "{flags:?}"
    );
    assert!(
        flags.iter().all(|f| f.1.iter().any(|x| x == "\\Seen")),
        "{flags:?}"
    );
    assert!(s.take_notice().is_none());
    drop(s);

    // Gmail no longer keeps it: every message's flags, said once.
    g.expire_history(GUSER);
    let mut s = conn.connect(&cred()).await.unwrap();
    s.examine_changes("INBOX").await.unwrap();
    let all = s.list_flags(None, Some(marker)).await.unwrap();
    assert_eq!(all.len(), 20);
    let said = s.take_notice().expect("the expired history is said");
    assert!(said.contains("no longer keeps the history"), "{said}");
    assert!(s.take_notice().is_none());
    drop(s);

    // A journal that read the mailbox before the history was kept (no baseline): none is
    // taken now (it would miss what changed since), and the first pass compares all.
    let old = tmp();
    let j = cutover_engine::journal::Journal::open(
        &old.path().join("j.sqlite"),
        cutover_engine::config::Durability::Crash,
    )
    .unwrap();
    j.ref_uids("source", GUSER, "INBOX", &[ids[5].as_str()])
        .unwrap();
    let conn = connector(&c, "source", old.path());
    let mut s = conn.connect(&cred()).await.unwrap();
    s.examine_changes("INBOX").await.unwrap();
    assert_eq!(j.gmail_history_start("source", GUSER).unwrap(), None);
    let pages = g.calls_of("history.list");
    assert_eq!(s.list_flags(None, None).await.unwrap().len(), 20);
    assert_eq!(g.calls_of("history.list"), pages);
}

/// A pass killed (SIGKILL) at any moment, again and again, then one to the end: the
/// destination is the source (deletions propagated), nothing moved twice or copied again,
/// and the pass after has nothing to do.
#[test]
fn a_gmail_source_sync_pass_killed_at_any_moment_ends_exact() {
    use crate::gmail::{SECRET, SECRET_ENV};
    let root = tmp();
    let dst = Dovecot::start(
        root.path(),
        "dst",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    let c = cloud(|g| g);
    let g = &c.gmail;
    let work = g.add_label(GUSER, "Work");
    let mut n = 0;
    let mut add = |g: &Gmail, labels: &[&str]| {
        n += 1;
        let raw = mail(n, "Tue, 14 Nov 2023 22:13:20 +0000");
        g.add_message(GUSER, &raw, labels, 1_700_000_000_000 + n as i64 * 60_000)
    };
    let inbox: Vec<String> = (0..40).map(|_| add(g, &["INBOX", "UNREAD"])).collect();
    let w: Vec<String> = (0..10).map(|_| add(g, &[&work])).collect();
    let p = ProjectBuilder::new("from-gmail-kill")
        .source(gmail_endpoint(&c.cloud))
        .destination(project::imap(dst.port))
        .set("sync.deletions", "propagate")
        .mailbox(project::mailbox(
            None,
            project::user(GUSER),
            project::login("alice", "alice-pw"),
        ))
        .create();
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // 12 moves, 10 read, 4 deletions, 6 new.
    for id in &inbox[..12] {
        g.relabel(GUSER, id, &[&work], &["INBOX"]);
    }
    for id in &inbox[12..22] {
        g.relabel(GUSER, id, &[], &["UNREAD"]);
    }
    for id in inbox[22..24].iter().chain(&w[..2]) {
        g.delete_message(GUSER, id);
    }
    for _ in 0..6 {
        add(g, &["INBOX"]);
    }
    let mut killed = 0;
    for step in 0..40u64 {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("sync").arg(&p.path).env(SECRET_ENV, SECRET);
        let delay = std::time::Duration::from_millis(40 + 25 * step);
        if !run_until_sigkill(&mut cmd, |t| t >= delay) {
            break;
        }
        killed += 1;
    }
    assert!(killed >= 1, "at least one kill must land during a pass");
    eprintln!("{killed} pass(es) killed");
    let done = cutover(&p, &["sync"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_mirrored(g, &dst, &HashSet::new(), "after the kills");
    let again = cutover(&p, &["sync"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        &pass_counts(&again)[..5],
        &[0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// The fake's history keeps Google's contract (what the engine relies on): startHistoryId
/// required, records after it oldest first with increasing ids, `historyTypes` and `labelId`
/// filters, paging, the profile's historyId the newest, 404 once the history is gone.
#[tokio::test]
async fn the_fake_history_keeps_google_s_contract() {
    use support::fake_cloud::gmail::RESOURCE;
    use support::fake_cloud::token::Grant;
    let c = cloud(|g| g.with_history_retention(4));
    let g = &c.gmail;
    let work = g.add_label(GUSER, "Work");
    let ids: Vec<String> = (0..3)
        .map(|i| {
            g.add_message(
                GUSER,
                &mail(i, "Tue, 14 Nov 2023 22:13:20 +0000"),
                &["INBOX"],
                1,
            )
        })
        .collect();
    g.relabel(GUSER, &ids[0], &[&work], &[]);
    g.delete_message(GUSER, &ids[1]);
    let token = c.cloud.tokens.issue(Grant {
        client_id: "gmail-app".into(),
        tenant: "gtest".into(),
        resource: RESOURCE.into(),
        subject: None,
        expires: std::time::Instant::now() + std::time::Duration::from_secs(600),
    });
    let http = reqwest::Client::new();
    let base = format!("{}/gmail/v1/users/{GUSER}", c.cloud.url());
    let get = |q: String| {
        let (http, token, base) = (&http, &token, &base);
        async move {
            let r = http
                .get(format!("{base}/{q}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            (st, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (st, _) = get("history".into()).await;
    assert_eq!(st, 400, "startHistoryId is required");
    // Retention 4: the first added message's record is gone; from the second's, all kept.
    let hist = g.history_of(GUSER);
    assert_eq!(hist.len(), 4);
    assert!(hist.windows(2).all(|w| w[0].id < w[1].id), "increasing");
    let (st, v) = get("history?startHistoryId=0".into()).await;
    assert_eq!(st, 404, "older than the history kept: {v}");
    assert_eq!(v["error"]["message"], "Requested entity was not found.");
    let from = hist[0].id - 1;
    let (st, v) = get(format!("history?startHistoryId={from}")).await;
    assert_eq!(st, 200, "{v}");
    let kinds: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            [
                "messagesAdded",
                "messagesDeleted",
                "labelsAdded",
                "labelsRemoved",
            ]
            .into_iter()
            .find(|k| r.get(*k).is_some())
            .unwrap()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "messagesAdded",
            "messagesAdded",
            "labelsAdded",
            "messagesDeleted"
        ]
    );
    let (_, profile) = get("profile".into()).await;
    assert_eq!(profile["historyId"], v["historyId"]);
    assert_eq!(profile["historyId"], hist[3].id.to_string());
    // Filters.
    let (_, v) = get(format!(
        "history?startHistoryId={from}&historyTypes=labelAdded"
    ))
    .await;
    let recs = v["history"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["labelsAdded"][0]["labelIds"][0], work.as_str());
    assert_eq!(recs[0]["labelsAdded"][0]["message"]["id"], ids[0].as_str());
    let (_, v) = get(format!("history?startHistoryId={from}&labelId={work}")).await;
    assert_eq!(v["history"].as_array().unwrap().len(), 1);
    let (st, _) = get(format!(
        "history?startHistoryId={from}&historyTypes=everything"
    ))
    .await;
    assert_eq!(st, 400);
    // Pages of 3: a token, then the last record.
    let (_, p1) = get(format!("history?startHistoryId={from}&maxResults=3")).await;
    assert_eq!(p1["history"].as_array().unwrap().len(), 3);
    let next = p1["nextPageToken"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, p2) = get(format!(
        "history?startHistoryId={from}&maxResults=3&pageToken={next}"
    ))
    .await;
    assert_eq!(p2["history"].as_array().unwrap().len(), 1);
    assert!(p2.get("nextPageToken").is_none());
    // Nothing after the newest: no records, the same historyId.
    let newest = hist[3].id;
    let (st, v) = get(format!("history?startHistoryId={newest}")).await;
    assert_eq!(st, 200);
    assert!(v.get("history").is_none(), "{v}");
}
