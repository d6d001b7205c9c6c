//! Microsoft 365 through Microsoft Graph, against the stateful fake Graph (tests/it/support/
//! fake_cloud/graph.rs) and real Dovecot servers, with the real `cutover` binary:
//! IMAP -> Graph (importMime and JSON paths), Graph -> IMAP, Graph -> Graph between tenants,
//! resume after kill -9, throttling, verify and rollback.

use crate::support;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use support::fake_cloud::graph::{FakeGraph, FakeMessage, GraphConfig};
use support::fake_cloud::{Cloud, FakeCloud, token::Tokens};
use support::*;

const ALICE: &str = "alice@contoso.com";

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-graph")
        .tempdir()
        .unwrap()
}

/// The fake cloud with this fake Graph (the Gmail API unused).
pub(crate) fn start(graph: FakeGraph) -> Cloud {
    Cloud::start(tokens(), graph, |g| g)
}

pub(crate) fn tokens() -> Tokens {
    Tokens::new(Duration::from_secs(3600))
        .with_client("contoso", "app-1", "secret-1")
        .with_client("fabrikam", "app-2", "secret-2")
}

/// An endpoint table for the fake Graph, logging in as an app of a tenant of the fake (its
/// secret in the environment variable `env`).
pub(crate) fn graph_endpoint(cloud: &FakeCloud, tenant: &str, app: &str, env: &str) -> toml::Table {
    let url = cloud.url();
    let token_url = format!("{url}/{tenant}/oauth2/v2.0/token");
    toml::toml! {
        kind = "graph"
        api_url = (url.as_str())

        [oauth]
        provider = "entra"
        tenant = (tenant)
        client_id = (app)
        client_secret_env = (env)
        token_url = (token_url.as_str())
    }
}

/// A project whose commands have the fake tenants' secrets in their environment (its
/// `cutover` is this one, not [`ProjectDir::cutover`]).
pub(crate) struct Proj(ProjectDir);

impl std::ops::Deref for Proj {
    type Target = ProjectDir;
    fn deref(&self) -> &ProjectDir {
        &self.0
    }
}

impl Proj {
    /// Mailboxes (source user, its password or "", destination user): a destination user
    /// without '@' is a Dovecot one, with the password "{user}-pw".
    pub(crate) fn new(
        source: toml::Table,
        destination: toml::Table,
        mailboxes: &[(&str, &str, &str)],
    ) -> Proj {
        let mut b = ProjectBuilder::new("graph-test")
            .source(source)
            .destination(destination);
        for (src, pw, dst) in mailboxes {
            let mut s = project::user(src);
            if !pw.is_empty() {
                s.insert("password".into(), (*pw).into());
            }
            let d = if dst.contains('@') {
                project::user(dst)
            } else {
                project::login(dst, &format!("{dst}-pw"))
            };
            b = b.mailbox(project::mailbox(Some("b"), s, d));
        }
        let dir = tmp();
        let path = b.write(dir.path());
        Proj(ProjectDir { dir, path })
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg(args[0]).arg(&self.path).args(&args[1..]);
        c.env("CUTOVER_TEST_SECRET_1", "secret-1")
            .env("CUTOVER_TEST_SECRET_2", "secret-2");
        c
    }

    pub(crate) fn cutover(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run cutover")
    }
}

fn seen(flags: &[String]) -> bool {
    flags.iter().any(|f| f == "\\Seen")
}

fn flagged(flags: &[String]) -> bool {
    flags.iter().any(|f| f == "\\Flagged")
}

/// (sha256, seen, flagged) of each source message, sorted.
fn source_set(d: &Dump, skip_over: u64) -> Vec<(String, bool, bool)> {
    let mut v: Vec<_> = d
        .folders
        .values()
        .flatten()
        .filter(|m| m.3 <= skip_over)
        .map(|m| (m.0.clone(), seen(&m.1), flagged(&m.1)))
        .collect();
    v.sort();
    v
}

/// (sha256 of the stored MIME, read, flagged) of each importMime message in the fake, sorted.
fn dest_set(msgs: &[FakeMessage]) -> Vec<(String, bool, bool)> {
    let mut v: Vec<_> = msgs
        .iter()
        .filter_map(|m| Some((sha256(m.mime.as_ref()?), m.is_read, m.flagged)))
        .collect();
    v.sort();
    v
}

