//! Calendars and contacts in delta passes (`cutover sync`), real Dovecot and Radicale on
//! both sides: after a first full copy, events and contacts changed on the source are
//! written again in place on the destination (never a second copy), deleted ones are
//! reported (or removed with `[sync] deletions = "propagate"`, only what cutover wrote and
//! the destination still holds as written), a destination-side edit is kept and reported,
//! and a pass killed with SIGKILL then run again leaves every item exactly once.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::dav::{DST, SRC, Sides, by_identity, project, sides};
use crate::support;
use support::dav::{DavItem, Scale};
use support::*;

type Items = BTreeMap<(String, String), String>;

fn key(i: &DavItem) -> (String, String) {
    (i.collection.clone(), i.uid.clone())
}

/// The pass line of `cutover sync`.
fn pass_line(o: &std::process::Output) -> String {
    stdout(o)
        .lines()
        .find(|l| l.starts_with("pass "))
        .unwrap_or_else(|| panic!("no pass line in\n{}", text(o)))
        .to_string()
}

const NEW_EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cutover tests//EN\r\n\
BEGIN:VEVENT\r\nUID:delta-new-event@example.org\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nSUMMARY:Added after the copy\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

const NEW_CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:delta-new-card@example.org\r\n\
FN:Added Person\r\nN:Person;Added;;;\r\nEMAIL:added@example.org\r\nEND:VCARD\r\n";

/// What users did on the source after the first copy: 3 events and 2 contacts changed, 2
/// events and 1 contact deleted, 1 event and 1 contact added. The deleted items (as they were).
fn users_work(s: &Sides) -> Vec<DavItem> {
    let raw = s.src_dav.dump(SRC.0, SRC.1, false);
    let events: Vec<&DavItem> = raw
        .iter()
        .filter(|i| i.kind == "calendar" && i.content.contains("SUMMARY:"))
        .collect();
    let cards: Vec<&DavItem> = raw
        .iter()
        .filter(|i| i.kind == "addressbook" && i.content.contains("\nFN:"))
        .collect();
    assert!(events.len() >= 5 && cards.len() >= 3, "seeded enough");
    for e in &events[..3] {
        let body = e.content.replace("SUMMARY:", "SUMMARY:Changed - ");
        let st = s.src_dav.put(SRC.0, SRC.1, &e.href, body.as_bytes());
        assert!(matches!(st, 201 | 204), "{st}");
    }
    for c in &cards[..2] {
        let body = c.content.replace("\nFN:", "\nFN:Dr. ");
        let st = s.src_dav.put(SRC.0, SRC.1, &c.href, body.as_bytes());
        assert!(matches!(st, 201 | 204), "{st}");
    }
    let deleted: Vec<DavItem> = [events[3], events[4], cards[2]]
        .into_iter()
        .cloned()
        .collect();
    for d in &deleted {
        let st = s.src_dav.delete(SRC.0, SRC.1, &d.href);
        assert!(matches!(st, 200 | 204), "{st}");
    }
    let dir = |href: &str| href[..=href.rfind('/').unwrap()].to_string();
    let at = format!("{}delta-new-event.ics", dir(&events[0].href));
    assert_eq!(s.src_dav.put(SRC.0, SRC.1, &at, NEW_EVENT.as_bytes()), 201);
    let at = format!("{}delta-new-card.vcf", dir(&cards[0].href));
    assert_eq!(s.src_dav.put(SRC.0, SRC.1, &at, NEW_CARD.as_bytes()), 201);
    deleted
}

/// The destination holds exactly `want` (normalised content, each item once).
fn assert_holds(s: &Sides, want: &Items, why: &str) {
    let got = by_identity(&s.dst_dav.dump(DST.0, DST.1, true));
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{why}: missing {missing:?}, extra {extra:?}"
    );
    for (k, v) in want {
        assert_eq!(&got[k], v, "{why}: {k:?} has the source's newest content");
    }
}

fn first_copy() -> (Sides, ProjectDir) {
    let s = sides();
    s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let p = project(&s);
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    (s, p)
}

