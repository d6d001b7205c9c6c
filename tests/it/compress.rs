//! COMPRESS=DEFLATE (RFC 4978) against real Dovecot servers (imap_zlib plugin): both links
//! compressed under TLS, the mail byte exact, and the bytes on the wire measured and shown.

use crate::support;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-compress")
        .tempdir()
        .unwrap()
}

/// The "on the wire" summary line of a run, per side: (wire bytes shown, ratio) when
/// compressed, None when the side says "uncompressed".
fn wire_of(out: &str, side: &str) -> Option<f64> {
    let line = out
        .lines()
        .find(|l| l.starts_with("on the wire: "))
        .unwrap_or_else(|| panic!("no wire line in:\n{out}"));
    let part = line
        .trim_start_matches("on the wire: ")
        .split("; ")
        .find(|p| p.starts_with(side))
        .unwrap_or_else(|| panic!("no {side} in {line}"));
    if part.ends_with("(uncompressed)") {
        return None;
    }
    let ratio = part
        .rsplit_once(", ")
        .and_then(|(_, r)| r.strip_suffix("x)"))
        .unwrap_or_else(|| panic!("no ratio in {part}"));
    Some(ratio.parse().unwrap())
}

#[test]
fn compressed_links_under_tls_copy_byte_exact_and_measure_the_wire() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 120, 11, &[]);
    let tls = |b: ProjectBuilder, side: &str, d: &Dovecot| {
        b.set(&format!("{side}.port"), d.tls_port)
            .set(&format!("{side}.security"), "tls")
            .set(&format!("{side}.ca_file"), d.ca.display().to_string())
            .set(&format!("{side}.compress"), "on")
    };
    let b = ProjectBuilder::imap(&src, &dst).mailboxes(&[MailboxLine {
        batch: "b",
        user: "alice",
        pass: "alice-pw",
    }]);
    let p = tls(tls(b, "source", &src), "destination", &dst).create();

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let out = stdout(&run);
    let down = wire_of(&out, "source").expect("the source link is compressed");
    let up = wire_of(&out, "destination").expect("the destination link is compressed");
    // Mail text compresses: fewer bytes crossed each link than the protocol carried.
    assert!(down > 1.2, "source ratio {down}: {out}");
    assert!(up > 1.2, "destination ratio {up}: {out}");
    assert_same_mail(
        &src.dump("alice", "alice-pw"),
        &dst.dump("alice", "alice-pw"),
        |f| f.to_string(),
    );
    // The no-op pass and the verification speak compressed too, and find nothing to do.
    let again = p.cutover(&["run"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(run_counts(&again).0, 0, "a re-run appends nothing");
    assert!(wire_of(&stdout(&again), "source").is_some());
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn auto_leaves_loopback_links_uncompressed_and_off_is_off() {
    let root = tmp();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("bob", 20, 3, &[]);
    // Source as by default ("auto") on 127.0.0.1, destination "off".
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "bob",
            pass: "bob-pw",
        }])
        .set("destination.compress", "off")
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let out = stdout(&run);
    assert_eq!(wire_of(&out, "source"), None, "{out}");
    assert_eq!(wire_of(&out, "destination"), None, "{out}");
    assert_eq!(dst.message_count("bob"), src.message_count("bob"));
}

#[test]
fn compress_on_an_endpoint_that_is_not_imap_is_refused_by_name() {
    let root = tmp();
    let users = [("cy", "cy-pw")];
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    let trees = root.path().join("trees");
    std::fs::create_dir_all(&trees).unwrap();
    let mut src = project::maildir(&trees);
    src.insert("compress".into(), "on".into());
    let p = ProjectBuilder::new("c")
        .source(src)
        .destination(project::imap(dst.port))
        .mailbox(project::mailbox(
            None,
            project::user("cy"),
            project::login("cy", "cy-pw"),
        ))
        .create();
    let out = p.cutover(&["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("source.compress") && text(&out).contains("IMAP extension"),
        "{}",
        text(&out)
    );
}

/// The stall of issue 22: with both links compressed, a command's tail could stay in the
/// compressor after its flush (the sync flush skipped while the compressor held output), so
/// the server waited for it and cutover for the reply until the timeout. Hundreds of
/// MULTIAPPEND windows and FETCH replies of varied sizes, compressed both ways, with a short
/// timeout: no operation may time out, nothing may be retried, the copy is exact.
#[test]
fn many_compressed_windows_never_wait_for_a_reply() {
    let root = tmp();
    let users = [("dana", "dana-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("dana", 1500, 41, &["--huge", "--huge-mb", "3"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "dana",
            pass: "dana-pw",
        }])
        .set("source.compress", "on")
        .set("destination.compress", "on")
        .set("source.timeout_secs", 15)
        .set("destination.timeout_secs", 15)
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let out = stdout(&run);
    assert!(wire_of(&out, "source").is_some(), "{out}");
    assert!(wire_of(&out, "destination").is_some(), "{out}");
    let retried: Vec<String> = all_issues(&p.journal())
        .into_iter()
        .filter(|i| i.category == "network" || i.message.contains("timed out"))
        .map(|i| i.message)
        .collect();
    assert!(
        retried.is_empty(),
        "a compressed session stalled: {retried:?}"
    );
    assert_same_mail(
        &src.dump("dana", "dana-pw"),
        &dst.dump("dana", "dana-pw"),
        |f| f.to_string(),
    );
}

/// A server gone in the middle of a compressed stream (the connection closed inside a
/// DEFLATE block of a FETCH reply) reads as a lost connection, retried, not as a
/// decompression error; the copy then completes exactly.
#[test]
fn a_server_gone_mid_stream_is_a_lost_connection_then_a_retry() {
    use support::fault_proxy::{Action, Dir, Fault, FaultProxy, Trigger};
    let root = tmp();
    let users = [("eve", "eve-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("eve", 300, 5, &["--no-tricky"]);
    let proxy = FaultProxy::start(
        src.port,
        vec![Fault::new(Dir::Down, Trigger::Bytes(400_000), Action::Truncate).global()],
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "eve",
            pass: "eve-pw",
        }])
        .set("project.folder_workers", 1)
        .set("source.port", proxy.port)
        .set("source.compress", "on")
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(proxy.fired(), vec![1], "{:?}", proxy.log());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let net: Vec<String> = all_issues(&p.journal())
        .into_iter()
        .filter(|i| i.category == "network")
        .map(|i| i.message)
        .collect();
    assert!(
        net.iter()
            .any(|m| m.contains("closed the connection") && m.contains("reconnecting")),
        "{net:?}"
    );
    assert!(!net.iter().any(|m| m.contains("BufError")), "{net:?}");
    assert_same_mail(
        &src.dump("eve", "eve-pw"),
        &dst.dump("eve", "eve-pw"),
        |f| f.to_string(),
    );
}
