//! Microsoft 365 mailboxes through Microsoft Graph (`kind = "graph"`), as a destination and as
//! a source, with an app-only (client-credentials) token.
//!
//! Graph has no UIDs: every message id (immutable ids, `Prefer: IdType="ImmutableId"`) gets a
//! UID from the journal (`Journal::ref_uids`, first seen, never reused), per mailbox and folder,
//! and UIDVALIDITY/UIDNEXT come from `Journal::ref_folder`. Folders are the displayName
//! hierarchy joined with '/'; the well-known Inbox is `INBOX` so that it meets IMAP's INBOX.
//!
//! Writing takes one of two paths:
//! - `importMime` (beta; `graph_import = "mime"`, the default): the exact source bytes are
//!   imported as a received item (not a draft); read state and the flag are set afterwards.
//! - JSON (`graph_import = "json"`, and any message whose base64 request would pass Graph's
//!   4 MB request limit): the message is rebuilt from its parsed parts (subject, body,
//!   addresses, Message-ID) with MAPI properties for read state, delivery time, Date and the
//!   transport headers; attachments are added one by one (upload sessions from 3 MB).
//!
//! Every message cutover creates carries its source fingerprint and size in a named extended
//! property, so that verification, resume and rollback identify it without downloading it.
//!
//! Limits per app and mailbox are kept on this side (4 requests at once, 10,000 requests per
//! 10 minutes, 150 MB uploaded per 5 minutes, 4 MB per request) and the service's 429/503/504
//! with Retry-After are honoured; the throttle state per mailbox is shown in the console.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::bounded;
use super::imap::{decode_mutf7, encode_mutf7};
use super::oauth::TokenProvider;
use super::{
    AppendOutcome, Body, Capabilities, ConnectionBudget, EndpointError, Fingerprinted, Folder,
    FolderState, MailSession, Message, MessageMeta, MessageSink, Result, SpecialUse, fingerprint,
};
use crate::config::{self, Credential, EndpointKind, GraphImport};
use crate::journal::Journal;

/// The named extended property where cutover keeps a created message's source fingerprint
/// and size ("<fingerprint> <bytes>").
pub const FINGERPRINT_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverFingerprint";
/// Set instead of the fingerprint on a message created through the JSON path while its
/// attachments are still being added: such a message without the fingerprint is cutover's own
/// unfinished creation (a run killed mid-upload), never taken for the copy and removed.
pub const BUILDING_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverBuilding";
/// PR_MESSAGE_SIZE.
const SIZE_PROP: &str = "Integer 0x0E08";
/// PR_MESSAGE_FLAGS: 1 = read; 8 (unsent) is never set, so the item is not a draft.
const FLAGS_PROP: &str = "Integer 0x0E07";
/// PR_MESSAGE_DELIVERY_TIME.
const DELIVERY_PROP: &str = "SystemTime 0x0E06";
/// PR_CLIENT_SUBMIT_TIME (the Date header).
const SUBMIT_PROP: &str = "SystemTime 0x0039";
/// PR_TRANSPORT_MESSAGE_HEADERS.
const HEADERS_PROP: &str = "String 0x007D";

/// Attachments from this size go through an upload session.
const ATTACH_INLINE_MAX: usize = 3_000_000;
/// Upload-session chunk: a multiple of 320 KiB, under the 4 MB request limit.
const CHUNK: usize = 320 * 1024 * 12;
/// Journal pseudo-folder (in the id-to-UID map) listing the parent folders cutover created
/// implicitly for a nested folder, so that rollback removes them too.
const CREATED_PARENTS: &str = "\u{1}cutover:created-parents";
/// Journal pseudo-folder (per destination folder) of imports whose follow-up (read state, flag,
/// fingerprint property) may not have happened: "<fingerprint> <size> <seen> <flagged>".
fn incomplete(folder: &str) -> String {
    format!("\u{1}cutover:incomplete:{folder}")
}
/// Messages listed per page.
const PAGE: usize = 500;

/// Well-known folder names and the role each one has.
const WELL_KNOWN: &[(&str, Option<SpecialUse>)] = &[
    ("inbox", None),
    ("sentitems", Some(SpecialUse::Sent)),
    ("drafts", Some(SpecialUse::Drafts)),
    ("deleteditems", Some(SpecialUse::Trash)),
    ("junkemail", Some(SpecialUse::Junk)),
    ("archive", Some(SpecialUse::Archive)),
];

/// The per app-and-mailbox limits Exchange Online applies to Graph, kept on this side.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub concurrent: usize,
    pub requests: u32,
    pub requests_window: Duration,
    pub upload_bytes: u64,
    pub upload_window: Duration,
    pub max_request: u64,
    /// Throttled answers (429/503/504) retried in a row before giving up with `Throttled`.
    pub max_retries: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            concurrent: 4,
            requests: 10_000,
            requests_window: Duration::from_secs(600),
            upload_bytes: 150 * 1024 * 1024,
            upload_window: Duration::from_secs(300),
            max_request: 4 * 1024 * 1024,
            max_retries: 8,
        }
    }
}

/// Sliding windows and the server's last word, for one mailbox.
#[derive(Default)]
struct Window {
    requests: VecDeque<Instant>,
    uploads: VecDeque<(Instant, u64)>,
    uploaded: u64,
    /// No request before this (the server's Retry-After).
    server_until: Option<Instant>,
    /// When this mailbox was last held back, and why (for the console).
    last_throttle: Option<(Instant, String)>,
}

impl Window {
    /// How long a request uploading `bytes` must wait; when it need not, it is counted.
    fn admit(&mut self, now: Instant, bytes: u64, l: &Limits) -> Option<(Duration, &'static str)> {
        while self
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= l.requests_window)
        {
            self.requests.pop_front();
        }
        while let Some(&(t, b)) = self.uploads.front() {
            if now.duration_since(t) < l.upload_window {
                break;
            }
            self.uploaded -= b;
            self.uploads.pop_front();
        }
        if let Some(u) = self.server_until
            && u > now
        {
            return Some((u - now, "the service asked to wait (Retry-After)"));
        }
        if self.requests.len() >= l.requests as usize
            && let Some(t) = self.requests.front()
        {
            return Some((
                (*t + l.requests_window).saturating_duration_since(now),
                "local limit: requests per 10 minutes",
            ));
        }
        if bytes > 0
            && self.uploaded + bytes > l.upload_bytes
            && let Some((t, _)) = self.uploads.front()
        {
            return Some((
                (*t + l.upload_window).saturating_duration_since(now),
                "local limit: bytes uploaded per 5 minutes",
            ));
        }
        self.requests.push_back(now);
        if bytes > 0 {
            self.uploads.push_back((now, bytes));
            self.uploaded += bytes;
        }
        None
    }
}

