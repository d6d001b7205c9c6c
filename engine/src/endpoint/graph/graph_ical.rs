//! A Graph event that cutover did not create, read as iCalendar (RFC 5545): the series
//! master or single event with its recurrence, each exception (an occurrence of type
//! `exception`) as a RECURRENCE-ID override, each cancelled occurrence (in the pattern but
//! no longer among the instances) as an EXDATE, times in the zone the event was created in
//! (Windows name → IANA, with its VTIMEZONE), attachments inline, and the meeting's
//! organizer and attendees (Graph's, read only).

use std::collections::BTreeSet;

use base64::Engine as _;
use chrono::{Duration, NaiveDateTime};
use serde_json::Value;

use super::connector::GraphSession;
use super::ical_graph::key;
use super::types::{EVENT_UID_PROP, EventItem};
use super::zones::{from_utc, iana_zone, to_utc, vtimezone};
use crate::endpoint::types::Result;
use crate::item::content::fold;

/// How far after its start an endless series is read.
const ENDLESS_YEARS: i64 = 3;

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\n")
        .replace('\n', "\\n")
}

fn parse_t(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()
}

/// A Graph dateTimeTimeZone as (local time, IANA zone): converted from the zone it is
/// given in to the zone the event was created in.
fn local(v: &Value, zone: &str) -> Option<(NaiveDateTime, String)> {
    let t = parse_t(v["dateTime"].as_str()?)?;
    let given = v["timeZone"].as_str().unwrap_or("UTC");
    let utc = to_utc(t, given)?;
    let iana = iana_zone(zone).unwrap_or("UTC");
    Some((from_utc(utc, iana)?, iana.to_string()))
}

fn dt_line(name: &str, t: NaiveDateTime, zone: &str, all_day: bool) -> String {
    if all_day {
        format!("{name};VALUE=DATE:{}", t.format("%Y%m%d"))
    } else if zone == "UTC" {
        format!("{name}:{}Z", t.format("%Y%m%dT%H%M%S"))
    } else {
        format!("{name};TZID={zone}:{}", t.format("%Y%m%dT%H%M%S"))
    }
}

fn day(d: &str) -> &'static str {
    match d {
        "monday" => "MO",
        "tuesday" => "TU",
        "wednesday" => "WE",
        "thursday" => "TH",
        "friday" => "FR",
        "saturday" => "SA",
        _ => "SU",
    }
}

/// A patternedRecurrence as an RRULE value.
fn rrule(r: &Value) -> Option<String> {
    let p = &r["pattern"];
    let interval = p["interval"].as_u64().unwrap_or(1);
    let days: Vec<&str> = p["daysOfWeek"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_str()).map(day).collect())
        .unwrap_or_default();
    let index = match p["index"].as_str().unwrap_or("first") {
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "last" => -1,
        _ => 1,
    };
    let mut s = match p["type"].as_str()? {
        "daily" => "FREQ=DAILY".to_string(),
        "weekly" => format!("FREQ=WEEKLY;BYDAY={}", days.join(",")),
        "absoluteMonthly" => format!("FREQ=MONTHLY;BYMONTHDAY={}", p["dayOfMonth"].as_u64()?),
        "relativeMonthly" if days.len() == 1 => format!("FREQ=MONTHLY;BYDAY={index}{}", days[0]),
        "relativeMonthly" => format!("FREQ=MONTHLY;BYDAY={};BYSETPOS={index}", days.join(",")),
        "absoluteYearly" => format!(
            "FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}",
            p["month"].as_u64()?,
            p["dayOfMonth"].as_u64()?
        ),
        "relativeYearly" => format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={index}{}",
            p["month"].as_u64()?,
            days.first()?
        ),
        _ => return None,
    };
    if interval > 1 {
        s.push_str(&format!(";INTERVAL={interval}"));
    }
    let range = &r["range"];
    match range["type"].as_str() {
        Some("numbered") => s.push_str(&format!(
            ";COUNT={}",
            range["numberOfOccurrences"].as_u64()?
        )),
        Some("endDate") => {
            let d = range["endDate"].as_str()?.replace('-', "");
            s.push_str(&format!(";UNTIL={d}T235959Z"));
        }
        _ => {}
    }
    Some(s)
}

