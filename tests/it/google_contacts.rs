//! Google contacts through the People API on a `kind = "gmail"` endpoint, against the
//! stateful fake (tests/it/support/fake_cloud/google_people.rs) and a real Radicale (with its
//! Dovecot), with the real `cutover` binary and a Google service account: every contact
//! once through a kill -9, creates in batches of at most 200, never two mutations at once, a
//! re-run writing nothing, verify, rollback; contact group cards refused naming them; Google
//! to Radicale with groups as CATEGORIES, "other contacts" listed and copied only when the
//! project asks.

use crate::google_calendar::{
    DAV, GUSER, SA, Side, cutover, dav_side, failed_reasons, imap_dav, sa_file, sa_key, tmp,
};
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use support::dav::Scale;
use support::fake_cloud::FakeCloud;
use support::fake_cloud::google_people::{
    CONTACTS_READ_SCOPE, CONTACTS_SCOPE, GooglePeople, OTHER_CONTACTS_SCOPE,
};
use support::fake_cloud::token::Tokens;
use support::*;

struct Google {
    cloud: FakeCloud,
    people: Arc<GooglePeople>,
    sa: PathBuf,
}

fn google(dir: &Path, make: impl FnOnce(GooglePeople) -> GooglePeople) -> Google {
    let (key, public) = sa_key(dir);
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_service_account(
            SA,
            &public,
            &[CONTACTS_SCOPE, CONTACTS_READ_SCOPE, OTHER_CONTACTS_SCOPE],
        )
        .with_user(GUSER);
    let mut started = None;
    let cloud = FakeCloud::start_with(tokens, |t| {
        let g = Arc::new(make(GooglePeople::new(t).with_user(GUSER)));
        started = Some(g.clone());
        support::fake_cloud::google_people::router(g)
    });
    let sa = sa_file(dir, &key, &cloud);
    Google {
        people: started.unwrap(),
        cloud,
        sa,
    }
}

fn google_endpoint(g: &Google) -> toml::Table {
    let url = g.cloud.url();
    let sa = g.sa.display().to_string();
    toml::toml! {
        kind = "gmail"
        api_url = (url.as_str())
        people_requests_per_minute = 90

        [oauth]
        provider = "google"
        flow = "service-account"
        service_account_file = (sa.as_str())
    }
}

fn project(
    source: toml::Table,
    destination: toml::Table,
    src: toml::Table,
    dst: toml::Table,
) -> ProjectDir {
    ProjectBuilder::new("google-contacts")
        .set("project.items", vec!["contacts"])
        .source(source)
        .destination(destination)
        .mailbox(project::mailbox(None, src, dst))
        .create()
}

/// The source's cards: UID → text.
fn source_cards(s: &Side) -> Vec<(String, String)> {
    s.dav
        .dump(DAV.0, DAV.1, false)
        .into_iter()
        .filter(|i| i.kind == "addressbook")
        .map(|i| (i.uid, i.content))
        .collect()
}

