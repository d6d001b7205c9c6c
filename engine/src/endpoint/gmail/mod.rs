//! The Gmail API (Google Workspace) as a destination or a source, on reqwest.
//!
//! Gmail has labels, not folders. The system labels INBOX, SENT, DRAFT, SPAM and TRASH are
//! presented as the folders `INBOX`, `Sent`, `Drafts`, `Junk` and `Trash` (with their
//! special use), user labels under their names (`/` nests them), and mail that carries none
//! of these (archived mail) as `Archive` (`\Archive`). STARRED, UNREAD, IMPORTANT and the
//! CATEGORY_* labels are states, not folders: they become the `\Flagged` and `\Seen` flags.
//!
//! Messages have ids, not UIDs: the journal maps each id to a UID per folder once and for all
//! (`Journal::ref_uids`), so resume, verification and rollback work as for IMAP. A message
//! carries several labels, so as a source it is listed in every folder it is labelled with:
//! copying each message once needs the engine's Gmail policy, which gets the labels of each
//! message from [`GmailSession::labelled_messages`].
//!
//! Writing uses `messages.import` (as a mail delivery would, with the date from the `Date:`
//! header, never classified as spam, no calendar processing); the raw bytes are kept by Gmail
//! and read back byte for byte with `format=raw`. Rollback deletes messages permanently
//! (`messages.delete`), which needs the full `https://mail.google.com/` scope.
//!
//! Every call is counted against Gmail's per-user quota (15,000 units a minute, with each
//! method's documented cost) in a sliding window before it is sent; a 429 or a 403
//! `rateLimitExceeded`/`userRateLimitExceeded` is waited out (Retry-After, else exponential
//! backoff) and, after [`MAX_RETRIES`], reported as [`EndpointError::Throttled`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

use super::bounded;
use super::oauth::TokenProvider;
use super::{
    AppendOutcome, Body, Capabilities, ConnectionBudget, EndpointError, Fingerprinted, Folder,
    FolderState, MailSession, Message, MessageIdentity, MessageMeta, MessageSink, Result,
    SpecialUse, fingerprint,
};
use crate::config::{self, Credential, EndpointKind};
use crate::endpoint::imap::{decode_mutf7, encode_mutf7};
use crate::journal::Journal;

/// Largest message `messages.import` takes (the media upload limit).
pub const MAX_IMPORT_BYTES: u64 = 150 * 1024 * 1024;

/// Gmail's per-user quota: units per minute.
pub const USER_UNITS_PER_MINUTE: u32 = 15_000;

/// Quota units of the methods used (Gmail API usage limits).
pub mod units {
    pub const LABELS_LIST: u32 = 1;
    pub const LABELS_CREATE: u32 = 5;
    pub const LABELS_UPDATE: u32 = 5;
    pub const LABELS_DELETE: u32 = 5;
    pub const MESSAGES_LIST: u32 = 5;
    pub const MESSAGES_GET: u32 = 5;
    pub const MESSAGES_IMPORT: u32 = 25;
    pub const MESSAGES_DELETE: u32 = 10;
}

/// Throttling answers waited out before giving up with `Throttled`.
pub const MAX_RETRIES: u32 = 6;

/// The folder presented for mail with no folder label (archived).
pub const ARCHIVE: &str = "Archive";
/// Its name when a user label is called "Archive" already.
const ARCHIVE_ALT: &str = "[Archive]";

/// Journal key of the archive pseudo-folder (user labels are keyed by their label id, which
/// survives a rename; system labels' ids are their names).
const ARCHIVE_KEY: &str = "(no label)";

/// The system labels that are folders: (label id, folder name, special use).
const SYSTEM_FOLDERS: &[(&str, &str, Option<SpecialUse>)] = &[
    ("INBOX", "INBOX", None),
    ("SENT", "Sent", Some(SpecialUse::Sent)),
    ("DRAFT", "Drafts", Some(SpecialUse::Drafts)),
    ("SPAM", "Junk", Some(SpecialUse::Junk)),
    ("TRASH", "Trash", Some(SpecialUse::Trash)),
];

/// Other spellings of the system folders, which Gmail reserves: a folder of that name is the
/// system label rather than a new label Gmail would refuse.
const RESERVED_ALIASES: &[(&str, &str)] = &[
    ("Sent", "SENT"),
    ("Sent Mail", "SENT"),
    ("Draft", "DRAFT"),
    ("Drafts", "DRAFT"),
    ("Spam", "SPAM"),
    ("Junk", "SPAM"),
    ("Trash", "TRASH"),
    ("Bin", "TRASH"),
];

/// Query for the archive: no folder label of any kind.
const ARCHIVE_QUERY: &str =
    "-in:inbox -in:sent -in:drafts -in:spam -in:trash -in:chats has:nouserlabels";

/// Per-user sliding window of quota units spent in the last minute, shared by the sessions
/// of one connector.
#[derive(Clone, Default)]
struct Quota {
    spent: Arc<Mutex<HashMap<String, Window>>>,
}

/// (when, units) of the calls in the last minute, oldest first.
type Window = VecDeque<(Instant, u32)>;

impl Quota {
    const WINDOW: Duration = Duration::from_secs(60);

