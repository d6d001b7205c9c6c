//! The DAV test fixture itself, against a real Radicale: the seeder really puts on the server
//! what its summary says (series with their moved and cancelled occurrences in one resource,
//! twenty-attendee meetings, vCard 3.0 and 4.0 with photos, groups), the normalised dump is
//! stable and sees a change, the server enforces If-None-Match and owner-only rights, and
//! dav-instance.sh behaves (reuse, busy port, stop).

use crate::support;

use std::collections::BTreeSet;
use std::process::Command;

use base64::Engine as _;
use support::dav::{DavItem, Radicale, Scale, count_by_collection, count_by_kind};
use support::support_dir;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-dav")
        .tempdir()
        .unwrap()
}

/// The one item whose UID is `uid` (with or without "urn:uuid:"); panics unless exactly one.
fn by_uid<'a>(items: &'a [DavItem], uid: &str) -> &'a DavItem {
    let found: Vec<&DavItem> = items
        .iter()
        .filter(|i| i.uid == uid || i.uid.strip_prefix("urn:uuid:") == Some(uid))
        .collect();
    assert_eq!(found.len(), 1, "UID {uid}: {} resources", found.len());
    found[0]
}

/// The content lines (of a normalised item) that start with `prefix`.
fn lines<'a>(item: &'a DavItem, prefix: &str) -> Vec<&'a str> {
    item.content
        .lines()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// The value of a content line (after the first ':' outside quotes).
fn value(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return &line[i + 1..],
            _ => {}
        }
    }
    ""
}

/// The VEVENT blocks of a normalised item, each as its lines.
fn vevents(item: &DavItem) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    let mut depth = 0;
    for l in item.content.lines() {
        if l == "BEGIN:VEVENT" {
            cur = Some(Vec::new());
            depth = 0;
        } else if l == "END:VEVENT" && depth == 0 {
            out.extend(cur.take());
        } else if let Some(c) = cur.as_mut() {
            if l.starts_with("BEGIN:") {
                depth += 1;
            } else if l.starts_with("END:") {
                depth -= 1;
            } else if depth == 0 {
                c.push(l);
            }
        }
    }
    out
}

/// A series (one resource) has its master, one moved occurrence (an override whose DTSTART is
/// not its RECURRENCE-ID), one cancelled override and an EXDATE.
fn assert_series_with_exceptions(item: &DavItem) {
    assert_eq!(
        item.recurrence_ids.len(),
        3,
        "{}: {:?}",
        item.uid,
        item.recurrence_ids
    );
    assert_eq!(
        item.recurrence_ids[0], "",
        "the master comes first (sorted)"
    );
    let evs = vevents(item);
    assert_eq!(evs.len(), 3, "master and two overrides in ONE resource");
    let master: Vec<_> = evs
        .iter()
        .filter(|e| !e.iter().any(|l| l.starts_with("RECURRENCE-ID")))
        .collect();
    assert_eq!(master.len(), 1);
    assert!(master[0].iter().any(|l| l.starts_with("RRULE:")));
    assert!(master[0].iter().any(|l| l.starts_with("EXDATE")));
    let overrides: Vec<_> = evs
        .iter()
        .filter(|e| e.iter().any(|l| l.starts_with("RECURRENCE-ID")))
        .collect();
    let field = |e: &Vec<&str>, p: &str| {
        e.iter()
            .find(|l| l.starts_with(p))
            .map(|l| value(l).to_string())
            .unwrap()
    };
    let moved = overrides
        .iter()
        .filter(|e| field(e, "RECURRENCE-ID") != field(e, "DTSTART;"))
        .count();
    let cancelled = overrides
        .iter()
        .filter(|e| e.contains(&"STATUS:CANCELLED"))
        .count();
    assert_eq!((moved, cancelled), (1, 1), "{}", item.content);
    for e in &evs {
        assert_eq!(field(e, "UID:"), item.uid, "every VEVENT carries the UID");
    }
}

