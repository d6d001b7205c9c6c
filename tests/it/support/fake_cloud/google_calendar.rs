//! Fake Google Calendar API (`https://www.googleapis.com/calendar/v3`), stateful, beside the
//! fake Gmail API on the same server.
//!
//! What it enforces, as Google documents it:
//! - a bearer token the fake token endpoint issued (a service account's, with domain-wide
//!   delegation: the user is the token's subject), with a Calendar scope (`calendar` to
//!   write, `calendar.readonly` enough to read; 403 `insufficientPermissions` otherwise);
//! - the per-user quota (600 requests a minute unless the test shrinks it): past it, 403
//!   `usageLimits` / `userRateLimitExceeded` with Google's error body; injected 429
//!   `rateLimitExceeded` with Retry-After;
//! - `events.import`: `iCalUID` required (400), only `default` events (400 for another
//!   event type), a time zone it knows for a time without offset, extended properties within
//!   Google's limits (1,024 characters a value, 32 kB an event), attachments kept only with
//!   `supportsAttachments=true`; an import of an iCalUID (and `originalStartTime`) the
//!   calendar has already updates that event; an exception needs its series;
//! - `events.insert`, `update`, `patch`, `delete`, `move` and `quickAdd`: any of them on an
//!   event with attendees and `sendUpdates` other than `none` (or missing) would notify the
//!   attendees: it is recorded in the user's outbox (and done);
//! - `events.list`: paged (`maxResults`, at most the fake's page size; `pageToken`), cancelled
//!   exceptions of a series listed with it, `showDeleted`, and sync tokens (`nextSyncToken`
//!   on the last page; `syncToken` lists what changed since, 410 for a token it never gave);
//! - `calendarList.list` (paged), `calendars.insert` and `calendars.delete` (never the
//!   primary calendar).
//!
//! Test hooks add calendars (owned or subscribed), seed events, read a user's calendars and
//! outbox, and count calls.

// Handlers answer with an axum Response, errors included.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::graph_calendar_time::utc_of;
use super::token::Tokens;

pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
pub const CALENDAR_READ_SCOPE: &str = "https://www.googleapis.com/auth/calendar.readonly";

#[derive(Debug, Clone)]
pub struct FakeCalendar {
    pub id: String,
    pub summary: String,
    /// "owner", "reader", "freeBusyReader"...
    pub access_role: String,
    pub primary: bool,
    /// The events as the API returns them (exceptions with `recurringEventId`).
    pub events: Vec<Value>,
}

#[derive(Debug, Default, Clone)]
pub struct CalUser {
    pub calendars: Vec<FakeCalendar>,
    /// Calls that would have notified attendees: "method calendar/event sendUpdates=...".
    pub outbox: Vec<String>,
}

impl CalUser {
    pub fn calendar(&self, summary: &str) -> &FakeCalendar {
        self.calendars
            .iter()
            .find(|c| c.summary == summary || (summary == "primary" && c.primary))
            .unwrap_or_else(|| panic!("no calendar {summary:?}"))
    }
}

/// An answer forced on a user's next request.
#[derive(Debug, Clone)]
pub enum Injected {
    /// 429 rateLimitExceeded with this Retry-After (seconds).
    TooMany(u64),
    /// 403 userRateLimitExceeded (the client backs off itself).
    UserRateLimit,
}

pub struct GoogleCalendar {
    pub tokens: Arc<Tokens>,
    pub users: Mutex<HashMap<String, CalUser>>,
    pub requests: u32,
    pub window: Duration,
    /// Most events per page of events.list.
    pub page_size: usize,
    /// Time between storing an import and answering it.
    pub import_delay: Duration,
    spent: Mutex<HashMap<String, VecDeque<Instant>>>,
    inject: Mutex<HashMap<String, VecDeque<Injected>>>,
    pub throttled: AtomicU64,
    pub calls: Mutex<HashMap<&'static str, u64>>,
    /// Change counter: every write stamps the event with the next value (sync tokens).
    seq: AtomicU64,
    next: AtomicU64,
}

