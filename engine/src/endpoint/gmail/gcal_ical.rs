//! Calendar API events as one iCalendar item: a series (or single event) with its exceptions
//! (same iCalUID, each with its RECURRENCE-ID from `originalStartTime`), cancelled
//! occurrences as EXDATEs of the series; start and end in the event's own time zone, all-day
//! events as DATEs; reminders as VALARMs, colours as RFC 7986 COLOR, visibility as CLASS,
//! attendees with their responses, attachments as links (`ATTACH;FILENAME=..:url`), an event
//! type other than `default` as `X-GOOGLE-EVENT-TYPE`. Also the text cutover kept on an
//! event it imported (private extended properties), read back as it was written.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::endpoint::graph::zones;
use crate::item::content::{Line, fold};

/// Private extended property: the source UID of an event cutover imported.
pub(super) const UID_PROP: &str = "cutoverUid";
/// Characters of the kept text per extended property (Google takes 1,024 per value).
pub(super) const KEPT_CHUNK: usize = 1_000;
/// At most this many chunks (Google takes 32 kB of extended properties per event); a longer
/// text is not kept and the event reads back from its fields.
pub(super) const KEPT_MAX_CHUNKS: usize = 24;

/// The key of the kept text's chunk count, and of each chunk.
pub(super) fn kept_keys() -> (&'static str, fn(usize) -> String) {
    ("cutoverIcalParts", |i| format!("cutoverIcal{i}"))
}

/// The text cutover kept on an event, when all its chunks are there.
pub(super) fn kept_text(v: &Value) -> Option<String> {
    let p = &v["extendedProperties"]["private"];
    let (count, key) = kept_keys();
    let n: usize = p[count].as_str()?.parse().ok()?;
    let mut s = String::new();
    for i in 0..n {
        s.push_str(p[key(i).as_str()].as_str()?);
    }
    Some(s)
}

/// Google's event colours (colorId 1 to 11) as CSS3 colour names (RFC 7986 COLOR).
const COLORS: &[(&str, &str)] = &[
    ("1", "lavender"),
    ("2", "darkseagreen"),
    ("3", "mediumorchid"),
    ("4", "lightcoral"),
    ("5", "khaki"),
    ("6", "orange"),
    ("7", "darkturquoise"),
    ("8", "gray"),
    ("9", "royalblue"),
    ("10", "green"),
    ("11", "red"),
];

/// The colorId of a COLOR value (one of the names above), else None.
pub(super) fn color_id_of(name: &str) -> Option<&'static str> {
    let n = name.trim();
    COLORS
        .iter()
        .find(|(_, c)| c.eq_ignore_ascii_case(n))
        .map(|(i, _)| *i)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// A Google `{date}` / `{dateTime, timeZone}` as an iCalendar property; the zones used are
/// added to `zones_used`.
fn when(name: &str, v: &Value, zones_used: &mut BTreeSet<String>) -> Option<String> {
    if let Some(d) = v["date"].as_str() {
        return Some(format!("{name};VALUE=DATE:{}", d.replace('-', "")));
    }
    let dt = v["dateTime"].as_str()?;
    let zone = v["timeZone"]
        .as_str()
        .filter(|z| *z != "UTC" && *z != "Etc/UTC");
    let (utc, local) = match chrono::DateTime::parse_from_rfc3339(dt) {
        Ok(t) => (Some(t.naive_utc()), None),
        // A time without an offset is already local to its time zone.
        Err(_) => (
            None,
            chrono::NaiveDateTime::parse_from_str(dt.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok(),
        ),
    };
    let fmt = |t: chrono::NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
    match (zone, utc, local) {
        (Some(z), Some(u), _) if zones::from_utc(u, z).is_some() => {
            zones_used.insert(z.to_string());
            Some(format!(
                "{name};TZID={z}:{}",
                fmt(zones::from_utc(u, z).expect("checked"))
            ))
        }
        (Some(z), None, Some(l)) => {
            zones_used.insert(z.to_string());
            Some(format!("{name};TZID={z}:{}", fmt(l)))
        }
        (_, Some(u), _) => Some(format!("{name}:{}Z", fmt(u))),
        (None, None, Some(l)) => Some(format!("{name}:{}Z", fmt(l))),
        _ => None,
    }
}

fn partstat(r: &str) -> &'static str {
    match r {
        "accepted" => "ACCEPTED",
        "declined" => "DECLINED",
        "tentative" => "TENTATIVE",
        _ => "NEEDS-ACTION",
    }
}

fn person(name: &str, p: &Value, extra: &[(&str, String)]) -> Option<String> {
    let email = p["email"].as_str()?;
    let mut l = Line {
        name: name.into(),
        params: Vec::new(),
        value: format!("mailto:{email}"),
    };
    if let Some(cn) = p["displayName"].as_str() {
        l.params.push(("CN".into(), cn.replace('"', "'")));
    }
    l.params
        .extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Some(l.render())
}

