//! The command budget of an IMAP to IMAP pass, counted on the wire against real Dovecot
//! servers: every command cutover sends to each side goes through a recording proxy and is
//! counted by verb, for a full pass and for a no-op pass, and held to the budget written in
//! docs/internals/migration.md ("Commands per folder and per message"). A change that adds a
//! command per message, or per folder on a no-op pass, fails here.

use std::collections::BTreeMap;

use crate::support;

use support::fault_proxy::FaultProxy;
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-rtt")
        .tempdir()
        .unwrap()
}

/// The commands in what a client sent: "UID FETCH", "APPEND", ... counted, literals skipped
/// (an APPEND's message, a LOGIN's quoted or literal password), continuation lines of the
/// same command not counted again.
fn commands(bytes: &[u8]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    let mut in_command = false;
    while i < bytes.len() {
        let end = match bytes[i..].windows(2).position(|w| w == b"\r\n") {
            Some(p) => i + p,
            None => break,
        };
        let line = String::from_utf8_lossy(&bytes[i..end]).to_string();
        if !in_command {
            let mut words = line.split(' ').skip(1);
            let verb = words.next().unwrap_or("").to_ascii_uppercase();
            let verb = if verb == "UID" {
                format!("UID {}", words.next().unwrap_or("").to_ascii_uppercase())
            } else {
                verb
            };
            *out.entry(verb).or_insert(0) += 1;
        }
        i = end + 2;
        // A line ending in a literal announcement: its bytes follow, then the same command
        // goes on (the next message of a MULTIAPPEND, or the command's end).
        match literal_len(&line) {
            Some(n) => {
                i += n;
                in_command = true;
            }
            None => in_command = false,
        }
    }
    out
}

/// N of a line ending in `{N}` or `{N+}` (or `~{N+}`, a binary literal).
fn literal_len(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}

fn sum(conns: &[Vec<u8>]) -> BTreeMap<String, usize> {
    let mut total = BTreeMap::new();
    for c in conns {
        for (k, v) in commands(c) {
            *total.entry(k).or_insert(0) += v;
        }
    }
    total
}

fn minus(
    after: &BTreeMap<String, usize>,
    before: &BTreeMap<String, usize>,
) -> BTreeMap<String, usize> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn sum_of(ms: &[&BTreeMap<String, usize>]) -> BTreeMap<String, usize> {
    let mut total = BTreeMap::new();
    for m in ms {
        for (k, v) in m.iter() {
            *total.entry(k.clone()).or_insert(0) += v;
        }
    }
    total
}

fn n(m: &BTreeMap<String, usize>, verb: &str) -> usize {
    m.get(verb).copied().unwrap_or(0)
}

fn total(m: &BTreeMap<String, usize>) -> usize {
    m.values().sum()
}

/// Recording proxies in front of both servers, and alice's project through them (`tune`
/// sets what a test needs).
fn through_proxies(
    src: &Dovecot,
    dst: &Dovecot,
    name: &str,
    tune: impl FnOnce(ProjectBuilder) -> ProjectBuilder,
) -> (FaultProxy, FaultProxy, ProjectDir) {
    let (sp, dp) = (
        FaultProxy::recording(src.port),
        FaultProxy::recording(dst.port),
    );
    let p = tune(ProjectBuilder::new(name))
        .source(project::imap(sp.port))
        .destination(project::imap(dp.port))
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "alice",
            pass: "alice-pw",
        }])
        .create();
    (sp, dp, p)
}

type Counts = BTreeMap<String, usize>;

