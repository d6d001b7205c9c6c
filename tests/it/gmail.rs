//! The Gmail API endpoint (`kind = "gmail"`) with the real `cutover` binary against the fake
//! Gmail API (tests/it/support/fake_cloud/gmail.rs): Dovecot to Gmail (every message once with
//! the right label, raw bytes equal to the source's, internal date from the Date header,
//! read and starred state), no-op re-run, kill -9 and resume, verify, rollback of exactly
//! what cutover imported, quota throttling honoured, oversize and invalid messages refused
//! one by one; and Gmail as a source to Dovecot.

use crate::support;

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::fake_cloud::gmail::{Gmail, Injected};
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::{Cloud, FakeCloud, token::Tokens};
use support::*;

pub(crate) const SECRET_ENV: &str = "CUTOVER_TEST_GMAIL_SECRET";
pub(crate) const SECRET: &str = "g-s3cret";
pub(crate) const GUSER: &str = "alice@example.com";

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-gmail")
        .tempdir()
        .unwrap()
}

/// The fake cloud with the Gmail API, as `make` configures it (the Graph unused).
pub(crate) fn cloud(make: impl FnOnce(Gmail) -> Gmail) -> Cloud {
    Cloud::start(
        Tokens::new(Duration::from_secs(3600)).with_client("gtest", "gmail-app", SECRET),
        FakeGraph::new(GraphConfig::default()),
        |g| make(g.with_user(GUSER)),
    )
}

/// An endpoint table for the fake Gmail API. The fake's token endpoint speaks the Entra
/// client-credentials grant; the scope names the Gmail API as the resource.
pub(crate) fn gmail_endpoint(c: &FakeCloud) -> toml::Table {
    let url = c.url();
    let token_url = format!("{url}/gtest/oauth2/v2.0/token");
    toml::toml! {
        kind = "gmail"
        api_url = (url.as_str())
        max_connections = 4

        [oauth]
        provider = "entra"
        tenant = "gtest"
        client_id = "gmail-app"
        client_secret_env = (SECRET_ENV)
        scope = "https://gmail.googleapis.com/.default"
        token_url = (token_url.as_str())
    }
}

/// Dovecot user `alice` to Gmail user alice@example.com.
fn to_gmail(src: &Dovecot, c: &Cloud) -> ProjectDir {
    ProjectBuilder::new("to-gmail")
        .source(project::imap(src.port))
        .destination(gmail_endpoint(&c.cloud))
        .mailbox(project::mailbox(
            Some("b"),
            project::login("alice", "alice-pw"),
            project::user(GUSER),
        ))
        .create()
}

pub(crate) fn cutover(p: &ProjectDir, args: &[&str]) -> Output {
    Command::new(bin())
        .arg(args[0])
        .arg(&p.path)
        .args(&args[1..])
        .env(SECRET_ENV, SECRET)
        .output()
        .expect("run cutover")
}

/// Deliver raw bytes into a source folder (doveadm save).
fn save(src: &Dovecot, folder: &str, raw: &[u8]) {
    use std::io::Write;
    let mut child = Command::new("doveadm")
        .arg("-c")
        .arg(src.dir.join("dovecot.conf"))
        .args(["save", "-u", "alice", "-m", folder])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    assert!(child.wait().unwrap().success());
}

/// The Gmail label a source folder's mail must carry (None: no folder label, archived).
fn label_for(folder: &str) -> Option<String> {
    match folder {
        "INBOX" => Some("INBOX".into()),
        "Sent" => Some("SENT".into()),
        "Drafts" => Some("DRAFT".into()),
        "Trash" => Some("TRASH".into()),
        "Junk" => Some("SPAM".into()),
        "Archive" => None,
        other => Some(other.into()),
    }
}

fn is_state_label(l: &str) -> bool {
    matches!(l, "STARRED" | "UNREAD" | "IMPORTANT") || l.starts_with("CATEGORY_")
}

/// (sha256, folder label, seen, flagged) per message.
type Shape = (String, Option<String>, bool, bool);

