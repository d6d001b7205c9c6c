//! A mailbox's calendars (`calendar:default` for the default calendar, `calendar:<name>` for
//! the others), each event series (master, exceptions, cancelled occurrences) or single event
//! one item whose body is an iCalendar text (see `ical_graph` and `graph_ical`).
//!
//! - UIDs: an event's Graph id (with its changeKey on a source: a changed event is a new
//!   version to copy) gets a journal UID, as messages do.
//! - Identity: the source UID cutover stored on it ([`EVENT_UID_PROP`]), else `iCalUId`.
//! - Writing one item takes steps, each safe to redo after a kill: the create of the series
//!   master (journalled before it is sent, with a `transactionId` derived from the mailbox,
//!   calendar, UID and content, so that a create whose answer was lost returns the first
//!   event; a UID journalled already is first searched for by its extended property), then
//!   each exception (its occurrence found by its original start through `/instances`, then
//!   PATCHed: the same values again change nothing), each cancelled occurrence (DELETEd;
//!   one not among the instances any more is done), each attachment missing by name, and
//!   last the source text ([`EVENT_ICAL_PROP`]): an event without it is an unfinished
//!   create, completed by the next run.
//! - No one is ever notified: cutover never writes Graph attendees (Graph invites them on a
//!   create and tells them of every change); a meeting's organizer and attendees go into
//!   the body's text and [`EVENT_PEOPLE_PROP`]. An event without attendees is created,
//!   changed and deleted silently, rollback included.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use super::connector::GraphSession;
use super::ical_graph::{Plan, kept_text, plan, restored_text};
use super::types::{
    CalSel, EVENT_ICAL_PROP, EVENT_PEOPLE_PROP, EVENT_UID_PROP, EventItem, PAGE, event_replacing,
    event_sent,
};
use super::wire::{enc, read_only};
use crate::api::ItemKind;
use crate::endpoint::types::{AppendOutcome, EndpointError, Folder, FolderState, Message, Result};
use crate::item::{collection_folder, collection_of, fingerprint, identity};

/// The default calendar's name.
const DEFAULT: &str = "default";
use super::types::ATTACH_MAX;

fn expand() -> String {
    format!(
        "$expand={}",
        enc(&format!(
            "singleValueExtendedProperties($filter=id eq '{EVENT_UID_PROP}' or id eq '{EVENT_ICAL_PROP}' or id eq '{EVENT_PEOPLE_PROP}')"
        ))
    )
}

