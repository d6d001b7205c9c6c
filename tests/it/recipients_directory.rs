//! Issue 17's Done-when, Google Workspace to Microsoft 365 against the fakes (Gmail, Calendar,
//! People and the Admin SDK Directory API; Graph with its directory): two users, one shared
//! mailbox and one list of three members. `cutover assess` lists them from the Google
//! directory; the batch holding the shared mailbox is held by the required checklist item
//! `recipients`; `cutover recipients` creates the Microsoft 365 group and its members through
//! Graph, killed with SIGKILL right after a create (its answer lost) and run again: each group
//! and member exactly once; a member that is not on the destination yet waits for the script,
//! as does the shared mailbox's calendar delegate (from the CSV), created through Graph once
//! the script's mailbox exists;
//! `--check` says what is missing, then (the script's work done) that everything is there
//! and what it cannot verify; the item passes; the shared mailbox's mail, calendar and
//! contacts arrive exactly once (a run killed and resumed); the final report lists it all;
//! `cutover rollback --recipients` removes what cutover created and only that.

use crate::google_calendar::{GUSER, SA, sa_file, sa_key, tmp};
use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use support::fake_cloud::FakeCloud;
use support::fake_cloud::gmail::Gmail;
use support::fake_cloud::google_calendar::{CALENDAR_READ_SCOPE, GoogleCalendar};
use support::fake_cloud::google_directory::{GROUP_SCOPE, GoogleDirectory, USER_READ_SCOPE};
use support::fake_cloud::google_people::{CONTACTS_READ_SCOPE, GooglePeople, OTHER_CONTACTS_SCOPE};
use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::fake_cloud::token::Tokens;
use support::project::ProjectBuilder;
use support::*;

const SECRET_ENV: &str = "CONTOSO_GRAPH_SECRET";
const BOB: &str = "bob@example.com";
const INFO: &str = "info@example.com";
const ADMIN: &str = "admin@example.com";
const D_ALICE: &str = "alice@contoso.com";
const D_BOB: &str = "bob@contoso.com";
const D_INFO: &str = "info@contoso.com";