    /// Wait until `units` more fit in the user's last minute, then count them.
    async fn take(&self, user: &str, units: u32) {
        loop {
            let wait = {
                let mut all = self.spent.lock().expect("quota lock");
                let q = all.entry(user.to_string()).or_default();
                admit(q, Instant::now(), units, USER_UNITS_PER_MINUTE)
            };
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }
}

/// Count `units` in the window `q` at `now` when they fit under `limit` (None), else how long
/// to wait until enough of the oldest entries have left the window.
fn admit(q: &mut Window, now: Instant, units: u32, limit: u32) -> Option<Duration> {
    while q
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) >= Quota::WINDOW)
    {
        q.pop_front();
    }
    let used: u32 = q.iter().map(|(_, u)| u).sum();
    if used + units <= limit || q.is_empty() {
        q.push_back((now, units));
        return None;
    }
    let mut freed = 0;
    let mut until = now;
    for (t, u) in q.iter() {
        freed += u;
        until = *t + Quota::WINDOW;
        if used - freed + units <= limit {
            break;
        }
    }
    Some(until.saturating_duration_since(now) + Duration::from_millis(5))
}

#[derive(Clone)]
pub struct GmailConnector {
    cfg: config::Endpoint,
    http: reqwest::Client,
    tokens: TokenProvider,
    store: Journal,
    base: Url,
    quota: Quota,
    budget: ConnectionBudget,
    pub side: &'static str,
}

#[derive(Debug, Clone, Deserialize)]
struct Label {
    id: String,
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct LabelList {
    #[serde(default)]
    labels: Vec<Label>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRef {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageList {
    #[serde(default)]
    messages: Vec<MessageRef>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GmailMessage {
    id: String,
    #[serde(default)]
    label_ids: Vec<String>,
    #[serde(default)]
    size_estimate: Option<u64>,
    #[serde(default)]
    internal_date: Option<String>,
    #[serde(default)]
    raw: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// Google's error reason and message from an error body.
fn error_of(body: &[u8]) -> (String, String) {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => (
            e.error
                .errors
                .first()
                .map(|r| r.reason.clone())
                .unwrap_or_default(),
            e.error.message,
        ),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(300).collect(),
        ),
    }
}

/// Where a folder name points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A label (system or user) by id.
    Label(String),
    /// Mail with no folder label.
    Archive,
}

/// What one `messages.get` told about a message.
#[derive(Debug, Clone)]
struct Meta {
    labels: Vec<String>,
    size: u64,
    internal_ms: Option<i64>,
}

/// The examined folder: its journal key and its messages (UID, id) in UID order.
struct Current {
    key: String,
    listing: Vec<(u32, String)>,
}

pub struct GmailSession {
    c: Arc<GmailConnector>,
    user: String,
    caps: Capabilities,
    labels: Vec<Label>,
    current: Option<Current>,
    meta: HashMap<String, Meta>,
    no_keywords: Vec<String>,
    _permit: OwnedSemaphorePermit,
}

/// A message of the examined folder with its global identity and every label it carries,
/// for the engine's copy-each-message-once policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledMessage {
    pub uid: u32,
    /// The Gmail message id: the same in every folder the message is listed in.
    pub global_id: String,
    /// Its labels as folder names where they are folders (`INBOX`, `Sent`, `Drafts`,
    /// `Junk`, `Trash`, user labels by name), else the label id (`STARRED`, `UNREAD`,
    /// `IMPORTANT`, `CATEGORY_*`); `Archive` alone when it has no folder label.
    pub labels: Vec<String>,
}

fn store_err(op: &str) -> impl Fn(crate::journal::JournalError) -> EndpointError + '_ {
    move |source| EndpointError::Journal {
        op: op.into(),
        source,
    }
}

