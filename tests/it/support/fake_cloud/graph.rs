//! Fake Microsoft Graph mail (`/v1.0` and `/beta`): stateful mailboxes with the well-known
//! folders, messages kept exactly as received, and the contract cutover must meet:
//!
//! - tokens issued by the fake Entra endpoint for `https://graph.microsoft.com`, from the
//!   mailbox's own tenant (401 otherwise; 403 for another tenant's mailbox);
//! - at most `concurrent` requests in flight per mailbox, a request budget and an upload
//!   budget per sliding window: 429 with Retry-After beyond them (and injected 429 bursts);
//! - 4 MB per request (413 with Graph's error body), `$batch` of at most 20 (400);
//! - `importMime` (beta only) keeps the bytes and makes a received item; `POST .../messages`
//!   with MIME makes a draft; with JSON a draft unless PR_MESSAGE_FLAGS (0x0E07) is given
//!   without the unsent bit (8);
//! - `$value` export (as Exchange rewrites it: `graph_export`), `permanentDelete`, attachments and upload sessions (the upload URL
//!   refuses an Authorization header and out-of-order ranges);
//! - `POST /messages/{id}/move` (`destinationId`: a folder id or well-known name): the
//!   message, its flags and extended properties kept, under a NEW id, as Exchange does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use super::graph_calendar::{self, Calendars};
use super::graph_calendar_route;
use super::graph_contacts::{self, Contacts};
use super::token::Tokens;

pub const RESOURCE: &str = "https://graph.microsoft.com";

/// Limits the fake enforces (per mailbox).
#[derive(Debug, Clone)]
pub struct GraphConfig {
    pub concurrent: usize,
    /// (requests, window): 429 past it.
    pub requests: Option<(usize, Duration)>,
    /// (bytes, window) of request bodies: 429 past it.
    pub upload: Option<(u64, Duration)>,
    pub max_request: usize,
    /// Time each request takes (so that concurrency and kills are observable).
    pub latency: Duration,
}

impl Default for GraphConfig {
    fn default() -> GraphConfig {
        GraphConfig {
            concurrent: 4,
            requests: None,
            upload: None,
            max_request: 4 * 1024 * 1024,
            latency: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeFolder {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub well_known: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakeAttachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// "post" or "upload session".
    pub via: &'static str,
}

#[derive(Debug, Clone)]
pub struct FakeMessage {
    pub id: String,
    pub folder: String,
    /// The MIME bytes exactly as received (importMime, MIME create, seeded).
    pub mime: Option<Vec<u8>>,
    /// The JSON it was created from (JSON path).
    pub json: Option<Value>,
    pub is_read: bool,
    pub is_draft: bool,
    pub flagged: bool,
    pub received: String,
    /// Extended properties, id as sent -> value.
    pub props: BTreeMap<String, String>,
    pub attachments: Vec<FakeAttachment>,
    /// "importMime", "mime-create", "json" or "seed".
    pub via: &'static str,
}

impl FakeMessage {
    /// What `$value` returns.
    pub fn export(&self) -> Vec<u8> {
        if let Some(m) = &self.mime {
            return m.clone();
        }
        let j = self.json.clone().unwrap_or(Value::Null);
        let mut out = format!(
            "Subject: {}\r\nMessage-ID: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
            j["subject"].as_str().unwrap_or(""),
            j["internetMessageId"].as_str().unwrap_or(""),
            j["body"]["content"].as_str().unwrap_or("")
        )
        .into_bytes();
        for a in &self.attachments {
            out.extend_from_slice(
                format!("[attachment {} {} bytes]\r\n", a.name, a.bytes.len()).as_bytes(),
            );
        }
        out
    }

    /// What `$value` returns: a seeded message as seeded; one cutover wrote as Exchange
    /// exports it, headers rewritten (`graph_export`).
    pub fn value_export(&self) -> Vec<u8> {
        match (&self.mime, self.via) {
            (Some(m), "seed") => m.clone(),
            (Some(m), _) => super::graph_export::exchange_mime(m, &self.id),
            (None, _) => super::graph_export::exchange_json(self),
        }
    }

    fn prop(&self, id: &str) -> Option<&String> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Clone)]
pub struct Mailbox {
    pub tenant: String,
    pub folders: Vec<FakeFolder>,
    pub messages: Vec<FakeMessage>,
    /// Contact folders and contacts (see `graph_contacts`).
    pub contacts: Contacts,
    /// Calendars and events (see `graph_calendar`), with the notifications they would send.
    pub calendars: Calendars,
}

impl Mailbox {
    /// A folder's path of display names joined with '/'.
    pub fn path(&self, folder_id: &str) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(folder_id.to_string());
        while let Some(id) = cur {
            let Some(f) = self.folders.iter().find(|f| f.id == id) else {
                break;
            };
            parts.push(f.name.clone());
            cur = f.parent.clone();
        }
        parts.reverse();
        parts.join("/")
    }

    /// Messages per folder path.
    pub fn by_folder(&self) -> BTreeMap<String, Vec<FakeMessage>> {
        let mut out: BTreeMap<String, Vec<FakeMessage>> = BTreeMap::new();
        for m in &self.messages {
            out.entry(self.path(&m.folder)).or_default().push(m.clone());
        }
        out
    }

    pub fn well_known(&self, name: &str) -> Option<&FakeFolder> {
        self.folders
            .iter()
            .find(|f| f.well_known.as_deref() == Some(name))
    }
}

/// What the fake saw.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    /// 429s sent, whatever the reason.
    pub throttled: u64,
    pub too_large: u64,
    /// Most requests in flight for one mailbox at once (after the limit check).
    pub max_inflight: usize,
    pub import_mime: u64,
    pub json_creates: u64,
    pub upload_chunks: u64,
    pub permanent_deletes: u64,
    /// Messages moved (`POST /messages/{id}/move`).
    pub moves: u64,
    /// Requests to the upload URL that carried an Authorization header.
    pub upload_with_auth: u64,
    /// Requests without `Prefer: IdType="ImmutableId"`.
    pub without_immutable_ids: u64,
    /// Message delta queries started without a token (a full round), and from a token.
    pub delta_full: u64,
    pub delta_changes: u64,
    /// Delta tokens answered 410 Gone (expired by `expire_delta_tokens`).
    pub delta_rejected: u64,
}

/// A message's state as a delta token remembers it: read, flagged, draft.
type Seen = BTreeMap<String, (bool, bool, bool)>;

/// Message delta queries: what each token saw (mailbox, folder id, states), and the pages
/// still to give of a round under way (`$skiptoken`).
#[derive(Default)]
pub(super) struct DeltaState {
    tokens: HashMap<String, (String, String, Seen)>,
    pages: HashMap<String, (Vec<Value>, String)>,
}

/// One request as the fake admitted or throttled it (when it arrived, whole).
#[derive(Debug, Clone)]
pub struct Admission {
    pub at: Instant,
    pub upn: String,
    /// Request body bytes (what the upload budget counts; 0 for a GET).
    pub bytes: u64,
    /// Answered 429.
    pub throttled: bool,
}