/// The properties of one event (master, single or exception) as content lines.
fn props(v: &Value, zone: &str, out: &mut Vec<String>, zones: &mut BTreeSet<String>) {
    let all_day = v["isAllDay"].as_bool() == Some(true);
    for (name, field) in [("DTSTART", "start"), ("DTEND", "end")] {
        if let Some((t, z)) = local(&v[field], zone) {
            if !all_day && z != "UTC" {
                zones.insert(z.clone());
            }
            out.push(dt_line(name, t, &z, all_day));
        }
    }
    if let Some(s) = v["subject"].as_str() {
        out.push(format!("SUMMARY:{}", esc(s)));
    }
    if let Some(b) = v["body"]["content"].as_str().filter(|b| !b.is_empty()) {
        out.push(format!("DESCRIPTION:{}", esc(b)));
    }
    if let Some(l) = v["location"]["displayName"]
        .as_str()
        .filter(|l| !l.is_empty())
    {
        out.push(format!("LOCATION:{}", esc(l)));
    }
    match v["sensitivity"].as_str() {
        Some("private") | Some("personal") => out.push("CLASS:PRIVATE".into()),
        Some("confidential") => out.push("CLASS:CONFIDENTIAL".into()),
        _ => {}
    }
    let show = v["showAs"].as_str().unwrap_or("busy");
    out.push(format!(
        "TRANSP:{}",
        if show == "free" {
            "TRANSPARENT"
        } else {
            "OPAQUE"
        }
    ));
    if show != "busy" && show != "free" {
        let s = match show {
            "tentative" => "TENTATIVE",
            "oof" => "OOF",
            "workingElsewhere" => "WORKINGELSEWHERE",
            _ => "BUSY",
        };
        out.push(format!("X-MICROSOFT-CDO-BUSYSTATUS:{s}"));
    }
    if let Some(c) = v["categories"].as_array().filter(|c| !c.is_empty()) {
        let cats: Vec<String> = c.iter().filter_map(|x| x.as_str()).map(esc).collect();
        out.push(format!("CATEGORIES:{}", cats.join(",")));
    }
    if let Some(o) = v["organizer"]["emailAddress"].as_object()
        && let Some(a) = o.get("address").and_then(|a| a.as_str())
    {
        let cn = o.get("name").and_then(|n| n.as_str()).unwrap_or(a);
        out.push(format!("ORGANIZER;CN=\"{cn}\":mailto:{a}"));
    }
    for at in v["attendees"].as_array().into_iter().flatten() {
        let Some(a) = at["emailAddress"]["address"].as_str() else {
            continue;
        };
        let cn = at["emailAddress"]["name"].as_str().unwrap_or(a);
        let role = match at["type"].as_str() {
            Some("optional") => "OPT-PARTICIPANT",
            Some("resource") => "NON-PARTICIPANT",
            _ => "REQ-PARTICIPANT",
        };
        let ps = match at["status"]["response"].as_str() {
            Some("accepted") | Some("organizer") => "ACCEPTED",
            Some("declined") => "DECLINED",
            Some("tentativelyAccepted") => "TENTATIVE",
            _ => "NEEDS-ACTION",
        };
        out.push(format!(
            "ATTENDEE;CN=\"{cn}\";ROLE={role};PARTSTAT={ps}:mailto:{a}"
        ));
    }
    if v["isReminderOn"].as_bool() == Some(true) {
        let m = v["reminderMinutesBeforeStart"].as_i64().unwrap_or(15);
        out.push("BEGIN:VALARM".into());
        out.push("ACTION:DISPLAY".into());
        out.push(format!("TRIGGER:-PT{m}M"));
        out.push("DESCRIPTION:Reminder".into());
        out.push("END:VALARM".into());
    }
}

