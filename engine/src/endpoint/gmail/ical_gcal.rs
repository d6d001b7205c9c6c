//! An iCalendar item (a series with its exceptions, or a single event) as the Calendar API
//! events `events.import` takes: the series (or single event) first, then each exception
//! (same iCalUID, its `originalStartTime`). Cancelled occurrences become EXDATEs of the
//! series. What Google cannot take refuses the item with a reason (an inline attachment, a
//! time zone it does not know, an event type other than `default`).

use serde_json::{Value, json};

use super::gcal_ical::{KEPT_CHUNK, KEPT_MAX_CHUNKS, UID_PROP, color_id_of, kept_keys};
use crate::endpoint::graph::zones;
use crate::item::content::{Line, unfold};

/// One VEVENT's properties and its alarms' properties.
#[derive(Debug, Default)]
struct VEvent {
    props: Vec<Line>,
    alarms: Vec<Vec<Line>>,
}

impl VEvent {
    fn get(&self, name: &str) -> Option<&Line> {
        self.props.iter().find(|l| l.bare_name() == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
        self.props.iter().filter(move |l| l.bare_name() == name)
    }
}

/// The VEVENTs of a text, in their order.
fn vevents(text: &str) -> Vec<VEvent> {
    let mut out = Vec::new();
    let mut depth: Vec<String> = Vec::new();
    let mut cur: Option<VEvent> = None;
    let mut alarm: Option<Vec<Line>> = None;
    for raw in unfold(text) {
        let Some(l) = Line::parse(&raw) else { continue };
        match l.name.as_str() {
            "BEGIN" => {
                let what = l.value.trim().to_ascii_uppercase();
                if what == "VEVENT" && cur.is_none() {
                    cur = Some(VEvent::default());
                } else if what == "VALARM" && cur.is_some() {
                    alarm = Some(Vec::new());
                }
                depth.push(what);
            }
            "END" => {
                let what = depth.pop().unwrap_or_default();
                if what == "VALARM"
                    && let (Some(a), Some(c)) = (alarm.take(), cur.as_mut())
                {
                    c.alarms.push(a);
                } else if what == "VEVENT"
                    && let Some(c) = cur.take()
                {
                    out.push(c);
                }
            }
            _ => {
                if let Some(a) = alarm.as_mut() {
                    a.push(l);
                } else if depth.last().map(String::as_str) == Some("VEVENT")
                    && let Some(c) = cur.as_mut()
                {
                    c.props.push(l);
                }
            }
        }
    }
    out
}

/// iCalendar TEXT unescaped.
pub(super) fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(x) => out.push(x),
            None => {}
        }
    }
    out
}

/// A DATE or DATE-TIME property as Google's `{date}` / `{dateTime, timeZone}`.
fn when(l: &Line) -> Result<Value, String> {
    let v = l.value.trim();
    let date_only = l
        .param("VALUE")
        .is_some_and(|x| x.eq_ignore_ascii_case("DATE"))
        || v.len() == 8;
    let bad = || format!("has an unreadable {} {v:?}", l.bare_name());
    if date_only {
        let d = chrono::NaiveDate::parse_from_str(v.get(..8).ok_or_else(bad)?, "%Y%m%d")
            .map_err(|_| bad())?;
        return Ok(json!({"date": d.format("%Y-%m-%d").to_string()}));
    }
    let t = chrono::NaiveDateTime::parse_from_str(v.get(..15).ok_or_else(bad)?, "%Y%m%dT%H%M%S")
        .map_err(|_| bad())?;
    let local = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if v.ends_with('Z') {
        return Ok(json!({"dateTime": format!("{local}Z"), "timeZone": "UTC"}));
    }
    match l.param("TZID") {
        None => Ok(json!({"dateTime": local, "timeZone": "UTC"})),
        Some(tz) => {
            let tz = tz.trim_start_matches('/');
            let Some(iana) = zones::iana_zone(tz) else {
                return Err(format!(
                    "has the time zone {tz:?}, which cutover cannot name for Google Calendar (an IANA name is needed)"
                ));
            };
            Ok(json!({"dateTime": local, "timeZone": iana}))
        }
    }
}