/// Equal multisets, or a panic naming what is missing and what is extra.
fn same_set<T: Ord + std::fmt::Debug + Clone>(want: &[T], have: &[T], what: &str) {
    let mut missing: Vec<T> = Vec::new();
    let mut extra: Vec<T> = have.to_vec();
    for w in want {
        match extra.iter().position(|h| h == w) {
            Some(i) => {
                extra.remove(i);
            }
            None => missing.push(w.clone()),
        }
    }
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing on the destination {missing:?}; extra there {extra:?}"
    );
}

/// Source messages over this size are over 4 MB once base64-encoded: they take the JSON path.
const LARGE: u64 = 3 * 1024 * 1024;

/// Every source message is on the destination exactly once: the importMime ones byte for
/// byte with their read/flag state, the large ones (JSON path) by their recorded size.
fn assert_copied_once(s: &Dump, msgs: &[FakeMessage], what: &str) {
    same_set(&source_set(s, LARGE), &dest_set(msgs), what);
    let mut big_src: Vec<u64> = s
        .folders
        .values()
        .flatten()
        .map(|m| m.3)
        .filter(|n| *n > LARGE)
        .collect();
    let mut big_dst: Vec<u64> = msgs
        .iter()
        .filter(|m| m.via == "json")
        .map(|m| {
            let fp = m
                .props
                .iter()
                .find(|(k, _)| k.contains("cutoverFingerprint"))
                .unwrap()
                .1;
            fp.split(' ').nth(1).unwrap().parse().unwrap()
        })
        .collect();
    big_src.sort();
    big_dst.sort();
    assert_eq!(big_src, big_dst, "{what}: large messages");
    assert_eq!(msgs.len(), s.total(), "{what}: one copy of each");
}