impl GraphSession {
    /// The iCalendar text of a Graph event (see the module's documentation).
    pub(super) async fn render_event(&self, i: &EventItem) -> Result<Vec<u8>> {
        let v = &i.json;
        let zone = v["originalStartTimeZone"]
            .as_str()
            .or(v["start"]["timeZone"].as_str())
            .unwrap_or("UTC")
            .to_string();
        let uid = i
            .source_uid
            .clone()
            .or_else(|| v["iCalUId"].as_str().map(str::to_string))
            .unwrap_or_else(|| i.id.clone());
        let uid = match v["singleValueExtendedProperties"].as_array() {
            Some(_) => super::calendar::prop(v, EVENT_UID_PROP).unwrap_or(uid),
            None => uid,
        };
        let mut zones = BTreeSet::new();
        let mut lines = vec!["BEGIN:VEVENT".to_string(), format!("UID:{uid}")];
        props(v, &zone, &mut lines, &mut zones);
        let all_day = v["isAllDay"].as_bool() == Some(true);
        let mut overrides: Vec<String> = Vec::new();
        if v["type"].as_str() == Some("seriesMaster")
            && let Some(rule) = rrule(&v["recurrence"])
        {
            lines.push(format!("RRULE:{rule}"));
            let start = parse_t(v["start"]["dateTime"].as_str().unwrap_or_default())
                .and_then(|t| to_utc(t, v["start"]["timeZone"].as_str().unwrap_or("UTC")))
                .unwrap_or_default();
            let end = match v["recurrence"]["range"]["endDate"].as_str() {
                Some(d) if v["recurrence"]["range"]["type"] == "endDate" => {
                    parse_t(&format!("{d}T23:59:59")).unwrap_or(start) + Duration::days(2)
                }
                _ => start + Duration::days(366 * ENDLESS_YEARS),
            };
            let occ = self
                .instances(&i.id, start - Duration::days(1), end)
                .await?;
            // The pattern's occurrences Graph no longer lists were cancelled.
            let first = local_of(start, &zone).0;
            let pattern = super::recur::occurrences(&v["recurrence"], first, &zone, end);
            for t in pattern {
                if !occ.contains_key(&key(t)) {
                    let (lt, z) = local_of(t, &zone);
                    lines.push(dt_line("EXDATE", lt, &z, all_day));
                }
            }
            for o in occ.values().filter(|o| o["type"] == "exception") {
                let Some(orig) = o["originalStart"].as_str().and_then(parse_t) else {
                    continue;
                };
                let (lt, z) = local_of(orig, &zone);
                let mut ov = vec![
                    "BEGIN:VEVENT".to_string(),
                    format!("UID:{uid}"),
                    dt_line("RECURRENCE-ID", lt, &z, all_day),
                ];
                props(o, &zone, &mut ov, &mut zones);
                ov.push("END:VEVENT".into());
                overrides.extend(ov);
            }
        }
        if v["hasAttachments"].as_bool() == Some(true) {
            for (name, mime, bytes) in self.event_attachments(&i.id).await? {
                lines.push(format!(
                    "ATTACH;FMTTYPE={mime};ENCODING=BASE64;VALUE=BINARY;X-FILENAME={name}:{}",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                ));
            }
        }
        lines.push("END:VEVENT".into());
        let mut out = String::from(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cutover//Microsoft 365 calendar//EN\r\n",
        );
        for z in &zones {
            if let Some(t) = vtimezone(z) {
                out.push_str(&t);
            }
        }
        for l in lines.iter().chain(overrides.iter()) {
            out.push_str(&fold(l));
        }
        out.push_str("END:VCALENDAR\r\n");
        Ok(out.into_bytes())
    }
}

fn local_of(utc: NaiveDateTime, zone: &str) -> (NaiveDateTime, String) {
    let iana = iana_zone(zone).unwrap_or("UTC");
    (from_utc(utc, iana).unwrap_or(utc), iana.to_string())
}