#[test]
fn google_workspace_to_m365_shared_mailbox_and_list_discovered_created_checked_reported() {
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
                USER_READ_SCOPE,
                GROUP_SCOPE,
            ],
        )
        .with_user(GUSER)
        .with_user(BOB)
        .with_user(INFO)
        .with_user(ADMIN);
    let graph = Arc::new(
        FakeGraph::new(GraphConfig {
            latency: Duration::from_millis(5),
            ..GraphConfig::default()
        })
        .with_mailbox("contoso", D_ALICE)
        .with_mailbox("contoso", D_BOB)
        .with_mailbox("contoso", D_INFO),
    );
    let (mut gm, mut cal, mut people, mut gdir) = (None, None, None, None);
    let cloud = FakeCloud::start_with(tokens, |t| {
        let m = Arc::new(
            Gmail::new(t.clone())
                .with_user(GUSER)
                .with_user(BOB)
                .with_user(INFO),
        );
        let c = Arc::new(
            GoogleCalendar::new(t.clone())
                .with_user(GUSER)
                .with_user(BOB)
                .with_user(INFO),
        );
        let p = Arc::new(
            GooglePeople::new(t.clone())
                .with_user(GUSER)
                .with_user(BOB)
                .with_user(INFO),
        );
        let d = Arc::new(GoogleDirectory::new(t.clone()).with_admin(ADMIN));
        gm = Some(m.clone());
        cal = Some(c.clone());
        people = Some(p.clone());
        gdir = Some(d.clone());
        support::fake_cloud::graph::router(graph.clone(), t)
            .merge(support::fake_cloud::gmail::router(m))
            .merge(support::fake_cloud::google_calendar::router(c))
            .merge(support::fake_cloud::google_people::router(p))
            .merge(support::fake_cloud::google_directory::router(d))
    });
    let (gm, cal, people, gdir) = (gm.unwrap(), cal.unwrap(), people.unwrap(), gdir.unwrap());
    let sa = sa_file(dir.path(), &key, &cloud);

    // The Google directory: three users (info is the team's shared address), the list with
    // its three members, and a second group the destination already has.
    gdir.add_user(GUSER, "Alice", &["a@example.com"]);
    gdir.add_user(BOB, "Bob", &[]);
    gdir.add_user(INFO, "Info", &[]);
    gdir.add_user(ADMIN, "Admin", &[]);
    gdir.add_group(
        "team@example.com",
        "Team",
        &[BOB, INFO],
        &[GUSER],
        &["all@example.com"],
    );
    gdir.add_group("staff@example.com", "Staff", &[GUSER], &[], &[]);
    // Bob reads and sends from Alice's Gmail (a delegate); an invitation not yet accepted
    // gives nothing.
    gm.add_delegate(GUSER, BOB, "accepted");
    gm.add_delegate(GUSER, "eve@example.com", "pending");
    // The Microsoft 365 directory: the two users, and the staff group made by someone else.
    let dirg = &graph.directory;
    dirg.add_user(D_ALICE, "Alice", "user");
    dirg.add_user(D_BOB, "Bob", "user");
    dirg.add_group("staff@contoso.com", "Staff", "m365group", &[D_ALICE], &[]);
    // Throttled once, as Graph does (429 with Retry-After): waited out.
    dirg.throttle_next.store(1, Ordering::SeqCst);
    gdir.throttle_next.store(1, Ordering::SeqCst);

    // The shared mailbox's mail, an event, a contact.
    let mut want = Vec::new();
    for i in 0..20 {
        let raw = format!(
            "From: Kunde <k{i}@example.net>\r\nTo: info@example.com\r\nSubject: Anfrage {i}\r\nDate: Mon, 6 May 2024 10:{:02}:00 +0200\r\nMessage-ID: <info{i}@example.net>\r\n\r\n{}\r\n",
            i % 60,
            "text ".repeat(1 + i * 13 % 200)
        );
        gm.add_message(
            INFO,
            raw.as_bytes(),
            &["INBOX"],
            1_714_982_400_000 + i as i64 * 60_000,
        );
        want.push(sha(raw.as_bytes()));
    }
    want.sort();
    cal.seed(
        INFO,
        INFO,
        json!({"iCalUID": "desk-1@google.com", "summary": "Front desk",
        "start": {"dateTime": "2026-02-16T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-02-16T10:00:00", "timeZone": "Europe/Berlin"}}),
    );
    people.seed(
        INFO,
        json!({"names": [{"displayName": "Ida Berg", "familyName": "Berg", "givenName": "Ida"}],
        "emailAddresses": [{"value": "ida@example.com", "type": "work"}]}),
    );

    // The example project, pointed at the fakes: two users and the shared mailbox (its own
    // batch), Google groups as Microsoft 365 groups, the `recipients` item required.
    let url = cloud.url();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/google-workspace-to-m365.toml");
    let mailbox = |batch: &str, src: &str, dst: &str, shared: bool| {
        let mut m = support::project::mailbox(
            Some(batch),
            support::project::user(src),
            support::project::user(dst),
        );
        if shared {
            m.insert("type".into(), "shared".into());
        }
        m
    };
    let pdir = tmp();
    let path = ProjectBuilder::load(&example)
        .set("project.state", "state.sqlite")
        .set("source.api_url", url.as_str())
        .set(
            "source.oauth.service_account_file",
            sa.display().to_string(),
        )
        .set("destination.api_url", url.as_str())
        .set("destination.oauth.tenant", "contoso")
        .set("destination.oauth.client_id", "app-dst")
        .set(
            "destination.oauth.token_url",
            format!("{url}/contoso/oauth2/v2.0/token"),
        )
        .set("recipients.google_admin", ADMIN)
        .set("recipients.google_groups", "m365group")
        // What Google cannot say: who may use the shared mailbox (the operator's CSV).
        .set("recipients.csv", "recipients.csv")
        .check(toml::toml! {
            id = "recipients"
            title = "Shared mailboxes and lists on Microsoft 365"
            kind = "auto"
            required = true
        })
        .remove("mailbox")
        .mailbox(mailbox("pilot", GUSER, D_ALICE, false))
        .mailbox(mailbox("pilot", BOB, D_BOB, false))
        .mailbox(mailbox("shared", INFO, D_INFO, true))
        .write(pdir.path());
    std::fs::write(
        pdir.path().join("recipients.csv"),
        "Type,Address,DisplayName,Members,Aliases,Access\n\
         shared,info@contoso.com,Info,,,alice@contoso.com:CalendarDelegate;bob@contoso.com:FullAccess\n",
    )
    .unwrap();
    let cmd = |args: &[&str]| -> Command {
        let mut c = Command::new(bin());
        c.arg(args[0])
            .arg(&path)
            .args(&args[1..])
            .env(SECRET_ENV, "secret-dst");
        c
    };
    let run = |args: &[&str]| -> Output { cmd(args).output().unwrap() };

    // 1. assess lists what the Google directory holds, addresses mapped to the destination's.
    let a = run(&["assess"]);
    let out = stdout(&a);
    for want in [
        "recipients (recipients.csv, google, project: 1 shared, 2 m365group, 1 user;",
        "user         alice@contoso.com (Alice)\n    access: bob@contoso.com has FullAccess\n    access: bob@contoso.com has SendAs\n",
        "m365group    team@example.com (Team)",
        "members: alice@contoso.com, bob@contoso.com, info@contoso.com",
        "owners: alice@contoso.com",
        "aliases: all@example.com",
        "shared       info@contoso.com (Info)\n    access: alice@contoso.com has CalendarDelegate\n",
        "user alice@contoso.com aliases: a@example.com",
    ] {
        assert!(out.contains(want), "{want:?} in: {}", text(&a));
    }
    assert!(
        gdir.throttled.load(Ordering::SeqCst) >= 1,
        "the 429 was met"
    );

    // 2. The shared mailbox's batch is held: nothing checked on the destination yet.
    let held = run(&["run", "--batch", "shared"]);
    assert_eq!(held.status.code(), Some(11), "{}", text(&held));
    assert!(text(&held).contains("recipients"), "{}", text(&held));

    // 3. Created through Graph, killed right after the group's create (its answer lost).
    dirg.hang_next_create.store(1, Ordering::SeqCst);
    let g = graph.clone();
    assert!(
        run_until_sigkill(&mut cmd(&["recipients"]), |_| {
            g.directory.group_creates.load(Ordering::SeqCst) >= 1
        }),
        "killed after the group's create"
    );
    let again = run(&["recipients"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let o = stdout(&again);
    assert!(
        o.contains(
            "created  create Microsoft 365 group team@example.com (found after an unanswered create"
        ),
        "{o}"
    );
    assert!(
        o.contains("waiting  add member info@contoso.com to team@example.com"),
        "{o}"
    );
    assert!(
        o.contains("present  create Microsoft 365 group staff@example.com (already there"),
        "{o}"
    );
    assert!(
        o.contains("script   create shared mailbox info@contoso.com"),
        "{o}"
    );
    // The Gmail delegate: FullAccess and SendAs, which only the Exchange script sets.
    assert!(
        o.contains("script   grant bob@contoso.com FullAccess on alice@contoso.com"),
        "{o}"
    );
    assert!(
        o.contains("script   grant bob@contoso.com SendAs on alice@contoso.com"),
        "{o}"
    );
    assert!(!o.contains("eve@"), "{o}");
    assert_eq!(
        dirg.groups_with_mail("team@contoso.com"),
        1,
        "the group once"
    );
    assert_eq!(dirg.group_creates.load(Ordering::SeqCst), 1);
    let (name, unified, members) = dirg.group("team@contoso.com").unwrap();
    assert_eq!((name.as_str(), unified), ("Team", true));
    assert_eq!(members, [D_ALICE, D_BOB]);
    // The Google group's owner owns the Microsoft 365 group (POST /groups/{id}/owners/$ref).
    assert!(
        o.contains("created  add owner alice@contoso.com to team@example.com"),
        "{o}"
    );
    assert_eq!(dirg.owners("team@contoso.com"), [D_ALICE]);
    assert_eq!(dirg.owner_adds.load(Ordering::SeqCst), 1);

    // 4. --check: the shared mailbox is missing (the script has not run), the list lacks info.
    let c = run(&["recipients", "--check"]);
    assert_eq!(c.status.code(), Some(6), "{}", text(&c));
    let o = stdout(&c);
    assert!(o.contains("shared       info@contoso.com MISSING"), "{o}");
    assert!(
        o.contains("m365group    team@example.com DIFFERS: members missing: info@contoso.com"),
        "{o}"
    );
    assert!(o.contains("aliases missing: all@example.com"), "{o}");
    let item = |o: &Output| {
        stdout(o)
            .lines()
            .find(|l| l.trim_start().starts_with("recipients "))
            .unwrap_or_else(|| panic!("no recipients item: {}", text(o)))
            .to_string()
    };
    let l = item(&run(&["checklist"]));
    assert!(
        l.contains("fail") && l.contains("info@contoso.com (missing)"),
        "{l}"
    );

    // 5. The script's part done (the shared mailbox, the alias): the third member is added,
    //    killed again right after its create; once all the same.
    dirg.add_user(D_INFO, "Info", "shared");
    {
        let mut st = dirg.state.lock().unwrap();
        let team = st
            .groups
            .iter_mut()
            .find(|g| g.mail.as_deref() == Some("team@contoso.com"))
            .unwrap();
        team.proxy.push("smtp:all@example.com".into());
    }
    dirg.hang_next_create.store(1, Ordering::SeqCst);
    assert!(
        run_until_sigkill(&mut cmd(&["recipients"]), |_| {
            g.directory.member_adds.load(Ordering::SeqCst) >= 3
        }),
        "killed after the member's add"
    );
    let third = run(&["recipients"]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert_eq!(
        dirg.group("team@contoso.com").unwrap().2,
        [D_ALICE, D_BOB, D_INFO]
    );
    assert_eq!(
        dirg.member_adds.load(Ordering::SeqCst),
        3,
        "each member once"
    );
    assert_eq!(dirg.owner_adds.load(Ordering::SeqCst), 1, "the owner once");
    assert_eq!(dirg.group_creates.load(Ordering::SeqCst), 1);
    let c = run(&["recipients", "--check"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    assert!(
        stdout(&c).contains("4 of 4 present as listed"),
        "{}",
        text(&c)
    );
    assert!(
        stdout(&c).contains("cannot be read through Graph"),
        "{}",
        text(&c)
    );
    let l = item(&run(&["checklist"]));
    assert!(
        l.contains("pass") && l.contains("verified by `cutover recipients --check`"),
        "{l}"
    );

    // 6. The shared mailbox's mail, calendar and contacts, exactly once (killed, resumed).
    let gi = graph.clone();
    assert!(
        run_until_sigkill(&mut cmd(&["run"]), |_| gi.mailbox(D_INFO).messages.len()
            >= 5),
        "killed during the copy"
    );
    let done = run(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let mb = graph.mailbox(D_INFO);
    let mut have: Vec<String> = mb.messages.iter().map(|m| sha(&m.export())).collect();
    have.sort();
    assert_eq!(have, want, "every message exactly once, byte for byte");
    assert_eq!(mb.calendars.events.len(), 1);
    assert_eq!(mb.contacts.contacts.len(), 1);

    // 7. The final report: the recipients with their state, what cutover created, what it
    //    cannot verify.
    let r = run(&["report", "--kind", "final"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    let md = stdout(&r);
    assert!(
        md.contains("## Shared mailboxes, lists and permissions"),
        "{md}"
    );
    assert!(
        md.contains("cutover created 1 group(s), 3 member(s)"),
        "{md}"
    );
    assert!(
        md.lines()
            .any(|l| l.contains("| team@example.com |") && l.contains("| present |")),
        "{md}"
    );
    assert!(
        md.contains("FullAccess, SendAs and SendOnBehalf cannot be read"),
        "{md}"
    );

    // 8. Rollback removes the group cutover made (and its members), not the staff group.
    let rb = run(&["rollback", "--recipients", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert_eq!(
        dirg.groups_with_mail("team@contoso.com"),
        0,
        "{}",
        text(&rb)
    );
    assert_eq!(dirg.group("staff@contoso.com").unwrap().2, [D_ALICE]);
    assert!(
        dirg.calendar_permissions(D_INFO).is_empty(),
        "{}",
        text(&rb)
    );
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(b))
}

/// Microsoft 365 to Google Workspace: the source tenant's directory read through Graph (paged,
/// throttled once: users with `userPurpose`, a shared mailbox's calendar permissions, a
/// distribution list with members and owners), addresses mapped to the destination's; the
/// list created as a Google group with its members through the Directory API, killed right
/// after the group's create and run again: once; `--check` finds it and says what Google
/// cannot show; rollback removes it.
#[test]
fn m365_to_google_workspace_directory_read_through_graph_groups_created_through_google() {
    const SRC_ENV: &str = "CONTOSO_GRAPH_SECRET";
    const S_ALICE: &str = "alice@fabrikam.com";
    const S_INFO: &str = "info@fabrikam.com";
    let dir = tmp();
    let (key, public) = sa_key(dir.path());
    let tokens = Tokens::new(Duration::from_secs(3600))
        .with_client("fabrikam", "app-src", "secret-src")
        .with_service_account(SA, &public, &[USER_READ_SCOPE, GROUP_SCOPE])
        .with_user(ADMIN);
    let graph = Arc::new(FakeGraph::new(GraphConfig::default()));
    let mut gdir = None;
    let cloud = FakeCloud::start_with(tokens, |t| {
        let d = Arc::new(GoogleDirectory::new(t.clone()).with_admin(ADMIN));
        gdir = Some(d.clone());
        support::fake_cloud::graph::router(graph.clone(), t)
            .merge(support::fake_cloud::google_directory::router(d))
    });
    let gdir = gdir.unwrap();
    let sa = sa_file(dir.path(), &key, &cloud);
    let dirg = &graph.directory;
    dirg.add_user(S_ALICE, "Alice", "user");
    dirg.add_user("bo@fabrikam.com", "Bo", "user");
    dirg.add_user(S_INFO, "Info", "shared");
    dirg.add_calendar_permission(S_INFO, S_ALICE, "write");
    dirg.add_calendar_permission(S_INFO, "bo@fabrikam.com", "limitedRead");
    dirg.add_group(
        "team@fabrikam.com",
        "Team",
        "distribution",
        &[S_ALICE, S_INFO],
        &[S_ALICE],
    );
    dirg.throttle_next.store(1, Ordering::SeqCst);
    gdir.add_user(GUSER, "Alice", &[]);
    gdir.add_user(INFO, "Info", &[]);

    let url = cloud.url();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/m365-to-google-workspace.toml");
    let mut shared = support::project::mailbox(
        Some("shared"),
        support::project::user(S_INFO),
        support::project::user(INFO),
    );
    shared.insert("type".into(), "shared".into());
    let pdir = tmp();
    let path = ProjectBuilder::load(&example)
        .set("project.state", "state.sqlite")
        .set("source.api_url", url.as_str())
        .set("source.oauth.tenant", "fabrikam")
        .set("source.oauth.client_id", "app-src")
        .set(
            "source.oauth.token_url",
            format!("{url}/fabrikam/oauth2/v2.0/token"),
        )
        .set("destination.api_url", url.as_str())
        .set(
            "destination.oauth.service_account_file",
            sa.display().to_string(),
        )
        .set("recipients.google_admin", ADMIN)
        .remove("mailbox")
        .mailbox(support::project::mailbox(
            Some("pilot"),
            support::project::user(S_ALICE),
            support::project::user(GUSER),
        ))
        .mailbox(shared)
        .write(pdir.path());
    let cmd = |args: &[&str]| -> Command {
        let mut c = Command::new(bin());
        c.arg(args[0])
            .arg(&path)
            .args(&args[1..])
            .env(SRC_ENV, "secret-src");
        c
    };
    let run = |args: &[&str]| -> Output { cmd(args).output().unwrap() };

    gdir.hang_next_create.store(1, Ordering::SeqCst);
    let d = gdir.clone();
    assert!(
        run_until_sigkill(&mut cmd(&["recipients"]), |_| {
            d.group_creates.load(Ordering::SeqCst) >= 1
        }),
        "killed after the group's create"
    );
    assert!(
        dirg.throttled.load(Ordering::SeqCst) >= 1,
        "the 429 was met"
    );
    let again = run(&["recipients"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let o = stdout(&again);
    for want in [
        "recipients from graph, project: 1 shared, 1 distribution",
        "  shared       info@example.com (Info)",
        "    access: alice@example.com has CalendarEditor",
        "  distribution team@fabrikam.com (Team)\n    members: alice@example.com, info@example.com\n    owners: alice@example.com\n",
        "note: info@fabrikam.com: calendar role \"limitedRead\" of bo@fabrikam.com has no equivalent right here",
        "created  create distribution list team@fabrikam.com (found after an unanswered create",
        "created  add member alice@example.com to team@fabrikam.com",
        "waiting  create shared mailbox info@example.com (Google has no shared",
        "created  add owner alice@example.com to team@fabrikam.com (was a member: role OWNER)",
    ] {
        assert!(o.contains(want), "{want:?} in {o}");
    }
    assert_eq!(gdir.groups_with_email("team@fabrikam.com"), 1);
    assert_eq!(gdir.group_creates.load(Ordering::SeqCst), 1);
    assert_eq!(
        gdir.group("team@fabrikam.com").unwrap().1,
        [GUSER, INFO],
        "each member once"
    );
    assert_eq!(gdir.member_adds.load(Ordering::SeqCst), 2);
    assert_eq!(
        gdir.owners("team@fabrikam.com"),
        [GUSER],
        "the owner as role OWNER"
    );

    // The owner made a plain member on the destination: --check says so.
    gdir.groups.lock().unwrap()[0].members[0].1 = "MEMBER".into();
    let c = run(&["recipients", "--check"]);
    assert_eq!(c.status.code(), Some(6), "{}", text(&c));
    assert!(
        stdout(&c).contains("DIFFERS: owners missing: alice@example.com"),
        "{}",
        text(&c)
    );
    gdir.groups.lock().unwrap()[0].members[0].1 = "OWNER".into();

    let c = run(&["recipients", "--check"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    let o = stdout(&c);
    assert!(o.contains("distribution team@fabrikam.com present"), "{o}");
    assert!(
        o.contains("not verifiable through google: alice@example.com CalendarEditor, type shared (Google has none)"),
        "{o}"
    );

    let rb = run(&["rollback", "--recipients", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert_eq!(
        gdir.groups_with_email("team@fabrikam.com"),
        0,
        "{}",
        text(&rb)
    );
}
