//! Fake Microsoft Graph calendars, served by the Graph fake's router (same tokens, tenants,
//! per-mailbox limits and 429s as mail): a mailbox's calendars (`/calendars`, the default
//! one first), events (`/calendars/{id}/events`: single events and series masters only,
//! `$top`/`$skip` paging with `@odata.nextLink`, `$filter` on an extended property's value,
//! `$expand` of chosen extended properties), one event (`/events/{id}`: GET, PATCH, DELETE,
//! for a master, a single event or an occurrence), a series' occurrences
//! (`/events/{id}/instances?startDateTime=&endDateTime=`: the recurrence expanded: daily,
//! weekly, absolute and relative monthly and yearly, with interval, days of week and
//! numbered/endDate/noEnd ranges; type `occurrence` or `exception`, `seriesMasterId`,
//! `originalStart` in UTC), and event file attachments (`/events/{id}/attachments`).
//!
//! Graph's rules it enforces: times are given in a Windows zone it knows (400
//! `TimeZoneNotSupportedException` otherwise) and returned in UTC with
//! `originalStartTimeZone`; a POST with the `transactionId` of an event that exists returns
//! that event and creates nothing; a file attachment over 3 MB is refused (413
//! `ErrorRequestEntityTooLarge`: larger ones need an upload session); calendar names are
//! unique (409 `ErrorFolderExists`); the default calendar cannot be deleted.
//!
//! **The notification outbox.** Graph gives no way to create, change or delete a meeting
//! silently: its organizer's mailbox sends the invitations, updates and cancellations. The
//! fake records one [`Notification`] whenever, in a calendar whose owner (the mailbox) is
//! the event's organizer, an event with at least one attendee
//! - is created (an invitation; an event created through the API is organized by the
//!   mailbox that holds it),
//! - has its attendees, start, end, location or recurrence changed, on the series or on
//!   one occurrence (an update),
//! - or is cancelled or deleted, the series or one occurrence (a cancellation).
//!
//! Tests read it ([`Calendars::outbox`]); every calendar test asserts it stays empty.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use serde_json::{Map, Value, json};

/// The fields of a Graph event the fake accepts in a create or an update.
const FIELDS: &[&str] = &[
    "subject",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "isAllDay",
    "showAs",
    "sensitivity",
    "categories",
    "recurrence",
    "attendees",
    "organizer",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "importance",
    "transactionId",
    "singleValueExtendedProperties",
    "isOnlineMeeting",
    "responseRequested",
    "allowNewTimeProposals",
];

/// The fields whose change on a meeting sends its attendees an update.
const NOTIFYING: &[&str] = &["attendees", "start", "end", "location", "locations", "recurrence"];

/// Attachments added in one request are at most this large.
pub const ATTACH_MAX: usize = 3 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct FakeCalendar {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

#[derive(Debug, Clone)]
pub struct FakeEventAttachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct FakeEvent {
    pub id: String,
    pub calendar: String,
    /// The fields as given (times local, in their Windows zone).
    pub fields: Map<String, Value>,
    /// Extended properties, id as sent -> value.
    pub props: BTreeMap<String, String>,
    pub change: u64,
    pub ical_uid: String,
    /// Of a series: its changed occurrences by original start (UTC, `YYYY-MM-DDTHH:MM:SS`):
    /// the occurrence's id and its changed fields.
    pub exceptions: BTreeMap<String, (String, Map<String, Value>)>,
    /// Of a series: its deleted occurrences' original starts.
    pub cancelled: BTreeSet<String>,
    pub attachments: Vec<FakeEventAttachment>,
}

impl FakeEvent {
    pub fn prop(&self, id: &str) -> Option<&String> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id) || k.ends_with(id))
            .map(|(_, v)| v)
    }

    pub fn is_series(&self) -> bool {
        self.fields.get("recurrence").is_some_and(|r| !r.is_null())
    }

    fn has_attendees(&self) -> bool {
        self.fields
            .get("attendees")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    }

    fn subject(&self) -> String {
        self.fields
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// An invitation, update or cancellation a real mailbox would have sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// "invitation", "update" or "cancellation".
    pub kind: String,
    pub event: String,
    pub subject: String,
    pub recipients: Vec<String>,
}