fn google_error(status: StatusCode, domain: &str, reason: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
        }})),
    )
        .into_response()
}

fn bad(message: &str) -> Response {
    google_error(StatusCode::BAD_REQUEST, "global", "invalid", message)
}

fn not_found() -> Response {
    google_error(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
}

/// `{dateTime, timeZone}` as Google answers it: the local time with its offset; an
/// offset-less time is local to `timeZone`. Err for an unknown zone.
fn stored_time(v: &Value) -> Result<Value, String> {
    if v.get("date").is_some() {
        return Ok(json!({"date": v["date"]}));
    }
    let dt = v["dateTime"].as_str().ok_or("missing dateTime")?;
    let zone = v["timeZone"].as_str();
    if chrono::DateTime::parse_from_rfc3339(dt).is_ok() {
        let mut out = json!({"dateTime": dt});
        if let Some(z) = zone {
            out["timeZone"] = json!(z);
        }
        return Ok(out);
    }
    let local = chrono::NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| format!("Invalid dateTime {dt}"))?;
    let z = zone.ok_or("Missing time zone definition for start time.")?;
    let utc = if z == "UTC" {
        local
    } else {
        windows_of(z)
            .and_then(|w| utc_of(local, w))
            .ok_or_else(|| format!("Invalid time zone definition: {z}"))?
    };
    let off = (local - utc).num_minutes();
    let sign = if off < 0 { '-' } else { '+' };
    Ok(json!({
        "dateTime": format!("{}{sign}{:02}:{:02}", local.format("%Y-%m-%dT%H:%M:%S"), off.abs() / 60, off.abs() % 60),
        "timeZone": z,
    }))
}

/// The fake clock's (Windows) zone of an IANA name Google takes.
fn windows_of(iana: &str) -> Option<&'static str> {
    Some(match iana {
        "Etc/UTC" => "UTC",
        "Europe/London" => "GMT Standard Time",
        "Europe/Berlin" | "Europe/Amsterdam" | "Europe/Vienna" | "Europe/Zurich" => {
            "W. Europe Standard Time"
        }
        "Europe/Paris" | "Europe/Brussels" | "Europe/Madrid" => "Romance Standard Time",
        "Europe/Helsinki" => "FLE Standard Time",
        "Asia/Tokyo" => "Tokyo Standard Time",
        "Asia/Shanghai" => "China Standard Time",
        "Asia/Kolkata" => "India Standard Time",
        "America/New_York" => "Eastern Standard Time",
        "America/Chicago" => "Central Standard Time",
        "America/Denver" => "Mountain Standard Time",
        "America/Los_Angeles" => "Pacific Standard Time",
        _ => return None,
    })
}