fn source_shape(d: &Dump) -> Vec<Shape> {
    let mut v: Vec<Shape> = d
        .folders
        .iter()
        .flat_map(|(f, ms)| {
            ms.iter().map(move |m| {
                (
                    m.0.clone(),
                    label_for(f),
                    m.1.iter().any(|x| x == "\\Seen"),
                    m.1.iter().any(|x| x == "\\Flagged"),
                )
            })
        })
        .collect();
    v.sort();
    v
}

fn gmail_shape(g: &Gmail) -> Vec<Shape> {
    let mut v: Vec<Shape> = g
        .messages(GUSER)
        .iter()
        .map(|(raw, labels, _)| {
            let folders: Vec<&String> = labels.iter().filter(|l| !is_state_label(l)).collect();
            assert!(
                folders.len() <= 1,
                "a copied message carries one folder label: {labels:?}"
            );
            (
                sha256(raw),
                folders.first().map(|s| s.to_string()),
                !labels.iter().any(|l| l == "UNREAD"),
                labels.iter().any(|l| l == "STARRED"),
            )
        })
        .collect();
    v.sort();
    v
}

/// Every message whose Date header parses has it as its internal date; how many did.
fn dates_from_header(g: &Gmail) -> usize {
    let mut n = 0;
    for (raw, _, ms) in g.messages(GUSER) {
        let Some(d) = mail_parser::MessageParser::new()
            .parse_headers(&raw[..])
            .and_then(|m| m.date().cloned())
            .filter(|d| d.is_valid())
        else {
            continue;
        };
        assert_eq!(
            ms,
            d.to_timestamp() * 1000,
            "internal date is the Date header ({})",
            d.to_rfc3339()
        );
        n += 1;
    }
    n
}