/// The bytes of the base64 PHOTO of a vCard, checked to be a whole JPEG (SOI .. EOI).
fn jpeg_photo(item: &DavItem) -> Vec<u8> {
    let photo = lines(item, "PHOTO");
    assert_eq!(photo.len(), 1, "{}", item.content);
    assert!(photo[0].contains("ENCODING=b"), "{}", photo[0]);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value(photo[0]))
        .expect("PHOTO is base64");
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9]));
    bytes
}

#[test]
fn the_seeded_server_holds_what_the_summary_says() {
    let root = tmp();
    let dav = Radicale::start(root.path(), "dav", &[("alice", "alice-pw")]);
    let s = dav.seed("alice", "alice-pw", Scale::Small);
    assert_eq!((s.user.as_str(), s.home.as_str()), ("alice", "/alice/"));
    let items = dav.dump("alice", "alice-pw", true);

    // Counts per collection and kind, display names, components.
    let per_coll = count_by_collection(&items);
    for c in &s.collections {
        assert_eq!(c.created, c.items, "a fresh server: everything created");
        assert_eq!(
            per_coll.get(&c.name),
            Some(&c.items),
            "collection {}",
            c.name
        );
        for i in items.iter().filter(|i| i.collection == c.name) {
            assert_eq!((&i.kind, &i.displayname), (&c.kind, &c.displayname));
        }
        let vevents: usize = items
            .iter()
            .filter(|i| i.collection == c.name)
            .map(|i| i.content.matches("BEGIN:VEVENT\n").count())
            .sum();
        assert_eq!(vevents, c.components.get("VEVENT").copied().unwrap_or(0));
    }
    let names: Vec<(&str, &str)> = s
        .collections
        .iter()
        .map(|c| (c.name.as_str(), c.displayname.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("calendar", "Calendar"),
            ("work", "Work"),
            ("contacts", "Contacts")
        ]
    );
    let kinds = count_by_kind(&items);
    assert_eq!(kinds["calendar"], 16, "small: 16 events");
    assert_eq!(kinds["addressbook"], 10, "small: 10 contacts");
    assert_eq!(s.items, items.len());
    let uids: BTreeSet<&str> = items.iter().map(|i| i.uid.as_str()).collect();
    assert_eq!(uids.len(), items.len(), "one resource per UID");

    // Series with a moved and a cancelled occurrence, in one resource each.
    assert_series_with_exceptions(by_uid(&items, &s.landmarks["weekly_series"]));
    assert_series_with_exceptions(by_uid(&items, &s.landmarks["monthly_series"]));
    assert!(s.features["series"] >= 2 && s.features["overrides_moved"] >= 2);

    // Meetings with twenty attendees and their answers.
    let own = by_uid(&items, &s.landmarks["meeting_organised_by_user"]);
    assert_eq!(lines(own, "ATTENDEE").len(), 20, "{}", own.content);
    assert_eq!(
        value(lines(own, "ORGANIZER")[0]),
        "mailto:alice@example.test"
    );
    let partstats: BTreeSet<&str> = lines(own, "ATTENDEE")
        .iter()
        .filter_map(|l| l.split(';').find_map(|p| p.strip_prefix("PARTSTAT=")))
        .collect();
    assert!(partstats.len() >= 3, "varied responses: {partstats:?}");
    let other = by_uid(&items, &s.landmarks["meeting_organised_by_other"]);
    assert_eq!(lines(other, "ATTENDEE").len(), 20);
    assert_ne!(
        value(lines(other, "ORGANIZER")[0]),
        "mailto:alice@example.test"
    );
    assert!(
        lines(other, "ATTENDEE")
            .iter()
            .any(|l| value(l) == "mailto:alice@example.test")
    );

    // Private, all-day, time zones, attachments.
    assert_eq!(
        lines(by_uid(&items, &s.landmarks["private"]), "CLASS:"),
        ["CLASS:PRIVATE"]
    );
    assert!(
        lines(by_uid(&items, &s.landmarks["all_day"]), "DTSTART")[0]
            .starts_with("DTSTART;VALUE=DATE:")
    );
    let berlin = by_uid(&items, &s.landmarks["dst_berlin"]);
    assert_eq!(lines(berlin, "TZID:"), ["TZID:Europe/Berlin"]);
    assert!(lines(by_uid(&items, &s.landmarks["utc"]), "DTSTART:")[0].ends_with('Z'));
    let inline = by_uid(&items, &s.landmarks["attach_inline"]);
    assert!(lines(inline, "ATTACH")[0].contains("ENCODING=BASE64"));
    assert!(lines(inline, "ATTACH")[0].contains("VALUE=BINARY"));

    // vCard 3.0 and 4.0 with a photo, non-ASCII names; groups whose members exist.
    let v3 = by_uid(&items, &s.landmarks["vcard3_photo"]);
    assert_eq!(lines(v3, "VERSION:"), ["VERSION:3.0"]);
    assert_eq!(lines(v3, "FN:"), ["FN:山田太郎"]);
    let v4 = by_uid(&items, &s.landmarks["vcard4_photo"]);
    assert_eq!(lines(v4, "VERSION:"), ["VERSION:4.0"]);
    assert_eq!(lines(v4, "FN:"), ["FN:Zoë Ångström"]);
    assert!(v4.uid.starts_with("urn:uuid:"));
    assert!(lines(v4, "EMAIL").len() >= 2 && lines(v4, "TEL").len() >= 2);
    assert_ne!(jpeg_photo(v3), jpeg_photo(v4));
    let g4 = by_uid(&items, &s.landmarks["group4"]);
    assert_eq!(lines(g4, "KIND:"), ["KIND:group"]);
    let g3 = by_uid(&items, &s.landmarks["group3"]);
    assert_eq!(
        lines(g3, "X-ADDRESSBOOKSERVER-KIND:"),
        ["X-ADDRESSBOOKSERVER-KIND:group"]
    );
    for (g, prefix) in [(g4, "MEMBER:"), (g3, "X-ADDRESSBOOKSERVER-MEMBER:")] {
        let members = lines(g, prefix);
        assert!(members.len() >= 2, "{}", g.content);
        for m in members {
            let uid = value(m).strip_prefix("urn:uuid:").unwrap();
            by_uid(&items, uid); // each member is a contact in the book
        }
    }
}