/// An occurrence's start as a UTC instant, for identity.
fn instant(v: &Value) -> String {
    if let Some(d) = v["date"].as_str() {
        return d.to_string();
    }
    v["dateTime"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|t| t.naive_utc().format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

fn notifies(ev: &Value, send_updates: Option<&String>) -> bool {
    let has_attendees = ev["attendees"].as_array().is_some_and(|a| !a.is_empty());
    has_attendees && send_updates.map(String::as_str) != Some("none")
}

impl GoogleCalendar {
    pub fn new(tokens: Arc<Tokens>) -> GoogleCalendar {
        GoogleCalendar {
            tokens,
            users: Mutex::new(HashMap::new()),
            requests: 600,
            window: Duration::from_secs(60),
            page_size: 250,
            import_delay: Duration::ZERO,
            spent: Mutex::new(HashMap::new()),
            inject: Mutex::new(HashMap::new()),
            throttled: AtomicU64::new(0),
            calls: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
            next: AtomicU64::new(1),
        }
    }

    /// A user with a primary calendar (its id is the user's address).
    pub fn with_user(self, user: &str) -> GoogleCalendar {
        self.users.lock().unwrap().insert(
            user.to_string(),
            CalUser {
                calendars: vec![FakeCalendar {
                    id: user.to_string(),
                    summary: user.to_string(),
                    access_role: "owner".into(),
                    primary: true,
                    events: Vec::new(),
                }],
                outbox: Vec::new(),
            },
        );
        self
    }

    pub fn with_quota(mut self, requests: u32, window: Duration) -> GoogleCalendar {
        self.requests = requests;
        self.window = window;
        self
    }

    pub fn with_page_size(mut self, n: usize) -> GoogleCalendar {
        self.page_size = n;
        self
    }

    pub fn with_import_delay(mut self, d: Duration) -> GoogleCalendar {
        self.import_delay = d;
        self
    }

    pub fn inject(&self, user: &str, answers: impl IntoIterator<Item = Injected>) {
        self.inject
            .lock()
            .unwrap()
            .entry(user.to_string())
            .or_default()
            .extend(answers);
    }

    /// Add a calendar to a user's list (`role` "owner", or "reader" for a subscription);
    /// its id.
    pub fn add_calendar(&self, user: &str, summary: &str, role: &str) -> String {
        let id = format!(
            "c{}@group.calendar.google.com",
            self.next.fetch_add(1, Ordering::SeqCst)
        );
        self.users
            .lock()
            .unwrap()
            .get_mut(user)
            .unwrap()
            .calendars
            .push(FakeCalendar {
                id: id.clone(),
                summary: summary.into(),
                access_role: role.into(),
                primary: false,
                events: Vec::new(),
            });
        id
    }

    /// Put an event in a calendar as the service would keep it (test set-up for Google as a
    /// source; no contract checked); its id.
    pub fn seed(&self, user: &str, calendar_id: &str, ev: Value) -> String {
        let mut all = self.users.lock().unwrap();
        let cal = all
            .get_mut(user)
            .unwrap()
            .calendars
            .iter_mut()
            .find(|c| c.id == calendar_id)
            .unwrap();
        self.upsert(user, cal, ev, true).expect("a seed event")
    }

    /// Remove every event of `ical_uid` from a calendar (as a user deleting it).
    pub fn remove(&self, user: &str, calendar_id: &str, ical_uid: &str) {
        let mut all = self.users.lock().unwrap();
        let cal = all
            .get_mut(user)
            .unwrap()
            .calendars
            .iter_mut()
            .find(|c| c.id == calendar_id)
            .unwrap();
        cal.events.retain(|e| e["iCalUID"] != ical_uid);
    }

    pub fn user(&self, user: &str) -> CalUser {
        self.users.lock().unwrap()[user].clone()
    }

    pub fn calls_of(&self, method: &str) -> u64 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Token (with a Calendar scope; `write` needs the full one), injected answers, then
    /// the per-user quota. The user the token acts for.
    fn admit(
        &self,
        headers: &HeaderMap,
        method: &'static str,
        write: bool,
    ) -> Result<String, Response> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        let g = self.tokens.check_with(headers, |_| true)?;
        let scopes: Vec<&str> = g.resource.split(' ').collect();
        let ok =
            scopes.contains(&CALENDAR_SCOPE) || (!write && scopes.contains(&CALENDAR_READ_SCOPE));
        if !ok {
            return Err(google_error(
                StatusCode::FORBIDDEN,
                "global",
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            ));
        }
        let Some(user) = g
            .subject
            .filter(|u| self.users.lock().unwrap().contains_key(u))
        else {
            return Err(google_error(
                StatusCode::FORBIDDEN,
                "global",
                "forbidden",
                "The service account acts for no user of this domain (no sub).",
            ));
        };
        if let Some(a) = self
            .inject
            .lock()
            .unwrap()
            .get_mut(&user)
            .and_then(VecDeque::pop_front)
        {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(match a {
                Injected::TooMany(secs) => {
                    let mut r = google_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "usageLimits",
                        "rateLimitExceeded",
                        "Rate Limit Exceeded",
                    );
                    r.headers_mut()
                        .insert("retry-after", secs.to_string().parse().unwrap());
                    r
                }
                Injected::UserRateLimit => google_error(
                    StatusCode::FORBIDDEN,
                    "usageLimits",
                    "userRateLimitExceeded",
                    "User Rate Limit Exceeded",
                ),
            });
        }
        let now = Instant::now();
        let mut spent = self.spent.lock().unwrap();
        let q = spent.entry(user.clone()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() as u32 >= self.requests {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(google_error(
                StatusCode::FORBIDDEN,
                "usageLimits",
                "userRateLimitExceeded",
                "User Rate Limit Exceeded",
            ));
        }
        q.push_back(now);
        Ok(user)
    }

    /// Store an event (new, or the one of the same iCalUID and original start); its id.
    fn upsert(
        &self,
        user: &str,
        cal: &mut FakeCalendar,
        mut ev: Value,
        keep_attachments: bool,
    ) -> Result<String, Response> {
        let uid = ev["iCalUID"].as_str().unwrap_or_default().to_string();
        for key in ["start", "end", "originalStartTime"] {
            if ev.get(key).is_some_and(|v| !v.is_null()) {
                ev[key] = stored_time(&ev[key]).map_err(|m| bad(&m))?;
            }
        }
        if !keep_attachments {
            ev.as_object_mut().unwrap().remove("attachments");
        }
        let original =
            (!ev["originalStartTime"].is_null()).then(|| instant(&ev["originalStartTime"]));
        let series = cal
            .events
            .iter()
            .find(|e| e["iCalUID"] == uid.as_str() && e["originalStartTime"].is_null())
            .and_then(|e| e["id"].as_str().map(str::to_string));
        if let Some(o) = &original {
            let Some(sid) = &series else {
                return Err(bad("The recurring event of this instance was not found."));
            };
            ev["recurringEventId"] = json!(sid);
            ev["id"] = json!(format!("{sid}_{o}"));
        }
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let obj = ev.as_object_mut().unwrap();
        obj.insert("kind".into(), json!("calendar#event"));
        obj.insert("etag".into(), json!(format!("\"{seq}\"")));
        obj.insert("updated".into(), json!(seq));
        obj.entry("status").or_insert(json!("confirmed"));
        obj.entry("eventType").or_insert(json!("default"));
        obj.entry("sequence").or_insert(json!(0));
        obj.entry("reminders")
            .or_insert(json!({"useDefault": true}));
        obj.entry("organizer")
            .or_insert(json!({"email": user, "self": true}));
        let same = cal.events.iter().position(|e| {
            e["iCalUID"] == uid.as_str()
                && match &original {
                    None => e["originalStartTime"].is_null(),
                    Some(o) => {
                        !e["originalStartTime"].is_null() && instant(&e["originalStartTime"]) == *o
                    }
                }
        });
        let id = match same {
            Some(i) => {
                let id = cal.events[i]["id"].clone();
                ev["id"] = id.clone();
                cal.events[i] = ev;
                id.as_str().unwrap().to_string()
            }
            None => {
                if ev["id"].as_str().is_none() {
                    ev["id"] = json!(format!("ev{}", self.next.fetch_add(1, Ordering::SeqCst)));
                }
                let id = ev["id"].as_str().unwrap().to_string();
                cal.events.push(ev);
                id
            }
        };
        Ok(id)
    }

    fn with_calendar<T>(
        &self,
        user: &str,
        cid: &str,
        f: impl FnOnce(&mut FakeCalendar, &mut Vec<String>) -> T,
    ) -> Option<T> {
        let mut all = self.users.lock().unwrap();
        let u = all.get_mut(user)?;
        let CalUser { calendars, outbox } = u;
        let cal = calendars
            .iter_mut()
            .find(|c| c.id == cid || (cid == "primary" && c.primary))?;
        Some(f(cal, outbox))
    }
}

type Q = Query<HashMap<String, String>>;
type S = State<Arc<GoogleCalendar>>;

async fn calendar_list(State(g): S, headers: HeaderMap, Query(q): Q) -> Response {
    let user = match g.admit(&headers, "calendarList.list", false) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let all = g.user(&user).calendars;
    let per = q
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, 250)
        .min(g.page_size);
    let from: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = all
        .iter()
        .skip(from)
        .take(per)
        .map(|c| {
            let mut v = json!({"kind": "calendar#calendarListEntry", "id": c.id, "summary": c.summary, "accessRole": c.access_role, "timeZone": "Europe/Berlin"});
            if c.primary {
                v["primary"] = json!(true);
            }
            v
        })
        .collect();
    let mut out = json!({"kind": "calendar#calendarList", "items": items});
    if from + per < all.len() {
        out["nextPageToken"] = json!((from + per).to_string());
    }
    Json(out).into_response()
}