pub(super) fn prop(v: &Value, id: &str) -> Option<String> {
    v["singleValueExtendedProperties"]
        .as_array()?
        .iter()
        .find(|p| p["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .and_then(|p| p["value"].as_str())
        .map(str::to_string)
}

fn not_found(e: &EndpointError) -> bool {
    matches!(e, EndpointError::No { message, .. } if message.contains("HTTP 404"))
}

/// The original start of a listed occurrence, as `ical_graph::key` writes it.
fn original_key(v: &Value) -> Option<String> {
    let s = v["originalStart"].as_str()?;
    Some(s.get(..19)?.to_string())
}

/// Whether a listed event (a single event, or a series with any occurrence) ends on or after
/// `since` (UTC): `calendar_since` keeps a series whole when any occurrence does.
fn ends_on_or_after(v: &Value, since: chrono::NaiveDateTime) -> bool {
    let utc = |f: &str| {
        chrono::NaiveDateTime::parse_from_str(
            v[f]["dateTime"].as_str()?.get(..19)?,
            "%Y-%m-%dT%H:%M:%S",
        )
        .ok()
        .and_then(|t| super::zones::to_utc(t, v[f]["timeZone"].as_str().unwrap_or("UTC")))
    };
    let (Some(start), Some(end)) = (utc("start"), utc("end")) else {
        return true;
    };
    let rec = &v["recurrence"];
    if v["type"].as_str() != Some("seriesMaster") || rec.is_null() {
        return end >= since;
    }
    match rec["range"]["type"].as_str() {
        Some("noEnd") => true,
        _ => {
            let zone = v["originalStartTimeZone"].as_str().unwrap_or("UTC");
            let first = super::zones::from_utc(start, zone).unwrap_or(start);
            let far = since + chrono::Duration::days(366 * 10);
            super::recur::occurrences(rec, first, zone, far)
                .last()
                .is_none_or(|last| *last + (end - start) >= since)
        }
    }
}

impl GraphSession {
    /// The calendars (with their Graph ids).
    pub(super) async fn calendars(&mut self) -> Result<Vec<(Folder, String)>> {
        let listed = self
            .get_all(
                "list calendars",
                &self.url("/calendars?$top=250&$select=id,name,isDefaultCalendar"),
            )
            .await?;
        let mut out = Vec::new();
        for v in listed {
            let (Some(id), Some(name)) = (v["id"].as_str(), v["name"].as_str()) else {
                continue;
            };
            let default = v["isDefaultCalendar"].as_bool() == Some(true);
            if !default && (name == DEFAULT || name.is_empty()) {
                continue;
            }
            out.push((
                Folder {
                    wire_name: collection_folder(
                        ItemKind::Event,
                        if default { DEFAULT } else { name },
                    ),
                    path: vec!["Calendar".into(), name.into()],
                    delimiter: Some('/'),
                    special: None,
                    selectable: true,
                },
                id.to_string(),
            ));
        }
        out.sort_by(|a, b| a.0.wire_name.cmp(&b.0.wire_name));
        Ok(out)
    }

    /// A calendar's Graph id; NoFolder when absent. A name that differs from the default
    /// calendar's only by case is the default calendar (Exchange's names ignore case).
    async fn calendar_id(&mut self, folder: &str, op: &str) -> Result<String> {
        let all = self.calendars().await?;
        if let Some((_, id)) = all.iter().find(|(f, _)| f.wire_name == folder) {
            return Ok(id.clone());
        }
        let name = collection_of(folder).map(|x| x.1).unwrap_or_default();
        let default = collection_folder(ItemKind::Event, DEFAULT);
        if let Some((_, id)) = all.iter().find(|(f, _)| {
            f.wire_name == default && f.path.last().is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            return Ok(id.clone());
        }
        Err(EndpointError::NoFolder {
            op: op.into(),
            folder: folder.into(),
            server: None,
        })
    }

    fn event_item(v: Value, uid: u32) -> EventItem {
        EventItem {
            uid,
            id: v["id"].as_str().unwrap_or_default().to_string(),
            source_uid: prop(&v, EVENT_UID_PROP),
            ical: prop(&v, EVENT_ICAL_PROP),
            json: v,
        }
    }

    /// List a calendar (single events and series masters) and give its events their UIDs.
    pub(super) async fn calendar_select(&mut self, folder: &str, op: &str) -> Result<FolderState> {
        let cid = self.calendar_id(folder, op).await?;
        let url = self.url(&format!(
            "/calendars/{}/events?$top={PAGE}&{}",
            enc(&cid),
            expand()
        ));
        let mut listed = self.get_all("list events", &url).await?;
        listed.retain(|v| v["id"].as_str().is_some());
        if self.c.side == "source"
            && let Some(since) = self.c.items.calendar_since
        {
            let since = since.and_hms_opt(0, 0, 0).unwrap_or_default();
            listed.retain(|v| ends_on_or_after(v, since));
        }
        listed.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        let source = self.c.side == "source";
        let keys: Vec<String> = listed
            .iter()
            .map(|v| {
                let id = v["id"].as_str().unwrap_or_default();
                match v["changeKey"].as_str() {
                    Some(ck) if source => format!("{id} {ck}"),
                    _ => id.to_string(),
                }
            })
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, folder, &refs)
            .map_err(|e| self.store_err(e))?;
        let (validity, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        let mut items: Vec<EventItem> = listed
            .into_iter()
            .zip(uids)
            .map(|(v, u)| Self::event_item(v, u))
            .collect();
        items.sort_by_key(|i| i.uid);
        let exists = items.len() as u32;
        self.calendar = Some(CalSel {
            folder: folder.to_string(),
            cid,
            items,
        });
        Ok(FolderState {
            uidvalidity: validity,
            uidnext: next,
            exists,
        })
    }

    fn cal_sel(&self, op: &str) -> Result<&CalSel> {
        self.calendar
            .as_ref()
            .ok_or_else(|| EndpointError::Protocol {
                op: op.into(),
                message: "no calendar is open".into(),
            })
    }

    /// The events of the open calendar among `uids` (all from `from_uid` when empty).
    pub(super) fn chosen_events(&self, uids: &[u32], from_uid: u32) -> Vec<EventItem> {
        let Some(sel) = &self.calendar else {
            return Vec::new();
        };
        sel.items
            .iter()
            .filter(|i| crate::endpoint::types::in_selection(i.uid, uids, from_uid))
            .cloned()
            .collect()
    }

    /// An event's file attachments: (name, media type, bytes), in their order.
    pub(super) async fn event_attachments(
        &self,
        id: &str,
    ) -> Result<Vec<(String, String, Vec<u8>)>> {
        use base64::Engine as _;
        let listed = self
            .get_all(
                "list event attachments",
                &self.url(&format!("/events/{}/attachments", enc(id))),
            )
            .await?;
        Ok(listed
            .iter()
            .filter_map(|a| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(a["contentBytes"].as_str()?)
                    .ok()?;
                Some((
                    a["name"].as_str().unwrap_or("attachment").to_string(),
                    a["contentType"]
                        .as_str()
                        .unwrap_or("application/octet-stream")
                        .to_string(),
                    bytes,
                ))
            })
            .collect())
    }

    /// The iCalendar text of a listed event: the source text cutover stored on it (its
    /// attachments' bytes put back), else rendered from Graph's fields.
    pub(super) async fn event_ical(&self, i: &EventItem) -> Result<Vec<u8>> {
        if let Some(kept) = &i.ical {
            let empty_binary = kept.contains("VALUE=BINARY");
            let bytes: Vec<Vec<u8>> = if empty_binary {
                self.event_attachments(&i.id)
                    .await?
                    .into_iter()
                    .map(|a| a.2)
                    .collect()
            } else {
                Vec::new()
            };
            return Ok(restored_text(kept, &bytes).into_bytes());
        }
        self.render_event(i).await
    }

    /// The occurrences of a series in a window, by original start.
    pub(super) async fn instances(
        &self,
        id: &str,
        from: chrono::NaiveDateTime,
        to: chrono::NaiveDateTime,
    ) -> Result<BTreeMap<String, Value>> {
        let f = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let url = self.url(&format!(
            "/events/{}/instances?startDateTime={}&endDateTime={}&$top={PAGE}",
            enc(id),
            enc(&f(from)),
            enc(&f(to))
        ));
        let listed = self.get_all("list occurrences", &url).await?;
        Ok(listed
            .into_iter()
            .filter_map(|v| Some((original_key(&v)?, v)))
            .collect())
    }

    fn event_stored(
        &self,
        folder: &str,
        uid: &str,
        id: &str,
        fp: &str,
        ck: &str,
    ) -> Result<AppendOutcome> {
        let side = self.c.side;
        let replacing = event_replacing(folder);
        let old = self
            .c
            .store
            .ref_written(side, &self.upn, &replacing, uid)
            .map_err(|e| self.store_err(e))?
            .filter(|o| !o.is_empty());
        if let Some(old) = old {
            // The replaced event's journal UID names the new one.
            if old != id {
                self.c
                    .store
                    .move_ref(side, &self.upn, folder, &old, id)
                    .map_err(|e| self.store_err(e))?;
            }
            self.c
                .store
                .set_ref_written(side, &self.upn, &replacing, uid, "")
                .map_err(|e| self.store_err(e))?;
        }
        let uids = self
            .c
            .store
            .ref_uids(side, &self.upn, folder, &[id])
            .map_err(|e| self.store_err(e))?;
        self.c
            .store
            .set_ref_written(side, &self.upn, folder, id, &format!("{fp} {ck}"))
            .map_err(|e| self.store_err(e))?;
        let (validity, _) = self
            .c
            .store
            .ref_folder(side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(validity),
            uid: uids.first().copied(),
        })
    }

    /// The event of the open calendar that carries this source UID: as listed, else
    /// (`search`) looked up on the service by the extended property.
    async fn event_with_uid(&self, uid: &str, search: bool) -> Result<Option<EventItem>> {
        let sel = self.cal_sel("write event")?;
        if let Some(i) = sel
            .items
            .iter()
            .find(|i| i.source_uid.as_deref() == Some(uid))
        {
            return Ok(Some(i.clone()));
        }
        if !search {
            return Ok(None);
        }
        let filter = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq '{EVENT_UID_PROP}' and ep/value eq '{}')",
            uid.replace('\'', "''")
        );
        let url = self.url(&format!(
            "/calendars/{}/events?$filter={}&{}",
            enc(&sel.cid),
            enc(&filter),
            expand()
        ));
        let found = self.get_all("find event", &url).await?;
        Ok(found.into_iter().next().map(|v| Self::event_item(v, 0)))
    }

    /// The steps after the create (see the module's documentation), each safe to redo;
    /// Err(Some(reason)) when the item cannot be written as it is. The changeKey after.
    async fn event_finish(
        &self,
        id: &str,
        p: &Plan,
        text: &str,
    ) -> Result<std::result::Result<String, String>> {
        if !p.exceptions.is_empty() || !p.cancelled.is_empty() {
            let (from, to) = p.window.unwrap_or_default();
            let occ = self.instances(id, from, to).await?;
            for (k, patch) in &p.exceptions {
                let Some(o) = occ.get(k) else {
                    return Ok(Err(format!(
                        "has an exception (RECURRENCE-ID {k} UTC) that is not an occurrence of its series on Microsoft 365"
                    )));
                };
                let oid = o["id"].as_str().unwrap_or_default();
                self.call(
                    "change occurrence",
                    Method::PATCH,
                    &self.url(&format!("/events/{}", enc(oid))),
                    Some(patch),
                )
                .await?;
            }
            for k in &p.cancelled {
                // Not among the occurrences: deleted by an earlier run (or never one).
                let Some(o) = occ.get(k) else { continue };
                let oid = o["id"].as_str().unwrap_or_default();
                match self
                    .call(
                        "delete occurrence",
                        Method::DELETE,
                        &self.url(&format!("/events/{}", enc(oid))),
                        None,
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if !p.attachments.is_empty() {
            use base64::Engine as _;
            let there: BTreeSet<String> = self
                .get_all(
                    "list event attachments",
                    &self.url(&format!("/events/{}/attachments?$select=name", enc(id))),
                )
                .await?
                .iter()
                .filter_map(|a| a["name"].as_str().map(str::to_string))
                .collect();
            for (name, mime, bytes) in &p.attachments {
                if there.contains(name) {
                    continue;
                }
                self.call(
                    "add event attachment",
                    Method::POST,
                    &self.url(&format!("/events/{}/attachments", enc(id))),
                    Some(&json!({
                        "@odata.type": "#microsoft.graph.fileAttachment",
                        "name": name,
                        "contentType": mime,
                        "contentBytes": base64::engine::general_purpose::STANDARD.encode(bytes),
                    })),
                )
                .await?;
            }
        }
        let (_, v) = self
            .call(
                "complete event",
                Method::PATCH,
                &self.url(&format!("/events/{}", enc(id))),
                Some(&json!({"singleValueExtendedProperties": [
                    {"id": EVENT_ICAL_PROP, "value": kept_text(text)}
                ]})),
            )
            .await?;
        Ok(Ok(v["changeKey"].as_str().unwrap_or_default().to_string()))
    }

    /// Delete an event cutover created (it has no attendees: nobody is told).
    async fn delete_event(&self, id: &str) -> Result<()> {
        match self
            .call(
                "delete event",
                Method::DELETE,
                &self.url(&format!("/events/{}", enc(id))),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Write one event series (or single event) to the open calendar.
    pub(super) async fn write_event(&mut self, folder: &str, m: &Message) -> Result<AppendOutcome> {
        let body = m.body.bytes();
        let id = identity(ItemKind::Event, body);
        let what = |why: &str| format!("this event ({}) {why}", id.describe());
        let Some(uid) = id.uid.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(AppendOutcome::Refused {
                reason: what("has no UID; not copied"),
            });
        };
        let text = String::from_utf8_lossy(body).into_owned();
        let p = match plan(&text) {
            Ok(p) => p,
            Err(why) => {
                return Ok(AppendOutcome::Refused {
                    reason: what(&format!("{why}; not copied")),
                });
            }
        };
        if let Some((name, _, b)) = p.attachments.iter().find(|a| a.2.len() > ATTACH_MAX) {
            return Ok(AppendOutcome::Refused {
                reason: what(&format!(
                    "has the attachment {name} of {} bytes, over the 3 MB Microsoft 365 takes on an event; not copied",
                    b.len()
                )),
            });
        }
        let fp = fingerprint(ItemKind::Event, body);
        let side = self.c.side;
        let sent = event_sent(folder);
        self.c
            .store
            .ref_uids(side, &self.upn, &sent, &[uid.as_str()])
            .map_err(|e| self.store_err(e))?;
        let tried = self
            .c
            .store
            .ref_written(side, &self.upn, &sent, &uid)
            .map_err(|e| self.store_err(e))?;
        if let Some(there) = self.event_with_uid(&uid, tried.is_some()).await? {
            if there.ical.is_none() && tried.as_deref() == Some(fp.as_str()) {
                // Cutover's own create of this version, interrupted before its last step.
                return self
                    .event_complete(folder, &uid, &there.id, &p, &text, &what)
                    .await;
            }
            match self.event_there(folder, &there, &fp, &uid).await? {
                Some(out) => return Ok(out),
                None => {
                    // Replaced: journalled first, so that the new event keeps the old one's
                    // journal UID even when a kill comes between the delete and the create.
                    let replacing = event_replacing(folder);
                    self.c
                        .store
                        .ref_uids(side, &self.upn, &replacing, &[uid.as_str()])
                        .map_err(|e| self.store_err(e))?;
                    let pending = self
                        .c
                        .store
                        .ref_written(side, &self.upn, &replacing, &uid)
                        .map_err(|e| self.store_err(e))?
                        .filter(|o| !o.is_empty());
                    if pending.is_none() {
                        self.c
                            .store
                            .set_ref_written(side, &self.upn, &replacing, &uid, &there.id)
                            .map_err(|e| self.store_err(e))?;
                    }
                    self.delete_event(&there.id).await?;
                }
            }
        }
        // Journalled before it is sent: a lost answer is searched for, never sent blindly.
        self.c
            .store
            .set_ref_written(side, &self.upn, &sent, &uid, &fp)
            .map_err(|e| self.store_err(e))?;
        let mut new = p.master.clone();
        let mut props = vec![json!({"id": EVENT_UID_PROP, "value": uid})];
        if let Some(people) = &p.people {
            props.push(json!({"id": EVENT_PEOPLE_PROP, "value": people}));
        }
        new["singleValueExtendedProperties"] = json!(props);
        // A replacement's create differs from the replaced one's (same content again after
        // a change back must not be answered with the deleted event).
        let replaced = self
            .c
            .store
            .ref_written(side, &self.upn, &event_replacing(folder), &uid)
            .map_err(|e| self.store_err(e))?
            .unwrap_or_default();
        let tx = crate::mail::fingerprint::fingerprint(
            format!("{}\n{folder}\n{uid}\n{fp}\n{replaced}", self.upn).as_bytes(),
        );
        new["transactionId"] = json!(format!("cutover-{}", &tx[..tx.len().min(40)]));
        let cid = self.cal_sel("write event")?.cid.clone();
        let url = self.url(&format!("/calendars/{}/events", enc(&cid)));
        let created = match self
            .call("create event", Method::POST, &url, Some(&new))
            .await
        {
            Ok((_, v)) => v,
            Err(EndpointError::No { message, .. }) if !message.contains("HTTP 5") => {
                return Ok(AppendOutcome::Refused {
                    reason: what(&format!("was refused by Graph: {message}")),
                });
            }
            Err(e) => return Err(e),
        };
        let Some(eid) = created["id"].as_str().map(str::to_string) else {
            return Err(EndpointError::Protocol {
                op: "create event".into(),
                message: "Graph's answer has no event id".into(),
            });
        };
        self.event_complete(folder, &uid, &eid, &p, &text, &what)
            .await
    }

    async fn event_complete(
        &self,
        folder: &str,
        uid: &str,
        eid: &str,
        p: &Plan,
        text: &str,
        what: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<AppendOutcome> {
        let fp = fingerprint(ItemKind::Event, text.as_bytes());
        match self.event_finish(eid, p, text).await? {
            Ok(ck) => self.event_stored(folder, uid, eid, &fp, &ck),
            Err(why) => {
                // Never left half-written: the series cutover created goes (silently: it
                // has no attendees).
                self.delete_event(eid).await?;
                Ok(AppendOutcome::Refused {
                    reason: what(&format!("{why}; not copied")),
                })
            }
        }
    }

    /// An event with the source UID is in the calendar already (see `item::version`):
    /// Some(outcome) when it is the same or must not be touched; None when it is what
    /// cutover wrote, unchanged since, and is to be replaced by the newer version.
    async fn event_there(
        &self,
        folder: &str,
        there: &EventItem,
        fp: &str,
        uid: &str,
    ) -> Result<Option<AppendOutcome>> {
        let side = self.c.side;
        let ours = self
            .c
            .store
            .ref_written(side, &self.upn, folder, &there.id)
            .map_err(|e| self.store_err(e))?;
        let their_ck = there.json["changeKey"].as_str().unwrap_or_default();
        let (our_fp, our_ck) = match ours.as_deref() {
            Some(w) => {
                let (f, c) = w.split_once(' ').unwrap_or((w, ""));
                (Some(f.to_string()), c.to_string())
            }
            None => (None, String::new()),
        };
        if there.ical.is_none() {
            // Cutover's unfinished create of an older version: replaced.
            return Ok(None);
        }
        let theirs = fingerprint(ItemKind::Event, &self.event_ical(there).await?);
        if theirs == fp {
            let ck = if our_fp.as_deref() == Some(fp) {
                our_ck
            } else {
                their_ck.to_string()
            };
            return self.event_stored(folder, uid, &there.id, fp, &ck).map(Some);
        }
        if our_fp.as_deref() != Some(theirs.as_str()) || our_ck != their_ck {
            let why = if ours.is_some() {
                "was changed on the destination since cutover wrote it"
            } else {
                "is on the destination already with other content"
            };
            let reason = format!("this event (UID {uid}) {why}; it is not overwritten");
            // A user's edit of cutover's copy is kept (a warning); the destination's own
            // item is refused.
            return Ok(Some(if ours.is_some() {
                AppendOutcome::Kept { reason }
            } else {
                AppendOutcome::Refused { reason }
            }));
        }
        Ok(None)
    }

    /// Create a calendar named after the folder (the default always exists).
    pub(super) async fn create_calendar(&mut self, folder: &str) -> Result<bool> {
        if self.c.side == "source" {
            return Err(read_only("create calendar"));
        }
        let Some((_, name)) = collection_of(folder) else {
            return Ok(false);
        };
        if self.calendar_id(folder, "create calendar").await.is_ok() {
            return Ok(false);
        }
        match self
            .call(
                "create calendar",
                Method::POST,
                &self.url("/calendars"),
                Some(&json!({"name": name})),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(EndpointError::No { message, .. })
                if message.contains("ErrorFolderExists") || message.contains("HTTP 409") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Delete a calendar cutover created (never the default one).
    pub(super) async fn delete_calendar(&mut self, folder: &str) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("delete calendar"));
        }
        if collection_of(folder).map(|x| x.1) == Some(DEFAULT) {
            return Ok(());
        }
        let id = self.calendar_id(folder, "delete calendar").await?;
        let is_default =
            self.calendars().await?.iter().any(|(f, i)| {
                *i == id && f.wire_name == collection_folder(ItemKind::Event, DEFAULT)
            });
        if is_default {
            return Ok(());
        }
        self.call(
            "delete calendar",
            Method::DELETE,
            &self.url(&format!("/calendars/{}", enc(&id))),
            None,
        )
        .await?;
        if self.calendar.as_ref().is_some_and(|s| s.folder == folder) {
            self.calendar = None;
        }
        Ok(())
    }

    /// Delete exactly these events of the open calendar (rollback).
    pub(super) async fn expunge_events(&mut self, uids: &[u32]) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("expunge"));
        }
        let folder = self.cal_sel("delete events")?.folder.clone();
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &folder, uids)
            .map_err(|e| self.store_err(e))?;
        for (_, id) in refs {
            self.delete_event(&id).await?;
        }
        Ok(())
    }
}
