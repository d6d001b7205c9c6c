//! `cutover assess` and the checklist gate against real Dovecot servers: discovery figures
//! equal what the servers hold (independent view: Python imaplib), quota and login checks fail
//! with the right numbers and names, and `cutover run` is gated until overridden.

use crate::support;

use cutover_engine::mail::fmt::bytes as human;
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-assess")
        .tempdir()
        .unwrap()
}

fn mailboxes<'a>(users: &'a [(&'a str, &'a str)]) -> Vec<MailboxLine<'a>> {
    users
        .iter()
        .enumerate()
        .map(|(i, (u, p))| MailboxLine {
            batch: if i == 0 { "pilot" } else { "wave-1" },
            user: u,
            pass: p,
        })
        .collect()
}

/// Two Dovecot instances, these users' mailboxes (the first in batch "pilot", the others in
/// "wave-1").
fn builder(src: &Dovecot, dst: &Dovecot, users: &[(&str, &str)]) -> ProjectBuilder {
    ProjectBuilder::imap(src, dst).mailboxes(&mailboxes(users))
}

/// (status, reason) of an auto check for a mailbox ("" for project-wide ones).
fn check_result(p: &ProjectDir, id: &str, mailbox: &str) -> (String, String) {
    let results = p.journal().check_results().unwrap();
    let r = results
        .iter()
        .find(|r| r.check_id == id && r.mailbox == mailbox)
        .unwrap_or_else(|| panic!("no {id} result for {mailbox:?}: {results:?}"));
    (r.status.clone(), r.reason.clone())
}

/// (category, message) of the first issue whose message matches.
fn first_issue(p: &ProjectDir, matches: impl Fn(&str) -> bool) -> (String, String) {
    let all = all_issues(&p.journal());
    let i = all
        .iter()
        .find(|i| matches(&i.message))
        .unwrap_or_else(|| panic!("no such issue: {all:?}"));
    (i.category.clone(), i.message.clone())
}