async fn calendar_insert(State(g): S, headers: HeaderMap, body: Bytes) -> Response {
    let user = match g.admit(&headers, "calendars.insert", true) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("Parse Error");
    };
    let Some(summary) = v["summary"].as_str().filter(|s| !s.is_empty()) else {
        return google_error(
            StatusCode::BAD_REQUEST,
            "global",
            "required",
            "Missing title.",
        );
    };
    let id = g.add_calendar(&user, summary, "owner");
    Json(json!({"kind": "calendar#calendar", "id": id, "summary": summary})).into_response()
}

async fn calendar_delete(State(g): S, headers: HeaderMap, Path(cid): Path<String>) -> Response {
    let user = match g.admit(&headers, "calendars.delete", true) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut all = g.users.lock().unwrap();
    let u = all.get_mut(&user).unwrap();
    match u.calendars.iter().position(|c| c.id == cid) {
        Some(i) if u.calendars[i].primary => bad("Cannot delete the primary calendar."),
        Some(i) => {
            u.calendars.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(),
    }
}

async fn events_list(
    State(g): S,
    headers: HeaderMap,
    Path(cid): Path<String>,
    Query(q): Q,
) -> Response {
    let user = match g.admit(&headers, "events.list", false) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if q.get("singleEvents").map(String::as_str) == Some("true") {
        return bad("singleEvents is not supported by this fake");
    }
    let show_deleted = q.get("showDeleted").map(String::as_str) == Some("true");
    let since: Option<u64> = match q.get("syncToken") {
        Some(t) => match t.strip_prefix("sync-").and_then(|n| n.parse().ok()) {
            Some(n) => Some(n),
            None => {
                return google_error(
                    StatusCode::GONE,
                    "calendar",
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                );
            }
        },
        None => None,
    };
    let Some(events) = g.with_calendar(&user, &cid, |c, _| c.events.clone()) else {
        return not_found();
    };
    let mut listed: Vec<Value> = events
        .into_iter()
        .filter(|e| since.is_none_or(|s| e["updated"].as_u64().unwrap_or(0) > s))
        .filter(|e| {
            show_deleted
                || since.is_some()
                || e["status"] != "cancelled"
                || !e["originalStartTime"].is_null()
        })
        .collect();
    listed.sort_by_key(|e| e["updated"].as_u64().unwrap_or(0));
    let per = q
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(250usize)
        .clamp(1, 2500)
        .min(g.page_size);
    let from: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = listed.iter().skip(from).take(per).cloned().collect();
    let mut out = json!({"kind": "calendar#events", "items": items});
    if from + per < listed.len() {
        out["nextPageToken"] = json!((from + per).to_string());
    } else {
        out["nextSyncToken"] = json!(format!("sync-{}", g.seq.load(Ordering::SeqCst) - 1));
    }
    Json(out).into_response()
}

async fn events_import(
    State(g): S,
    headers: HeaderMap,
    Path(cid): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let user = match g.admit(&headers, "events.import", true) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(ev) = serde_json::from_slice::<Value>(&body) else {
        return bad("Parse Error");
    };
    if ev["iCalUID"].as_str().is_none_or(str::is_empty) {
        return google_error(
            StatusCode::BAD_REQUEST,
            "global",
            "required",
            "Missing iCalUID.",
        );
    }
    if ev["eventType"].as_str().is_some_and(|t| t != "default") {
        return bad("Event type cannot be imported.");
    }
    if ev["start"].is_null() || ev["end"].is_null() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "global",
            "required",
            "Missing time.",
        );
    }
    if let Some(p) = ev["extendedProperties"]["private"].as_object() {
        let total: usize = p
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if p.values()
            .any(|v| v.as_str().is_some_and(|s| s.chars().count() > 1024))
            || total > 32 * 1024
        {
            return bad("The extended properties are too large.");
        }
    }
    let keep = q.get("supportsAttachments").map(String::as_str) == Some("true");
    let r = g.with_calendar(&user, &cid, |c, _| {
        g.upsert(&user, c, ev, keep).map(|id| {
            c.events
                .iter()
                .find(|e| e["id"] == id.as_str())
                .cloned()
                .unwrap()
        })
    });
    tokio::time::sleep(g.import_delay).await;
    match r {
        None => not_found(),
        Some(Err(resp)) => resp,
        Some(Ok(v)) => Json(v).into_response(),
    }
}