/// An RFC 5545 duration (`-PT15M`, `P1D`, `PT1H30M`, `P1W`) in signed seconds.
pub(super) fn duration_secs(v: &str) -> Option<i64> {
    let v = v.trim();
    let (neg, rest) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let rest = rest.strip_prefix('P')?;
    let (mut total, mut num, mut in_time) = (0i64, String::new(), false);
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => num.push(c),
            _ => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                total += n * match (c, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
            }
        }
    }
    if !num.is_empty() {
        return None;
    }
    Some(if neg { -total } else { total })
}

fn end_of(e: &VEvent, start: &Value) -> Result<Value, String> {
    if let Some(l) = e.get("DTEND") {
        return when(l);
    }
    let secs = e
        .get("DURATION")
        .and_then(|d| duration_secs(&d.value))
        .unwrap_or(if start.get("date").is_some() {
            86_400
        } else {
            0
        });
    if let Some(d) = start["date"].as_str() {
        let d = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| e.to_string())?;
        let end = d + chrono::Duration::days((secs / 86_400).max(1));
        return Ok(json!({"date": end.format("%Y-%m-%d").to_string()}));
    }
    let s = start["dateTime"].as_str().unwrap_or_default();
    let (local, z) = match s.strip_suffix('Z') {
        Some(x) => (x, "Z"),
        None => (s, ""),
    };
    let t = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S")
        .map_err(|e| e.to_string())?
        + chrono::Duration::seconds(secs);
    Ok(json!({
        "dateTime": format!("{}{z}", t.format("%Y-%m-%dT%H:%M:%S")),
        "timeZone": start["timeZone"].clone(),
    }))
}

fn mailto(v: &str) -> Option<String> {
    let v = v.trim();
    let e = v
        .strip_prefix("mailto:")
        .or_else(|| v.strip_prefix("MAILTO:"))?;
    (!e.is_empty()).then(|| e.to_string())
}

fn response_of(partstat: Option<&str>) -> &'static str {
    match partstat.map(str::to_ascii_uppercase).as_deref() {
        Some("ACCEPTED") => "accepted",
        Some("DECLINED") => "declined",
        Some("TENTATIVE") => "tentative",
        _ => "needsAction",
    }
}