#[test]
fn imap_to_gmail_once_per_message_byte_exact_then_noop_verify_and_exact_rollback() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    src.seed("alice", 160, 31, &[]);
    // Gmail's spam filter would take this one out of the inbox, unless neverMarkSpam.
    save(
        &src,
        "INBOX",
        b"From: offers@example.net\r\nTo: alice@example.com\r\nSubject: you won\r\n\
X-Spam-Flag: YES\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nclaim now\r\n",
    );
    let c = cloud(|g| g);
    // The mailbox already holds mail of its own: rollback must leave it alone.
    let personal = c.gmail.add_label(GUSER, "Personal");
    c.gmail.add_message(
        GUSER,
        b"From: a@example.com\r\nSubject: mine\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nkeep me\r\n",
        &[&personal],
        1_793_613_600_000,
    );
    c.gmail.add_message(
        GUSER,
        b"From: b@example.com\r\nSubject: archived\r\nDate: Mon, 2 Nov 2026 11:00:00 +0000\r\n\r\nkeep me too\r\n",
        &[],
        1_793_617_200_000,
    );
    let own = c.gmail.messages(GUSER);

    let p = to_gmail(&src, &c);
    let plan = cutover(&p, &["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert_eq!(
        c.gmail.calls_of("messages.import"),
        0,
        "plan imports nothing"
    );
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = src.dump("alice", "alice-pw");
    let mut want = source_shape(&before);
    for (raw, labels, _) in &own {
        want.push((sha256(raw), labels.first().cloned(), true, false));
    }
    want.sort();
    assert!(want.len() > 150);
    assert_eq!(
        gmail_shape(&c.gmail),
        want,
        "every source message once, byte for byte, with its folder's label and its read/starred state"
    );
    assert!(
        want.iter().any(|w| w.1.is_none()) && want.iter().any(|w| w.3) && want.iter().any(|w| !w.2),
        "the seed has archived, starred and unread mail"
    );
    assert!(dates_from_header(&c.gmail) > 100);
    // Nested user labels were created with their full path.
    let labels = c.gmail.user_labels(GUSER);
    for l in [
        "Archive/2024",
        "Projects/Alpha",
        "Kunden & Partner",
        "Entwürfe",
        "A&B",
    ] {
        assert!(labels.iter().any(|x| x == l), "label {l} in {labels:?}");
    }

    // Identity by Gmail message id: nothing to do the second time.
    let again = cutover(&p, &["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    assert_eq!(c.gmail.messages(GUSER).len(), want.len());

    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    let imports = c.gmail.calls_of("messages.import");
    let rb = cutover(&p, &["rollback", "--mailbox", "alice", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let left = c.gmail.messages(GUSER);
    assert_eq!(
        left.iter().map(|m| sha256(&m.0)).collect::<Vec<_>>(),
        own.iter().map(|m| sha256(&m.0)).collect::<Vec<_>>(),
        "rollback removes exactly what cutover imported"
    );
    assert_eq!(
        c.gmail.user_labels(GUSER),
        vec!["Personal".to_string()],
        "the labels cutover created are deleted, the user's own kept"
    );
    assert_eq!(c.gmail.calls_of("messages.import"), imports);
    assert_eq!(
        c.gmail.calls_of("messages.delete") as usize,
        want.len() - own.len()
    );
    // The source was never written.
    assert_eq!(src.dump("alice", "alice-pw").folders, before.folders);
}

#[test]
fn ca_file_is_honoured_by_the_gmail_and_token_endpoints_over_https() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    src.seed("alice", 20, 33, &["--no-tricky"]);
    let c = cloud(|g| g);
    // The fake behind TLS, with a server certificate from the Dovecot instance's throwaway CA.
    let front = support::tls_front::TlsFront::start(
        c.cloud.addr,
        &src.dir.join("tls/server.pem"),
        &src.dir.join("tls/server.key"),
    );
    let https = format!("https://127.0.0.1:{}", front.port);
    // The API's URL made the https one, and the token endpoint's too when `token` (its plain
    // URL otherwise); `ca_file` when given.
    let over_https = |token: bool, ca_file: Option<&str>| {
        let p = to_gmail(&src, &c);
        p.edit(|mut b| {
            b = b.set("destination.api_url", https.as_str());
            if token {
                b = b.set(
                    "destination.oauth.token_url",
                    format!("{https}/gtest/oauth2/v2.0/token"),
                );
            }
            match ca_file {
                Some(ca) => b.set("destination.ca_file", ca),
                None => b,
            }
        });
        p
    };
    // Without ca_file, the token endpoint over https (then only the Gmail API over https, the
    // token endpoint plain): the throwaway CA is not trusted, a certificate error, exit 5.
    for token in [true, false] {
        let untrusted = cutover(&over_https(token, None), &["run"]);
        assert_eq!(untrusted.status.code(), Some(5), "{}", text(&untrusted));
        assert!(
            text(&untrusted).contains("TLS with 127.0.0.1: invalid peer certificate"),
            "{}",
            text(&untrusted)
        );
        assert!(!text(&untrusted).contains("reconnecting"), "not retried");
        assert!(c.gmail.messages(GUSER).is_empty());
    }

    let ca = src.ca.display().to_string();
    let run = cutover(&over_https(true, Some(&ca)), &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(
        c.gmail.messages(GUSER).len(),
        src.dump("alice", "alice-pw").total()
    );
}

#[test]
fn gmail_destination_killed_mid_import_resumes_with_exactly_one_copy_each() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    src.seed("alice", 400, 32, &["--no-tricky"]);
    // Each import is answered 8 ms after it is stored: a kill in between leaves a message the
    // client never heard about. The quota is not what this test is about.
    let c = cloud(|g| {
        g.with_import_delay(Duration::from_millis(8))
            .with_quota(10_000_000, Duration::from_secs(60))
    });
    let p = to_gmail(&src, &c);
    let mut killed = 0;
    let mut imported_before = 0;
    let mut left_in_doubt = 0;
    for delay_ms in [400u64, 900, 1400, 1900] {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path).env(SECRET_ENV, SECRET);
        if run_until_sigkill(&mut run, |t| t >= Duration::from_millis(delay_ms)) {
            let now = c.gmail.messages(GUSER).len();
            if now > imported_before && now < 400 {
                killed += 1;
            }
            imported_before = now;
        }
        if p.dir.path().join("state.sqlite").exists() {
            left_in_doubt += messages_in(&p.journal(), "appending");
        }
    }
    assert!(killed >= 1, "at least one kill must land mid-copy");
    assert!(
        left_in_doubt > 0,
        "at least one kill must land between an import and its journal entry"
    );
    let done = cutover(&p, &["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_eq!(
        gmail_shape(&c.gmail),
        source_shape(&src.dump("alice", "alice-pw")),
        "every message exactly once after the kills"
    );
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn gmail_quota_429_user_rate_limit_and_lost_answers_cost_no_loss_or_duplicates() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    src.seed("alice", 50, 33, &["--no-tricky"]);
    // 500 units per 2 s (20 imports): the copy must wait for the quota over and over.
    let c = cloud(|g| g.with_quota(500, Duration::from_secs(2)));
    c.gmail.inject(
        GUSER,
        [
            Injected::TooMany(1),
            Injected::UserRateLimit,
            Injected::TooMany(1),
        ],
    );
    // Two imports are stored but answered 503: they must not be imported a second time.
    c.gmail.store_then_fail(GUSER, 2);
    let p = to_gmail(&src, &c);
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let throttled = c.gmail.throttled.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        throttled > 3,
        "the quota was hit ({throttled} throttling answers)"
    );
    assert_eq!(
        gmail_shape(&c.gmail),
        source_shape(&src.dump("alice", "alice-pw")),
        "nothing lost or doubled under throttling"
    );
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

#[test]
fn gmail_refuses_oversize_and_invalid_messages_one_by_one() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    src.seed(
        "alice",
        30,
        34,
        &["--no-tricky", "--huge", "--huge-mb", "2"],
    );
    // Not a message at all: Gmail answers 400 for it.
    save(&src, "INBOX", b"this is not a mail message\r\nat all\r\n");
    let c = cloud(|g| g.with_max_upload(1024 * 1024));
    let p = to_gmail(&src, &c);
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(6), "partial: {}", text(&run));
    let t = text(&run);
    assert!(t.contains("too large for the Gmail API"), "{t}");
    assert!(t.contains("the Gmail API refused this message"), "{t}");
    let refused = all_issues(&p.journal())
        .iter()
        .filter(|i| i.category == "refused")
        .count();
    assert_eq!(refused, 2, "exactly the two bad messages are refused");
    // Everything else arrived.
    let s = source_shape(&src.dump("alice", "alice-pw"));
    let g = gmail_shape(&c.gmail);
    assert_eq!(g.len(), s.len() - 2);
    assert!(g.iter().all(|m| s.contains(m)));
}

/// A message for the Gmail source.
pub(crate) fn mail(i: usize, date: &str) -> Vec<u8> {
    format!(
        "From: sender{i}@example.org\r\nTo: alice@example.com\r\nSubject: message {i}\r\n\
         Date: {date}\r\nMessage-ID: <g{i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Body {i} \u{e4}\u{f6}\u{fc}\r\n.leading dot\r\n"
    )
    .into_bytes()
}

#[test]
fn gmail_source_single_label_messages_to_dovecot_with_flags_and_dates() {
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
    let receipts = g.add_label(GUSER, "Receipts/2024");
    // (labels, expected folder, expected flags)
    let cases: Vec<(Vec<&str>, &str, Vec<&str>)> = vec![
        (vec!["INBOX", "UNREAD"], "INBOX", vec![]),
        (
            vec!["INBOX", "STARRED"],
            "INBOX",
            vec!["\\Flagged", "\\Seen"],
        ),
        (
            vec!["INBOX", "IMPORTANT", "CATEGORY_UPDATES"],
            "INBOX",
            vec!["\\Seen"],
        ),
        (vec!["SENT"], "Sent", vec!["\\Seen"]),
        (vec![&work], "Work", vec!["\\Seen"]),
        (vec![&work, "UNREAD"], "Work", vec![]),
        (vec![&receipts], "Receipts/2024", vec!["\\Seen"]),
        (vec![], "Archive", vec!["\\Seen"]),
        (vec!["STARRED"], "Archive", vec!["\\Flagged", "\\Seen"]),
        (vec!["TRASH"], "Trash", vec!["\\Seen"]),
    ];
    let mut want: BTreeMap<String, Vec<(String, Vec<String>, i64)>> = BTreeMap::new();
    for (i, (labels, folder, flags)) in cases.iter().enumerate() {
        let ms = 1_700_000_000_000i64 + i as i64 * 3_600_000;
        let raw = mail(i, "Tue, 14 Nov 2023 22:13:20 +0000");
        g.add_message(GUSER, &raw, labels, ms);
        let mut f: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        f.sort();
        want.entry(folder.to_string())
            .or_default()
            .push((sha256(&raw), f, ms / 1000));
    }
    let before = g.messages(GUSER);

    let p = ProjectBuilder::new("from-gmail")
        .source(gmail_endpoint(&c.cloud))
        // Trash is left out of a Gmail source by default; this test copies it too.
        .set("source.gmail.include_trash", true)
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::user(GUSER),
            project::login("alice", "alice-pw"),
        ))
        .create();
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    let d = dst.dump("alice", "alice-pw");
    let mut have: BTreeMap<String, Vec<(String, Vec<String>, i64)>> = BTreeMap::new();
    for (f, ms) in &d.folders {
        for m in ms {
            let mut flags = m.1.clone();
            flags.sort();
            let date = chrono::DateTime::parse_from_str(&m.2, "%d-%b-%Y %H:%M:%S %z")
                .unwrap()
                .timestamp();
            have.entry(f.clone())
                .or_default()
                .push((m.0.clone(), flags, date));
        }
    }
    have.retain(|_, v| !v.is_empty());
    for v in want.values_mut().chain(have.values_mut()) {
        v.sort();
    }
    assert_eq!(
        have, want,
        "each message in its label's folder, byte for byte, with flags and internal date"
    );
    // The Gmail source is read only.
    assert_eq!(g.messages(GUSER), before);
    assert_eq!(
        g.calls_of("messages.import") + g.calls_of("messages.delete"),
        0
    );
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// A connector to the fake with a journal of its own, for the session-level contract tests.
pub(crate) fn connector(
    c: &Cloud,
    side: &'static str,
    dir: &std::path::Path,
) -> cutover_engine::endpoint::gmail::GmailConnector {
    use cutover_engine::config::*;
    let url = c.cloud.url();
    let cfg = Endpoint {
        kind: EndpointKind::Gmail,
        host: "127.0.0.1".into(),
        port: 443,
        security: Security::Tls,
        preset: Preset::Generic,
        max_connections: 2,
        ca_file: None,
        max_message_size: None,
        timeout: Duration::from_secs(30),
        auth: AuthMethod::Login,
        api_url: url.clone(),
        graph_import: GraphImport::default(),
        compress: Compress::default(),
        path: None,
        dav: None,
        oauth: Some(OAuthSettings {
            provider: OAuthProvider::Entra,
            flow: OAuthFlow::ClientCredentials,
            tenant: Some("gtest".into()),
            client_id: Some("gmail-app".into()),
            client_secret: Some(secrecy::SecretString::from(SECRET.to_string())),
            certificate_file: None,
            private_key_file: None,
            service_account_file: None,
            scope: Some("https://gmail.googleapis.com/.default".into()),
            token_url: Some(format!("{url}/gtest/oauth2/v2.0/token")),
            device_code_url: None,
        }),
        gmail: None,
        google_quota: Default::default(),
        google_other_contacts: false,
        graph_limits: Default::default(),
    };
    let store =
        cutover_engine::journal::Journal::open(&dir.join("j.sqlite"), Durability::Crash).unwrap();
    cutover_engine::endpoint::gmail::GmailConnector::new(&cfg, side, &store).unwrap()
}

