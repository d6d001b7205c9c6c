//! Calendars to and from Microsoft 365 through Graph: a real Dovecot + Radicale (IMAP +
//! CalDAV) on one side, the stateful fake Graph (tests/it/support/fake_cloud/
//! graph_calendar.rs) on the other, with the real `cutover` binary. Every series lands once
//! with its exceptions and cancelled occurrences at the right instants (time zones, DST),
//! after a kill -9 too; a re-run writes nothing; verify compares equal; rollback removes
//! exactly what cutover created; and the fake's outbox of invitations, updates and
//! cancellations stays empty in every test (a naive create proves it would not).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use support::dav::{DavItem, Radicale, Scale};
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::graph_calendar::FakeEvent;
use support::fake_cloud::{Cloud, token::Tokens};
use support::*;

const ALICE: &str = "alice@contoso.com";
const BOB: &str = "bob@fabrikam.com";
const SRC: (&str, &str) = ("alice", "src-pw");
const UID_PROP: &str = "cutoverEventUid";
const ICAL_PROP: &str = "cutoverIcal";

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-graph-calendar")
        .tempdir()
        .unwrap()
}

fn cloud(graph: FakeGraph) -> Cloud {
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("contoso", "app-1", "secret-1")
        .with_client("fabrikam", "app-2", "secret-2");
    Cloud::start(tokens, graph, |g| g)
}

