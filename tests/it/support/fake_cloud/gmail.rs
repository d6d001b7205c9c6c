//! Fake Gmail API (`https://gmail.googleapis.com`): per-user labels and messages, stateful.
//!
//! What it enforces, as Gmail documents it:
//! - a bearer token the fake token endpoint issued for `https://gmail.googleapis.com`,
//!   unexpired (401 with Google's error body otherwise);
//! - the per-user quota in units (labels.list 1, labels.create/update/delete 5, messages.list
//!   5, messages.get 5, messages.import 25, messages.delete 10, messages.modify 5,
//!   history.list 2, getProfile 1): past it, 429 with Retry-After and `RESOURCE_EXHAUSTED` /
//!   `userRateLimitExceeded` (15,000 units a minute unless the test shrinks the window); each
//!   call logged in `admissions`;
//! - the upload size limit (413; 150 MB unless the test sets a smaller cap);
//! - `messages.import`: multipart/related (JSON metadata then message/rfc822) or media upload,
//!   the raw bytes kept exactly, labelIds that exist, the internal date from the `Date:`
//!   header with `internalDateSource=dateHeader` (else the time of import), 400 for a body
//!   that is not a message, and its spam filter (a message with `X-Spam-Flag: YES` goes to
//!   SPAM) skipped with `neverMarkSpam=true`;
//! - messages.list newest first, paged, with `labelIds`, `includeSpamTrash` and the query
//!   terms `in:`/`-in:` and `has:nouserlabels` (400 for any other term);
//! - labels: system labels fixed, user label names unique (409), nested with `/`;
//! - `messages.modify` (5 units): `addLabelIds` / `removeLabelIds` that exist (400 otherwise),
//!   the message keeps its id;
//! - every mutation a history record, `users.history.list` and `users.getProfile`
//!   (`gmail_history.rs`).
//!
//! Test hooks read a mailbox, seed messages (for Gmail as a source) and inject throttling.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use super::token::Tokens;

pub const RESOURCE: &str = "https://gmail.googleapis.com";

pub const SYSTEM_LABELS: &[&str] = &[
    "INBOX",
    "SENT",
    "DRAFT",
    "SPAM",
    "TRASH",
    "STARRED",
    "UNREAD",
    "IMPORTANT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
];

#[derive(Debug, Clone)]
pub struct FakeMessage {
    pub id: String,
    pub raw: Vec<u8>,
    /// Label ids.
    pub labels: Vec<String>,
    pub internal_ms: i64,
    /// Import order, for newest-first listing among equal dates.
    pub seq: u64,
}

#[derive(Debug, Default)]
pub struct Mailbox {
    /// User labels: id -> name.
    pub labels: Vec<(String, String)>,
    pub messages: HashMap<String, FakeMessage>,
    /// The history records kept, oldest first (`gmail_history`).
    pub history: Vec<super::gmail_history::HistoryRecord>,
    /// The mailbox's current historyId.
    pub history_id: u64,
    /// A startHistoryId below this answers 404 (history no longer kept).
    pub history_floor: u64,
}

/// An answer forced on a user's next request.
#[derive(Debug, Clone)]
pub enum Injected {
    /// 429 RESOURCE_EXHAUSTED rateLimitExceeded with this Retry-After (seconds).
    TooMany(u64),
    /// 403 userRateLimitExceeded, without Retry-After (the client backs off itself).
    UserRateLimit,
}

pub struct Gmail {
    pub tokens: Arc<Tokens>,
    pub mailboxes: Mutex<HashMap<String, Mailbox>>,
    /// Quota per user per window (Gmail: 15,000 units per minute).
    pub units: u32,
    pub window: Duration,
    /// Largest upload accepted (Gmail: 150 MB).
    pub max_upload: usize,
    /// Time between storing an imported message and answering (network and service
    /// latency): a client killed meanwhile leaves a message it never heard about.
    pub import_delay: Duration,
    spent: Mutex<HashMap<String, VecDeque<(Instant, u32)>>>,
    /// Imports to store and then answer with a 503 (the client cannot know it was stored).
    lost_answers: Mutex<HashMap<String, u32>>,
    inject: Mutex<HashMap<String, VecDeque<Injected>>>,
    /// Throttling answers sent (quota and injected).
    pub throttled: AtomicU64,
    /// Requests per method name, accepted or not.
    pub calls: Mutex<HashMap<&'static str, u64>>,
    /// Per user, its Gmail delegates: (delegateEmail, verificationStatus).
    pub delegates: Mutex<HashMap<String, Vec<(String, String)>>>,
    /// Every call as the quota saw it: (user, when, units, throttled).
    pub admissions: Mutex<Vec<(String, Instant, u32, bool)>>,
    /// messages.get calls per message id (accepted ones).
    pub got: Mutex<HashMap<String, u64>>,
    /// History records kept per mailbox (`gmail_history`).
    pub history_keep: Mutex<usize>,
    next: AtomicU64,
}

