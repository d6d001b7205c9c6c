//! The fake Graph calendar's answers to requests under `/users/{upn}/` for `calendars`,
//! `calendar` and `events` (see `graph_calendar` for what it serves and the rules it
//! enforces, the notification outbox among them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::graph_calendar::{
    ATTACH_MAX, Calendars, FIELDS, FakeCalendar, FakeEvent, FakeEventAttachment, NOTIFYING,
    event_json,
};
use super::graph_calendar_time::{ZONES, dtz, fmt, parse_t};

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

/// A create's or an update's body checked against Graph's event: (fields, properties).
#[allow(clippy::type_complexity)]
fn event_body(body: &[u8]) -> Result<(Map<String, Value>, Vec<(String, String)>), Answer> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body) else {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "RequestBodyRead",
            "Invalid JSON body.",
        ));
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
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    &format!("{f} is not a dateTimeTimeZone."),
                ));
            };
            if !ZONES.iter().any(|x| x.0 == z) {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "TimeZoneNotSupportedException",
                    &format!(
                        "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{z}'."
                    ),
                ));
            }
        }
    }
    let props = match o.remove("singleValueExtendedProperties") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| {
                Some((
                    p["id"].as_str()?.to_string(),
                    p["value"].as_str()?.to_string(),
                ))
            })
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
    let cal_of = |c: &Calendars, id: &str| {
        c.calendars
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.id.clone())
    };
    let expand = q.get("$expand").map(|e| quoted(e)).unwrap_or_default();
    match (method.clone(), r) {
        (Method::GET, ["calendars"]) => ok(
            StatusCode::OK,
            json!({"value": c.calendars.iter().map(|x| json!({"id": x.id, "name": x.name, "isDefaultCalendar": x.is_default, "canEdit": true})).collect::<Vec<_>>()}),
        ),
        (Method::POST, ["calendars"]) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let Some(name) = v["name"].as_str().filter(|n| !n.is_empty()) else {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidArgument",
                    "name is required.",
                );
            };
            if c.calendars
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(name))
            {
                return err(
                    StatusCode::CONFLICT,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                );
            }
            let id = next_id("AAMkCAL");
            c.calendars.push(FakeCalendar {
                id: id.clone(),
                name: name.into(),
                is_default: false,
            });
            ok(
                StatusCode::CREATED,
                json!({"id": id, "name": name, "isDefaultCalendar": false}),
            )
        }
        (Method::DELETE, ["calendars", cid]) => {
            let Some(id) = cal_of(c, cid) else {
                return not_found();
            };
            if c.calendars.iter().any(|x| x.id == id && x.is_default) {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorCannotDeleteObject",
                    "The default calendar cannot be deleted.",
                );
            }
            // Deleting a calendar deletes its events: the organizer's meetings are cancelled.
            let gone: Vec<FakeEvent> = c
                .events
                .iter()
                .filter(|e| e.calendar == id)
                .cloned()
                .collect();
            for e in &gone {
                let f = e.fields.clone();
                c.notify("cancellation", e, upn, &f);
            }
            c.events.retain(|e| e.calendar != id);
            c.calendars.retain(|x| x.id != id);
            ok(StatusCode::NO_CONTENT, Value::Null)
        }
        (Method::GET, ["calendars", _, "events"])
        | (Method::GET, ["calendar", "events"])
        | (Method::GET, ["events"]) => {
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
                Some(f)
                    if f.to_ascii_lowercase()
                        .starts_with("singlevalueextendedproperties/any(") =>
                {
                    let v = quoted(f);
                    if v.len() != 2 {
                        return err(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "Invalid filter clause.",
                        );
                    }
                    c.filter_queries += 1;
                    Some((v[0].clone(), v[1].clone()))
                }
                Some(_) => {
                    return err(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "Invalid filter clause.",
                    );
                }
            };
            let top: usize = q
                .get("$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(10)
                .min(1000);
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
            let page: Vec<Value> = all
                .iter()
                .skip(skip)
                .take(top)
                .map(|e| event_json(e, upn, &expand))
                .collect();
            let mut v = json!({"value": page});
            if skip + top < all.len() {
                let mut qs: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$skip")
                    .map(|(k, v)| format!("{k}={}", enc(v)))
                    .collect();
                qs.push(format!("$skip={}", skip + top));
                v["@odata.nextLink"] = json!(format!(
                    "http://{host}/{version}/users/{upn}/{}?{}",
                    r.join("/"),
                    qs.join("&")
                ));
            }
            ok(StatusCode::OK, v)
        }
        (Method::POST, ["calendars", _, "events"])
        | (Method::POST, ["calendar", "events"])
        | (Method::POST, ["events"]) => {
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
                && let Some(e) = c
                    .events
                    .iter()
                    .find(|e| e.fields.get("transactionId").and_then(Value::as_str) == Some(tx))
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
                return err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "The service is temporarily unavailable.",
                );
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
                    .find(|o| {
                        o["originalStart"]
                            .as_str()
                            .is_some_and(|s| s.starts_with(&k))
                    })
                    .map(|o| ok(StatusCode::OK, o))
                    .unwrap_or_else(not_found)
            }
            None => not_found(),
        },
        (Method::GET, ["events", id, "instances"]) => {
            let Some((i, None)) = locate(c, id) else {
                return not_found();
            };
            let (Some(from), Some(to)) = (
                q.get("startDateTime").and_then(|s| parse_t(s)),
                q.get("endDateTime").and_then(|s| parse_t(s)),
            ) else {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidParameter",
                    "startDateTime and endDateTime are required.",
                );
            };
            let e = &c.events[i];
            if !e.is_series() {
                return ok(StatusCode::OK, json!({"value": []}));
            }
            let all = c.occurrences(e, from, to, upn);
            let top: usize = q
                .get("$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(10)
                .min(1000);
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
                v["@odata.nextLink"] = json!(format!(
                    "http://{host}/{version}/users/{upn}/{}?{}",
                    r.join("/"),
                    qs.join("&")
                ));
            }
            ok(StatusCode::OK, v)
        }
        (Method::PATCH, ["events", id]) => {
            let (fields, props) = match event_body(body) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let Some((i, occ)) = locate(c, id) else {
                return not_found();
            };
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
                    let entry = e
                        .exceptions
                        .entry(k.clone())
                        .or_insert_with(|| (oid, Map::new()));
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
                        .find(|o| {
                            o["originalStart"]
                                .as_str()
                                .is_some_and(|s| s.starts_with(&k))
                        })
                        .unwrap_or(Value::Null);
                    ok(StatusCode::OK, o)
                }
            }
        }
        (Method::DELETE, ["events", id]) => {
            let Some((i, occ)) = locate(c, id) else {
                return not_found();
            };
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
            let Some((i, None)) = locate(c, id) else {
                return not_found();
            };
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
            let Some((i, None)) = locate(c, id) else {
                return not_found();
            };
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if v["@odata.type"] != "#microsoft.graph.fileAttachment" {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "Only file attachments are supported here.",
                );
            }
            let Some(bytes) = v["contentBytes"]
                .as_str()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            else {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "contentBytes is not base64.",
                );
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
                content_type: v["contentType"]
                    .as_str()
                    .unwrap_or("application/octet-stream")
                    .into(),
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
