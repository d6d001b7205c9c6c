//! The fake Gmail API's mailbox history (`users.history.list`) and `users.getProfile`, with
//! Google's contract:
//! - every mutation (a message added, imported, deleted; labels added or removed by
//!   messages.modify, a test hook or a label deleted) is one history record with a new
//!   `historyId`, increasing and with gaps, as Gmail's are;
//! - `history.list` (2 units): records after `startHistoryId` (required: 400 without),
//!   oldest first, `historyTypes` (repeated) and `labelId` filters, `maxResults` (default 100,
//!   at most 500) and `nextPageToken`; the answer's `historyId` is the mailbox's current one;
//! - a `startHistoryId` older than the history the fake keeps answers 404 "Requested entity
//!   was not found." (Google keeps it "typically at least a week"): the test sets how many
//!   records are kept (`Gmail::with_history_retention`) or forgets all of it
//!   (`Gmail::expire_history`);
//! - `users.getProfile` (1 unit): `emailAddress`, `messagesTotal`, `historyId`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::gmail::{FakeMessage, Gmail, Mailbox};

/// One history record: its id, its type, the message (id, labels after the change) and
/// the labels added or removed.
#[derive(Debug, Clone)]
pub struct HistoryRecord {
    pub id: u64,
    pub kind: &'static str,
    pub message: String,
    pub labels_now: Vec<String>,
    pub changed: Vec<String>,
}

impl Mailbox {
    /// Record a mutation of message `m` (its labels as they are now).
    pub fn record(
        &mut self,
        keep: usize,
        kind: &'static str,
        m: &FakeMessage,
        changed: Vec<String>,
    ) {
        // Increasing, not contiguous.
        self.history_id += 1 + (self.history_id % 3);
        self.history.push(HistoryRecord {
            id: self.history_id,
            kind,
            message: m.id.clone(),
            labels_now: m.labels.clone(),
            changed,
        });
        if self.history.len() > keep {
            let drop = self.history.len() - keep;
            self.history_floor = self.history[drop - 1].id;
            self.history.drain(..drop);
        }
    }
}

impl Gmail {
    /// Keep only the newest `n` history records of each mailbox: a startHistoryId older than
    /// those answers 404.
    pub fn with_history_retention(self, n: usize) -> Gmail {
        *self.history_keep.lock().unwrap() = n;
        self
    }

    /// Forget a mailbox's history so far (Google no longer keeps it): any startHistoryId
    /// handed out so far (up to its current historyId) answers 404.
    pub fn expire_history(&self, user: &str) {
        let mut all = self.mailboxes.lock().unwrap();
        let mb = all.get_mut(user).unwrap();
        mb.history_floor = mb.history_id + 1;
        mb.history.clear();
    }

    fn keep(&self) -> usize {
        *self.history_keep.lock().unwrap()
    }

    /// Change a message's labels as a user would (test hook): one record per kind.
    pub fn relabel(&self, user: &str, id: &str, add: &[&str], remove: &[&str]) {
        let keep = self.keep();
        let mut all = self.mailboxes.lock().unwrap();
        let mb = all.get_mut(user).unwrap();
        let mut m = mb.messages[id].clone();
        let removed: Vec<String> = remove
            .iter()
            .filter(|l| m.labels.iter().any(|x| x == *l))
            .map(|l| l.to_string())
            .collect();
        m.labels.retain(|l| !removed.contains(l));
        let added: Vec<String> = add
            .iter()
            .filter(|l| !m.labels.iter().any(|x| x == *l))
            .map(|l| l.to_string())
            .collect();
        m.labels.extend(added.iter().cloned());
        mb.messages.insert(id.to_string(), m.clone());
        if !removed.is_empty() {
            mb.record(keep, "labelRemoved", &m, removed);
        }
        if !added.is_empty() {
            mb.record(keep, "labelAdded", &m, added);
        }
    }