impl GmailConnector {
    pub fn new(cfg: &config::Endpoint, side: &'static str, store: &Journal) -> Result<Self> {
        let oauth = cfg.oauth.as_ref().ok_or_else(|| EndpointError::Protocol {
            op: format!("{side} endpoint"),
            message: "kind = \"gmail\" needs an [oauth] table".into(),
        })?;
        let http = super::http::client(cfg, side, cfg.timeout.max(Duration::from_secs(30)))?;
        let tokens = TokenProvider::new(oauth, EndpointKind::Gmail, &cfg.host, side, http.clone())?;
        let base = Url::parse(&format!("{}/", cfg.api_url.trim_end_matches('/'))).map_err(|e| {
            EndpointError::Protocol {
                op: format!("{side} endpoint"),
                message: format!("api_url {:?} is not a URL: {e}", cfg.api_url),
            }
        })?;
        Ok(GmailConnector {
            cfg: cfg.clone(),
            http,
            tokens,
            store: store.clone(),
            base,
            quota: Quota::default(),
            budget: ConnectionBudget::new(cfg.max_connections),
            side,
        })
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    /// A session on `cred.user`'s mailbox (the label list is read to check access).
    pub async fn connect(&self, cred: &Credential) -> Result<GmailSession> {
        let permit = self.budget.acquire().await;
        let limit = self
            .cfg
            .max_message_size
            .map_or(MAX_IMPORT_BYTES, |m| m.min(MAX_IMPORT_BYTES));
        let mut s = GmailSession {
            c: Arc::new(self.clone()),
            user: cred.user.clone(),
            caps: Capabilities {
                append_limit: Some(limit),
                inexact_sizes: true,
                raw: vec!["GMAIL-API".into()],
                ..Capabilities::default()
            },
            labels: Vec::new(),
            current: None,
            meta: HashMap::new(),
            no_keywords: Vec::new(),
            _permit: permit,
        };
        s.load_labels().await.map_err(|e| match e {
            EndpointError::No { message, .. } | EndpointError::NoFolder { folder: message, .. } => {
                EndpointError::Auth {
                    user: cred.user.clone(),
                    message: format!(
                        "the Gmail API refused access to this mailbox: {message} (is the user in the Workspace domain, and the service account's domain-wide delegation granted the scopes?)"
                    ),
                }
            }
            e => e,
        })?;
        Ok(s)
    }
}

/// IMAP flags from a message's label ids.
fn flags_of(labels: &[String]) -> Vec<String> {
    let mut f = Vec::new();
    if !labels.iter().any(|l| l == "UNREAD") {
        f.push("\\Seen".to_string());
    }
    if labels.iter().any(|l| l == "STARRED") {
        f.push("\\Flagged".to_string());
    }
    if labels.iter().any(|l| l == "DRAFT") {
        f.push("\\Draft".to_string());
    }
    f
}

fn date_of(ms: Option<i64>) -> Option<DateTime<FixedOffset>> {
    let d = Utc.timestamp_millis_opt(ms?).single()?;
    Some(d.fixed_offset())
}

/// A multipart/related boundary that does not occur in `raw`.
fn boundary_for(raw: &[u8]) -> String {
    let mut n: u64 = 0x9e37_79b9_7f4a_7c15 ^ raw.len() as u64;
    loop {
        let b = format!("cutover-{n:016x}");
        if !raw.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

impl GmailSession {
    pub fn host(&self) -> &str {
        &self.c.cfg.host
    }

    fn ctx(&self, op: &str) -> String {
        format!("{op} ({} mailbox {})", self.c.side, self.user)
    }

    /// `gmail/v1/users/{user}/<rest...>` (or under `upload/`) as a URL.
    fn url(&self, upload: bool, rest: &[&str]) -> Url {
        let mut u = self.c.base.clone();
        {
            let mut p = u.path_segments_mut().expect("http(s) base URL");
            p.pop_if_empty();
            if upload {
                p.push("upload");
            }
            p.extend(["gmail", "v1", "users", &self.user]);
            p.extend(rest);
        }
        u
    }

    /// Send a request (rebuilt on each attempt) within the quota, with a fresh token once
    /// after a 401, waiting out throttling answers. Returns any other status with its body.
    async fn call(
        &self,
        op: &str,
        units: u32,
        method: Method,
        url: Url,
        body: Option<(&str, &[u8])>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        self.call_capped(op, units, method, url, body, bounded::JSON_CAP)
            .await
    }

    /// [`Self::call`] with an answer of at most `cap` bytes (a raw message is larger than
    /// an API page).
    async fn call_capped(
        &self,
        op: &str,
        units: u32,
        method: Method,
        url: Url,
        body: Option<(&str, &[u8])>,
        cap: usize,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let mut auth_retried = false;
        let mut throttled = 0u32;
        loop {
            self.c.quota.take(&self.user, units).await;
            let token = self.c.tokens.token(&self.user).await?;
            let mut req = self
                .c
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret());
            if let Some((ctype, bytes)) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, ctype)
                    .body(bytes.to_vec());
            }
            let sent = req.send().await;
            if let Err(e) = &sent
                && let Some(tls) = super::http::tls_failure(&self.c.cfg.host, e)
            {
                return Err(tls);
            }
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(EndpointError::Timeout {
                        op: self.ctx(op),
                        secs: self.c.cfg.timeout.as_secs(),
                    });
                }
                Err(e) if e.is_connect() => {
                    return Err(EndpointError::Connect {
                        addr: self.c.base.to_string(),
                        source: std::io::Error::other(e),
                    });
                }
                Err(e) => {
                    return Err(EndpointError::ConnectionLost {
                        op: format!("{}: {e}", self.ctx(op)),
                    });
                }
            };
            let status = resp.status();
            let retry_after = super::retry_after::retry_after(resp.headers());
            let bytes = bounded::http_body(resp, cap, "a Gmail API answer")
                .await
                .map_err(|e| {
                    e.into_endpoint(&self.ctx(op), |e| EndpointError::ConnectionLost {
                        op: format!("{}: {e}", self.ctx(op)),
                    })
                })?;
            if status == StatusCode::UNAUTHORIZED {
                if !auth_retried {
                    auth_retried = true;
                    self.c.tokens.invalidate(&self.user).await;
                    continue;
                }
                let (_, message) = error_of(&bytes);
                return Err(EndpointError::Auth {
                    user: self.user.clone(),
                    message: format!("the Gmail API refused the access token twice: {message}"),
                });
            }
            let (reason, message) = if status.is_success() {
                (String::new(), String::new())
            } else {
                error_of(&bytes)
            };
            let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN
                    && matches!(
                        reason.as_str(),
                        "rateLimitExceeded" | "userRateLimitExceeded"
                    ));
            let server_error = matches!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            );
            if server_error && method == Method::POST && units == units::MESSAGES_IMPORT {
                // The import may have been stored before the error: sending it again could
                // make a second copy. The engine keeps it in doubt and looks for it by
                // fingerprint before sending anything again.
                return Err(EndpointError::ConnectionLost {
                    op: format!(
                        "{}: {status} {reason} {message} (it may or may not have been stored; resolved by fingerprint on the next attempt)",
                        self.ctx(op)
                    ),
                });
            }
            if rate_limited || server_error {
                throttled += 1;
                let backoff = Duration::from_secs(1 << (throttled - 1).min(5));
                let wait = retry_after.unwrap_or(backoff);
                if throttled > MAX_RETRIES || wait > super::MAX_RETRY_AFTER {
                    return Err(EndpointError::Throttled {
                        op: self.ctx(op),
                        message: format!(
                            "{status} {reason} {message} ({MAX_RETRIES} retries waited out)"
                        ),
                        wait: Some(wait),
                    });
                }
                tracing::debug!(user = %self.user, op, %status, ?wait, "Gmail API throttling; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Ok((status, bytes));
        }
    }

    /// An unexpected status as an error naming the call and mailbox.
    fn unexpected(&self, op: &str, status: StatusCode, body: &[u8]) -> EndpointError {
        let (reason, message) = error_of(body);
        if status == StatusCode::FORBIDDEN && reason.contains("insufficientPermissions")
            || message.contains("insufficient authentication scopes")
        {
            return EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "{status}: {message} (the token lacks a scope this call needs: {}; grant it in the domain-wide delegation and set [oauth] scope)",
                    if op.contains("delete") {
                        "https://mail.google.com/ for permanent deletion"
                    } else {
                        "see the README"
                    }
                ),
            };
        }
        if status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST {
            return EndpointError::No {
                op: self.ctx(op),
                message: format!("{status} {reason}: {message}"),
            };
        }
        EndpointError::Protocol {
            op: self.ctx(op),
            message: format!("unexpected answer {status} {reason}: {message}"),
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self, op: &str, body: &[u8]) -> Result<T> {
        serde_json::from_slice(body).map_err(|e| EndpointError::Protocol {
            op: self.ctx(op),
            message: format!("unreadable answer from the Gmail API: {e}"),
        })
    }

    async fn load_labels(&mut self) -> Result<()> {
        let op = "labels.list";
        let (st, body) = self
            .call(
                op,
                units::LABELS_LIST,
                Method::GET,
                self.url(false, &["labels"]),
                None,
            )
            .await?;
        if !st.is_success() {
            return Err(self.unexpected(op, st, &body));
        }
        self.labels = self.parse::<LabelList>(op, &body)?.labels;
        Ok(())
    }

    fn user_label_named(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.kind != "system" && l.name == name)
    }

    fn archive_name(&self) -> &'static str {
        if self.user_label_named(ARCHIVE).is_some() {
            ARCHIVE_ALT
        } else {
            ARCHIVE
        }
    }

    /// The folder name (modified UTF-7 on the wire, like IMAP names) for a label id.
    fn folder_of_label(&self, id: &str) -> Option<String> {
        if let Some((_, name, _)) = SYSTEM_FOLDERS.iter().find(|(l, _, _)| *l == id) {
            return Some(name.to_string());
        }
        self.labels
            .iter()
            .find(|l| l.id == id && l.kind != "system")
            .map(|l| l.name.clone())
    }

    /// Where a folder name points, from the labels known (read again once when unknown).
    async fn resolve(&mut self, wire: &str, op: &str) -> Result<(String, Target, String)> {
        let name = decode_mutf7(wire);
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok((
                "INBOX".into(),
                Target::Label("INBOX".into()),
                "INBOX".into(),
            ));
        }
        if let Some((id, n, _)) = SYSTEM_FOLDERS.iter().find(|(_, n, _)| *n == name) {
            return Ok((n.to_string(), Target::Label(id.to_string()), id.to_string()));
        }
        // Names Gmail reserves for its system labels (it refuses them as label names).
        if let Some((_, id)) = RESERVED_ALIASES
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&name))
        {
            return Ok((name, Target::Label(id.to_string()), id.to_string()));
        }
        for attempt in 0..2 {
            if name == self.archive_name() {
                return Ok((name, Target::Archive, ARCHIVE_KEY.into()));
            }
            if let Some(l) = self.user_label_named(&name) {
                let id = l.id.clone();
                return Ok((name, Target::Label(id.clone()), id));
            }
            if attempt == 0 {
                self.load_labels().await?;
            }
        }
        Err(EndpointError::NoFolder {
            op: self.ctx(op),
            folder: name,
            server: None,
        })
    }

    /// Every message id of a folder, oldest first (Gmail lists newest first).
    async fn list_ids(&self, target: &Target) -> Result<Vec<String>> {
        let op = "messages.list";
        let mut ids = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = self.url(false, &["messages"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("maxResults", "500");
                match target {
                    Target::Label(id) => {
                        q.append_pair("labelIds", id);
                        if id == "SPAM" || id == "TRASH" {
                            q.append_pair("includeSpamTrash", "true");
                        } else {
                            q.append_pair("q", "-in:spam -in:trash");
                        }
                    }
                    Target::Archive => {
                        q.append_pair("q", ARCHIVE_QUERY);
                    }
                }
                if let Some(p) = &page {
                    q.append_pair("pageToken", p);
                }
            }
            let (st, body) = self
                .call(op, units::MESSAGES_LIST, Method::GET, url, None)
                .await?;
            if st == StatusCode::NOT_FOUND {
                return Err(EndpointError::NoFolder {
                    op: self.ctx(op),
                    folder: format!("{target:?}"),
                    server: None,
                });
            }
            if !st.is_success() {
                return Err(self.unexpected(op, st, &body));
            }
            let l: MessageList = self.parse(op, &body)?;
            ids.extend(l.messages.into_iter().map(|m| m.id));
            match l.next_page_token {
                Some(p) if !p.is_empty() => page = Some(p),
                _ => break,
            }
        }
        ids.reverse();
        Ok(ids)
    }

    /// List a folder and map its ids to UIDs.
    async fn open(&mut self, folder: &str, op: &str) -> Result<(Current, FolderState)> {
        let (_, target, key) = self.resolve(folder, op).await?;
        let ids = self.list_ids(&target).await?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.user, &key, &refs)
            .map_err(store_err(op))?;
        let mut listing: Vec<(u32, String)> = uids.into_iter().zip(ids).collect();
        listing.sort_unstable();
        listing.dedup_by_key(|e| e.0);
        let (uidvalidity, uidnext) = self
            .c
            .store
            .ref_folder(self.c.side, &self.user, &key)
            .map_err(store_err(op))?;
        let state = FolderState {
            uidvalidity,
            uidnext,
            exists: listing.len() as u32,
        };
        Ok((Current { key, listing }, state))
    }

    fn current(&self, op: &str) -> Result<&Current> {
        self.current
            .as_ref()
            .ok_or_else(|| EndpointError::Protocol {
                op: self.ctx(op),
                message: "no folder examined".into(),
            })
    }

    /// `messages.get` in a format; None when the message is gone.
    async fn get(&mut self, id: &str, format: &str) -> Result<Option<GmailMessage>> {
        let op = "messages.get";
        let mut url = self.url(false, &["messages", id]);
        url.query_pairs_mut().append_pair("format", format);
        // format=raw carries the message in base64url (4 bytes for 3) inside the JSON.
        let cap = if format == "raw" {
            let m = bounded::message_cap(self.c.cfg.max_message_size);
            (m / 3 * 4)
                .saturating_add(bounded::JSON_CAP as u64)
                .try_into()
                .unwrap_or(usize::MAX)
        } else {
            bounded::JSON_CAP
        };
        let (st, body) = self
            .call_capped(op, units::MESSAGES_GET, Method::GET, url, None, cap)
            .await?;
        if st == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !st.is_success() {
            return Err(self.unexpected(op, st, &body));
        }
        let m: GmailMessage = self.parse(op, &body)?;
        let internal_ms = m.internal_date.as_deref().and_then(|d| d.parse().ok());
        let size = m.size_estimate.unwrap_or(0);
        self.meta.insert(
            m.id.clone(),
            Meta {
                labels: m.label_ids.clone(),
                size,
                internal_ms,
            },
        );
        Ok(Some(m))
    }

    /// Metadata of a message, from this session's cache or `format=minimal`.
    async fn meta_of(&mut self, id: &str) -> Result<Option<Meta>> {
        if let Some(m) = self.meta.get(id) {
            return Ok(Some(m.clone()));
        }
        Ok(self
            .get(id, "minimal")
            .await?
            .and_then(|_| self.meta.get(id).cloned()))
    }

    /// The raw bytes, labels and date of a message; None when it is gone.
    async fn raw(&mut self, id: &str) -> Result<Option<(Vec<u8>, Meta)>> {
        let Some(m) = self.get(id, "raw").await? else {
            return Ok(None);
        };
        let raw = m.raw.as_deref().unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(raw.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim_end_matches('='))
            })
            .map_err(|e| EndpointError::Protocol {
                op: self.ctx("messages.get"),
                message: format!("message {id}: raw is not base64url: {e}"),
            })?;
        let Some(mut meta) = self.meta.get(id).cloned() else {
            return Err(EndpointError::Protocol {
                op: self.ctx("messages.get"),
                message: format!("Gmail answered for another message than {id}"),
            });
        };
        // The exact size, now that the bytes are here.
        meta.size = bytes.len() as u64;
        self.meta.insert(id.to_string(), meta.clone());
        Ok(Some((bytes, meta)))
    }

    /// UIDs of the examined folder selected by `uids` (all with UID >= `from` when empty).
    fn select(&self, op: &str, uids: &[u32], from: u32) -> Result<Vec<(u32, String)>> {
        let cur = self.current(op)?;
        Ok(if uids.is_empty() {
            cur.listing
                .iter()
                .filter(|(u, _)| *u >= from)
                .cloned()
                .collect()
        } else {
            let want: std::collections::HashSet<u32> = uids.iter().copied().collect();
            cur.listing
                .iter()
                .filter(|(u, _)| want.contains(u))
                .cloned()
                .collect()
        })
    }

    /// For the examined folder: each message's UID, its Gmail id (the same in every folder
    /// it is listed in) and all its labels. This is what the engine's "copy each message
    /// once" policy for Gmail-shaped sources needs; without that policy a message with two
    /// folder labels is copied into both folders. One `messages.get` (5 units) per message
    /// not yet seen in this session.
    pub async fn labelled_messages(&mut self) -> Result<Vec<LabelledMessage>> {
        let op = "labelled messages";
        let listing = self.current(op)?.listing.clone();
        let mut out = Vec::with_capacity(listing.len());
        for (uid, id) in listing {
            let Some(meta) = self.meta_of(&id).await? else {
                continue;
            };
            let mut labels: Vec<String> = meta
                .labels
                .iter()
                .map(|l| self.folder_of_label(l).unwrap_or_else(|| l.clone()))
                .collect();
            let folder_label = meta
                .labels
                .iter()
                .any(|l| self.folder_of_label(l).is_some());
            if !folder_label {
                labels.push(self.archive_name().to_string());
            }
            out.push(LabelledMessage {
                uid,
                global_id: id,
                labels,
            });
        }
        Ok(out)
    }

    /// Import one message; the outcome, or Err when it is unknown whether it was stored.
    async fn import(
        &mut self,
        target: &Target,
        key: &str,
        folder: &str,
        m: &Message,
    ) -> Result<AppendOutcome> {
        let op = "messages.import";
        let raw = m.body.bytes();
        let limit = self.caps.append_limit.unwrap_or(MAX_IMPORT_BYTES);
        if raw.len() as u64 > limit {
            return Ok(AppendOutcome::Refused {
                reason: format!(
                    "message of {} is over the Gmail API's import limit of {}; not copied",
                    bytesize::ByteSize(raw.len() as u64),
                    bytesize::ByteSize(limit)
                ),
            });
        }
        let mut label_ids: Vec<String> = Vec::new();
        if let Target::Label(id) = target {
            label_ids.push(id.clone());
        }
        let has = |f: &str| m.flags.iter().any(|x| x.eq_ignore_ascii_case(f));
        if !has("\\Seen") {
            label_ids.push("UNREAD".into());
        }
        if has("\\Flagged") {
            label_ids.push("STARRED".into());
        }
        let boundary = boundary_for(raw);
        let meta = json!({ "labelIds": label_ids });
        let mut body = Vec::with_capacity(raw.len() + 512);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(raw);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut url = self.url(true, &["messages", "import"]);
        url.query_pairs_mut()
            .append_pair("uploadType", "multipart")
            .append_pair("internalDateSource", "dateHeader")
            .append_pair("neverMarkSpam", "true")
            .append_pair("processForCalendar", "false");
        let ctype = format!("multipart/related; boundary={boundary}");
        let res = self
            .call(
                op,
                units::MESSAGES_IMPORT,
                Method::POST,
                url,
                Some((&ctype, &body)),
            )
            .await;
        let (st, resp) = match res {
            Ok(r) => r,
            // Refused before anything was sent or stored: the message stays pending.
            Err(e @ (EndpointError::Throttled { .. } | EndpointError::Auth { .. })) => {
                return Ok(AppendOutcome::Failed { error: e });
            }
            Err(e) => return Err(e),
        };
        if st.is_success() {
            let g: GmailMessage = self.parse(op, &resp)?;
            let uid = self
                .c
                .store
                .ref_uids(self.c.side, &self.user, key, &[g.id.as_str()])
                .map_err(store_err(op))?[0];
            let (uidvalidity, _) = self
                .c
                .store
                .ref_folder(self.c.side, &self.user, key)
                .map_err(store_err(op))?;
            self.meta.insert(
                g.id.clone(),
                Meta {
                    labels: if g.label_ids.is_empty() {
                        label_ids
                    } else {
                        g.label_ids
                    },
                    size: raw.len() as u64,
                    internal_ms: g.internal_date.as_deref().and_then(|d| d.parse().ok()),
                },
            );
            if let Some(cur) = self.current.as_mut()
                && cur.key == key
                && !cur.listing.iter().any(|(u, _)| *u == uid)
            {
                cur.listing.push((uid, g.id));
            }
            return Ok(AppendOutcome::Stored {
                uidvalidity: Some(uidvalidity),
                uid: Some(uid),
            });
        }
        let (reason, message) = error_of(&resp);
        match st {
            // The folder's label vanished since it was resolved: the folder stops, not the message.
            StatusCode::BAD_REQUEST if message.starts_with("Invalid label") => {
                Ok(AppendOutcome::Failed {
                    error: EndpointError::NoFolder {
                        op: self.ctx(op),
                        folder: folder.to_string(),
                        server: None,
                    },
                })
            }
            StatusCode::BAD_REQUEST => Ok(AppendOutcome::Refused {
                reason: format!("the Gmail API refused this message: {reason} {message}"),
            }),
            StatusCode::PAYLOAD_TOO_LARGE => Ok(AppendOutcome::Refused {
                reason: format!(
                    "message of {} is too large for the Gmail API (413): {message}; not copied",
                    bytesize::ByteSize(raw.len() as u64)
                ),
            }),
            StatusCode::NOT_FOUND => Ok(AppendOutcome::Failed {
                error: EndpointError::NoFolder {
                    op: self.ctx(op),
                    folder: folder.to_string(),
                    server: None,
                },
            }),
            StatusCode::FORBIDDEN if reason.contains("quota") || message.contains("storage") => {
                Ok(AppendOutcome::Failed {
                    error: EndpointError::OverQuota {
                        op: self.ctx(op),
                        message: format!("{reason}: {message}"),
                    },
                })
            }
            _ => Ok(AppendOutcome::Failed {
                error: self.unexpected(op, st, &resp),
            }),
        }
    }

    /// The user label behind a folder name, for rename and delete.
    async fn user_label(&mut self, folder: &str, op: &str) -> Result<Label> {
        match self.resolve(folder, op).await? {
            (_, Target::Label(id), _) => match self.labels.iter().find(|l| l.id == id) {
                Some(l) if l.kind != "system" => Ok(l.clone()),
                _ => Err(EndpointError::No {
                    op: self.ctx(op),
                    message: format!(
                        "{} is a Gmail system label; it cannot be changed",
                        decode_mutf7(folder)
                    ),
                }),
            },
            (name, Target::Archive, _) => Err(EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "{name} is mail without labels, not a label; it cannot be changed"
                ),
            }),
        }
    }
}

