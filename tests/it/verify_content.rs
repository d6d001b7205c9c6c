//! Content verification (issue 21): `cutover verify` re-reads what every destination item
//! says and compares it with the source. On a Graph destination the fake's `$value` rewrites
//! each message the way Exchange exports it, so an undamaged message must raise no alarm; a
//! message whose stored bytes are damaged (its fingerprint property kept) is reported by
//! folder and item, exit 7, and the final report claims no zero data loss until a run has
//! copied it again and a full content verification passed. On Gmail and IMAP (byte-exact
//! paths) a copy whose bytes changed is found where the journal says cutover put it and
//! reported as damaged, not as missing, and re-copied alike.

use crate::support;

use std::process::{Command, Output};
use std::time::Duration;

use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::{Cloud, token::Tokens};
use support::*;

const ALICE: &str = "alice@contoso.com";

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-verify")
        .tempdir()
        .unwrap()
}

struct Proj(ProjectDir);

impl Proj {
    fn cutover(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .arg(args[0])
            .arg(&self.0.path)
            .args(&args[1..])
            .env("CUTOVER_TEST_SECRET_1", "secret-1")
            .output()
            .expect("run cutover")
    }
}

/// Alice from Dovecot to contoso's fake Graph (`extra` in `[destination]`).
fn imap_to_graph(cloud: &Cloud, src: &Dovecot, extra: toml::Table) -> Proj {
    let url = cloud.url();
    let token_url = format!("{url}/contoso/oauth2/v2.0/token");
    let mut dst = toml::toml! {
        kind = "graph"
        api_url = (url.as_str())

        [oauth]
        provider = "entra"
        tenant = "contoso"
        client_id = "app-1"
        client_secret_env = "CUTOVER_TEST_SECRET_1"
        token_url = (token_url.as_str())
    };
    dst.extend(extra);
    let mut s = project::user("alice");
    s.insert("password".into(), "alice-pw".into());
    let b = ProjectBuilder::new("verify-test")
        .source(project::imap(src.port))
        .destination(dst)
        .mailbox(project::mailbox(Some("b"), s, project::user(ALICE)));
    let dir = tmp();
    let path = b.write(dir.path());
    Proj(ProjectDir { dir, path })
}

fn start() -> Cloud {
    let tokens = Tokens::new(Duration::from_secs(3600)).with_client("contoso", "app-1", "secret-1");
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    Cloud::start(tokens, graph, |g| g)
}