/// A mailbox's calendars.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    pub calendars: Vec<FakeCalendar>,
    pub events: Vec<FakeEvent>,
    /// What the mailbox would have sent (see the module's documentation).
    pub outbox: Vec<Notification>,
    /// Events created (a POST answered with an existing event by its transactionId is not).
    pub creates: u64,
    /// POSTs of events received, created or not.
    pub posts: u64,
    /// PATCHes and DELETEs of occurrences received.
    pub occurrence_writes: u64,
    /// Event creates still to store and answer with 503.
    pub lost_answers: u32,
    pub filter_queries: u64,
}

impl Calendars {
    /// The events of a calendar by name (the default calendar is "Calendar").
    pub fn in_calendar(&self, name: &str) -> Vec<FakeEvent> {
        let Some(c) = self.calendars.iter().find(|c| c.name == name) else {
            return Vec::new();
        };
        self.events
            .iter()
            .filter(|e| e.calendar == c.id)
            .cloned()
            .collect()
    }

    /// The default calendar exists first.
    pub fn ensure_default(&mut self) {
        if self.calendars.is_empty() {
            self.calendars.push(FakeCalendar {
                id: "AAMkCAL0".into(),
                name: "Calendar".into(),
                is_default: true,
            });
        }
    }

    /// Seed an event (fields as Graph keeps them; local times in a Windows zone); its id.
    /// Seeding sends nothing.
    pub fn seed(&mut self, id: String, calendar: Option<&str>, fields: Value) -> String {
        self.ensure_default();
        let cal = match calendar {
            Some(n) => self
                .calendars
                .iter()
                .find(|c| c.name == n)
                .map(|c| c.id.clone())
                .expect("calendar"),
            None => self.calendars[0].id.clone(),
        };
        let Value::Object(fields) = fields else {
            panic!("event fields are an object")
        };
        self.events.push(FakeEvent {
            ical_uid: format!("040000008200E00074C5B7101A82E008{id}"),
            id: id.clone(),
            calendar: cal,
            fields,
            props: BTreeMap::new(),
            change: 1,
            exceptions: BTreeMap::new(),
            cancelled: BTreeSet::new(),
            attachments: Vec::new(),
        });
        id
    }
}

// ---------------------------------------------------------------- time zones

/// (Windows name, standard offset in minutes, daylight rule: 0 none, 1 EU, 2 US).
const ZONES: &[(&str, i64, u8)] = &[
    ("UTC", 0, 0),
    ("GMT Standard Time", 0, 1),
    ("W. Europe Standard Time", 60, 1),
    ("Romance Standard Time", 60, 1),
    ("Central Europe Standard Time", 60, 1),
    ("Central European Standard Time", 60, 1),
    ("FLE Standard Time", 120, 1),
    ("Tokyo Standard Time", 540, 0),
    ("China Standard Time", 480, 0),
    ("India Standard Time", 330, 0),
    ("Eastern Standard Time", -300, 2),
    ("Central Standard Time", -360, 2),
    ("Mountain Standard Time", -420, 2),
    ("Pacific Standard Time", -480, 2),
];

fn sunday(year: i32, month: u32, nth: i32) -> NaiveDate {
    if nth > 0 {
        return NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, nth as u8).unwrap();
    }
    let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap() - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

/// The UTC offset (minutes) in force at a UTC instant.
fn offset_at(zone: &str, utc: NaiveDateTime) -> Option<i64> {
    let &(_, std, rule) = ZONES.iter().find(|z| z.0 == zone)?;
    let y = utc.year();
    let dst = match rule {
        1 => {
            let (a, b) = (sunday(y, 3, -1), sunday(y, 10, -1));
            utc >= a.and_hms_opt(1, 0, 0)? && utc < b.and_hms_opt(1, 0, 0)?
        }
        2 => {
            let a = sunday(y, 3, 2).and_hms_opt(2, 0, 0)? - Duration::minutes(std);
            let b = sunday(y, 11, 1).and_hms_opt(2, 0, 0)? - Duration::minutes(std + 60);
            utc >= a && utc < b
        }
        _ => false,
    };
    Some(if dst { std + 60 } else { std })
}