/// Alice from Dovecot to contoso's Graph, `extra` set in `[destination]`.
pub(crate) fn imap_to_graph(cloud: &FakeCloud, src: &Dovecot, extra: toml::Table) -> Proj {
    let mut dst = graph_endpoint(cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1");
    dst.extend(extra);
    Proj::new(
        project::imap(src.port),
        dst,
        &[("alice", "alice-pw", ALICE)],
    )
}

#[test]
fn imap_to_graph_import_mime_is_byte_exact_idempotent_verifiable_and_rolls_back() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    // One message over 4 MB once base64-encoded: it takes the large-message path.
    src.seed("alice", 150, 61, &["--huge", "--huge-mb", "5"]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let cloud = start(graph);
    // Mail the user already has: never touched by the migration nor by rollback.
    let own = cloud.graph.seed(
        ALICE,
        "Inbox",
        b"Subject: mine\r\n\r\nalready here\r\n",
        true,
        false,
        "2024-01-01T00:00:00Z",
    );
    let p = imap_to_graph(&cloud, &src, toml::Table::new());

    let plan = p.cutover(&["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(stdout(&plan).contains("Sent Items"), "{}", text(&plan));
    assert_eq!(
        cloud.graph.mailbox(ALICE).messages.len(),
        1,
        "plan copies nothing"
    );

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let s = src.dump("alice", "alice-pw");
    let mb = cloud.graph.mailbox(ALICE);
    let created: Vec<FakeMessage> = mb
        .messages
        .iter()
        .filter(|m| m.id != own)
        .cloned()
        .collect();
    assert_eq!(created.len(), s.total(), "every message lands exactly once");

    // The importMime path: the stored bytes are the source bytes, read/flag state kept.
    assert_copied_once(&s, &created, "importMime copies");
    for m in &created {
        assert!(
            !m.is_draft,
            "no copy may be a draft: {} via {}",
            m.id, m.via
        );
        assert!(
            m.props.keys().any(|k| k.contains("cutoverFingerprint")),
            "fingerprint property on {}",
            m.id
        );
    }
    // The large message: JSON and an upload session, not a 413.
    let large: Vec<&FakeMessage> = created.iter().filter(|m| m.via == "json").collect();
    let big_src: Vec<u64> = s
        .folders
        .values()
        .flatten()
        .map(|m| m.3)
        .filter(|s| *s > LARGE)
        .collect();
    assert_eq!(large.len(), big_src.len(), "{:?}", big_src);
    assert!(!large.is_empty());
    assert!(
        large[0]
            .attachments
            .iter()
            .any(|a| a.via == "upload session")
    );
    let fp = large[0]
        .props
        .iter()
        .find(|(k, _)| k.contains("cutoverFingerprint"))
        .unwrap()
        .1;
    assert_eq!(fp.split(' ').nth(1).unwrap(), big_src[0].to_string());
    let stats = cloud.graph.stats();
    assert_eq!(stats.too_large, 0, "no request over 4 MB was sent");
    assert_eq!(stats.without_immutable_ids, 0);
    assert_eq!(stats.upload_with_auth, 0);
    // No budget or burst is configured here: any 429 would mean more than 4 requests in
    // flight for the mailbox at once.
    assert_eq!(
        stats.throttled, 0,
        "the client kept within 4 concurrent requests: {stats:?}"
    );

    // Folders: INBOX is the well-known Inbox, Sent the well-known Sent Items.
    let by = mb.by_folder();
    let hashes = |v: Option<&Vec<FakeMessage>>| {
        let mut h: Vec<String> = v
            .map(|v| {
                v.iter()
                    .filter(|m| m.id != own)
                    .filter_map(|m| Some(sha256(m.mime.as_ref()?)))
                    .collect()
            })
            .unwrap_or_default();
        h.sort();
        h
    };
    let src_hashes = |f: &str| {
        let mut h: Vec<String> = s.folders[f]
            .iter()
            .filter(|m| m.3 <= LARGE)
            .map(|m| m.0.clone())
            .collect();
        h.sort();
        h
    };
    assert_eq!(hashes(by.get("Inbox")), src_hashes("INBOX"));
    assert_eq!(hashes(by.get("Sent Items")), src_hashes("Sent"));
    assert_eq!(hashes(by.get("Archive/2023")), src_hashes("Archive/2023"));
    assert!(
        !by.contains_key("INBOX") && !by.contains_key("Sent"),
        "{:?}",
        by.keys()
    );
    // Names arrive decoded (the mapping hands over modified UTF-7).
    let paths: Vec<String> = mb.folders.iter().map(|f| mb.path(&f.id)).collect();
    for want in [
        "日本語/メール",
        "A&B",
        "Kunden & Partner",
        "Deep/L1/L2/L3/L4",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
    }

    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    assert_eq!(cloud.graph.mailbox(ALICE).messages.len(), s.total() + 1);

    // Rollback removes exactly what cutover wrote (and the folders it created).
    let rb = p.cutover(&["rollback", "--batch", "b", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let after = cloud.graph.mailbox(ALICE);
    let left: Vec<&str> = after.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(left, vec![own.as_str()]);
    assert_eq!(cloud.graph.stats().permanent_deletes as usize, s.total());
    let mut names: Vec<String> = after.folders.iter().map(|f| after.path(&f.id)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Archive",
            "Deleted Items",
            "Drafts",
            "Inbox",
            "Junk Email",
            "Sent Items"
        ],
        "created folders are removed, the well-known ones stay"
    );
    // The source was never touched.
    assert_eq!(
        source_set(&src.dump("alice", "alice-pw"), u64::MAX),
        source_set(&s, u64::MAX)
    );
}

#[test]
fn kill_9_mid_run_then_resume_leaves_exactly_one_copy_of_each() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 300, 62, &[]);
    let graph = FakeGraph::new(GraphConfig {
        latency: Duration::from_millis(15),
        ..GraphConfig::default()
    })
    .with_mailbox("contoso", ALICE);
    let cloud = start(graph);
    let p = imap_to_graph(&cloud, &src, toml::Table::new());
    let total = src.dump("alice", "alice-pw").total();
    let mut killed_mid_copy = 0;
    let mut left_in_doubt = 0;
    // Kill when the mailbox holds k/7 of the mail, k = 1..6: always in the middle of copying.
    for k in 1..=6usize {
        let killed = run_until_sigkill(&mut p.cmd(&["run"]), |t| {
            t >= Duration::from_secs(120)
                || cloud.graph.mailbox(ALICE).messages.len() >= total * k / 7
        });
        let n = cloud.graph.mailbox(ALICE).messages.len();
        if killed && n > 0 && n < total {
            killed_mid_copy += 1;
        }
        if p.dir.path().join("state.sqlite").exists() {
            left_in_doubt += messages_in(&p.journal(), "appending");
        }
    }
    assert!(
        killed_mid_copy >= 4,
        "kills must land while copying ({killed_mid_copy})"
    );
    assert!(
        left_in_doubt > 0,
        "some kill must land between a create and its journal entry"
    );
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let s = src.dump("alice", "alice-pw");
    let mb = cloud.graph.mailbox(ALICE);
    assert_copied_once(&s, &mb.messages, "after resume");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn ca_file_is_honoured_by_the_graph_and_token_endpoints_over_https() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    // Few messages: no listing needs a second page (the fake's nextLink is plain http).
    src.seed("alice", 30, 63, &["--no-tricky"]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let cloud = start(graph);
    // The fake behind TLS, with a server certificate from the Dovecot instance's throwaway CA.
    let front = support::tls_front::TlsFront::start(
        cloud.addr,
        &src.dir.join("tls/server.pem"),
        &src.dir.join("tls/server.key"),
    );
    let https = format!("https://127.0.0.1:{}", front.port);
    // The API's URL made the https one, and the token endpoint's too when `token` (its plain
    // URL otherwise); `extra` set in `[destination]`.
    let over_https = |token: bool, extra: toml::Table| {
        let p = imap_to_graph(&cloud, &src, extra);
        p.edit(|b| {
            let b = b.set("destination.api_url", https.as_str());
            if token {
                b.set(
                    "destination.oauth.token_url",
                    format!("{https}/contoso/oauth2/v2.0/token"),
                )
            } else {
                b
            }
        });
        p
    };

    // Without ca_file, the token endpoint over https (then only the Graph API over https, the
    // token endpoint plain): the throwaway CA is not trusted, a certificate error, not retried.
    for token in [true, false] {
        let run = over_https(token, toml::Table::new()).cutover(&["run"]);
        assert_eq!(run.status.code(), Some(5), "{}", text(&run));
        let out = text(&run);
        assert!(
            out.contains("TLS with 127.0.0.1: invalid peer certificate"),
            "{out}"
        );
        assert!(!out.contains("reconnecting"), "not retried: {out}");
        assert!(cloud.graph.mailbox(ALICE).messages.is_empty());
    }

    // With ca_file pointing at that CA: the token and Graph requests go through.
    let ca = src.ca.display().to_string();
    let trusted = over_https(true, toml::toml! { ca_file = (ca.as_str()) });
    let run = trusted.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let s = src.dump("alice", "alice-pw");
    assert_copied_once(&s, &cloud.graph.mailbox(ALICE).messages, "over https");
    let v = trusted.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn throttling_429_bursts_and_budgets_are_honoured_without_loss_or_duplicates() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 80, 63, &["--no-tricky"]);
    let graph = FakeGraph::new(GraphConfig {
        requests: Some((30, Duration::from_secs(1))),
        upload: Some((400_000, Duration::from_secs(1))),
        ..GraphConfig::default()
    })
    .with_mailbox("contoso", ALICE);
    let cloud = start(graph);
    cloud.graph.throttle_next(ALICE, 6);
    let p = imap_to_graph(&cloud, &src, toml::Table::new());
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let stats = cloud.graph.stats();
    assert!(
        stats.throttled >= 6,
        "the burst and the budgets were hit: {stats:?}"
    );
    let s = src.dump("alice", "alice-pw");
    let mb = cloud.graph.mailbox(ALICE);
    assert_copied_once(&s, &mb.messages, "after throttling");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// "06-May-2024 10:00:00 +0000" -> "2024-05-06T10:00:00Z".
fn imap_date_to_graph(d: &str) -> String {
    chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z")
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[test]
fn json_path_keeps_dates_read_state_and_flags_and_is_not_a_draft() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 40, 64, &["--no-tricky"]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let cloud = start(graph);
    let p = imap_to_graph(&cloud, &src, toml::toml! { graph_import = "json" });
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let s = src.dump("alice", "alice-pw");
    let mb = cloud.graph.mailbox(ALICE);
    assert_eq!(mb.messages.len(), s.total());
    let mut want: Vec<(String, bool, bool)> = s
        .folders
        .values()
        .flatten()
        .map(|m| (imap_date_to_graph(&m.2), seen(&m.1), flagged(&m.1)))
        .collect();
    let mut have: Vec<(String, bool, bool)> = mb
        .messages
        .iter()
        .map(|m| (m.received.clone(), m.is_read, m.flagged))
        .collect();
    want.sort();
    have.sort();
    assert_eq!(want, have, "delivery time, read state and flag per message");
    for m in &mb.messages {
        assert_eq!(m.via, "json");
        assert!(!m.is_draft, "{} is a draft", m.id);
        let flags: i64 = m.props["Integer 0x0E07"].parse().unwrap();
        assert_eq!(flags & 8, 0, "never MSGFLAG_UNSENT");
        assert_eq!(flags & 1 == 1, m.is_read);
        assert!(
            m.props["String 0x007D"].contains("Message-ID"),
            "transport headers kept"
        );
        assert!(m.props.contains_key("SystemTime 0x0039"));
        let j = m.json.as_ref().unwrap();
        assert!(!j["subject"].as_str().unwrap().is_empty());
        assert!(
            j["from"]["emailAddress"]["address"]
                .as_str()
                .unwrap()
                .contains('@')
        );
    }
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// Seed a Graph mailbox with varied mail; returns (folder path, mime, read, flagged, received).
pub(crate) fn seed_graph(
    graph: &FakeGraph,
    upn: &str,
    n: usize,
) -> Vec<(String, Vec<u8>, bool, bool, String)> {
    let folders = [
        "Inbox",
        "Inbox",
        "Inbox",
        "Sent Items",
        "Projects/Alpha",
        "Archive",
    ];
    let mut out = Vec::new();
    for i in 0..n {
        let folder = folders[i % folders.len()];
        let received = format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
        let filler = "lorem ipsum dolor sit amet ".repeat(1 + (i * 37) % 400);
        let mime = if i % 7 == 3 {
            format!(
                "From: Ann Example <ann@contoso.com>\r\nTo: Bob <bob@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_{i}?=\r\nDate: Mon, 6 May 2024 10:00:00 +0200\r\nMessage-ID: <g{i}@contoso.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße {i}\r\n--b{i}\r\nContent-Type: application/octet-stream; name=\"a{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--b{i}--\r\n"
            )
        } else {
            format!(
                "From: ann@contoso.com\r\nTo: bob@example.org\r\nSubject: note {i}\r\nDate: Mon, 6 May 2024 10:{:02}:00 +0000\r\nMessage-ID: <g{i}@contoso.com>\r\n\r\n{filler}\r\n",
                i % 60
            )
        }
        .into_bytes();
        let (read, flag) = (i % 3 != 0, i % 5 == 0);
        graph.seed(upn, folder, &mime, read, flag, &received);
        out.push((folder.to_string(), mime, read, flag, received));
    }
    out
}

#[test]
fn graph_to_imap_migrates_bytes_flags_dates_and_folders_without_touching_the_source() {
    let root = tmp();
    let dst = Dovecot::start(root.path(), "dst", &[("bob", "bob-pw")], &["--no-gmail"]);
    // The special-use folders the destination announces (Drafts exists from the start).
    dst.doveadm(&["mailbox", "create", "-u", "bob", "Sent", "Archive"]);
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", "bob@contoso.com");
    let seeded = seed_graph(&graph, "bob@contoso.com", 60);
    let cloud = start(graph);
    let before = cloud.graph.mailbox("bob@contoso.com");
    let p = Proj::new(
        graph_endpoint(&cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"),
        project::imap(dst.port),
        &[("bob@contoso.com", "", "bob")],
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let d = dst.dump("bob", "bob-pw");
    fn target(f: &str) -> &str {
        match f {
            "Inbox" => "INBOX",
            "Sent Items" => "Sent",
            other => other,
        }
    }
    let mut want: BTreeMap<String, Vec<(String, bool, bool, i64)>> = BTreeMap::new();
    for (f, mime, read, flag, received) in &seeded {
        want.entry(target(f).to_string()).or_default().push((
            sha256(mime),
            *read,
            *flag,
            chrono::DateTime::parse_from_rfc3339(received)
                .unwrap()
                .timestamp(),
        ));
    }
    for (f, mut w) in want {
        let mut h: Vec<(String, bool, bool, i64)> = d
            .folders
            .get(&f)
            .unwrap_or_else(|| panic!("no folder {f} on the destination: {:?}", d.folders.keys()))
            .iter()
            .map(|m| {
                (
                    m.0.clone(),
                    seen(&m.1),
                    flagged(&m.1),
                    chrono::DateTime::parse_from_str(&m.2, "%d-%b-%Y %H:%M:%S %z")
                        .unwrap()
                        .timestamp(),
                )
            })
            .collect();
        w.sort();
        h.sort();
        assert_eq!(w, h, "folder {f}");
    }
    assert_eq!(d.total(), seeded.len());
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    // The source is exactly as it was.
    let after = cloud.graph.mailbox("bob@contoso.com");
    let key = |m: &FakeMessage| {
        (
            m.id.clone(),
            m.mime.clone(),
            m.is_read,
            m.flagged,
            m.props.clone(),
        )
    };
    assert_eq!(
        before.messages.iter().map(key).collect::<Vec<_>>(),
        after.messages.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(before.folders.len(), after.folders.len());
}

#[test]
fn graph_to_graph_tenant_to_tenant_keeps_bytes_state_and_folders() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", "ann@contoso.com")
        .with_mailbox("fabrikam", "ann@fabrikam.com");
    let seeded = seed_graph(&graph, "ann@contoso.com", 45);
    let cloud = start(graph);
    let p = Proj::new(
        graph_endpoint(&cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"),
        graph_endpoint(&cloud, "fabrikam", "app-2", "CUTOVER_TEST_SECRET_2"),
        &[("ann@contoso.com", "", "ann@fabrikam.com")],
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let mb = cloud.graph.mailbox("ann@fabrikam.com");
    let mut want: Vec<(String, String, bool, bool)> = seeded
        .iter()
        .map(|(f, mime, r, fl, _)| (f.clone(), sha256(mime), *r, *fl))
        .collect();
    let mut have: Vec<(String, String, bool, bool)> = mb
        .messages
        .iter()
        .map(|m| {
            assert!(!m.is_draft);
            assert_eq!(m.via, "importMime");
            (
                mb.path(&m.folder),
                sha256(m.mime.as_ref().unwrap()),
                m.is_read,
                m.flagged,
            )
        })
        .collect();
    want.sort();
    have.sort();
    assert_eq!(want, have);
    // Each app reached only its own tenant's mailbox.
    let grants = cloud.tokens.issued.lock().unwrap().clone();
    let tenants: std::collections::BTreeSet<String> =
        grants.values().map(|g| g.tenant.clone()).collect();
    assert_eq!(
        tenants.into_iter().collect::<Vec<_>>(),
        ["contoso", "fabrikam"]
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// The fake enforces Graph's contract, not the client's assumptions.
#[tokio::test]
async fn the_fake_enforces_size_batch_upload_tenant_and_draft_rules() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ALICE)
        .with_mailbox("fabrikam", "x@fabrikam.com");
    let cloud = start(graph);
    let http = reqwest::Client::new();
    let tok: serde_json::Value = http
        .post(format!("{}/contoso/oauth2/v2.0/token", cloud.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app-1"),
            ("client_secret", "secret-1"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_string();
    let u = |p: &str| format!("{}{p}", cloud.url());
    // No token, and a token for another resource: 401.
    let r = http
        .get(u("/v1.0/users/alice@contoso.com/mailFolders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Another tenant's mailbox: 403.
    let r = http
        .get(u("/v1.0/users/x@fabrikam.com/mailFolders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Over 4 MB: 413 with Graph's error body.
    let r = http
        .post(u(
            "/beta/users/alice@contoso.com/mailFolders/inbox/importMime",
        ))
        .bearer_auth(&token)
        .header("Content-Type", "text/plain")
        .body(vec![b'A'; 4 * 1024 * 1024 + 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "RequestBodyTooLarge");
    // $batch of 21: 400.
    let reqs: Vec<_> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/alice@contoso.com/mailFolders"}))
        .collect();
    let r = http
        .post(u("/v1.0/$batch"))
        .bearer_auth(&token)
        .json(&json!({"requests": reqs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // MIME through v1.0 makes a draft; importMime does not.
    let mime = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"Subject: x\r\n\r\nhi\r\n",
    );
    for (url, draft) in [
        (
            "/v1.0/users/alice@contoso.com/mailFolders/inbox/messages",
            true,
        ),
        (
            "/beta/users/alice@contoso.com/mailFolders/inbox/importMime",
            false,
        ),
    ] {
        let r: serde_json::Value = http
            .post(u(url))
            .bearer_auth(&token)
            .header("Content-Type", "text/plain")
            .body(mime.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["isDraft"], draft, "{url}");
    }
    // Upload URLs refuse an Authorization header.
    let id = cloud.graph.mailbox(ALICE).messages[1].id.clone();
    let s: serde_json::Value = http
        .post(u(&format!(
            "/v1.0/users/alice@contoso.com/messages/{id}/attachments/createUploadSession"
        )))
        .bearer_auth(&token)
        .json(&json!({"AttachmentItem": {"attachmentType": "file", "name": "a", "size": 10}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = s["uploadUrl"].as_str().unwrap();
    let r = http
        .put(url)
        .bearer_auth(&token)
        .header("Content-Range", "bytes 0-9/10")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .put(url)
        .header("Content-Range", "bytes 0-9/10")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // An injected burst: 429 with Retry-After.
    cloud.graph.throttle_next(ALICE, 1);
    let r = http
        .get(u("/v1.0/users/alice@contoso.com/mailFolders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
}

/// The connector on its own: Retry-After honoured and shown to the console per mailbox, a
/// token the service stops accepting renewed once, the source never written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_waits_out_429_reports_it_and_renews_a_refused_token() {
    use cutover_engine::endpoint::MailSession;
    use cutover_engine::endpoint::any::AnyConnector;
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    graph.seed(
        ALICE,
        "Inbox",
        b"Subject: a\r\n\r\nx\r\n",
        false,
        true,
        "2024-01-01T00:00:00Z",
    );
    let cloud = start(graph);
    let dir = tmp();
    std::fs::write(dir.path().join("secret.txt"), "secret-1").unwrap();
    let mut endpoint = graph_endpoint(&cloud, "contoso", "app-1", "UNUSED");
    let oauth = endpoint["oauth"].as_table_mut().unwrap();
    oauth.remove("client_secret_env");
    oauth.insert("client_secret_file".into(), "secret.txt".into());
    let path = ProjectBuilder::new("c")
        .source(endpoint.clone())
        .destination(endpoint)
        .mailbox(project::mailbox(
            None,
            project::user(ALICE),
            project::user(ALICE),
        ))
        .write(dir.path());
    let project = cutover_engine::config::load(&path).unwrap();
    let store =
        cutover_engine::journal::Journal::open(&project.state_path, project.durability).unwrap();
    let dst =
        AnyConnector::new(&project.destination, "destination", &store, project.items).unwrap();
    assert!(dst.throttled_accounts().is_empty());

    cloud.graph.throttle_next(ALICE, 2);
    let mut s = dst
        .connect(&project.mailboxes[0].destination)
        .await
        .unwrap();
    let shown = dst.throttled_accounts();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with(ALICE) && shown[0].contains("429"),
        "{shown:?}"
    );
    assert!(cloud.graph.stats().throttled >= 2);

    // The service forgets every token: one 401, a new token, and the call succeeds.
    cloud.tokens.issued.lock().unwrap().clear();
    let folders = s.list_folders().await.unwrap();
    assert!(folders.iter().any(|f| f.wire_name == "INBOX"));
    assert_eq!(cloud.tokens.issued_count(), 1, "exactly one new token");
    let st = s.examine("INBOX").await.unwrap();
    assert_eq!(st.exists, 1);

    // The source side refuses to write.
    let src = AnyConnector::new(&project.source, "source", &store, project.items).unwrap();
    let mut r = src.connect(&project.mailboxes[0].source).await.unwrap();
    assert!(r.create_folder("New").await.is_err());
    assert!(r.expunge_uids(&[1]).await.is_err());
    assert_eq!(cloud.graph.mailbox(ALICE).folders.len(), 6);
    // Retry-After as an HTTP-date (RFC 9110 10.2.3) is honoured too. A date already past
    // means no wait; without reading the date the client would back off 2 s on its own.
    let throttled = cloud.graph.stats().throttled;
    cloud
        .graph
        .throttle_next_with(ALICE, "Fri, 31 Dec 1999 23:59:59 GMT");
    assert_eq!(s.examine("INBOX").await.unwrap().exists, 1);
    assert_eq!(cloud.graph.stats().throttled, throttled + 1);
    let shown = dst.throttled_accounts();
    assert_eq!(
        shown,
        [format!(
            "{ALICE}: HTTP 429 from the service, retry after 0 s"
        )]
    );
    // A date 6 s ahead (whole seconds): a wait of 5 or 6 s, not the client's own 2 s.
    let date = (chrono::Utc::now() + chrono::Duration::seconds(6))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    cloud.graph.throttle_next_with(ALICE, &date);
    assert_eq!(s.examine("INBOX").await.unwrap().exists, 1);
    assert_eq!(cloud.graph.stats().throttled, throttled + 2);
    let shown = dst.throttled_accounts();
    assert!(
        shown
            == [format!(
                "{ALICE}: HTTP 429 from the service, retry after 5 s"
            )]
            || shown
                == [format!(
                    "{ALICE}: HTTP 429 from the service, retry after 6 s"
                )],
        "{shown:?} (Retry-After: {date})"
    );
}

#[test]
fn over_quota_stops_and_resumes_and_a_malformed_message_is_refused_alone() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 60, 65, &["--no-tricky"]);
    // Not a message at all (no header): importMime refuses it (400).
    let junk = src.dir.join("junk.eml");
    std::fs::write(&junk, "this is not a mail message\r\n").unwrap();
    let saved = Command::new("doveadm")
        .arg("-c")
        .arg(src.dir.join("dovecot.conf"))
        .args(["save", "-u", "alice", "-m", "INBOX"])
        .stdin(std::fs::File::open(&junk).unwrap())
        .output()
        .unwrap();
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let cloud = start(graph);
    let s = src.dump("alice", "alice-pw");
    let total_bytes: u64 = s.folders.values().flatten().map(|m| m.3).sum();
    cloud.graph.set_quota(Some(total_bytes / 2));
    let p = imap_to_graph(&cloud, &src, toml::Table::new());
    let full = p.cutover(&["run"]);
    assert_eq!(full.status.code(), Some(6), "{}", text(&full));
    assert!(text(&full).contains("over quota"), "{}", text(&full));
    let partial = cloud.graph.mailbox(ALICE).messages.len();
    assert!(partial > 0 && partial < s.total(), "{partial}");
    let pending = messages_in(&p.journal(), "pending");
    assert!(pending > 0, "messages not stored stay pending");

    // Space is freed: the next run copies the rest, once each.
    cloud.graph.set_quota(None);
    let rest = p.cutover(&["run"]);
    assert_eq!(
        rest.status.code(),
        Some(6),
        "the refused message keeps it partial: {}",
        text(&rest)
    );
    let failed: Vec<_> = p
        .journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "only the empty message is refused");
    let reason = failed[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("ErrorMimeContentInvalid"), "{reason}");
    let mb = cloud.graph.mailbox(ALICE);
    let want: Vec<(String, bool, bool)> = source_set(&s, LARGE)
        .into_iter()
        .filter(|m| m.0 != sha256(b"this is not a mail message\r\n"))
        .collect();
    same_set(&want, &dest_set(&mb.messages), "after the quota was lifted");
}