impl Gmail {
    pub fn new(tokens: Arc<Tokens>) -> Gmail {
        Gmail {
            tokens,
            mailboxes: Mutex::new(HashMap::new()),
            units: 15_000,
            window: Duration::from_secs(60),
            max_upload: 150 * 1024 * 1024,
            import_delay: Duration::ZERO,
            spent: Mutex::new(HashMap::new()),
            lost_answers: Mutex::new(HashMap::new()),
            inject: Mutex::new(HashMap::new()),
            throttled: AtomicU64::new(0),
            calls: Mutex::new(HashMap::new()),
            delegates: Mutex::new(HashMap::new()),
            got: Mutex::new(HashMap::new()),
            admissions: Mutex::new(Vec::new()),
            history_keep: Mutex::new(usize::MAX),
            next: AtomicU64::new(1),
        }
    }

    /// `delegate` may read and send from `user`'s mailbox (status accepted, pending, ...).
    pub fn add_delegate(&self, user: &str, delegate: &str, status: &str) {
        self.delegates
            .lock()
            .unwrap()
            .entry(user.to_string())
            .or_default()
            .push((delegate.to_string(), status.to_string()));
    }

    pub fn with_user(self, user: &str) -> Gmail {
        self.mailboxes
            .lock()
            .unwrap()
            .insert(user.to_string(), Mailbox::default());
        self
    }

    pub fn with_quota(mut self, units: u32, window: Duration) -> Gmail {
        self.units = units;
        self.window = window;
        self
    }

    pub fn with_max_upload(mut self, bytes: usize) -> Gmail {
        self.max_upload = bytes;
        self
    }

    pub fn with_import_delay(mut self, d: Duration) -> Gmail {
        self.import_delay = d;
        self
    }

    /// Force answers on the user's next requests.
    pub fn inject(&self, user: &str, answers: impl IntoIterator<Item = Injected>) {
        self.inject
            .lock()
            .unwrap()
            .entry(user.to_string())
            .or_default()
            .extend(answers);
    }

    /// Journal the user's next `n` imports but answer them with 503 Service Unavailable.
    pub fn store_then_fail(&self, user: &str, n: u32) {
        *self
            .lost_answers
            .lock()
            .unwrap()
            .entry(user.to_string())
            .or_default() += n;
    }

    /// A user's messages: (raw, label names (system label ids, user labels by name), date).
    pub fn messages(&self, user: &str) -> Vec<(Vec<u8>, Vec<String>, i64)> {
        let all = self.mailboxes.lock().unwrap();
        let mb = &all[user];
        let mut v: Vec<&FakeMessage> = mb.messages.values().collect();
        v.sort_by_key(|m| m.seq);
        v.iter()
            .map(|m| {
                let names = m
                    .labels
                    .iter()
                    .map(|l| {
                        mb.labels
                            .iter()
                            .find(|(id, _)| id == l)
                            .map(|(_, n)| n.clone())
                            .unwrap_or_else(|| l.clone())
                    })
                    .collect();
                (m.raw.clone(), names, m.internal_ms)
            })
            .collect()
    }

    /// A user's label names (user labels only).
    pub fn user_labels(&self, user: &str) -> Vec<String> {
        let all = self.mailboxes.lock().unwrap();
        let mut v: Vec<String> = all[user].labels.iter().map(|(_, n)| n.clone()).collect();
        v.sort();
        v
    }