#[test]
fn seeding_is_deterministic_and_a_second_run_writes_nothing() {
    let root = tmp();
    let a = Radicale::start(root.path(), "a", &[("alice", "alice-pw")]);
    let b = Radicale::start(root.path(), "b", &[("alice", "alice-pw")]);
    let first = a.seed("alice", "alice-pw", Scale::Small);
    let again = a.seed("alice", "alice-pw", Scale::Small);
    for (c1, c2) in first.collections.iter().zip(&again.collections) {
        assert_eq!((c2.created, c2.existing), (0, c1.items), "{}", c2.name);
    }
    assert_eq!(first.landmarks, again.landmarks);
    b.seed("alice", "alice-pw", Scale::Small);
    let key = |v: Vec<DavItem>| -> Vec<(String, String, Vec<String>, String)> {
        v.into_iter()
            .map(|i| (i.collection, i.uid, i.recurrence_ids, i.content))
            .collect()
    };
    let on_a = key(a.dump("alice", "alice-pw", true));
    assert_eq!(on_a.len(), 26);
    assert_eq!(on_a, key(b.dump("alice", "alice-pw", true)));
    // Another seed: other UIDs in the same collections.
    let other = a.seed_with("alice", "alice-pw", Scale::Small, 2);
    assert!(
        other
            .landmarks
            .values()
            .all(|u| !first.landmarks.values().any(|f| f == u))
    );
    assert_eq!(a.dump("alice", "alice-pw", false).len(), 52);
}

