//! The migration scenarios of the service procedure (SOP-38 §1.3), each run from its shipped
//! example project under examples/: the file is loaded as is, only its endpoints' addresses and
//! credentials are pointed at the local servers (real Dovecot for IMAP and POP3, the stateful
//! fakes for Microsoft Graph and the Gmail API) and its mailboxes replaced by test ones. Every
//! scenario then goes through the same checks: a run killed with SIGKILL, a run to completion,
//! every source message on the destination exactly once and byte for byte, `cutover verify`,
//! and a re-run that copies and downloads nothing. Calendars and contacts (real Radicale beside
//! Dovecot) go through the same checks, each event and contact compared by its collection, UID
//! and normalised content.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::dav::{DavItem, Radicale, Scale};
use support::fake_cloud::Cloud;
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::token::Tokens;
use support::*;

const GRAPH_SRC: (&str, &str, &str) = ("fabrikam", "app-src", "SCENARIO_SRC_SECRET");
const GRAPH_DST: (&str, &str, &str) = ("contoso", "app-dst", "SCENARIO_DST_SECRET");
const GMAIL: (&str, &str, &str) = ("gtest", "gmail-app", "SCENARIO_GMAIL_SECRET");

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-scenario")
        .tempdir()
        .unwrap()
}

/// One fake cloud with Graph (two tenants) and the Gmail API.
fn cloud(graph_mailboxes: &[(&str, &str)], gmail_users: &[&str]) -> Cloud {
    let mut g = FakeGraph::new(GraphConfig::default());
    for (tenant, upn) in graph_mailboxes {
        g = g.with_mailbox(tenant, upn);
    }
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client(GRAPH_SRC.0, GRAPH_SRC.1, "secret-src")
        .with_client(GRAPH_DST.0, GRAPH_DST.1, "secret-dst")
        .with_client(GMAIL.0, GMAIL.1, "secret-gmail");
    Cloud::start(tokens, g, |gmail| {
        gmail_users
            .iter()
            .fold(gmail, |gmail, u| gmail.with_user(u))
    })
}

/// Where one side of a scenario points.
enum At<'a> {
    Imap(&'a Dovecot),
    /// IMAP with its CalDAV/CardDAV server (`[source.dav]`).
    ImapDav(&'a Dovecot, &'a Radicale),
    Pop3(&'a Dovecot),
    Graph(&'a Cloud, (&'a str, &'a str, &'a str)),
    Gmail(&'a Cloud),
}

impl At<'_> {
    fn kind(&self) -> &'static str {
        match self {
            At::Imap(_) | At::ImapDav(..) => "imap",
            At::Pop3(_) => "pop3",
            At::Graph(..) => "graph",
            At::Gmail(_) => "gmail",
        }
    }

    /// Point an endpoint table of the example at this server; keep everything else of it
    /// (kind, preset, import path, Gmail policy, limits).
    fn apply(&self, t: &mut toml::Table) {
        for k in [
            "host", "port", "security", "ca_file", "auth", "oauth", "api_url",
        ] {
            t.remove(k);
        }
        let oauth = |url: String, (tenant, app, env): (&str, &str, &str), scope: Option<&str>| {
            let mut o = toml::Table::new();
            o.insert("provider".into(), "entra".into());
            o.insert("tenant".into(), tenant.into());
            o.insert("client_id".into(), app.into());
            o.insert("client_secret_env".into(), env.into());
            o.insert(
                "token_url".into(),
                format!("{url}/{tenant}/oauth2/v2.0/token").into(),
            );
            if let Some(s) = scope {
                o.insert("scope".into(), s.into());
            }
            toml::Value::Table(o)
        };
        match self {
            At::Imap(d) | At::Pop3(d) | At::ImapDav(d, _) => {
                t.insert("host".into(), "127.0.0.1".into());
                if let At::ImapDav(_, r) = self {
                    let dav = t
                        .get_mut("dav")
                        .and_then(|d| d.as_table_mut())
                        .expect("the example has a [dav] table on this side");
                    dav.insert("url".into(), format!("{}/", r.url()).into());
                    dav.insert("security".into(), "none".into());
                }
                let port = match self {
                    At::Pop3(_) => d.pop3_port.expect("started with --pop3-port"),
                    _ => d.port,
                };
                t.insert("port".into(), i64::from(port).into());
                t.insert("security".into(), "none".into());
            }
            At::Graph(c, app) => {
                t.insert("api_url".into(), c.cloud.url().into());
                t.insert("oauth".into(), oauth(c.cloud.url(), *app, None));
            }
            At::Gmail(c) => {
                t.insert("api_url".into(), c.cloud.url().into());
                t.insert(
                    "oauth".into(),
                    oauth(
                        c.cloud.url(),
                        GMAIL,
                        Some("https://gmail.googleapis.com/.default"),
                    ),
                );
            }
        }
    }
}