struct MailboxLimiter {
    permits: Arc<Semaphore>,
    window: Mutex<Window>,
}

#[derive(Clone)]
pub struct GraphConnector {
    cfg: config::Endpoint,
    pub side: &'static str,
    http: reqwest::Client,
    tokens: TokenProvider,
    store: Journal,
    base: String,
    limits: Limits,
    mailboxes: Arc<Mutex<HashMap<String, Arc<MailboxLimiter>>>>,
    sessions: ConnectionBudget,
}

pub struct GraphSession {
    c: Arc<GraphConnector>,
    _permit: OwnedSemaphorePermit,
    upn: String,
    caps: Capabilities,
    /// (folder, Graph id), as last listed.
    folders: Option<Vec<(Folder, String)>>,
    selected: Option<Selected>,
}

struct Selected {
    wire: String,
    items: Vec<Item>,
}

/// One listed message.
#[derive(Debug, Clone)]
struct Item {
    uid: u32,
    id: String,
    /// Size: the source's (from cutover's property), else PR_MESSAGE_SIZE.
    size: u64,
    /// The fingerprint cutover stored, when it created the message.
    fingerprint: Option<String>,
    /// Created by cutover through the JSON path and never completed.
    unfinished: bool,
    flags: Vec<String>,
    received: Option<DateTime<FixedOffset>>,
}

/// An answer that is not a throttle or an authentication failure.
struct Reply {
    status: StatusCode,
    resp: reqwest::Response,
    _permit: OwnedSemaphorePermit,
}