struct UploadSession {
    upn: String,
    message: String,
    name: String,
    content_type: String,
    size: usize,
    data: Vec<u8>,
}

#[derive(Default)]
pub(super) struct GraphState {
    pub(super) mailboxes: HashMap<String, Mailbox>,
    pub(super) next: u64,
    /// The mailbox import/export API (see `graph_mailbox`).
    pub(super) xport: super::graph_mailbox::XState,
    inflight: HashMap<String, usize>,
    requests: HashMap<String, VecDeque<Instant>>,
    uploads: HashMap<String, VecDeque<(Instant, u64)>>,
    burst: HashMap<String, u32>,
    /// Retry-After values (as sent: an HTTP-date, say) for the next 429s per mailbox.
    dated: HashMap<String, VecDeque<String>>,
    sessions: HashMap<String, UploadSession>,
    stats: Stats,
    log: Vec<Admission>,
    /// Mailbox size limit in bytes (MIME or JSON as stored): 507 ErrorQuotaExceeded past it.
    quota: Option<u64>,
    /// (tenant, "calendars" | "contacts"): the tenant's app was not granted that area's
    /// application permission: 403 ErrorAccessDenied, as Graph answers it.
    withheld: std::collections::HashSet<(String, &'static str)>,
    /// Directory users of a tenant without an Exchange mailbox (unlicensed or not yet
    /// provisioned), by UPN: `GET /users/{upn}` answers, their mailbox routes 404
    /// `MailboxNotEnabledForRESTAPI`.
    mailless: HashMap<String, String>,
    delta: DeltaState,
}

pub struct FakeGraph {
    pub config: GraphConfig,
    pub(super) state: Mutex<GraphState>,
    /// The tenant's users, groups and calendar permissions (`/users`, `/groups`).
    pub directory: super::graph_directory::Directory,
}

const WELL_KNOWN: &[(&str, &str)] = &[
    ("inbox", "Inbox"),
    ("drafts", "Drafts"),
    ("sentitems", "Sent Items"),
    ("deleteditems", "Deleted Items"),
    ("junkemail", "Junk Email"),
    ("archive", "Archive"),
];

pub(super) type Answer = (StatusCode, Vec<(&'static str, String)>, Value);

pub(super) fn err(status: StatusCode, code: &str, message: &str) -> Answer {
    (
        status,
        Vec::new(),
        json!({"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}}),
    )
}

pub(super) fn ok(status: StatusCode, v: Value) -> Answer {
    (status, Vec::new(), v)
}

fn throttle(wait: u64, message: &str) -> Answer {
    throttle_until(wait.to_string(), message)
}

/// A 429 with this Retry-After value, whichever form it has.
fn throttle_until(retry_after: String, message: &str) -> Answer {
    (
        StatusCode::TOO_MANY_REQUESTS,
        vec![("Retry-After", retry_after)],
        json!({"error": {"code": "ApplicationThrottled", "message": message}}),
    )
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn mime_received(mime: &[u8]) -> String {
    mail_parser::MessageParser::new()
        .parse_headers(mime)
        .and_then(|m| {
            m.received()
                .and_then(|r| r.date)
                .or_else(|| m.date().cloned())
        })
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(now_iso)
}

impl FakeGraph {
    pub fn new(config: GraphConfig) -> FakeGraph {
        FakeGraph {
            config,
            state: Mutex::new(GraphState::default()),
            directory: Default::default(),
        }
    }

    /// The app of `tenant` lacks the application permission of `area` ("calendars":
    /// Calendars.*, "contacts": Contacts.*): every request there is refused with 403.
    pub fn withhold(self, tenant: &str, area: &'static str) -> FakeGraph {
        self.state
            .lock()
            .unwrap()
            .withheld
            .insert((tenant.to_string(), area));
        self
    }

    /// A directory user of `tenant` without a mailbox (see `GraphState::mailless`).
    pub fn with_user_without_mailbox(self, tenant: &str, upn: &str) -> FakeGraph {
        self.state
            .lock()
            .unwrap()
            .mailless
            .insert(upn.to_ascii_lowercase(), tenant.to_string());
        self
    }

    /// Add a mailbox of `tenant` with the well-known folders.
    pub fn with_mailbox(self, tenant: &str, upn: &str) -> FakeGraph {
        {
            let mut st = self.state.lock().unwrap();
            let mut folders = Vec::new();
            for (wk, name) in WELL_KNOWN {
                st.next += 1;
                folders.push(FakeFolder {
                    id: format!("AAMkF{}", st.next),
                    name: name.to_string(),
                    parent: None,
                    well_known: Some(wk.to_string()),
                });
            }
            st.mailboxes.insert(
                upn.to_ascii_lowercase(),
                Mailbox {
                    tenant: tenant.into(),
                    folders,
                    messages: Vec::new(),
                    contacts: Contacts::default(),
                    calendars: Calendars::default(),
                },
            );
        }
        self
    }

    /// Store the mailbox's next `n` contact creates but answer them 503 (lost answers).
    pub fn store_then_fail_contacts(&self, upn: &str, n: u32) {
        let mut st = self.state.lock().unwrap();
        st.mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox")
            .contacts
            .lost_answers += n;
    }

    /// Let contacts stored by lost creates stay out of plain listings (`on`), or let the
    /// listings catch up (`!on`).
    pub fn contact_listing_lag(&self, upn: &str, on: bool) {
        let mut st = self.state.lock().unwrap();
        let c = &mut st
            .mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox")
            .contacts;
        c.lag_lost = on;
        if !on {
            c.lagging.clear();
        }
    }

    /// Fail the mailbox's next `n` contact photo uploads with 500.
    pub fn fail_contact_photos(&self, upn: &str, n: u32) {
        let mut st = self.state.lock().unwrap();
        st.mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox")
            .contacts
            .failing_photos += n;
    }

    /// Change a contact's fields (as its user would in Outlook): a new changeKey.
    pub fn edit_contact(&self, upn: &str, id: &str, fields: Value) {
        let mut st = self.state.lock().unwrap();
        let c = st
            .mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox")
            .contacts
            .contacts
            .iter_mut()
            .find(|c| c.id == id)
            .expect("contact");
        for (k, v) in fields.as_object().expect("fields") {
            c.fields.insert(k.clone(), v.clone());
        }
        c.change += 1;
    }

    /// Add a contact folder (None: the default Contacts folder exists already); its id.
    pub fn seed_contact_folder(&self, upn: &str, name: &str) -> String {
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let id = format!("AAMkCF{}", st.next);
        st.mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox")
            .contacts
            .folders
            .push(graph_contacts::FakeContactFolder {
                id: id.clone(),
                name: name.into(),
            });
        id
    }

    /// Add a contact (fields as Graph keeps them) to a folder (None: the default one).
    pub fn seed_contact(
        &self,
        upn: &str,
        folder: Option<&str>,
        fields: Value,
        photo: Option<(&str, &[u8])>,
    ) -> String {
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let id = format!("AAMkCT{}", st.next);
        let Value::Object(fields) = fields else {
            panic!("contact fields are an object")
        };
        st.mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox")
            .contacts
            .contacts
            .push(graph_contacts::FakeContact {
                id: id.clone(),
                folder: folder.map(str::to_string),
                fields,
                props: BTreeMap::new(),
                photo: photo.map(|(m, b)| (m.to_string(), b.to_vec())),
                change: 1,
            });
        id
    }

    fn with_calendars<T>(&self, upn: &str, f: impl FnOnce(&mut Calendars, &mut u64) -> T) -> T {
        let mut st = self.state.lock().unwrap();
        let GraphState {
            mailboxes, next, ..
        } = &mut *st;
        let mb = mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox");
        f(&mut mb.calendars, next)
    }

    /// Add a calendar; its id.
    pub fn seed_calendar(&self, upn: &str, name: &str) -> String {
        self.with_calendars(upn, |c, next| {
            *next += 1;
            let id = format!("AAMkCAL{next}");
            c.ensure_default();
            c.calendars.push(graph_calendar::FakeCalendar {
                id: id.clone(),
                name: name.into(),
                is_default: false,
            });
            id
        })
    }

    /// Add an event (fields as Graph keeps them: local times in a Windows zone, organizer
    /// and attendees as given) to a calendar by name (None: the default); its id. Nobody is
    /// notified of a seeded event.
    pub fn seed_event(&self, upn: &str, calendar: Option<&str>, fields: Value) -> String {
        self.with_calendars(upn, |c, next| {
            *next += 1;
            c.seed(format!("AAMkEV{next}"), calendar, fields)
        })
    }

    /// Change one occurrence of a seeded series (original start in UTC,
    /// `YYYY-MM-DDTHH:MM:SS`), as its user would: an exception.
    pub fn seed_exception(&self, upn: &str, series: &str, original: &str, fields: Value) {
        self.with_calendars(upn, |c, next| {
            *next += 1;
            let e = c
                .events
                .iter_mut()
                .find(|e| e.id == series)
                .expect("series");
            let Value::Object(f) = fields else {
                panic!("fields are an object")
            };
            e.exceptions
                .insert(original.to_string(), (format!("AAMkEX{next}"), f));
        });
    }

    /// Delete one occurrence of a seeded series (nobody notified: seeding).
    pub fn seed_cancel(&self, upn: &str, series: &str, original: &str) {
        self.with_calendars(upn, |c, _| {
            let e = c
                .events
                .iter_mut()
                .find(|e| e.id == series)
                .expect("series");
            e.cancelled.insert(original.to_string());
        });
    }

    /// Add a file attachment to a seeded event.
    pub fn seed_event_attachment(
        &self,
        upn: &str,
        event: &str,
        name: &str,
        mime: &str,
        bytes: &[u8],
    ) {
        self.with_calendars(upn, |c, next| {
            *next += 1;
            let e = c.events.iter_mut().find(|e| e.id == event).expect("event");
            e.attachments.push(graph_calendar::FakeEventAttachment {
                id: format!("AAMkAT{next}"),
                name: name.into(),
                content_type: mime.into(),
                bytes: bytes.to_vec(),
            });
        });
    }

    /// Change an event's fields (as its user would in Outlook): a new changeKey.
    pub fn edit_event(&self, upn: &str, id: &str, fields: Value) {
        self.with_calendars(upn, |c, _| {
            let e = c.events.iter_mut().find(|e| e.id == id).expect("event");
            for (k, v) in fields.as_object().expect("fields") {
                e.fields.insert(k.clone(), v.clone());
            }
            e.change += 1;
        });
    }

    /// Delete an event (as its user would in Outlook).
    pub fn remove_event(&self, upn: &str, id: &str) {
        self.with_calendars(upn, |c, _| c.events.retain(|e| e.id != id));
    }

    /// Store the mailbox's next `n` event creates but answer them 503 (lost answers).
    pub fn store_then_fail_events(&self, upn: &str, n: u32) {
        self.with_calendars(upn, |c, _| c.lost_answers += n);
    }

    /// A copy of what a mailbox holds.
    /// Damage one stored message (test hook): in message `id` of `upn`, the first `find` in
    /// its stored bytes (valid UTF-8) or JSON body becomes `with`; its properties,
    /// cutover's fingerprint among them, are kept. False when there is no such text.
    pub fn damage_message(&self, upn: &str, id: &str, find: &str, with: &str) -> bool {
        let mut st = self.state.lock().unwrap();
        let Some(m) = st
            .mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .and_then(|mb| mb.messages.iter_mut().find(|m| m.id == id))
        else {
            return false;
        };
        if let Some(b) = &mut m.mime
            && let Ok(text) = std::str::from_utf8(b)
            && text.contains(find)
        {
            *b = text.replacen(find, with, 1).into_bytes();
            return true;
        }
        if let Some(j) = &mut m.json
            && let Some(c) = j["body"]["content"].as_str()
            && c.contains(find)
        {
            j["body"]["content"] = json!(c.replacen(find, with, 1));
            return true;
        }
        false
    }

    /// A user's change to one message, as Outlook makes it (test hook): moved to the folder
    /// at `to` (a display-name path; the message gets a NEW id, as Exchange gives it), its
    /// read and flag state set, or deleted (`to` = None and `state` = None). Returns the id
    /// it has afterwards.
    pub fn user_change(
        &self,
        upn: &str,
        id: &str,
        to: Option<&str>,
        state: Option<(bool, bool)>,
    ) -> String {
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let new_id = format!("AAMkU{}", st.next);
        let mb = st.mailboxes.get_mut(&upn.to_ascii_lowercase()).unwrap();
        let i = mb
            .messages
            .iter()
            .position(|m| m.id == id)
            .unwrap_or_else(|| panic!("no message {id}"));
        if to.is_none() && state.is_none() {
            mb.messages.remove(i);
            return id.to_string();
        }
        if let Some(path) = to {
            let fid = mb
                .folders
                .iter()
                .find(|f| mb.path(&f.id) == path)
                .unwrap_or_else(|| panic!("no folder {path}"))
                .id
                .clone();
            mb.messages[i].folder = fid;
            mb.messages[i].id = new_id;
        }
        if let Some((read, flagged)) = state {
            mb.messages[i].is_read = read;
            mb.messages[i].flagged = flagged;
        }
        mb.messages[i].id.clone()
    }

    /// Graph forgets every delta token (test hook): the next delta query from one is
    /// answered 410 Gone `SyncStateNotFound`.
    pub fn expire_delta_tokens(&self) {
        self.state.lock().unwrap().delta.tokens.clear();
    }

    pub fn mailbox(&self, upn: &str) -> Mailbox {
        self.state.lock().unwrap().mailboxes[&upn.to_ascii_lowercase()].clone()
    }

    /// Set (or lift) every mailbox's size limit.
    pub fn set_quota(&self, bytes: Option<u64>) {
        self.state.lock().unwrap().quota = bytes;
    }

    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap().stats.clone()
    }

    /// The next `n` requests for `upn` get 429 with Retry-After: 1.
    pub fn throttle_next(&self, upn: &str, n: u32) {
        *self
            .state
            .lock()
            .unwrap()
            .burst
            .entry(upn.to_ascii_lowercase())
            .or_default() += n;
    }

    /// The next request for `upn` gets 429 with exactly this Retry-After value (the
    /// HTTP-date form, say: `Fri, 31 Dec 1999 23:59:59 GMT`).
    pub fn throttle_next_with(&self, upn: &str, retry_after: &str) {
        self.state
            .lock()
            .unwrap()
            .dated
            .entry(upn.to_ascii_lowercase())
            .or_default()
            .push_back(retry_after.to_string());
    }

    /// Put a message into a folder (by display-name path, created as needed), as mail
    /// delivered there would be; returns its id.
    pub fn seed(
        &self,
        upn: &str,
        path: &str,
        mime: &[u8],
        is_read: bool,
        flagged: bool,
        received: &str,
    ) -> String {
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        let mb = st.mailboxes.get_mut(&upn.to_ascii_lowercase()).unwrap();
        let mut parent: Option<String> = None;
        for name in path.split('/') {
            let found = mb
                .folders
                .iter()
                .find(|f| f.parent == parent && f.name == name)
                .map(|f| f.id.clone());
            parent = Some(match found {
                Some(id) => id,
                None => {
                    st.next += 1;
                    let id = format!("AAMkF{}", st.next);
                    mb.folders.push(FakeFolder {
                        id: id.clone(),
                        name: name.into(),
                        parent: parent.clone(),
                        well_known: None,
                    });
                    id
                }
            });
        }
        st.next += 1;
        let id = format!("AAMkM{}", st.next);
        mb.messages.push(FakeMessage {
            id: id.clone(),
            folder: parent.unwrap(),
            mime: Some(mime.to_vec()),
            json: None,
            is_read,
            is_draft: false,
            flagged,
            received: received.into(),
            props: BTreeMap::new(),
            attachments: Vec::new(),
            via: "seed",
        });
        id
    }

    /// Admission: injected bursts, concurrency, request and upload budgets. On success the
    /// request counts as in flight until `leave`. Every answer is logged ([`Self::admissions`]).
    pub(super) fn admit(&self, upn: &str, bytes: u64) -> Option<Answer> {
        let answer = self.admit_unlogged(upn, bytes);
        self.state.lock().unwrap().log.push(Admission {
            at: Instant::now(),
            upn: upn.to_string(),
            bytes,
            throttled: answer.is_some(),
        });
        answer
    }

    /// Every request's admission so far, in order.
    pub fn admissions(&self) -> Vec<Admission> {
        self.state.lock().unwrap().log.clone()
    }

    fn admit_unlogged(&self, upn: &str, bytes: u64) -> Option<Answer> {
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        st.stats.requests += 1;
        if let Some(v) = st.dated.get_mut(upn).and_then(VecDeque::pop_front) {
            st.stats.throttled += 1;
            return Some(throttle_until(
                v,
                "Application is over its MailboxConcurrency limit.",
            ));
        }
        if let Some(n) = st.burst.get_mut(upn)
            && *n > 0
        {
            *n -= 1;
            st.stats.throttled += 1;
            return Some(throttle(
                1,
                "Application is over its MailboxConcurrency limit.",
            ));
        }
        let inflight = st.inflight.entry(upn.to_string()).or_default();
        if *inflight >= self.config.concurrent {
            st.stats.throttled += 1;
            return Some(throttle(
                1,
                "Application is over its MailboxConcurrency limit.",
            ));
        }
        let now = Instant::now();
        if let Some((max, window)) = self.config.requests {
            let q = st.requests.entry(upn.to_string()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.len() >= max {
                let wait = (q[0] + window).saturating_duration_since(now);
                st.stats.throttled += 1;
                return Some(throttle(
                    wait.as_secs_f64().ceil().max(1.0) as u64,
                    "Application is over its request limit for this mailbox.",
                ));
            }
            q.push_back(now);
        }
        if let Some((max, window)) = self.config.upload
            && bytes > 0
        {
            let q = st.uploads.entry(upn.to_string()).or_default();
            while q.front().is_some_and(|t| now.duration_since(t.0) >= window) {
                q.pop_front();
            }
            let used: u64 = q.iter().map(|x| x.1).sum();
            if used + bytes > max && !q.is_empty() {
                let wait = (q[0].0 + window).saturating_duration_since(now);
                st.stats.throttled += 1;
                return Some(throttle(
                    wait.as_secs_f64().ceil().max(1.0) as u64,
                    "Application is over its upload limit for this mailbox.",
                ));
            }
            q.push_back((now, bytes));
        }
        let inflight = st.inflight.entry(upn.to_string()).or_default();
        *inflight += 1;
        let n = *inflight;
        st.stats.max_inflight = st.stats.max_inflight.max(n);
        None
    }

    fn leave(&self, upn: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(n) = st.inflight.get_mut(upn) {
            *n = n.saturating_sub(1);
        }
    }
}

/// A request in flight: counted until its handler ends, also when the client went away
/// (killed) and the server dropped the handler half-way.
struct InFlight<'a> {
    g: &'a FakeGraph,
    upn: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.g.leave(&self.upn);
    }
}

pub fn router(graph: Arc<FakeGraph>, tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route("/v1.0/{*rest}", any(handle))
        .route("/beta/{*rest}", any(handle))
        .route("/upload/{*rest}", any(handle))
        .route("/import/{*rest}", any(handle))
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state((graph, tokens))
}

fn respond(a: Answer) -> Response {
    let (status, headers, body) = a;
    let mut r = if body.is_null() {
        status.into_response()
    } else {
        (status, Json(body)).into_response()
    };
    for (k, v) in headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

async fn handle(
    State((g, tokens)): State<(Arc<FakeGraph>, Arc<Tokens>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let path = uri.path().to_string();
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(pct_decode)
        .collect();
    if segs[0] == "upload" {
        return upload(&g, &headers, &segs, &body).await;
    }
    if segs[0] == "import" {
        // The import URL carries its own credential (no bearer token).
        let upn = match super::graph_mailbox::import_upn(&g, &uri, &headers) {
            Ok(u) => u,
            Err(a) => return respond(a),
        };
        if let Some(a) = g.admit(&upn, body.len() as u64) {
            return respond(a);
        }
        let _inflight = InFlight {
            g: &g,
            upn: upn.clone(),
        };
        return respond(super::graph_mailbox::import(&g, &upn, &body));
    }
    let grant = match tokens.check(&headers, RESOURCE) {
        Ok(g) => g,
        Err(r) => return r,
    };
    if !headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("IdType=\"ImmutableId\""))
    {
        g.state.lock().unwrap().stats.without_immutable_ids += 1;
    }
    if body.len() > g.config.max_request {
        g.state.lock().unwrap().stats.too_large += 1;
        return respond(err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestBodyTooLarge",
            &format!(
                "The request body of {} bytes is over the maximum of {} bytes.",
                body.len(),
                g.config.max_request
            ),
        ));
    }
    let version = segs[0].clone();
    let rest: Vec<String> = segs[1..].to_vec();
    if super::graph_directory::is_directory(&g.directory, &rest, &query(&uri)) {
        let q = query(&uri);
        return respond(
            super::graph_directory::route(&g.directory, &host, &method, &rest, &q, &body).await,
        );
    }
    if rest == ["$batch"] {
        return respond(batch(&g, &grant.tenant, &version, &host, &body));
    }
    let admin = rest.len() >= 5 && rest[..3] == ["admin", "exchange", "mailboxes"];
    let Some(upn) = (rest.len() >= 2 && rest[0] == "users")
        .then(|| rest[1].to_ascii_lowercase())
        .or_else(|| {
            admin
                .then(|| super::graph_mailbox::mailbox_upn(&rest[3]))
                .flatten()
        })
    else {
        return respond(err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                rest.first().cloned().unwrap_or_default()
            ),
        ));
    };
    if let Some(a) = g.admit(
        &upn,
        if method == Method::GET {
            0
        } else {
            body.len() as u64
        },
    ) {
        return respond(a);
    }
    let _inflight = InFlight {
        g: &g,
        upn: upn.clone(),
    };
    if !g.config.latency.is_zero() {
        tokio::time::sleep(g.config.latency).await;
    }
    if admin {
        return respond(super::graph_mailbox::route(
            &g,
            &grant.tenant,
            &host,
            &method,
            &upn,
            &rest[4..],
            &query(&uri),
            &body,
        ));
    }
    let a = route(
        &g,
        &grant.tenant,
        &version,
        &host,
        &method,
        &rest,
        &query(&uri),
        &headers,
        &body,
    );
    match a {
        Routed::Json(a) => respond(a),
        Routed::Raw(bytes) => {
            (StatusCode::OK, [("Content-Type", "message/rfc822")], bytes).into_response()
        }
        Routed::Photo(mime, bytes) => {
            (StatusCode::OK, [("Content-Type", mime)], bytes).into_response()
        }
    }
}

enum Routed {
    Json(Answer),
    Raw(Vec<u8>),
    Photo(String, Vec<u8>),
}

fn folder_json(mb: &Mailbox, f: &FakeFolder) -> Value {
    json!({
        "id": f.id,
        "displayName": f.name,
        "parentFolderId": f.parent,
        "childFolderCount": mb.folders.iter().filter(|c| c.parent.as_deref() == Some(&f.id)).count(),
        "totalItemCount": mb.messages.iter().filter(|m| m.folder == f.id).count(),
    })
}

fn message_json(m: &FakeMessage, expand: &[String]) -> Value {
    let mut v = json!({
        "id": m.id,
        "parentFolderId": m.folder,
        "isRead": m.is_read,
        "isDraft": m.is_draft,
        "flag": {"flagStatus": if m.flagged { "flagged" } else { "notFlagged" }},
        "receivedDateTime": m.received,
        "subject": m.json.as_ref().and_then(|j| j["subject"].as_str().map(str::to_string)),
    });
    if !expand.is_empty() {
        let mut props = Vec::new();
        for id in expand {
            if id.eq_ignore_ascii_case("Integer 0x0E08") {
                // PR_MESSAGE_SIZE is Exchange's storage size (MAPI properties included), not
                // the MIME export's length: a little more here, as on the real service.
                let size = m.export().len() + 1024;
                props.push(json!({"id": "Integer 0x0e08", "value": size.to_string()}));
            } else if let Some(val) = m.prop(id) {
                props.push(json!({"id": id, "value": val}));
            }
        }
        if !props.is_empty() {
            v["singleValueExtendedProperties"] = json!(props);
        }
    }
    v
}

/// Answer one request (also each `$batch` part).
#[allow(clippy::too_many_arguments)]
fn route(
    g: &FakeGraph,
    tenant: &str,
    version: &str,
    host: &str,
    method: &Method,
    rest: &[String],
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Routed {
    use Routed::Json as J;
    let mut st = g.state.lock().unwrap();
    let GraphState {
        mailboxes,
        next,
        stats,
        sessions,
        quota,
        withheld,
        mailless,
        delta,
        ..
    } = &mut *st;
    let upn = rest[1].to_ascii_lowercase();
    // The directory's user (`GET /users/{upn}`) and a user without a mailbox.
    let user = |licences: usize| {
        json!({"id": format!("u-{upn}"), "userPrincipalName": upn, "accountEnabled": true,
               "assignedLicenses": (0..licences).map(|i| json!({"skuId": format!("sku-{i}")})).collect::<Vec<_>>()})
    };
    if let Some(t) = mailless.get(&upn) {
        if t != tenant {
            return J(err(
                StatusCode::FORBIDDEN,
                "ErrorAccessDenied",
                "Access is denied.",
            ));
        }
        return J(if rest.len() == 2 && *method == Method::GET {
            ok(StatusCode::OK, user(0))
        } else {
            err(
                StatusCode::NOT_FOUND,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        });
    }
    if rest.len() == 2 && *method == Method::GET {
        return J(match mailboxes.get(&upn) {
            Some(mb) if mb.tenant != tenant => err(
                StatusCode::FORBIDDEN,
                "ErrorAccessDenied",
                "Access is denied.",
            ),
            Some(_) => ok(StatusCode::OK, user(1)),
            None => err(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
                    rest[1]
                ),
            ),
        });
    }
    let Some(mb) = mailboxes.get_mut(&upn) else {
        return J(err(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            &format!("The requested user '{}' is invalid.", rest[1]),
        ));
    };
    if mb.tenant != tenant {
        return J(err(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ));
    }
    let r: Vec<&str> = rest[2..].iter().map(String::as_str).collect();
    if r == ["settings", "exchange"] {
        return J(ok(
            StatusCode::OK,
            json!({"primaryMailboxId": format!("MBX:{upn}")}),
        ));
    }
    let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let resolve = |mb: &Mailbox, fid: &str| -> Option<String> {
        mb.folders
            .iter()
            .find(|f| f.id == fid || f.well_known.as_deref() == Some(&fid.to_ascii_lowercase()))
            .map(|f| f.id.clone())
    };
    let no_folder = || {
        J(err(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        ))
    };
    let no_message = no_folder;
    let mut next_id = |prefix: &str| {
        *next += 1;
        format!("{prefix}{}", *next)
    };
    let used: u64 = mb.messages.iter().map(|m| m.export().len() as u64).sum();
    let over_quota = |adding: usize| {
        quota.is_some_and(|q| used + adding as u64 > q).then(|| {
            J(err(
                StatusCode::INSUFFICIENT_STORAGE,
                "ErrorQuotaExceeded",
                "The mailbox is over its storage quota.",
            ))
        })
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let area = match r.first().copied() {
        Some("calendars" | "calendar" | "events") => Some("calendars"),
        Some("contacts" | "contactFolders") => Some("contacts"),
        _ => None,
    };
    if let Some(a) = area
        && withheld.contains(&(tenant.to_string(), a))
    {
        return J(err(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ));
    }
    if r.first()
        .is_some_and(|f| *f == "calendars" || *f == "calendar" || *f == "events")
    {
        return J(graph_calendar_route::route(
            &mut mb.calendars,
            next,
            host,
            version,
            &rest[1],
            method,
            &r,
            q,
            body,
        ));
    }
    if r.first()
        .is_some_and(|f| *f == "contacts" || *f == "contactFolders")
    {
        return match graph_contacts::route(
            &mut mb.contacts,
            next,
            host,
            version,
            &rest[1],
            method,
            &r,
            q,
            &content_type,
            body,
        ) {
            graph_contacts::Reply::Json(a) => J(a),
            graph_contacts::Reply::Photo(m, b) => Routed::Photo(m, b),
        };
    }
    match (method.clone(), r.as_slice()) {
        // Folders.
        (Method::GET, ["mailboxSettings"]) => J(ok(
            StatusCode::OK,
            json!({"userPurpose": "user", "timeZone": "UTC"}),
        )),
        (Method::GET, ["mailFolders"]) => {
            let v: Vec<Value> = mb
                .folders
                .iter()
                .filter(|f| f.parent.is_none())
                .map(|f| folder_json(mb, f))
                .collect();
            J(ok(StatusCode::OK, json!({"value": v})))
        }
        (Method::GET, ["mailFolders", fid, "childFolders"]) => {
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            let v: Vec<Value> = mb
                .folders
                .iter()
                .filter(|f| f.parent.as_deref() == Some(&id))
                .map(|f| folder_json(mb, f))
                .collect();
            J(ok(StatusCode::OK, json!({"value": v})))
        }
        (Method::POST, ["mailFolders"]) | (Method::POST, ["mailFolders", _, "childFolders"]) => {
            let parent = match r.get(1) {
                Some(fid) => match resolve(mb, fid) {
                    Some(id) => Some(id),
                    None => return no_folder(),
                },
                None => None,
            };
            let b = json_body();
            let Some(name) = b["displayName"].as_str().filter(|n| !n.is_empty()) else {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "displayName is required.",
                ));
            };
            if mb
                .folders
                .iter()
                .any(|f| f.parent == parent && f.name.eq_ignore_ascii_case(name))
            {
                return J(err(
                    StatusCode::CONFLICT,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                ));
            }
            let f = FakeFolder {
                id: next_id("AAMkF"),
                name: name.into(),
                parent,
                well_known: None,
            };
            let v = folder_json(mb, &f);
            mb.folders.push(f);
            J(ok(StatusCode::CREATED, v))
        }
        (Method::GET, ["mailFolders", fid]) => match resolve(mb, fid) {
            Some(id) => {
                let f = mb.folders.iter().find(|f| f.id == id).unwrap();
                J(ok(StatusCode::OK, folder_json(mb, f)))
            }
            None => no_folder(),
        },
        (Method::PATCH, ["mailFolders", fid]) => {
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            let b = json_body();
            let Some(name) = b["displayName"].as_str() else {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "displayName is required.",
                ));
            };
            let parent = mb
                .folders
                .iter()
                .find(|f| f.id == id)
                .unwrap()
                .parent
                .clone();
            if mb
                .folders
                .iter()
                .any(|f| f.id != id && f.parent == parent && f.name.eq_ignore_ascii_case(name))
            {
                return J(err(
                    StatusCode::CONFLICT,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                ));
            }
            let f = mb.folders.iter_mut().find(|f| f.id == id).unwrap();
            f.name = name.into();
            let f = f.clone();
            J(ok(StatusCode::OK, folder_json(mb, &f)))
        }
        (Method::DELETE, ["mailFolders", fid]) => {
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            if mb
                .folders
                .iter()
                .any(|f| f.id == id && f.well_known.is_some())
            {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorDeleteDistinguishedFolder",
                    "Distinguished folders cannot be deleted.",
                ));
            }
            let mut gone = vec![id];
            let mut i = 0;
            while i < gone.len() {
                let kids: Vec<String> = mb
                    .folders
                    .iter()
                    .filter(|f| f.parent.as_deref() == Some(&gone[i]))
                    .map(|f| f.id.clone())
                    .collect();
                gone.extend(kids);
                i += 1;
            }
            mb.folders.retain(|f| !gone.contains(&f.id));
            mb.messages.retain(|m| !gone.contains(&m.folder));
            J(ok(StatusCode::NO_CONTENT, Value::Null))
        }
        // Messages of a folder.
        (Method::GET, ["mailFolders", fid, "messages", "delta"]) => {
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            const DELTA_PAGE: usize = 7;
            let (mut items, link) = if let Some(sk) = q.get("$skiptoken") {
                match delta.pages.remove(sk) {
                    Some(p) => p,
                    None => {
                        return J(err(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "unknown skiptoken",
                        ));
                    }
                }
            } else {
                let before = match q.get("$deltatoken") {
                    Some(t) => match delta.tokens.get(t) {
                        Some((u, f, seen)) if *u == upn && *f == id => {
                            stats.delta_changes += 1;
                            Some(seen.clone())
                        }
                        _ => {
                            stats.delta_rejected += 1;
                            return J(err(
                                StatusCode::GONE,
                                "SyncStateNotFound",
                                "The sync state generation is not found.",
                            ));
                        }
                    },
                    None => {
                        stats.delta_full += 1;
                        None
                    }
                };
                let now: Seen = mb
                    .messages
                    .iter()
                    .filter(|m| m.folder == id)
                    .map(|m| (m.id.clone(), (m.is_read, m.flagged, m.is_draft)))
                    .collect();
                let mut items: Vec<Value> = mb
                    .messages
                    .iter()
                    .filter(|m| m.folder == id)
                    .filter(|m| before.as_ref().is_none_or(|b| b.get(&m.id) != now.get(&m.id)))
                    .map(|m| {
                        json!({"id": m.id, "isRead": m.is_read, "isDraft": m.is_draft,
                               "flag": {"flagStatus": if m.flagged { "flagged" } else { "notFlagged" }}})
                    })
                    .collect();
                if let Some(b) = &before {
                    for gone in b.keys().filter(|k| !now.contains_key(*k)) {
                        items.push(json!({"id": gone, "@removed": {"reason": "deleted"}}));
                    }
                }
                let token = next_id("dt");
                delta
                    .tokens
                    .insert(token.clone(), (upn.clone(), id.clone(), now));
                (items, token)
            };
            let rest_items = items.split_off(items.len().min(DELTA_PAGE));
            let base = format!(
                "http://{host}/{version}/users/{}/mailFolders/{fid}/messages/delta",
                rest[1]
            );
            let mut v = json!({"value": items});
            if rest_items.is_empty() {
                v["@odata.deltaLink"] = json!(format!("{base}?$deltatoken={link}"));
            } else {
                let sk = next_id("sk");
                delta.pages.insert(sk.clone(), (rest_items, link));
                v["@odata.nextLink"] = json!(format!("{base}?$skiptoken={sk}"));
            }
            J(ok(StatusCode::OK, v))
        }
        (Method::GET, ["mailFolders", fid, "messages"]) => {
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            let top: usize = q
                .get("$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(10)
                .min(1000);
            let skip: usize = q.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
            let expand: Vec<String> = q
                .get("$expand")
                .map(|e| {
                    regex::Regex::new(r"id eq '([^']*)'")
                        .unwrap()
                        .captures_iter(e)
                        .map(|c| c[1].to_string())
                        .collect()
                })
                .unwrap_or_default();
            let all: Vec<&FakeMessage> = mb.messages.iter().filter(|m| m.folder == id).collect();
            let page: Vec<Value> = all
                .iter()
                .skip(skip)
                .take(top)
                .map(|m| message_json(m, &expand))
                .collect();
            let mut v = json!({"value": page});
            if skip + top < all.len() {
                let mut qs: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$skip")
                    .map(|(k, v)| format!("{k}={}", urlish(v)))
                    .collect();
                qs.push(format!("$skip={}", skip + top));
                v["@odata.nextLink"] = json!(format!(
                    "http://{host}/{version}/users/{}/mailFolders/{fid}/messages?{}",
                    rest[1],
                    qs.join("&")
                ));
            }
            J(ok(StatusCode::OK, v))
        }
        (Method::POST, ["mailFolders", fid, "importMime"]) => {
            if version != "beta" {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Resource not found for the segment 'importMime'.",
                ));
            }
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            let text: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let Ok(mime) = base64::engine::general_purpose::STANDARD.decode(&text) else {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                ));
            };
            if mime.is_empty() {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorMimeContentInvalid",
                    "The MIME content is empty.",
                ));
            }
            // RFC 5322: a message starts with a header field ("Name: value").
            let first = mime.split(|b| *b == b'\n').next().unwrap_or_default();
            let colon = first.iter().position(|b| *b == b':');
            if colon.is_none_or(|c| c == 0 || first[..c].iter().any(|b| !b.is_ascii_graphic())) {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorMimeContentInvalid",
                    "The MIME content is not a valid RFC 822 message.",
                ));
            }
            if let Some(e) = over_quota(mime.len()) {
                return e;
            }
            stats.import_mime += 1;
            let m = FakeMessage {
                id: next_id("AAMkM"),
                folder: id,
                received: mime_received(&mime),
                mime: Some(mime),
                json: None,
                is_read: false,
                is_draft: false,
                flagged: false,
                props: BTreeMap::new(),
                attachments: Vec::new(),
                via: "importMime",
            };
            let v = message_json(&m, &[]);
            mb.messages.push(m);
            J(ok(StatusCode::CREATED, v))
        }
        (Method::POST, ["mailFolders", fid, "messages"]) => {
            let Some(id) = resolve(mb, fid) else {
                return no_folder();
            };
            if let Some(e) = over_quota(body.len() * 3 / 4) {
                return e;
            }
            let m = if content_type.starts_with("text/plain") {
                // MIME through v1.0: Graph makes a draft of it.
                let text: Vec<u8> = body
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let Ok(mime) = base64::engine::general_purpose::STANDARD.decode(&text) else {
                    return J(err(
                        StatusCode::BAD_REQUEST,
                        "ErrorMimeContentInvalidBase64String",
                        "Invalid base64 string for MIME content.",
                    ));
                };
                FakeMessage {
                    id: next_id("AAMkM"),
                    folder: id,
                    received: now_iso(),
                    mime: Some(mime),
                    json: None,
                    is_read: true,
                    is_draft: true,
                    flagged: false,
                    props: BTreeMap::new(),
                    attachments: Vec::new(),
                    via: "mime-create",
                }
            } else {
                let b = json_body();
                if !b.is_object() {
                    return J(err(
                        StatusCode::BAD_REQUEST,
                        "RequestBodyRead",
                        "Cannot read the JSON request body.",
                    ));
                }
                let mut props = BTreeMap::new();
                for p in b["singleValueExtendedProperties"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    if let (Some(k), Some(v)) = (p["id"].as_str(), p["value"].as_str()) {
                        props.insert(k.to_string(), v.to_string());
                    }
                }
                let get = |id: &str| {
                    props
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(id))
                        .map(|(_, v)| v.clone())
                };
                let flags = get("Integer 0x0E07").and_then(|v| v.parse::<i64>().ok());
                stats.json_creates += 1;
                FakeMessage {
                    id: next_id("AAMkM"),
                    folder: id,
                    received: get("SystemTime 0x0E06").unwrap_or_else(now_iso),
                    mime: None,
                    is_read: flags.map_or(b["isRead"].as_bool().unwrap_or(false), |f| f & 1 == 1),
                    is_draft: flags.is_none_or(|f| f & 8 == 8),
                    flagged: b["flag"]["flagStatus"].as_str() == Some("flagged"),
                    json: Some(b),
                    props,
                    attachments: Vec::new(),
                    via: "json",
                }
            };
            let v = message_json(&m, &[]);
            mb.messages.push(m);
            J(ok(StatusCode::CREATED, v))
        }
        // One message.
        (Method::GET, ["messages", mid]) => match mb.messages.iter().find(|m| m.id == *mid) {
            Some(m) => J(ok(StatusCode::OK, message_json(m, &[]))),
            None => no_message(),
        },
        (Method::GET, ["messages", mid, "$value"]) => {
            match mb.messages.iter().find(|m| m.id == *mid) {
                Some(m) => Routed::Raw(m.value_export()),
                None => no_message(),
            }
        }
        (Method::PATCH, ["messages", mid]) => {
            let b = json_body();
            let Some(m) = mb.messages.iter_mut().find(|m| m.id == *mid) else {
                return no_message();
            };
            if let Some(r) = b["isRead"].as_bool() {
                m.is_read = r;
            }
            if let Some(f) = b["flag"]["flagStatus"].as_str() {
                m.flagged = f == "flagged";
            }
            for p in b["singleValueExtendedProperties"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                if let (Some(k), Some(v)) = (p["id"].as_str(), p["value"].as_str()) {
                    m.props.insert(k.to_string(), v.to_string());
                }
            }
            J(ok(StatusCode::OK, message_json(m, &[])))
        }
        (Method::POST, ["messages", mid, "move"]) => {
            let b = json_body();
            let Some(dest) = resolve(mb, b["destinationId"].as_str().unwrap_or("")) else {
                return no_folder();
            };
            let Some(i) = mb.messages.iter().position(|m| m.id == *mid) else {
                return no_message();
            };
            let id = next_id("AAMkM");
            let m = &mut mb.messages[i];
            m.id = id;
            m.folder = dest;
            stats.moves += 1;
            J(ok(StatusCode::CREATED, message_json(m, &[])))
        }
        (Method::POST, ["messages", mid, "permanentDelete"]) => {
            let before = mb.messages.len();
            mb.messages.retain(|m| m.id != *mid);
            if mb.messages.len() == before {
                return no_message();
            }
            stats.permanent_deletes += 1;
            J(ok(StatusCode::NO_CONTENT, Value::Null))
        }
        (Method::POST, ["messages", mid, "attachments"]) => {
            let b = json_body();
            let Some(m) = mb.messages.iter_mut().find(|m| m.id == *mid) else {
                return no_message();
            };
            let Ok(bytes) = base64::engine::general_purpose::STANDARD
                .decode(b["contentBytes"].as_str().unwrap_or(""))
            else {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "contentBytes is not base64.",
                ));
            };
            m.attachments.push(FakeAttachment {
                name: b["name"].as_str().unwrap_or("").into(),
                content_type: b["contentType"].as_str().unwrap_or("").into(),
                bytes,
                via: "post",
            });
            J(ok(
                StatusCode::CREATED,
                json!({"id": format!("att{}", m.attachments.len())}),
            ))
        }
        (Method::POST, ["messages", mid, "attachments", "createUploadSession"]) => {
            if !mb.messages.iter().any(|m| m.id == *mid) {
                return no_message();
            }
            let b = json_body();
            let item = &b["AttachmentItem"];
            let size = item["size"].as_u64().unwrap_or(0) as usize;
            if item["attachmentType"].as_str() != Some("file")
                || size == 0
                || size > 150 * 1024 * 1024
            {
                return J(err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "AttachmentItem needs attachmentType file and a size up to 150 MB.",
                ));
            }
            let sid = next_id("us");
            sessions.insert(
                sid.clone(),
                UploadSession {
                    upn: upn.clone(),
                    message: mid.to_string(),
                    name: item["name"].as_str().unwrap_or("").into(),
                    content_type: item["contentType"]
                        .as_str()
                        .unwrap_or("application/octet-stream")
                        .into(),
                    size,
                    data: Vec::new(),
                },
            );
            J(ok(
                StatusCode::CREATED,
                json!({
                    "uploadUrl": format!("http://{host}/upload/{sid}?authtoken=fake"),
                    "expirationDateTime": now_iso(),
                    "nextExpectedRanges": ["0-"],
                }),
            ))
        }
        _ => J(err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unsupported request {method} /{}", r.join("/")),
        )),
    }
}

