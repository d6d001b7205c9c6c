//! Google Workspace to Microsoft 365 with mail, calendars and contacts, run from its example
//! project (examples/google-workspace-to-m365.toml; issue 16, item 5's Google half): the file
//! is loaded as is, its endpoints pointed at the fakes (Gmail, Calendar and People APIs with
//! a service account; Microsoft Graph) and its mailbox replaced. A run killed with SIGKILL,
//! a run to completion: every message on Microsoft 365 exactly once and byte for byte, every
//! event series once with its moved and cancelled occurrences, every contact once, nobody
//! notified; `verify`; a re-run that writes nothing.

use crate::google_calendar::{GUSER, SA, sa_file, sa_key, tmp};
use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::fake_cloud::FakeCloud;
use support::fake_cloud::gmail::Gmail;
use support::fake_cloud::google_calendar::{CALENDAR_READ_SCOPE, GoogleCalendar};
use support::fake_cloud::google_people::{CONTACTS_READ_SCOPE, GooglePeople, OTHER_CONTACTS_SCOPE};
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::token::Tokens;
use support::*;

const ANN: &str = "ann@contoso.com";
const SECRET_ENV: &str = "CONTOSO_GRAPH_SECRET";

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(b))
}

#[test]
fn google_workspace_to_m365_mail_calendars_contacts_from_the_example() {
    let dir = tmp();
    let (key, public) = sa_key(dir.path());
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("contoso", "app-dst", "secret-dst")
        .with_service_account(
            SA,
            &public,
            &[
                "https://www.googleapis.com/auth/gmail.modify",
                "https://www.googleapis.com/auth/gmail.labels",
                "https://www.googleapis.com/auth/gmail.insert",
                CALENDAR_READ_SCOPE,
                CONTACTS_READ_SCOPE,
                OTHER_CONTACTS_SCOPE,
            ],
        )
        .with_user(GUSER);
    let graph = Arc::new(
        FakeGraph::new(GraphConfig {
            latency: Duration::from_millis(5),
            ..GraphConfig::default()
        })
        .with_mailbox("contoso", ANN),
    );
    let (mut gm, mut cal, mut people) = (None, None, None);
    let cloud = FakeCloud::start_with(tokens, |t| {
        let m = Arc::new(Gmail::new(t.clone()).with_user(GUSER));
        let c = Arc::new(GoogleCalendar::new(t.clone()).with_user(GUSER));
        let p = Arc::new(GooglePeople::new(t.clone()).with_user(GUSER));
        gm = Some(m.clone());
        cal = Some(c.clone());
        people = Some(p.clone());
        support::fake_cloud::graph::router(graph.clone(), t)
            .merge(support::fake_cloud::gmail::router(m))
            .merge(support::fake_cloud::google_calendar::router(c))
            .merge(support::fake_cloud::google_people::router(p))
    });
    let (gm, cal, people) = (gm.unwrap(), cal.unwrap(), people.unwrap());
    let sa = sa_file(dir.path(), &key, &cloud);
    // Mail: inbox, sent and a user label, one message each.
    let work = gm.add_label(GUSER, "Work");
    let mut want = Vec::new();
    for i in 0..30 {
        let raw = format!(
            "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: Note {i}\r\nDate: Mon, 6 May 2024 10:{:02}:00 +0200\r\nMessage-ID: <g{i}@example.com>\r\n\r\n{}\r\n",
            i % 60,
            "text ".repeat(1 + i * 13 % 200)
        );
        let label = ["INBOX", "SENT", work.as_str()][i % 3];
        gm.add_message(
            GUSER,
            raw.as_bytes(),
            &[label],
            1_714_982_400_000 + i as i64 * 60_000,
        );
        want.push(sha(raw.as_bytes()));
    }
    want.sort();
    // A weekly series with a moved and a cancelled occurrence; a contact.
    cal.seed(
        GUSER,
        GUSER,
        json!({"iCalUID": "series-1@google.com", "summary": "Weekly",
        "start": {"dateTime": "2026-02-16T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-02-16T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"],
        "attendees": [{"email": "bo@example.net", "responseStatus": "accepted"}]}),
    );
    cal.seed(
        GUSER,
        GUSER,
        json!({"iCalUID": "series-1@google.com", "summary": "Weekly (moved)",
        "originalStartTime": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Berlin"},
        "start": {"dateTime": "2026-03-03T14:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-03T15:00:00", "timeZone": "Europe/Berlin"}}),
    );
    cal.seed(
        GUSER,
        GUSER,
        json!({"iCalUID": "series-1@google.com", "status": "cancelled",
        "originalStartTime": {"dateTime": "2026-03-09T09:00:00", "timeZone": "Europe/Berlin"}}),
    );
    people.seed(
        GUSER,
        json!({"names": [{"displayName": "Ida Berg", "familyName": "Berg", "givenName": "Ida"}],
        "emailAddresses": [{"value": "ida@example.com", "type": "work"}]}),
    );

    // The example, pointed at the fakes.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/google-workspace-to-m365.toml");
    let mut doc: toml::Table = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let url = cloud.url();
    {
        let src = doc["source"].as_table_mut().unwrap();
        src.insert("api_url".into(), url.clone().into());
        let o = src["oauth"].as_table_mut().unwrap();
        o.insert(
            "service_account_file".into(),
            sa.display().to_string().into(),
        );
        let dst = doc["destination"].as_table_mut().unwrap();
        dst.insert("api_url".into(), url.clone().into());
        let o = dst["oauth"].as_table_mut().unwrap();
        o.insert("tenant".into(), "contoso".into());
        o.insert("client_id".into(), "app-dst".into());
        o.insert(
            "token_url".into(),
            format!("{url}/contoso/oauth2/v2.0/token").into(),
        );
        let p = doc["project"].as_table_mut().unwrap();
        p.insert("state".into(), "state.sqlite".into());
    }
    let mut m = toml::Table::new();
    m.insert("batch".into(), "pilot".into());
    m.insert("source".into(), toml::Value::Table(project::user(GUSER)));
    m.insert("destination".into(), toml::Value::Table(project::user(ANN)));
    doc.insert(
        "mailbox".into(),
        toml::Value::Array(vec![toml::Value::Table(m)]),
    );
    let pdir = tmp();
    let path = pdir.path().join("google-workspace-to-m365.toml");
    std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(bin())
            .arg(args[0])
            .arg(&path)
            .args(&args[1..])
            .env(SECRET_ENV, "secret-dst")
            .output()
            .unwrap()
    };
    let mut first = Command::new(bin());
    first.arg("run").arg(&path).env(SECRET_ENV, "secret-dst");
    let g = graph.clone();
    assert!(
        run_until_sigkill(&mut first, |_| g.mailbox(ANN).messages.len() >= 5),
        "killed during the copy"
    );
    let done = run(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let mb = graph.mailbox(ANN);
    let mut have: Vec<String> = mb.messages.iter().map(|m| sha(&m.export())).collect();
    have.sort();
    assert_eq!(have, want, "every message exactly once, byte for byte");
    let events = &mb.calendars.events;
    assert_eq!(events.len(), 1, "one series");
    assert_eq!(events[0].exceptions.len(), 1);
    assert_eq!(events[0].cancelled.len(), 1);
    assert!(mb.calendars.outbox.is_empty(), "{:?}", mb.calendars.outbox);
    assert_eq!(mb.contacts.contacts.len(), 1);
    assert_eq!(
        cal.calls_of("events.import") + cal.calls_of("events.insert"),
        0
    );
    let v = run(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = run(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

/// Microsoft 365 to Google Workspace with mail, calendars and contacts, from its example
/// (examples/m365-to-google-workspace.toml) with `items` set as its comment says: killed
/// once, completed, every message once byte for byte, the meeting series imported once with
/// its moved occurrence and its cancelled one as an EXDATE, the contacts once, nobody
/// notified (the Calendar fake's outbox and Graph's), `verify`, a re-run writing nothing.
#[test]
fn m365_to_google_workspace_mail_calendars_contacts_from_the_example() {
    use support::fake_cloud::google_calendar::CALENDAR_SCOPE;
    use support::fake_cloud::google_people::CONTACTS_SCOPE;
    const SRC: &str = "ann@fabrikam.com";
    const SRC_ENV: &str = "CONTOSO_GRAPH_SECRET";
    let dir = tmp();
    let (key, public) = sa_key(dir.path());
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("fabrikam", "app-src", "secret-src")
        .with_service_account(
            SA,
            &public,
            &[
                "https://www.googleapis.com/auth/gmail.modify",
                "https://www.googleapis.com/auth/gmail.labels",
                "https://www.googleapis.com/auth/gmail.insert",
                CALENDAR_SCOPE,
                CONTACTS_SCOPE,
            ],
        )
        .with_user(GUSER);
    let graph = Arc::new(FakeGraph::new(GraphConfig::default()).with_mailbox("fabrikam", SRC));
    let (mut gm, mut cal, mut people) = (None, None, None);
    let cloud = FakeCloud::start_with(tokens, |t| {
        let m = Arc::new(
            Gmail::new(t.clone())
                .with_user(GUSER)
                .with_import_delay(Duration::from_millis(20)),
        );
        let c = Arc::new(GoogleCalendar::new(t.clone()).with_user(GUSER));
        let p = Arc::new(GooglePeople::new(t.clone()).with_user(GUSER));
        gm = Some(m.clone());
        cal = Some(c.clone());
        people = Some(p.clone());
        support::fake_cloud::graph::router(graph.clone(), t)
            .merge(support::fake_cloud::gmail::router(m))
            .merge(support::fake_cloud::google_calendar::router(c))
            .merge(support::fake_cloud::google_people::router(p))
    });
    let (gm, cal, people) = (gm.unwrap(), cal.unwrap(), people.unwrap());
    let sa = sa_file(dir.path(), &key, &cloud);
    let mut want = Vec::new();
    for i in 0..30 {
        let mime = format!(
            "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: M {i}\r\nDate: Mon, 6 May 2024 10:{:02}:00 +0200\r\nMessage-ID: <m{i}@fabrikam.com>\r\n\r\n{}\r\n",
            i % 60,
            "lorem ".repeat(1 + i * 17 % 200)
        );
        let folder = ["Inbox", "Sent Items", "Projects/Alpha"][i % 3];
        graph.seed(
            SRC,
            folder,
            mime.as_bytes(),
            i % 2 == 0,
            i % 5 == 0,
            "2024-05-06T08:00:00Z",
        );
        want.push(sha(mime.as_bytes()));
    }
    want.sort();
    let series = graph.seed_event(
        SRC,
        None,
        json!({
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
    graph.seed_exception(
        SRC,
        &series,
        "2026-03-16T08:00:00",
        json!({"subject": "Weekly sync (moved)",
            "start": {"dateTime": "2026-03-17T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-17T10:30:00", "timeZone": "W. Europe Standard Time"}}),
    );
    graph.seed_cancel(SRC, &series, "2026-03-23T08:00:00");
    for (name, mail) in [
        ("Ida Berg", "ida@example.com"),
        ("Jon Lund", "jon@example.com"),
    ] {
        graph.seed_contact(
            SRC,
            None,
            json!({"displayName": name, "emailAddresses": [{"address": mail}]}),
            None,
        );
    }

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/m365-to-google-workspace.toml");
    let mut doc: toml::Table = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let url = cloud.url();
    {
        let p = doc["project"].as_table_mut().unwrap();
        p.insert("state".into(), "state.sqlite".into());
        // As the example's comment 5 says.
        p.insert(
            "items".into(),
            toml::Value::Array(vec!["mail".into(), "calendar".into(), "contacts".into()]),
        );
        let src = doc["source"].as_table_mut().unwrap();
        src.insert("api_url".into(), url.clone().into());
        let o = src["oauth"].as_table_mut().unwrap();
        o.insert("tenant".into(), "fabrikam".into());
        o.insert("client_id".into(), "app-src".into());
        o.insert(
            "token_url".into(),
            format!("{url}/fabrikam/oauth2/v2.0/token").into(),
        );
        let dst = doc["destination"].as_table_mut().unwrap();
        dst.insert("api_url".into(), url.clone().into());
        let o = dst["oauth"].as_table_mut().unwrap();
        o.insert(
            "service_account_file".into(),
            sa.display().to_string().into(),
        );
    }
    let mut m = toml::Table::new();
    m.insert("batch".into(), "pilot".into());
    m.insert("source".into(), toml::Value::Table(project::user(SRC)));
    m.insert(
        "destination".into(),
        toml::Value::Table(project::user(GUSER)),
    );
    doc.insert(
        "mailbox".into(),
        toml::Value::Array(vec![toml::Value::Table(m)]),
    );
    let pdir = tmp();
    let path = pdir.path().join("m365-to-google-workspace.toml");
    std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(bin())
            .arg(args[0])
            .arg(&path)
            .args(&args[1..])
            .env(SRC_ENV, "secret-src")
            .output()
            .unwrap()
    };
    let mut first = Command::new(bin());
    first.arg("run").arg(&path).env(SRC_ENV, "secret-src");
    let g = gm.clone();
    assert!(
        run_until_sigkill(&mut first, |_| g.messages(GUSER).len() >= 5),
        "killed during the copy"
    );
    let done = run(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let mut have: Vec<String> = gm
        .messages(GUSER)
        .iter()
        .map(|(raw, _, _)| sha(raw))
        .collect();
    have.sort();
    assert_eq!(have, want, "every message exactly once, byte for byte");
    let events = cal.user(GUSER).calendar("primary").events.clone();
    assert_eq!(
        events.len(),
        2,
        "the series and its moved occurrence: {events:?}"
    );
    let master = events
        .iter()
        .find(|e| e["originalStartTime"].is_null())
        .unwrap();
    assert!(
        master["recurrence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("EXDATE")),
        "{master}"
    );
    assert!(
        cal.user(GUSER).outbox.is_empty(),
        "{:?}",
        cal.user(GUSER).outbox
    );
    assert_eq!(cal.calls_of("events.insert"), 0);
    assert!(graph.mailbox(SRC).calendars.outbox.is_empty());
    assert_eq!(people.user(GUSER).contacts.len(), 2);
    let v = run(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = run(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}