    /// Create a user label (test set-up); its id.
    pub fn add_label(&self, user: &str, name: &str) -> String {
        let id = format!("Label_{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.mailboxes
            .lock()
            .unwrap()
            .get_mut(user)
            .unwrap()
            .labels
            .push((id.clone(), name.to_string()));
        id
    }

    /// Damage one stored message (test hook): the first message of `user` whose raw bytes
    /// (valid UTF-8) hold `find` gets it replaced by `with`, id and labels kept. Its id.
    pub fn damage_message(&self, user: &str, find: &str, with: &str) -> Option<String> {
        let mut all = self.mailboxes.lock().unwrap();
        let mb = all.get_mut(user)?;
        let mut ids: Vec<&String> = mb.messages.keys().collect();
        ids.sort();
        let id = ids
            .into_iter()
            .find(|id| std::str::from_utf8(&mb.messages[*id].raw).is_ok_and(|t| t.contains(find)))?
            .clone();
        let m = mb.messages.get_mut(&id)?;
        let text = std::str::from_utf8(&m.raw).ok()?.replacen(find, with, 1);
        m.raw = text.into_bytes();
        Some(id)
    }

    /// Put a message in a mailbox (test set-up for Gmail as a source); its id.
    pub fn add_message(&self, user: &str, raw: &[u8], labels: &[&str], internal_ms: i64) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = format!("{:016x}", 0x18c0_0000_0000u64 + n);
        let m = FakeMessage {
            id: id.clone(),
            raw: raw.to_vec(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            internal_ms,
            seq: n,
        };
        self.mailboxes
            .lock()
            .unwrap()
            .get_mut(user)
            .unwrap()
            .messages
            .insert(id.clone(), m.clone());
        self.record_change(user, "messageAdded", &m, Vec::new());
        id
    }

    pub fn calls_of(&self, method: &str) -> u64 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Token, injected answers, then quota, for one call of `method` costing `units`.
    #[allow(clippy::result_large_err)]
    pub(super) fn admit(
        &self,
        headers: &HeaderMap,
        user: &str,
        method: &'static str,
        units: u32,
    ) -> Result<(), Response> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        // A token for the Gmail API as a resource (the tests' client-credentials grant), or a
        // service account's with a Gmail scope acting for this very user.
        let gmail_scope = |s: &str| {
            s.starts_with("https://www.googleapis.com/auth/gmail.")
                || s == "https://mail.google.com/"
        };
        let g = self.tokens
            .check_with(headers, |g| g.resource == RESOURCE || (g.tenant == "google" && g.resource.split(' ').any(gmail_scope)))
            .map_err(|_| google_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."))?;
        if g.subject
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(user))
        {
            return Err(google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "forbidden",
                "Delegation denied for the requested user.",
            ));
        }
        if !self.mailboxes.lock().unwrap().contains_key(user) {
            return Err(google_error(
                StatusCode::BAD_REQUEST,
                "FAILED_PRECONDITION",
                "failedPrecondition",
                "Mail service not enabled",
            ));
        }
        if let Some(a) = self
            .inject
            .lock()
            .unwrap()
            .get_mut(user)
            .and_then(VecDeque::pop_front)
        {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(match a {
                Injected::TooMany(secs) => too_many(secs),
                Injected::UserRateLimit => google_error(
                    StatusCode::FORBIDDEN,
                    "PERMISSION_DENIED",
                    "userRateLimitExceeded",
                    "User Rate Limit Exceeded",
                ),
            });
        }
        let mut spent = self.spent.lock().unwrap();
        let q = spent.entry(user.to_string()).or_default();
        let now = Instant::now();
        while q
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        let used: u32 = q.iter().map(|(_, u)| u).sum();
        if used + units > self.units {
            // Until enough of the window's oldest calls expire.
            let mut freed = 0;
            let mut until = now + self.window;
            for (t, u) in q.iter() {
                freed += u;
                if used - freed + units <= self.units {
                    until = *t + self.window;
                    break;
                }
            }
            let secs = until
                .saturating_duration_since(now)
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64;
            self.throttled.fetch_add(1, Ordering::SeqCst);
            self.admissions
                .lock()
                .unwrap()
                .push((user.to_string(), now, units, true));
            return Err(over_user_quota(secs));
        }
        q.push_back((now, units));
        self.admissions
            .lock()
            .unwrap()
            .push((user.to_string(), now, units, false));
        Ok(())
    }
}

pub(super) fn google_error(
    status: StatusCode,
    gstatus: &str,
    reason: &str,
    message: &str,
) -> Response {
    (
        status,
        Json(json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "status": gstatus,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }})),
    )
        .into_response()
}

fn too_many(retry_after: u64) -> Response {
    let mut r = google_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        "rateLimitExceeded",
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com'.",
    );
    r.headers_mut()
        .insert("retry-after", retry_after.to_string().parse().unwrap());
    r
}