/// (user, password or "" for token-based endpoints) on each side.
type Mailbox<'a> = ((&'a str, &'a str), (&'a str, &'a str));

/// The example project `name`, pointed at `src` and `dst`, with `mailboxes`.
fn project(name: &str, src: &At, dst: &At, mailboxes: &[Mailbox]) -> ProjectDir {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    for (side, at) in [("source", src), ("destination", dst)] {
        let t = doc[side].as_table_mut().unwrap();
        assert_eq!(
            t["kind"].as_str(),
            Some(at.kind()),
            "{name}: the example's {side} is not the scenario's"
        );
        at.apply(t);
    }
    let p = doc["project"].as_table_mut().unwrap();
    p.insert("state".into(), "state.sqlite".into());
    for k in ["mailboxes_csv", "log_dir"] {
        p.remove(k);
    }
    let mut list = toml::value::Array::new();
    for ((su, sp), (du, dp)) in mailboxes {
        let cred = |u: &str, pw: &str| {
            let mut c = toml::Table::new();
            c.insert("user".into(), u.into());
            if !pw.is_empty() {
                c.insert("password".into(), pw.into());
            }
            toml::Value::Table(c)
        };
        let mut m = toml::Table::new();
        m.insert("batch".into(), "pilot".into());
        m.insert("source".into(), cred(su, sp));
        m.insert("destination".into(), cred(du, dp));
        list.push(toml::Value::Table(m));
    }
    doc.insert("mailbox".into(), toml::Value::Array(list));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    ProjectDir { dir, path }
}

fn cutover(p: &ProjectDir, args: &[&str]) -> Output {
    command(p, args).output().expect("run cutover")
}

fn command(p: &ProjectDir, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg(args[0]).arg(&p.path).args(&args[1..]);
    c.env(GRAPH_SRC.2, "secret-src")
        .env(GRAPH_DST.2, "secret-dst")
        .env(GMAIL.2, "secret-gmail");
    c
}