    /// Delete a message permanently as a user would (test hook).
    pub fn delete_message(&self, user: &str, id: &str) {
        let keep = self.keep();
        let mut all = self.mailboxes.lock().unwrap();
        let mb = all.get_mut(user).unwrap();
        let m = mb.messages.remove(id).unwrap();
        mb.record(keep, "messageDeleted", &m, Vec::new());
    }

    /// A mailbox's history records (test inspection).
    pub fn history_of(&self, user: &str) -> Vec<HistoryRecord> {
        self.mailboxes.lock().unwrap()[user].history.clone()
    }

    /// Record a mutation from a request handler.
    pub fn record_change(
        &self,
        user: &str,
        kind: &'static str,
        m: &FakeMessage,
        changed: Vec<String>,
    ) {
        let keep = self.keep();
        let mut all = self.mailboxes.lock().unwrap();
        all.get_mut(user).unwrap().record(keep, kind, m, changed);
    }
}

type St = State<std::sync::Arc<Gmail>>;
type Q = Query<Vec<(String, String)>>;

fn invalid(message: &str) -> Response {
    super::gmail::google_error(
        axum::http::StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        "invalidArgument",
        message,
    )
}

fn record_json(r: &HistoryRecord) -> Value {
    let msg = json!({"id": r.message, "threadId": r.message, "labelIds": r.labels_now});
    let mut v =
        json!({"id": r.id.to_string(), "messages": [{"id": r.message, "threadId": r.message}]});
    match r.kind {
        "messageAdded" => v["messagesAdded"] = json!([{ "message": msg }]),
        "messageDeleted" => v["messagesDeleted"] = json!([{ "message": msg }]),
        "labelAdded" => v["labelsAdded"] = json!([{ "message": msg, "labelIds": r.changed }]),
        _ => v["labelsRemoved"] = json!([{ "message": msg, "labelIds": r.changed }]),
    }
    v
}

pub async fn history_list(
    State(g): St,
    Path(user): Path<String>,
    Query(q): Q,
    h: HeaderMap,
) -> Response {
    if let Err(r) = g.admit(&h, &user, "history.list", 2) {
        return r;
    }
    let param = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let Some(start) = param("startHistoryId") else {
        return invalid("Required parameter: startHistoryId");
    };
    let Ok(start) = start.parse::<u64>() else {
        return invalid("Invalid startHistoryId");
    };
    let types: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "historyTypes")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(bad) = types.iter().find(|t| {
        ![
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        ]
        .contains(t)
    }) {
        return invalid(&format!("Invalid value for historyTypes: {bad}"));
    }
    let label = param("labelId");
    let max: usize = param("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let offset: usize = param("pageToken").and_then(|p| p.parse().ok()).unwrap_or(0);
    let all = g.mailboxes.lock().unwrap();
    let mb = &all[&user];
    if start < mb.history_floor {
        return super::gmail::not_found();
    }
    let hits: Vec<&HistoryRecord> = mb
        .history
        .iter()
        .filter(|r| r.id > start)
        .filter(|r| types.is_empty() || types.contains(&r.kind))
        .filter(|r| label.is_none_or(|l| r.labels_now.iter().chain(&r.changed).any(|x| x == l)))
        .collect();
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(max)
        .map(|r| record_json(r))
        .collect();
    let mut out = json!({"historyId": mb.history_id.to_string()});
    if !page.is_empty() {
        out["history"] = Value::Array(page);
    }
    if offset + max < hits.len() {
        out["nextPageToken"] = Value::String((offset + max).to_string());
    }
    Json(out).into_response()
}

pub async fn get_profile(State(g): St, Path(user): Path<String>, h: HeaderMap) -> Response {
    if let Err(r) = g.admit(&h, &user, "getProfile", 1) {
        return r;
    }
    let all = g.mailboxes.lock().unwrap();
    let mb = &all[&user];
    Json(json!({
        "emailAddress": user,
        "messagesTotal": mb.messages.len(),
        "threadsTotal": mb.messages.len(),
        "historyId": mb.history_id.to_string(),
    }))
    .into_response()
}
