//! `cutover finalize`: the domain's DNS asked of its authoritative server (a local one,
//! `dns-mx.py --zone`), each record reported with its TTL; refused while MX points elsewhere;
//! with MX right, the final delta pass, verify, and the switch marked; then mail that arrives
//! on the destination after the switch is what fail-back copies back.

use crate::support;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

/// A local authoritative DNS server serving a zone file it reads at every query.
pub(crate) struct Zone {
    child: std::process::Child,
    pub(crate) port: u16,
    file: std::path::PathBuf,
}

impl Zone {
    pub(crate) fn start(dir: &Path, records: &str) -> Zone {
        let file = dir.join("zone.txt");
        std::fs::write(&file, records).unwrap();
        let mut child = Command::new("python3")
            .arg(support_dir().join("dns-mx.py"))
            .arg("--zone")
            .arg(&file)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run dns-mx.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().trim_start_matches("port=").parse().unwrap();
        Zone { child, port, file }
    }
    fn set(&self, records: &str) {
        std::fs::write(&self.file, records).unwrap();
    }
}

impl Drop for Zone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) const COMMON: &str = "acme.test NS 3600 ns1.acme.test\n\
ns1.acme.test A 3600 127.0.0.1\n\
acme.test TXT 600 v=spf1 include:spf.protection.outlook.com -all\n\
autodiscover.acme.test CNAME 900 autodiscover.outlook.com\n\
selector1._domainkey.acme.test TXT 1200 v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC\n";