/// `events.insert`: stored, and recorded in the outbox when it would notify attendees.
async fn events_insert(
    State(g): S,
    headers: HeaderMap,
    Path(cid): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let user = match g.admit(&headers, "events.insert", true) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(mut ev) = serde_json::from_slice::<Value>(&body) else {
        return bad("Parse Error");
    };
    if ev["iCalUID"].is_null() {
        ev["iCalUID"] = json!(format!(
            "{}@google.com",
            g.next.fetch_add(1, Ordering::SeqCst)
        ));
    }
    let su = q.get("sendUpdates").cloned();
    let r = g.with_calendar(&user, &cid, |c, outbox| {
        if notifies(&ev, su.as_ref()) {
            outbox.push(format!(
                "events.insert {cid} sendUpdates={}",
                su.clone().unwrap_or_default()
            ));
        }
        g.upsert(&user, c, ev, true)
    });
    match r {
        None => not_found(),
        Some(Err(resp)) => resp,
        Some(Ok(id)) => Json(json!({"id": id})).into_response(),
    }
}

/// `events.update`/`patch`/`delete`/`move` of one event: the outbox when attendees would
/// be told.
async fn event_change(
    State(g): S,
    headers: HeaderMap,
    method: axum::http::Method,
    Path((cid, eid)): Path<(String, String)>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let name: &'static str = match method.as_str() {
        "DELETE" => "events.delete",
        "PATCH" => "events.patch",
        "PUT" => "events.update",
        _ => "events.get",
    };
    let user = match g.admit(&headers, name, name != "events.get") {
        Ok(u) => u,
        Err(r) => return r,
    };
    let su = q.get("sendUpdates").cloned();
    let patch: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let r = g.with_calendar(&user, &cid, |c, outbox| {
        let i = c.events.iter().position(|e| e["id"] == eid.as_str())?;
        let before = c.events[i].clone();
        if name == "events.get" {
            return Some(Json(before).into_response());
        }
        if notifies(&before, su.as_ref()) || notifies(&patch, su.as_ref()) {
            outbox.push(format!(
                "{name} {cid}/{eid} sendUpdates={}",
                su.clone().unwrap_or_default()
            ));
        }
        if name == "events.delete" {
            c.events
                .retain(|e| e["id"] != eid.as_str() && e["recurringEventId"] != eid.as_str());
            return Some(StatusCode::NO_CONTENT.into_response());
        }
        let mut after = before;
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            after[k] = v;
        }
        after["etag"] = json!(format!("\"{}\"", g.seq.fetch_add(1, Ordering::SeqCst)));
        c.events[i] = after.clone();
        Some(Json(after).into_response())
    });
    r.flatten().unwrap_or_else(not_found)
}

pub fn router(g: Arc<GoogleCalendar>) -> Router {
    Router::new()
        .route("/calendar/v3/users/me/calendarList", get(calendar_list))
        .route("/calendar/v3/calendars", post(calendar_insert))
        .route("/calendar/v3/calendars/{cid}", delete(calendar_delete))
        .route(
            "/calendar/v3/calendars/{cid}/events",
            get(events_list).post(events_insert),
        )
        .route(
            "/calendar/v3/calendars/{cid}/events/import",
            post(events_import),
        )
        .route(
            "/calendar/v3/calendars/{cid}/events/{eid}",
            get(event_change)
                .put(event_change)
                .patch(event_change)
                .delete(event_change),
        )
        .with_state(g)
}