/// The per-user quota exceeded: 429 with Google's `userRateLimitExceeded` body.
fn over_user_quota(retry_after: u64) -> Response {
    let mut r = google_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        "userRateLimitExceeded",
        "User-rate limit exceeded. Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com'.",
    );
    r.headers_mut()
        .insert("retry-after", retry_after.to_string().parse().unwrap());
    r
}

pub(super) fn not_found() -> Response {
    google_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "notFound",
        "Requested entity was not found.",
    )
}

fn invalid(message: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        "invalidArgument",
        message,
    )
}

type St = State<Arc<Gmail>>;
type Q = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

pub fn router(g: Arc<Gmail>) -> Router {
    Router::new()
        .route(
            "/gmail/v1/users/{user}/labels",
            get(labels_list).post(labels_create),
        )
        .route(
            "/gmail/v1/users/{user}/labels/{id}",
            axum::routing::patch(labels_update)
                .put(labels_update)
                .delete(labels_delete),
        )
        .route("/gmail/v1/users/{user}/messages", get(messages_list))
        .route(
            "/gmail/v1/users/{user}/history",
            get(super::gmail_history::history_list),
        )
        .route(
            "/gmail/v1/users/{user}/profile",
            get(super::gmail_history::get_profile),
        )
        .route(
            "/gmail/v1/users/{user}/settings/delegates",
            get(delegates_list),
        )
        .route(
            "/gmail/v1/users/{user}/messages/{id}",
            get(messages_get).delete(messages_delete),
        )
        .route(
            "/gmail/v1/users/{user}/messages/{id}/modify",
            post(messages_modify),
        )
        .route(
            "/upload/gmail/v1/users/{user}/messages/import",
            post(messages_import).layer(DefaultBodyLimit::disable()),
        )
        .with_state(g)
}

/// users.settings.delegates.list: `{"delegates": [{"delegateEmail", "verificationStatus"}]}`
/// (the field left out when there are none), as the user (the service account acting for it).
async fn delegates_list(State(g): St, Path(user): Path<String>, h: HeaderMap) -> Response {
    if let Err(r) = g.admit(&h, &user, "delegates.list", 1) {
        return r;
    }
    let d = g.delegates.lock().unwrap();
    let list: Vec<Value> = d
        .get(&user)
        .map(|l| {
            l.iter()
                .map(|(e, s)| json!({"delegateEmail": e, "verificationStatus": s}))
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        Json(json!({})).into_response()
    } else {
        Json(json!({ "delegates": list })).into_response()
    }
}

fn system_label_json(id: &str) -> Value {
    json!({"id": id, "name": id, "type": "system"})
}

async fn labels_list(State(g): St, Path(user): Path<String>, h: HeaderMap) -> Response {
    if let Err(r) = g.admit(&h, &user, "labels.list", 1) {
        return r;
    }
    let all = g.mailboxes.lock().unwrap();
    let mut labels: Vec<Value> = SYSTEM_LABELS.iter().map(|l| system_label_json(l)).collect();
    for (id, name) in &all[&user].labels {
        labels.push(json!({"id": id, "name": name, "type": "user",
            "labelListVisibility": "labelShow", "messageListVisibility": "show"}));
    }
    Json(json!({ "labels": labels })).into_response()
}

/// Names Gmail refuses for user labels (its system labels' names and spellings).
const RESERVED_NAMES: &[&str] = &[
    "INBOX",
    "SENT",
    "Sent Mail",
    "DRAFT",
    "Drafts",
    "SPAM",
    "TRASH",
    "Bin",
    "STARRED",
    "UNREAD",
    "IMPORTANT",
    "CHAT",
    "Chats",
    "Muted",
    "All Mail",
];

fn name_taken(mb: &Mailbox, name: &str, except: Option<&str>) -> bool {
    mb.labels
        .iter()
        .any(|(id, n)| n.eq_ignore_ascii_case(name) && Some(id.as_str()) != except)
}

async fn labels_create(
    State(g): St,
    Path(user): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "labels.create", 5) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return invalid("Invalid JSON payload received.");
    };
    let Some(name) = v["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return invalid("Invalid label name");
    };
    if RESERVED_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name.trim()))
    {
        return invalid("Invalid label name");
    }
    let mut all = g.mailboxes.lock().unwrap();
    let mb = all.get_mut(&user).unwrap();
    if name_taken(mb, name, None) {
        return google_error(
            StatusCode::CONFLICT,
            "ALREADY_EXISTS",
            "duplicate",
            "Label name exists or conflicts",
        );
    }
    let id = format!("Label_{}", g.next.fetch_add(1, Ordering::SeqCst));
    mb.labels.push((id.clone(), name.to_string()));
    Json(json!({"id": id, "name": name, "type": "user",
        "labelListVisibility": "labelShow", "messageListVisibility": "show"}))
    .into_response()
}