/// The final report's zero-data-loss row (Markdown).
fn zero_loss_row(p: &Proj) -> String {
    let r = p.cutover(&["report", "--kind", "final"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    stdout(&r)
        .lines()
        .find(|l| l.starts_with("| zero data loss"))
        .unwrap_or_else(|| panic!("no zero data loss row: {}", text(&r)))
        .to_string()
}

/// A word of a message's plain-text body that its stored bytes (valid UTF-8) hold verbatim
/// once, to damage.
fn damageable(mime: &[u8]) -> Option<String> {
    let raw = std::str::from_utf8(mime).ok()?;
    let m = mail_parser::MessageParser::default().parse(mime)?;
    let body = m.body_text(0)?.into_owned();
    body.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 6)
        .find(|w| raw.matches(w).count() == 1)
        .map(str::to_string)
}

#[test]
fn a_damaged_graph_message_is_found_by_content_recopied_and_only_then_proven() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 30, 21, &[]);
    let cloud = start();
    let p = imap_to_graph(&cloud, &src, toml::Table::new());

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let total = src.dump("alice", "alice-pw").total();
    assert_eq!(cloud.graph.mailbox(ALICE).messages.len(), total);

    // Nothing verified yet: no claim.
    assert!(
        zero_loss_row(&p).ends_with("| NO |"),
        "{}",
        zero_loss_row(&p)
    );

    // Every export is rewritten (headers added, boundaries and encodings changed), and an
    // undamaged message raises no alarm.
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(
        stdout(&v).contains("content read back and compared with the source, all equal"),
        "{}",
        text(&v)
    );
    assert!(
        stdout(&v).contains(&format!("content-compared {total:>6}"))
            || stdout(&v).contains("content-compared"),
        "{}",
        text(&v)
    );
    let row = zero_loss_row(&p);
    assert!(row.ends_with("| yes |"), "{row}");
    assert!(row.contains("1 / 1 (verified "), "{row}");

    // Damage one stored message; its fingerprint property stays.
    let mb = cloud.graph.mailbox(ALICE);
    let (victim, word) = mb
        .messages
        .iter()
        .find_map(|m| Some((m.clone(), damageable(m.mime.as_ref()?)?)))
        .expect("a message with a plain-text word to damage");
    assert!(
        cloud
            .graph
            .damage_message(ALICE, &victim.id, &word, &word.to_uppercase())
    );
    let after = cloud.graph.mailbox(ALICE);
    let d = after.messages.iter().find(|m| m.id == victim.id).unwrap();
    assert_eq!(d.props, victim.props, "the fingerprint property is kept");
    assert_ne!(d.mime, victim.mime);
    let folder = after.path(&victim.folder);
    let msgid = mail_parser::MessageParser::default()
        .parse(victim.mime.as_ref().unwrap())
        .and_then(|m| m.message_id().map(str::to_string))
        .unwrap();

    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    let out = stdout(&v);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("DAMAGED"))
        .unwrap_or_else(|| panic!("no DAMAGED line: {out}"));
    // The destination's inbox is named INBOX there, whatever Graph's display name ("Inbox");
    // which folder holds the first damageable message depends on the folders' copy order.
    assert!(
        line.to_lowercase()
            .contains(&format!("-> {}:", folder.to_lowercase()))
            && line.contains(&msgid),
        "{line}"
    );
    assert!(line.contains("body part"), "{line}");
    assert_eq!(out.matches("DAMAGED").count(), 1, "{out}");
    let row = zero_loss_row(&p);
    assert!(row.ends_with("| NO |"), "{row}");
    assert!(row.contains("verification failed"), "{row}");

    // The repair: the next run removes the damaged copy and copies the message again.
    let deletes = cloud.graph.stats().permanent_deletes;
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let mb = cloud.graph.mailbox(ALICE);
    assert_eq!(mb.messages.len(), total, "one copy of each");
    assert!(!mb.messages.iter().any(|m| m.id == victim.id));
    assert_eq!(cloud.graph.stats().permanent_deletes, deletes + 1);
    let replaced: Vec<_> = mb
        .messages
        .iter()
        .filter(|m| m.mime == victim.mime)
        .collect();
    assert_eq!(replaced.len(), 1, "the message copied again, intact");
    let report = p.cutover(&["report", "--kind", "final"]);
    assert!(
        stdout(&report).contains("re-copying: verification found the destination copy altered"),
        "the re-copy is journalled: {}",
        text(&report)
    );

    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let row = zero_loss_row(&p);
    assert!(row.ends_with("| yes |"), "{row}");

    // A sample: reproducible, its seed printed and journalled, and no proof.
    let s = p.cutover(&["verify", "--sample", "50%", "--seed", "42"]);
    assert_eq!(s.status.code(), Some(0), "{}", text(&s));
    assert!(
        stdout(&s).contains("sample 50% (1 of 1 mailboxes), seed 42"),
        "{}",
        text(&s)
    );
    let row = zero_loss_row(&p);
    assert!(row.ends_with("| NO |"), "{row}");
    assert!(
        row.contains("seed 42") && row.contains("a sample is no proof"),
        "{row}"
    );

    // The cheaper mode says what it is, and proves nothing either.
    let f = p.cutover(&["verify", "--fingerprint-only"]);
    assert_eq!(f.status.code(), Some(0), "{}", text(&f));
    assert!(stdout(&f).contains("presence, not content"), "{}", text(&f));
    assert!(zero_loss_row(&p).contains("fingerprint only"));
}

#[test]
fn a_bad_sample_share_is_a_usage_error() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    let cloud = start();
    let p = imap_to_graph(&cloud, &src, toml::Table::new());
    let o = p.cutover(&["verify", "--sample", "0%"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("above 0"),
        "{}",
        text(&o)
    );
}

const GUSER: &str = "alice@example.com";
const GSECRET_ENV: &str = "CUTOVER_TEST_GMAIL_SECRET";

/// Alice from Dovecot to the fake Gmail API (byte-exact imports).
fn imap_to_gmail(src: &Dovecot) -> (Cloud, ProjectDir) {
    let cloud = Cloud::start(
        Tokens::new(Duration::from_secs(3600)).with_client("gtest", "gmail-app", "g-s3cret"),
        FakeGraph::new(GraphConfig::default()),
        |g| g.with_user(GUSER),
    );
    let url = cloud.url();
    let token_url = format!("{url}/gtest/oauth2/v2.0/token");
    let dst = toml::toml! {
        kind = "gmail"
        api_url = (url.as_str())

        [oauth]
        provider = "entra"
        tenant = "gtest"
        client_id = "gmail-app"
        client_secret_env = (GSECRET_ENV)
        scope = "https://gmail.googleapis.com/.default"
        token_url = (token_url.as_str())
    };
    let p = ProjectBuilder::new("verify-gmail")
        .source(project::imap(src.port))
        .destination(dst)
        .mailbox(project::mailbox(
            Some("b"),
            project::login("alice", "alice-pw"),
            project::user(GUSER),
        ))
        .create();
    (cloud, p)
}