/// The scenario's common checks. `source` and `destination` give the content hashes each
/// side holds (a multiset: a message twice is listed twice); the destination must hold the
/// source's messages exactly once each, plus `dst_before` (what it held before).
fn run_scenario(
    p: &ProjectDir,
    source: &dyn Fn() -> Vec<String>,
    destination: &dyn Fn() -> Vec<String>,
    rebuilt_over: Option<u64>,
) {
    let dst_before = destination();
    let want_src = source();
    assert!(want_src.len() >= 20, "the scenario needs mail to move");
    // A run killed mid-way: costs a pause, never data.
    run_until_sigkill(&mut command(p, &["run"]), |t| {
        t >= Duration::from_millis(700)
    });

    let run = cutover(p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let mut want: Vec<String> = want_src.iter().chain(&dst_before).cloned().collect();
    want.sort();
    let mut have = destination();
    have.sort();
    let count = |v: &[String]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for h in v {
            *m.entry(h.clone()).or_default() += 1;
        }
        m
    };
    let (w, h) = (count(&want), count(&have));
    let mut missing: Vec<_> = w.iter().filter(|(k, n)| h.get(*k) < Some(n)).collect();
    let mut extra: Vec<_> = h.iter().filter(|(k, n)| w.get(*k) < Some(n)).collect();
    if let Some(limit) = rebuilt_over {
        // Messages too big for one request take Graph's JSON + upload-session path: rebuilt,
        // not byte-identical (README). Each must still be there once: one rebuilt item each.
        let big: usize = missing
            .iter()
            .filter(|(k, _)| size_of(k) > limit)
            .map(|(_, n)| **n)
            .sum();
        let rebuilt: usize = extra.iter().map(|(_, n)| **n).sum();
        if big == rebuilt {
            missing.retain(|(k, _)| size_of(k) <= limit);
            extra.clear();
        }
    }
    assert!(
        missing.is_empty() && extra.is_empty(),
        "destination differs from the source: {} missing {missing:?}, {} extra {extra:?} (of {})\n{}",
        missing.len(),
        extra.len(),
        want.len(),
        text(&run)
    );
    assert_eq!(source(), want_src, "the source was modified");
    let v = cutover(p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = cutover(p, &["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// The size in a "hash (N bytes)" entry.
fn size_of(entry: &str) -> u64 {
    entry
        .rsplit('(')
        .next()
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Above this raw size a message's base64 exceeds Graph's 4 MB request: the JSON path.
const GRAPH_MIME_MAX: u64 = 4 * 1024 * 1024 * 3 / 4;

/// All messages of a Dovecot user (hashes), optionally only some folders.
fn dovecot_hashes(d: &Dovecot, user: &str, pass: &str, only: Option<&[&str]>) -> Vec<String> {
    let dump = d.dump(user, pass);
    let mut v: Vec<String> = dump
        .folders
        .iter()
        .filter(|(f, _)| only.is_none_or(|o| o.contains(&f.as_str())))
        .flat_map(|(_, ms)| ms.iter().map(|m| format!("{} ({} bytes)", m.0, m.3)))
        .collect();
    v.sort();
    v
}

/// Every event and contact of a Radicale user as "dav COLLECTION UID sha256(normalised)", so
/// that the scenario's multiset check holds calendars and contacts to the same rule as mail:
/// each source item on the destination exactly once, with the same normalised content.
fn dav_entries(r: &Radicale, user: &str, pass: &str) -> Vec<String> {
    let mut v: Vec<String> = r
        .dump(user, pass, true)
        .iter()
        .map(|i: &DavItem| {
            format!(
                "dav {} {} {} (0 bytes)",
                i.collection,
                i.uid,
                sha256(i.content.as_bytes())
            )
        })
        .collect();
    v.sort();
    v
}

fn graph_hashes(c: &Cloud, upn: &str) -> Vec<String> {
    let mut v: Vec<String> = c
        .graph
        .mailbox(upn)
        .messages
        .iter()
        .map(|m| {
            let b = m.export();
            format!("{} ({} bytes)", sha256(&b), b.len())
        })
        .collect();
    v.sort();
    v
}

fn gmail_hashes(c: &Cloud, user: &str) -> Vec<String> {
    let mut v: Vec<String> = c
        .gmail
        .messages(user)
        .iter()
        .map(|(raw, _, _)| format!("{} ({} bytes)", sha256(raw), raw.len()))
        .collect();
    v.sort();
    v
}

/// Varied mail in a Graph mailbox, in nested and well-known folders, some read, some flagged.
fn seed_graph(c: &Cloud, upn: &str, n: usize) {
    let folders = ["Inbox", "Inbox", "Sent Items", "Projects/Alpha", "Archive"];
    for i in 0..n {
        let filler = "lorem ipsum dolor sit amet ".repeat(1 + (i * 37) % 300);
        let mime = format!(
            "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_{i}?=\r\n\
             Date: Mon, 6 May 2024 10:{:02}:00 +0200\r\nMessage-ID: <s{i}@{upn}>\r\n\r\n{filler}\r\n",
            i % 60
        );
        let received = format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
        c.graph.seed(
            upn,
            folders[i % folders.len()],
            mime.as_bytes(),
            i % 3 != 0,
            i % 5 == 0,
            &received,
        );
    }
}

#[test]
fn imap_to_m365() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("ann", "ann-pw")], &["--no-gmail"]);
    src.seed("ann", 160, 31, &[]);
    let c = cloud(&[("contoso", "ann@contoso.com")], &[]);
    let p = project(
        "imap-to-m365.toml",
        &At::Imap(&src),
        &At::Graph(&c, GRAPH_DST),
        &[(("ann", "ann-pw"), ("ann@contoso.com", ""))],
    );
    run_scenario(
        &p,
        &|| dovecot_hashes(&src, "ann", "ann-pw", None),
        &|| graph_hashes(&c, "ann@contoso.com"),
        Some(GRAPH_MIME_MAX),
    );
}

#[test]
fn exchange_to_m365() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[("ann", "ann-pw")], &["--no-gmail"]);
    src.seed("ann", 120, 32, &[]);
    let c = cloud(&[("contoso", "ann@contoso.com")], &[]);
    let p = project(
        "exchange-to-m365.toml",
        &At::Imap(&src),
        &At::Graph(&c, GRAPH_DST),
        &[(("ann", "ann-pw"), ("ann@contoso.com", ""))],
    );
    run_scenario(
        &p,
        &|| dovecot_hashes(&src, "ann", "ann-pw", None),
        &|| graph_hashes(&c, "ann@contoso.com"),
        Some(GRAPH_MIME_MAX),
    );
}