#[test]
fn a_sync_pass_carries_changed_items_in_place_and_reports_then_propagates_deletions() {
    let (s, p) = first_copy();
    let deleted = users_work(&s);
    let normalised = s.dst_dav.dump(DST.0, DST.1, true);
    let before: Items = by_identity(&normalised);
    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let line = pass_line(&pass);
    assert!(
        line.contains(
            "2 new, 5 changed, 0 flag change(s), 0 move(s), 3 deleted on the source (0 removed"
        ),
        "{}",
        text(&pass)
    );
    // The source's items with their new content, and the deleted ones still there.
    let src_now = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    let mut want = src_now.clone();
    for d in &deleted {
        want.insert(key(d), before[&key(d)].clone());
    }
    assert_holds(&s, &want, "after a pass under deletions = \"report\"");
    let issues = all_issues(&p.journal());
    // Reported per mailbox and collection: as many as were deleted, none elsewhere.
    let reported: u64 = issues
        .iter()
        .filter(|i| {
            i.severity == "warning"
                && i.mailbox.as_deref() == Some("alice->alice")
                && i.folder.is_some()
                && i.message.contains(" item(s) copied from ")
                && i.message.contains("were deleted on the source")
        })
        .map(|i| i.message.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(reported, 3, "{issues:#?}");
    // The older versions are superseded: nothing counted twice.
    assert_eq!(messages_in(&p.journal(), "superseded"), 5);
    assert_eq!(messages_in(&p.journal(), "src_deleted"), 3);
    // A second pass finds nothing.
    let again = p.cutover(&["sync"]);
    assert!(
        pass_line(&again)
            .contains("0 new, 0 flag change(s), 0 move(s), 0 deleted on the source (0 removed"),
        "{}",
        text(&again)
    );
    assert_holds(&s, &want, "after a second pass");
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // Propagate: the reported deletions are removed; the destination is the source.
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert_eq!(prop.status.code(), Some(0), "{}", text(&prop));
    assert!(
        pass_line(&prop).contains("0 deleted on the source (3 removed from the destination)"),
        "{}",
        text(&prop)
    );
    assert_holds(&s, &src_now, "after a pass under deletions = \"propagate\"");
    assert_eq!(messages_in(&p.journal(), "deleted"), 3);
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // Rollback removes what cutover wrote (the newest versions), nothing of the removed twice.
    let rb = p.cutover(&["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(s.dst_dav.dump(DST.0, DST.1, true).is_empty());
}

#[test]
fn a_destination_edit_since_the_last_pass_is_kept_and_reported() {
    let (s, p) = first_copy();
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let raw = s.src_dav.dump(SRC.0, SRC.1, false);
    let events: Vec<&DavItem> = raw
        .iter()
        .filter(|i| i.kind == "calendar" && i.content.contains("SUMMARY:"))
        .collect();
    let dst_raw = s.dst_dav.dump(DST.0, DST.1, false);
    let on_dst = |uid: &str| dst_raw.iter().find(|i| i.uid == uid).unwrap().clone();
    // A: edited by its user on the destination, then changed on the source too.
    // B: edited by its user on the destination, then deleted on the source.
    // C: changed on the source only.
    let (a, b, c) = (events[0], events[1], events[2]);
    for x in [a, b] {
        let d = on_dst(&x.uid);
        let mine = d.content.replace("SUMMARY:", "SUMMARY:My note - ");
        assert!(matches!(
            s.dst_dav.put(DST.0, DST.1, &d.href, mine.as_bytes()),
            201 | 204
        ));
    }
    for x in [a, c] {
        let body = x.content.replace("SUMMARY:", "SUMMARY:Source edit - ");
        assert!(matches!(
            s.src_dav.put(SRC.0, SRC.1, &x.href, body.as_bytes()),
            201 | 204
        ));
    }
    assert!(matches!(s.src_dav.delete(SRC.0, SRC.1, &b.href), 200 | 204));

    let pass = p.cutover(&["sync"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    assert!(
        pass_line(&pass).contains("0 new, 1 changed,")
            && pass_line(&pass).contains("1 deleted on the source (0 removed"),
        "{}",
        text(&pass)
    );
    for x in [a, b] {
        let (st, kept) = s.dst_dav.get(DST.0, DST.1, &on_dst(&x.uid).href);
        assert_eq!(st, 200);
        assert!(
            kept.contains("My note - ") && !kept.contains("Source edit - "),
            "the user's edit stays: {kept}"
        );
    }
    let (_, got_c) = s.dst_dav.get(DST.0, DST.1, &on_dst(&c.uid).href);
    assert!(got_c.contains("Source edit - "), "{got_c}");
    let issues = all_issues(&p.journal());
    assert!(
        issues.iter().any(|i| i.severity == "warning"
            && i.mailbox.as_deref() == Some("alice->alice")
            && i.message.contains(&a.uid)
            && i.message.contains(&format!("in calendar:{}", a.collection))
            && i.message.contains("the destination's version is kept")),
        "{issues:#?}"
    );
    assert!(
        issues.iter().any(|i| i.severity == "warning"
            && i.message
                .starts_with("1 item(s) deleted on the source was changed on the destination")),
        "{issues:#?}"
    );
    // Nothing written twice; the same on the next pass (the conflict is said once).
    let n = s.dst_dav.dump(DST.0, DST.1, true).len();
    assert_eq!(n, s.src_dav.dump(SRC.0, SRC.1, true).len() + 1);
    let again = p.cutover(&["sync"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        pass_line(&again).contains("0 new, 0 flag change(s)"),
        "{}",
        text(&again)
    );
    assert_eq!(s.dst_dav.dump(DST.0, DST.1, true).len(), n);
}

#[test]
fn a_sync_pass_killed_midway_then_run_again_leaves_every_item_once_and_newest() {
    let (s, p) = first_copy();
    p.edit(|b| b.set("sync.deletions", "propagate"));
    // Every event and contact changed but the three deleted, and two added.
    let raw = s.src_dav.dump(SRC.0, SRC.1, false);
    let deleted = users_work(&s);
    for i in &raw {
        if deleted.iter().any(|d| d.href == i.href) {
            continue;
        }
        let body = i
            .content
            .replace("SUMMARY:", "SUMMARY:Again - ")
            .replace("\nFN:", "\nFN:Again ");
        assert!(matches!(
            s.src_dav.put(SRC.0, SRC.1, &i.href, body.as_bytes()),
            201 | 204
        ));
    }
    let mut killed = 0;
    for step in 0..40u64 {
        let mut cmd = Command::new(bin());
        cmd.arg("sync").arg(&p.path);
        let delay = Duration::from_millis(150 + 60 * step);
        if !run_until_sigkill(&mut cmd, |t| t >= delay) {
            break;
        }
        killed += 1;
    }
    assert!(killed >= 1, "at least one kill must land during a pass");
    let done = p.cutover(&["sync"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let src_now = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    assert_holds(&s, &src_now, "after kills and a last pass");
    let again = p.cutover(&["sync"]);
    assert!(
        pass_line(&again)
            .contains("0 new, 0 flag change(s), 0 move(s), 0 deleted on the source (0 removed"),
        "{}",
        text(&again)
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn a_calendar_deleted_whole_on_the_source_is_reported_then_emptied_by_propagate() {
    let (s, p) = first_copy();
    let before = s.src_dav.dump(SRC.0, SRC.1, false);
    let work: Vec<&DavItem> = before.iter().filter(|i| i.collection == "work").collect();
    assert!(!work.is_empty());
    let coll = &work[0].href[..=work[0].href.rfind('/').unwrap()];
    assert!(matches!(s.src_dav.delete(SRC.0, SRC.1, coll), 200 | 204));
    let pass = p.cutover(&["sync"]);
    assert!(
        pass_line(&pass).contains(&format!(
            "0 new, 0 flag change(s), 0 move(s), {} deleted on the source (0 removed",
            work.len()
        )),
        "{}",
        text(&pass)
    );
    let on_dst = |s: &Sides| {
        s.dst_dav
            .dump(DST.0, DST.1, true)
            .into_iter()
            .filter(|i| i.collection == "work")
            .count()
    };
    assert_eq!(on_dst(&s), work.len(), "reported, left on the destination");
    p.edit(|b| b.set("sync.deletions", "propagate"));
    let prop = p.cutover(&["sync"]);
    assert!(
        pass_line(&prop).contains(&format!(
            "0 deleted on the source ({} removed from the destination)",
            work.len()
        )),
        "{}",
        text(&prop)
    );
    assert_eq!(on_dst(&s), 0, "removed");
    // The other calendars and the contacts are untouched.
    let src_now = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    assert_holds(&s, &src_now, "after propagate");
}
