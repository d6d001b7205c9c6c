//! Calendars and contacts: IMAP + CalDAV/CardDAV on both sides, real Dovecot and real
//! Radicale servers on 127.0.0.1. Every event (series with moved and cancelled occurrences,
//! all-day, time zones, 20-attendee meetings, attachments) and every contact (vCard 3.0 and
//! 4.0, photos, groups) lands exactly once with the same normalised content; a re-run writes
//! nothing; kill -9 at several moments then a run leaves nothing missing and nothing twice;
//! `verify` passes; rollback removes exactly what cutover wrote and keeps the destination's
//! own items; the destination's own version of an item is never overwritten.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use support::dav::{DavItem, Radicale, Scale};
use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-dav")
        .tempdir()
        .unwrap()
}

/// Both sides: a Dovecot and a Radicale, user alice (other passwords on each side).
pub(crate) struct Sides {
    pub(crate) src: Dovecot,
    pub(crate) dst: Dovecot,
    pub(crate) src_dav: Radicale,
    pub(crate) dst_dav: Radicale,
    // Last: fields drop in order, and the servers' directories must outlive their
    // stop (a Dovecot whose directory is gone is never stopped).
    pub(crate) root: tempfile::TempDir,
}

pub(crate) const SRC: (&str, &str) = ("alice", "src-pw");
pub(crate) const DST: (&str, &str) = ("alice", "dst-pw");

pub(crate) fn sides() -> Sides {
    let root = tmp();
    let src = Dovecot::start(root.path(), "src", &[SRC], &[]);
    let dst = Dovecot::start(root.path(), "dst", &[DST], &[]);
    let src_dav = Radicale::start(root.path(), "src-dav", &[SRC]);
    let dst_dav = Radicale::start(root.path(), "dst-dav", &[DST]);
    Sides {
        root,
        src,
        dst,
        src_dav,
        dst_dav,
    }
}

fn dav_table(r: &Radicale) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("url".into(), format!("{}/", r.url()).into());
    t.insert("security".into(), "none".into());
    t
}

pub(crate) fn project(s: &Sides) -> ProjectDir {
    ProjectBuilder::imap(&s.src, &s.dst)
        .set("project.items", vec!["mail", "calendar", "contacts"])
        .set("source.dav", dav_table(&s.src_dav))
        .set("destination.dav", dav_table(&s.dst_dav))
        .mailbox(project::mailbox(
            None,
            project::login(SRC.0, SRC.1),
            project::login(DST.0, DST.1),
        ))
        .create()
}

/// (collection, UID) → normalised content.
pub(crate) fn by_identity(items: &[DavItem]) -> BTreeMap<(String, String), String> {
    let mut m = BTreeMap::new();
    for i in items {
        let prev = m.insert((i.collection.clone(), i.uid.clone()), i.content.clone());
        assert!(
            prev.is_none(),
            "{} {} is held twice on one server",
            i.collection,
            i.uid
        );
    }
    m
}

/// Every source item is on the destination once, with the same normalised content, and
/// the destination holds nothing else but `own`.
fn assert_exactly_once(
    source: &BTreeMap<(String, String), String>,
    own: &BTreeMap<(String, String), String>,
    dest: &[DavItem],
) {
    let got = by_identity(dest);
    for (id, content) in source {
        assert_eq!(
            got.get(id),
            Some(content),
            "{id:?}: on the destination with the same normalised content"
        );
    }
    let extra: BTreeSet<_> = got
        .keys()
        .filter(|k| !source.contains_key(*k) && !own.contains_key(*k))
        .collect();
    assert!(extra.is_empty(), "items from nowhere: {extra:?}");
    assert_eq!(got.len(), source.len() + own.len());
}