impl MailSession for GmailSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        self.load_labels().await?;
        let folder = |name: &str, special| Folder {
            wire_name: name
                .split('/')
                .map(encode_mutf7)
                .collect::<Vec<_>>()
                .join("/"),
            path: name.split('/').map(str::to_string).collect(),
            delimiter: Some('/'),
            special,
            selectable: true,
        };
        let mut out: Vec<Folder> = SYSTEM_FOLDERS
            .iter()
            .map(|(_, n, s)| Folder {
                wire_name: n.to_string(),
                path: vec![n.to_string()],
                delimiter: Some('/'),
                special: *s,
                selectable: true,
            })
            .collect();
        out.push(Folder {
            wire_name: self.archive_name().to_string(),
            path: vec![self.archive_name().to_string()],
            delimiter: Some('/'),
            special: Some(SpecialUse::Archive),
            selectable: true,
        });
        let mut user: Vec<&Label> = self.labels.iter().filter(|l| l.kind != "system").collect();
        user.sort_by(|a, b| a.name.cmp(&b.name));
        for l in user {
            out.push(folder(&l.name, None));
        }
        Ok(out)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        let (cur, st) = self.open(folder, "examine").await?;
        self.current = Some(cur);
        Ok(st)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        let (cur, st) = self.open(folder, "open for import").await?;
        self.current = Some(cur);
        Ok(st)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let (cur, st) = self.open(folder, "status").await?;
        if self.current.as_ref().is_some_and(|c| c.key == cur.key) {
            self.current = Some(cur);
        }
        Ok(st)
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        let op = "labels.create";
        match self.resolve(folder, op).await {
            Ok(_) => return Ok(false),
            Err(EndpointError::NoFolder { .. }) => {}
            Err(e) => return Err(e),
        }
        let name = decode_mutf7(folder);
        let body = json!({
            "name": name,
            "labelListVisibility": "labelShow",
            "messageListVisibility": "show",
        })
        .to_string();
        let (st, resp) = self
            .call(
                op,
                units::LABELS_CREATE,
                Method::POST,
                self.url(false, &["labels"]),
                Some(("application/json", body.as_bytes())),
            )
            .await?;
        if st == StatusCode::CONFLICT {
            self.load_labels().await?;
            return Ok(false);
        }
        if st == StatusCode::BAD_REQUEST {
            let (_, message) = error_of(&resp);
            return Err(EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "Gmail refuses the label name {name:?}: {message} (Gmail reserves the names of its system labels, e.g. Starred, Important, Chats; map the folder to another name with a [folders] rename rule)"
                ),
            });
        }
        if !st.is_success() {
            return Err(self.unexpected(op, st, &resp));
        }
        let l: Label = self.parse(op, &resp)?;
        self.labels.push(l);
        Ok(true)
    }

    /// The Gmail id (the same in every folder) and the labels in X-GM-LABELS' words
    /// (`\\Inbox`, `\\Sent`, `\\Draft`, `\\Spam`, `\\Trash`, `\\Starred`, `\\Important`, user
    /// labels by name), for the engine's copy-each-message-once plan (`sync::gmail`).
    async fn fetch_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        let which = self.select("fetch identities", &[], from_uid)?;
        let mut out = Vec::with_capacity(which.len());
        for (uid, id) in which {
            let Some(m) = self.meta_of(&id).await? else {
                continue;
            };
            let labels = m
                .labels
                .iter()
                .filter_map(|l| match l.as_str() {
                    "INBOX" => Some("\\Inbox".to_string()),
                    "SENT" => Some("\\Sent".to_string()),
                    "DRAFT" => Some("\\Draft".to_string()),
                    "SPAM" => Some("\\Spam".to_string()),
                    "TRASH" => Some("\\Trash".to_string()),
                    "STARRED" => Some("\\Starred".to_string()),
                    "IMPORTANT" => Some("\\Important".to_string()),
                    other => self.folder_of_label(other),
                })
                .collect();
            out.push(MessageIdentity {
                uid,
                size: m.size,
                message_id: None,
                provider_id: Some(id),
                labels: Some(labels),
            });
        }
        Ok(out)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let which = self.select("fetch meta", &[], from_uid)?;
        let mut out = Vec::with_capacity(which.len());
        for (uid, id) in which {
            if let Some(m) = self.meta_of(&id).await? {
                out.push(MessageMeta { uid, size: m.size });
            }
        }
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        for (uid, id) in self.select("fetch messages", uids, 0)? {
            let Some((bytes, meta)) = self.raw(&id).await? else {
                continue;
            };
            let m = Message {
                uid,
                flags: flags_of(&meta.labels),
                internal_date: date_of(meta.internal_ms),
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
        for (uid, id) in self.select("fetch fingerprints", uids, from_uid)? {
            let Some((bytes, meta)) = self.raw(&id).await? else {
                continue;
            };
            out.push(Fingerprinted {
                uid,
                size: bytes.len() as u64,
                fingerprint: fingerprint(&bytes),
                flags: flags_of(&meta.labels),
                internal_date: date_of(meta.internal_ms),
            });
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        let op = "messages.import";
        let (name, target, key) = match self.resolve(folder, op).await {
            Ok(r) => r,
            Err(EndpointError::NoFolder { .. }) => {
                return Ok(msgs
                    .iter()
                    .map(|_| AppendOutcome::Failed {
                        error: EndpointError::NoFolder {
                            op: self.ctx(op),
                            folder: decode_mutf7(folder),
                            server: None,
                        },
                    })
                    .collect());
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            let r = self.import(&target, &key, &name, m).await?;
            let stop = matches!(r, AppendOutcome::Failed { .. });
            out.push(r);
            if stop {
                // Not sent: the rest stays pending with the same reason.
                while out.len() < msgs.len() {
                    let error = match &out[out.len() - 1] {
                        AppendOutcome::Failed { error } => EndpointError::No {
                            op: self.ctx(op),
                            message: format!("not sent after an earlier failure: {error}"),
                        },
                        _ => unreachable!(),
                    };
                    out.push(AppendOutcome::Failed { error });
                }
                break;
            }
        }
        Ok(out)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        let op = "messages.delete";
        let key = self.current(op)?.key.clone();
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.user, &key, uids)
            .map_err(store_err(op))?;
        for (uid, id) in refs {
            let (st, body) = self
                .call(
                    op,
                    units::MESSAGES_DELETE,
                    Method::DELETE,
                    self.url(false, &["messages", &id]),
                    None,
                )
                .await?;
            if !(st.is_success() || st == StatusCode::NOT_FOUND) {
                return Err(self.unexpected(op, st, &body));
            }
            self.meta.remove(&id);
            if let Some(cur) = self.current.as_mut() {
                cur.listing.retain(|(u, _)| *u != uid);
            }
        }
        Ok(())
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        let op = "labels.update";
        let l = self.user_label(from, op).await?;
        let body = json!({ "id": l.id, "name": decode_mutf7(to) }).to_string();
        let (st, resp) = self
            .call(
                op,
                units::LABELS_UPDATE,
                Method::PATCH,
                self.url(false, &["labels", &l.id]),
                Some(("application/json", body.as_bytes())),
            )
            .await?;
        match st {
            s if s.is_success() => {
                self.load_labels().await?;
                Ok(())
            }
            StatusCode::NOT_FOUND => Err(EndpointError::NoFolder {
                op: self.ctx(op),
                folder: decode_mutf7(from),
                server: None,
            }),
            StatusCode::CONFLICT => Err(EndpointError::No {
                op: self.ctx(op),
                message: format!("a label named {} exists already", decode_mutf7(to)),
            }),
            _ => Err(self.unexpected(op, st, &resp)),
        }
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        let op = "labels.delete";
        let l = self.user_label(folder, op).await?;
        let (st, resp) = self
            .call(
                op,
                units::LABELS_DELETE,
                Method::DELETE,
                self.url(false, &["labels", &l.id]),
                None,
            )
            .await?;
        match st {
            s if s.is_success() => {
                self.labels.retain(|x| x.id != l.id);
                Ok(())
            }
            StatusCode::NOT_FOUND => Err(EndpointError::NoFolder {
                op: self.ctx(op),
                folder: decode_mutf7(folder),
                server: None,
            }),
            _ => Err(self.unexpected(op, st, &resp)),
        }
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        // Gmail keeps no IMAP keywords through the API.
        Some(&self.no_keywords)
    }

    async fn logout(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_from_labels() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(flags_of(&l(&["INBOX", "UNREAD"])), Vec::<String>::new());
        assert_eq!(
            flags_of(&l(&["INBOX", "STARRED"])),
            l(&["\\Seen", "\\Flagged"])
        );
        assert_eq!(flags_of(&l(&["DRAFT", "UNREAD"])), l(&["\\Draft"]));
    }

    #[test]
    fn boundary_avoids_the_body() {
        let b = boundary_for(b"hello");
        let raw = format!("x {b} y");
        assert_ne!(boundary_for(raw.as_bytes()), b);
    }

    #[test]
    fn quota_window_admits_up_to_the_limit_then_waits_for_the_oldest() {
        let mut q = VecDeque::new();
        let t0 = Instant::now();
        for _ in 0..600 {
            assert_eq!(
                admit(&mut q, t0, units::MESSAGES_IMPORT, USER_UNITS_PER_MINUTE),
                None
            );
        }
        let t1 = t0 + Duration::from_secs(10);
        let w = admit(&mut q, t1, units::MESSAGES_IMPORT, USER_UNITS_PER_MINUTE).unwrap();
        assert_eq!(w, Duration::from_secs(50) + Duration::from_millis(5));
        // Once the first minute is over, the units are free again.
        let t2 = t0 + Duration::from_secs(60);
        assert_eq!(
            admit(&mut q, t2, units::MESSAGES_IMPORT, USER_UNITS_PER_MINUTE),
            None
        );
        assert_eq!(q.len(), 1);
    }
}