#[test]
fn pop3_to_m365() {
    let root = tmp();
    let src = Dovecot::start(
        root.path(),
        "src",
        &[("ann", "ann-pw")],
        &["--no-gmail", "--pop3-port", "auto"],
    );
    src.seed("ann", 200, 33, &[]);
    let c = cloud(&[("contoso", "ann@contoso.com")], &[]);
    let p = project(
        "pop3-to-m365.toml",
        &At::Pop3(&src),
        &At::Graph(&c, GRAPH_DST),
        &[(("ann", "ann-pw"), ("ann@contoso.com", ""))],
    );
    run_scenario(
        &p,
        &|| dovecot_hashes(&src, "ann", "ann-pw", Some(&["INBOX"])),
        &|| graph_hashes(&c, "ann@contoso.com"),
        Some(GRAPH_MIME_MAX),
    );
}

#[test]
fn m365_to_google_workspace() {
    let c = cloud(&[("fabrikam", "ann@fabrikam.com")], &["ann@example.com"]);
    seed_graph(&c, "ann@fabrikam.com", 90);
    let p = project(
        "m365-to-google-workspace.toml",
        &At::Graph(&c, GRAPH_SRC),
        &At::Gmail(&c),
        &[(("ann@fabrikam.com", ""), ("ann@example.com", ""))],
    );
    run_scenario(
        &p,
        &|| graph_hashes(&c, "ann@fabrikam.com"),
        &|| gmail_hashes(&c, "ann@example.com"),
        None,
    );
}

#[test]
fn m365_to_imap() {
    let root = tmp();
    let dst = Dovecot::start(root.path(), "dst", &[("ann", "ann-pw")], &["--no-gmail"]);
    let c = cloud(&[("fabrikam", "ann@fabrikam.com")], &[]);
    seed_graph(&c, "ann@fabrikam.com", 90);
    let p = project(
        "m365-to-imap.toml",
        &At::Graph(&c, GRAPH_SRC),
        &At::Imap(&dst),
        &[(("ann@fabrikam.com", ""), ("ann", "ann-pw"))],
    );
    run_scenario(
        &p,
        &|| graph_hashes(&c, "ann@fabrikam.com"),
        &|| dovecot_hashes(&dst, "ann", "ann-pw", None),
        None,
    );
}