#[test]
fn discovery_figures_equal_what_the_servers_hold() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 180, 11, &["--huge", "--huge-mb", "3"]);
    src.seed("bob", 60, 12, &[]);
    src.doveadm(&["mailbox", "create", "-u", "bob", "Empty/Nested"]);
    let p = builder(&src, &dst, &users)
        // 1 MB limit: the 3 MB message (and any other big one) is oversize.
        .set("destination.max_message_size", "1 MB")
        .create();
    let csv = p.dir.path().join("report.csv");
    let out = p.cutover(&["assess", "--csv", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = stdout(&out);
    assert!(report.contains("complexity: "), "{report}");
    assert!(report.contains("estimate: no measurement yet"), "{report}");

    let j = p.journal();
    let (assessed_mailboxes, assessed_folders, assessed_messages) = (
        j.latest_assessed_mailboxes().unwrap(),
        j.latest_assessed_folders().unwrap(),
        j.latest_assessed_messages().unwrap(),
    );
    for (user, pass) in users {
        let key = format!("{user}->{user}");
        let dump = src.dump(user, pass);
        // Every folder: same message count, total bytes and largest message.
        let rows: Vec<(String, u64, u64, u64)> = assessed_folders
            .iter()
            .filter(|f| f.mailbox == key)
            .map(|f| (f.folder.clone(), f.messages, f.bytes, f.largest))
            .collect();
        for (folder, msgs) in &dump.folders {
            let row = rows
                .iter()
                .find(|r| &r.0 == folder)
                .unwrap_or_else(|| panic!("{key}: folder {folder} not assessed; have {rows:?}"));
            let bytes: u64 = msgs.iter().map(|m| m.3).sum();
            let largest = msgs.iter().map(|m| m.3).max().unwrap_or(0);
            assert_eq!(
                (row.1, row.2, row.3),
                (msgs.len() as u64, bytes, largest),
                "{key}/{folder}"
            );
        }
        assert_eq!(
            rows.len(),
            dump.folders.len(),
            "{key}: folder count (selectable folders)"
        );
        // Mailbox totals and the top 5.
        let all: Vec<u64> = dump.folders.values().flatten().map(|m| m.3).collect();
        let m = assessed_mailboxes
            .iter()
            .find(|m| m.mailbox == key)
            .unwrap_or_else(|| panic!("{key} not assessed: {assessed_mailboxes:?}"));
        let (messages, bytes, largest, oversize) = (m.messages, m.bytes, m.largest, m.oversize);
        assert_eq!(messages, all.len() as u64, "{key}");
        assert_eq!(bytes, all.iter().sum::<u64>(), "{key}");
        assert_eq!(largest, *all.iter().max().unwrap(), "{key}");
        assert_eq!(
            oversize,
            all.iter().filter(|s| **s > 1_000_000).count() as u64,
            "{key}: oversize against the 1 MB limit"
        );
        let mut top: Vec<u64> = all.clone();
        top.sort_unstable_by(|a, b| b.cmp(a));
        top.truncate(5);
        let mut got: Vec<u64> = assessed_messages
            .iter()
            .filter(|m| m.mailbox == key && m.kind == "largest")
            .map(|m| m.size)
            .collect();
        got.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(got, top, "{key}: the five largest");
        // The printed table and the CSV carry the same figures.
        let line = report
            .lines()
            .find(|l| l.starts_with(&key))
            .unwrap_or_else(|| panic!("no table line for {key}: {report}"));
        assert!(line.contains(&human(bytes)), "{line}");
        assert!(line.ends_with("ok"), "{line}");
        let csv_text = std::fs::read_to_string(&csv).unwrap();
        let row = csv_text
            .lines()
            .find(|l| l.contains(&format!(",{key},")))
            .unwrap_or_else(|| panic!("no CSV row for {key}: {csv_text}"));
        let cols: Vec<&str> = row.split(',').collect();
        assert_eq!((cols[2], cols[3]), ("ok", ""), "{row}");
        assert_eq!(cols[4], dump.folders.len().to_string(), "{row}");
        assert_eq!(cols[5], messages.to_string(), "{row}");
        assert_eq!(cols[6], bytes.to_string(), "{row}");
        // Login and folder creation checked per mailbox.
        assert_eq!(check_result(&p, "login", &key).0, "pass");
        assert_eq!(check_result(&p, "folders", &key).0, "pass");
    }
    // alice's 3 MB message is named as a risk, with its folder.
    assert!(
        report.contains("over 1.0 MB in alice->alice/"),
        "oversize risk: {report}"
    );
    // The probe folder is gone again.
    let d = dst.dump("alice", "alice-pw");
    assert!(
        !d.folders.keys().any(|f| f.starts_with("cutover-probe")),
        "{:?}",
        d.folders.keys()
    );
}

#[test]
fn a_small_destination_quota_fails_the_quota_check_with_the_numbers() {
    let root = tmp();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail", "--quota", "1M"]);
    src.seed("bob", 40, 3, &["--huge", "--huge-mb", "2"]);
    let p = builder(&src, &dst, &users)
        .check(toml::toml! {
            id = "quota"
            title = "Destination quota"
            kind = "auto"
        })
        .create();
    let out = p.cutover(&["assess"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let total: u64 = src
        .dump("bob", "bob-pw")
        .folders
        .values()
        .flatten()
        .map(|m| m.3)
        .sum();
    assert!(total > 2_000_000);
    let (status, reason) = check_result(&p, "quota", "bob->bob");
    assert_eq!(status, "fail", "{reason}");
    let limit = 1024 * 1024;
    assert_eq!(
        reason,
        format!(
            "destination quota too small for bob->bob: needs {}, has {} free (limit {}, used {})",
            human(total),
            human(limit),
            human(limit),
            human(0)
        )
    );
    let report = stdout(&out);
    assert!(report.contains(&reason), "{report}");
    assert!(
        report.contains(&format!("{} / {}", human(0), human(limit))),
        "{report}"
    );
    // The gate: the quota item is required, so the run is refused.
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(11), "{}", text(&run));
    assert!(text(&run).contains("quota"), "{}", text(&run));
}

#[test]
fn a_wrong_password_fails_the_login_check_naming_the_mailbox() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 10, 1, &["--no-tricky"]);
    src.seed("bob", 10, 2, &["--no-tricky"]);
    // bob's destination password is wrong.
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&mailboxes(&users[..1]))
        .mailbox(project::mailbox(
            Some("wave-1"),
            project::login("bob", "bob-pw"),
            project::login("bob", "wrong"),
        ))
        .set("checklist.defaults", true)
        .create();
    let out = p.cutover(&["assess"]);
    // alice was assessed, bob could not be: partial.
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let (status, reason) = check_result(&p, "login", "bob->bob");
    assert_eq!(status, "fail");
    assert!(
        reason.starts_with("bob->bob: destination bob: login as bob refused"),
        "{reason}"
    );
    assert_eq!(check_result(&p, "login", "alice->alice").0, "pass");
    let report = stdout(&out);
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with("login "))
        .unwrap_or_else(|| panic!("no login item: {report}"));
    assert!(line.contains("fail") && line.contains("bob->bob"), "{line}");
    // No mx domain configured: not applicable.
    assert!(
        report
            .lines()
            .any(|l| l.trim_start().starts_with("mx ") && l.contains("n/a")),
        "{report}"
    );
    // The pilot batch (alice) is gated on its own items only: login passes for alice, the
    // manual items are still open, so it is refused too.
    let run = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(run.status.code(), Some(11), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(!err.contains("login "), "login passes for the pilot: {err}");
    assert!(err.contains("target-configured"), "{err}");
    // The automatic backup item is optional by default: it never blocks.
    assert!(!err.contains("backup "), "{err}");
}