pub(crate) fn deliver(d: &Dovecot, user: &str, folder: &str, tag: &str, n: usize) {
    for i in 0..n {
        let msg = format!(
            "From: someone@else.test\r\nTo: {user}@acme.test\r\nSubject: {tag} {i}\r\nMessage-ID: <{tag}-{i}@else.test>\r\nDate: Sun, 06 Dec 2026 10:00:0{} +0000\r\n\r\n{tag} mail {i}\r\n",
            i % 10
        );
        let mut c = Command::new("doveadm")
            .arg("-c")
            .arg(d.dir.join("dovecot.conf"))
            .args(["save", "-u", user, "-m", folder])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(msg.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    }
}

/// The subjects of a user's messages in a folder, sorted.
fn subjects(d: &Dovecot, user: &str, folder: &str) -> Vec<String> {
    let out = d.doveadm(&["fetch", "-u", user, "hdr.subject", "mailbox", folder, "ALL"]);
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("hdr.subject: "))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn finalize_reports_the_dns_refuses_while_mx_is_wrong_then_switches() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("alice", 40, 71, &["--no-tricky"]);
    let zone = Zone::start(
        root.path(),
        &format!("{COMMON}acme.test MX 300 10 mx.old.example\n"),
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "alice",
            pass: "alice-pw",
        }])
        .set("dns.domain", "acme.test")
        .set("dns.dkim_selectors", vec!["selector1", "selector2"])
        .set("dns.mx", vec!["mx.new.test"])
        .set("dns.autodiscover", "autodiscover.outlook.com")
        .set("dns.spf_include", vec!["spf.protection.outlook.com"])
        .set("dns.resolver", format!("127.0.0.1:{}", zone.port))
        .create();
    let check = p.cutover(&["check"]);
    assert!(
        stdout(&check).contains(
            "dns      acme.test: MX mx.new.test; autodiscover CNAME autodiscover.outlook.com; SPF include spf.protection.outlook.com; DKIM selectors selector1, selector2"
        ),
        "{}",
        text(&check)
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // Users keep working on the source: new mail since the copy.
    deliver(&src, "alice", "INBOX", "late", 4);

    // Without a terminal and without --yes: refused before anything (exit 2)... once the
    // DNS is right. While MX points elsewhere: exit 11, each record with its TTL, nothing
    // copied, no switch.
    let refused = p.cutover(&["finalize", "--batch", "pilot", "--yes"]);
    assert_eq!(refused.status.code(), Some(11), "{}", text(&refused));
    let out = stdout(&refused);
    assert!(out.contains("asked of ns1.acme.test (127.0.0.1:"), "{out}");
    let row = |name: &str, kind: &str| {
        out.lines()
            .find(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.first() == Some(&name) && w.get(1) == Some(&kind)
            })
            .unwrap_or_else(|| panic!("no {name} {kind} row in\n{out}"))
            .to_string()
    };
    let mx = row("acme.test", "MX");
    assert!(
        mx.contains("10 mx.old.example")
            && mx.contains("mx.new.test")
            && mx.contains("300 s")
            && mx.contains("MISMATCH"),
        "{mx}"
    );
    let spf = row("acme.test", "TXT");
    assert!(spf.contains("600 s") && spf.contains(" match "), "{spf}");
    let auto = row("autodiscover.acme.test", "CNAME");
    assert!(auto.contains("900 s") && auto.contains(" match "), "{auto}");
    let dkim = row("selector1._domainkey.acme.test", "TXT");
    assert!(
        dkim.contains("1200 s") && dkim.contains(" match "),
        "{dkim}"
    );
    // A selector with no key published: reported, not found.
    let dkim2 = row("selector2._domainkey.acme.test", "TXT");
    assert!(
        dkim2.contains("none") && dkim2.contains("MISMATCH"),
        "{dkim2}"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force-dns"),
        "{}",
        text(&refused)
    );
    assert!(!subjects(&dst, "alice", "INBOX").contains(&"late 0".to_string()));
    let j = p.journal();
    assert_eq!(j.switched_at("alice->alice").unwrap(), None);
    // The checklist's dns items carry the verdicts.
    let results = j.check_results().unwrap();
    let status = |id: &str| {
        results
            .iter()
            .find(|r| r.check_id == id)
            .map(|r| r.status.clone())
            .unwrap_or_default()
    };
    assert_eq!(status("dns-mx"), "fail");
    assert_eq!(status("dns-spf"), "pass");
    assert_eq!(status("dns-autodiscover"), "pass");
    assert_eq!(status("dns-dkim"), "fail");
    drop(j);

    // A message that reaches the destination before the switch (coexistence).
    deliver(&dst, "alice", "INBOX", "before-switch", 1);
    // MX changed: the final pass, verify, the switch.
    zone.set(&format!("{COMMON}acme.test MX 3600 10 mx.new.test\n"));
    let no_tty = p.cutover(&["finalize", "--batch", "pilot"]);
    assert_eq!(no_tty.status.code(), Some(2), "{}", text(&no_tty));
    let done = p.cutover(&["finalize", "--batch", "pilot", "--yes"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let out = stdout(&done);
    assert!(out.contains("3600 s"), "{out}");
    assert!(
        out.contains("final pass: ") && out.contains("4 new"),
        "{out}"
    );
    assert!(
        out.contains("verify: every source message is on the destination exactly once"),
        "{out}"
    );
    assert!(out.contains("switched at"), "{out}");
    let inbox = subjects(&dst, "alice", "INBOX");
    for i in 0..4 {
        assert!(inbox.contains(&format!("late {i}")), "{inbox:?}");
    }
    let j = p.journal();
    let at = j
        .switched_at("alice->alice")
        .unwrap()
        .expect("switch marked");
    assert!(at.starts_with("20"), "{at}");
    let v = j.latest_verifications().unwrap();
    assert!(v["alice->alice"].0, "{v:?}");
    drop(j);

    // After the switch, mail lands on the destination only; fail-back copies exactly that.
    deliver(&dst, "alice", "INBOX", "after-switch", 2);
    let dry = p.cutover(&["failback", "--mailbox", "alice", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let d = stdout(&dry);
    assert!(d.contains("2 message(s) arrived"), "{d}");
    assert!(d.contains(&format!("switched at {at}")), "{d}");
    assert!(
        d.contains("1 message(s) that arrived on the destination before it"),
        "{d}"
    );
    let fb = p.cutover(&["failback", "--mailbox", "alice", "--yes"]);
    assert_eq!(fb.status.code(), Some(0), "{}", text(&fb));
    let back = subjects(&src, "alice", "INBOX");
    assert!(back.contains(&"after-switch 0".to_string()), "{back:?}");
    assert!(back.contains(&"after-switch 1".to_string()), "{back:?}");
    assert!(
        !back.iter().any(|s| s.starts_with("before-switch")),
        "{back:?}"
    );

    // A second finalize keeps the first moment.
    let again = p.cutover(&["finalize", "--batch", "pilot", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        p.journal().switched_at("alice->alice").unwrap().as_deref(),
        Some(at.as_str())
    );
}

#[test]
fn force_dns_goes_on_and_journals_the_reason() {
    let root = tmp();
    let users = [("bob", "bob-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("bob", 15, 72, &["--no-tricky"]);
    let zone = Zone::start(
        root.path(),
        &format!("{COMMON}acme.test MX 300 10 mx.old.example\n"),
    );
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "pilot",
            user: "bob",
            pass: "bob-pw",
        }])
        .set("dns.domain", "acme.test")
        .set("dns.mx", vec!["mx.new.test"])
        .set("dns.resolver", format!("127.0.0.1:{}", zone.port))
        .check(toml::toml! {
            id = "dns-mx"
            title = "MX points to the destination"
            kind = "auto"
            required = false
        })
        .create();
    // `cutover assess` runs the dns items with the other auto checks.
    let assess = p.cutover(&["assess"]);
    assert_eq!(assess.status.code(), Some(0), "{}", text(&assess));
    let r = p.journal().check_results().unwrap();
    let mx = r.iter().find(|r| r.check_id == "dns-mx").expect("dns-mx");
    assert_eq!(mx.status, "fail");
    assert!(
        mx.reason
            .contains("10 mx.old.example (TTL 300 s), expected mx.new.test"),
        "{}",
        mx.reason
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let forced = p.cutover(&[
        "finalize",
        "--batch",
        "pilot",
        "--yes",
        "--force-dns",
        "MX moves at 18:00, ticket 5120",
    ]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    let issues = all_issues(&p.journal());
    assert!(
        issues.iter().any(|i| i.category == "operator"
            && i.message.contains("MX moves at 18:00, ticket 5120")
            && i.message.contains("mx.old.example")),
        "{issues:?}"
    );
    assert!(p.journal().switched_at("bob->bob").unwrap().is_some());
}

#[test]
fn the_report_says_when_the_authoritative_servers_could_not_be_asked() {
    use cutover_engine::config::DnsSettings;
    let root = tmp();
    // No NS record: the resolver's answers, said so.
    let zone = Zone::start(
        root.path(),
        "acme.test MX 300 10 acme-test.mail.protection.outlook.com\n\
         selector1._domainkey.acme.test CNAME 1200 selector1-acme-test._domainkey.acme.onmicrosoft.com\n",
    );
    let settings = DnsSettings {
        domain: Some("acme.test".into()),
        dkim_selectors: vec!["selector1".into()],
        mx: vec!["acme-test.mail.protection.outlook.com".into()],
        autodiscover: Some("autodiscover.outlook.com".into()),
        spf_include: vec!["spf.protection.outlook.com".into()],
        resolver: Some(format!("127.0.0.1:{}", zone.port).parse().unwrap()),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(cutover_engine::dns::check(&settings))
        .expect("a report");
    assert!(r.servers.is_empty());
    assert!(
        r.note.as_deref().unwrap_or("").contains("no NS record"),
        "{:?}",
        r.note
    );
    assert!(r.mx_ok());
    assert_eq!(r.verdict("mx").0, "pass");
    // A DKIM key published as a CNAME (Microsoft 365's way) counts.
    let (s, why) = r.verdict("dkim");
    assert_eq!(s, "pass", "{why}");
    assert!(
        why.contains("CNAME selector1._domainkey.acme.test"),
        "{why}"
    );
    // Nothing there: not found, with no TTL.
    let auto = r.records.iter().find(|x| x.kind == "autodiscover").unwrap();
    assert!(!auto.matches && auto.found.is_empty() && auto.ttl.is_none());
    assert_eq!(r.verdict("spf").0, "fail");
    // No domain: no report.
    assert!(
        rt.block_on(cutover_engine::dns::check(&DnsSettings::default()))
            .is_none()
    );
}
