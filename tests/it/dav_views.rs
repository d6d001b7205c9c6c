//! Calendars and contacts everywhere the operator looks, on a real run (Dovecot and Radicale
//! on 127.0.0.1, IMAP + CalDAV/CardDAV on both sides): `assess`, `plan`, `run`, `verify` and
//! the final report (Markdown and CSV) count messages, events and contacts each by name, with
//! the numbers the servers hold.

use crate::support;

use std::collections::BTreeMap;

use support::dav::{DavItem, Radicale, Scale};
use support::*;

const SRC: (&str, &str) = ("alice", "src-pw");
const DST: (&str, &str) = ("alice", "dst-pw");

fn dav_table(r: &Radicale) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("url".into(), format!("{}/", r.url()).into());
    t.insert("security".into(), "none".into());
    t
}

/// Resources per kind on a DAV server: (events, contacts).
fn kinds(items: &[DavItem]) -> (u64, u64) {
    let n = |k: &str| items.iter().filter(|i| i.kind == k).count() as u64;
    (n("calendar"), n("addressbook"))
}

/// The number printed just before `word` on `line` ("  12 events ..." → 12).
fn number_before(line: &str, word: &str) -> Option<u64> {
    let t: Vec<&str> = line.split_whitespace().collect();
    let i = t.iter().position(|x| x.trim_end_matches(',') == word)?;
    t.get(i.checked_sub(1)?)?.parse().ok()
}

/// The number printed just after `word` on `line` ("source 12 ..." → 12).
fn number_after(line: &str, word: &str) -> Option<u64> {
    let t: Vec<&str> = line.split_whitespace().collect();
    let i = t.iter().position(|x| *x == word)?;
    t.get(i + 1)?.parse().ok()
}

