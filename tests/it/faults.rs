//! Faults between cutover and real Dovecot servers, injected by `support::fault_proxy`: dropped
//! connections in the middle of a FETCH or an APPEND literal, a reply lost after an APPEND
//! (in doubt), a drop during LOGIN, a stalled server, a full destination, a source folder
//! deleted between runs. Each ends with the destination identical to the source (nothing lost,
//! nothing duplicated), `cutover verify` 0, and the right issue records in the journal.

use crate::support;

use std::time::Duration;

use support::fault_proxy::{Action, Conns, Dir, Fault, FaultProxy, Trigger};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

fn same(f: &str) -> String {
    f.to_string()
}

const USER: &str = "alice";
const PASS: &str = "alice-pw";

fn mailbox() -> [MailboxLine<'static>; 1] {
    [MailboxLine {
        batch: "b",
        user: USER,
        pass: PASS,
    }]
}

/// What sends a `[source]` or `[destination]` through a proxy (merged into that table).
fn via(proxy: &FaultProxy) -> toml::Table {
    toml::toml! {
        port = (proxy.port)
        security = "none"
        timeout_secs = 3
    }
}

/// The mailbox between the two servers, with one folder worker, so which connection
/// carries what is predictable.
fn one_worker(src: &Dovecot, dst: &Dovecot) -> ProjectBuilder {
    ProjectBuilder::imap(src, dst)
        .mailboxes(&mailbox())
        .set("project.folder_workers", 1)
}

/// (severity, category, folder, uid, message, count) of every issue in the journal.
type IssueRec = (String, String, Option<String>, Option<i64>, String, i64);

fn issues(p: &ProjectDir) -> Vec<IssueRec> {
    all_issues(&p.journal())
        .into_iter()
        .map(|i| {
            (
                i.severity,
                i.category,
                i.folder,
                i.uid.map(i64::from),
                i.message,
                i64::from(i.count),
            )
        })
        .collect()
}

fn count_state(p: &ProjectDir, state: &str) -> i64 {
    messages_in(&p.journal(), state) as i64
}

/// The promises after any fault: the destination holds every source message exactly once
/// (bytes, flags, dates), nothing is left in doubt, verify agrees, a further run is a no-op.
fn assert_converged(p: &ProjectDir, src: &Dovecot, dst: &Dovecot) {
    assert_same_mail(&src.dump(USER, PASS), &dst.dump(USER, PASS), same);
    assert_eq!(count_state(p, "appending"), 0, "nothing left in doubt");
    assert_eq!(count_state(p, "pending"), 0, "nothing left pending");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
}

fn has_issue(list: &[IssueRec], category: &str, needle: &str) -> bool {
    list.iter()
        .any(|i| i.1 == category && i.4.to_lowercase().contains(&needle.to_lowercase()))
}

/// Two servers; the source holds `n` small messages plus one of 3 MB in INBOX.
fn servers_with_big_message(root: &tempfile::TempDir, n: usize) -> (Dovecot, Dovecot) {
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, n, 11, &["--no-tricky", "--huge", "--huge-mb", "3"]);
    (src, dst)
}

#[test]
fn a_connection_cut_in_the_middle_of_a_fetched_literal_costs_a_retry_not_data() {
    let root = tmp();
    let (src, dst) = servers_with_big_message(&root, 40);
    // 40 small messages are far below 1.5 MB: the cut lands inside the 3 MB literal.
    let proxy = FaultProxy::start(
        src.port,
        vec![Fault::new(Dir::Down, Trigger::Bytes(1_500_000), Action::Cut).global()],
    );
    let p = one_worker(&src, &dst).merge("source", via(&proxy)).create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    assert!(
        list.iter()
            .any(|i| i.1 == "network" && i.0 == "warning" && i.4.contains("reconnecting")),
        "a network warning naming the retry: {list:?}"
    );
    assert_converged(&p, &src, &dst);
}