pub(crate) fn cred() -> cutover_engine::config::Credential {
    cutover_engine::config::Credential {
        user: GUSER.into(),
        password: secrecy::SecretString::from(String::new()),
    }
}

#[tokio::test]
async fn a_message_with_several_labels_has_one_global_id_and_all_its_labels() {
    use cutover_engine::endpoint::MailSession;
    let c = cloud(|g| g);
    let work = c.gmail.add_label(GUSER, "Work");
    let both = c.gmail.add_message(
        GUSER,
        &mail(1, "Tue, 14 Nov 2023 22:13:20 +0000"),
        &["INBOX", &work, "STARRED"],
        1,
    );
    let only = c.gmail.add_message(
        GUSER,
        &mail(2, "Tue, 14 Nov 2023 22:13:20 +0000"),
        &[&work],
        2,
    );
    let archived = c.gmail.add_message(
        GUSER,
        &mail(3, "Tue, 14 Nov 2023 22:13:20 +0000"),
        &["UNREAD"],
        3,
    );
    let dir = tmp();
    let mut s = connector(&c, "source", dir.path())
        .connect(&cred())
        .await
        .unwrap();

    let folders = s.list_folders().await.unwrap();
    let names: Vec<&str> = folders.iter().map(|f| f.wire_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "INBOX", "Sent", "Drafts", "Junk", "Trash", "Archive", "Work"
        ]
    );

    s.examine("INBOX").await.unwrap();
    let inbox = s.labelled_messages().await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].global_id, both);
    assert_eq!(inbox[0].labels, ["INBOX", "Work", "STARRED"]);

    s.examine("Work").await.unwrap();
    let w = s.labelled_messages().await.unwrap();
    let ids: Vec<&str> = w.iter().map(|m| m.global_id.as_str()).collect();
    assert_eq!(
        ids,
        [both.as_str(), only.as_str()],
        "oldest first, same global id as in INBOX"
    );
    assert_eq!(w[1].labels, ["Work"]);

    s.examine("Archive").await.unwrap();
    let a = s.labelled_messages().await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].global_id, archived);
    assert_eq!(a[0].labels, ["UNREAD", "Archive"]);

    // Folder creation: nested names, false when the label exists, system names taken.
    assert!(s.create_folder("Projects/Alpha").await.unwrap());
    assert!(!s.create_folder("Projects/Alpha").await.unwrap());
    assert!(!s.create_folder("Sent").await.unwrap());
    assert!(
        !s.create_folder("Spam").await.unwrap(),
        "Gmail's reserved spellings are its system labels"
    );
    let e = s.create_folder("Starred").await.unwrap_err().to_string();
    assert!(e.contains("rename rule") && e.contains(GUSER), "{e}");
    assert!(
        c.gmail
            .user_labels(GUSER)
            .contains(&"Projects/Alpha".to_string())
    );
}

