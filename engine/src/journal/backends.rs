//! The journal's calls that its other tests do not reach, on both backends: checks, runs
//! and reports, assessments, Gmail sightings, recipients and the inspection views. Each
//! query runs on SQLite and on PostgreSQL and reads back what was written.

use super::assessments::{
    AssessedFolderRow, AssessedMailboxRow, AssessedMessageRow, AssessmentRows, RiskRow,
};
use super::gmail::GmailSeenRow;
use super::recipients::RecipientRow;

crate::journal::db::both_backends! {
    fn checks_runs_and_reports_read_back(s) {
        s.set_check("target", true, "maria", Some("done")).unwrap();
        s.override_check("rollback", "lead", "accepted risk").unwrap();
        let checks = s.checks().unwrap();
        assert!(checks["target"].0);
        assert_eq!(checks["target"].1.as_deref(), Some("maria"));
        assert!(checks["target"].2.as_deref().unwrap().ends_with('Z'));
        assert!(!checks["rollback"].0);
        s.set_check_results(
            "logins",
            &[("a".into(), "pass".into(), "ok".into()), ("b".into(), "fail".into(), "refused".into())],
        )
        .unwrap();
        let results = s.check_results().unwrap();
        assert_eq!(results.len(), 2);
        let states = s.check_states().unwrap();
        assert!(states.contains_key("rollback"));

        let run = s.begin_run("run", "0.1.0 (test)").unwrap();
        assert!(run > 0);
        let second = s.begin_run("verify", "0.1.0 (test)").unwrap();
        assert_eq!(second, run + 1);
        s.end_run(run, "ok").unwrap();
        let versions = s.run_versions().unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].1, 2);
        let runs = s.run_rows().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].outcome.as_deref(), Some("ok"));
        let _ = s.measured_throughput().unwrap();
        let _ = s.copied_per_hour(None, "2999-01-01T00:00:00.000Z").unwrap();
        s.record_report("daily", "md", "2026-11-25T00:00:00.000Z").unwrap();
        assert_eq!(
            s.last_report("daily").unwrap().as_deref(),
            Some("2026-11-25T00:00:00.000Z")
        );
        assert_eq!(s.report_rows().unwrap().len(), 1);
        assert_eq!(s.last_report("final").unwrap(), None);
    }
}

crate::journal::db::both_backends! {
    fn assessments_gmail_and_recipients_read_back(s) {
        let a = AssessmentRows {
            batches: "pilot".into(),
            complexity: "low".into(),
            factors: "none".into(),
            mailboxes: vec![AssessedMailboxRow {
                mailbox: "a->a".into(),
                batch: "pilot".into(),
                messages: 3,
                bytes: 4_000_000_000,
                quota_limit: Some(10),
                ..Default::default()
            }],
            folders: vec![AssessedFolderRow {
                mailbox: "a->a".into(),
                folder: "INBOX".into(),
                messages: 3,
                ..Default::default()
            }],
            messages: vec![AssessedMessageRow {
                mailbox: "a->a".into(),
                folder: "INBOX".into(),
                uid: 7,
                size: 9,
                kind: "oversize".into(),
            }],
            risks: vec![RiskRow {
                severity: "warning".into(),
                mailbox: None,
                message: "m".into(),
            }],
        };
        let first = s.save_assessment(&a).unwrap();
        let second = s.save_assessment(&a).unwrap();
        assert!(second > first);
        let latest = s.latest_assessed_mailboxes().unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].bytes, 4_000_000_000);
        assert_eq!(latest[0].quota_limit, Some(10));
        assert_eq!(s.latest_assessed_folders().unwrap().len(), 1);
        assert_eq!(s.latest_assessed_messages().unwrap()[0].uid, 7);

        let mb = s.upsert_mailbox("g->g", "b", "g", "g").unwrap();
        let seen = |folder: &str, uid: u32, own: bool| GmailSeenRow {
            folder: folder.into(),
            uidvalidity: 1,
            uid,
            ident: "id1".into(),
            own,
            keywords: String::new(),
            reason: (!own).then(|| "copy of INBOX".to_string()),
        };
        s.add_gmail_seen(mb, &[seen("INBOX", 1, true), seen("[Gmail]/All Mail", 5, false)])
            .unwrap();
        // Again: sightings already journalled are kept as they were.
        s.add_gmail_seen(mb, &[seen("INBOX", 1, true)]).unwrap();
        assert_eq!(s.gmail_seen(mb).unwrap().len(), 2);
        assert_eq!(s.gmail_counts(mb).unwrap(), (1, 1));
        assert_eq!(s.gmail_owned_uncopied(mb).unwrap().len(), 1);

        let r = RecipientRow {
            address: "team@x".into(),
            kind: "list".into(),
            display_name: "Team".into(),
            members: "a@x;b@x".into(),
            origin: "csv".into(),
            ..Default::default()
        };
        s.save_recipients(std::slice::from_ref(&r)).unwrap();
        s.save_recipients(&[r.clone(), RecipientRow { address: "room@x".into(), ..r.clone() }])
            .unwrap();
        s.save_recipients(std::slice::from_ref(&r)).unwrap();
        let rows = s.recipient_rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, "listed");
        assert_eq!(s.mailbox_rows().unwrap().len(), 1);
        assert_eq!(s.mailbox_id("g->g").unwrap(), Some(mb));
        assert_eq!(s.mailbox_id("nobody").unwrap(), None);
    }
}

