//! Microsoft 365 to Microsoft 365 at full fidelity (`graph_import = "export-import"`):
//! two tenants of the stateful fake Graph (tests/it/support/fake_cloud/graph_mailbox.rs:
//! the mailbox import/export API, opaque streams only the fake understands) with the real
//! `cutover` binary. Mail (a draft among it), meetings with attendees, a series with a
//! moved and a cancelled occurrence, and contacts with a photo land once each, as they were
//! (compared item for item on everything Graph keeps of them), through a lost import answer
//! and a kill -9; a re-run writes nothing; verify compares equal; rollback removes what
//! cutover imported; nobody is notified; the import URL's credential appears nowhere; a
//! refused import is reported naming the mailbox and what to do.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::{Cloud, token::Tokens};
use support::*;

const ANN: &str = "ann@contoso.com";
const ANN2: &str = "ann@fabrikam.com";
/// What every import URL of the fake carries (its credential).
const CREDENTIAL: &str = "eyJfakeImportCredential";
/// Messages in the Inbox: more than one export request (at most 20 items each).
const INBOX: usize = 23;

fn cloud(graph: FakeGraph) -> Cloud {
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("contoso", "app-1", "secret-1")
        .with_client("fabrikam", "app-2", "secret-2");
    Cloud::start(tokens, graph, |g| g)
}