#[tokio::test]
async fn a_refused_token_is_fetched_again_once_and_endless_throttling_is_reported() {
    use cutover_engine::endpoint::{EndpointError, MailSession};
    let c = cloud(|g| g);
    let dir = tmp();
    let mut s = connector(&c, "destination", dir.path())
        .connect(&cred())
        .await
        .unwrap();
    let requests = c.cloud.tokens.requests.lock().unwrap().len();
    // The service forgets every token (revoked): the next call gets a 401, the client a new
    // token, and the call succeeds.
    c.cloud.tokens.issued.lock().unwrap().clear();
    s.list_folders().await.unwrap();
    assert_eq!(
        c.cloud.tokens.requests.lock().unwrap().len(),
        requests + 1,
        "one new token after the 401"
    );
    assert_eq!(
        c.gmail.calls_of("labels.list"),
        3,
        "connect, the refused call, its retry"
    );

    // Throttled on every try: after the retries, Throttled with the service's reason.
    c.gmail.inject(GUSER, (0..20).map(|_| Injected::TooMany(0)));
    let e = s.examine("INBOX").await.unwrap_err();
    match &e {
        EndpointError::Throttled { message, .. } => {
            assert!(message.contains("rateLimitExceeded"), "{e}")
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(e.to_string().contains(GUSER), "{e}");
    assert_eq!(
        c.gmail.throttled.load(std::sync::atomic::Ordering::SeqCst),
        cutover_engine::endpoint::gmail::MAX_RETRIES as u64 + 1,
        "one try and MAX_RETRIES retries"
    );
}

#[tokio::test]
async fn an_import_into_a_label_deleted_meanwhile_fails_the_folder_not_the_message() {
    use cutover_engine::endpoint::{AppendOutcome, Body, EndpointError, MailSession, Message};
    let c = cloud(|g| g);
    let dir = tmp();
    let mut s = connector(&c, "destination", dir.path())
        .connect(&cred())
        .await
        .unwrap();
    assert!(s.create_folder("Projects").await.unwrap());
    s.open_for_append("Projects").await.unwrap();
    let msg = |i: usize, flags: &[&str]| Message {
        uid: i as u32,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internal_date: None,
        body: Body::new(mail(i, "Tue, 14 Nov 2023 22:13:20 +0000")),
    };
    let out = s
        .append("Projects", &[msg(1, &["\\Flagged"]), msg(2, &["\\Seen"])])
        .await
        .unwrap();
    assert!(
        out.iter()
            .all(|o| matches!(o, AppendOutcome::Stored { uid: Some(_), .. })),
        "{out:?}"
    );
    let labels: Vec<Vec<String>> = c.gmail.messages(GUSER).into_iter().map(|m| m.1).collect();
    assert_eq!(
        labels,
        [vec!["Projects", "UNREAD", "STARRED"], vec!["Projects"]]
    );
    // Someone deletes the label while cutover works in it.
    c.gmail
        .mailboxes
        .lock()
        .unwrap()
        .get_mut(GUSER)
        .unwrap()
        .labels
        .clear();
    let out = s.append("Projects", &[msg(3, &[])]).await.unwrap();
    assert!(
        matches!(
            &out[0],
            AppendOutcome::Failed {
                error: EndpointError::NoFolder { .. }
            }
        ),
        "{out:?}"
    );
    assert_eq!(c.gmail.messages(GUSER).len(), 2);
}

/// Delta passes onto the Gmail API: after a first copy, the users' work on the source (50
/// new, 30 moves, 40 flag and keyword changes, a folder renamed, 10 deletions); one
/// `cutover sync` moves by label changes (`messages.modify`, nothing imported twice), sets
/// read and star state, reports the deletions; with `propagate` the mailbox is the source.
#[test]
fn imap_to_gmail_sync_pass_moves_by_labels_sets_state_and_reports_deletions() {
    use crate::sync_delta::{pass_counts, users_work};
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("alice", "alice-pw")],
        &["--no-gmail"],
    );
    src.seed("alice", 700, 32, &["--no-tricky"]);
    let c = cloud(|g| g);
    let p = to_gmail(&src, &c);
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let before = src.dump("alice", "alice-pw");
    assert_eq!(source_shape(&before), gmail_shape(&c.gmail));
    let copies = c.gmail.messages(GUSER).len();

    users_work(&src, &before);
    let pass = cutover(&p, &["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let n = pass_counts(&pass);
    assert_eq!(
        (n[0], n[2], n[3], n[4]),
        (50, 30, 10, 0),
        "new, moves, deletions, removed (the renamed folder's label renamed):\n{}",
        text(&pass)
    );
    // Moved by relabelling: one message each, only the new ones imported.
    assert_eq!(c.gmail.messages(GUSER).len(), copies + 50);
    let issues = all_issues(&p.journal());
    assert!(
        !issues.iter().any(|i| i.message.contains("not carried")),
        "{issues:?}"
    );
    let again = cutover(&p, &["sync"]);
    assert_eq!(
        pass_counts(&again),
        vec![0, 0, 0, 0, 0, 0],
        "{}",
        text(&again)
    );

    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = cutover(&p, &["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert_eq!(pass_counts(&prop)[4], 10, "{}", text(&prop));
    assert_eq!(
        source_shape(&src.dump("alice", "alice-pw")),
        gmail_shape(&c.gmail)
    );
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}