fn utc_of(local: NaiveDateTime, zone: &str) -> Option<NaiveDateTime> {
    // Daylight time first (the earlier of a repeated hour), else standard.
    let &(_, std, _) = ZONES.iter().find(|z| z.0 == zone)?;
    let dst = local - Duration::minutes(std + 60);
    if offset_at(zone, dst) == Some(std + 60) {
        return Some(dst);
    }
    Some(local - Duration::minutes(std))
}

fn parse_t(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()
}

fn fmt(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A dateTimeTimeZone as (local, zone).
fn dtz(v: &Value) -> Option<(NaiveDateTime, String)> {
    Some((
        parse_t(v["dateTime"].as_str()?)?,
        v["timeZone"].as_str().unwrap_or("UTC").to_string(),
    ))
}

fn utc_json(v: &Value) -> Value {
    match dtz(v).and_then(|(t, z)| utc_of(t, &z)) {
        Some(u) => json!({"dateTime": format!("{}.0000000", fmt(u)), "timeZone": "UTC"}),
        None => v.clone(),
    }
}

// ---------------------------------------------------------------- recurrence

fn weekday(d: &str) -> Option<Weekday> {
    Some(match d {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// The dates of a month that fall on one of `days`.
fn month_days(y: i32, m: u32, days: &[Weekday]) -> Vec<NaiveDate> {
    (1..=31)
        .filter_map(|d| NaiveDate::from_ymd_opt(y, m, d))
        .filter(|d| days.contains(&d.weekday()))
        .collect()
}

fn pick(v: &[NaiveDate], index: &str) -> Option<NaiveDate> {
    match index {
        "first" => v.first().copied(),
        "second" => v.get(1).copied(),
        "third" => v.get(2).copied(),
        "fourth" => v.get(3).copied(),
        "last" => v.last().copied(),
        _ => None,
    }
}

/// The local start dates of a recurrence, walking period by period (a month, a week, a
/// year, a day at a time), at most `limit` of them and none after `until`.
fn pattern_dates(rec: &Value, until: NaiveDate, limit: usize) -> Vec<NaiveDate> {
    let p = &rec["pattern"];
    let r = &rec["range"];
    let Some(start) = r["startDate"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return Vec::new();
    };
    let n = p["interval"].as_i64().unwrap_or(1).max(1);
    let end = match r["type"].as_str() {
        Some("endDate") => r["endDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|e| e.min(until)),
        _ => Some(until),
    }
    .unwrap_or(until);
    let count = match r["type"].as_str() {
        Some("numbered") => r["numberOfOccurrences"].as_u64().unwrap_or(0) as usize,
        _ => usize::MAX,
    }
    .min(limit);
    let days: Vec<Weekday> = p["daysOfWeek"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().and_then(weekday)).collect())
        .unwrap_or_default();
    let index = p["index"].as_str().unwrap_or("first");
    let month = p["month"].as_u64().unwrap_or(1) as u32;
    let dom = p["dayOfMonth"].as_u64().unwrap_or(1) as u32;
    let mut out = Vec::new();
    let push = |d: NaiveDate, out: &mut Vec<NaiveDate>| {
        if d >= start && d <= end && out.len() < count {
            out.push(d);
        }
    };
    let ty = p["type"].as_str().unwrap_or("");
    for k in 0..2000i64 {
        if out.len() >= count {
            break;
        }
        match ty {
            "daily" => {
                let d = start + Duration::days(k * n);
                if d > end {
                    break;
                }
                push(d, &mut out);
            }
            "weekly" => {
                let fdw = p["firstDayOfWeek"]
                    .as_str()
                    .and_then(weekday)
                    .unwrap_or(Weekday::Sun);
                let back = (7 + start.weekday().num_days_from_monday() as i64
                    - fdw.num_days_from_monday() as i64)
                    % 7;
                let week = start - Duration::days(back) + Duration::weeks(k * n);
                if week > end {
                    break;
                }
                let mut ds: Vec<NaiveDate> = (0..7)
                    .map(|i| week + Duration::days(i))
                    .filter(|d| days.contains(&d.weekday()))
                    .collect();
                ds.sort();
                for d in ds {
                    push(d, &mut out);
                }
            }
            "absoluteMonthly" | "relativeMonthly" => {
                let m0 = start.year() as i64 * 12 + start.month0() as i64 + k * n;
                let (y, m) = ((m0 / 12) as i32, (m0 % 12) as u32 + 1);
                let Some(first) = NaiveDate::from_ymd_opt(y, m, 1) else {
                    break;
                };
                if first > end {
                    break;
                }
                let d = if ty == "absoluteMonthly" {
                    NaiveDate::from_ymd_opt(y, m, dom)
                } else {
                    pick(&month_days(y, m, &days), index)
                };
                if let Some(d) = d {
                    push(d, &mut out);
                }
            }
            "absoluteYearly" | "relativeYearly" => {
                let y = start.year() + (k * n) as i32;
                let Some(first) = NaiveDate::from_ymd_opt(y, 1, 1) else {
                    break;
                };
                if first > end {
                    break;
                }
                let d = if ty == "absoluteYearly" {
                    NaiveDate::from_ymd_opt(y, month, dom)
                } else {
                    pick(&month_days(y, month, &days), index)
                };
                if let Some(d) = d {
                    push(d, &mut out);
                }
            }
            _ => break,
        }
    }
    out
}

// ---------------------------------------------------------------- answers

pub type Answer = (StatusCode, Vec<(&'static str, String)>, Value);

fn err(status: StatusCode, code: &str, message: &str) -> Answer {
    (
        status,
        Vec::new(),
        json!({"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}}),
    )
}

fn ok(status: StatusCode, v: Value) -> Answer {
    (status, Vec::new(), v)
}

fn not_found() -> Answer {
    err(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut v = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    v.push('\'');
                }
                Some('\'') | None => break,
                Some(c) => v.push(c),
            }
        }
        out.push(v);
    }
    out
}

fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An event's JSON as Graph answers it: times in UTC, the zone it was created in,
/// type, and the chosen extended properties.
fn event_json(e: &FakeEvent, owner: &str, expand: &[String]) -> Value {
    let mut v = Value::Object(e.fields.clone());
    v.as_object_mut().map(|o| o.remove("transactionId"));
    v["id"] = json!(e.id);
    v["calendarId"] = json!(e.calendar);
    v["changeKey"] = json!(format!("ck{}", e.change));
    v["iCalUId"] = json!(e.ical_uid);
    v["type"] = json!(if e.is_series() { "seriesMaster" } else { "singleInstance" });
    v["originalStartTimeZone"] = e.fields.get("start").map(|s| s["timeZone"].clone()).unwrap_or(json!("UTC"));
    v["originalEndTimeZone"] = e.fields.get("end").map(|s| s["timeZone"].clone()).unwrap_or(json!("UTC"));
    v["start"] = utc_json(&e.fields.get("start").cloned().unwrap_or(Value::Null));
    v["end"] = utc_json(&e.fields.get("end").cloned().unwrap_or(Value::Null));
    v["hasAttachments"] = json!(!e.attachments.is_empty());
    if v.get("organizer").is_none() {
        v["organizer"] = json!({"emailAddress": {"address": owner, "name": owner}});
    }
    if v.get("attendees").is_none() {
        v["attendees"] = json!([]);
    }
    let props: Vec<Value> = expand
        .iter()
        .filter_map(|id| e.prop(id).map(|val| json!({"id": id, "value": val})))
        .collect();
    if !props.is_empty() {
        v["singleValueExtendedProperties"] = json!(props);
    }
    v
}

/// The organizer's address of an event (the owner when not given).
fn organizer(e: &FakeEvent, owner: &str) -> String {
    e.fields
        .get("organizer")
        .and_then(|o| o["emailAddress"]["address"].as_str())
        .unwrap_or(owner)
        .to_ascii_lowercase()
}

fn recipients(fields: &Map<String, Value>) -> Vec<String> {
    fields
        .get("attendees")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x["emailAddress"]["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Calendars {
    fn notify(&mut self, kind: &str, e: &FakeEvent, owner: &str, fields: &Map<String, Value>) {
        if organizer(e, owner) != owner.to_ascii_lowercase() {
            return;
        }
        let to = recipients(fields);
        if to.is_empty() {
            return;
        }
        self.outbox.push(Notification {
            kind: kind.into(),
            event: e.id.clone(),
            subject: e.subject(),
            recipients: to,
        });
    }

    /// The occurrences of a series from `from` to `to` (UTC), by original start.
    fn occurrences(&self, e: &FakeEvent, from: NaiveDateTime, to: NaiveDateTime, owner: &str) -> Vec<Value> {
        let Some((s, zone)) = e.fields.get("start").and_then(dtz) else {
            return Vec::new();
        };
        let Some((end, ezone)) = e.fields.get("end").and_then(dtz) else {
            return Vec::new();
        };
        let len = utc_of(end, &ezone).zip(utc_of(s, &zone)).map(|(a, b)| a - b).unwrap_or_default();
        let rec = e.fields.get("recurrence").cloned().unwrap_or(Value::Null);
        let mut out = Vec::new();
        for d in pattern_dates(&rec, to.date() + Duration::days(2), 5000) {
            let local = d.and_time(s.time());
            let Some(orig) = utc_of(local, &zone) else { continue };
            let key = fmt(orig);
            if e.cancelled.contains(&key) {
                continue;
            }
            let mut v = event_json(e, owner, &[]);
            v.as_object_mut().map(|o| o.remove("recurrence"));
            v["seriesMasterId"] = json!(e.id);
            v["originalStart"] = json!(format!("{key}Z"));
            v["type"] = json!("occurrence");
            v["id"] = json!(format!("{}_OCC_{}", e.id, key.replace([':', '-'], "")));
            let mut start = json!({"dateTime": fmt(local), "timeZone": zone});
            let mut endv = json!({"dateTime": fmt(orig + len), "timeZone": "UTC"});
            if let Some((oid, f)) = e.exceptions.get(&key) {
                v["type"] = json!("exception");
                v["id"] = json!(oid);
                for (k, x) in f {
                    v[k] = x.clone();
                }
                if let Some(s) = f.get("start") {
                    start = s.clone();
                }
                if let Some(x) = f.get("end") {
                    endv = x.clone();
                }
            }
            let (su, eu) = (
                dtz(&start).and_then(|(t, z)| utc_of(t, &z)).unwrap_or(orig),
                dtz(&endv).and_then(|(t, z)| utc_of(t, &z)).unwrap_or(orig + len),
            );
            v["start"] = utc_json(&start);
            v["end"] = utc_json(&endv);
            if eu > from && su < to || (su >= from && su <= to) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a["start"]["dateTime"].as_str().cmp(&b["start"]["dateTime"].as_str()));
        out
    }
}

/// A create's or an update's body checked against Graph's event: (fields, properties).
#[allow(clippy::type_complexity)]
fn event_body(body: &[u8]) -> Result<(Map<String, Value>, Vec<(String, String)>), Answer> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body) else {
        return Err(err(StatusCode::BAD_REQUEST, "RequestBodyRead", "Invalid JSON body."));
    };
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "RequestBodyRead",
            &format!("The property '{k}' does not exist on type 'microsoft.graph.event'."),
        ));
    }
    for f in ["start", "end"] {
        if let Some(v) = o.get(f) {
            let Some((_, z)) = dtz(v) else {
                return Err(err(StatusCode::BAD_REQUEST, "ErrorInvalidRequest", &format!("{f} is not a dateTimeTimeZone.")));
            };
            if !ZONES.iter().any(|x| x.0 == z) {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "TimeZoneNotSupportedException",
                    &format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{z}'."),
                ));
            }
        }
    }
    let props = match o.remove("singleValueExtendedProperties") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?.to_string(), p["value"].as_str()?.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    Ok((o, props))
}