#[test]
fn the_normalised_dump_is_stable_ignores_what_it_documents_and_sees_a_changed_summary() {
    let root = tmp();
    let dav = Radicale::start(root.path(), "dav", &[("alice", "alice-pw")]);
    let s = dav.seed("alice", "alice-pw", Scale::Small);
    let one = dav.dump("alice", "alice-pw", true);
    let two = dav.dump("alice", "alice-pw", true);
    assert_eq!(one, two, "two dumps of an unchanged server are equal");

    let meeting = by_uid(&one, &s.landmarks["meeting_organised_by_user"]).clone();
    let path = meeting.href.clone();
    let (st, raw) = dav.get("alice", "alice-pw", &path);
    assert_eq!(st, 200);

    // What --normalise ignores: a new DTSTAMP, LAST-MODIFIED, and SCHEDULE-AGENT=CLIENT on
    // every attendee and the organizer (what cutover writes). The raw content changes.
    let rewritten: String = raw
        .replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20261206T120000Z")
        .replace("ATTENDEE;", "ATTENDEE;SCHEDULE-AGENT=CLIENT;")
        .replace("ORGANIZER;", "ORGANIZER;SCHEDULE-AGENT=CLIENT;")
        .replace("END:VEVENT", "LAST-MODIFIED:20261206T120000Z\r\nEND:VEVENT");
    assert_ne!(rewritten, raw);
    assert!(matches!(
        dav.put("alice", "alice-pw", &path, rewritten.as_bytes()),
        201 | 204
    ));
    let (_, stored) = dav.get("alice", "alice-pw", &path);
    assert!(
        stored.contains("SCHEDULE-AGENT=CLIENT"),
        "Radicale keeps the parameter"
    );
    let three = dav.dump("alice", "alice-pw", true);
    let after = by_uid(&three, &meeting.uid);
    assert_ne!(after.etag, meeting.etag, "the resource did change");
    assert_eq!(
        after.content, meeting.content,
        "but not in what is compared"
    );

    // A changed SUMMARY is a change, in that item only.
    let summary_line = raw
        .lines()
        .find(|l| l.starts_with("SUMMARY:"))
        .unwrap()
        .to_string();
    let changed = stored.replace(&summary_line, "SUMMARY:Kick-off verschoben");
    assert!(matches!(
        dav.put("alice", "alice-pw", &path, changed.as_bytes()),
        201 | 204
    ));
    let four = dav.dump("alice", "alice-pw", true);
    assert_eq!(four.len(), one.len());
    let diff: Vec<&str> = one
        .iter()
        .zip(&four)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.uid.as_str())
        .collect();
    assert_eq!(diff, [meeting.uid.as_str()]);
    let now = by_uid(&four, &meeting.uid);
    assert!(
        now.content
            .lines()
            .any(|l| l == "SUMMARY:Kick-off verschoben")
    );

    // A create on a taken name is refused (what exactly-once creates rely on), and a delete
    // removes exactly one resource.
    let refused = dav.request(
        "alice",
        "alice-pw",
        "PUT",
        &path,
        &[
            ("If-None-Match", "*"),
            ("Content-Type", "text/calendar; charset=utf-8"),
        ],
        raw.as_bytes(),
    );
    assert_eq!(refused.status, 412);
    assert_eq!(dav.delete("alice", "alice-pw", &path), 200);
    assert_eq!(dav.get("alice", "alice-pw", &path).0, 404);
    assert_eq!(dav.dump("alice", "alice-pw", true).len(), one.len() - 1);
}