fn urlish(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /$batch`: at most 20 requests, each answered as if sent alone.
fn batch(g: &FakeGraph, tenant: &str, version: &str, host: &str, body: &[u8]) -> Answer {
    let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(reqs) = b["requests"].as_array() else {
        return err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid batch payload format.",
        );
    };
    if reqs.len() > 20 {
        return err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Number of batch requests exceeds the limit of 20.",
        );
    }
    let mut out = Vec::new();
    for r in reqs {
        let method: Method = r["method"]
            .as_str()
            .unwrap_or("GET")
            .parse()
            .unwrap_or(Method::GET);
        let url = r["url"].as_str().unwrap_or("");
        let uri: Uri = url.parse().unwrap_or_default();
        let rest: Vec<String> = uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .map(pct_decode)
            .collect();
        let body = serde_json::to_vec(&r["body"]).unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let (status, body) = if rest.len() >= 2 && rest[0] == "users" {
            match route(
                g,
                tenant,
                version,
                host,
                &method,
                &rest,
                &query(&uri),
                &headers,
                &body,
            ) {
                Routed::Json((s, _, v)) => (s, v),
                Routed::Raw(bytes) | Routed::Photo(_, bytes) => (
                    StatusCode::OK,
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ),
            }
        } else {
            let (s, _, v) = err(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid request URL.",
            );
            (s, v)
        };
        out.push(json!({"id": r["id"], "status": status.as_u16(), "body": body}));
    }
    ok(StatusCode::OK, json!({"responses": out}))
}

/// `PUT` to an upload session's URL (no Authorization header: the URL is the credential).
async fn upload(g: &FakeGraph, headers: &HeaderMap, segs: &[String], body: &[u8]) -> Response {
    let sid = segs.get(1).cloned().unwrap_or_default();
    if headers.contains_key("authorization") {
        g.state.lock().unwrap().stats.upload_with_auth += 1;
        return respond(err(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Do not send an Authorization header to the upload URL.",
        ));
    }
    let upn = match g.state.lock().unwrap().sessions.get(&sid) {
        Some(s) => s.upn.clone(),
        None => {
            return respond(err(
                StatusCode::NOT_FOUND,
                "ItemNotFound",
                "The upload session was not found or has expired.",
            ));
        }
    };
    if let Some(a) = g.admit(&upn, body.len() as u64) {
        return respond(a);
    }
    let _inflight = InFlight {
        g,
        upn: upn.clone(),
    };
    if !g.config.latency.is_zero() {
        tokio::time::sleep(g.config.latency).await;
    }
    let a = (|| {
        let mut st = g.state.lock().unwrap();
        let st = &mut *st;
        st.stats.upload_chunks += 1;
        let s = st.sessions.get_mut(&sid).unwrap();
        let range = headers
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| {
                let (r, total) = v.split_once('/')?;
                let (a, b) = r.split_once('-')?;
                Some((
                    a.parse::<usize>().ok()?,
                    b.parse::<usize>().ok()?,
                    total.parse::<usize>().ok()?,
                ))
            });
        let Some((a, b, total)) = range else {
            return err(
                StatusCode::BAD_REQUEST,
                "InvalidRange",
                "Content-Range is missing or malformed.",
            );
        };
        if a != s.data.len() || total != s.size || b + 1 - a != body.len() || b >= total {
            return err(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                &format!(
                    "Expected the range starting at {} of {}.",
                    s.data.len(),
                    s.size
                ),
            );
        }
        s.data.extend_from_slice(body);
        if s.data.len() < s.size {
            return ok(
                StatusCode::OK,
                json!({"nextExpectedRanges": [format!("{}-", s.data.len())]}),
            );
        }
        let s = st.sessions.remove(&sid).unwrap();
        let Some(m) = st
            .mailboxes
            .get_mut(&s.upn)
            .and_then(|mb| mb.messages.iter_mut().find(|m| m.id == s.message))
        else {
            return err(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The message is gone.",
            );
        };
        m.attachments.push(FakeAttachment {
            name: s.name,
            content_type: s.content_type,
            bytes: s.data,
            via: "upload session",
        });
        ok(StatusCode::CREATED, json!({}))
    })();
    respond(a)
}