/// One VEVENT as a Calendar API event (without the iCalUID and kept text).
fn event_of(e: &VEvent, master: bool) -> Result<Value, String> {
    let mut v = json!({});
    if let Some(t) = e.get("X-GOOGLE-EVENT-TYPE").map(|l| l.value.trim())
        && t != "default"
    {
        return Err(format!(
            "is a Google Calendar {t:?} event; only default events can be imported (events.import), so it is not copied"
        ));
    }
    let start = when(e.get("DTSTART").ok_or("has no DTSTART")?)?;
    v["end"] = end_of(e, &start)?;
    v["start"] = start;
    for (name, key) in [
        ("SUMMARY", "summary"),
        ("DESCRIPTION", "description"),
        ("LOCATION", "location"),
    ] {
        if let Some(l) = e.get(name) {
            v[key] = json!(unescape(&l.value));
        }
    }
    if master {
        let rec: Vec<String> = e
            .props
            .iter()
            .filter(|l| matches!(l.bare_name(), "RRULE" | "RDATE" | "EXDATE" | "EXRULE"))
            .map(Line::render)
            .collect();
        if !rec.is_empty() {
            v["recurrence"] = json!(rec);
        }
    }
    if let Some(c) = e.get("CLASS") {
        v["visibility"] = json!(match c.value.trim().to_ascii_uppercase().as_str() {
            "PRIVATE" => "private",
            "CONFIDENTIAL" => "confidential",
            _ => "public",
        });
    }
    if e.get("TRANSP")
        .is_some_and(|l| l.value.trim().eq_ignore_ascii_case("TRANSPARENT"))
    {
        v["transparency"] = json!("transparent");
    }
    if let Some(s) = e.get("STATUS") {
        match s.value.trim().to_ascii_uppercase().as_str() {
            "TENTATIVE" => v["status"] = json!("tentative"),
            "CONFIRMED" => v["status"] = json!("confirmed"),
            _ => {}
        }
    }
    if let Some(c) = e.get("COLOR").and_then(|l| color_id_of(&l.value)) {
        v["colorId"] = json!(c);
    }
    if let Some(n) = e
        .get("SEQUENCE")
        .and_then(|l| l.value.trim().parse::<i64>().ok())
    {
        v["sequence"] = json!(n);
    }
    if let Some(o) = e.get("ORGANIZER")
        && let Some(email) = mailto(&o.value)
    {
        let mut org = json!({"email": email});
        if let Some(cn) = o.param("CN") {
            org["displayName"] = json!(cn);
        }
        v["organizer"] = org;
    }
    let attendees: Vec<Value> = e
        .all("ATTENDEE")
        .filter_map(|a| {
            let email = mailto(&a.value)?;
            let mut x = json!({"email": email, "responseStatus": response_of(a.param("PARTSTAT"))});
            if let Some(cn) = a.param("CN") {
                x["displayName"] = json!(cn);
            }
            if a.param("ROLE")
                .is_some_and(|r| r.eq_ignore_ascii_case("OPT-PARTICIPANT"))
            {
                x["optional"] = json!(true);
            }
            Some(x)
        })
        .collect();
    if !attendees.is_empty() {
        v["attendees"] = json!(attendees);
    }
    let mut attachments = Vec::new();
    for a in e.all("ATTACH") {
        let binary = a
            .param("VALUE")
            .is_some_and(|x| x.eq_ignore_ascii_case("BINARY"))
            || a.param("ENCODING").is_some();
        if binary {
            return Err(format!(
                "has the inline attachment {}; Google Calendar takes attachments only as links (Drive files), so it is not copied",
                a.param("FILENAME")
                    .or_else(|| a.param("X-FILENAME"))
                    .unwrap_or("unnamed")
            ));
        }
        let url = a.value.trim().to_string();
        let title = a
            .param("FILENAME")
            .or_else(|| a.param("X-FILENAME"))
            .map(str::to_string)
            .unwrap_or_else(|| url.rsplit('/').next().unwrap_or(&url).to_string());
        let mut x = json!({"fileUrl": url, "title": title});
        if let Some(m) = a.param("FMTTYPE") {
            x["mimeType"] = json!(m);
        }
        attachments.push(x);
    }
    if !attachments.is_empty() {
        v["attachments"] = json!(attachments);
    }
    let mut overrides = Vec::new();
    for a in &e.alarms {
        let get = |n: &str| a.iter().find(|l| l.bare_name() == n);
        let Some(trigger) = get("TRIGGER") else {
            continue;
        };
        let related_end = trigger
            .param("RELATED")
            .is_some_and(|r| r.eq_ignore_ascii_case("END"));
        let Some(secs) = duration_secs(&trigger.value) else {
            continue; // An absolute trigger: Google's reminders are relative to the start.
        };
        if related_end || secs > 0 {
            continue;
        }
        let method = match get("ACTION").map(|l| l.value.trim().to_ascii_uppercase()) {
            Some(x) if x == "EMAIL" => "email",
            _ => "popup",
        };
        let minutes = ((-secs) / 60).min(40_320);
        overrides.push(json!({"method": method, "minutes": minutes}));
    }
    overrides.truncate(5);
    v["reminders"] = json!({"useDefault": false, "overrides": overrides});
    Ok(v)
}