async fn labels_update(
    State(g): St,
    Path((user, id)): Path<(String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "labels.update", 5) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return invalid("Invalid JSON payload received.");
    };
    let mut all = g.mailboxes.lock().unwrap();
    let mb = all.get_mut(&user).unwrap();
    if SYSTEM_LABELS.contains(&id.as_str()) {
        return invalid("Invalid label: system labels cannot be modified");
    }
    if !mb.labels.iter().any(|(i, _)| *i == id) {
        return not_found();
    }
    if let Some(name) = v["name"].as_str() {
        if RESERVED_NAMES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.trim()))
        {
            return invalid("Invalid label name");
        }
        if name_taken(mb, name, Some(&id)) {
            return google_error(
                StatusCode::CONFLICT,
                "ALREADY_EXISTS",
                "duplicate",
                "Label name exists or conflicts",
            );
        }
        for (i, n) in mb.labels.iter_mut() {
            if *i == id {
                *n = name.to_string();
            }
        }
    }
    let name = mb.labels.iter().find(|(i, _)| *i == id).unwrap().1.clone();
    Json(json!({"id": id, "name": name, "type": "user"})).into_response()
}

async fn labels_delete(
    State(g): St,
    Path((user, id)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "labels.delete", 5) {
        return r;
    }
    let mut all = g.mailboxes.lock().unwrap();
    let mb = all.get_mut(&user).unwrap();
    if SYSTEM_LABELS.contains(&id.as_str()) {
        return invalid("Invalid label: system labels cannot be deleted");
    }
    let before = mb.labels.len();
    mb.labels.retain(|(i, _)| *i != id);
    if mb.labels.len() == before {
        return not_found();
    }
    let keep = *g.history_keep.lock().unwrap();
    let mut touched = Vec::new();
    for m in mb.messages.values_mut() {
        if m.labels.contains(&id) {
            m.labels.retain(|l| *l != id);
            touched.push(m.clone());
        }
    }
    for m in touched {
        mb.record(keep, "labelRemoved", &m, vec![id.clone()]);
    }
    StatusCode::NO_CONTENT.into_response()
}

type Filter = Box<dyn Fn(&FakeMessage) -> bool>;

/// One query term as a filter, or None when the fake does not know it.
fn term(mb: &Mailbox, t: &str) -> Option<Filter> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let f: Filter = if let Some(what) = t.strip_prefix("in:") {
        let label = match what.to_ascii_lowercase().as_str() {
            "inbox" => "INBOX",
            "sent" => "SENT",
            "drafts" => "DRAFT",
            "spam" => "SPAM",
            "trash" => "TRASH",
            "chats" => "CHAT",
            "starred" => "STARRED",
            "important" => "IMPORTANT",
            _ => return None,
        };
        Box::new(move |m: &FakeMessage| m.labels.iter().any(|l| l == label))
    } else if t == "has:nouserlabels" {
        let user: Vec<String> = mb.labels.iter().map(|(i, _)| i.clone()).collect();
        Box::new(move |m: &FakeMessage| !m.labels.iter().any(|l| user.contains(l)))
    } else {
        return None;
    };
    Some(if neg { Box::new(move |m| !f(m)) } else { f })
}

