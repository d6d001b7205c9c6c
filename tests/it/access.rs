//! `cutover access`: destination readiness per mailbox, against real Dovecot servers (the
//! mailbox's own IMAP login, its quota against what the assessment left to copy, the probe)
//! and the fake Graph (a directory user without a mailbox, a user that does not exist).

use crate::graph::{Proj, graph_endpoint, start};
use crate::support;

use support::fake_cloud::graph::{FakeGraph, GraphConfig};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-access")
        .tempdir()
        .unwrap()
}

/// The readiness word of `mailbox` in the output of `cutover access`.
fn readiness<'a>(out: &'a str, mailbox: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(mailbox))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no line for {mailbox} in:\n{out}"))
}

#[test]
fn imap_destinations_report_a_missing_account_no_room_and_ready_and_the_probe_leaves_nothing() {
    let root = tmp();
    let users = [
        ("alice", "alice-pw"),
        ("bob", "bob-pw"),
        ("carol", "carol-pw"),
    ];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // No bob on the destination; a 1 MB quota for everyone.
    let dst = Dovecot::start(
        root.path(),
        "dst",
        &[("alice", "alice-pw"), ("carol", "carol-pw")],
        &["--no-gmail", "--quota", "1M"],
    );
    src.seed("alice", 120, 5, &[]);
    src.seed("bob", 5, 6, &[]);
    src.seed("carol", 3, 7, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "b",
                user: "alice",
                pass: "alice-pw",
            },
            MailboxLine {
                batch: "b",
                user: "bob",
                pass: "bob-pw",
            },
            MailboxLine {
                batch: "c",
                user: "carol",
                pass: "carol-pw",
            },
        ])
        .set("checklist.defaults", true)
        .create();
    // Before anything: the checklist's access item waits for a check.
    let c = p.cutover(&["checklist"]);
    assert!(
        stdout(&c).contains("access") && stdout(&c).contains("not checked yet"),
        "{}",
        text(&c)
    );
    let a = p.cutover(&["assess"]);
    assert!(a.status.code().is_some(), "{}", text(&a));

    let out = p.cutover(&["access"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let o = stdout(&out);
    assert_eq!(readiness(&o, "alice"), "no-room", "{o}");
    assert_eq!(readiness(&o, "bob"), "sign-in-refused", "{o}");
    assert_eq!(readiness(&o, "carol"), "ready", "{o}");
    assert!(
        o.contains("1 of 3 mailbox(es) ready; 66.7% with an access issue"),
        "{o}"
    );
    // Read-only: nothing was written anywhere.
    assert_eq!(dst.message_count("alice"), 0);
    assert_eq!(dst.message_count("carol"), 0);
    // The checklist reads the journalled results.
    let c = p.cutover(&["checklist", "--batch", "b"]);
    assert!(
        stdout(&c).contains("not ready: alice->alice: no-room"),
        "{}",
        text(&c)
    );
    let c = p.cutover(&["checklist", "--batch", "c"]);
    assert!(
        stdout(&c).contains("1 mailbox(es) ready on the destination"),
        "{}",
        text(&c)
    );

    // The probe stores a message, reads it back and removes it: the INBOX is empty after.
    let probed = p.cutover(&["access", "--batch", "c", "--probe"]);
    assert_eq!(probed.status.code(), Some(0), "{}", text(&probed));
    let o = stdout(&probed);
    assert!(o.contains("probe: a test message stored in INBOX"), "{o}");
    assert!(o.contains("; probed"), "{o}");
    assert_eq!(
        dst.message_count("carol"),
        0,
        "the probe removed its message"
    );
    let rows = p.journal().latest_access().unwrap();
    let carol = rows
        .iter()
        .find(|r| r.mailbox.starts_with("carol"))
        .unwrap();
    assert!(carol.ready && carol.probed, "{carol:?}");
}

#[test]
fn graph_destinations_report_a_user_without_a_mailbox_and_a_user_that_does_not_exist() {
    let root = tmp();
    let users = [
        ("alice", "alice-pw"),
        ("bob", "bob-pw"),
        ("carol", "carol-pw"),
    ];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let graph = FakeGraph::new(GraphConfig::default())
        .with_mailbox("contoso", "alice@contoso.com")
        .with_user_without_mailbox("contoso", "bob@contoso.com");
    let cloud = start(graph);
    let p = Proj::new(
        project::imap(src.port),
        graph_endpoint(&cloud, "contoso", "app-1", "CUTOVER_TEST_SECRET_1"),
        &[
            ("alice", "alice-pw", "alice@contoso.com"),
            ("bob", "bob-pw", "bob@contoso.com"),
            ("carol", "carol-pw", "carol@contoso.com"),
        ],
    );
    let out = p.cutover(&["access"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let o = stdout(&out);
    assert_eq!(readiness(&o, "alice"), "ready", "{o}");
    assert_eq!(readiness(&o, "bob"), "no-mailbox", "{o}");
    assert!(o.contains("MailboxNotEnabledForRESTAPI"), "{o}");
    assert_eq!(readiness(&o, "carol"), "no-account", "{o}");
    // The probe is IMAP's: on Graph the line says so and the verdict stands.
    let probed = p.cutover(&["access", "--probe"]);
    let o = stdout(&probed);
    assert_eq!(readiness(&o, "alice"), "ready", "{o}");
    assert!(
        o.contains("no probe: it is available for IMAP destinations only"),
        "{o}"
    );
    // Nothing was written to the tenant.
    assert!(cloud.graph.mailbox("alice@contoso.com").messages.is_empty());
}
