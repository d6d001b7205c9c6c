//! A Google Workspace user's calendars through the Calendar API, on the Gmail endpoint's
//! sign-in (`calendar:default` for the primary calendar, `calendar:<name>` for the other
//! calendars the user owns; calendars of others the user subscribes to are listed, not
//! selectable, so that the plan shows them as not copied).
//!
//! - An item is every event of one iCalUID: the series (or single event), its exceptions
//!   (identity: iCalUID and `originalStartTime`) and its cancelled occurrences, as one
//!   iCalendar text (`gcal_ical`). On a source, a changed event (another etag) is a new
//!   version to copy.
//! - Writing uses `events.import` only (a private copy of the event, keyed by its iCalUID:
//!   importing the same iCalUID again updates it, so a repeated write finds the first), the
//!   series first, then each exception; never `insert`/`update`, which take `sendUpdates`.
//!   Nobody is notified. The source text is kept on the event (private extended properties)
//!   so that it reads back as written; the journal keeps its fingerprint and the events'
//!   etags, so that an event changed on Google since is never overwritten (`item::version`).
//! - Only `default` events can be imported: other event types are refused with a reason.
//! - Every call counts against `calendar_requests_per_minute` before it is sent; 403
//!   `rateLimitExceeded`/`userRateLimitExceeded` and 429 are waited out by the REST layer.

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use super::connector::{GmailConnector, GmailSession};
use super::gcal_ical::{kept_text, render};
use super::ical_gcal::plan;
use super::quota::GmailCall;
use super::wire::{error_of, store_err};
use crate::api::ItemKind;
use crate::endpoint::bounded;
use crate::endpoint::graph::zones;
use crate::endpoint::rest::Call;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, EndpointError, Folder, FolderState, Message, Result,
};
use crate::item::{
    AtDestination, at_destination, collection_folder, collection_of, fingerprint, identity,
};

/// The primary calendar's folder id.
pub(super) const DEFAULT: &str = "default";

/// The events of one iCalUID in the open calendar.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) uid: u32,
    pub(super) ical_uid: String,
    pub(super) parts: Vec<Value>,
}

pub(super) struct CalSel {
    pub(super) folder: String,
    cid: String,
    pub(super) groups: Vec<Group>,
}

/// A user's calendars on one side.
pub struct GoogleCalendars {
    pub(super) c: Arc<GmailConnector>,
    pub(super) user: String,
    pub(super) caps: Capabilities,
    pub(super) sel: Option<CalSel>,
    pub(super) no_keywords: Vec<String>,
}

