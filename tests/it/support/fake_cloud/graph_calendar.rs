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
//!
//! `graph_calendar_route` answers the requests; `graph_calendar_time` holds the zones and
//! the recurrence expansion.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::graph_calendar_time::{dtz, fmt, pattern_dates, utc_json, utc_of};

/// The fields of a Graph event the fake accepts in a create or an update.
pub(super) const FIELDS: &[&str] = &[
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
pub(super) const NOTIFYING: &[&str] = &[
    "attendees",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
];

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

/// An event's JSON as Graph answers it: times in UTC, the zone it was created in,
/// type, and the chosen extended properties.
pub(super) fn event_json(e: &FakeEvent, owner: &str, expand: &[String]) -> Value {
    let mut v = Value::Object(e.fields.clone());
    v.as_object_mut().map(|o| o.remove("transactionId"));
    v["id"] = json!(e.id);
    v["calendarId"] = json!(e.calendar);
    v["changeKey"] = json!(format!("ck{}", e.change));
    v["iCalUId"] = json!(e.ical_uid);
    v["type"] = json!(if e.is_series() {
        "seriesMaster"
    } else {
        "singleInstance"
    });
    v["originalStartTimeZone"] = e
        .fields
        .get("start")
        .map(|s| s["timeZone"].clone())
        .unwrap_or(json!("UTC"));
    v["originalEndTimeZone"] = e
        .fields
        .get("end")
        .map(|s| s["timeZone"].clone())
        .unwrap_or(json!("UTC"));
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
    pub(super) fn notify(
        &mut self,
        kind: &str,
        e: &FakeEvent,
        owner: &str,
        fields: &Map<String, Value>,
    ) {
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
    pub(super) fn occurrences(
        &self,
        e: &FakeEvent,
        from: NaiveDateTime,
        to: NaiveDateTime,
        owner: &str,
    ) -> Vec<Value> {
        let Some((s, zone)) = e.fields.get("start").and_then(dtz) else {
            return Vec::new();
        };
        let Some((end, ezone)) = e.fields.get("end").and_then(dtz) else {
            return Vec::new();
        };
        let len = utc_of(end, &ezone)
            .zip(utc_of(s, &zone))
            .map(|(a, b)| a - b)
            .unwrap_or_default();
        let rec = e.fields.get("recurrence").cloned().unwrap_or(Value::Null);
        let mut out = Vec::new();
        for d in pattern_dates(&rec, to.date() + Duration::days(2), 5000) {
            let local = d.and_time(s.time());
            let Some(orig) = utc_of(local, &zone) else {
                continue;
            };
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
                dtz(&endv)
                    .and_then(|(t, z)| utc_of(t, &z))
                    .unwrap_or(orig + len),
            );
            v["start"] = utc_json(&start);
            v["end"] = utc_json(&endv);
            if eu > from && su < to || (su >= from && su <= to) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| {
            a["start"]["dateTime"]
                .as_str()
                .cmp(&b["start"]["dateTime"].as_str())
        });
        out
    }
}