/// Another run, ended well: its output, the commands it sent to each side (beyond `seen`),
/// and the round trips of each of its connections on each side.
fn rerun(
    p: &ProjectDir,
    (sp, dp): (&FaultProxy, &FaultProxy),
    (seen_s, seen_d): (&Counts, &Counts),
) -> (std::process::Output, Counts, Counts, Vec<usize>, Vec<usize>) {
    let (cs, cd) = (sp.connections(), dp.connections());
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let s2 = minus(&sum(&sp.client_bytes()), seen_s);
    let d2 = minus(&sum(&dp.client_bytes()), seen_d);
    let (rs, rd) = (
        sp.round_trips()[cs..].to_vec(),
        dp.round_trips()[cd..].to_vec(),
    );
    (again, s2, d2, rs, rd)
}

/// A run that ends well with every one of the source's `messages` on the destination.
fn copies_all(p: &ProjectDir, dst: &Dovecot, messages: usize) {
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(dst.message_count("alice") as usize, messages);
}

#[test]
fn commands_per_folder_and_per_message_stay_within_the_budget() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 300, 21, &[]);
    let dump = src.dump("alice", "alice-pw");
    let folders = dump.folders.len();
    let messages = dump.total();
    assert!(
        folders >= 5 && messages >= 250,
        "{folders} folders, {messages} messages"
    );
    // Every folder on its own connection pair: a folder split across connections
    // (`split::`) adds per range a UID FETCH and per helper a login, an EXAMINE and a SELECT.
    let (sp, dp, p) = through_proxies(&src, &dst, "rtt", |b| {
        b.set("project.split_folder_messages", 0)
    });
    copies_all(&p, &dst, messages);
    let (s1, d1) = (sum(&sp.client_bytes()), sum(&dp.client_bytes()));
    eprintln!(
        "full pass, {folders} folders, {messages} messages:\n  source {s1:?}\n  destination {d1:?}"
    );

    // Per connection: LOGIN and LOGOUT (and ENABLE CONDSTORE once on a delta pass); no
    // CAPABILITY, since Dovecot's LOGIN answer carries the capabilities; per side one LIST.
    // Then per folder and per message:
    let session = |m: &BTreeMap<String, usize>| {
        2 * n(m, "LOGIN") + n(m, "CAPABILITY") + n(m, "LIST") + n(m, "ENABLE")
    };
    for m in [&s1, &d1] {
        assert_eq!(
            n(m, "CAPABILITY"),
            0,
            "the LOGIN's [CAPABILITY] code is used, no CAPABILITY command: {m:?}"
        );
        assert!(
            n(m, "LOGIN") <= 4,
            "max_connections bounds the sessions: {m:?}"
        );
        assert_eq!(n(m, "LIST"), 1, "one LIST per side: {m:?}");
    }
    // Full pass, source: the folders' STATUS (pipelined, one round trip for all); this
    // being the mailbox's first pass, every folder EXAMINEd with its sizes listed (all
    // pipelined too: the folders go largest first by bytes); then per folder an EXAMINE
    // with the listing's UID FETCH, and UID FETCH for the bodies; never a command per
    // message.
    assert_eq!(n(&s1, "STATUS"), folders, "{s1:?}");
    assert_eq!(n(&s1, "EXAMINE"), 2 * folders, "{s1:?}");
    assert!(
        n(&s1, "UID FETCH") <= 3 * folders + messages / 100,
        "{s1:?}"
    );
    assert_eq!(
        total(&s1) - session(&s1),
        n(&s1, "STATUS") + n(&s1, "EXAMINE") + n(&s1, "UID FETCH"),
        "{s1:?}"
    );
    // Destination: the listed folders' STATUS (pipelined), then per folder one SELECT, one
    // STATUS and one check (UID FETCH), a CREATE per missing folder, and the messages in
    // MULTIAPPEND windows (one APPEND command each).
    assert_eq!(n(&d1, "SELECT"), folders, "{d1:?}");
    assert!(n(&d1, "STATUS") <= 2 * folders, "{d1:?}");
    assert!(n(&d1, "UID FETCH") <= folders, "{d1:?}");
    assert!(
        n(&d1, "CREATE") < folders,
        "INBOX and the special folders exist: {d1:?}"
    );
    assert!(
        n(&d1, "APPEND") <= folders + messages / 8,
        "MULTIAPPEND windows, not one command per message: {d1:?}"
    );
    assert_eq!(
        total(&d1) - session(&d1),
        ["SELECT", "STATUS", "UID FETCH", "CREATE", "APPEND"]
            .iter()
            .map(|v| n(&d1, v))
            .sum::<usize>(),
        "no other command: {d1:?}"
    );

    let (rs, rd) = (sp.round_trips(), dp.round_trips());
    eprintln!("full pass, round trips per connection: source {rs:?}, destination {rd:?}");
    // Round trips, full pass. Per connection the greeting, LOGIN and LOGOUT; per side the
    // LIST and the pipelined STATUS (on the source the first pass's pipelined sizes, on the
    // destination the pipelined CREATE). Per
    // folder on the source: EXAMINE written with the listing's UID FETCH (one round trip),
    // then the bodies' UID FETCH. On the destination: SELECT, the APPEND windows, and the
    // closing STATUS written with the check's UID FETCH (one round trip).
    let conns = n(&s1, "LOGIN");
    assert!(
        rs.iter().sum::<usize>() <= 3 * conns + 3 + 2 * folders,
        "source: {rs:?} round trips for {folders} folders on {conns} connections"
    );
    let conns = n(&d1, "LOGIN");
    assert!(
        rd.iter().sum::<usize>() <= 3 * conns + 3 + 2 * folders + n(&d1, "APPEND"),
        "destination: {rd:?} round trips for {folders} folders on {conns} connections"
    );

    // No-op passes (re-runs: the delta pass mirrors the users' changes, then the copy pass
    // finds nothing new). The copy recorded each folder's HIGHESTMODSEQ (read by the STATUS
    // before it), so with QRESYNC (Dovecot offers it) even the first re-run opens no folder:
    // per side one connection, LOGIN, LIST and the folders' STATUS pipelined, LOGOUT not
    // waited for. Four round trips per connection (the greeting's included), whatever the
    // number of folders.
    let (mut seen_s, mut seen_d) = (s1.clone(), d1.clone());
    for pass in ["first", "second"] {
        let (_, s2, d2, rs, rd) = rerun(&p, (&sp, &dp), (&seen_s, &seen_d));
        eprintln!(
            "{pass} no-op pass:\n  source {s2:?}, round trips {rs:?}\n  destination {d2:?}, round trips {rd:?}"
        );
        for (side, m, rt) in [("source", &s2, &rs), ("destination", &d2, &rd)] {
            assert_eq!(n(m, "LOGIN"), 1, "{side}: one connection: {m:?}");
            assert_eq!(n(m, "APPEND"), 0, "{side}: {m:?}");
            assert_eq!(
                total(m) - session(m),
                n(m, "STATUS"),
                "{side}, {pass} no-op pass: only the pipelined STATUS: {m:?}"
            );
            assert!(n(m, "STATUS") <= folders, "{side}: {m:?}");
            assert_eq!(rt.len(), 1, "{side}: {rt:?}");
            assert!(
                rt[0] <= 4,
                "{side}, {pass} no-op pass: greeting, LOGIN, LIST, STATUS: {rt:?} round trips"
            );
        }
        assert_eq!(n(&s2, "STATUS"), folders, "{s2:?}");
        seen_s = sum_of(&[&seen_s, &s2]);
        seen_d = sum_of(&[&seen_d, &d2]);
    }
    assert_eq!(dst.message_count("alice") as usize, messages);

    // What is passed unopened is only what did not change: every INBOX message flagged on
    // the source is flagged on the destination by the next run.
    let flagged = |d: &Dovecot| {
        d.doveadm(&[
            "-f", "flow", "fetch", "-u", "alice", "flags", "mailbox", "INBOX", "all",
        ])
        .matches("\\Flagged")
        .count()
    };
    src.doveadm(&[
        "flags",
        "add",
        "-u",
        "alice",
        "\\Flagged",
        "mailbox",
        "INBOX",
        "all",
    ]);
    let want = flagged(&src);
    assert!(want > 0 && flagged(&dst) < want);
    let after = p.cutover(&["run"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
    assert_eq!(
        flagged(&dst),
        want,
        "the flag change reached the destination"
    );
    assert_eq!(dst.message_count("alice") as usize, messages);
}

#[test]
fn the_counter_reads_commands_literals_and_multiappend() {
    let wire = b"a1 LOGIN u {3+}\r\npwd\r\na2 EXAMINE INBOX\r\na3 UID FETCH 1:* (FLAGS)\r\n\
a4 APPEND INBOX (\\Seen) {5+}\r\nhello (\\Seen) {2+}\r\nhi\r\na5 LOGOUT\r\n";
    let m = commands(wire);
    assert_eq!(
        m.into_iter().collect::<Vec<_>>(),
        vec![
            ("APPEND".to_string(), 1),
            ("EXAMINE".to_string(), 1),
            ("LOGIN".to_string(), 1),
            ("LOGOUT".to_string(), 1),
            ("UID FETCH".to_string(), 1),
        ]
    );
}

/// A mailbox of many folders (more than one batch of pipelined STATUS commands): the no-op
/// pass still reads every folder's state without opening one, on one connection per side,
/// the batches overlapping (the next on the wire while the last is answered).
#[test]
fn a_no_op_pass_over_seven_hundred_folders_reads_each_status_once_in_overlapping_batches() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 40, 22, &[]);
    let names: Vec<String> = (0..700).map(|i| format!("Lists/l{i:03}")).collect();
    let mut args = vec!["mailbox", "create", "-u", "alice"];
    args.extend(names.iter().map(String::as_str));
    src.doveadm(&args);
    // Mail in a few of them, so that they are not all alike.
    for n in ["Lists/l000", "Lists/l350", "Lists/l699"] {
        src.doveadm(&["copy", "-u", "alice", n, "mailbox", "INBOX", "all"]);
    }
    let dump = src.dump("alice", "alice-pw");
    let messages = dump.total();
    let (sp, dp, p) = through_proxies(&src, &dst, "many", |b| b);
    copies_all(&p, &dst, messages);
    let (seen_s, seen_d) = (sum(&sp.client_bytes()), sum(&dp.client_bytes()));
    let (again, s2, d2, rs, rd) = rerun(&p, (&sp, &dp), (&seen_s, &seen_d));
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    eprintln!("no-op pass: source {s2:?} {rs:?}; destination {d2:?} {rd:?}");
    // The source's selectable folders: the seeded ones and the 700.
    let folders = dump.folders.len();
    assert!(folders > 700, "{folders}");
    for (side, m, rt) in [("source", &s2, &rs), ("destination", &d2, &rd)] {
        assert_eq!(n(m, "LOGIN"), 1, "{side}: one connection: {m:?}");
        assert_eq!(n(m, "STATUS"), folders, "{side}: each folder once: {m:?}");
        assert_eq!(
            n(m, "EXAMINE") + n(m, "SELECT") + n(m, "APPEND") + n(m, "UID FETCH"),
            0,
            "{side}: no folder opened: {m:?}"
        );
        // Greeting, LOGIN, LIST, then the STATUS batches of 256, two on the wire at a time:
        // the first two in one write, each further one after the oldest is answered (so at
        // least one more round trip: all 711 written at once would make it 4). At most a few
        // more: the proxy counts a write it reads in pieces, answered between them, as more
        // than one; never one per folder.
        let batches = folders.div_ceil(256);
        assert_eq!(rt.len(), 1, "{side}: {rt:?}");
        assert!(
            (2 + batches..=2 + 2 * batches).contains(&rt[0]),
            "{side}: {rt:?} round trips for {folders} folders in {batches} batches"
        );
    }
}