/// `minutes` before the start as an RFC 5545 duration in its shortest form (`-PT15M`,
/// `-PT1H30M`, `-P1D`), as CalDAV servers write it back.
fn before(minutes: i64) -> String {
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut s = String::from("-P");
    if d > 0 {
        s.push_str(&format!("{d}D"));
    }
    if h > 0 || m > 0 || d == 0 {
        s.push('T');
        if h > 0 {
            s.push_str(&format!("{h}H"));
        }
        if m > 0 || h == 0 {
            s.push_str(&format!("{m}M"));
        }
    }
    s
}

/// One event's VEVENT lines (without BEGIN/END); `exdates` are added to a series.
fn vevent(v: &Value, exdates: &[String], zones_used: &mut BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(u) = v["iCalUID"].as_str() {
        out.push(format!("UID:{u}"));
    }
    if !v["originalStartTime"].is_null()
        && let Some(r) = when("RECURRENCE-ID", &v["originalStartTime"], zones_used)
    {
        out.push(r);
    }
    out.extend(when("DTSTART", &v["start"], zones_used));
    out.extend(when("DTEND", &v["end"], zones_used));
    if let Some(rec) = v["recurrence"].as_array() {
        out.extend(rec.iter().filter_map(|r| r.as_str().map(str::to_string)));
    }
    out.extend(exdates.iter().cloned());
    for (key, name) in [
        ("summary", "SUMMARY"),
        ("description", "DESCRIPTION"),
        ("location", "LOCATION"),
    ] {
        if let Some(s) = v[key].as_str() {
            out.push(format!("{name}:{}", escape(s)));
        }
    }
    if v["status"].as_str() == Some("tentative") {
        out.push("STATUS:TENTATIVE".into());
    }
    match v["visibility"].as_str() {
        Some("public") => out.push("CLASS:PUBLIC".into()),
        Some("private") => out.push("CLASS:PRIVATE".into()),
        Some("confidential") => out.push("CLASS:CONFIDENTIAL".into()),
        _ => {}
    }
    if v["transparency"].as_str() == Some("transparent") {
        out.push("TRANSP:TRANSPARENT".into());
    }
    if let Some(c) = v["colorId"].as_str()
        && let Some((_, name)) = COLORS.iter().find(|(i, _)| *i == c)
    {
        out.push(format!("COLOR:{name}"));
    }
    if let Some(n) = v["sequence"].as_i64().filter(|n| *n > 0) {
        out.push(format!("SEQUENCE:{n}"));
    }
    if let Some(t) = v["eventType"].as_str().filter(|t| *t != "default") {
        out.push(format!("X-GOOGLE-EVENT-TYPE:{t}"));
    }
    let attendees = v["attendees"].as_array().cloned().unwrap_or_default();
    if !attendees.is_empty() {
        out.extend(person("ORGANIZER", &v["organizer"], &[]));
        for a in &attendees {
            let mut extra = vec![(
                "PARTSTAT",
                partstat(a["responseStatus"].as_str().unwrap_or("")).to_string(),
            )];
            if a["optional"].as_bool() == Some(true) {
                extra.push(("ROLE", "OPT-PARTICIPANT".into()));
            }
            out.extend(person("ATTENDEE", a, &extra));
        }
    }
    for a in v["attachments"].as_array().into_iter().flatten() {
        let Some(url) = a["fileUrl"].as_str() else {
            continue;
        };
        let mut l = Line {
            name: "ATTACH".into(),
            params: Vec::new(),
            value: url.to_string(),
        };
        if let Some(m) = a["mimeType"].as_str() {
            l.params.push(("FMTTYPE".into(), m.to_string()));
        }
        if let Some(t) = a["title"].as_str() {
            l.params.push(("FILENAME".into(), t.to_string()));
        }
        out.push(l.render());
    }
    if v["reminders"]["useDefault"].as_bool() == Some(false) {
        for r in v["reminders"]["overrides"].as_array().into_iter().flatten() {
            let m = r["minutes"].as_i64().unwrap_or(0);
            out.push("BEGIN:VALARM".into());
            if r["method"].as_str() == Some("email") {
                out.push("ACTION:EMAIL".into());
                out.push("SUMMARY:Reminder".into());
            } else {
                out.push("ACTION:DISPLAY".into());
            }
            out.push("DESCRIPTION:Reminder".into());
            out.push(format!("TRIGGER:{}", before(m)));
            out.push("END:VALARM".into());
        }
    }
    out
}