/// Graph's error body, `{"error":{"code":..,"message":..}}`.
fn error_text(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = v["error"]["code"].as_str().unwrap_or("").to_string();
    let message = v["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    (code, message)
}

/// Percent-encode a query value or a path segment.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl GraphConnector {
    pub fn new(cfg: &config::Endpoint, side: &'static str, store: &Journal) -> Result<Self> {
        let Some(oauth) = &cfg.oauth else {
            return Err(EndpointError::Auth {
                user: format!("{side} Graph endpoint"),
                message: "kind = \"graph\" needs an [oauth] table".into(),
            });
        };
        let http = super::http::client(cfg, side, cfg.timeout)?;
        let tokens = TokenProvider::new(oauth, EndpointKind::Graph, &cfg.host, side, http.clone())?;
        Ok(GraphConnector {
            cfg: cfg.clone(),
            side,
            http,
            tokens,
            store: store.clone(),
            base: cfg.api_url.trim_end_matches('/').to_string(),
            limits: Limits::default(),
            mailboxes: Arc::new(Mutex::new(HashMap::new())),
            sessions: ConnectionBudget::new(cfg.max_connections),
        })
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    pub fn in_use(&self) -> usize {
        self.sessions.in_use()
    }

    /// Mailboxes held back in the last minute (a 429/503/504 from the service, or a local
    /// limit), with why: "upn: reason".
    pub fn throttled_accounts(&self) -> Vec<String> {
        let now = Instant::now();
        let map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = map
            .iter()
            .filter_map(|(upn, l)| {
                let w = l.window.lock().unwrap_or_else(|e| e.into_inner());
                let (t, why) = w.last_throttle.as_ref()?;
                (now.duration_since(*t) < Duration::from_secs(60)).then(|| format!("{upn}: {why}"))
            })
            .collect();
        out.sort();
        out
    }

    fn limiter(&self, upn: &str) -> Arc<MailboxLimiter> {
        let mut map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(upn.to_ascii_lowercase())
            .or_insert_with(|| {
                Arc::new(MailboxLimiter {
                    permits: Arc::new(Semaphore::new(self.limits.concurrent)),
                    window: Mutex::new(Window::default()),
                })
            })
            .clone()
    }

    /// A session for one mailbox (its user principal name). Checks that the app can read it.
    pub async fn connect(&self, cred: &Credential) -> Result<GraphSession> {
        let permit = self.sessions.acquire().await;
        let s = GraphSession {
            c: Arc::new(self.clone()),
            _permit: permit,
            upn: cred.user.clone(),
            caps: Capabilities {
                append_limit: self.cfg.max_message_size,
                // PR_MESSAGE_SIZE is Exchange's storage size, not the MIME's length.
                inexact_sizes: true,
                raw: vec!["GRAPH".into()],
                ..Capabilities::default()
            },
            folders: None,
            selected: None,
        };
        s.get_json("open mailbox", &s.url("/mailFolders/inbox?$select=id"))
            .await
            .map_err(|e| match e {
                EndpointError::No { message, .. } => EndpointError::Auth {
                    user: cred.user.clone(),
                    message: format!("the mailbox cannot be opened through Graph: {message}"),
                },
                e => e,
            })?;
        Ok(s)
    }

    /// Send one request for mailbox `upn`, within the limits, retrying throttled answers
    /// as the service asks and a refused token once. `upload` is the bytes the request
    /// carries (for the upload window); `auth` false for upload-session URLs.
    async fn send<F>(&self, upn: &str, op: &str, upload: u64, auth: bool, mk: F) -> Result<Reply>
    where
        F: Fn() -> RequestBuilder,
    {
        let lim = self.limiter(upn);
        let mut throttled = 0u32;
        let mut reauth = false;
        loop {
            // Local windows and the server's last Retry-After first, without a slot held.
            loop {
                let wait = {
                    let mut w = lim.window.lock().unwrap_or_else(|e| e.into_inner());
                    let now = Instant::now();
                    let r = w.admit(now, upload, &self.limits);
                    // A wait the service asked for is shown with the service's answer.
                    if let Some((_, why)) = &r
                        && why.starts_with("local")
                    {
                        w.last_throttle = Some((now, (*why).to_string()));
                    }
                    r.map(|(d, _)| d)
                };
                match wait {
                    Some(d) => tokio::time::sleep(d.max(Duration::from_millis(10))).await,
                    None => break,
                }
            }
            let permit = lim
                .permits
                .clone()
                .acquire_owned()
                .await
                .expect("mailbox semaphore is never closed");
            let mut req = mk().header("Prefer", "IdType=\"ImmutableId\"");
            if auth {
                let token = self.tokens.token(upn).await?;
                req = req.bearer_auth(token.expose_secret());
            }
            let request = req.build().map_err(|e| self.http_err(op, e))?;
            // A POST creates something: if the service fails it with 503/504 the item may
            // have been stored all the same, so it is not sent again blindly (the engine
            // resolves it as in doubt, by fingerprint). A 429 was not processed: retried.
            let creates = request.method() == reqwest::Method::POST;
            let resp = self
                .http
                .execute(request)
                .await
                .map_err(|e| self.http_err(op, e))?;
            let status = resp.status();
            match status.as_u16() {
                503 | 504 if creates => {
                    return Err(EndpointError::ConnectionLost {
                        op: format!(
                            "{op} for {upn}: Graph answered HTTP {} after the request was sent; \
                             whether it was stored is checked before anything is sent again",
                            status.as_u16()
                        ),
                    });
                }
                429 | 503 | 504 => {
                    let asked = super::retry_after::retry_after(resp.headers());
                    let body = bounded::error_body(resp).await;
                    drop(permit);
                    let (code, message) = error_text(&body);
                    throttled += 1;
                    let wait = asked.unwrap_or_else(|| {
                        Duration::from_secs(1u64 << throttled.min(6)).min(Duration::from_secs(60))
                    });
                    tracing::warn!(
                        mailbox = upn,
                        side = self.side,
                        op,
                        status = status.as_u16(),
                        code = %code,
                        retry_after_ms = wait.as_millis() as u64,
                        attempt = throttled,
                        "Graph throttled the request"
                    );
                    {
                        let mut w = lim.window.lock().unwrap_or_else(|e| e.into_inner());
                        let until = Instant::now() + wait.min(super::MAX_RETRY_AFTER);
                        w.server_until = Some(w.server_until.map_or(until, |u| u.max(until)));
                        w.last_throttle = Some((
                            Instant::now(),
                            format!(
                                "HTTP {} from the service, retry after {} s",
                                status.as_u16(),
                                wait.as_secs()
                            ),
                        ));
                    }
                    if throttled > self.limits.max_retries || wait > super::MAX_RETRY_AFTER {
                        return Err(EndpointError::Throttled {
                            op: format!("{op} for {upn}"),
                            message: format!("HTTP {status} {code}: {message}"),
                            wait: Some(wait),
                        });
                    }
                }
                401 if auth => {
                    let body = bounded::error_body(resp).await;
                    let (code, message) = error_text(&body);
                    self.tokens.invalidate(upn).await;
                    if reauth {
                        return Err(EndpointError::Auth {
                            user: upn.to_string(),
                            message: format!(
                                "{op}: Graph refused a fresh token ({code}: {message}); check the app registration and its admin consent"
                            ),
                        });
                    }
                    reauth = true;
                }
                _ => {
                    return Ok(Reply {
                        status,
                        resp,
                        _permit: permit,
                    });
                }
            }
        }
    }

    fn http_err(&self, op: &str, e: reqwest::Error) -> EndpointError {
        // Never the URL: an attachment upload URL carries its own credential.
        let e = e.without_url();
        if let Some(tls) = super::http::tls_failure(&self.cfg.host, &e) {
            tls
        } else if e.is_timeout() {
            EndpointError::Timeout {
                op: op.to_string(),
                secs: self.cfg.timeout.as_secs(),
            }
        } else if e.is_connect() {
            EndpointError::Connect {
                addr: self.base.clone(),
                source: std::io::Error::other(e),
            }
        } else {
            EndpointError::ConnectionLost {
                op: format!("{op}: {e}"),
            }
        }
    }
}

/// Map a failed answer to an error (404 is `No`; callers turn it into NoFolder where it is
/// a folder).
fn failure(upn: &str, op: &str, status: StatusCode, body: &[u8]) -> EndpointError {
    let (code, message) = error_text(body);
    let text = format!("HTTP {} {code}: {message} (mailbox {upn})", status.as_u16());
    match status.as_u16() {
        403 => EndpointError::Auth {
            user: upn.to_string(),
            message: format!(
                "{op}: access denied ({code}: {message}); the app needs Mail.ReadWrite (and Mail-Advanced.ReadWrite.All for importMime) with admin consent, and the mailbox must be in its scope"
            ),
        },
        507 => EndpointError::OverQuota {
            op: op.to_string(),
            message: text,
        },
        _ if code.to_ascii_lowercase().contains("quota") => EndpointError::OverQuota {
            op: op.to_string(),
            message: text,
        },
        400..=499 => EndpointError::No {
            op: op.to_string(),
            message: text,
        },
        _ => EndpointError::Protocol {
            op: op.to_string(),
            message: text,
        },
    }
}

fn parse_date(v: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

fn graph_time(d: &DateTime<FixedOffset>) -> String {
    d.with_timezone(&Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl GraphSession {
    pub fn host(&self) -> &str {
        &self.c.cfg.host
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/v1.0/users/{}{rest}", self.c.base, enc(&self.upn))
    }

    fn beta(&self, rest: &str) -> String {
        format!("{}/beta/users/{}{rest}", self.c.base, enc(&self.upn))
    }

    fn store_err(&self, source: crate::journal::JournalError) -> EndpointError {
        EndpointError::Journal {
            op: format!("journal for {}", self.upn),
            source,
        }
    }

    /// A JSON request; the reply when it succeeded, else the mapped error.
    async fn call(
        &self,
        op: &str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let len = bytes.as_ref().map_or(0, |b| b.len() as u64);
        if len > self.c.limits.max_request {
            return Err(EndpointError::No {
                op: op.into(),
                message: format!("request of {len} bytes is over Graph's 4 MB limit"),
            });
        }
        let r = self
            .c
            .send(&self.upn, op, len, true, || {
                let mut rb = self.c.http.request(method.clone(), url);
                if let Some(b) = &bytes {
                    rb = rb
                        .header("Content-Type", "application/json")
                        .body(b.clone());
                }
                rb
            })
            .await?;
        let status = r.status;
        let body = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        if !status.is_success() {
            return Err(failure(&self.upn, op, status, &body));
        }
        let v = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| EndpointError::Protocol {
                op: op.into(),
                message: format!("unreadable JSON from Graph for {}: {e}", self.upn),
            })?
        };
        Ok((status, v))
    }

    async fn get_json(&self, op: &str, url: &str) -> Result<Value> {
        self.call(op, Method::GET, url, None).await.map(|r| r.1)
    }

    /// Every page of a collection.
    async fn get_all(&self, op: &str, url: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(url.to_string());
        while let Some(u) = next.take() {
            let v = self.get_json(op, &u).await?;
            if let Some(items) = v["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            next = v["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(out)
    }

    /// The folder tree (cached until a folder is created, renamed or deleted).
    async fn folder_list(&mut self) -> Result<&[(Folder, String)]> {
        if self.folders.is_none() {
            let mut roles: HashMap<String, (&str, Option<SpecialUse>)> = HashMap::new();
            for (name, role) in WELL_KNOWN {
                match self
                    .get_json(
                        "list folders",
                        &self.url(&format!("/mailFolders/{name}?$select=id")),
                    )
                    .await
                {
                    Ok(v) => {
                        if let Some(id) = v["id"].as_str() {
                            roles.insert(id.to_string(), (name, *role));
                        }
                    }
                    // A mailbox without an archive folder, for one.
                    Err(EndpointError::No { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let mut out = Vec::new();
            let mut todo: Vec<(Vec<String>, String)> = Vec::new();
            let top = self
                .get_all(
                    "list folders",
                    &self.url("/mailFolders?$top=250&$select=id,displayName,childFolderCount"),
                )
                .await?;
            let mut level: Vec<(Vec<String>, Value)> =
                top.into_iter().map(|v| (Vec::new(), v)).collect();
            loop {
                for (parent, v) in level.drain(..) {
                    let Some(id) = v["id"].as_str() else { continue };
                    let name = v["displayName"].as_str().unwrap_or("").to_string();
                    let role = roles.get(id).copied();
                    let mut path = parent.clone();
                    if role.is_some_and(|r| r.0 == "inbox") && parent.is_empty() {
                        path.push("INBOX".into());
                    } else {
                        path.push(name);
                    }
                    if v["childFolderCount"].as_u64().unwrap_or(1) > 0 {
                        todo.push((path.clone(), id.to_string()));
                    }
                    out.push((
                        Folder {
                            // Modified UTF-7, as the folder mapping encodes destination names.
                            wire_name: encode_mutf7(&path.join("/")),
                            path,
                            delimiter: Some('/'),
                            special: role.and_then(|r| r.1),
                            selectable: true,
                        },
                        id.to_string(),
                    ));
                }
                let Some((path, id)) = todo.pop() else { break };
                let kids = self
                    .get_all(
                        "list folders",
                        &self.url(&format!(
                            "/mailFolders/{}/childFolders?$top=250&$select=id,displayName,childFolderCount",
                            enc(&id)
                        )),
                    )
                    .await?;
                level = kids.into_iter().map(|v| (path.clone(), v)).collect();
            }
            out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
            self.folders = Some(out);
        }
        Ok(self.folders.as_deref().unwrap_or_default())
    }

    async fn folder_id(&mut self, wire: &str) -> Result<Option<String>> {
        let want = if wire.eq_ignore_ascii_case("INBOX") {
            "INBOX"
        } else {
            wire
        };
        Ok(self
            .folder_list()
            .await?
            .iter()
            .find(|(f, _)| f.wire_name == want)
            .map(|(_, id)| id.clone()))
    }

    async fn need_folder(&mut self, wire: &str, op: &str) -> Result<String> {
        if let Some(id) = self.folder_id(wire).await? {
            return Ok(id);
        }
        // Listed a while ago: look again before saying it does not exist.
        self.folders = None;
        self.folder_id(wire)
            .await?
            .ok_or_else(|| EndpointError::NoFolder {
                op: op.into(),
                folder: wire.into(),
                server: None,
            })
    }

    /// List a folder's messages, map their ids to UIDs and keep the listing.
    async fn select(&mut self, wire: &str, op: &str) -> Result<FolderState> {
        let id = self.need_folder(wire, op).await?;
        let url = self.url(&format!(
            "/mailFolders/{}/messages?$top={PAGE}&$select=id,isRead,isDraft,flag,receivedDateTime&$expand={}",
            enc(&id),
            enc(&format!(
                "singleValueExtendedProperties($filter=id eq '{FINGERPRINT_PROP}' or id eq '{SIZE_PROP}' or id eq '{BUILDING_PROP}')"
            ))
        ));
        let raw = match self.get_all(op, &url).await {
            Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {
                self.folders = None;
                return Err(EndpointError::NoFolder {
                    op: op.into(),
                    folder: wire.into(),
                    server: None,
                });
            }
            r => r?,
        };
        let mut items: Vec<Item> = Vec::with_capacity(raw.len());
        for v in &raw {
            let Some(mid) = v["id"].as_str() else {
                continue;
            };
            let mut size = None;
            let mut fp = None;
            let mut building = false;
            for p in v["singleValueExtendedProperties"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let pid = p["id"].as_str().unwrap_or("");
                let val = p["value"].as_str().unwrap_or("");
                if pid.eq_ignore_ascii_case(FINGERPRINT_PROP) {
                    let mut it = val.split_whitespace();
                    if let (Some(f), Some(s)) = (it.next(), it.next().and_then(|s| s.parse().ok()))
                    {
                        fp = Some((f.to_string(), s));
                    }
                } else if pid.eq_ignore_ascii_case(SIZE_PROP) {
                    size = val.parse::<u64>().ok();
                } else if pid.eq_ignore_ascii_case(BUILDING_PROP) {
                    building = true;
                }
            }
            let mut flags = Vec::new();
            if v["isRead"].as_bool() == Some(true) {
                flags.push("\\Seen".to_string());
            }
            if v["flag"]["flagStatus"].as_str() == Some("flagged") {
                flags.push("\\Flagged".to_string());
            }
            if v["isDraft"].as_bool() == Some(true) {
                flags.push("\\Draft".to_string());
            }
            items.push(Item {
                uid: 0,
                id: mid.to_string(),
                size: fp.as_ref().map(|f| f.1).or(size).unwrap_or(0),
                unfinished: building && fp.is_none(),
                fingerprint: fp.map(|f| f.0),
                flags,
                received: parse_date(&v["receivedDateTime"]),
            });
        }
        // First-seen order for ids never seen: oldest first, so UIDs grow with time.
        items.sort_by(|a, b| a.received.cmp(&b.received).then(a.id.cmp(&b.id)));
        // Paging by $skip while mail arrives can list one message on two pages: once each.
        let mut listed = std::collections::HashSet::new();
        items.retain(|i| listed.insert(i.id.clone()));
        // cutover's own unfinished JSON creations (a run killed while adding attachments):
        // never the copy of anything; removed (the message is sent again whole).
        let unfinished: Vec<String> = items
            .iter()
            .filter(|i| i.unfinished)
            .map(|i| i.id.clone())
            .collect();
        items.retain(|i| !i.unfinished);
        if self.c.side == "destination" {
            for id in unfinished {
                let gone = self
                    .call(
                        "remove unfinished message",
                        Method::POST,
                        &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                        None,
                    )
                    .await;
                if gone.is_ok() {
                    tracing::info!(mailbox = %self.upn, folder = wire, "removed a message an interrupted run left without its attachments");
                }
            }
        }
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, wire, &ids)
            .map_err(|e| self.store_err(e))?;
        for (i, u) in items.iter_mut().zip(uids) {
            i.uid = u;
        }
        items.sort_by_key(|i| i.uid);
        let (uidvalidity, uidnext) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, wire)
            .map_err(|e| self.store_err(e))?;
        let exists = items.len() as u32;
        self.selected = Some(Selected {
            wire: wire.to_string(),
            items,
        });
        Ok(FolderState {
            uidvalidity,
            uidnext,
            exists,
        })
    }

    fn chosen(&self, uids: &[u32], from_uid: u32) -> Vec<Item> {
        let Some(sel) = &self.selected else {
            return Vec::new();
        };
        let mut want = uids.to_vec();
        want.sort_unstable();
        sel.items
            .iter()
            .filter(|i| {
                if want.is_empty() {
                    i.uid >= from_uid
                } else {
                    want.binary_search(&i.uid).is_ok()
                }
            })
            .cloned()
            .collect()
    }

    /// A message's MIME export; None when it is gone.
    async fn mime(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let op = "download message";
        let url = self.url(&format!("/messages/{}/$value", enc(id)));
        let r = self
            .c
            .send(&self.upn, op, 0, true, || self.c.http.get(&url))
            .await?;
        let status = r.status;
        let resp = r.resp;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = bounded::error_body(resp).await;
            return Err(failure(&self.upn, op, status, &body));
        }
        let cap = bounded::message_cap(self.c.cfg.max_message_size);
        let out = bounded::http_body(resp, cap.try_into().unwrap_or(usize::MAX), "a message")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        Ok(Some(out))
    }

    /// After a folder was deleted: remove the parents cutover created implicitly for it,
    /// deepest first, while they hold no message and no other folder.
    async fn delete_created_parents(&mut self, folder: &str) -> Result<()> {
        let (_, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, CREATED_PARENTS)
            .map_err(|e| self.store_err(e))?;
        let all: Vec<u32> = (1..next).collect();
        let created: Vec<String> = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, CREATED_PARENTS, &all)
            .map_err(|e| self.store_err(e))?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let mut path = folder;
        while let Some((parent, _)) = path.rsplit_once('/') {
            path = parent;
            if !created.iter().any(|c| c == parent) {
                break;
            }
            let listed = self.folder_list().await?;
            let Some(id) = listed
                .iter()
                .find(|(f, _)| f.wire_name == parent)
                .map(|(_, id)| id.clone())
            else {
                continue;
            };
            let prefix = format!("{parent}/");
            if listed.iter().any(|(f, _)| f.wire_name.starts_with(&prefix)) {
                break;
            }
            let v = self
                .get_json(
                    "delete folder",
                    &self.url(&format!("/mailFolders/{}?$select=totalItemCount", enc(&id))),
                )
                .await?;
            if v["totalItemCount"].as_u64() != Some(0) {
                break;
            }
            self.call(
                "delete folder",
                Method::DELETE,
                &self.url(&format!("/mailFolders/{}", enc(&id))),
                None,
            )
            .await?;
            tracing::info!(mailbox = %self.upn, folder = parent, "rollback: parent folder cutover created removed");
            self.folders = None;
        }
        Ok(())
    }

    /// Complete imports an earlier process made but could not finish (killed between the
    /// import and its PATCH): a message of the selected folder without cutover's property
    /// whose export has the fingerprint of a recorded import gets its state and property.
    /// Returns whether anything was repaired.
    async fn repair(&mut self, folder: &str) -> Result<bool> {
        let key = incomplete(folder);
        let (_, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, &key)
            .map_err(|e| self.store_err(e))?;
        if next <= 1 {
            return Ok(false);
        }
        let all: Vec<u32> = (1..next).collect();
        let mut intents: Vec<(String, u64, bool, bool)> = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &key, &all)
            .map_err(|e| self.store_err(e))?
            .into_iter()
            .filter_map(|(_, r)| {
                let mut it = r.split(' ');
                Some((
                    it.next()?.to_string(),
                    it.next()?.parse().ok()?,
                    it.next()? == "1",
                    it.next()? == "1",
                ))
            })
            .collect();
        let bare: Vec<Item> = self
            .selected
            .as_ref()
            .map(|s| {
                s.items
                    .iter()
                    .filter(|i| i.fingerprint.is_none())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut repaired = 0;
        for i in bare {
            if intents.is_empty() {
                break;
            }
            let Some(bytes) = self.mime(&i.id).await? else {
                continue;
            };
            let f = fingerprint(&bytes);
            let Some(pos) = intents.iter().position(|x| x.0 == f) else {
                continue;
            };
            let (fp, size, seen, flagged) = intents.swap_remove(pos);
            self.call(
                "complete interrupted import",
                Method::PATCH,
                &self.url(&format!("/messages/{}", enc(&i.id))),
                Some(&completion(&format!("{fp} {size}"), seen, flagged)),
            )
            .await?;
            repaired += 1;
        }
        if repaired > 0 {
            tracing::info!(mailbox = %self.upn, folder, repaired, "completed imports an interrupted run left unfinished");
        }
        self.c
            .store
            .reset_ref_folder(self.c.side, &self.upn, &key)
            .map_err(|e| self.store_err(e))?;
        Ok(repaired > 0)
    }

    fn allocate(&self, folder: &str, id: &str) -> Result<AppendOutcome> {
        let uid = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, folder, &[id])
            .map_err(|e| self.store_err(e))?;
        let (uidvalidity, _) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(uidvalidity),
            uid: uid.first().copied(),
        })
    }

    /// Journal one message; `Err` when the outcome is unknown (the connection failed after the
    /// request was sent) or the folder/account cannot take it.
    async fn append_one(
        &self,
        folder: &str,
        folder_id: &str,
        m: &Message,
    ) -> Result<AppendOutcome> {
        let raw = m.body.bytes();
        let fp = format!("{} {}", fingerprint(raw), raw.len());
        let b64_len = raw.len().div_ceil(3) * 4;
        let mime = self.c.cfg.graph_import == GraphImport::Mime
            && (b64_len as u64) <= self.c.limits.max_request;
        let seen = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"));
        let flagged = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Flagged"));
        if mime {
            // If this process dies between the import and its PATCH, the next open of the
            // folder finds the bare import by its content and completes it (`repair`).
            let intent = format!("{fp} {} {}", seen as u8, flagged as u8);
            self.c
                .store
                .ref_uids(
                    self.c.side,
                    &self.upn,
                    &incomplete(folder),
                    &[intent.as_str()],
                )
                .map_err(|e| self.store_err(e))?;
        }
        let created = if mime {
            self.import_mime(folder_id, raw).await
        } else {
            self.create_json(folder_id, m, &fp).await
        };
        let id = match created {
            Ok(id) => id,
            Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {
                return Err(EndpointError::NoFolder {
                    op: "append".into(),
                    folder: folder.into(),
                    server: None,
                });
            }
            Err(EndpointError::No { message, .. }) => {
                return Ok(AppendOutcome::Refused {
                    reason: format!("Graph refused the message: {message}"),
                });
            }
            Err(e) => return Err(e),
        };
        // The message exists from here: journal its UID before anything else can fail.
        let outcome = self.allocate(folder, &id)?;
        let patch = if mime {
            completion(&fp, seen, flagged)
        } else {
            Value::Null
        };
        if !patch.is_null()
            && let Err(e) = self
                .call(
                    "set read state and flag",
                    Method::PATCH,
                    &self.url(&format!("/messages/{}", enc(&id))),
                    Some(&patch),
                )
                .await
        {
            // Without its state and fingerprint the copy is not the message: take it back,
            // so that it is sent again whole (if that fails too, the append is in doubt and
            // the next run resolves it against the mailbox).
            self.call(
                "remove incomplete message",
                Method::POST,
                &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                None,
            )
            .await
            .map_err(|d| EndpointError::ConnectionLost {
                op: format!(
                    "append to {folder} for {}: the message was created but not completed ({e}), and removing it failed ({d})",
                    self.upn
                ),
            })?;
            return Err(e);
        }
        Ok(outcome)
    }

    async fn import_mime(&self, folder_id: &str, raw: &[u8]) -> Result<String> {
        let op = "importMime";
        let body = base64::engine::general_purpose::STANDARD.encode(raw);
        let url = self.beta(&format!("/mailFolders/{}/importMime", enc(folder_id)));
        let len = body.len() as u64;
        let r = self
            .c
            .send(&self.upn, op, len, true, || {
                self.c
                    .http
                    .post(&url)
                    .header("Content-Type", "text/plain")
                    .body(body.clone())
            })
            .await?;
        let status = r.status;
        let bytes = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        if !status.is_success() {
            return Err(failure(&self.upn, op, status, &bytes));
        }
        created_id(op, &bytes)
    }

    /// The JSON path: the message rebuilt from its parts, then its attachments.
    async fn create_json(&self, folder_id: &str, m: &Message, fp: &str) -> Result<String> {
        let raw = m.body.bytes();
        let Some(parsed) = MessageParser::default().parse(raw) else {
            return Err(EndpointError::No {
                op: "parse".into(),
                message: "not a readable RFC 5322 message".into(),
            });
        };
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<Value> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| {
                        let address = x.address()?;
                        Some(json!({"emailAddress": {"address": address, "name": x.name().unwrap_or(address)}}))
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let (ctype, content) = match parsed.body_html(0) {
            Some(h) => ("html", h.into_owned()),
            None => (
                "text",
                parsed
                    .body_text(0)
                    .map(|t| t.into_owned())
                    .unwrap_or_default(),
            ),
        };
        let seen = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"));
        let header_end = find_header_end(raw);
        let headers = String::from_utf8_lossy(&raw[..header_end]).into_owned();
        // With attachments still to add, the message is marked unfinished; its fingerprint
        // (what makes it the copy for resume and verification) is set once all are in.
        let has_attachments = parsed.attachments().next().is_some();
        let mark = if has_attachments {
            BUILDING_PROP
        } else {
            FINGERPRINT_PROP
        };
        let mut props = vec![
            json!({"id": FLAGS_PROP, "value": if seen { "1" } else { "0" }}),
            json!({"id": HEADERS_PROP, "value": headers}),
            json!({"id": mark, "value": fp}),
        ];
        let delivered = m.internal_date.or_else(|| {
            parsed
                .date()
                .and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
        });
        if let Some(d) = delivered {
            props.push(json!({"id": DELIVERY_PROP, "value": graph_time(&d)}));
        }
        if let Some(d) = parsed
            .date()
            .and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
        {
            props.push(json!({"id": SUBMIT_PROP, "value": graph_time(&d)}));
        }
        let mut msg = json!({
            "subject": parsed.subject().unwrap_or(""),
            "body": {"contentType": ctype, "content": content},
            "toRecipients": addrs(parsed.to()),
            "ccRecipients": addrs(parsed.cc()),
            "bccRecipients": addrs(parsed.bcc()),
            "isRead": seen,
            "flag": {"flagStatus": if m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Flagged")) { "flagged" } else { "notFlagged" }},
            "singleValueExtendedProperties": props,
        });
        if let Some(f) = addrs(parsed.from()).into_iter().next() {
            msg["from"] = f.clone();
            msg["sender"] = f;
        }
        if let Some(id) = parsed.message_id() {
            msg["internetMessageId"] = json!(format!("<{id}>"));
        }
        let (_, created) = self
            .call(
                "create message",
                Method::POST,
                &self.url(&format!("/mailFolders/{}/messages", enc(folder_id))),
                Some(&msg),
            )
            .await?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| EndpointError::Protocol {
                op: "create message".into(),
                message: "Graph's answer has no id".into(),
            })?
            .to_string();
        for part in parsed.attachments() {
            let name = part
                .attachment_name()
                .unwrap_or(if part.is_message() {
                    "message.eml"
                } else {
                    "attachment"
                })
                .to_string();
            let ct = part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{s}", c.ctype()),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let bytes = part.contents();
            if let Err(e) = self.attach(&id, &name, &ct, part.content_id(), bytes).await {
                // Half a message must not stay behind as if it were the copy.
                let _ = self
                    .call(
                        "remove incomplete message",
                        Method::POST,
                        &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                        None,
                    )
                    .await;
                return Err(e);
            }
        }
        if has_attachments {
            self.call(
                "complete message",
                Method::PATCH,
                &self.url(&format!("/messages/{}", enc(&id))),
                Some(&json!({
                    "singleValueExtendedProperties": [{"id": FINGERPRINT_PROP, "value": fp}],
                })),
            )
            .await?;
        }
        Ok(id)
    }

    async fn attach(
        &self,
        id: &str,
        name: &str,
        ctype: &str,
        cid: Option<&str>,
        bytes: &[u8],
    ) -> Result<()> {
        if bytes.len() < ATTACH_INLINE_MAX {
            let mut a = json!({
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": name,
                "contentType": ctype,
                "contentBytes": base64::engine::general_purpose::STANDARD.encode(bytes),
            });
            if let Some(c) = cid {
                a["contentId"] = json!(c);
                a["isInline"] = json!(true);
            }
            self.call(
                "add attachment",
                Method::POST,
                &self.url(&format!("/messages/{}/attachments", enc(id))),
                Some(&a),
            )
            .await?;
            return Ok(());
        }
        let (_, s) = self
            .call(
                "create upload session",
                Method::POST,
                &self.url(&format!("/messages/{}/attachments/createUploadSession", enc(id))),
                Some(&json!({"AttachmentItem": {
                    "attachmentType": "file", "name": name, "size": bytes.len(), "contentType": ctype,
                }})),
            )
            .await?;
        let Some(upload_url) = s["uploadUrl"].as_str().map(str::to_string) else {
            return Err(EndpointError::Protocol {
                op: "create upload session".into(),
                message: "Graph's answer has no uploadUrl".into(),
            });
        };
        let total = bytes.len();
        let mut start = 0;
        while start < total {
            let end = (start + CHUNK).min(total);
            let chunk = bytes[start..end].to_vec();
            let range = format!("bytes {start}-{}/{total}", end - 1);
            let op = "upload attachment";
            // The upload URL carries its own credential: no Authorization header.
            let r = self
                .c
                .send(&self.upn, op, chunk.len() as u64, false, || {
                    self.c
                        .http
                        .put(&upload_url)
                        .header("Content-Range", range.clone())
                        .header("Content-Type", "application/octet-stream")
                        .body(chunk.clone())
                })
                .await?;
            let status = r.status;
            let body = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
                .await
                .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
            if !status.is_success() {
                return Err(failure(&self.upn, op, status, &body));
            }
            start = end;
        }
        Ok(())
    }
}

/// The PATCH that completes an imported message.
fn completion(fp: &str, seen: bool, flagged: bool) -> Value {
    json!({
        "isRead": seen,
        "flag": {"flagStatus": if flagged { "flagged" } else { "notFlagged" }},
        "singleValueExtendedProperties": [{"id": FINGERPRINT_PROP, "value": fp}],
    })
}

fn created_id(op: &str, body: &[u8]) -> Result<String> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| EndpointError::Protocol {
            op: op.into(),
            message: "Graph's answer has no message id".into(),
        })
}

/// Where the header block ends (after its blank line), or the whole message.
fn find_header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(raw.len())
}

