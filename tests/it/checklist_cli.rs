//! `cutover checklist`: the gate as a start sees it, from any shell, and manual items ticked
//! from the command line; the procedure walked headless as `./run-sample.sh run` does
//! (assess, tick, pilot, verify, the waves).

use crate::support;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-checklist")
        .tempdir()
        .unwrap()
}

/// The manual items the built-in checklist requires.
const MANUAL_REQUIRED: [&str; 5] = [
    "target-configured",
    "security-policies",
    "user-communication",
    "support",
    "rollback-plan",
];

fn item_line<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no {id} line: {out}"))
}

#[test]
fn ticks_from_the_command_line_open_the_gate_and_the_procedure_runs_pilot_first() {
    let root = tmp();
    let users = [("pia", "pia-pw"), ("wim", "wim-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("pia", 6, 71, &["--no-tricky"]);
    src.seed("wim", 6, 72, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: "pilot",
                user: "pia",
                pass: "pia-pw",
            },
            MailboxLine {
                batch: "wave-1",
                user: "wim",
                pass: "wim-pw",
            },
        ])
        .set("checklist.defaults", true)
        .create();

    // Nothing evaluated, nothing ticked: the gate is closed (exit 11, as `run` would refuse).
    let list = p.cutover(&["checklist"]);
    assert_eq!(list.status.code(), Some(11), "{}", text(&list));
    let out = stdout(&list);
    assert!(
        item_line(&out, "user-communication").contains("required pending  manual"),
        "{out}"
    );
    assert!(out.contains("gate    closed:"), "{out}");

    // What cannot be ticked is refused as a usage error, naming the manual items.
    let auto = p.cutover(&["checklist", "--tick", "login"]);
    assert_eq!(auto.status.code(), Some(2), "{}", text(&auto));
    assert!(
        text(&auto).contains("login is verified by the engine")
            && text(&auto).contains("user-communication"),
        "{}",
        text(&auto)
    );
    let unknown = p.cutover(&["checklist", "--tick", "dns-ttl"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(text(&unknown).contains("no checklist item \"dns-ttl\""));
    let batch = p.cutover(&["checklist", "--batch", "nope"]);
    assert_ne!(batch.status.code(), Some(0), "{}", text(&batch));

    // Tick, untick, tick again: the journal keeps who, when and the note.
    let t = p.cutover(&[
        "checklist",
        "--tick",
        "support",
        "--note",
        "runbook in the wiki",
    ]);
    assert!(text(&t).contains("ticked support"), "{}", text(&t));
    assert!(
        item_line(&stdout(&t), "support").contains("pass")
            && item_line(&stdout(&t), "support").contains("note: runbook in the wiki"),
        "{}",
        text(&t)
    );
    let u = p.cutover(&["checklist", "--untick", "support"]);
    assert!(
        item_line(&stdout(&u), "support").contains("pending"),
        "{}",
        text(&u)
    );
    for id in MANUAL_REQUIRED {
        let t = p.cutover(&["checklist", "--tick", id, "--note", "test: no real users"]);
        assert!(text(&t).contains(&format!("ticked {id}")), "{}", text(&t));
    }
    // The auto items still wait for `cutover assess`.
    let run = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(run.status.code(), Some(11), "{}", text(&run));
    let a = p.cutover(&["assess"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));

    // The pilot may start; the wave waits for the pilot's verification.
    let pilot = p.cutover(&["checklist", "--batch", "pilot"]);
    assert_eq!(pilot.status.code(), Some(0), "{}", text(&pilot));
    assert!(stdout(&pilot).contains("gate    open"), "{}", text(&pilot));
    let wave = p.cutover(&["checklist", "--batch", "wave-1"]);
    assert_eq!(wave.status.code(), Some(11), "{}", text(&wave));
    assert!(
        item_line(&stdout(&wave), "pilot-verified").contains("required pending"),
        "{}",
        text(&wave)
    );
    let run = p.cutover(&["run", "--batch", "pilot"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let v = p.cutover(&["verify", "--batch", "pilot"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let wave = p.cutover(&["checklist", "--batch", "wave-1"]);
    assert_eq!(wave.status.code(), Some(0), "{}", text(&wave));
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(
        src.dump("wim", "wim-pw").total(),
        dst.dump("wim", "wim-pw").total()
    );
}

#[test]
fn a_project_without_a_checklist_says_nothing_gates() {
    let p = ProjectBuilder::new("no-checklist")
        .source(project::imap(1))
        .destination(project::imap(2))
        .mailbox(project::mailbox(
            None,
            project::login("u", "pw"),
            project::login("u", "pw"),
        ))
        .create();
    let out = p.cutover(&["checklist"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("checklist none: nothing gates a start"));
}