/// The lines of `out` that contain `needle`.
fn lines_with<'a>(out: &'a str, needle: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn assess_plan_run_verify_and_the_report_count_events_and_contacts_by_name() {
    let root = tempfile::Builder::new()
        .prefix("cutover-dav-views")
        .tempdir()
        .unwrap();
    let src = Dovecot::start(root.path(), "src", &[SRC], &[]);
    let dst = Dovecot::start(root.path(), "dst", &[DST], &[]);
    let src_dav = Radicale::start(root.path(), "src-dav", &[SRC]);
    let dst_dav = Radicale::start(root.path(), "dst-dav", &[DST]);
    src.seed(SRC.0, 12, 3, &[]);
    src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let mail = src.dump(SRC.0, SRC.1).total() as u64;
    let (events, contacts) = kinds(&src_dav.dump(SRC.0, SRC.1, true));
    assert!(mail > 0 && events > 0 && contacts > 0);

    let p = ProjectBuilder::imap(&src, &dst)
        .set("project.items", vec!["mail", "calendar", "contacts"])
        .set("source.dav", dav_table(&src_dav))
        .set("destination.dav", dav_table(&dst_dav))
        .mailbox(project::mailbox(
            None,
            project::login(SRC.0, SRC.1),
            project::login(DST.0, DST.1),
        ))
        .create();

    // assess: per-kind counts of what is to copy.
    let a = p.cutover(&["assess"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    let out = stdout(&a);
    let to_copy = lines_with(&out, "] to copy: ");
    assert_eq!(to_copy.len(), 1, "{out}");
    assert_eq!(number_before(to_copy[0], "messages"), Some(mail), "{out}");
    assert_eq!(number_before(to_copy[0], "events"), Some(events), "{out}");
    assert_eq!(
        number_before(to_copy[0], "contacts"),
        Some(contacts),
        "{out}"
    );
    // Each calendar's row says "events", each address book's "contacts".
    let sum_rows = |out: &str, word: &str| -> u64 {
        out.lines()
            .filter(|l| l.starts_with("  ") && l.contains("->"))
            .filter_map(|l| number_before(l, word))
            .sum()
    };
    assert_eq!(sum_rows(&out, "events"), events, "{out}");
    assert_eq!(sum_rows(&out, "contacts"), contacts, "{out}");

    // plan: the calendar and address-book rows name their kind; totals per kind.
    let plan = p.cutover(&["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let out = stdout(&plan);
    assert_eq!(sum_rows(&out, "events"), events, "{out}");
    assert_eq!(sum_rows(&out, "contacts"), contacts, "{out}");
    assert_eq!(sum_rows(&out, "msgs"), mail, "{out}");
    let calendars: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Calendars/") || l.contains("calendar:"))
        .collect();
    assert!(!calendars.is_empty(), "{out}");
    for l in calendars {
        assert!(
            l.contains(" events "),
            "a calendar not counted as events: {l}"
        );
    }
    let total = mail + events + contacts;
    assert!(out.contains(&format!("  total {total} item(s),")), "{out}");
    for (n, word) in [
        (mail, "messages"),
        (events, "events"),
        (contacts, "contacts"),
    ] {
        assert!(
            out.contains(&format!("    {n} {word}, "))
                && out.contains(&format!("0 already copied, {n} to copy")),
            "{word}: {out}"
        );
    }

    // run: the summary counts each kind, copied of known.
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let out = stdout(&run);
    assert!(
        out.contains(&format!(
            "by kind: {mail}/{mail} messages, {events}/{events} events, {contacts}/{contacts} contacts"
        )),
        "{out}"
    );
    // What the servers hold agrees.
    assert_eq!(kinds(&dst_dav.dump(DST.0, DST.1, true)), (events, contacts));
    assert_eq!(dst.dump(DST.0, DST.1).total() as u64, mail);

    // plan again: everything of each kind already copied.
    let out = stdout(&p.cutover(&["plan"]));
    assert!(
        out.contains(&format!("    {events} events, "))
            && out.contains(&format!("; {events} already copied, 0 to copy")),
        "{out}"
    );

    // verify: per kind, and the closing line names the kinds.
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let out = stdout(&v);
    assert!(
        out.contains(&format!(
            "verify: every source item is on the destination exactly once ({mail} messages, {events} events, {contacts} contacts)"
        )),
        "{out}"
    );
    let per_kind: BTreeMap<&str, &str> = ["messages", "events", "contacts"]
        .into_iter()
        .filter_map(|w| {
            out.lines()
                .find(|l| l.trim_start().starts_with(&format!("{w} ")) && l.contains("source"))
                .map(|l| (w, l))
        })
        .collect();
    assert_eq!(per_kind.len(), 3, "{out}");
    assert!(
        per_kind.values().all(|l| l.trim_end().ends_with("OK")),
        "{out}"
    );
    for (w, n) in [
        ("messages", mail),
        ("events", events),
        ("contacts", contacts),
    ] {
        assert_eq!(number_after(per_kind[w], "source"), Some(n), "{out}");
        assert_eq!(number_after(per_kind[w], "destination"), Some(n), "{out}");
    }

    // The final report: per-kind summary rows and a row per kind of the mailbox.
    let rep = p.cutover(&["report", "--kind", "final", "--format", "md"]);
    assert_eq!(rep.status.code(), Some(0), "{}", text(&rep));
    let md = stdout(&rep);
    assert!(md.contains("## Items per kind"), "{md}");
    for (n, word) in [
        (mail, "messages"),
        (events, "events"),
        (contacts, "contacts"),
    ] {
        assert!(
            md.contains(&format!("| {word} | {n} copied of {n} on the source")),
            "{word}: {md}"
        );
        assert!(
            md.lines().any(|l| l.starts_with("| alice")
                && l.contains(&format!("| {word} | {n} | {n} |"))),
            "{word}: {md}"
        );
    }
    let csv = stdout(&p.cutover(&["report", "--kind", "final", "--format", "csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].ends_with("ContactItemCount,ContactSyncedItemCount"),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(&format!(
            ",{mail},{mail},{events},{events},{contacts},{contacts}"
        )),
        "{csv}"
    );
}