/// The iCalendar text of the events of one iCalUID (a series with its exceptions and
/// cancelled occurrences, or a single event), rendered from their fields.
pub(super) fn render(parts: &[Value]) -> String {
    let mut zones_used = BTreeSet::new();
    let master = parts
        .iter()
        .find(|v| v["originalStartTime"].is_null() && v["status"].as_str() != Some("cancelled"));
    let mut exdates = Vec::new();
    let mut events: Vec<Vec<String>> = Vec::new();
    for p in parts {
        if p["originalStartTime"].is_null() {
            continue;
        }
        if p["status"].as_str() == Some("cancelled") {
            if master.is_some()
                && let Some(x) = when("EXDATE", &p["originalStartTime"], &mut zones_used)
            {
                let listed = master
                    .and_then(|m| m["recurrence"].as_array())
                    .is_some_and(|r| r.iter().any(|l| l.as_str() == Some(x.as_str())));
                if !listed {
                    exdates.push(x);
                }
            }
            continue;
        }
        events.push(vevent(p, &[], &mut zones_used));
    }
    if let Some(m) = master {
        exdates.sort();
        exdates.dedup();
        events.insert(0, vevent(m, &exdates, &mut zones_used));
    }
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cutover//Google Calendar//EN\r\n",
    );
    for z in &zones_used {
        if let Some(tz) = zones::vtimezone(z) {
            s.push_str(&tz);
        }
    }
    for e in events {
        s.push_str("BEGIN:VEVENT\r\n");
        for l in e {
            s.push_str(&fold(&l));
        }
        s.push_str("END:VEVENT\r\n");
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_series_renders_with_its_exception_and_cancelled_occurrence() {
        let master = json!({
            "id": "m", "iCalUID": "s1", "status": "confirmed", "summary": "Sync, weekly",
            "start": {"dateTime": "2026-02-16T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-02-16T10:00:00+01:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12"],
            "visibility": "private", "colorId": "11",
            "organizer": {"email": "ann@x.example", "displayName": "Ann"},
            "attendees": [{"email": "bob@x.example", "responseStatus": "declined", "optional": true}],
            "attachments": [{"fileUrl": "https://drive.example/f", "title": "Agenda", "mimeType": "application/pdf"}],
            "reminders": {"useDefault": false, "overrides": [{"method": "email", "minutes": 30}]}
        });
        let moved = json!({
            "id": "m_1", "iCalUID": "s1", "status": "confirmed", "summary": "Sync (moved)",
            "recurringEventId": "m",
            "originalStartTime": {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "start": {"dateTime": "2026-03-03T13:00:00Z", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-03T14:00:00Z", "timeZone": "Europe/Berlin"}
        });
        let gone = json!({
            "id": "m_2", "iCalUID": "s1", "status": "cancelled", "recurringEventId": "m",
            "originalStartTime": {"dateTime": "2026-03-23T08:00:00Z", "timeZone": "Europe/Berlin"}
        });
        let t = render(&[moved, master, gone]);
        let lines: Vec<&str> = t.lines().map(|l| l.trim_end()).collect();
        for want in [
            "UID:s1",
            "DTSTART;TZID=Europe/Berlin:20260216T090000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12",
            "EXDATE;TZID=Europe/Berlin:20260323T090000",
            "SUMMARY:Sync\\, weekly",
            "CLASS:PRIVATE",
            "COLOR:red",
            "ORGANIZER;CN=Ann:mailto:ann@x.example",
            "ATTENDEE;PARTSTAT=DECLINED;ROLE=OPT-PARTICIPANT:mailto:bob@x.example",
            "ATTACH;FMTTYPE=application/pdf;FILENAME=Agenda:https://drive.example/f",
            "ACTION:EMAIL",
            "TRIGGER:-PT30M",
            "RECURRENCE-ID;TZID=Europe/Berlin:20260302T090000",
            "DTSTART;TZID=Europe/Berlin:20260303T140000",
            "BEGIN:VTIMEZONE",
        ] {
            assert!(lines.contains(&want), "{want} missing in\n{t}");
        }
        assert_eq!(t.matches("BEGIN:VEVENT").count(), 2);
        let id = crate::item::identity(crate::api::ItemKind::Event, t.as_bytes());
        assert_eq!(id.uid.as_deref(), Some("s1"));
        assert_eq!(id.recurrence_ids.len(), 1);
    }

    #[test]
    fn all_day_and_kept_text() {
        let v = json!({"iCalUID": "d", "start": {"date": "2026-03-01"}, "end": {"date": "2026-03-02"},
            "eventType": "outOfOffice",
            "extendedProperties": {"private": {"cutoverIcalParts": "2", "cutoverIcal0": "ab", "cutoverIcal1": "c"}}});
        let t = render(std::slice::from_ref(&v));
        assert!(t.contains("DTSTART;VALUE=DATE:20260301\r\n"), "{t}");
        assert!(t.contains("X-GOOGLE-EVENT-TYPE:outOfOffice\r\n"), "{t}");
        assert_eq!(kept_text(&v).as_deref(), Some("abc"));
        assert_eq!(kept_text(&json!({})), None);
        assert_eq!(color_id_of("Red"), Some("11"));
        assert_eq!(
            [before(15), before(90), before(1440), before(0)],
            ["-PT15M", "-PT1H30M", "-P1D", "-PT0M"]
        );
    }
}