/// An occurrence's start as one instant (`2026-03-02T08:00:00Z`, or a date), whatever the
/// offset or time zone it is written with.
fn instant_key(v: &Value) -> Option<String> {
    if let Some(d) = v["date"].as_str() {
        return Some(d.to_string());
    }
    let dt = v["dateTime"].as_str()?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(dt) {
        return Some(t.naive_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    let local = chrono::NaiveDateTime::parse_from_str(dt.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()?;
    let zone = v["timeZone"].as_str().unwrap_or("UTC");
    let utc = if zone == "UTC" {
        local
    } else {
        zones::to_utc(local, zone)?
    };
    Some(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// An event to import without the kept text (only the source UID).
fn without_text(ev: &Value) -> Value {
    let mut ev = ev.clone();
    if let Some(p) = ev["extendedProperties"]["private"].as_object_mut() {
        p.retain(|k, _| k == super::gcal_ical::UID_PROP);
    }
    ev
}

/// The parts' etags as one digest (what the journal compares to see a change on Google).
fn digest(parts: &[Value]) -> String {
    let mut tags: Vec<String> = parts
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["id"].as_str().unwrap_or_default(),
                p["etag"].as_str().unwrap_or_default()
            )
        })
        .collect();
    tags.sort();
    let fp = crate::mail::fingerprint::fingerprint(tags.join("\n").as_bytes());
    fp[..fp.len().min(24)].to_string()
}

fn originals(parts: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = parts
        .iter()
        .filter_map(|p| instant_key(&p["originalStartTime"]))
        .collect();
    v.sort();
    v
}

impl GoogleCalendars {
    pub fn new(c: Arc<GmailConnector>, user: &str) -> GoogleCalendars {
        GoogleCalendars {
            c,
            user: user.to_string(),
            caps: Capabilities {
                inexact_sizes: true,
                raw: vec!["GOOGLE-CALENDAR-API".into()],
                ..Capabilities::default()
            },
            sel: None,
            no_keywords: Vec::new(),
        }
    }

    /// The calendars of the user of a Gmail session, on its connector's sign-in.
    pub fn of(mail: &GmailSession) -> GoogleCalendars {
        GoogleCalendars::new(mail.c.clone(), &mail.user)
    }

    pub fn host(&self) -> &str {
        &self.c.cfg.host
    }

    pub(super) fn ctx(&self, op: &str) -> String {
        format!("{op} ({} calendars of {})", self.c.side, self.user)
    }

    /// `calendar/v3/<rest...>` as a URL.
    fn url(&self, rest: &[&str]) -> Url {
        let mut u = self.c.apis.cal_base.clone();
        {
            let mut p = u.path_segments_mut().expect("http(s) base URL");
            p.pop_if_empty();
            p.extend(["calendar", "v3"]);
            p.extend(rest);
        }
        u
    }

    /// One call within the Calendar quota, through the REST layer (token, 401 once,
    /// throttling waited out); any other status is returned with its body.
    async fn call(
        &self,
        op: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let ctx = self.ctx(op);
        let policy = GmailCall {
            quota: &self.c.apis.cal_quota,
            user: &self.user,
            op,
            ctx: &ctx,
            units: 1,
            cap: bounded::JSON_CAP,
            // events.import is an upsert by iCalUID: sent again, it finds the first.
            no_resend: op == "calendars.insert",
        };
        let call = Call {
            account: &self.user,
            op: &ctx,
            auth: true,
        };
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.c
            .rest
            .send(&call, &policy, || {
                let mut req = self.c.rest.http().request(method.clone(), url.clone());
                if let Some(b) = &bytes {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone());
                }
                req
            })
            .await
    }

    fn unexpected(&self, op: &str, st: StatusCode, body: &[u8]) -> EndpointError {
        let (reason, message) = error_of(body);
        if st == StatusCode::FORBIDDEN && reason.contains("insufficientPermissions")
            || message.contains("insufficient authentication scopes")
        {
            return EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "{st}: {message} (the token lacks the Calendar scope: grant {} in the domain-wide delegation)",
                    if self.c.side == "source" {
                        crate::config::permissions::CALENDAR_READ_SCOPE
                    } else {
                        crate::config::permissions::CALENDAR_SCOPE
                    }
                ),
            };
        }
        EndpointError::No {
            op: self.ctx(op),
            message: format!("HTTP {} {reason}: {message}", st.as_u16()),
        }
    }

    fn parse(&self, op: &str, body: &[u8]) -> Result<Value> {
        serde_json::from_slice(body).map_err(|e| EndpointError::Protocol {
            op: self.ctx(op),
            message: format!("unreadable answer from the Calendar API: {e}"),
        })
    }

    /// Every item of a paged list (`items`, `nextPageToken`).
    async fn get_all(&self, op: &str, url: Url) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut u = url.clone();
            if let Some(t) = &token {
                u.query_pairs_mut().append_pair("pageToken", t);
            }
            let (st, body) = self.call(op, Method::GET, u, None).await?;
            if st == StatusCode::NOT_FOUND {
                return Err(EndpointError::NoFolder {
                    op: self.ctx(op),
                    folder: url.path().to_string(),
                    server: None,
                });
            }
            if !st.is_success() {
                return Err(self.unexpected(op, st, &body));
            }
            let v = self.parse(op, &body)?;
            out.extend(v["items"].as_array().cloned().unwrap_or_default());
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// The calendars in the user's list: (folder, calendar id), the ones the user does not
    /// own not selectable.
    pub(super) async fn calendars(&self) -> Result<Vec<(Folder, String)>> {
        let mut url = self.url(&["users", "me", "calendarList"]);
        url.query_pairs_mut().append_pair("maxResults", "250");
        let listed = self.get_all("calendarList.list", url).await?;
        let mut out = Vec::new();
        for v in listed {
            let Some(id) = v["id"].as_str() else { continue };
            let name = v["summaryOverride"]
                .as_str()
                .or(v["summary"].as_str())
                .unwrap_or(id);
            let primary = v["primary"].as_bool() == Some(true);
            let owned = v["accessRole"].as_str() == Some("owner");
            let key = if primary {
                DEFAULT
            } else if owned && !name.is_empty() && name != DEFAULT && !name.contains('/') {
                name
            } else {
                id
            };
            out.push((
                Folder {
                    wire_name: collection_folder(ItemKind::Event, key),
                    path: vec!["Calendar".into(), name.into()],
                    delimiter: Some('/'),
                    special: None,
                    selectable: primary || owned,
                },
                id.to_string(),
            ));
        }
        out.sort_by(|a, b| a.0.wire_name.cmp(&b.0.wire_name));
        out.dedup_by(|a, b| a.0.wire_name == b.0.wire_name);
        Ok(out)
    }

    async fn calendar_id(&self, folder: &str, op: &str) -> Result<String> {
        match self
            .calendars()
            .await?
            .into_iter()
            .find(|(f, _)| f.wire_name == folder && f.selectable)
        {
            Some((_, id)) => Ok(id),
            None => Err(EndpointError::NoFolder {
                op: self.ctx(op),
                folder: folder.to_string(),
                server: None,
            }),
        }
    }

    /// List a calendar's events, group them by iCalUID and give each group its journal UID.
    pub(super) async fn select(&mut self, folder: &str, op: &str) -> Result<FolderState> {
        let cid = self.calendar_id(folder, op).await?;
        let mut url = self.url(&["calendars", &cid, "events"]);
        url.query_pairs_mut()
            .append_pair("maxResults", "2500")
            .append_pair("showDeleted", "false");
        let listed = self.get_all("events.list", url).await?;
        let mut by_uid: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for v in listed {
            let Some(u) = v["iCalUID"].as_str().map(str::to_string) else {
                continue;
            };
            by_uid.entry(u).or_default().push(v);
        }
        // Cancelled occurrences alone (their series not in this calendar) are no item.
        by_uid.retain(|_, parts| parts.iter().any(|p| p["status"] != "cancelled"));
        let source = self.c.side == "source";
        let keys: Vec<String> = by_uid
            .iter()
            .map(|(u, parts)| {
                if source {
                    format!("{u} {}", digest(parts))
                } else {
                    u.clone()
                }
            })
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (side, user) = (self.c.side, self.user.clone());
        let uids = self
            .c
            .store
            .ref_uids(side, &user, folder, &refs)
            .map_err(store_err(op))?;
        let (validity, next) = self
            .c
            .store
            .ref_folder(side, &user, folder)
            .map_err(store_err(op))?;
        let mut groups: Vec<Group> = by_uid
            .into_iter()
            .zip(uids)
            .map(|((ical_uid, parts), uid)| Group {
                uid,
                ical_uid,
                parts,
            })
            .collect();
        groups.sort_by_key(|g| g.uid);
        let exists = groups.len() as u32;
        self.sel = Some(CalSel {
            folder: folder.to_string(),
            cid,
            groups,
        });
        Ok(FolderState {
            uidvalidity: validity,
            uidnext: next,
            exists,
        })
    }

    /// The groups of the open calendar among `uids` (all from `from_uid` when empty).
    pub(super) fn chosen(&self, uids: &[u32], from_uid: u32) -> Vec<Group> {
        let Some(sel) = &self.sel else {
            return Vec::new();
        };
        sel.groups
            .iter()
            .filter(|g| crate::endpoint::types::in_selection(g.uid, uids, from_uid))
            .cloned()
            .collect()
    }

    /// A group's iCalendar text: on a destination, the text cutover kept on it while the
    /// events are as it left them (same etags); else rendered from their fields.
    pub(super) fn text_of(&self, g: &Group) -> Result<Vec<u8>> {
        if self.c.side != "source"
            && let Some(sel) = &self.sel
        {
            let written = self
                .c
                .store
                .ref_written(self.c.side, &self.user, &sel.folder, &g.ical_uid)
                .map_err(store_err("read event"))?;
            let unchanged = match written.as_deref().and_then(|w| w.split_once(' ')) {
                Some((_, d)) => d == "-" || d == digest(&g.parts),
                None => true,
            };
            let master = g
                .parts
                .iter()
                .find(|p| p["originalStartTime"].is_null())
                .or(g.parts.first());
            if unchanged && let Some(k) = master.and_then(kept_text) {
                return Ok(k.into_bytes());
            }
        }
        Ok(render(&g.parts).into_bytes())
    }

    fn stored(&self, folder: &str, uid: &str, written: &str) -> Result<AppendOutcome> {
        let op = "events.import";
        let (side, user) = (self.c.side, self.user.as_str());
        let uids = self
            .c
            .store
            .ref_uids(side, user, folder, &[uid])
            .map_err(store_err(op))?;
        self.c
            .store
            .set_ref_written(side, user, folder, uid, written)
            .map_err(store_err(op))?;
        let (validity, _) = self
            .c
            .store
            .ref_folder(side, user, folder)
            .map_err(store_err(op))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(validity),
            uid: uids.first().copied(),
        })
    }

    /// Write one item to the open calendar (see the module's documentation).
    pub(super) async fn write(&mut self, folder: &str, m: &Message) -> Result<AppendOutcome> {
        let op = "events.import";
        let body = m.body.bytes();
        let id = identity(ItemKind::Event, body);
        let what = |why: &str| format!("this event ({}) {why}", id.describe());
        let Some(uid) = id.uid.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(AppendOutcome::Refused {
                reason: what("has no UID; not copied"),
            });
        };
        let text = String::from_utf8_lossy(body).into_owned();
        let parts = match plan(&text, &uid) {
            Ok(p) => p,
            Err(why) => {
                return Ok(AppendOutcome::Refused {
                    reason: what(&format!("{why}; not copied")),
                });
            }
        };
        let fp = fingerprint(ItemKind::Event, body);
        let (side, user) = (self.c.side, self.user.clone());
        self.c
            .store
            .ref_uids(side, &user, folder, &[uid.as_str()])
            .map_err(store_err(op))?;
        let written = self
            .c
            .store
            .ref_written(side, &user, folder, &uid)
            .map_err(store_err(op))?
            .filter(|w| !w.is_empty());
        let there = self
            .sel
            .as_ref()
            .and_then(|s| s.groups.iter().find(|g| g.ical_uid == uid))
            .cloned();
        let unfinished = |g: &Group| {
            let master = g.parts.iter().find(|p| p["originalStartTime"].is_null());
            master.and_then(kept_text).is_none()
                && written.as_deref().is_some_and(|w| w.ends_with(" -"))
        };
        if let Some(g) = there.as_ref().filter(|g| !unfinished(g)) {
            let theirs = fingerprint(ItemKind::Event, &self.text_of(g)?);
            let our_fp = written.as_deref().map(|w| w.split(' ').next().unwrap_or(w));
            let complete = {
                let have = originals(&g.parts);
                originals(&parts).iter().all(|k| have.contains(k))
            };
            match at_destination(&fp, &theirs, our_fp) {
                AtDestination::Same if complete => {
                    return self.stored(folder, &uid, &format!("{fp} {}", digest(&g.parts)));
                }
                AtDestination::Same | AtDestination::OursOlder => {}
                found => {
                    let this = format!("this event ({})", id.describe());
                    let reason = found
                        .refusal(&this)
                        .unwrap_or_else(|| what("is on the destination already"));
                    // A user's edit of cutover's copy is kept (a warning).
                    return Ok(if found == AtDestination::ChangedThere {
                        AppendOutcome::Kept { reason }
                    } else {
                        AppendOutcome::Refused { reason }
                    });
                }
            }
        }
        // Journalled before anything is sent: what a kill leaves is recognised as ours.
        self.c
            .store
            .set_ref_written(side, &user, folder, &uid, &format!("{fp} -"))
            .map_err(store_err(op))?;
        let cid = match &self.sel {
            Some(s) if s.folder == folder => s.cid.clone(),
            _ => self.calendar_id(folder, op).await?,
        };
        let mut url = self.url(&["calendars", &cid, "events", "import"]);
        url.query_pairs_mut()
            .append_pair("supportsAttachments", "true")
            .append_pair("conferenceDataVersion", "0");
        let mut answers: Vec<Value> = Vec::new();
        let mut series_id: Option<String> = None;
        // A series with exceptions: first without the kept text, its exceptions, then the
        // series again with it (an import of the same iCalUID updates it). The kept text,
        // written last, marks the item complete: a kill in between leaves a series that
        // reads as unfinished, completed by the next run.
        let mut steps = parts.clone();
        if parts.len() > 1 {
            steps[0] = without_text(&parts[0]);
            steps.push(parts[0].clone());
        }
        for mut ev in steps {
            if !ev["originalStartTime"].is_null()
                && let Some(sid) = &series_id
            {
                ev["recurringEventId"] = json!(sid);
            }
            let (st, resp) = match self.call(op, Method::POST, url.clone(), Some(&ev)).await {
                Ok(r) => r,
                Err(e @ (EndpointError::Throttled { .. } | EndpointError::Auth { .. })) => {
                    return Ok(AppendOutcome::Failed { error: e });
                }
                Err(e) => return Err(e),
            };
            if st == StatusCode::NOT_FOUND {
                return Ok(AppendOutcome::Failed {
                    error: EndpointError::NoFolder {
                        op: self.ctx(op),
                        folder: folder.to_string(),
                        server: None,
                    },
                });
            }
            if st == StatusCode::BAD_REQUEST {
                let (reason, message) = error_of(&resp);
                return Ok(AppendOutcome::Refused {
                    reason: what(&format!(
                        "was refused by the Calendar API ({reason}: {message}); not copied"
                    )),
                });
            }
            if !st.is_success() {
                return Ok(AppendOutcome::Failed {
                    error: self.unexpected(op, st, &resp),
                });
            }
            let v = self.parse(op, &resp)?;
            if v["originalStartTime"].is_null() {
                series_id = v["id"].as_str().map(str::to_string);
                answers.retain(|a| a["id"] != v["id"]);
            }
            answers.push(v);
        }
        self.stored(folder, &uid, &format!("{fp} {}", digest(&answers)))
    }

    /// Delete the events of these items (rollback): the series (its exceptions go with it)
    /// or each event; `sendUpdates=none`, and they were imported: nobody is told.
    pub(super) async fn expunge(&mut self, uids: &[u32]) -> Result<()> {
        let op = "events.delete";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        let Some(sel) = &self.sel else {
            return Ok(());
        };
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.user, &sel.folder, uids)
            .map_err(store_err(op))?;
        let mut ids = Vec::new();
        for (_, key) in refs {
            let Some(g) = sel.groups.iter().find(|g| g.ical_uid == key) else {
                continue;
            };
            match g.parts.iter().find(|p| p["originalStartTime"].is_null()) {
                Some(m) => ids.extend(m["id"].as_str().map(str::to_string)),
                None => ids.extend(
                    g.parts
                        .iter()
                        .filter_map(|p| p["id"].as_str().map(str::to_string)),
                ),
            }
        }
        let cid = sel.cid.clone();
        for id in ids {
            let mut url = self.url(&["calendars", &cid, "events", &id]);
            url.query_pairs_mut().append_pair("sendUpdates", "none");
            let (st, body) = self.call(op, Method::DELETE, url, None).await?;
            if !(st.is_success() || st == StatusCode::NOT_FOUND || st == StatusCode::GONE) {
                return Err(self.unexpected(op, st, &body));
            }
        }
        Ok(())
    }

    /// Create a calendar named after the folder (the primary one always exists).
    pub(super) async fn create(&mut self, folder: &str) -> Result<bool> {
        let op = "calendars.insert";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        let Some((_, name)) = collection_of(folder) else {
            return Ok(false);
        };
        if name == DEFAULT || self.calendar_id(folder, op).await.is_ok() {
            return Ok(false);
        }
        let (st, body) = self
            .call(
                op,
                Method::POST,
                self.url(&["calendars"]),
                Some(&json!({ "summary": name })),
            )
            .await?;
        if !st.is_success() {
            return Err(self.unexpected(op, st, &body));
        }
        Ok(true)
    }

    /// Delete a calendar cutover created (never the primary one).
    pub(super) async fn delete(&mut self, folder: &str) -> Result<()> {
        let op = "calendars.delete";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        if collection_of(folder).map(|x| x.1) == Some(DEFAULT) {
            return Ok(());
        }
        let cid = self.calendar_id(folder, op).await?;
        let (st, body) = self
            .call(op, Method::DELETE, self.url(&["calendars", &cid]), None)
            .await?;
        if !(st.is_success() || st == StatusCode::NOT_FOUND) {
            return Err(self.unexpected(op, st, &body));
        }
        if self.sel.as_ref().is_some_and(|s| s.folder == folder) {
            self.sel = None;
        }
        Ok(())
    }
}

pub(super) fn read_only(op: &str) -> EndpointError {
    EndpointError::Protocol {
        op: op.into(),
        message: "a source is only read; cutover never writes to it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_compare_whatever_their_offset() {
        let a = json!({"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Berlin"});
        let b = json!({"dateTime": "2026-03-02T08:00:00Z", "timeZone": "Europe/Berlin"});
        let c = json!({"dateTime": "2026-03-02T09:00:00+01:00"});
        assert_eq!(instant_key(&a), instant_key(&b));
        assert_eq!(instant_key(&b), instant_key(&c));
        assert_eq!(
            instant_key(&json!({"date": "2026-03-02"})).as_deref(),
            Some("2026-03-02")
        );
        let p = [
            json!({"id": "a", "etag": "1"}),
            json!({"id": "b", "etag": "2"}),
        ];
        let q = [
            json!({"id": "b", "etag": "2"}),
            json!({"id": "a", "etag": "1"}),
        ];
        assert_eq!(digest(&p), digest(&q));
    }
}