/// The events to import for an item, the series (or single event) first; Err(why) when it
/// cannot be written to Google Calendar. `text` is kept on the first event (in chunks of
/// its private extended properties) when it fits, so that the item reads back as it was.
pub(super) fn plan(text: &str, uid: &str) -> Result<Vec<Value>, String> {
    let all = vevents(text);
    if all.is_empty() {
        return Err("has no VEVENT".into());
    }
    let (masters, exceptions): (Vec<&VEvent>, Vec<&VEvent>) =
        all.iter().partition(|e| e.get("RECURRENCE-ID").is_none());
    if masters.len() > 1 {
        return Err("has several events without RECURRENCE-ID under one UID".into());
    }
    let mut out = Vec::new();
    let mut exdates = Vec::new();
    let mut rest = Vec::new();
    for x in &exceptions {
        let rid = x.get("RECURRENCE-ID").expect("partitioned on it");
        if x.get("STATUS")
            .is_some_and(|s| s.value.trim().eq_ignore_ascii_case("CANCELLED"))
            && !masters.is_empty()
        {
            let mut l = rid.clone();
            l.name = "EXDATE".into();
            l.params.retain(|(k, _)| k != "RANGE");
            exdates.push(l.render());
            continue;
        }
        let mut ev = event_of(x, false)?;
        ev["originalStartTime"] = when(rid)?;
        ev["iCalUID"] = json!(uid);
        rest.push(ev);
    }
    if let Some(m) = masters.first() {
        let mut ev = event_of(m, true)?;
        if !exdates.is_empty() {
            let mut rec = ev["recurrence"].as_array().cloned().unwrap_or_default();
            rec.extend(exdates.into_iter().map(Value::from));
            ev["recurrence"] = json!(rec);
        }
        ev["iCalUID"] = json!(uid);
        out.push(ev);
    }
    out.extend(rest);
    let mut private = serde_json::Map::new();
    private.insert(UID_PROP.into(), json!(uid));
    let chunks: Vec<String> = text
        .chars()
        .collect::<Vec<_>>()
        .chunks(KEPT_CHUNK)
        .map(|c| c.iter().collect())
        .collect();
    if chunks.len() <= KEPT_MAX_CHUNKS {
        let (count, key) = kept_keys();
        private.insert(count.into(), json!(chunks.len().to_string()));
        for (i, c) in chunks.into_iter().enumerate() {
            private.insert(key(i), json!(c));
        }
    }
    out[0]["extendedProperties"] = json!({ "private": private });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTART;TZID=Europe/Berlin:20260216T090000\r\nDTEND;TZID=Europe/Berlin:20260216T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12\r\nSUMMARY:Sync\\, weekly\r\nCLASS:PRIVATE\r\nORGANIZER;CN=Ann:mailto:ann@x.example\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@x.example\r\nATTACH;FMTTYPE=application/pdf:https://files.example/agenda.pdf\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260302T090000\r\nDTSTART;TZID=Europe/Berlin:20260303T140000\r\nDTEND;TZID=Europe/Berlin:20260303T150000\r\nSUMMARY:Sync (moved)\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r\nDTSTART;TZID=Europe/Berlin:20260323T090000\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_series_becomes_its_master_then_its_exceptions() {
        let p = plan(SERIES, "s1").unwrap();
        assert_eq!(p.len(), 2);
        let m = &p[0];
        assert_eq!(m["iCalUID"], "s1");
        assert_eq!(m["summary"], "Sync, weekly");
        assert_eq!(
            m["start"],
            json!({"dateTime": "2026-02-16T09:00:00", "timeZone": "Europe/Berlin"})
        );
        assert_eq!(
            m["recurrence"],
            json!([
                "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12",
                "EXDATE;TZID=Europe/Berlin:20260323T090000"
            ])
        );
        assert_eq!(m["visibility"], "private");
        assert_eq!(m["attendees"][0]["responseStatus"], "accepted");
        assert_eq!(m["organizer"]["displayName"], "Ann");
        assert_eq!(m["attachments"][0]["title"], "agenda.pdf");
        assert_eq!(
            m["reminders"],
            json!({"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]})
        );
        assert_eq!(m["extendedProperties"]["private"][UID_PROP], "s1");
        let x = &p[1];
        assert_eq!(
            x["originalStartTime"],
            json!({"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Berlin"})
        );
        assert_eq!(x["iCalUID"], "s1");
        assert!(x.get("recurrence").is_none());
    }

    #[test]
    fn all_day_inline_attachments_and_other_event_types() {
        let day =
            "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20260301\r\nSUMMARY:Off\r\nEND:VEVENT\r\n";
        let p = plan(day, "d").unwrap();
        assert_eq!(p[0]["start"], json!({"date": "2026-03-01"}));
        assert_eq!(p[0]["end"], json!({"date": "2026-03-02"}));
        let inline = "BEGIN:VEVENT\r\nUID:i\r\nDTSTART:20260301T100000Z\r\nATTACH;VALUE=BINARY;ENCODING=BASE64;FILENAME=a.txt:YQ==\r\nEND:VEVENT\r\n";
        assert!(plan(inline, "i").unwrap_err().contains("a.txt"));
        let ooo = "BEGIN:VEVENT\r\nUID:o\r\nDTSTART:20260301T100000Z\r\nX-GOOGLE-EVENT-TYPE:outOfOffice\r\nEND:VEVENT\r\n";
        assert!(plan(ooo, "o").unwrap_err().contains("only default events"));
        let zone =
            "BEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Mars/Olympus:20260301T100000\r\nEND:VEVENT\r\n";
        assert!(plan(zone, "z").unwrap_err().contains("Mars/Olympus"));
        assert_eq!(duration_secs("-PT1H30M"), Some(-5400));
        assert_eq!(duration_secs("P1W"), Some(604_800));
    }
}