/// Where an event id points: a stored event, or an occurrence of one (its original start).
fn locate(c: &Calendars, id: &str) -> Option<(usize, Option<String>)> {
    if let Some(i) = c.events.iter().position(|e| e.id == id) {
        return Some((i, None));
    }
    for (i, e) in c.events.iter().enumerate() {
        if let Some((k, _)) = e.exceptions.iter().find(|(_, (oid, _))| oid == id) {
            return Some((i, Some(k.clone())));
        }
        if let Some(rest) = id.strip_prefix(&format!("{}_OCC_", e.id)) {
            // YYYYMMDDTHHMMSS back to the key.
            let t = NaiveDateTime::parse_from_str(rest, "%Y%m%dT%H%M%S").ok()?;
            return Some((i, Some(fmt(t))));
        }
    }
    None
}

/// Answer a request under `/users/{upn}/` whose path starts with `calendars`, `calendar`
/// or `events` (`r`: the segments after the mailbox).
#[allow(clippy::too_many_arguments)]
pub fn route(
    c: &mut Calendars,
    next: &mut u64,
    host: &str,
    version: &str,
    upn: &str,
    method: &Method,
    r: &[&str],
    q: &HashMap<String, String>,
    body: &[u8],
) -> Answer {
    c.ensure_default();
    let mut next_id = |prefix: &str| {
        *next += 1;
        format!("{prefix}{}", *next)
    };
    let cal_of = |c: &Calendars, id: &str| c.calendars.iter().find(|x| x.id == id).map(|x| x.id.clone());
    let expand = q.get("$expand").map(|e| quoted(e)).unwrap_or_default();
    match (method.clone(), r) {
        (Method::GET, ["calendars"]) => ok(
            StatusCode::OK,
            json!({"value": c.calendars.iter().map(|x| json!({"id": x.id, "name": x.name, "isDefaultCalendar": x.is_default, "canEdit": true})).collect::<Vec<_>>()}),
        ),
        (Method::POST, ["calendars"]) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let Some(name) = v["name"].as_str().filter(|n| !n.is_empty()) else {
                return err(StatusCode::BAD_REQUEST, "ErrorInvalidArgument", "name is required.");
            };
            if c.calendars.iter().any(|x| x.name.eq_ignore_ascii_case(name)) {
                return err(StatusCode::CONFLICT, "ErrorFolderExists", "A folder with the specified name already exists.");
            }
            let id = next_id("AAMkCAL");
            c.calendars.push(FakeCalendar { id: id.clone(), name: name.into(), is_default: false });
            ok(StatusCode::CREATED, json!({"id": id, "name": name, "isDefaultCalendar": false}))
        }
        (Method::DELETE, ["calendars", cid]) => {
            let Some(id) = cal_of(c, cid) else { return not_found() };
            if c.calendars.iter().any(|x| x.id == id && x.is_default) {
                return err(StatusCode::BAD_REQUEST, "ErrorCannotDeleteObject", "The default calendar cannot be deleted.");
            }
            // Deleting a calendar deletes its events: the organizer's meetings are cancelled.
            let gone: Vec<FakeEvent> = c.events.iter().filter(|e| e.calendar == id).cloned().collect();
            for e in &gone {
                let f = e.fields.clone();
                c.notify("cancellation", e, upn, &f);
            }
            c.events.retain(|e| e.calendar != id);
            c.calendars.retain(|x| x.id != id);
            ok(StatusCode::NO_CONTENT, Value::Null)
        }
        (Method::GET, ["calendars", _, "events"]) | (Method::GET, ["calendar", "events"]) | (Method::GET, ["events"]) => {
            let cal = match r {
                [_, cid, _] => match cal_of(c, cid) {
                    Some(id) => Some(id),
                    None => return not_found(),
                },
                ["calendar", _] => Some(c.calendars[0].id.clone()),
                _ => None,
            };
            let filter = match q.get("$filter") {
                None => None,
                Some(f) if f.to_ascii_lowercase().starts_with("singlevalueextendedproperties/any(") => {
                    let v = quoted(f);
                    if v.len() != 2 {
                        return err(StatusCode::BAD_REQUEST, "BadRequest", "Invalid filter clause.");
                    }
                    c.filter_queries += 1;
                    Some((v[0].clone(), v[1].clone()))
                }
                Some(_) => return err(StatusCode::BAD_REQUEST, "BadRequest", "Invalid filter clause."),
            };
            let top: usize = q.get("$top").and_then(|t| t.parse().ok()).unwrap_or(10).min(1000);
            let skip: usize = q.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
            let all: Vec<&FakeEvent> = c
                .events
                .iter()
                .filter(|e| cal.as_ref().is_none_or(|id| &e.calendar == id))
                .filter(|e| match &filter {
                    None => true,
                    Some((id, val)) => e.prop(id) == Some(val),
                })
                .collect();
            let page: Vec<Value> = all.iter().skip(skip).take(top).map(|e| event_json(e, upn, &expand)).collect();
            let mut v = json!({"value": page});
            if skip + top < all.len() {
                let mut qs: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$skip")
                    .map(|(k, v)| format!("{k}={}", enc(v)))
                    .collect();
                qs.push(format!("$skip={}", skip + top));
                v["@odata.nextLink"] = json!(format!("http://{host}/{version}/users/{upn}/{}?{}", r.join("/"), qs.join("&")));
            }
            ok(StatusCode::OK, v)
        }
        (Method::POST, ["calendars", _, "events"]) | (Method::POST, ["calendar", "events"]) | (Method::POST, ["events"]) => {
            c.posts += 1;
            let cal = match r {
                [_, cid, _] => match cal_of(c, cid) {
                    Some(id) => id,
                    None => return not_found(),
                },
                _ => c.calendars[0].id.clone(),
            };
            let (mut fields, props) = match event_body(body) {
                Ok(x) => x,
                Err(e) => return e,
            };
            if let Some(tx) = fields.get("transactionId").and_then(Value::as_str)
                && let Some(e) = c.events.iter().find(|e| e.fields.get("transactionId").and_then(Value::as_str) == Some(tx))
            {
                return ok(StatusCode::CREATED, event_json(e, upn, &[]));
            }
            // An event created through the API is organized by the mailbox that holds it.
            fields.remove("organizer");
            c.creates += 1;
            let id = next_id("AAMkEV");
            let e = FakeEvent {
                ical_uid: format!("040000008200E00074C5B7101A82E008{id}"),
                id: id.clone(),
                calendar: cal,
                fields,
                props: props.into_iter().collect(),
                change: 1,
                exceptions: BTreeMap::new(),
                cancelled: BTreeSet::new(),
                attachments: Vec::new(),
            };
            let f = e.fields.clone();
            c.notify("invitation", &e, upn, &f);
            let answer = event_json(&e, upn, &[]);
            c.events.push(e);
            if c.lost_answers > 0 {
                c.lost_answers -= 1;
                return err(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "The service is temporarily unavailable.");
            }
            ok(StatusCode::CREATED, answer)
        }
        (Method::GET, ["events", id]) => match locate(c, id) {
            Some((i, None)) => ok(StatusCode::OK, event_json(&c.events[i], upn, &expand)),
            Some((i, Some(k))) => {
                let e = &c.events[i];
                let t = parse_t(&k).unwrap_or_default();
                c.occurrences(e, t - Duration::days(400), t + Duration::days(400), upn)
                    .into_iter()
                    .find(|o| o["originalStart"].as_str().is_some_and(|s| s.starts_with(&k)))
                    .map(|o| ok(StatusCode::OK, o))
                    .unwrap_or_else(not_found)
            }
            None => not_found(),
        },
        (Method::GET, ["events", id, "instances"]) => {
            let Some((i, None)) = locate(c, id) else { return not_found() };
            let (Some(from), Some(to)) = (
                q.get("startDateTime").and_then(|s| parse_t(s)),
                q.get("endDateTime").and_then(|s| parse_t(s)),
            ) else {
                return err(StatusCode::BAD_REQUEST, "ErrorInvalidParameter", "startDateTime and endDateTime are required.");
            };
            let e = &c.events[i];
            if !e.is_series() {
                return ok(StatusCode::OK, json!({"value": []}));
            }
            let all = c.occurrences(e, from, to, upn);
            let top: usize = q.get("$top").and_then(|t| t.parse().ok()).unwrap_or(10).min(1000);
            let skip: usize = q.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
            let page: Vec<Value> = all.iter().skip(skip).take(top).cloned().collect();
            let mut v = json!({"value": page});
            if skip + top < all.len() {
                let mut qs: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$skip")
                    .map(|(k, v)| format!("{k}={}", enc(v)))
                    .collect();
                qs.push(format!("$skip={}", skip + top));
                v["@odata.nextLink"] = json!(format!("http://{host}/{version}/users/{upn}/{}?{}", r.join("/"), qs.join("&")));
            }
            ok(StatusCode::OK, v)
        }
        (Method::PATCH, ["events", id]) => {
            let (fields, props) = match event_body(body) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let Some((i, occ)) = locate(c, id) else { return not_found() };
            let changed = fields.keys().any(|k| NOTIFYING.contains(&k.as_str()));
            match occ {
                None => {
                    let e = &mut c.events[i];
                    for (k, v) in fields {
                        e.fields.insert(k, v);
                    }
                    for (k, v) in props {
                        e.props.insert(k, v);
                    }
                    e.change += 1;
                    let e = e.clone();
                    if changed {
                        let f = e.fields.clone();
                        c.notify("update", &e, upn, &f);
                    }
                    ok(StatusCode::OK, event_json(&e, upn, &[]))
                }
                Some(k) => {
                    c.occurrence_writes += 1;
                    if c.events[i].cancelled.contains(&k) {
                        return not_found();
                    }
                    let oid = id.to_string();
                    let e = &mut c.events[i];
                    let entry = e.exceptions.entry(k.clone()).or_insert_with(|| (oid, Map::new()));
                    for (f, v) in fields {
                        entry.1.insert(f, v);
                    }
                    e.change += 1;
                    let e = e.clone();
                    if changed {
                        let mut f = e.fields.clone();
                        for (k2, v) in &e.exceptions[&k].1 {
                            f.insert(k2.clone(), v.clone());
                        }
                        c.notify("update", &e, upn, &f);
                    }
                    let t = parse_t(&k).unwrap_or_default();
                    let o = c
                        .occurrences(&e, t - Duration::days(400), t + Duration::days(400), upn)
                        .into_iter()
                        .find(|o| o["originalStart"].as_str().is_some_and(|s| s.starts_with(&k)))
                        .unwrap_or(Value::Null);
                    ok(StatusCode::OK, o)
                }
            }
        }
        (Method::DELETE, ["events", id]) => {
            let Some((i, occ)) = locate(c, id) else { return not_found() };
            match occ {
                None => {
                    let e = c.events.remove(i);
                    let f = e.fields.clone();
                    c.notify("cancellation", &e, upn, &f);
                }
                Some(k) => {
                    c.occurrence_writes += 1;
                    if c.events[i].cancelled.contains(&k) {
                        return not_found();
                    }
                    let e = &mut c.events[i];
                    e.cancelled.insert(k.clone());
                    e.exceptions.remove(&k);
                    e.change += 1;
                    let e = e.clone();
                    let f = e.fields.clone();
                    c.notify("cancellation", &e, upn, &f);
                }
            }
            ok(StatusCode::NO_CONTENT, Value::Null)
        }
        (Method::GET, ["events", id, "attachments"]) => {
            let Some((i, None)) = locate(c, id) else { return not_found() };
            let v: Vec<Value> = c.events[i]
                .attachments
                .iter()
                .map(|a| json!({
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "id": a.id, "name": a.name, "contentType": a.content_type, "size": a.bytes.len(),
                    "contentBytes": base64::engine::general_purpose::STANDARD.encode(&a.bytes),
                }))
                .collect();
            ok(StatusCode::OK, json!({"value": v}))
        }
        (Method::POST, ["events", id, "attachments"]) => {
            let Some((i, None)) = locate(c, id) else { return not_found() };
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if v["@odata.type"] != "#microsoft.graph.fileAttachment" {
                return err(StatusCode::BAD_REQUEST, "ErrorInvalidRequest", "Only file attachments are supported here.");
            }
            let Some(bytes) = v["contentBytes"].as_str().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()) else {
                return err(StatusCode::BAD_REQUEST, "ErrorInvalidRequest", "contentBytes is not base64.");
            };
            if bytes.len() > ATTACH_MAX {
                return err(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "ErrorRequestEntityTooLarge",
                    "The attachment is over 3 MB; attach it through an upload session.",
                );
            }
            let aid = next_id("AAMkAT");
            let e = &mut c.events[i];
            e.attachments.push(FakeEventAttachment {
                id: aid.clone(),
                name: v["name"].as_str().unwrap_or("attachment").into(),
                content_type: v["contentType"].as_str().unwrap_or("application/octet-stream").into(),
                bytes,
            });
            e.change += 1;
            ok(StatusCode::CREATED, json!({"id": aid, "name": v["name"]}))
        }
        _ => err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unsupported request {method} /{}", r.join("/")),
        ),
    }
}