impl MailSession for GraphSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        self.folders = None;
        Ok(self
            .folder_list()
            .await?
            .iter()
            .map(|(f, _)| f.clone())
            .collect())
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.select(folder, "examine").await
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        let st = self.select(folder, "open for append").await?;
        if self.c.side == "destination" && self.repair(folder).await? {
            return self.select(folder, "open for append").await;
        }
        Ok(st)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let keep = self.selected.take();
        let r = self.select(folder, "status").await;
        if let Some(k) = keep
            && k.wire != folder
        {
            self.selected = Some(k);
        }
        r
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        if self.c.side == "source" {
            return Err(read_only("create folder"));
        }
        self.folders = None;
        if self.folder_id(folder).await?.is_some() {
            return Ok(false);
        }
        let parts: Vec<&str> = folder.split('/').collect();
        let mut parent: Option<String> = None;
        for i in 0..parts.len() {
            let path = parts[..=i].join("/");
            if let Some(id) = self.folder_id(&path).await? {
                parent = Some(id);
                continue;
            }
            let url = match &parent {
                None => self.url("/mailFolders"),
                Some(p) => self.url(&format!("/mailFolders/{}/childFolders", enc(p))),
            };
            let r = self
                .call(
                    "create folder",
                    Method::POST,
                    &url,
                    Some(&json!({"displayName": decode_mutf7(parts[i])})),
                )
                .await;
            match r {
                Ok((_, v)) => {
                    parent = v["id"].as_str().map(str::to_string);
                    if i + 1 < parts.len() {
                        self.c
                            .store
                            .ref_uids(self.c.side, &self.upn, CREATED_PARENTS, &[path.as_str()])
                            .map_err(|e| self.store_err(e))?;
                    }
                }
                Err(EndpointError::No { message, .. })
                    if message.contains("ErrorFolderExists") || message.contains("HTTP 409") =>
                {
                    self.folders = None;
                    parent = self.folder_id(&path).await?;
                    if i + 1 == parts.len() {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e),
            }
            self.folders = None;
        }
        Ok(true)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let Some(wire) = self.selected.as_ref().map(|s| s.wire.clone()) else {
            return Ok(Vec::new());
        };
        // What the mailbox holds now.
        self.select(&wire, "list messages").await?;
        let items = self.chosen(&[], from_uid);
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            // PR_MESSAGE_SIZE: Exchange's storage size, not the MIME export's length (the
            // capabilities say so; the journal records the real size once a message is read).
            out.push(MessageMeta {
                uid: i.uid,
                size: i.size,
            });
        }
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        for i in self.chosen(uids, 0) {
            let Some(bytes) = self.mime(&i.id).await? else {
                continue;
            };
            let m = Message {
                uid: i.uid,
                flags: i.flags.clone(),
                internal_date: i.received,
                body: Body::new(bytes),
            };
            if !sink.send(m).await {
                break;
            }
        }
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        let mut out = Vec::new();
        for i in self.chosen(uids, from_uid) {
            let (fp, size) = match &i.fingerprint {
                Some(fp) => (fp.clone(), i.size),
                None => match self.mime(&i.id).await? {
                    Some(b) => (fingerprint(&b), b.len() as u64),
                    None => continue,
                },
            };
            out.push(Fingerprinted {
                uid: i.uid,
                size,
                fingerprint: fp,
                flags: i.flags.clone(),
                internal_date: i.received,
            });
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        if self.c.side == "source" {
            return Err(read_only("append"));
        }
        let folder_id = self.need_folder(folder, "append").await?;
        let mut out = Vec::with_capacity(msgs.len());
        let mut stop: Option<String> = None;
        for m in msgs {
            if let Some(why) = &stop {
                out.push(AppendOutcome::Failed {
                    error: EndpointError::No {
                        op: "append".into(),
                        message: format!("not attempted: {why}"),
                    },
                });
                continue;
            }
            match self.append_one(folder, &folder_id, m).await {
                Ok(o) => out.push(o),
                Err(
                    e @ (EndpointError::OverQuota { .. }
                    | EndpointError::NoFolder { .. }
                    | EndpointError::Throttled { .. }
                    | EndpointError::Auth { .. }),
                ) => {
                    stop = Some(e.to_string());
                    if matches!(e, EndpointError::NoFolder { .. }) {
                        self.folders = None;
                    }
                    out.push(AppendOutcome::Failed { error: e });
                }
                // The connection failed: what was stored is unknown (in doubt).
                Err(e) => return Err(e),
            }
        }
        // Every import of this batch was completed or never happened: nothing to repair.
        self.c
            .store
            .reset_ref_folder(self.c.side, &self.upn, &incomplete(folder))
            .map_err(|e| self.store_err(e))?;
        Ok(out)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("expunge"));
        }
        let Some(wire) = self.selected.as_ref().map(|s| s.wire.clone()) else {
            return Ok(());
        };
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &wire, uids)
            .map_err(|e| self.store_err(e))?;
        for (_, id) in refs {
            match self
                .call(
                    "permanentDelete",
                    Method::POST,
                    &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                    None,
                )
                .await
            {
                Ok(_) => {}
                // Already gone.
                Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("rename folder"));
        }
        let id = self.need_folder(from, "rename folder").await?;
        let (fp, fname) = from.rsplit_once('/').unwrap_or(("", from));
        let (tp, tname) = to.rsplit_once('/').unwrap_or(("", to));
        if fp != tp {
            return Err(EndpointError::No {
                op: "rename folder".into(),
                message: format!(
                    "{from} -> {to}: only a rename within the same parent is supported"
                ),
            });
        }
        let _ = fname;
        self.call(
            "rename folder",
            Method::PATCH,
            &self.url(&format!("/mailFolders/{}", enc(&id))),
            Some(&json!({"displayName": decode_mutf7(tname)})),
        )
        .await?;
        self.folders = None;
        Ok(())
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("delete folder"));
        }
        let id = self.need_folder(folder, "delete folder").await?;
        self.call(
            "delete folder",
            Method::DELETE,
            &self.url(&format!("/mailFolders/{}", enc(&id))),
            None,
        )
        .await?;
        self.folders = None;
        self.delete_created_parents(folder).await
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        // Read state and the flag are kept; keywords have no place in Graph's model here.
        Some(&[])
    }

    async fn logout(self) {}
}