/// The most bytes of one literal of at least 1 MiB (`{N+}` CR LF, LITERAL+) that any
/// connection's client has sent so far.
fn largest_literal_sent(conns: &[Vec<u8>]) -> usize {
    let mut most = 0;
    for c in conns {
        for (i, w) in c.windows(4).enumerate() {
            if w != b"+}\r\n" {
                continue;
            }
            let Some(open) = c[..i].iter().rposition(|&b| b == b'{') else {
                continue;
            };
            let Some(n) = std::str::from_utf8(&c[open + 1..i])
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
            else {
                continue;
            };
            if n >= 1 << 20 {
                most = most.max(n.min(c.len() - (i + 4)));
            }
        }
    }
    most
}

/// A proxy before `src` that stops passing its answers on for `secs` seconds once 1.5 MB
/// have passed (inside the 3 MB literal of [`servers_with_big_message`]).
fn source_stalled_at_1_5_mb(src: &Dovecot, secs: u64) -> FaultProxy {
    FaultProxy::start(
        src.port,
        vec![
            Fault::new(
                Dir::Down,
                Trigger::Bytes(1_500_000),
                Action::Stall(Duration::from_secs(secs)),
            )
            .global(),
        ],
    )
}

#[test]
fn a_large_message_reaches_the_destination_while_the_source_still_sends_it() {
    let root = tmp();
    let (src, dst) = servers_with_big_message(&root, 40);
    // The source pauses for 3 s inside the 3 MB literal (40 small messages are far below
    // 1.5 MB); the destination's proxy records what cutover writes meanwhile.
    let sp = source_stalled_at_1_5_mb(&src, 3);
    let dp = FaultProxy::recording(dst.port);
    let patient = |proxy: &FaultProxy| {
        let mut t = via(proxy);
        t.insert("timeout_secs".into(), 30.into());
        t
    };
    let p = one_worker(&src, &dst)
        .merge("source", patient(&sp))
        .merge("destination", patient(&dp))
        .create();
    let child = std::process::Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while sp.fired() != vec![1] {
        assert!(start.elapsed() < Duration::from_secs(60), "{:?}", sp.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    // Cut-through: the message's APPEND started as its bytes began to arrive, and what had
    // arrived before the pause is already on its way to the destination.
    let streamed = largest_literal_sent(&dp.client_bytes());
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        streamed >= 512 * 1024,
        "only {streamed} bytes of the large message reached the destination while the source paused"
    );
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_connection_cut_in_the_middle_of_an_appended_literal_is_resolved_then_resent() {
    let root = tmp();
    // Messages of at most 60 KB (no large one streamed through): the cut lands inside a
    // window's MULTIAPPEND, which is journalled before it is sent.
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 300, 11, &["--no-tricky", "--max-kb", "60"]);
    let (p, list, _proxy) = destination_cut_at_1_5_mb(&src, &dst);
    // The interrupted window was in doubt and resolved before anything was sent again.
    assert!(
        has_issue(&list, "resume", "in-doubt"),
        "in-doubt resolution recorded: {list:?}"
    );
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_destination_cut_in_a_streamed_message_stores_nothing_of_it_then_sends_it_once() {
    let root = tmp();
    let (src, dst) = servers_with_big_message(&root, 40);
    // The 3 MB message is streamed through as it is read; the cut lands in its bytes,
    // before its last one (which waits for the journal): nothing of it was stored.
    let (p, _, _proxy) = destination_cut_at_1_5_mb(&src, &dst);
    assert_converged(&p, &src, &dst);
}

/// A run whose destination connection is cut after 1.5 MB written: it reconnects and ends
/// well. The project, its issues, and the proxy (the project's destination).
fn destination_cut_at_1_5_mb(
    src: &Dovecot,
    dst: &Dovecot,
) -> (ProjectDir, Vec<IssueRec>, FaultProxy) {
    let proxy = FaultProxy::start(
        dst.port,
        vec![Fault::new(Dir::Up, Trigger::Bytes(1_500_000), Action::Cut).global()],
    );
    let p = one_worker(src, dst)
        .merge("destination", via(&proxy))
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    assert!(has_issue(&list, "network", "reconnecting"), "{list:?}");
    (p, list, proxy)
}

/// The number after `word` in an issue text ("3 found on the destination").
fn number_before(text: &str, word: &str) -> u64 {
    let i = text
        .find(word)
        .unwrap_or_else(|| panic!("{word:?} in {text:?}"));
    text[..i]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number before {word:?} in {text:?}"))
}

#[test]
fn appends_stored_but_never_confirmed_are_found_on_the_destination_not_sent_twice() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 200, 12, &[]);
    // The client sends a window of pipelined APPENDs; the server stores them, but its replies
    // are held back and the connection is reset: the client cannot know what was stored.
    let proxy = FaultProxy::start(
        dst.port,
        vec![Fault::new(
            Dir::Down,
            Trigger::ClientSent(" APPEND ".into()),
            Action::HoldThenCut(Duration::from_millis(1500)),
        )],
    );
    let p = one_worker(&src, &dst)
        .merge("destination", via(&proxy))
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    let resolved = list
        .iter()
        .find(|i| i.1 == "resume" && i.4.contains("in-doubt"))
        .unwrap_or_else(|| panic!("in-doubt resolution recorded: {list:?}"));
    assert!(
        number_before(&resolved.4, "found on the destination") > 0,
        "the server stored some of the unconfirmed APPENDs, and they were found: {resolved:?}"
    );
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_throttling_bye_is_recorded_and_its_suggested_wait_honoured() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 150, 17, &[]);
    // Exchange's way: instead of the APPEND replies, an untagged BYE naming a backoff time,
    // then the connection goes (the APPENDs already sent may or may not be stored).
    let proxy = FaultProxy::start(
        dst.port,
        vec![Fault::new(
            Dir::Down,
            Trigger::ClientSent(" APPEND ".into()),
            Action::SayThenCut(
                "* BYE Request is throttled. Suggested Backoff Time: 1234 milliseconds\r\n",
                Duration::from_millis(1000),
            ),
        )],
    );
    let p = one_worker(&src, &dst)
        .merge("destination", via(&proxy))
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    assert!(
        list.iter().any(|i| i.0 == "warning"
            && i.1 == "throttling"
            && i.4.contains("Suggested Backoff Time: 1234 milliseconds")
            && i.4.contains("waiting 1234 ms as the server asked")),
        "a throttling issue with the server's words and the wait honoured: {list:?}"
    );
    assert!(
        !list.iter().any(|i| i.1 == "network"),
        "throttling is not reported as a network failure: {list:?}"
    );
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_connection_dropped_during_login_is_retried() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 60, 13, &[]);
    // The first connection to the source is reset as the client sends LOGIN.
    let proxy = FaultProxy::start(
        src.port,
        vec![
            Fault::new(Dir::Up, Trigger::ClientSent(" LOGIN ".into()), Action::Cut)
                .on(Conns::Nth(1)),
        ],
    );
    let p = one_worker(&src, &dst).merge("source", via(&proxy)).create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    assert!(has_issue(&list, "network", "reconnecting"), "{list:?}");
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_destination_that_keeps_dropping_costs_bounded_attempts_then_a_rerun_completes() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 80, 18, &["--no-tricky"]);
    // Every connection is reset as the client starts an APPEND: the outage persists.
    let proxy = FaultProxy::start(
        dst.port,
        vec![Fault::new(Dir::Up, Trigger::ClientSent(" APPEND ".into()), Action::Cut).times(1000)],
    );
    let p = one_worker(&src, &dst)
        .merge("destination", via(&proxy))
        .create();
    let run = p.cutover(&["run"]);
    // Nothing reachable for writing: the mailbox failed with a connection error.
    assert_eq!(run.status.code(), Some(5), "{}", text(&run));
    // FOLDER_ATTEMPTS (5) connections, not 5 for every folder of the mailbox.
    assert!(
        proxy.connections() <= 6,
        "{} connections: {:?}",
        proxy.connections(),
        proxy.log()
    );
    let list = issues(&p);
    let retries = list
        .iter()
        .filter(|i| i.1 == "network" && i.0 == "warning")
        .count();
    assert_eq!(retries, 4, "attempts 1 to 4 are retried: {list:?}");
    assert!(
        list.iter().any(|i| i.1 == "network" && i.0 == "error"),
        "{list:?}"
    );
    assert_eq!(count_state(&p, "copied"), 0);
    assert_eq!(count_state(&p, "skipped"), 0);
    assert_eq!(count_state(&p, "failed"), 0);
    assert_eq!(
        dst.dump(USER, PASS).total(),
        0,
        "the server never saw an APPEND"
    );

    // The outage is over: straight to the server.
    p.edit(|b| b.set("destination.port", dst.port));
    let rerun = p.cutover(&["run"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_stalled_server_times_out_and_the_copy_completes_on_a_new_connection() {
    let root = tmp();
    let (src, dst) = servers_with_big_message(&root, 40);
    // The source stops sending in the middle of the big literal for longer than timeout_secs.
    let proxy = source_stalled_at_1_5_mb(&src, 8);
    let p = one_worker(&src, &dst).merge("source", via(&proxy)).create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    assert!(
        has_issue(&list, "network", "timed out after 3 s"),
        "the timeout is recorded: {list:?}"
    );
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_full_destination_fails_the_mailbox_with_a_quota_issue_and_a_rerun_completes() {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[(USER, PASS)], &[]);
    let quota_user = format!("{USER}:{PASS}:userdb_quota_rule=*:storage=200K");
    let dst_dir = root.path().join("dst");
    let dst = Dovecot::start(
        root.path(),
        "dst",
        &[],
        &["--quota", "1G", "--user", &quota_user],
    );
    src.seed(USER, 150, 14, &["--no-tricky"]);
    let p = one_worker(&src, &dst).create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
    let list = issues(&p);
    assert!(
        list.iter()
            .any(|i| i.1 == "quota" && i.4.to_uppercase().contains("QUOTA")),
        "a quota issue with the server's words: {list:?}"
    );
    // Nothing was given up on: what did not fit stays pending, nothing skipped or failed.
    assert!(count_state(&p, "pending") > 0);
    assert_eq!(count_state(&p, "skipped"), 0);
    assert_eq!(count_state(&p, "failed"), 0);
    assert_eq!(count_state(&p, "appending"), 0);
    let state = p.journal().mailbox_rows().unwrap()[0].state.clone();
    assert_eq!(state, "failed");

    // The administrator raises the quota; the rerun copies the rest. Dovecot re-reads the
    // passwd-file when its mtime (in whole seconds) changes: write it again until the new
    // limit shows.
    let mut raised = false;
    for _ in 0..5 {
        let out = std::process::Command::new(support_dir().join("dovecot-instance.sh"))
            .arg("add-user")
            .arg(&dst_dir)
            .args([USER, PASS, "userdb_quota_rule=*:storage=500M"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        if dst
            .doveadm(&["quota", "get", "-u", USER])
            .contains("512000")
        {
            raised = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(raised, "the destination quota could not be raised");
    let rerun = p.cutover(&["run"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    assert_converged(&p, &src, &dst);
}

#[test]
fn a_source_folder_deleted_between_runs_is_reported_and_its_copies_are_kept() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 120, 15, &["--no-tricky"]);
    src.doveadm(&["mailbox", "create", "-u", USER, "Doomed"]);
    src.doveadm(&["copy", "-u", USER, "Doomed", "mailbox", "INBOX", "all"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&mailbox())
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let first = dst.dump(USER, PASS);
    assert_same_mail(&src.dump(USER, PASS), &first, same);
    let doomed = first.folders["Doomed"].len();
    assert!(doomed > 0);

    src.doveadm(&["mailbox", "delete", "-u", USER, "Doomed"]);
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let d = dst.dump(USER, PASS);
    assert!(
        d.folders.len() == first.folders.len(),
        "the second run changed the destination's folders: {:?} -> {:?}\n{}",
        first.folders.keys().collect::<Vec<_>>(),
        d.folders.keys().collect::<Vec<_>>(),
        text(&again)
    );
    assert!(
        text(&again).contains("Doomed"),
        "the run names the vanished folder: {}",
        text(&again)
    );
    let list = issues(&p);
    assert!(
        list.iter().any(|i| i.0 == "warning"
            && i.1 == "source"
            && i.2.as_deref() == Some("Doomed")
            && i.4.contains("no longer on the source")),
        "a warning for the vanished folder: {list:?}"
    );
    // The destination keeps what was copied from it; the rest is unchanged.
    assert_eq!(d.folders["Doomed"].len(), doomed);
    assert_same_mail(&src.dump(USER, PASS), &d, same);
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// Every file under `dir` (recursively), with its bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[test]
fn secrets_never_leak_and_a_loose_password_file_is_warned_about_on_stderr() {
    use std::os::unix::fs::PermissionsExt;
    const SRC_SECRET: &str = "Src-Secret-7e1";
    const DST_RIGHT: &str = "Dst-Right-9a4";
    const DST_WRONG: &str = "Dst-Wrong-3c8";
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[(USER, SRC_SECRET)], &[]);
    let dst = Dovecot::start(root.path(), "dst", &[(USER, DST_RIGHT)], &[]);
    src.seed(USER, 20, 16, &["--no-tricky"]);
    let dir = tmp();
    let secret_file = dir.path().join("src-secret.txt");
    std::fs::write(&secret_file, format!("{SRC_SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let project = ProjectBuilder::new("secrets")
        .source(project::imap(src.port))
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            Some("b"),
            toml::toml! {
                user = (USER)
                password_file = "src-secret.txt"
            },
            project::login(USER, DST_WRONG),
        ))
        .write(dir.path());
    let mut outputs = Vec::new();
    for cmd in ["check", "run", "verify", "plan"] {
        let o = std::process::Command::new(bin())
            .arg(cmd)
            .arg(&project)
            // The most verbose logs must not hold a secret either.
            .env("CUTOVER_LOG", "debug")
            .output()
            .unwrap();
        outputs.push((cmd, o));
    }
    let run = &outputs[1].1;
    assert_eq!(run.status.code(), Some(4), "wrong password: {}", text(run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("src-secret.txt") && err.contains("readable by group or others"),
        "the loose password file is named on stderr: {}",
        text(run)
    );
    assert!(text(run).contains("refused"), "{}", text(run));
    let mut everything: Vec<(String, Vec<u8>)> = outputs
        .iter()
        .flat_map(|(cmd, o)| {
            [
                (format!("{cmd} stdout"), o.stdout.clone()),
                (format!("{cmd} stderr"), o.stderr.clone()),
            ]
        })
        .collect();
    for (p, b) in files_under(dir.path()) {
        if p != secret_file && p != project {
            everything.push((p.display().to_string(), b));
        }
    }
    assert!(
        everything.iter().any(|(n, _)| n.contains("cutover-logs")),
        "the run wrote logs: {:?}",
        everything.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    assert!(everything.iter().any(|(n, _)| n.ends_with("state.sqlite")));
    for (name, bytes) in &everything {
        for secret in [SRC_SECRET, DST_RIGHT, DST_WRONG] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} leaked into {name}"
            );
        }
    }
}

#[test]
fn a_source_folder_deleted_mid_run_is_a_warning_not_a_crash() {
    let root = tmp();
    let users = [(USER, PASS)];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed(USER, 60, 19, &["--no-tricky"]);
    src.doveadm(&["mailbox", "create", "-u", USER, "Doomed"]);
    src.doveadm(&["copy", "-u", USER, "Doomed", "mailbox", "INBOX", "all"]);
    // The client's EXAMINE of the folder is held back 3 s; meanwhile the folder goes. (The
    // mailbox's pipelined STATUS, which names every folder, goes through before it.)
    let proxy = FaultProxy::start(
        src.port,
        vec![Fault::new(
            Dir::Up,
            Trigger::ClientSent("EXAMINE \"Doomed\"".into()),
            Action::Stall(Duration::from_secs(3)),
        )],
    );
    let p = one_worker(&src, &dst).merge("source", via(&proxy)).create();
    let child = std::process::Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(60);
    while proxy.fired() != vec![1] {
        assert!(std::time::Instant::now() < end, "the EXAMINE never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    src.doveadm(&["mailbox", "delete", "-u", USER, "Doomed"]);
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let list = issues(&p);
    assert!(
        list.iter().any(|i| i.0 == "warning"
            && i.1 == "source"
            && i.2.as_deref() == Some("Doomed")
            && i.4.contains("disappeared")),
        "a warning naming the folder: {list:?}"
    );
    assert_converged(&p, &src, &dst);
}