#[test]
fn events_and_contacts_move_exactly_once_verify_and_roll_back_to_the_destinations_own() {
    let s = sides();
    s.src.seed(SRC.0, 12, 3, &[]);
    let seeded = s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    assert!(seeded.collection("calendar").items > 0 && seeded.collection("contacts").items > 0);
    // The destination already has events and contacts of its own (another seed: other UIDs).
    s.dst_dav.seed_with(DST.0, DST.1, Scale::Small, 77);
    let own = by_identity(&s.dst_dav.dump(DST.0, DST.1, true));
    let before_raw = s.src_dav.dump(SRC.0, SRC.1, false);
    let source = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    assert!(own.keys().all(|k| !source.contains_key(k)));

    let p = project(&s);
    let check = p.cutover(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let said = stdout(&check);
    assert!(
        said.contains("items    mail, calendar, contacts")
            && said
                .matches("calendars and contacts: CalDAV/CardDAV at http://127.0.0.1:")
                .count()
                == 2,
        "check says what each side carries: {said}"
    );
    let plan = p.cutover(&["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let plan_out = stdout(&plan);
    assert!(
        plan_out.contains("calendar:work") || plan_out.contains("Calendars/Work"),
        "the plan lists the calendars: {plan_out}"
    );

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_exactly_once(&source, &own, &s.dst_dav.dump(DST.0, DST.1, true));
    // Mail moved too, in the same run.
    assert_eq!(
        s.src.dump(SRC.0, SRC.1).total(),
        s.dst.dump(DST.0, DST.1).total()
    );
    // The source was only read.
    assert_eq!(before_raw, s.src_dav.dump(SRC.0, SRC.1, false));

    let again = p.cutover(&["run"]);
    assert_eq!(
        run_counts(&again),
        (0, 0),
        "a re-run writes nothing: {}",
        text(&again)
    );
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(stdout(&v).contains("calendar:work"), "{}", text(&v));

    let rb = p.cutover(&["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert_eq!(
        by_identity(&s.dst_dav.dump(DST.0, DST.1, true)),
        own,
        "rollback removes exactly what cutover wrote"
    );
}

#[test]
fn a_calendar_the_destination_lacks_is_created_and_removed_again_by_rollback() {
    let s = sides();
    s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let source = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    let p = project(&s);
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let dest = s.dst_dav.dump(DST.0, DST.1, true);
    assert_exactly_once(&source, &BTreeMap::new(), &dest);
    // Made with the source's display names.
    let names: BTreeSet<(String, String)> = dest
        .iter()
        .map(|i| (i.collection.clone(), i.displayname.clone()))
        .collect();
    assert!(
        names.contains(&("work".into(), "Work".into()))
            && names.contains(&("contacts".into(), "Contacts".into())),
        "{names:?}"
    );
    let rb = p.cutover(&["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(s.dst_dav.dump(DST.0, DST.1, true).is_empty());
    // The calendars and the address book cutover created are gone too.
    let (status, body) = s.dst_dav.get(DST.0, DST.1, "/alice/work/");
    assert!(status == 404 || body.is_empty(), "{status} {body}");
}

#[test]
fn the_destinations_own_version_of_an_item_is_never_overwritten() {
    let s = sides();
    s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let p = project(&s);
    // A first run creates the collections; then the destination's copy of one event is
    // changed by its user, and the journal forgets it (a new project on the same servers).
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let item = s
        .dst_dav
        .dump(DST.0, DST.1, false)
        .into_iter()
        .find(|i| i.collection == "work")
        .expect("an event in work");
    let changed = item
        .content
        .replace("SUMMARY:", "SUMMARY:Changed by the user - ");
    let put = s.dst_dav.put(DST.0, DST.1, &item.href, changed.as_bytes());
    assert!(matches!(put, 201 | 204), "PUT answered {put}");
    std::fs::remove_file(p.dir.path().join("state.sqlite")).unwrap();
    let _ = std::fs::remove_file(p.dir.path().join("state.sqlite-wal"));
    let _ = std::fs::remove_file(p.dir.path().join("state.sqlite-shm"));

    let rerun = p.cutover(&["run"]);
    let (_, body) = s.dst_dav.get(DST.0, DST.1, &item.href);
    assert!(
        body.contains("Changed by the user"),
        "not overwritten: {body}"
    );
    let issues = all_issues(&p.journal());
    assert!(
        issues
            .iter()
            .any(|i| i.message.contains(&item.uid) && i.message.contains("not overwritten")),
        "an issue names the UID: {issues:#?}\n{}",
        text(&rerun)
    );
    // Everything else was recognised as already there: nothing twice.
    let dest = s.dst_dav.dump(DST.0, DST.1, true);
    by_identity(&dest);
    assert_eq!(dest.len(), s.src_dav.dump(SRC.0, SRC.1, true).len());
}

#[test]
fn kill_9_at_several_moments_then_a_run_leaves_every_item_exactly_once() {
    let s = sides();
    s.src_dav.seed(SRC.0, SRC.1, Scale::Medium);
    let source = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    let p = project(&s);
    let mut killed = 0;
    for at in [600u64, 1400, 2600] {
        let mut run = Command::new(bin());
        run.arg("run").arg(&p.path);
        if run_until_sigkill(&mut run, |t| t >= Duration::from_millis(at)) {
            killed += 1;
        }
    }
    assert!(killed >= 1, "at least one kill must land while copying");
    let done = p.cutover(&["run"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_exactly_once(
        &source,
        &BTreeMap::new(),
        &s.dst_dav.dump(DST.0, DST.1, true),
    );
    let again = p.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn calendars_asked_for_without_a_dav_server_are_refused_naming_the_fix() {
    let s = sides();
    let p = ProjectBuilder::imap(&s.src, &s.dst)
        .set("project.items", vec!["mail", "calendar"])
        .set("destination.dav", dav_table(&s.dst_dav))
        .mailbox(project::mailbox(
            None,
            project::login(SRC.0, SRC.1),
            project::login(DST.0, DST.1),
        ))
        .create();
    let out = p.cutover(&["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("project.toml:") && err.contains("[source.dav]"),
        "names the file, line and the missing table: {err}"
    );
    // A DAV server in clear text off loopback is refused where it is written.
    let mut remote = toml::Table::new();
    remote.insert("url".into(), "http://dav.example.com/".into());
    remote.insert("security".into(), "none".into());
    p.edit(|b| b.set("source.dav", remote));
    let out = p.cutover(&["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("source.dav.security"),
        "{}",
        text(&out)
    );
}

#[test]
fn calendar_since_leaves_out_events_that_ended_before_it_and_keeps_series_still_running() {
    let s = sides();
    let seeded = s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let source = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    let p = project(&s);
    p.edit(|b| b.set("project.calendar_since", "2026-06-01"));
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let got = by_identity(&s.dst_dav.dump(DST.0, DST.1, true));
    let uid = |k: &str| seeded.landmarks[k].clone();
    let has = |coll: &str, k: &str| got.contains_key(&(coll.to_string(), uid(k)));
    // Ended before: a weekly series whose last occurrence is in May, a conference in May.
    assert!(
        !has("work", "weekly_series") && !has("work", "tokyo"),
        "{got:#?}"
    );
    // Still running or later: a monthly series over the year, October and July all-day days.
    assert!(has("calendar", "monthly_series") && has("calendar", "all_day"));
    assert!(has("calendar", "multi_day_all_day"));
    // What is copied is whole and unchanged; contacts are not concerned.
    for (id, content) in &got {
        assert_eq!(source.get(id), Some(content), "{id:?}");
    }
    let contacts =
        |m: &BTreeMap<(String, String), String>| m.keys().filter(|(c, _)| c == "contacts").count();
    assert_eq!(contacts(&got), contacts(&source));
    let v = p.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn a_source_item_changed_since_replaces_the_version_cutover_wrote_never_the_users_own_edit() {
    let s = sides();
    s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let p = project(&s);
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let raw = s.src_dav.dump(SRC.0, SRC.1, false);
    let pick = |coll: &str, n: usize| raw.iter().filter(|i| i.collection == coll).nth(n).unwrap();
    // Changed on the source after the first run: an event and a contact.
    let (ev, card) = (pick("work", 0).clone(), pick("contacts", 0).clone());
    let ev2 = ev.content.replace("SUMMARY:", "SUMMARY:Moved - ");
    let card2 = card.content.replace("FN:", "FN:Dr. ");
    assert_ne!(ev2, ev.content);
    assert_ne!(card2, card.content);
    for (i, body) in [(&ev, &ev2), (&card, &card2)] {
        let st = s.src_dav.put(SRC.0, SRC.1, &i.href, body.as_bytes());
        assert!(matches!(st, 201 | 204), "{st}");
    }
    // Another event cutover wrote is edited by its user on the destination, then changed on
    // the source too: the user's edit stays.
    let other = pick("work", 1).clone();
    let dst_other = s
        .dst_dav
        .dump(DST.0, DST.1, false)
        .into_iter()
        .find(|i| i.uid == other.uid)
        .unwrap();
    let users = dst_other.content.replace("SUMMARY:", "SUMMARY:My note - ");
    s.dst_dav
        .put(DST.0, DST.1, &dst_other.href, users.as_bytes());
    s.src_dav.put(
        SRC.0,
        SRC.1,
        &other.href,
        other
            .content
            .replace("SUMMARY:", "SUMMARY:Source edit - ")
            .as_bytes(),
    );

    let again = p.cutover(&["run"]);
    let got = by_identity(&s.dst_dav.dump(DST.0, DST.1, true));
    let src_now = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    for i in [&ev, &card] {
        let id = (i.collection.clone(), i.uid.clone());
        assert_eq!(
            got.get(&id),
            src_now.get(&id),
            "{id:?} carries the source's change"
        );
    }
    assert_eq!(
        got.len(),
        src_now.len(),
        "replaced, not added: {}",
        text(&again)
    );
    let (_, kept) = s.dst_dav.get(DST.0, DST.1, &dst_other.href);
    assert!(kept.contains("My note - "), "the user's edit stays: {kept}");
    let issues = all_issues(&p.journal());
    assert!(
        issues.iter().any(|i| i.message.contains(&other.uid)
            && i.message
                .contains("changed on the destination since cutover wrote it")),
        "{issues:#?}"
    );
    // The numbers stay true: the older versions are superseded, not counted twice.
    let copied = messages_in(&p.journal(), "copied");
    assert_eq!(
        copied,
        src_now.len(),
        "one row per item the destination holds from cutover (the user's edited one included)"
    );
    // Two older versions replaced, and the newer version of the user's edited one not
    // written (the destination's stands).
    assert_eq!(messages_in(&p.journal(), "superseded"), 3);
    // Nothing else was written again.
    let third = p.cutover(&["run"]);
    assert_eq!(run_counts(&third).0, 0, "{}", text(&third));
}

#[test]
fn calendars_and_contacts_go_to_ics_and_vcf_files_beside_a_maildir_tree_and_back() {
    let s = sides();
    s.src.seed(SRC.0, 10, 5, &[]);
    s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let source = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    let tree = s.root.path().join("trees");
    let items = vec!["mail", "calendar", "contacts"];
    let out = ProjectBuilder::new("to-maildir")
        .source(project::imap(s.src.port))
        .set("source.dav", dav_table(&s.src_dav))
        .destination(project::maildir(&tree))
        .set("project.items", items.clone())
        .mailbox(project::mailbox(
            None,
            project::login(SRC.0, SRC.1),
            project::user("alice"),
        ))
        .create();
    let run = out.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // One file per item, outside the mailbox's own tree, readable by any program.
    let work = tree.join(".items/alice/calendar/work");
    let files: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ics"))
        .collect();
    assert_eq!(
        files.len(),
        source.keys().filter(|(c, _)| c == "work").count()
    );
    assert_eq!(
        std::fs::read_to_string(work.join("displayname"))
            .unwrap()
            .trim(),
        "Work"
    );
    assert!(tree.join("alice/cur").is_dir() && !tree.join("alice/calendar").exists());
    let again = out.cutover(&["run"]);
    assert_eq!(run_counts(&again), (0, 0), "{}", text(&again));
    let v = out.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // And back, from the files into the destination's servers.
    let back = ProjectBuilder::new("from-maildir")
        .source(project::maildir(&tree))
        .destination(project::imap(s.dst.port))
        .set("destination.dav", dav_table(&s.dst_dav))
        .set("project.items", items)
        .mailbox(project::mailbox(
            None,
            project::user("alice"),
            project::login(DST.0, DST.1),
        ))
        .create();
    let run = back.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_exactly_once(
        &source,
        &BTreeMap::new(),
        &s.dst_dav.dump(DST.0, DST.1, true),
    );
    let v = back.cutover(&["verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // Rolling back the first run removes the files it wrote and the collections it made.
    let rb = out.cutover(&["rollback", "--batch", "default", "--yes"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert!(
        !work.exists(),
        "the calendar cutover made is removed once empty"
    );
}

#[test]
fn a_backup_holds_calendars_and_contacts_and_a_restore_brings_back_lost_events_once() {
    let s = sides();
    s.src.seed(SRC.0, 8, 9, &[]);
    s.src_dav.seed(SRC.0, SRC.1, Scale::Small);
    let before = by_identity(&s.src_dav.dump(SRC.0, SRC.1, true));
    let p = project(&s);
    let b = p.cutover(&["backup"]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let items = p.dir.path().join("backups/source/.items/alice");
    let files = |kind: &str| -> usize {
        std::fs::read_dir(items.join(kind))
            .map(|d| {
                d.filter_map(|c| c.ok())
                    .map(|c| std::fs::read_dir(c.path()).map_or(0, |f| f.count() - 1))
                    .sum()
            })
            .unwrap_or(0)
    };
    assert_eq!(
        files("calendar") + files("contacts"),
        before.len(),
        "one file per event and contact in {}",
        items.display()
    );
    let v = p.cutover(&["backup", "--verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    // The incident: two events deleted on the source.
    let raw = s.src_dav.dump(SRC.0, SRC.1, false);
    let lost: Vec<&DavItem> = raw
        .iter()
        .filter(|i| i.collection == "work")
        .take(2)
        .collect();
    for i in &lost {
        assert!(matches!(s.src_dav.delete(SRC.0, SRC.1, &i.href), 200 | 204));
    }
    let r = p.cutover(&["restore", "--mailbox", "alice", "--into", "source", "--yes"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert_eq!(
        by_identity(&s.src_dav.dump(SRC.0, SRC.1, true)),
        before,
        "exactly what was lost is back, nothing twice"
    );
    let again = p.cutover(&["restore", "--mailbox", "alice", "--into", "source", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(by_identity(&s.src_dav.dump(SRC.0, SRC.1, true)), before);
}