/// A journal database of the shared test cluster, as a target (password in the URL).
fn target() -> crate::config::PgTarget {
    use super::test_postgres::{PASSWORD, shared};
    let cluster = shared();
    crate::config::PgTarget {
        url: format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{}?sslmode=disable",
            cluster.port,
            cluster.database()
        ),
        password_env: None,
        password_file: None,
    }
}

#[test]
fn several_processes_opening_a_new_postgres_journal_at_once_migrate_it_once() {
    let t = target();
    let d = tempfile::tempdir().unwrap();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let (t, local) = (t.clone(), d.path().join("j.postgres"));
            std::thread::spawn(move || super::db::Journal::open_postgres(&t, &local, false))
        })
        .collect();
    for h in opened {
        h.join().unwrap().unwrap();
    }
    let j = super::db::Journal::open_postgres(&t, &d.path().join("j.postgres"), false).unwrap();
    let v: String = j
        .with(|c| {
            c.query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                super::sql::params![],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(v, super::schema::last_version().to_string());
    // Read-only: reads, refuses writes.
    let ro = super::db::Journal::open_postgres(&t, &d.path().join("j.postgres"), true).unwrap();
    assert!(ro.mailbox_rows().unwrap().is_empty());
    assert!(ro.upsert_mailbox("a->a", "b", "a", "a").is_err());
}

#[test]
fn a_lost_postgres_server_is_a_journal_error_naming_the_url_not_a_panic() {
    use super::test_postgres::{PASSWORD, PgCluster};
    let cluster = PgCluster::start();
    let db = cluster.database();
    let t = crate::config::PgTarget {
        url: format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            cluster.port
        ),
        password_env: None,
        password_file: None,
    };
    let d = tempfile::tempdir().unwrap();
    let j = super::db::Journal::open_postgres(&t, &d.path().join("j.postgres"), false).unwrap();
    j.upsert_mailbox("a->a", "b", "a", "a").unwrap();
    drop(cluster);
    let e = j
        .upsert_mailbox("b->b", "b", "b", "b")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("postgres://postgres@127.0.0.1:") && !e.contains(PASSWORD),
        "{e}"
    );
    // And opening it again says what to do.
    let e = super::db::Journal::open_postgres(&t, &d.path().join("j.postgres"), false)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("check that the server runs"), "{e}");
}

#[test]
fn sslmode_require_verify_ca_and_verify_full_behave_as_libpq() {
    use super::test_postgres::{PASSWORD, PgCluster};
    let cluster = PgCluster::start_tls();
    let db = cluster.database();
    let cert = cluster.cert();
    let d = tempfile::tempdir().unwrap();
    let open = |host: &str, query: &str| {
        let t = crate::config::PgTarget {
            url: format!("postgres://postgres@{host}:{}/{db}?{query}", cluster.port),
            password_env: None,
            password_file: Some(d.path().join("pw")),
        };
        super::db::Journal::open_postgres(&t, &d.path().join("j.postgres"), false)
    };
    std::fs::write(d.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let on_tls = |j: &super::db::Journal| -> bool {
        j.with(|c| {
            c.query_row(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                super::sql::params![],
                |r| r.get(0),
            )
        })
        .unwrap()
    };
    let root = format!("sslrootcert={}", cert.display());
    // require: TLS, the self-signed certificate not checked.
    assert!(on_tls(&open("127.0.0.1", "sslmode=require").unwrap()));
    // disable: no TLS.
    assert!(!on_tls(&open("127.0.0.1", "sslmode=disable").unwrap()));
    // verify-full: the chain and the name; the certificate names localhost.
    assert!(on_tls(
        &open("localhost", &format!("sslmode=verify-full&{root}")).unwrap()
    ));
    let e = open("127.0.0.1", &format!("sslmode=verify-full&{root}"))
        .err()
        .expect("a certificate for localhost is not one for 127.0.0.1")
        .to_string();
    assert!(
        e.contains("sslmode") && e.contains("postgres://postgres@127.0.0.1"),
        "{e}"
    );
    // verify-ca: the chain only.
    assert!(on_tls(
        &open("127.0.0.1", &format!("sslmode=verify-ca&{root}")).unwrap()
    ));
    // Without the root, the self-signed certificate is not trusted.
    assert!(open("localhost", "sslmode=verify-full").is_err());
    assert!(open("localhost", "sslmode=verify-ca").is_err());
}

/// A PostgreSQL journal written by an older cutover (an older schema version) gets the
/// steps it lacks when opened, once.
#[test]
fn an_older_postgres_journal_gets_the_steps_it_lacks() {
    let t = target();
    let d = tempfile::tempdir().unwrap();
    let local = d.path().join("j.postgres");
    let j = super::db::Journal::open_postgres(&t, &local, false).unwrap();
    j.upsert_mailbox("a->a", "b", "a", "a").unwrap();
    j.with(|c| {
        c.execute_batch(
            "DROP TABLE leases; DROP TABLE workers; UPDATE meta SET value = '9' WHERE key = 'schema_version'",
        )
    })
    .unwrap();
    drop(j);
    let j = super::db::Journal::open_postgres(&t, &local, false).unwrap();
    j.register_worker("w", "h", 1).unwrap();
    assert_eq!(j.workers().unwrap().len(), 1);
    assert_eq!(j.mailbox_rows().unwrap().len(), 1);
    drop(j);
    // Opening again applies nothing more.
    let j = super::db::Journal::open_postgres(&t, &local, false).unwrap();
    assert_eq!(j.workers().unwrap().len(), 1);
}