async fn messages_list(
    State(g): St,
    Path(user): Path<String>,
    Query(q): Q,
    h: HeaderMap,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "messages.list", 5) {
        return r;
    }
    let all = g.mailboxes.lock().unwrap();
    let mb = &all[&user];
    let label_ids: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "labelIds")
        .map(|(_, v)| v.as_str())
        .collect();
    for l in &label_ids {
        if !SYSTEM_LABELS.contains(l) && !mb.labels.iter().any(|(i, _)| i == l) {
            return invalid(&format!("Invalid label: {l}"));
        }
    }
    let mut filters = Vec::new();
    for t in param(&q, "q").unwrap_or("").split_whitespace() {
        match term(mb, t) {
            Some(f) => filters.push(f),
            None => return invalid(&format!("Invalid query term {t:?} (fake)")),
        }
    }
    let spam_trash = param(&q, "includeSpamTrash") == Some("true");
    let max: usize = param(&q, "maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let offset: usize = param(&q, "pageToken")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mut hits: Vec<&FakeMessage> = mb
        .messages
        .values()
        .filter(|m| label_ids.iter().all(|l| m.labels.iter().any(|x| x == l)))
        .filter(|m| spam_trash || !m.labels.iter().any(|l| l == "SPAM" || l == "TRASH"))
        .filter(|m| filters.iter().all(|f| f(m)))
        .collect();
    hits.sort_by_key(|m| std::cmp::Reverse((m.internal_ms, m.seq)));
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(max)
        .map(|m| json!({"id": m.id, "threadId": m.id}))
        .collect();
    let mut out = json!({"resultSizeEstimate": hits.len()});
    if !page.is_empty() {
        out["messages"] = Value::Array(page);
    }
    if offset + max < hits.len() {
        out["nextPageToken"] = Value::String((offset + max).to_string());
    }
    Json(out).into_response()
}

async fn messages_get(
    State(g): St,
    Path((user, id)): Path<(String, String)>,
    Query(q): Q,
    h: HeaderMap,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "messages.get", 5) {
        return r;
    }
    *g.got.lock().unwrap().entry(id.clone()).or_default() += 1;
    let all = g.mailboxes.lock().unwrap();
    let Some(m) = all[&user].messages.get(&id) else {
        return not_found();
    };
    let mut out = json!({
        "id": m.id, "threadId": m.id, "labelIds": m.labels,
        "historyId": m.seq.to_string(),
        "internalDate": m.internal_ms.to_string(),
        // An estimate, as Gmail documents it: not the raw size (here a little more, as the
        // service's own overhead would be), so cutover must never take it for the size.
        "sizeEstimate": m.raw.len() + 37,
    });
    match param(&q, "format").unwrap_or("full") {
        "raw" => {
            out["raw"] = Value::String(base64::engine::general_purpose::URL_SAFE.encode(&m.raw))
        }
        "minimal" => {}
        f => return invalid(&format!("format {f} is not supported by the fake")),
    }
    Json(out).into_response()
}