fn uid_of(p: &Value) -> String {
    p["clientData"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "cutoverUid")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn dav_to_google_contacts_once_in_batches_through_a_kill_rerun_verify_and_rollback() {
    let s = dav_side("src");
    let seeded = s.dav.seed(DAV.0, DAV.1, Scale::Small);
    // Group cards are refused (see below): left out here so that everything is copied.
    let dump = s.dav.dump(DAV.0, DAV.1, false);
    for g in ["group3", "group4"] {
        let uid = &seeded.landmarks[g];
        let item = dump.iter().find(|i| i.uid.ends_with(uid.as_str())).unwrap();
        assert!(matches!(s.dav.delete(DAV.0, DAV.1, &item.href), 200 | 204));
    }
    let book = dump
        .iter()
        .find(|i| i.kind == "addressbook")
        .unwrap()
        .href
        .rsplit_once('/')
        .unwrap()
        .0
        .to_string();
    // Enough contacts for several batches.
    for n in 0..205 {
        let card = format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bulk-{n}\r\nN:Bulk;Person {n};;;\r\nFN:Person {n} Bulk\r\nEMAIL;TYPE=INTERNET:p{n}@example.org\r\nEND:VCARD\r\n"
        );
        let st = s.dav.put(
            DAV.0,
            DAV.1,
            &format!("{book}/bulk-{n}.vcf"),
            card.as_bytes(),
        );
        assert!(matches!(st, 201 | 204), "{st}");
    }
    let want = source_cards(&s);
    assert_eq!(want.len(), 8 + 205);
    let dir = tmp();
    let g = google(dir.path(), |p| {
        p.with_mutation_time(Duration::from_millis(400))
            .with_page_size(50)
    });
    let p = project(
        imap_dav(&s),
        google_endpoint(&g),
        project::login(DAV.0, DAV.1),
        project::user(GUSER),
    );
    let gp = g.people.clone();
    let mut run = Command::new(bin());
    run.arg("run").arg(&p.path);
    let killed = run_until_sigkill(&mut run, |_| gp.calls_of("people.batchCreateContacts") >= 1);
    assert!(killed, "killed while a batch was being created");
    // The server finishes what it was sent.
    std::thread::sleep(Duration::from_millis(600));
    // And the next batch is stored but answered 503: never sent again blindly.
    g.people.lost_answers.store(1, Ordering::SeqCst);
    let done = cutover(&p, &["run"]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&done),
        failed_reasons(&p)
    );
    let user = g.people.user(GUSER);
    let mut got: Vec<String> = user.contacts.iter().map(uid_of).collect();
    got.sort();
    let mut uids: Vec<String> = want.iter().map(|(u, _)| u.clone()).collect();
    uids.sort();
    assert_eq!(got, uids, "every contact exactly once");
    assert_eq!(
        g.people.lost_answers.load(Ordering::SeqCst),
        0,
        "the 503 was served"
    );
    let largest = g.people.largest_batch.load(Ordering::SeqCst);
    assert!((1..=200).contains(&largest), "{largest}");
    assert!(g.people.calls_of("people.batchCreateContacts") >= 2);
    assert_eq!(
        g.people.concurrent.load(Ordering::SeqCst),
        0,
        "mutations one at a time"
    );
    // A vCard 3.0 contact with its photo, groups as CATEGORIES.
    let photo_uid = &seeded.landmarks["vcard3_photo"];
    let ph = user
        .contacts
        .iter()
        .find(|c| uid_of(c).ends_with(photo_uid.as_str()))
        .unwrap();
    assert!(
        user.photos
            .contains_key(ph["resourceName"].as_str().unwrap()),
        "its photo was set: {ph} {:?} {}",
        user.photos.keys().collect::<Vec<_>>(),
        want.iter()
            .find(|(u, _)| u.ends_with(photo_uid.as_str()))
            .unwrap()
            .1
    );
    assert!(ph["names"][0]["familyName"].is_string(), "{ph}");
    assert!(!ph["emailAddresses"].as_array().unwrap().is_empty(), "{ph}");
    let bulk = user
        .contacts
        .iter()
        .find(|c| uid_of(c) == "bulk-7")
        .unwrap();
    assert_eq!(bulk["names"][0]["givenName"], "Person 7");
    assert_eq!(bulk["emailAddresses"][0]["value"], "p7@example.org");

    let creates = g.people.calls_of("people.batchCreateContacts");
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    assert_eq!(g.people.calls_of("people.batchCreateContacts"), creates);
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let rb = cutover(&p, &["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(g.people.user(GUSER).contacts.is_empty());
}

#[test]
fn contact_group_cards_are_refused_naming_them() {
    let s = dav_side("src");
    let seeded = s.dav.seed(DAV.0, DAV.1, Scale::Small);
    let dir = tmp();
    let g = google(dir.path(), |p| p);
    let p = project(
        imap_dav(&s),
        google_endpoint(&g),
        project::login(DAV.0, DAV.1),
        project::user(GUSER),
    );
    let run = cutover(&p, &["run"]);
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
    let reasons = failed_reasons(&p);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    for g in ["group3", "group4"] {
        let uid = &seeded.landmarks[g];
        assert!(
            reasons
                .iter()
                .any(|r| r.contains(uid.as_str()) && r.contains("contact group card")),
            "{g}: {reasons:?}"
        );
    }
    assert_eq!(g.people.user(GUSER).contacts.len(), 8);
}

#[test]
fn google_to_dav_contacts_with_groups_and_other_contacts_only_when_asked() {
    let dir = tmp();
    let g = google(dir.path(), |p| p.with_page_size(1));
    let family = g.people.seed_group(GUSER, "Family");
    g.people.seed(
        GUSER,
        json!({
            "names": [{"displayName": "Zoë Ångström", "familyName": "Ångström", "givenName": "Zoë"}],
            "emailAddresses": [{"value": "zoe@example.com", "type": "home"}, {"value": "zoe@work.example", "type": "work"}],
            "phoneNumbers": [{"value": "+49 170 1234567", "type": "mobile"}],
            "addresses": [{"streetAddress": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "country": "Germany", "type": "home"}],
            "organizations": [{"name": "Acme", "department": "R&D", "title": "Chemist"}],
            "birthdays": [{"date": {"year": 1980, "month": 2, "day": 29}}],
            "biographies": [{"value": "Met at the conference"}],
            "photos": [{"url": "https://lh3.googleusercontent.com/p/zoe", "default": false}],
            "memberships": [{"contactGroupMembership": {"contactGroupResourceName": family}}],
        }),
    );
    g.people.seed(
        GUSER,
        json!({"names": [{"displayName": "Bo Li", "familyName": "Li", "givenName": "Bo"}],
            "birthdays": [{"date": {"month": 7, "day": 4}}]}),
    );
    g.people.seed_other(
        GUSER,
        json!({"names": [{"displayName": "Newsletter"}], "emailAddresses": [{"value": "news@shop.example"}]}),
    );
    let d = dav_side("dst");
    let p = project(
        google_endpoint(&g),
        imap_dav(&d),
        project::user(GUSER),
        project::login(DAV.0, DAV.1),
    );
    let plan = cutover(&p, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        stdout(&plan)
            .lines()
            .any(|l| l.contains("Other contacts") && l.contains("not copied")),
        "{}",
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
    let cards = d.dav.dump(DAV.0, DAV.1, false);
    assert_eq!(cards.len(), 2, "{cards:?}");
    let zoe = cards
        .iter()
        .find(|c| c.content.contains("Zoë"))
        .unwrap()
        .content
        .replace("\r\n ", "");
    for want in [
        "N:Ångström;Zoë;;;",
        "FN:Zoë Ångström",
        "EMAIL;TYPE=INTERNET,HOME:zoe@example.com",
        "EMAIL;TYPE=INTERNET,WORK:zoe@work.example",
        "TEL;TYPE=CELL:+49 170 1234567",
        "ADR;TYPE=HOME:;;Hauptstr. 1;Berlin;;10115;Germany",
        "ORG:Acme;R&D",
        "TITLE:Chemist",
        "BDAY:1980-02-29",
        "NOTE:Met at the conference",
        "PHOTO;VALUE=URI:https://lh3.googleusercontent.com/p/zoe",
        "CATEGORIES:Family",
    ] {
        assert!(zoe.contains(want), "{want} in\n{zoe}");
    }
    let again = cutover(&p, &["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = cutover(&p, &["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // Asked for: the other contacts too, in their own address book.
    ProjectBuilder::load(&p.path)
        .set("source.other_contacts", true)
        .write_to(&p.path);
    let run = cutover(&p, &["run"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&run),
        failed_reasons(&p)
    );
    let cards = d.dav.dump(DAV.0, DAV.1, false);
    assert_eq!(cards.len(), 3, "{cards:?}");
    assert!(
        cards
            .iter()
            .any(|c| c.content.contains("news@shop.example"))
    );
}

/// Microsoft 365 to Google Workspace, calendars and contacts (issue 16, item 5's Google
/// half, without mail): a weekly meeting series with a moved and a cancelled occurrence and
/// attendees, and two contacts, from the fake Graph to the fake Calendar and People APIs;
/// killed once and completed, every item once, nobody notified on either side, a re-run
/// writing nothing, verify.
#[test]
fn m365_to_google_calendars_and_contacts_once_nobody_notified() {
    use support::fake_cloud::google_calendar::{
        CALENDAR_READ_SCOPE, CALENDAR_SCOPE, GoogleCalendar,
    };
    use support::fake_cloud::graph::{FakeGraph, GraphConfig};
    const ANN: &str = "ann@fabrikam.com";
    let dir = tmp();
    let (key, public) = sa_key(dir.path());
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("fabrikam", "app-src", "secret-src")
        .with_service_account(
            SA,
            &public,
            &[
                CALENDAR_SCOPE,
                CALENDAR_READ_SCOPE,
                CONTACTS_SCOPE,
                CONTACTS_READ_SCOPE,
                OTHER_CONTACTS_SCOPE,
            ],
        )
        .with_user(GUSER);
    let graph = Arc::new(FakeGraph::new(GraphConfig::default()).with_mailbox("fabrikam", ANN));
    let (mut cal, mut people) = (None, None);
    let cloud = FakeCloud::start_with(tokens, |t| {
        let c = Arc::new(
            GoogleCalendar::new(t.clone())
                .with_user(GUSER)
                .with_import_delay(Duration::from_millis(30)),
        );
        let p = Arc::new(GooglePeople::new(t.clone()).with_user(GUSER));
        cal = Some(c.clone());
        people = Some(p.clone());
        support::fake_cloud::graph::router(graph.clone(), t)
            .merge(support::fake_cloud::google_calendar::router(c))
            .merge(support::fake_cloud::google_people::router(p))
    });
    let (cal, people) = (cal.unwrap(), people.unwrap());
    let sa = sa_file(dir.path(), &key, &cloud);
    let series = graph.seed_event(
        ANN,
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
        ANN,
        &series,
        "2026-03-16T08:00:00",
        json!({"subject": "Weekly sync (moved)",
            "start": {"dateTime": "2026-03-17T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-17T10:30:00", "timeZone": "W. Europe Standard Time"}}),
    );
    graph.seed_cancel(ANN, &series, "2026-03-23T08:00:00");
    graph.seed_event(
        ANN,
        None,
        json!({"subject": "Dentist",
            "start": {"dateTime": "2026-04-01T14:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-04-01T15:00:00", "timeZone": "W. Europe Standard Time"}}),
    );
    for (name, mail) in [
        ("Ida Berg", "ida@example.com"),
        ("Jon Lund", "jon@example.com"),
    ] {
        graph.seed_contact(
            ANN,
            None,
            json!({"displayName": name, "emailAddresses": [{"address": mail}]}),
            None,
        );
    }
    let url = cloud.url();
    let token_url = format!("{url}/fabrikam/oauth2/v2.0/token");
    let source = toml::toml! {
        kind = "graph"
        api_url = (url.as_str())
        [oauth]
        provider = "entra"
        tenant = "fabrikam"
        client_id = "app-src"
        client_secret_env = "M365_SRC_SECRET"
        token_url = (token_url.as_str())
    };
    let sa = sa.display().to_string();
    let destination = toml::toml! {
        kind = "gmail"
        api_url = (url.as_str())
        [oauth]
        provider = "google"
        flow = "service-account"
        service_account_file = (sa.as_str())
    };
    let p = ProjectBuilder::new("m365-to-google")
        .set("project.items", vec!["calendar", "contacts"])
        .source(source)
        .destination(destination)
        .mailbox(project::mailbox(
            None,
            project::user(ANN),
            project::user(GUSER),
        ))
        .create();
    let run = |args: &[&str]| {
        Command::new(bin())
            .arg(args[0])
            .arg(&p.path)
            .args(&args[1..])
            .env("M365_SRC_SECRET", "secret-src")
            .output()
            .unwrap()
    };
    let gc = cal.clone();
    let mut first = Command::new(bin());
    first
        .arg("run")
        .arg(&p.path)
        .env("M365_SRC_SECRET", "secret-src");
    assert!(
        run_until_sigkill(&mut first, |_| gc.calls_of("events.import") >= 1),
        "killed during the copy"
    );
    let done = run(&["run"]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&done),
        failed_reasons(&p)
    );
    let events = cal.user(GUSER).calendar("primary").events.clone();
    let sync: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("Weekly sync"))
        })
        .collect();
    assert_eq!(
        sync.len(),
        2,
        "the series and its moved occurrence: {events:?}"
    );
    let master = sync
        .iter()
        .find(|e| e["originalStartTime"].is_null())
        .unwrap();
    assert_eq!(master["start"]["timeZone"], "Europe/Berlin");
    assert!(
        master["recurrence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("EXDATE")),
        "{master}"
    );
    assert_eq!(
        events.iter().filter(|e| e["summary"] == "Dentist").count(),
        1
    );
    assert!(
        cal.user(GUSER).outbox.is_empty(),
        "{:?}",
        cal.user(GUSER).outbox
    );
    assert_eq!(cal.calls_of("events.insert"), 0);
    let mut names: Vec<String> = people
        .user(GUSER)
        .contacts
        .iter()
        .map(|c| {
            c["emailAddresses"][0]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["ida@example.com", "jon@example.com"]);
    let again = run(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = run(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(graph.mailbox(ANN).calendars.outbox.is_empty());
}

/// Google Workspace to Microsoft 365, calendars and contacts (issue 16, item 5's Google
/// half, without mail): a Berlin series with a moved and a cancelled occurrence, a meeting
/// with attendees and reminders, an all-day event, a contact with its group; every item once
/// on Graph, nobody notified, a re-run writing nothing, verify.
#[test]
fn google_to_m365_calendars_and_contacts_once_nobody_notified() {
    use support::fake_cloud::google_calendar::{
        CALENDAR_READ_SCOPE, CALENDAR_SCOPE, GoogleCalendar,
    };
    use support::fake_cloud::graph::{FakeGraph, GraphConfig};
    const ANN: &str = "ann@contoso.com";
    let dir = tmp();
    let (key, public) = sa_key(dir.path());
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("contoso", "app-dst", "secret-dst")
        .with_service_account(
            SA,
            &public,
            &[
                CALENDAR_SCOPE,
                CALENDAR_READ_SCOPE,
                CONTACTS_SCOPE,
                CONTACTS_READ_SCOPE,
                OTHER_CONTACTS_SCOPE,
            ],
        )
        .with_user(GUSER);
    let graph = Arc::new(
        FakeGraph::new(GraphConfig {
            latency: Duration::from_millis(10),
            ..GraphConfig::default()
        })
        .with_mailbox("contoso", ANN),
    );
    let (mut cal, mut people) = (None, None);
    let cloud = FakeCloud::start_with(tokens, |t| {
        let c = Arc::new(
            GoogleCalendar::new(t.clone())
                .with_user(GUSER)
                .with_page_size(3),
        );
        let p = Arc::new(GooglePeople::new(t.clone()).with_user(GUSER));
        cal = Some(c.clone());
        people = Some(p.clone());
        support::fake_cloud::graph::router(graph.clone(), t)
            .merge(support::fake_cloud::google_calendar::router(c))
            .merge(support::fake_cloud::google_people::router(p))
    });
    let (cal, people) = (cal.unwrap(), people.unwrap());
    let sa = sa_file(dir.path(), &key, &cloud);
    cal.seed(
        GUSER,
        GUSER,
        json!({"iCalUID": "series-1@google.com", "summary": "Weekly",
        "start": {"dateTime": "2026-02-16T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-02-16T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"]}),
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
    cal.seed(GUSER, GUSER, json!({"iCalUID": "meet-1@google.com", "summary": "Budget",
        "start": {"dateTime": "2026-05-05T15:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-05-05T16:00:00", "timeZone": "America/New_York"},
        "organizer": {"email": "boss@example.com"},
        "attendees": [{"email": "boss@example.com", "responseStatus": "accepted"}, {"email": GUSER, "responseStatus": "tentative"}],
        "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 15}]},
        "visibility": "private"}));
    cal.seed(
        GUSER,
        GUSER,
        json!({"iCalUID": "day-1@google.com", "summary": "Offsite",
        "start": {"date": "2026-04-01"}, "end": {"date": "2026-04-03"}}),
    );
    let family = people.seed_group(GUSER, "Family");
    people.seed(
        GUSER,
        json!({
        "names": [{"displayName": "Zoë Ångström", "familyName": "Ångström", "givenName": "Zoë"}],
        "emailAddresses": [{"value": "zoe@example.com", "type": "home"}],
        "phoneNumbers": [{"value": "+49 170 1234567", "type": "mobile"}],
        "organizations": [{"name": "Acme", "title": "Chemist"}],
        "birthdays": [{"date": {"year": 1980, "month": 2, "day": 29}}],
        "memberships": [{"contactGroupMembership": {"contactGroupResourceName": family}}]}),
    );
    people.seed(
        GUSER,
        json!({"names": [{"displayName": "Bo Li", "familyName": "Li", "givenName": "Bo"}],
        "emailAddresses": [{"value": "bo@example.net"}]}),
    );
    let url = cloud.url();
    let token_url = format!("{url}/contoso/oauth2/v2.0/token");
    let sa = sa.display().to_string();
    let source = toml::toml! {
        kind = "gmail"
        api_url = (url.as_str())
        [oauth]
        provider = "google"
        flow = "service-account"
        service_account_file = (sa.as_str())
    };
    let destination = toml::toml! {
        kind = "graph"
        api_url = (url.as_str())
        [oauth]
        provider = "entra"
        tenant = "contoso"
        client_id = "app-dst"
        client_secret_env = "M365_DST_SECRET"
        token_url = (token_url.as_str())
    };
    let p = ProjectBuilder::new("google-to-m365")
        .set("project.items", vec!["calendar", "contacts"])
        .source(source)
        .destination(destination)
        .mailbox(project::mailbox(
            None,
            project::user(GUSER),
            project::user(ANN),
        ))
        .create();
    let run = |args: &[&str]| {
        Command::new(bin())
            .arg(args[0])
            .arg(&p.path)
            .args(&args[1..])
            .env("M365_DST_SECRET", "secret-dst")
            .output()
            .unwrap()
    };
    let g = graph.clone();
    let mut first = Command::new(bin());
    first
        .arg("run")
        .arg(&p.path)
        .env("M365_DST_SECRET", "secret-dst");
    run_until_sigkill(&mut first, |_| g.mailbox(ANN).calendars.creates >= 1);
    let done = run(&["run"]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}\n{:?}",
        text(&done),
        failed_reasons(&p)
    );
    let mb = graph.mailbox(ANN);
    let subjects: Vec<String> = mb
        .calendars
        .events
        .iter()
        .map(|e| e.fields["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut sorted = subjects.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["Budget", "Offsite", "Weekly"],
        "each event once: {subjects:?}"
    );
    let weekly = mb
        .calendars
        .events
        .iter()
        .find(|e| e.fields["subject"] == "Weekly")
        .unwrap();
    assert_eq!(weekly.exceptions.len(), 1, "the moved occurrence");
    assert_eq!(weekly.cancelled.len(), 1, "the cancelled occurrence");
    assert!(mb.calendars.outbox.is_empty(), "{:?}", mb.calendars.outbox);
    assert_eq!(mb.contacts.contacts.len(), 2, "{:?}", mb.contacts.contacts);
    assert_eq!(cal.calls_of("events.import"), 0, "Google is only read");
    let again = run(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = run(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}