#[test]
fn two_users_cannot_see_each_others_data() {
    let root = tmp();
    let dav = Radicale::start(
        root.path(),
        "dav",
        &[("alice", "alice-pw"), ("bob", "bob-pw")],
    );
    let sa = dav.seed_with("alice", "alice-pw", Scale::Small, 1);
    let sb = dav.seed_with("bob", "bob-pw", Scale::Small, 1);
    let a = dav.dump("alice", "alice-pw", false);
    let b = dav.dump("bob", "bob-pw", false);
    assert_eq!((a.len(), b.len()), (sa.items, sb.items));
    assert!(a.iter().all(|i| i.href.starts_with("/alice/")));
    assert!(b.iter().all(|i| i.href.starts_with("/bob/")));
    let ua: BTreeSet<&str> = a.iter().map(|i| i.uid.as_str()).collect();
    assert!(
        b.iter().all(|i| !ua.contains(i.uid.as_str())),
        "UIDs depend on the user"
    );

    // Alice can neither read, list, write nor delete below /bob/.
    let bob_item = &b[0].href;
    assert_eq!(dav.get("alice", "alice-pw", bob_item).0, 403);
    let list = dav.request(
        "alice",
        "alice-pw",
        "PROPFIND",
        "/bob/calendar/",
        &[("Depth", "1")],
        b"",
    );
    assert_eq!(list.status, 403);
    assert_eq!(
        dav.put(
            "alice",
            "alice-pw",
            "/bob/calendar/x.ics",
            b"BEGIN:VCALENDAR\r\n"
        ),
        403
    );
    assert_eq!(dav.delete("alice", "alice-pw", bob_item), 403);
    assert_eq!(dav.get("bob", "wrong", bob_item).0, 401);
    assert_eq!(dav.dump("bob", "bob-pw", false), b, "bob's data unchanged");
}

#[test]
fn the_instance_script_reuses_a_running_server_names_a_busy_port_and_stops_cleanly() {
    let root = tmp();
    let mut dav = Radicale::start(root.path(), "dav", &[("alice", "alice-pw")]);
    let script = support_dir().join("dav-instance.sh");
    let run = |args: &[&str], dir: &std::path::Path| {
        Command::new(&script).args(args).arg(dir).output().unwrap()
    };
    // start again on the same directory: the running instance, not a second one.
    let again = Command::new(&script)
        .args(["start", "dav", "auto"])
        .arg(&dav.dir)
        .output()
        .unwrap();
    assert!(again.status.success());
    let line = String::from_utf8_lossy(&again.stdout);
    assert!(
        line.contains(&format!("pid={} port={}", dav.pid, dav.port)),
        "{line}"
    );
    // A given port in use is refused with its number.
    let busy = Command::new(&script)
        .args(["start", "other", &dav.port.to_string()])
        .arg(root.path().join("other"))
        .output()
        .unwrap();
    assert!(!busy.status.success());
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(err.contains(&format!("port {} ", dav.port)), "{err}");
    // status, stop, a stale pid file, start again: the data is kept (filesystem storage).
    let s = dav.seed("alice", "alice-pw", Scale::Small);
    assert!(run(&["status"], &dav.dir).status.success());
    let stop = run(&["stop"], &dav.dir);
    assert!(String::from_utf8_lossy(&stop.stdout).contains(&format!("stopped pid={}", dav.pid)));
    assert!(!run(&["status"], &dav.dir).status.success());
    assert!(std::net::TcpStream::connect(("127.0.0.1", dav.port)).is_err());
    std::fs::write(dav.dir.join("radicale.pid"), "1\n").unwrap(); // pid 1 is not ours
    let restarted = Command::new(&script)
        .args(["start", "dav", "auto"])
        .arg(&dav.dir)
        .output()
        .unwrap();
    assert!(restarted.status.success(), "{}", support::text(&restarted));
    let line = String::from_utf8_lossy(&restarted.stdout).to_string();
    let field = |k: &str| -> u32 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}="))?.parse().ok())
            .unwrap()
    };
    assert_ne!(field("pid"), 1);
    dav.port = field("port") as u16;
    dav.pid = field("pid");
    assert_eq!(dav.dump("alice", "alice-pw", false).len(), s.items);
}