async fn messages_modify(
    State(g): St,
    Path((user, id)): Path<(String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "messages.modify", 5) {
        return r;
    }
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ids = |k: &str| -> Vec<String> {
        b[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (add, remove) = (ids("addLabelIds"), ids("removeLabelIds"));
    let mut all = g.mailboxes.lock().unwrap();
    let mb = all.get_mut(&user).unwrap();
    let known = |l: &str| SYSTEM_LABELS.contains(&l) || mb.labels.iter().any(|(i, _)| i == l);
    if let Some(bad) = add.iter().chain(&remove).find(|l| !known(l)) {
        return invalid(&format!("Invalid label: {bad}"));
    }
    let Some(m) = mb.messages.get_mut(&id) else {
        return not_found();
    };
    let removed: Vec<String> = remove
        .iter()
        .filter(|l| m.labels.contains(l))
        .cloned()
        .collect();
    m.labels.retain(|l| !remove.contains(l));
    let mut added = Vec::new();
    for l in add {
        if !m.labels.contains(&l) {
            m.labels.push(l.clone());
            added.push(l);
        }
    }
    let m = m.clone();
    let keep = *g.history_keep.lock().unwrap();
    if !removed.is_empty() {
        mb.record(keep, "labelRemoved", &m, removed);
    }
    if !added.is_empty() {
        mb.record(keep, "labelAdded", &m, added);
    }
    Json(json!({"id": m.id, "threadId": m.id, "labelIds": m.labels})).into_response()
}

async fn messages_delete(
    State(g): St,
    Path((user, id)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "messages.delete", 10) {
        return r;
    }
    let keep = *g.history_keep.lock().unwrap();
    let mut all = g.mailboxes.lock().unwrap();
    let mb = all.get_mut(&user).unwrap();
    match mb.messages.remove(&id) {
        Some(m) => {
            mb.record(keep, "messageDeleted", &m, Vec::new());
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(),
    }
}

/// The parts of a multipart/related body: (headers, content) each.
fn multipart(body: &[u8], boundary: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let delim = format!("--{boundary}");
    let find = |hay: &[u8], from: usize, needle: &[u8]| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut pos = find(body, 0, delim.as_bytes())? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        pos += 2; // CRLF after the delimiter
        let next = find(body, pos, format!("\r\n{delim}").as_bytes())?;
        let part = &body[pos..next];
        let split = find(part, 0, b"\r\n\r\n")?;
        parts.push((
            String::from_utf8_lossy(&part[..split]).to_string(),
            part[split + 4..].to_vec(),
        ));
        pos = next + 2 + delim.len();
    }
}

/// Looks like an RFC 5322 message: a header section whose first line is a header field.
fn is_message(raw: &[u8]) -> bool {
    let first = raw.split(|b| *b == b'\n').next().unwrap_or_default();
    let Some(colon) = first.iter().position(|b| *b == b':') else {
        return false;
    };
    colon > 0 && first[..colon].iter().all(|b| b.is_ascii_graphic())
}

fn header_date_ms(raw: &[u8]) -> Option<i64> {
    let m = mail_parser::MessageParser::new().parse_headers(raw)?;
    let d = m.date()?;
    if !d.is_valid() {
        return None;
    }
    Some(d.to_timestamp() * 1000)
}

async fn messages_import(
    State(g): St,
    Path(user): Path<String>,
    Query(q): Q,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "messages.import", 25) {
        return r;
    }
    if body.len() > g.max_upload {
        return google_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_ARGUMENT",
            "uploadTooLarge",
            &format!(
                "Request too large: the upload limit is {} bytes",
                g.max_upload
            ),
        );
    }
    let ctype = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (labels, raw): (Vec<String>, Vec<u8>) = match param(&q, "uploadType") {
        Some("multipart") => {
            let Some(b) = ctype
                .split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
                .map(|b| b.trim_matches('"').to_string())
                .filter(|_| ctype.starts_with("multipart/related"))
            else {
                return invalid("Content-Type must be multipart/related with a boundary");
            };
            let Some(parts) = multipart(&body, &b).filter(|p| p.len() == 2) else {
                return invalid("Malformed multipart body.");
            };
            let Ok(meta) = serde_json::from_slice::<Value>(&parts[0].1) else {
                return invalid("Invalid JSON payload received.");
            };
            if !parts[1].0.to_ascii_lowercase().contains("message/rfc822") {
                return invalid("Media type must be message/rfc822");
            }
            let labels = meta["labelIds"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (labels, parts[1].1.clone())
        }
        Some("media") => (Vec::new(), body.to_vec()),
        _ => return invalid("uploadType must be multipart or media"),
    };
    if raw.is_empty() || !is_message(&raw) {
        return invalid("Invalid message: the raw content is not an RFC 822 message");
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let internal_ms = if param(&q, "internalDateSource") == Some("dateHeader") {
        header_date_ms(&raw).unwrap_or(now_ms)
    } else {
        now_ms
    };
    let (id, labels) = {
        let mut all = g.mailboxes.lock().unwrap();
        let mb = all.get_mut(&user).unwrap();
        for l in &labels {
            if !SYSTEM_LABELS.contains(&l.as_str()) && !mb.labels.iter().any(|(i, _)| i == l) {
                return invalid(&format!("Invalid label: {l}"));
            }
        }
        let mut labels = labels;
        let spammy = String::from_utf8_lossy(&raw[..raw.len().min(8192)])
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .any(|l| l.to_ascii_lowercase().replace(' ', "") == "x-spam-flag:yes");
        if spammy && param(&q, "neverMarkSpam") != Some("true") {
            labels.retain(|l| l != "INBOX");
            labels.push("SPAM".into());
        }
        let n = g.next.fetch_add(1, Ordering::SeqCst);
        let id = format!("{:016x}", 0x18c0_0000_0000u64 + n);
        let m = FakeMessage {
            id: id.clone(),
            raw,
            labels: labels.clone(),
            internal_ms,
            seq: n,
        };
        mb.messages.insert(id.clone(), m.clone());
        let keep = *g.history_keep.lock().unwrap();
        mb.record(keep, "messageAdded", &m, Vec::new());
        (id, labels)
    };
    tokio::time::sleep(g.import_delay).await;
    if let Some(n) = g
        .lost_answers
        .lock()
        .unwrap()
        .get_mut(&user)
        .filter(|n| **n > 0)
    {
        *n -= 1;
        return google_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "backendError",
            "The service is currently unavailable.",
        );
    }
    Json(json!({"id": id, "threadId": id, "labelIds": labels})).into_response()
}