fn read_only(op: &str) -> EndpointError {
    EndpointError::Protocol {
        op: op.into(),
        message: "the source is never modified (Graph source is read-only)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hold_requests_and_uploads_back_until_they_slide() {
        let l = Limits {
            requests: 2,
            requests_window: Duration::from_secs(10),
            upload_bytes: 100,
            upload_window: Duration::from_secs(20),
            ..Limits::default()
        };
        let mut w = Window::default();
        let t0 = Instant::now();
        assert!(w.admit(t0, 60, &l).is_none());
        // 60 + 60 > 100 bytes: wait for the first upload to leave the window.
        let (d, why) = w.admit(t0, 60, &l).unwrap();
        assert_eq!(d, Duration::from_secs(20));
        assert!(why.contains("bytes"));
        assert!(w.admit(t0, 0, &l).is_none());
        let (d, why) = w.admit(t0 + Duration::from_secs(4), 0, &l).unwrap();
        assert_eq!(d, Duration::from_secs(6));
        assert!(why.contains("requests"));
        assert!(w.admit(t0 + Duration::from_secs(10), 0, &l).is_none());
        assert!(w.admit(t0 + Duration::from_secs(21), 60, &l).is_none());
        w.server_until = Some(t0 + Duration::from_secs(30));
        assert!(
            w.admit(t0 + Duration::from_secs(25), 0, &l)
                .unwrap()
                .1
                .contains("Retry-After")
        );
    }

    #[test]
    fn graph_errors_map_to_endpoint_errors() {
        let body = br#"{"error":{"code":"ErrorQuotaExceeded","message":"full"}}"#;
        assert!(matches!(
            failure("a@b", "x", StatusCode::BAD_REQUEST, body),
            EndpointError::OverQuota { .. }
        ));
        assert!(matches!(
            failure("a@b", "x", StatusCode::INSUFFICIENT_STORAGE, b"{}"),
            EndpointError::OverQuota { .. }
        ));
        let e = failure(
            "a@b",
            "x",
            StatusCode::BAD_REQUEST,
            br#"{"error":{"code":"ErrorInvalidMime","message":"bad"}}"#,
        );
        assert!(e.to_string().contains("ErrorInvalidMime"), "{e}");
        assert_eq!(enc("a b/c'"), "a%20b%2Fc%27");
        assert_eq!(find_header_end(b"A: b\r\n\r\nbody"), 8);
    }
}