fn gmail_cutover(p: &ProjectDir, args: &[&str]) -> Output {
    Command::new(bin())
        .arg(args[0])
        .arg(&p.path)
        .args(&args[1..])
        .env(GSECRET_ENV, "g-s3cret")
        .output()
        .expect("run cutover")
}

#[test]
fn a_damaged_gmail_message_is_reported_as_damaged_not_missing_and_recopied() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 20, 5, &["--no-tricky"]);
    let (cloud, p) = imap_to_gmail(&src);
    let run = gmail_cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let v = gmail_cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let before = cloud.gmail.messages(GUSER);
    let total = before.len();

    // A word found in exactly one stored message's bytes.
    let raws: Vec<String> = before
        .iter()
        .filter_map(|m| String::from_utf8(m.0.clone()).ok())
        .collect();
    let word = raws
        .iter()
        .flat_map(|r| {
            let body = r.split_once("\r\n\r\n").map_or("", |b| b.1);
            body.split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() >= 6)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|w| {
            raws.iter()
                .map(|r| r.matches(w.as_str()).count())
                .sum::<usize>()
                == 1
        })
        .expect("a word to damage");
    let id = cloud
        .gmail
        .damage_message(GUSER, &word, &word.to_uppercase())
        .unwrap();

    let v = gmail_cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    let out = stdout(&v);
    assert_eq!(out.matches("DAMAGED").count(), 1, "{out}");
    assert!(out.contains("the bytes differ from the source's"), "{out}");
    // Reported as damaged, not as a missing message plus one not from the source.
    assert!(!out.contains("missing    1"), "{out}");

    let run = gmail_cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let after = cloud.gmail.messages(GUSER);
    assert_eq!(after.len(), total, "one copy of each");
    assert!(
        !after
            .iter()
            .any(|m| String::from_utf8_lossy(&m.0).contains(&word.to_uppercase())),
        "the damaged copy is gone"
    );
    assert!(
        after
            .iter()
            .any(|m| String::from_utf8_lossy(&m.0).contains(&word)),
        "copied again ({id})"
    );
    let v = gmail_cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// Every message file of a Maildir tree.
fn maildir_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            maildir_files(&p, out);
        } else if p
            .parent()
            .is_some_and(|d| d.ends_with("cur") || d.ends_with("new"))
        {
            out.push(p);
        }
    }
}

#[test]
fn a_damaged_imap_copy_is_found_byte_for_byte_and_recopied() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 15, 9, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // Change one stored message on the destination server, keeping its size: a word of its
    // body in upper case.
    let mut files = Vec::new();
    maildir_files(&dst.dir.join("mail/alice/Maildir"), &mut files);
    files.sort();
    let (file, word) = files
        .iter()
        .find_map(|f| {
            let t = std::fs::read_to_string(f).ok()?;
            let body = t.split_once("\r\n\r\n").or_else(|| t.split_once("\n\n"))?.1;
            let w = body
                .split(|c: char| !c.is_ascii_alphabetic())
                .find(|w| w.len() >= 6 && w.chars().any(|c| c.is_ascii_lowercase()))?;
            Some((f.clone(), w.to_string()))
        })
        .expect("a message body to damage");
    let t = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, t.replacen(&word, &word.to_uppercase(), 1)).unwrap();

    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    let out = stdout(&v);
    assert_eq!(out.matches("DAMAGED").count(), 1, "{out}");
    assert!(out.contains("the bytes differ from the source's"), "{out}");

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert_eq!(
        src.dump("alice", "alice-pw").total(),
        dst.dump("alice", "alice-pw").total(),
        "one copy of each"
    );
}

#[test]
fn the_json_path_is_verified_by_the_properties_it_keeps() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("alice", "alice-pw")], &[]);
    src.seed("alice", 12, 33, &["--no-tricky"]);
    let cloud = start();
    let p = imap_to_graph(&cloud, &src, toml::toml! { graph_import = "json" });
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // Exported from its properties (not the source's MIME), it raises no alarm.
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    let mb = cloud.graph.mailbox(ALICE);
    let (id, word) = mb
        .messages
        .iter()
        .find_map(|m| {
            let body = m.json.as_ref()?["body"]["content"].as_str()?.to_string();
            let w = body
                .split(|c: char| !c.is_ascii_alphabetic())
                .find(|w| w.len() >= 6 && body.matches(w).count() == 1)?
                .to_string();
            Some((m.id.clone(), w))
        })
        .expect("a JSON body to damage");
    assert!(
        cloud
            .graph
            .damage_message(ALICE, &id, &word, &word.to_uppercase())
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(7), "{}", text(&v));
    let out = stdout(&v);
    assert_eq!(out.matches("DAMAGED").count(), 1, "{out}");
    assert!(out.contains("the body differs"), "{out}");
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}