fn endpoint(cloud: &Cloud, tenant: &str, app: &str, env: &str) -> toml::Table {
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

fn project(c: &Cloud) -> ProjectDir {
    let mut dst = endpoint(c, "fabrikam", "app-2", "CUTOVER_TEST_SECRET_2");
    dst.insert("graph_import".into(), "export-import".into());
    ProjectBuilder::new("graph-export-import")
        .set("project.items", vec!["mail", "calendar", "contacts"])
        .source(endpoint(c, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"))
        .destination(dst)
        .mailbox(project::mailbox(
            None,
            project::user(ANN),
            project::user(ANN2),
        ))
        .create()
}

fn command(p: &ProjectDir, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg(args[0]).arg(&p.path).args(&args[1..]);
    c.env("CUTOVER_TEST_SECRET_1", "secret-1")
        .env("CUTOVER_TEST_SECRET_2", "secret-2");
    c
}

fn cutover(p: &ProjectDir, args: &[&str]) -> Output {
    let out = command(p, args).output().expect("run cutover");
    assert!(
        !text(&out).contains(CREDENTIAL),
        "the import URL's credential was printed: {}",
        text(&out)
    );
    out
}

/// A Microsoft 365 mailbox of its own making: mail in nested folders (read, flagged), a
/// draft with categories, a weekly series with a moved and a cancelled occurrence, a
/// meeting with attendees and their responses, an all-day event with an attachment in
/// another calendar, contacts (one with a photo) in the default folder and another one.
/// How many items it holds.
fn seed(g: &FakeGraph, upn: &str) -> usize {
    for i in 0..INBOX {
        let mime = format!(
            "From: ann@contoso.com\r\nTo: bob@example.org\r\nSubject: note {i}\r\nDate: Mon, 6 May 2024 10:{i:02}:00 +0000\r\nMessage-ID: <x{i}@contoso.com>\r\n\r\nbody {i}\r\n"
        );
        g.seed(
            upn,
            "Inbox",
            mime.as_bytes(),
            i % 3 != 0,
            i % 5 == 0,
            &format!("2024-05-06T10:{i:02}:00Z"),
        );
    }
    g.seed(
        upn,
        "Projects/Alpha",
        b"From: dan@partner.example\r\nSubject: alpha\r\nMessage-ID: <alpha@partner.example>\r\n\r\nplan\r\n",
        false,
        true,
        "2024-04-01T09:00:00Z",
    );
    g.seed_draft(upn, "Offer (draft)", "Dear Bob, ...", &["Sales", "Red"]);
    let series = g.seed_event(
        upn,
        None,
        json!({
            "subject": "Jour fixe",
            "body": {"contentType": "text", "content": "Agenda"},
            "start": {"dateTime": "2026-03-16T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-16T11:00:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                "range": {"type": "numbered", "startDate": "2026-03-16", "numberOfOccurrences": 6, "recurrenceTimeZone": "W. Europe Standard Time"}
            },
            "categories": ["Büro"],
            "attendees": [
                {"emailAddress": {"address": "bob@contoso.com", "name": "Bob"}, "type": "required", "status": {"response": "accepted"}},
                {"emailAddress": {"address": "eve@partner.example", "name": "Eve"}, "type": "optional", "status": {"response": "declined"}}
            ],
        }),
    );
    g.seed_exception(
        upn,
        &series,
        "2026-03-23T09:00:00",
        json!({"subject": "Jour fixe (moved)", "start": {"dateTime": "2026-03-24T14:00:00", "timeZone": "W. Europe Standard Time"}, "end": {"dateTime": "2026-03-24T15:00:00", "timeZone": "W. Europe Standard Time"}}),
    );
    g.seed_cancel(upn, &series, "2026-03-30T08:00:00");
    g.seed_event(
        upn,
        None,
        json!({
            "subject": "Partner review",
            "start": {"dateTime": "2026-06-11T10:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2026-06-11T11:00:00", "timeZone": "Eastern Standard Time"},
            "organizer": {"emailAddress": {"address": "dan@partner.example", "name": "Dan"}},
            "attendees": [
                {"emailAddress": {"address": upn, "name": "Me"}, "type": "required", "status": {"response": "tentativelyAccepted"}}
            ],
        }),
    );
    g.seed_calendar(upn, "Projects");
    let all_day = g.seed_event(
        upn,
        Some("Projects"),
        json!({
            "subject": "Kick-off",
            "start": {"dateTime": "2026-10-05T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-06T00:00:00", "timeZone": "UTC"},
            "isAllDay": true, "showAs": "free",
        }),
    );
    g.seed_event_attachment(upn, &all_day, "plan.txt", "text/plain", b"agenda");
    g.seed_contact(
        upn,
        None,
        json!({"displayName": "Zoë Ångström", "givenName": "Zoë", "surname": "Ångström",
               "emailAddresses": [{"address": "zoe@example.org", "name": "Zoë"}],
               "categories": ["Family"]}),
        Some(("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9])),
    );
    let book = g.seed_contact_folder(upn, "Suppliers");
    g.seed_contact(
        upn,
        Some(&book),
        json!({"displayName": "Acme Sales", "companyName": "Acme, Inc.",
               "businessPhones": ["+1 555 0100"]}),
        None,
    );
    INBOX + 1 + 1 + 3 + 2
}

/// Every item of a mailbox as Graph keeps it, ids left out (they are the mailbox's own),
/// with the name of the folder it is in; sorted.
fn items(c: &Cloud, upn: &str) -> Vec<String> {
    let mb = c.graph.mailbox(upn);
    let mut out = Vec::new();
    for m in &mb.messages {
        let mut m = m.clone();
        let path = mb.path(&m.folder);
        m.id.clear();
        m.folder.clear();
        out.push(format!("mail {path}: {m:?}"));
    }
    for e in &mb.calendars.events {
        let mut e = e.clone();
        let cal = mb
            .calendars
            .calendars
            .iter()
            .find(|x| x.id == e.calendar)
            .map(|x| x.name.clone())
            .unwrap_or_default();
        e.id.clear();
        e.calendar.clear();
        for (id, _) in e.exceptions.values_mut() {
            id.clear();
        }
        for a in &mut e.attachments {
            a.id.clear();
        }
        out.push(format!("event {cal}: {e:?}"));
    }
    for k in &mb.contacts.contacts {
        let mut k = k.clone();
        let book = match &k.folder {
            None => "Contacts".to_string(),
            Some(id) => mb
                .contacts
                .folders
                .iter()
                .find(|f| &f.id == id)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
        };
        k.id.clear();
        k.folder = None;
        out.push(format!("contact {book}: {k:?}"));
    }
    out.sort();
    out
}

/// No file cutover wrote (logs, journal, reports) holds the import URL's credential.
fn assert_credential_nowhere(dir: &Path) {
    let files = walkdir(dir);
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("cutover-logs")),
        "the log files are looked at: {files:?}"
    );
    for entry in files {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes
                .windows(CREDENTIAL.len())
                .any(|w| w == CREDENTIAL.as_bytes()),
            "{} holds the import URL's credential",
            entry.display()
        );
    }
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn assert_outbox_empty(c: &Cloud) {
    for u in [ANN, ANN2] {
        let out = c.graph.mailbox(u).calendars.outbox;
        assert!(out.is_empty(), "{u} would have notified people: {out:?}");
    }
}

#[test]
fn graph_to_graph_export_import_moves_everything_as_it_was_once_through_a_kill_and_a_lost_answer() {
    let graph = FakeGraph::new(GraphConfig {
        latency: Duration::from_millis(10),
        ..GraphConfig::default()
    })
    .with_mailbox("contoso", ANN)
    .with_mailbox("fabrikam", ANN2);
    let c = cloud(graph);
    let total = seed(&c.graph, ANN);
    let source = items(&c, ANN);
    let p = project(&c);
    let check = cutover(&p, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let shown = stdout(&check);
    assert!(
        shown.contains("graph_import=export-import")
            && shown
                .contains("MailboxFolder.Read.All, MailboxItem.Read.All, MailboxItem.Export.All")
            && shown.contains(
                "MailboxFolder.Read.All, MailboxItem.ReadWrite.All, MailboxItem.ImportExport.All"
            ),
        "check names the import/export permissions: {shown}"
    );
    let plan = cutover(&p, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    // Both sides throttle a little (429 with Retry-After, waited out, nothing lost).
    c.graph.throttle_next(ANN, 2);
    c.graph.throttle_next(ANN2, 2);
    // The first import is performed but its answer lost; then a kill -9 mid-copy.
    c.graph.lose_import_answers(ANN2, 1);
    let g = c.graph.clone();
    let killed = run_until_sigkill(&mut command(&p, &["run"]), |_| g.xstats().imports >= 8);
    assert!(killed, "the kill landed inside the copy");
    // At debug level too, nothing may log the import URL.
    let mut last = command(&p, &["run"])
        .env("CUTOVER_LOG", "debug")
        .output()
        .unwrap();
    assert!(!text(&last).contains(CREDENTIAL), "{}", text(&last));
    if last.status.code() != Some(0) {
        // The lost answer may have been met by this run rather than the killed one.
        last = cutover(&p, &["run"]);
    }
    assert_eq!(last.status.code(), Some(0), "{}", text(&last));
    assert!(c.graph.stats().throttled >= 4, "{:?}", c.graph.stats());
    let x = c.graph.xstats();
    assert_eq!(
        x.imports as usize, total,
        "each item imported exactly once (a lost answer and a kill in between)"
    );
    assert!(x.largest_export <= 20 && x.largest_export >= 2, "{x:?}");
    assert_eq!(x.import_with_auth, 0, "the import URL is preauthenticated");
    assert_eq!(items(&c, ANN2), source, "every item arrived as it was");
    assert_eq!(items(&c, ANN), source, "the source is untouched");
    assert!(
        c.graph
            .mailbox(ANN2)
            .messages
            .iter()
            .any(|m| m.is_draft && m.via == "json"),
        "the draft is still a draft"
    );
    assert_outbox_empty(&c);
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    assert_eq!(
        c.graph.xstats().imports as usize,
        total,
        "a re-run writes nothing"
    );
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // Mail that arrives on the source afterwards: the next run imports it alone.
    c.graph.seed(
        ANN,
        "Inbox",
        b"From: dan@partner.example\r\nSubject: late\r\nMessage-ID: <late@partner.example>\r\n\r\nlate\r\n",
        false,
        false,
        "2024-07-01T09:00:00Z",
    );
    let late = cutover(&p, &["run"]);
    assert_eq!(late.status.code(), Some(0), "{}", text(&late));
    assert_eq!(c.graph.xstats().imports as usize, total + 1);
    assert_eq!(items(&c, ANN2), items(&c, ANN));
    // A delta pass imports what arrived since, and only that.
    c.graph.seed(
        ANN,
        "Projects/Alpha",
        b"From: dan@partner.example\r\nSubject: later still\r\nMessage-ID: <later@partner.example>\r\n\r\nx\r\n",
        true,
        false,
        "2024-07-02T09:00:00Z",
    );
    let pass = cutover(&p, &["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    assert_eq!(
        c.graph.xstats().imports as usize,
        total + 2,
        "{}",
        text(&pass)
    );
    assert_eq!(items(&c, ANN2), items(&c, ANN));
    let quiet = cutover(&p, &["sync"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert_eq!(
        c.graph.xstats().imports as usize,
        total + 2,
        "{}",
        text(&quiet)
    );
    assert_credential_nowhere(p.dir.path());
    let rb = cutover(&p, &["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let mb = c.graph.mailbox(ANN2);
    assert!(
        mb.messages.is_empty() && mb.calendars.events.is_empty() && mb.contacts.contacts.is_empty(),
        "rollback removes what cutover imported: {:?}",
        items(&c, ANN2)
    );
    assert_outbox_empty(&c);
    assert_credential_nowhere(p.dir.path());
}

#[test]
fn a_refused_import_names_the_mailbox_and_what_to_do_and_imports_nothing() {
    refused(false);
}

#[test]
fn a_refused_import_session_names_the_mailbox_and_what_to_do_and_imports_nothing() {
    refused(true);
}

/// The destination refuses the import session, or each import (as another tenant might).
fn refused(session: bool) {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ANN)
        .with_mailbox("fabrikam", ANN2);
    let c = cloud(graph);
    seed(&c.graph, ANN);
    if session {
        c.graph.refuse_import_sessions(ANN2);
    } else {
        c.graph.refuse_imports(ANN2);
    }
    let p = project(&c);
    let run = cutover(&p, &["run"]);
    assert_ne!(run.status.code(), Some(0), "{}", text(&run));
    let issues = cutover(&p, &["report", "--kind", "daily"]);
    let said = format!("{}\n{}", text(&run), text(&issues));
    assert!(
        said.contains(ANN2) && said.contains("refused the import"),
        "the refusal names the mailbox: {said}"
    );
    assert!(
        said.contains("graph_import = \"mime\"") && said.contains("cross-tenant"),
        "and says what to do: {said}"
    );
    assert!(c.graph.xstats().refused >= 1);
    assert_eq!(c.graph.xstats().imports, 0);
    assert!(items(&c, ANN2).is_empty(), "nothing was imported");
    assert_credential_nowhere(p.dir.path());
}

#[test]
fn export_import_needs_a_graph_source() {
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("fabrikam", ANN2);
    let c = cloud(graph);
    let mut dst = endpoint(&c, "fabrikam", "app-2", "CUTOVER_TEST_SECRET_2");
    dst.insert("graph_import".into(), "export-import".into());
    let p = ProjectBuilder::new("graph-export-import-imap")
        .source(project::imap(1))
        .destination(dst)
        .mailbox(project::mailbox(
            None,
            project::login("ann", "pw"),
            project::user(ANN2),
        ))
        .create();
    let check = cutover(&p, &["check"]);
    assert_ne!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).contains("the source must be kind = \"graph\""),
        "{}",
        text(&check)
    );
}

#[test]
fn an_expired_import_session_is_renewed_and_nothing_is_lost_or_doubled() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ANN)
        .with_mailbox("fabrikam", ANN2);
    let c = cloud(graph);
    let total = seed(&c.graph, ANN);
    c.graph.expire_import_sessions_after(4);
    let p = project(&c);
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let x = c.graph.xstats();
    assert!(x.expired >= 1, "a credential expired mid-run: {x:?}");
    assert!(x.sessions as usize >= total / 4, "{x:?}");
    assert_eq!(x.imports as usize, total, "{x:?}");
    assert_eq!(items(&c, ANN2), items(&c, ANN));
    assert_outbox_empty(&c);
    assert_credential_nowhere(p.dir.path());
}

#[test]
fn an_item_exchange_refuses_is_failed_alone_and_the_rest_arrives() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ANN)
        .with_mailbox("fabrikam", ANN2);
    let c = cloud(graph);
    for (i, extra) in ["", "X-Fake-Import: refuse\r\n", ""].iter().enumerate() {
        let mime =
            format!("Subject: m{i}\r\nMessage-ID: <m{i}@contoso.com>\r\n{extra}\r\nbody\r\n");
        c.graph.seed(
            ANN,
            "Inbox",
            mime.as_bytes(),
            true,
            false,
            &format!("2024-05-0{}T10:00:00Z", i + 1),
        );
    }
    let p = project(&c);
    p.edit(|b| b.set("project.items", vec!["mail"]));
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
    assert_eq!(c.graph.xstats().imports, 2);
    let failed: Vec<String> = p
        .journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "failed")
        .map(|m| m.reason.unwrap_or_default())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("Exchange refused to import the item"),
        "{failed:?}"
    );
    // The next run does not send it again blindly, nor the others.
    let again = cutover(&p, &["run"]);
    assert_eq!(again.status.code(), Some(6), "{}", text(&again));
    assert_eq!(c.graph.xstats().imports, 2);
}

/// The shipped example (examples/m365-tenant-to-tenant.toml) with its commented
/// `graph_import = "export-import"` line taken: its presets and items as shipped, pointed at
/// the fake's two tenants.
#[test]
fn the_tenant_to_tenant_example_with_export_import_moves_everything_as_it_was() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ANN)
        .with_mailbox("fabrikam", ANN2);
    let c = cloud(graph);
    seed(&c.graph, ANN);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/m365-tenant-to-tenant.toml");
    let shipped = std::fs::read_to_string(&file).unwrap();
    assert!(
        shipped.contains("# graph_import = \"export-import\""),
        "the example offers the line"
    );
    let taken = shipped.replace(
        "# graph_import = \"export-import\"",
        "graph_import = \"export-import\"",
    );
    let mut doc: toml::Table = toml::from_str(&taken).unwrap();
    for (side, t) in [
        (
            "source",
            endpoint(&c, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"),
        ),
        (
            "destination",
            endpoint(&c, "fabrikam", "app-2", "CUTOVER_TEST_SECRET_2"),
        ),
    ] {
        let e = doc[side].as_table_mut().unwrap();
        for (k, v) in t {
            e.insert(k, v);
        }
    }
    doc["project"]
        .as_table_mut()
        .unwrap()
        .insert("state".into(), "state.sqlite".into());
    doc.insert(
        "mailbox".into(),
        toml::Value::Array(vec![toml::Value::Table(toml::toml! {
            batch = "pilot"
            source = { user = ANN }
            destination = { user = ANN2 }
        })]),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m365-tenant-to-tenant.toml");
    std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    let p = ProjectDir { dir, path };
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(items(&c, ANN2), items(&c, ANN), "{}", text(&run));
    assert_outbox_empty(&c);
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// The fake keeps the documented contract, not the client's assumptions.
#[tokio::test]
async fn the_fake_keeps_the_import_export_contract() {
    const BOB: &str = "bob@contoso.com";
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ANN)
        .with_mailbox("contoso", BOB);
    let id = graph.seed(
        ANN,
        "Inbox",
        b"Subject: hi\r\nMessage-ID: <hi@contoso.com>\r\n\r\nhi\r\n",
        true,
        false,
        "2024-05-06T10:00:00Z",
    );
    let c = cloud(graph);
    let http = reqwest::Client::new();
    let tok: serde_json::Value = http
        .post(format!("{}/contoso/oauth2/v2.0/token", c.url()))
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
    let admin = |upn: &str, rest: &str| {
        format!("{}/beta/admin/exchange/mailboxes/MBX:{upn}{rest}", c.url())
    };
    let mbx: serde_json::Value = http
        .get(format!("{}/v1.0/users/{ANN}/settings/exchange", c.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mbx["primaryMailboxId"], format!("MBX:{ANN}"));
    // More than 20 ids in one export: 400.
    let many: Vec<String> = (0..21).map(|_| id.clone()).collect();
    let r = http
        .post(admin(ANN, "/exportItems"))
        .bearer_auth(&token)
        .json(&json!({ "itemIds": many }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r: serde_json::Value = http
        .post(admin(ANN, "/exportItems"))
        .bearer_auth(&token)
        .json(&json!({ "itemIds": [id, "nope"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = r["value"][0]["data"].as_str().unwrap().to_string();
    assert_eq!(r["value"][1]["error"]["code"], "ErrorItemNotFound");
    let s: serde_json::Value = http
        .post(admin(BOB, "/createImportSession"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = s["importUrl"].as_str().unwrap().to_string();
    assert!(url.contains("authtoken=") && s["expirationDateTime"].is_string());
    let inbox = c.graph.mailbox(BOB).well_known("inbox").unwrap().id.clone();
    let post = |url: String, body: serde_json::Value| {
        let http = http.clone();
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    // Update mode, or data that was never exported: 400; a wrong credential: 401.
    let r = post(
        url.clone(),
        json!({"FolderId": inbox, "Mode": "update", "Data": data}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = post(
        url.clone(),
        json!({"FolderId": inbox, "Mode": "create", "Data": "AAAA"}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let forged = format!("{}x", url);
    let r = post(
        forged,
        json!({"FolderId": inbox, "Mode": "create", "Data": data}),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r: serde_json::Value = post(
        url.clone(),
        json!({"FolderId": inbox, "Mode": "create", "Data": data}),
    )
    .await
    .json()
    .await
    .unwrap();
    let new = r["itemId"].as_str().unwrap().to_string();
    // The import re-created the item exactly, with the source's search key.
    let (a, b) = (c.graph.mailbox(ANN), c.graph.mailbox(BOB));
    let (src, dst) = (
        a.messages.iter().find(|m| m.id == id).unwrap(),
        b.messages.iter().find(|m| m.id == new).unwrap(),
    );
    assert_eq!(
        (&src.mime, src.is_read, &src.received),
        (&dst.mime, dst.is_read, &dst.received)
    );
    let key = |upn: &str, folder: String| {
        let http = http.clone();
        let token = token.clone();
        let url = admin(upn, &format!("/folders/{folder}/items"));
        async move {
            let v: serde_json::Value = http
                .get(url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["value"][0]["singleValueExtendedProperties"][0]["value"].clone()
        }
    };
    let src_inbox = a.well_known("inbox").unwrap().id.clone();
    assert_eq!(key(ANN, src_inbox).await, key(BOB, inbox).await);
    assert_eq!(c.graph.xstats().import_with_auth, 0);
}