#[test]
fn m365_tenant_to_tenant() {
    let c = cloud(
        &[
            ("fabrikam", "ann@fabrikam.com"),
            ("contoso", "ann@contoso.com"),
        ],
        &[],
    );
    seed_graph(&c, "ann@fabrikam.com", 90);
    // Calendars and contacts move with the mail: a weekly meeting series and two contacts.
    c.graph.seed_event(
        "ann@fabrikam.com",
        None,
        serde_json::json!({
            "subject": "Weekly sync",
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-02T09:30:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 10}
            },
            "attendees": [{"emailAddress": {"address": "bo@fabrikam.com", "name": "Bo"}, "type": "required"}],
        }),
    );
    for (name, mail) in [
        ("Ida Berg", "ida@example.com"),
        ("Jon Lund", "jon@example.com"),
    ] {
        c.graph.seed_contact(
            "ann@fabrikam.com",
            None,
            serde_json::json!({"displayName": name, "emailAddresses": [{"address": mail}]}),
            None,
        );
    }
    let p = project(
        "m365-tenant-to-tenant.toml",
        &At::Graph(&c, GRAPH_SRC),
        &At::Graph(&c, GRAPH_DST),
        &[(("ann@fabrikam.com", ""), ("ann@contoso.com", ""))],
    );
    run_scenario(
        &p,
        &|| graph_hashes(&c, "ann@fabrikam.com"),
        &|| graph_hashes(&c, "ann@contoso.com"),
        Some(GRAPH_MIME_MAX),
    );
    let mb = c.graph.mailbox("ann@contoso.com");
    let series: Vec<_> = mb
        .calendars
        .events
        .iter()
        .filter(|e| e.fields.get("subject") == Some(&serde_json::json!("Weekly sync")))
        .collect();
    assert_eq!(
        series.len(),
        1,
        "the series once: {:?}",
        mb.calendars.events
    );
    assert!(
        series[0]
            .fields
            .get("attendees")
            .is_none_or(|a| a.as_array().is_none_or(|a| a.is_empty())),
        "no Graph attendees on the destination: {:?}",
        series[0].fields
    );
    assert!(mb.calendars.outbox.is_empty(), "{:?}", mb.calendars.outbox);
    let mut names: Vec<String> = mb
        .contacts
        .contacts
        .iter()
        .filter_map(|c| c.fields.get("displayName")?.as_str().map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names, ["Ida Berg", "Jon Lund"]);
}

#[test]
fn imap_dav_to_imap_dav() {
    const SRC: (&str, &str) = ("ann", "ann-old-pw");
    const DST: (&str, &str) = ("ann", "ann-new-pw");
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[SRC], &["--no-gmail"]);
    let dst = Dovecot::start(root.path(), "dst", &[DST], &["--no-gmail"]);
    let src_dav = Radicale::start(root.path(), "src-dav", &[SRC]);
    let dst_dav = Radicale::start(root.path(), "dst-dav", &[DST]);
    src.seed(SRC.0, 60, 34, &[]);
    let seeded = src_dav.seed(SRC.0, SRC.1, Scale::Small);
    assert!(seeded.collection("work").items > 0 && seeded.collection("contacts").items > 0);
    // The new provider already holds some events and contacts of the user's own: kept.
    dst_dav.seed_with(DST.0, DST.1, Scale::Small, 77);
    let p = project(
        "imap-dav-to-imap-dav.toml",
        &At::ImapDav(&src, &src_dav),
        &At::ImapDav(&dst, &dst_dav),
        &[(SRC, DST)],
    );
    let both = |d: &Dovecot, r: &Radicale, (u, pw): (&str, &str)| {
        let mut v = dovecot_hashes(d, u, pw, None);
        v.extend(dav_entries(r, u, pw));
        v.sort();
        v
    };
    let source = both(&src, &src_dav, SRC);
    assert!(
        source.iter().filter(|e| e.starts_with("dav ")).count() >= 20,
        "the scenario needs events and contacts to move"
    );
    run_scenario(
        &p,
        &|| both(&src, &src_dav, SRC),
        &|| both(&dst, &dst_dav, DST),
        None,
    );
    let v = cutover(&p, &["verify"]);
    let out = stdout(&v);
    assert!(
        out.contains("calendar:work") && out.contains("contacts:contacts"),
        "verify names the calendars and address books it compared:\n{}",
        text(&v)
    );
}