#[test]
fn run_is_gated_until_the_items_are_met_or_overridden() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 30, 5, &["--no-tricky"]);
    let p = builder(&src, &dst, &users)
        .merge(
            "checklist",
            toml::toml! {
                domain = "example.invalid"
                expected_mx = ["mx.example.invalid"]
                resolver = "127.0.0.1:9"
            },
        )
        .check(toml::toml! {
            id = "backup"
            title = "Source backup verified"
        })
        .check(toml::toml! {
            id = "login"
            title = "Every mailbox logs in"
            kind = "auto"
        })
        .check(toml::toml! {
            id = "mx"
            title = "MX points to the destination"
            kind = "auto"
            required = false
        })
        .create();
    // Nothing checked yet: refused, with both required items named; nothing copied.
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(11), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(err.contains("backup") && err.contains("login"), "{err}");
    assert!(!err.contains("mx "), "an optional item never blocks: {err}");
    assert_eq!(dst.dump("alice", "alice-pw").total(), 0);

    // The auto checks run: login passes; the MX lookup against a dead resolver fails (optional).
    let out = p.cutover(&["assess"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(check_result(&p, "login", "alice->alice").0, "pass");
    let (mx, why) = check_result(&p, "mx", "");
    assert_eq!(mx, "fail");
    assert!(
        why.contains("MX lookup for example.invalid failed"),
        "{why}"
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(11), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(err.contains("backup") && !err.contains("login "), "{err}");

    // Overridden with a reason: runs, and the override is an operator issue in the journal.
    let run = p.cutover(&[
        "run",
        "--override",
        "backup taken by the customer, ticket 4711",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(dst.dump("alice", "alice-pw").total(), 30);
    let (category, message) = first_issue(&p, |m| m.to_lowercase().contains("override"));
    assert_eq!(category, "operator");
    assert!(
        message.contains("backup taken by the customer, ticket 4711") && message.contains("backup"),
        "{message}"
    );
    let reason = p.journal().check_states().unwrap()["backup"]
        .override_reason
        .clone();
    assert_eq!(
        reason.as_deref(),
        Some("backup taken by the customer, ticket 4711")
    );
    // The override is persisted: the next run is not refused.
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
}

/// A local DNS server answering MX for one domain (killed on drop).
struct Dns {
    child: std::process::Child,
    port: u16,
}

impl Dns {
    fn start(domain: &str, hosts: &[&str]) -> Dns {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .arg(support_dir().join("dns-mx.py"))
            .arg(domain)
            .args(hosts)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run dns-mx.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().trim_start_matches("port=").parse().unwrap();
        Dns { child, port }
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_mx_item_asks_the_configured_resolver() {
    use cutover_engine::checklist::{Status, check_mx};
    use cutover_engine::config::ChecklistSettings;
    let dns = Dns::start(
        "acme.test",
        &[
            "acme-test.mail.protection.outlook.com",
            "backup-mx.acme.test",
        ],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings = |expected: &[&str]| ChecklistSettings {
        domain: Some("acme.test".into()),
        expected_mx: expected.iter().map(|s| s.to_string()).collect(),
        resolver: Some(format!("127.0.0.1:{}", dns.port).parse().unwrap()),
        ..Default::default()
    };
    let (s, why) = rt.block_on(check_mx(&settings(&[
        "acme-test.mail.protection.outlook.com",
        "backup-mx.acme.test",
    ])));
    assert_eq!(s, Status::Pass, "{why}");
    assert_eq!(
        why,
        "MX of acme.test: acme-test.mail.protection.outlook.com, backup-mx.acme.test"
    );
    // One record still points elsewhere: fail, naming what is and what should be.
    let (s, why) = rt.block_on(check_mx(&settings(&[
        "acme-test.mail.protection.outlook.com",
    ])));
    assert_eq!(s, Status::Fail);
    assert_eq!(
        why,
        "MX of acme.test is acme-test.mail.protection.outlook.com, backup-mx.acme.test but should be acme-test.mail.protection.outlook.com"
    );
    // A domain the server does not know.
    let mut other = settings(&["x.test"]);
    other.domain = Some("nowhere.test".into());
    let (s, why) = rt.block_on(check_mx(&other));
    assert_eq!(s, Status::Fail);
    assert!(
        why.starts_with("MX lookup for nowhere.test failed"),
        "{why}"
    );
    // No domain: not applicable.
    let (s, _) = rt.block_on(check_mx(&ChecklistSettings::default()));
    assert_eq!(s, Status::NotApplicable);
}

#[test]
fn the_console_start_command_is_gated_until_overridden() {
    use cutover_engine::api::Command;
    use cutover_engine::engine::control::spawn;
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 20, 8, &["--no-tricky"]);
    let p = builder(&src, &dst, &users)
        .check(toml::toml! {
            id = "rollback-plan"
            title = "Rollback plan ready"
            section = "Business"
        })
        .create();
    let project = cutover_engine::config::load(&p.path).unwrap();
    let store =
        cutover_engine::journal::Journal::open(&project.state_path, project.durability).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = spawn(project, store).unwrap();
        let snaps = h.snapshots.clone();
        let wait_for =
            |what: &'static str, f: Box<dyn Fn(&cutover_engine::api::Snapshot) -> bool>| {
                let mut snaps = snaps.clone();
                async move {
                    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
                    loop {
                        if f(&snaps.borrow_and_update()) {
                            return;
                        }
                        assert!(
                            tokio::time::Instant::now() < deadline,
                            "timed out waiting: {what}"
                        );
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_millis(500),
                            snaps.changed(),
                        )
                        .await;
                    }
                }
            };
        // The checklist as the console sees it.
        wait_for(
            "the item in the snapshot",
            Box::new(|s| {
                s.checks
                    .iter()
                    .any(|c| c.id == "rollback-plan" && c.status == "pending")
                    && s.batches[0].blocked == ["rollback-plan"]
            }),
        )
        .await;
        h.send(Command::Start { batch: None });
        wait_for(
            "the refusal as an issue",
            Box::new(|s| {
                s.issues
                    .iter()
                    .any(|i| i.category == "checklist" && i.message.contains("rollback-plan"))
            }),
        )
        .await;
        assert_eq!(h.snapshots.borrow().batches[0].mailboxes[0].state, "new");
        assert_eq!(dst.dump("alice", "alice-pw").total(), 0, "nothing copied");
        h.send(Command::OverrideCheck {
            id: None,
            reason: "plan agreed by phone".into(),
            operator: "maria".into(),
        });
        wait_for(
            "the override in the snapshot",
            Box::new(|s| s.checks.iter().any(|c| c.status == "overridden")),
        )
        .await;
        h.send(Command::Start { batch: None });
        wait_for(
            "the mailbox done",
            Box::new(|s| s.batches[0].mailboxes[0].state == "done"),
        )
        .await;
    });
    assert_eq!(dst.dump("alice", "alice-pw").total(), 20);
    let (category, message) =
        first_issue(&p, |m| m.to_lowercase().starts_with("checklist override"));
    assert_eq!(category, "operator");
    assert!(
        message.starts_with("checklist override by maria: plan agreed by phone"),
        "{message}"
    );
}
