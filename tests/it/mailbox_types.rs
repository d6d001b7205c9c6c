//! Mailbox types (`type` on `[[mailbox]]`, the `Type` column of the mailbox CSV): a shared
//! mailbox migrates exactly like a user mailbox against real Dovecot servers, and is marked and
//! counted apart in the plan, the run's summary, the journal and the report.

use crate::support;

use support::project::{imap, login, mailbox};
use support::*;

#[test]
fn a_shared_mailbox_migrates_like_a_user_and_is_counted_apart() {
    let root = tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap();
    let users = [("alice", "alice-pw"), ("info", "info-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 20, 1, &[]);
    src.seed("info", 30, 2, &[]);
    let mut shared = mailbox(
        Some("wave-1"),
        login("info", "info-pw"),
        login("info", "info-pw"),
    );
    shared.insert("type".into(), "shared".into());
    let p = ProjectBuilder::imap(&src, &dst)
        .mailbox(mailbox(
            Some("wave-1"),
            login("alice", "alice-pw"),
            login("alice", "alice-pw"),
        ))
        .mailbox(shared)
        .set("recipients.csv", "recipients.csv")
        .create();
    // The source is IMAP: the operator's CSV says what info is and who may use it.
    std::fs::write(
        p.dir.path().join("recipients.csv"),
        "Type,Address,DisplayName,Members,Aliases,Access\n\
         shared,info@new.test,Info,,kontakt@new.test,alice@new.test:FullAccess;alice@new.test:SendAs\n\
         distribution,team@new.test,Team,alice@new.test;info@new.test;bob@new.test,,\n",
    )
    .unwrap();

    let csv = p.dir.path().join("assess.csv");
    let assess = p.cutover(&["assess", "--csv", csv.to_str().unwrap()]);
    assert_eq!(assess.status.code(), Some(0), "{}", text(&assess));
    // The CSV's last column is the mailbox's type.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let types: Vec<&str> = csv.lines().map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(types, ["mailbox_type", "user", "shared"], "{csv}");
    let out = stdout(&assess);
    for want in [
        "info->info [shared]",
        "2 mailbox(es): 1 user, 1 shared",
        "  shared       info@new.test (Info)\n    aliases: kontakt@new.test\n    access: alice@new.test has FullAccess\n    access: alice@new.test has SendAs\n",
        "  distribution team@new.test (Team)\n    members: alice@new.test, info@new.test, bob@new.test\n",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }

    let check = p.cutover(&["check"]);
    assert!(
        stdout(&check).contains("types    1 user, 1 shared"),
        "{}",
        text(&check)
    );
    let plan = p.cutover(&["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let out = stdout(&plan);
    assert!(out.contains("[alice->alice] batch wave-1\n"), "{out}");
    assert!(
        out.contains("[info->info] batch wave-1, shared mailbox"),
        "{out}"
    );
    assert!(out.contains("2 mailbox(es): 1 user, 1 shared"), "{out}");

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let out = stdout(&run);
    assert!(out.contains("info->info [shared]"), "{out}");
    assert!(
        out.contains("by type: user 1/1 complete, shared 1/1 complete"),
        "{out}"
    );
    for (u, pw) in users {
        let s = src.dump(u, pw);
        assert!(s.total() > 0);
        assert_same_mail(&s, &dst.dump(u, pw), |f| f.to_string());
    }
    // Run again: nothing is copied twice, for the shared mailbox as for the user.
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    for (u, pw) in users {
        assert_same_mail(&src.dump(u, pw), &dst.dump(u, pw), |f| f.to_string());
        assert_eq!(src.dump(u, pw).total(), dst.dump(u, pw).total());
    }

    // The journal keeps the type.
    let db = rusqlite::Connection::open(p.dir.path().join("state.sqlite")).unwrap();
    let types: Vec<(String, String)> = db
        .prepare("SELECT key, mailbox_type FROM mailboxes ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        types,
        vec![
            ("alice->alice".to_string(), "user".to_string()),
            ("info->info".to_string(), "shared".to_string())
        ]
    );

    let report = p.cutover(&["report", "--kind", "final", "--format", "md"]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    let md = stdout(&report);
    assert!(
        md.contains("| user mailboxes | 1: 1 done, 0 failed, 0 not started |"),
        "{md}"
    );
    assert!(
        md.contains("| shared mailboxes | 1: 1 done, 0 failed, 0 not started |"),
        "{md}"
    );
    assert!(
        md.contains("| distribution | team@new.test | Team | alice@new.test, info@new.test, bob@new.test |  |  | listed |"),
        "{md}"
    );
}

#[test]
fn the_csv_type_column_is_read_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mailboxes.csv"),
        "EmailAddress,UserName,Password,DestinationPassword,Type\nalice@new.test,alice,pw,pw,\nroom1@new.test,room1,pw,pw,Room\nbeamer@new.test,beamer,pw,pw,equipment\n",
    )
    .unwrap();
    let p = ProjectBuilder::new("types")
        .source(imap(10143))
        .destination(imap(11143))
        .set("project.mailboxes_csv", "mailboxes.csv")
        .write(dir.path());
    let project = cutover_engine::config::load(&p).unwrap();
    let types: Vec<&str> = project
        .mailboxes
        .iter()
        .map(|m| m.mailbox_type.as_str())
        .collect();
    assert_eq!(types, ["user", "room", "equipment"]);
}

/// A shared mailbox's calendars and contacts move like a user's: real Dovecot and Radicale on
/// both sides, every event and contact exactly once, a re-run writes nothing.
#[test]
fn a_shared_mailboxs_calendars_and_contacts_arrive_exactly_once() {
    use std::collections::BTreeMap;
    use support::dav::{Radicale, Scale};

    let root = tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap();
    let info = ("info", "info-pw");
    let src = Dovecot::start(root.path(), "src", &[info], &[]);
    let dst = Dovecot::start(root.path(), "dst", &[info], &[]);
    let src_dav = Radicale::start(root.path(), "src-dav", &[info]);
    let dst_dav = Radicale::start(root.path(), "dst-dav", &[info]);
    src.seed(info.0, 10, 2, &[]);
    let seeded = src_dav.seed(info.0, info.1, Scale::Small);
    assert!(seeded.collection("calendar").items > 0 && seeded.collection("contacts").items > 0);
    let dav = |r: &Radicale| {
        let mut t = toml::Table::new();
        t.insert("url".into(), format!("{}/", r.url()).into());
        t.insert("security".into(), "none".into());
        t
    };
    let mut shared = mailbox(None, login(info.0, info.1), login(info.0, info.1));
    shared.insert("type".into(), "shared".into());
    let p = ProjectBuilder::imap(&src, &dst)
        .set("project.items", vec!["mail", "calendar", "contacts"])
        .set("source.dav", dav(&src_dav))
        .set("destination.dav", dav(&dst_dav))
        .mailbox(shared)
        .create();
    let by_identity = |r: &Radicale| -> BTreeMap<(String, String), String> {
        let mut m = BTreeMap::new();
        for i in r.dump(info.0, info.1, true) {
            assert!(
                m.insert((i.collection, i.uid), i.content).is_none(),
                "an item held twice"
            );
        }
        m
    };
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        stdout(&run).contains("info->info [shared]"),
        "{}",
        text(&run)
    );
    assert_eq!(by_identity(&src_dav), by_identity(&dst_dav));
    assert_same_mail(&src.dump(info.0, info.1), &dst.dump(info.0, info.1), |f| {
        f.to_string()
    });
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    assert_eq!(by_identity(&src_dav), by_identity(&dst_dav));
}