fn tenant_endpoint(cloud: &Cloud, tenant: &str, app: &str, env: &str) -> toml::Table {
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

fn graph_endpoint(cloud: &Cloud) -> toml::Table {
    tenant_endpoint(cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1")
}

struct Side {
    imap: Dovecot,
    dav: Radicale,
    // Last: fields drop in order, and the servers' directories must outlive their
    // stop (a Dovecot whose directory is gone is never stopped).
    _root: tempfile::TempDir,
}

fn imap_dav_side(name: &str, user: (&str, &str)) -> Side {
    let root = tmp();
    let imap = Dovecot::start(root.path(), name, &[user], &[]);
    let dav = Radicale::start(root.path(), &format!("{name}-dav"), &[user]);
    Side {
        _root: root,
        imap,
        dav,
    }
}

fn imap_dav(s: &Side) -> toml::Table {
    let mut t = project::imap(s.imap.port);
    let mut dav = toml::Table::new();
    dav.insert("url".into(), format!("{}/", s.dav.url()).into());
    dav.insert("security".into(), "none".into());
    t.insert("dav".into(), dav.into());
    t
}

fn project(
    source: toml::Table,
    destination: toml::Table,
    src: toml::Table,
    dst: toml::Table,
) -> ProjectDir {
    ProjectBuilder::new("graph-calendar")
        .set("project.items", vec!["mail", "calendar"])
        .source(source)
        .destination(destination)
        .mailbox(project::mailbox(None, src, dst))
        .create()
}

fn cutover(p: &ProjectDir, args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.arg(args[0]).arg(&p.path).args(&args[1..]);
    c.env("CUTOVER_TEST_SECRET_1", "secret-1")
        .env("CUTOVER_TEST_SECRET_2", "secret-2");
    c.output().expect("run cutover")
}

fn failed_reasons(p: &ProjectDir) -> Vec<String> {
    p.journal()
        .message_rows()
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "failed")
        .map(|m| m.reason.unwrap_or_default())
        .collect()
}

/// No invitation, update or cancellation would have been sent from these mailboxes.
fn assert_outbox_empty(c: &Cloud, upns: &[&str]) {
    for u in upns {
        let out = c.graph.mailbox(u).calendars.outbox;
        assert!(out.is_empty(), "{u} would have notified people: {out:?}");
    }
}

/// What the test expects of one source series: its exceptions' and cancelled
/// occurrences' original starts (UTC keys as the fake keeps them).
#[derive(Debug, Default)]
struct Expect {
    summary: String,
    moved: BTreeSet<String>,
    cancelled: BTreeSet<String>,
    has_attendees: bool,
    collection: String,
}

/// The unfolded lines of a text.
fn lines(t: &str) -> Vec<String> {
    t.replace("\r\n ", "")
        .replace("\n ", "")
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// A local iCalendar time (`TZID=...:20260302T090000`, `...Z`, a DATE) as the UTC key.
fn utc_key(line: &str) -> String {
    let (head, v) = line.split_once(':').unwrap();
    let v = v.trim();
    if v.len() == 8 {
        return format!("{}-{}-{}T00:00:00", &v[..4], &v[4..6], &v[6..8]);
    }
    let t = chrono::NaiveDateTime::parse_from_str(&v[..15], "%Y%m%dT%H%M%S").unwrap();
    // The seeder's zones and their 2025-2027 offsets (independent of cutover's tables).
    let off = if v.ends_with('Z') || !head.contains("TZID") {
        0
    } else if head.contains("America/New_York") {
        let dst = (t
            >= chrono::NaiveDateTime::parse_from_str("20250309T020000", "%Y%m%dT%H%M%S").unwrap()
            && t < chrono::NaiveDateTime::parse_from_str("20251102T020000", "%Y%m%dT%H%M%S")
                .unwrap())
            || (t
                >= chrono::NaiveDateTime::parse_from_str("20260308T020000", "%Y%m%dT%H%M%S")
                    .unwrap()
                && t < chrono::NaiveDateTime::parse_from_str("20261101T020000", "%Y%m%dT%H%M%S")
                    .unwrap())
            || (t
                >= chrono::NaiveDateTime::parse_from_str("20270314T020000", "%Y%m%dT%H%M%S")
                    .unwrap()
                && t < chrono::NaiveDateTime::parse_from_str("20271107T020000", "%Y%m%dT%H%M%S")
                    .unwrap());
        if dst { -240 } else { -300 }
    } else if head.contains("Europe/Berlin") {
        let dst = (t
            >= chrono::NaiveDateTime::parse_from_str("20250330T020000", "%Y%m%dT%H%M%S").unwrap()
            && t < chrono::NaiveDateTime::parse_from_str("20251026T030000", "%Y%m%dT%H%M%S")
                .unwrap())
            || (t
                >= chrono::NaiveDateTime::parse_from_str("20260329T020000", "%Y%m%dT%H%M%S")
                    .unwrap()
                && t < chrono::NaiveDateTime::parse_from_str("20261025T030000", "%Y%m%dT%H%M%S")
                    .unwrap())
            || (t
                >= chrono::NaiveDateTime::parse_from_str("20270328T020000", "%Y%m%dT%H%M%S")
                    .unwrap()
                && t < chrono::NaiveDateTime::parse_from_str("20271031T030000", "%Y%m%dT%H%M%S")
                    .unwrap());
        if dst { 120 } else { 60 }
    } else if head.contains("Asia/Tokyo") {
        540
    } else {
        panic!("a zone the seeder does not use: {line}")
    };
    (t - chrono::Duration::minutes(off))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The source's events by UID.
fn expected(items: &[DavItem]) -> BTreeMap<String, Expect> {
    let mut out = BTreeMap::new();
    for i in items.iter().filter(|i| i.kind == "calendar") {
        let mut e = Expect {
            collection: i.collection.clone(),
            ..Default::default()
        };
        let ls = lines(&i.content);
        let mut in_ev = false;
        let mut rid: Option<String> = None;
        let mut cancelled = false;
        let mut is_master = true;
        for l in &ls {
            if l == "BEGIN:VEVENT" {
                in_ev = true;
                rid = None;
                cancelled = false;
                is_master = true;
            } else if l == "END:VEVENT" {
                if let Some(r) = rid.take() {
                    if cancelled {
                        e.cancelled.insert(r);
                    } else {
                        e.moved.insert(r);
                    }
                }
                in_ev = false;
            } else if in_ev && l.starts_with("RECURRENCE-ID") {
                rid = Some(utc_key(l));
                is_master = false;
            } else if in_ev && l.starts_with("STATUS:CANCELLED") {
                cancelled = true;
            } else if in_ev && l.starts_with("EXDATE") {
                let (head, vs) = l.split_once(':').unwrap();
                for v in vs.split(',') {
                    e.cancelled.insert(utc_key(&format!("{head}:{v}")));
                }
            } else if in_ev && l.starts_with("ATTENDEE") {
                e.has_attendees = true;
            } else if in_ev && is_master && l.starts_with("SUMMARY:") && e.summary.is_empty() {
                e.summary = l["SUMMARY:".len()..]
                    .replace("\\,", ",")
                    .replace("\\;", ";");
            }
        }
        out.insert(i.uid.clone(), e);
    }
    out
}

fn source_uid(e: &FakeEvent) -> Option<String> {
    e.props
        .iter()
        .find(|(k, _)| k.contains(UID_PROP))
        .map(|(_, v)| v.clone())
}

/// Every source event is in Microsoft 365 exactly once, in the calendar of its collection,
/// with its exceptions and cancelled occurrences at their instants, without attendees.
fn assert_landed_once(
    want: &BTreeMap<String, Expect>,
    events: &[FakeEvent],
    calendars: &BTreeMap<String, String>,
) {
    let mut by_uid: BTreeMap<String, Vec<&FakeEvent>> = BTreeMap::new();
    for e in events {
        if let Some(u) = source_uid(e) {
            by_uid.entry(u).or_default().push(e);
        }
    }
    for (uid, x) in want {
        let got = by_uid
            .get(uid)
            .unwrap_or_else(|| panic!("event {uid} ({}) is not on the destination", x.summary));
        assert_eq!(got.len(), 1, "event {uid} is there once");
        let e = got[0];
        assert_eq!(e.fields["subject"], json!(x.summary), "{uid}");
        assert_eq!(
            calendars.get(&e.calendar),
            Some(&x.collection),
            "{uid} in the calendar of its collection"
        );
        assert!(
            e.fields
                .get("attendees")
                .is_none_or(|a| a.as_array().is_some_and(|a| a.is_empty())),
            "{uid}: never Graph attendees"
        );
        let moved: BTreeSet<String> = e.exceptions.keys().cloned().collect();
        assert_eq!(moved, x.moved, "{uid}: the exceptions, by original start");
        assert_eq!(e.cancelled, x.cancelled, "{uid}: the cancelled occurrences");
        assert!(
            e.prop(ICAL_PROP).is_some(),
            "{uid}: completed (source text kept)"
        );
        if x.has_attendees {
            let body = e.fields["body"]["content"].as_str().unwrap_or_default();
            assert!(
                body.contains("Attendee: "),
                "{uid}: the attendees are in the body: {body}"
            );
            assert!(e.prop("cutoverAttendees").is_some(), "{uid}");
        }
    }
    let extra: Vec<&String> = by_uid.keys().filter(|u| !want.contains_key(*u)).collect();
    assert!(extra.is_empty(), "events from nowhere: {extra:?}");
}

/// Calendar id -> the source collection it stands for ("calendar" for the default one).
fn calendar_names(c: &Cloud, upn: &str) -> BTreeMap<String, String> {
    c.graph
        .mailbox(upn)
        .calendars
        .calendars
        .iter()
        .map(|x| {
            let n = if x.is_default {
                "calendar".to_string()
            } else {
                x.name.clone()
            };
            (x.id.clone(), n)
        })
        .collect()
}

#[tokio::test]
async fn a_naive_create_of_a_meeting_would_notify_its_attendees_and_the_outbox_shows_it() {
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let http = reqwest::Client::new();
    let tok: Value = http
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
    let u = |p: &str| format!("{}/v1.0/users/{ALICE}{p}", c.url());
    let meeting = json!({
        "subject": "Kick-off",
        "start": {"dateTime": "2026-06-09T14:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-06-09T15:00:00", "timeZone": "W. Europe Standard Time"},
        "attendees": [{"emailAddress": {"address": "bob@partner.example", "name": "Bob"}, "type": "required"}],
        "transactionId": "naive-1",
    });
    let r = http
        .post(u("/calendar/events"))
        .bearer_auth(&token)
        .json(&meeting)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let out = c.graph.mailbox(ALICE).calendars.outbox;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].kind, "invitation");
    assert_eq!(out[0].recipients, vec!["bob@partner.example".to_string()]);
    // The same transactionId again: the first event, nothing created, nobody told twice.
    let again: Value = http
        .post(u("/calendar/events"))
        .bearer_auth(&token)
        .json(&meeting)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], created["id"]);
    let mb = c.graph.mailbox(ALICE);
    assert_eq!((mb.calendars.creates, mb.calendars.outbox.len()), (1, 1));
    // Moving it is an update; a subject change alone is not; deleting it is a cancellation.
    let id = created["id"].as_str().unwrap();
    for (patch, sent) in [
        (json!({"subject": "Kick-off (renamed)"}), 1),
        (
            json!({"start": {"dateTime": "2026-06-09T15:00:00", "timeZone": "W. Europe Standard Time"}}),
            2,
        ),
    ] {
        let r = http
            .patch(u(&format!("/events/{id}")))
            .bearer_auth(&token)
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            c.graph.mailbox(ALICE).calendars.outbox.len(),
            sent,
            "{patch}"
        );
    }
    let r = http
        .delete(u(&format!("/events/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let kinds: Vec<String> = c
        .graph
        .mailbox(ALICE)
        .calendars
        .outbox
        .iter()
        .map(|n| n.kind.clone())
        .collect();
    assert_eq!(kinds, ["invitation", "update", "cancellation"]);
    // An event without attendees is created, moved and deleted silently; an IANA zone and
    // a file attachment over 3 MB are refused as Graph refuses them.
    let plain = json!({
        "subject": "Dentist",
        "start": {"dateTime": "2026-06-10T08:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-06-10T09:00:00", "timeZone": "Europe/Berlin"},
    });
    let r = http
        .post(u("/calendar/events"))
        .bearer_auth(&token)
        .json(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let plain = json!({
        "subject": "Dentist",
        "start": {"dateTime": "2026-06-10T08:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-06-10T09:00:00", "timeZone": "W. Europe Standard Time"},
    });
    let e: Value = http
        .post(u("/calendar/events"))
        .bearer_auth(&token)
        .json(&plain)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = e["id"].as_str().unwrap();
    use base64::Engine as _;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 3 * 1024 * 1024 + 1]);
    let r = http
        .post(u(&format!("/events/{id}/attachments")))
        .bearer_auth(&token)
        .json(&json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "big.bin", "contentBytes": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = http
        .delete(u(&format!("/events/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(c.graph.mailbox(ALICE).calendars.outbox.len(), 3);
}

#[test]
fn imap_dav_to_graph_calendars_once_with_exceptions_rerun_verify_and_rollback() {
    let s = imap_dav_side("src", SRC);
    s.imap.seed(SRC.0, 3, 2, &["--no-tricky"]);
    let seeded = s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let want = expected(&s.dav.dump(SRC.0, SRC.1, false));
    assert!(
        want.values().filter(|x| !x.moved.is_empty()).count() >= 2,
        "series with exceptions"
    );
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    // The mailbox's own meeting, organized by Alice: never touched, never cancelled.
    let own = c.graph.seed_event(
        ALICE,
        None,
        json!({
            "subject": "Own meeting",
            "start": {"dateTime": "2026-06-01T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-06-01T11:00:00", "timeZone": "W. Europe Standard Time"},
            "attendees": [{"emailAddress": {"address": "carol@contoso.com"}, "type": "required"}],
        }),
    );
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    let run = cutover(&p, &["run"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&run),
        failed_reasons(&p)
    );
    let mb = c.graph.mailbox(ALICE);
    assert_outbox_empty(&c, &[ALICE]);
    assert_landed_once(&want, &mb.calendars.events, &calendar_names(&c, ALICE));
    assert_eq!(
        mb.calendars.events.len(),
        want.len() + 1,
        "beside the own meeting"
    );
    assert_eq!(
        mb.calendars.creates as usize,
        want.len(),
        "one create per series"
    );
    // The weekly New York series across the DST change: moved 2026-03-02 09:00 EST
    // (14:00 UTC) to 2026-03-03 14:00; cancelled 2026-03-09 and 2026-03-23 09:00 EDT.
    let weekly = &seeded.landmarks["weekly_series"];
    let w = mb
        .calendars
        .events
        .iter()
        .find(|e| source_uid(e).as_deref() == Some(weekly.as_str()))
        .unwrap();
    assert_eq!(
        w.fields["start"]["timeZone"],
        json!("Eastern Standard Time")
    );
    assert_eq!(w.fields["recurrence"]["pattern"]["type"], json!("weekly"));
    assert_eq!(
        w.fields["recurrence"]["range"]["numberOfOccurrences"],
        json!(12)
    );
    assert_eq!(w.fields["reminderMinutesBeforeStart"], json!(10));
    let ex = &w.exceptions["2026-03-02T14:00:00"].1;
    assert_eq!(ex["start"]["dateTime"], json!("2026-03-03T14:00:00"));
    assert!(ex["subject"].as_str().unwrap().ends_with("(moved)"));
    assert_eq!(
        w.cancelled.iter().cloned().collect::<Vec<_>>(),
        ["2026-03-09T13:00:00", "2026-03-23T13:00:00"]
    );
    // Private, all-day, categories, the inline attachment.
    let by = |key: &str| {
        let uid = &seeded.landmarks[key];
        mb.calendars
            .events
            .iter()
            .find(|e| source_uid(e).as_deref() == Some(uid.as_str()))
            .unwrap()
            .clone()
    };
    assert_eq!(by("private").fields["sensitivity"], json!("private"));
    assert_eq!(by("all_day").fields["isAllDay"], json!(true));
    assert_eq!(by("all_day").fields["showAs"], json!("free"));
    assert_eq!(
        by("long_folded").fields["categories"],
        json!(["Büro", "Planung"])
    );
    let att = by("attach_inline");
    assert_eq!(att.attachments.len(), 1);
    assert_eq!(att.attachments[0].name, "packliste.txt");
    assert_eq!(
        att.attachments[0].bytes,
        "Packliste:\n- Pass\n- Ladegerät\n- 日本円\n".as_bytes()
    );

    let again = cutover(&p, &["run"]);
    assert_eq!(
        run_counts(&again),
        (0, 0),
        "a re-run writes nothing: {}",
        text(&again)
    );
    let mb2 = c.graph.mailbox(ALICE);
    assert_eq!(mb2.calendars.posts, mb.calendars.posts);
    assert_eq!(
        mb2.calendars.occurrence_writes,
        mb.calendars.occurrence_writes
    );
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    let rb = cutover(&p, &["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let mb = c.graph.mailbox(ALICE);
    let left: Vec<String> = mb.calendars.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        left,
        vec![own],
        "rollback removes exactly what cutover created"
    );
    assert!(
        mb.calendars.calendars.iter().all(|x| x.is_default),
        "the calendar cutover created is removed: {:?}",
        mb.calendars.calendars
    );
    assert_outbox_empty(&c, &[ALICE]);
}

#[test]
fn kill_9_between_the_steps_of_a_series_then_a_run_leaves_every_exception_once() {
    let s = imap_dav_side("src", SRC);
    s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let want = expected(&s.dav.dump(SRC.0, SRC.1, false));
    let graph = FakeGraph::new(GraphConfig {
        latency: Duration::from_millis(15),
        ..GraphConfig::default()
    })
    .with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    // A create whose answer is lost, then kills right after a create, after an
    // occurrence's change and after an occurrence's deletion.
    c.graph.store_then_fail_events(ALICE, 1);
    let mut killed = 0;
    for step in 0..3 {
        let before = c.graph.mailbox(ALICE).calendars;
        let g = c.graph.clone();
        let mut run = Command::new(bin());
        run.arg("run")
            .arg(&p.path)
            .env("CUTOVER_TEST_SECRET_1", "secret-1");
        if run_until_sigkill(&mut run, |_| {
            let now = g.mailbox(ALICE).calendars;
            match step {
                0 => now.creates > before.creates,
                _ => now.occurrence_writes > before.occurrence_writes + step - 1,
            }
        }) {
            killed += 1;
        }
    }
    assert!(killed >= 2, "the kills landed inside the copy ({killed})");
    let unfinished = c
        .graph
        .mailbox(ALICE)
        .calendars
        .events
        .iter()
        .filter(|e| e.prop(ICAL_PROP).is_none())
        .count();
    assert!(unfinished >= 1, "a kill left a series unfinished");
    let done = cutover(&p, &["run"]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&done),
        failed_reasons(&p)
    );
    let mb = c.graph.mailbox(ALICE);
    assert_landed_once(&want, &mb.calendars.events, &calendar_names(&c, ALICE));
    assert_eq!(
        mb.calendars.creates as usize,
        want.len(),
        "no series created twice ({unfinished} were unfinished)"
    );
    assert_outbox_empty(&c, &[ALICE]);
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// A Microsoft 365 calendar of its own making: a weekly Berlin series with a moved and a
/// cancelled occurrence, a meeting organized by someone else, an all-day event with an
/// attachment, in the default calendar and another one.
fn seed_graph_calendar(c: &Cloud, upn: &str) -> (String, String) {
    let series = c.graph.seed_event(
        upn,
        None,
        json!({
            "subject": "Jour fixe",
            "body": {"contentType": "text", "content": "Agenda, Protokoll"},
            "start": {"dateTime": "2026-03-16T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-16T11:00:00", "timeZone": "W. Europe Standard Time"},
            "location": {"displayName": "Raum 4"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                "range": {"type": "numbered", "startDate": "2026-03-16", "numberOfOccurrences": 6, "recurrenceTimeZone": "W. Europe Standard Time"}
            },
            "isReminderOn": true, "reminderMinutesBeforeStart": 15,
            "sensitivity": "private", "showAs": "tentative", "categories": ["Büro"],
        }),
    );
    // 2026-03-23 10:00 CET = 09:00 UTC (moved); 2026-03-30 10:00 CEST = 08:00 UTC (cancelled).
    c.graph.seed_exception(
        upn,
        &series,
        "2026-03-23T09:00:00",
        json!({"subject": "Jour fixe (verschoben)", "start": {"dateTime": "2026-03-24T14:00:00", "timeZone": "W. Europe Standard Time"}, "end": {"dateTime": "2026-03-24T15:00:00", "timeZone": "W. Europe Standard Time"}}),
    );
    c.graph.seed_cancel(upn, &series, "2026-03-30T08:00:00");
    c.graph.seed_calendar(upn, "Projects");
    c.graph.seed_event(
        upn,
        Some("Projects"),
        json!({
            "subject": "Partner review",
            "start": {"dateTime": "2026-06-11T10:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2026-06-11T11:00:00", "timeZone": "Eastern Standard Time"},
            "organizer": {"emailAddress": {"address": "dan@partner.example", "name": "Dan"}},
            "attendees": [
                {"emailAddress": {"address": upn, "name": "Me"}, "type": "required", "status": {"response": "accepted"}},
                {"emailAddress": {"address": "eve@partner.example", "name": "Eve"}, "type": "optional", "status": {"response": "tentativelyAccepted"}}
            ],
        }),
    );
    let all_day = c.graph.seed_event(
        upn,
        None,
        json!({
            "subject": "Tag der Deutschen Einheit",
            "start": {"dateTime": "2026-10-03T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-04T00:00:00", "timeZone": "UTC"},
            "isAllDay": true, "showAs": "free",
        }),
    );
    c.graph
        .seed_event_attachment(upn, &all_day, "plan.txt", "text/plain", b"Umzug, Fest");
    (series, all_day)
}

#[test]
fn graph_calendars_to_imap_dav_are_icalendar_with_exceptions_zones_and_attachments() {
    let d = imap_dav_side("dst", ("alice", "dst-pw"));
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    seed_graph_calendar(&c, ALICE);
    let p = project(
        graph_endpoint(&c),
        imap_dav(&d),
        project::user(ALICE),
        project::login("alice", "dst-pw"),
    );
    let plan = cutover(&p, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        stdout(&plan)
            .lines()
            .any(|l| l.contains("Calendar/Projects") && l.contains("1 event")),
        "the plan lists the calendars: {}",
        text(&plan)
    );
    let run = cutover(&p, &["run"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&run),
        failed_reasons(&p)
    );
    let items: Vec<DavItem> = d
        .dav
        .dump("alice", "dst-pw", false)
        .into_iter()
        .filter(|i| i.kind == "calendar")
        .collect();
    assert_eq!(items.len(), 3, "{items:?}");
    let series = items
        .iter()
        .find(|i| i.content.contains("Jour fixe"))
        .unwrap();
    let ls = lines(&series.content);
    for want in [
        "DTSTART;TZID=Europe/Berlin:20260316T100000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        "EXDATE;TZID=Europe/Berlin:20260330T100000",
        "RECURRENCE-ID;TZID=Europe/Berlin:20260323T100000",
        "DTSTART;TZID=Europe/Berlin:20260324T140000",
        "SUMMARY:Jour fixe (verschoben)",
        "CLASS:PRIVATE",
        "TRIGGER:-PT15M",
        "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
        "CATEGORIES:Büro",
        "LOCATION:Raum 4",
        "BEGIN:VTIMEZONE",
    ] {
        assert!(ls.iter().any(|l| l == want), "{want} in {}", series.content);
    }
    let meeting = items
        .iter()
        .find(|i| i.content.contains("Partner review"))
        .unwrap();
    assert_eq!(meeting.collection, "Projects");
    assert!(
        meeting
            .content
            .contains("DTSTART;TZID=America/New_York:20260611T100000"),
        "{}",
        meeting.content
    );
    assert!(meeting.content.contains("mailto:dan@partner.example"));
    assert!(meeting.content.contains("PARTSTAT=TENTATIVE"));
    let all_day = items
        .iter()
        .find(|i| i.content.contains("Einheit"))
        .unwrap();
    assert!(
        all_day.content.contains("DTSTART;VALUE=DATE:20261003"),
        "{}",
        all_day.content
    );
    assert!(all_day.content.contains("X-FILENAME=plan.txt"));
    assert_outbox_empty(&c, &[ALICE]);
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn graph_to_graph_calendars_without_attendees_nobody_notified_verify_and_rollback() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ALICE)
        .with_mailbox("fabrikam", BOB);
    let c = cloud(graph);
    let (series, _) = seed_graph_calendar(&c, BOB);
    // A meeting Bob organizes: on the source it has attendees; on the destination it must
    // not invite them.
    c.graph.seed_event(
        BOB,
        None,
        json!({
            "subject": "Bob's all-hands",
            "start": {"dateTime": "2026-07-01T16:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-07-01T17:00:00", "timeZone": "Pacific Standard Time"},
            "attendees": [{"emailAddress": {"address": "team@fabrikam.com", "name": "Team"}, "type": "required"}],
        }),
    );
    let p = project(
        tenant_endpoint(&c, "fabrikam", "app-2", "CUTOVER_TEST_SECRET_2"),
        graph_endpoint(&c),
        project::user(BOB),
        project::user(ALICE),
    );
    // Calendars go through the same per-mailbox limits and 429s as mail.
    c.graph.throttle_next(ALICE, 2);
    let run = cutover(&p, &["run"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&run),
        failed_reasons(&p)
    );
    assert_outbox_empty(&c, &[ALICE, BOB]);
    let mb = c.graph.mailbox(ALICE);
    assert_eq!(mb.calendars.events.len(), 4, "{:?}", mb.calendars.events);
    assert!(
        mb.calendars
            .events
            .iter()
            .all(|e| e.fields.get("attendees").is_none())
    );
    let hands = mb
        .calendars
        .in_calendar("Calendar")
        .into_iter()
        .find(|e| e.fields["subject"] == "Bob's all-hands")
        .unwrap();
    assert!(
        hands.fields["body"]["content"]
            .as_str()
            .unwrap()
            .contains("team@fabrikam.com")
    );
    assert_eq!(
        hands.fields["start"]["timeZone"],
        json!("Pacific Standard Time")
    );
    let jf = mb
        .calendars
        .in_calendar("Calendar")
        .into_iter()
        .find(|e| e.fields["subject"] == "Jour fixe")
        .unwrap();
    assert_eq!(
        jf.exceptions.keys().cloned().collect::<Vec<_>>(),
        ["2026-03-23T09:00:00"]
    );
    assert_eq!(
        jf.cancelled.iter().cloned().collect::<Vec<_>>(),
        ["2026-03-30T08:00:00"]
    );
    assert_eq!(mb.calendars.in_calendar("Projects").len(), 1);
    let src_uid = c
        .graph
        .mailbox(BOB)
        .calendars
        .events
        .iter()
        .find(|e| e.id == series)
        .unwrap()
        .ical_uid
        .clone();
    assert_eq!(
        source_uid(&jf).as_deref(),
        Some(src_uid.as_str()),
        "the source identity is iCalUId"
    );
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let rb = cutover(&p, &["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let mb = c.graph.mailbox(ALICE);
    assert!(mb.calendars.events.is_empty(), "{:?}", mb.calendars.events);
    assert!(mb.calendars.calendars.iter().all(|x| x.is_default));
    assert_outbox_empty(&c, &[ALICE, BOB]);
}

#[test]
fn what_graph_cannot_express_is_refused_naming_the_event_and_nothing_half_written() {
    let s = imap_dav_side("src", SRC);
    s.dav.seed(SRC.0, SRC.1, Scale::Small);
    let items = s.dav.dump(SRC.0, SRC.1, false);
    let want = expected(&items);
    let some = items.iter().find(|i| i.kind == "calendar").unwrap();
    let dir = some.href.rsplit_once('/').unwrap().0.to_string();
    let ev = |uid: &str, rule: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T093000Z\r\nRRULE:{rule}\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    for (uid, rule) in [
        ("hourly-1", "FREQ=HOURLY;COUNT=5"),
        ("fifth-monday-1", "FREQ=MONTHLY;BYDAY=5MO;COUNT=3"),
    ] {
        let st = s.dav.put(
            SRC.0,
            SRC.1,
            &format!("{dir}/{uid}.ics"),
            ev(uid, rule).as_bytes(),
        );
        assert!(matches!(st, 201 | 204), "{st}");
    }
    // An event whose attachment is over the 3 MB Microsoft 365 takes per event attachment.
    use base64::Engine as _;
    let pdf = base64::engine::general_purpose::STANDARD.encode(vec![b'%'; 3 * 1024 * 1024 + 10]);
    let folded: String = format!(
        "ATTACH;VALUE=BINARY;ENCODING=BASE64;FMTTYPE=application/pdf;FILENAME=minutes.pdf:{pdf}"
    )
    .as_bytes()
    .chunks(74)
    .map(|c| String::from_utf8_lossy(c).into_owned())
    .collect::<Vec<_>>()
    .join("\r\n ");
    let heavy = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:heavy-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260107T090000Z\r\nDTEND:20260107T093000Z\r\nSUMMARY:heavy\r\n{folded}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let st = s.dav.put(
        SRC.0,
        SRC.1,
        &format!("{dir}/heavy-1.ics"),
        heavy.as_bytes(),
    );
    assert!(matches!(st, 201 | 204), "{st}");
    let graph = FakeGraph::new(GraphConfig::default()).with_mailbox("contoso", ALICE);
    let c = cloud(graph);
    let p = project(
        imap_dav(&s),
        graph_endpoint(&c),
        project::login(SRC.0, SRC.1),
        project::user(ALICE),
    );
    // The assessment flags it before anything is written, naming the attachment.
    let a = cutover(&p, &["assess"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert!(
        stdout(&a).lines().any(|l| l.contains("1 event(s)")
            && l.contains("carry an attachment over the 3.1 MB")
            && l.contains("minutes.pdf")),
        "{}",
        text(&a)
    );
    assert!(
        !stdout(&a).contains("lacks UIDPLUS"),
        "IMAP's capabilities are not asked of Graph: {}",
        text(&a)
    );
    assert_eq!(c.graph.mailbox(ALICE).calendars.creates, 0);
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
    let reasons = failed_reasons(&p);
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("heavy-1") && r.contains("minutes.pdf") && r.contains("3 MB")),
        "{reasons:?}"
    );
    for (uid, part) in [("hourly-1", "HOURLY"), ("fifth-monday-1", "5MO")] {
        assert!(
            reasons
                .iter()
                .any(|r| r.contains(uid) && r.contains(part) && r.contains("cannot express")),
            "{uid}: {reasons:?}"
        );
    }
    let mb = c.graph.mailbox(ALICE);
    assert_landed_once(&want, &mb.calendars.events, &calendar_names(&c, ALICE));
    assert_eq!(
        mb.calendars.creates as usize,
        want.len(),
        "nothing written of the refused ones"
    );
    assert_outbox_empty(&c, &[ALICE]);
}

#[test]
fn a_graph_source_follows_its_changes_and_calendar_since() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ALICE)
        .with_mailbox("fabrikam", BOB);
    let c = cloud(graph);
    let (series, _) = seed_graph_calendar(&c, BOB);
    // Ended before 2026-04-01: a single event, and a numbered series of 2025.
    c.graph.seed_event(
        BOB,
        None,
        json!({
            "subject": "Old single",
            "start": {"dateTime": "2026-01-10T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-01-10T10:00:00", "timeZone": "W. Europe Standard Time"},
        }),
    );
    c.graph.seed_event(
        BOB,
        None,
        json!({
            "subject": "Old series",
            "start": {"dateTime": "2025-01-06T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2025-01-06T10:00:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2025-01-06", "numberOfOccurrences": 10}
            },
        }),
    );
    let p = ProjectBuilder::new("graph-calendar")
        .set("project.items", vec!["mail", "calendar"])
        .set("project.calendar_since", "2026-04-01")
        .source(tenant_endpoint(
            &c,
            "fabrikam",
            "app-2",
            "CUTOVER_TEST_SECRET_2",
        ))
        .destination(graph_endpoint(&c))
        .mailbox(project::mailbox(
            None,
            project::user(BOB),
            project::user(ALICE),
        ))
        .create();
    let run = cutover(&p, &["run"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&run),
        failed_reasons(&p)
    );
    let subjects = |c: &Cloud| -> BTreeSet<String> {
        c.graph
            .mailbox(ALICE)
            .calendars
            .events
            .iter()
            .map(|e| e.fields["subject"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        subjects(&c),
        ["Jour fixe", "Partner review", "Tag der Deutschen Einheit"]
            .into_iter()
            .map(String::from)
            .collect(),
        "what ended before calendar_since is left out"
    );
    // The series changed on the source (a new changeKey): the next run replaces cutover's
    // version, once, silently.
    c.graph
        .edit_event(BOB, &series, json!({"subject": "Jour fixe (neu)"}));
    let again = cutover(&p, &["run"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&again),
        failed_reasons(&p)
    );
    let mb = c.graph.mailbox(ALICE);
    let jf: Vec<&FakeEvent> = mb
        .calendars
        .events
        .iter()
        .filter(|e| {
            e.fields["subject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Jour fixe")
        })
        .collect();
    assert_eq!(jf.len(), 1, "{jf:?}");
    assert_eq!(jf[0].fields["subject"], json!("Jour fixe (neu)"));
    assert_eq!(jf[0].exceptions.len(), 1);
    assert_eq!(jf[0].cancelled.len(), 1);
    assert_outbox_empty(&c, &[ALICE, BOB]);
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // Alice edits cutover's copy in Outlook, then the source changes again: her edit stays,
    // and the issue says why the source's version is not written.
    let dst_id = jf[0].id.clone();
    c.graph
        .edit_event(ALICE, &dst_id, json!({"subject": "Jour fixe (Alice)"}));
    c.graph
        .edit_event(BOB, &series, json!({"subject": "Jour fixe (neuer)"}));
    // Kept, as a warning (the conflict rule of delta passes): the run completes.
    let third = cutover(&p, &["run"]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    let issues = all_issues(&p.journal());
    assert!(
        issues
            .iter()
            .any(|i| i.severity == "warning" && i.message.contains("changed on the destination")),
        "{issues:#?}"
    );
    let mb = c.graph.mailbox(ALICE);
    let mine = mb.calendars.events.iter().find(|e| e.id == dst_id).unwrap();
    assert_eq!(mine.fields["subject"], json!("Jour fixe (Alice)"));
    assert_outbox_empty(&c, &[ALICE, BOB]);
}

/// An app registration without the calendar or contact permission: `check` names what each
/// side needs before anything connects, and `assess` and `run` name the one Graph refused
/// (403), per side, instead of a bare "access denied".
#[test]
fn a_missing_calendars_or_contacts_permission_is_named_by_check_assess_and_run() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ALICE)
        .with_mailbox("fabrikam", BOB)
        .withhold("fabrikam", "calendars")
        .withhold("contoso", "contacts");
    let c = cloud(graph);
    let both = |items: Vec<&str>| {
        ProjectBuilder::new("graph-permissions")
            .set("project.items", items)
            .source(tenant_endpoint(
                &c,
                "fabrikam",
                "app-2",
                "CUTOVER_TEST_SECRET_2",
            ))
            .destination(graph_endpoint(&c))
            .mailbox(project::mailbox(
                None,
                project::user(BOB),
                project::user(ALICE),
            ))
            .create()
    };
    let p = both(vec!["mail", "calendar", "contacts"]);
    let check = cutover(&p, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let said = stdout(&check);
    assert!(
        said.contains("for what this project moves: Mail.Read, Calendars.Read, Contacts.Read\n")
            && said.contains(
                "for what this project moves: Mail.ReadWrite, Mail-Advanced.ReadWrite.All, Calendars.ReadWrite, Contacts.ReadWrite\n"
            ),
        "{said}"
    );
    // The source's app lacks Calendars.Read.
    let a = cutover(&p, &["assess"]);
    assert_ne!(a.status.code(), Some(0), "{}", text(&a));
    assert!(text(&a).contains("Calendars.Read"), "{}", text(&a));
    let run = cutover(&p, &["run"]);
    assert_ne!(run.status.code(), Some(0), "{}", text(&run));
    assert!(text(&run).contains("Calendars.Read"), "{}", text(&run));
    // Contacts only: now the destination's app lacks Contacts.ReadWrite.
    let p = both(vec!["mail", "contacts"]);
    let a = cutover(&p, &["assess"]);
    assert_ne!(a.status.code(), Some(0), "{}", text(&a));
    assert!(text(&a).contains("Contacts.ReadWrite"), "{}", text(&a));
    assert_outbox_empty(&c, &[ALICE, BOB]);
}

/// A delta pass from a Graph source: an event changed there (a new changeKey) is written
/// again in place, one deleted there is reported, then removed under
/// `[sync] deletions = "propagate"`; never a second copy.
#[test]
fn a_graph_source_in_a_delta_pass_carries_changes_in_place_and_reports_deletions() {
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", ALICE)
        .with_mailbox("fabrikam", BOB);
    let c = cloud(graph);
    let (series, all_day) = seed_graph_calendar(&c, BOB);
    let p = ProjectBuilder::new("graph-calendar")
        .set("project.items", vec!["mail", "calendar"])
        .source(tenant_endpoint(
            &c,
            "fabrikam",
            "app-2",
            "CUTOVER_TEST_SECRET_2",
        ))
        .destination(graph_endpoint(&c))
        .mailbox(project::mailbox(
            None,
            project::user(BOB),
            project::user(ALICE),
        ))
        .create();
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let subjects = |c: &Cloud| -> Vec<String> {
        let mut s: Vec<String> = c
            .graph
            .mailbox(ALICE)
            .calendars
            .events
            .iter()
            .map(|e| e.fields["subject"].as_str().unwrap_or_default().to_string())
            .collect();
        s.sort();
        s
    };
    assert_eq!(
        subjects(&c),
        ["Jour fixe", "Partner review", "Tag der Deutschen Einheit"]
    );
    c.graph
        .edit_event(BOB, &series, json!({"subject": "Jour fixe (neu)"}));
    c.graph.remove_event(BOB, &all_day);
    let pass = cutover(&p, &["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    assert!(
        stdout(&pass).contains(
            "0 new, 1 changed, 0 flag change(s), 0 move(s), 1 deleted on the source (0 removed"
        ),
        "{}",
        text(&pass)
    );
    assert_eq!(
        subjects(&c),
        [
            "Jour fixe (neu)",
            "Partner review",
            "Tag der Deutschen Einheit"
        ],
        "changed in place, the deletion reported and left"
    );
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = cutover(&p, &["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert!(
        stdout(&prop).contains("(1 removed from the destination)"),
        "{}",
        text(&prop)
    );
    assert_eq!(subjects(&c), ["Jour fixe (neu)", "Partner review"]);
    assert_outbox_empty(&c, &[ALICE, BOB]);
}
