//! Fake Google People API (`https://people.googleapis.com/v1`), stateful, beside the fake
//! Calendar and Gmail APIs on the same server.
//!
//! What it enforces, as Google documents it:
//! - a bearer token of a service account acting for a user (its subject) with a contacts
//!   scope (`contacts` to write; `contacts.readonly` to read; `contacts.other.readonly` for
//!   other contacts): 403 `insufficientPermissions` otherwise;
//! - the per-user quota (90 requests a minute unless the test sets it): 429
//!   `RESOURCE_EXHAUSTED` / `rateLimitExceeded` past it;
//! - the guidance on mutations: two mutations of one user at the same time are refused (409
//!   `ABORTED`) and counted (`concurrent`); `people:batchCreateContacts` takes at most 200
//!   contacts (400 beyond), `batchDeleteContacts` at most 500;
//! - `personFields` / `readMask` required on reads (400); `updateContact` needs the current
//!   etag (400 `failedPrecondition` otherwise); every write gives the person a new etag;
//! - lists paged (`pageSize` up to the fake's page size, `pageToken`), `nextSyncToken` with
//!   `requestSyncToken=true`, `syncToken` listing what changed since (410 for a token it
//!   never gave);
//! - contact groups: the system group `myContacts` and user groups (names unique, 409).
//!
//! Test hooks seed contacts, groups and other contacts, and read a user's state.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::token::Tokens;

pub const CONTACTS_SCOPE: &str = "https://www.googleapis.com/auth/contacts";
pub const CONTACTS_READ_SCOPE: &str = "https://www.googleapis.com/auth/contacts.readonly";
pub const OTHER_CONTACTS_SCOPE: &str = "https://www.googleapis.com/auth/contacts.other.readonly";

#[derive(Debug, Default, Clone)]
pub struct PeopleUser {
    /// The user's contacts as the API returns them (resourceName, etag, fields).
    pub contacts: Vec<Value>,
    /// (resource name, name) of the user's own contact groups.
    pub groups: Vec<(String, String)>,
    pub other: Vec<Value>,
    /// Photo bytes set per resource name.
    pub photos: HashMap<String, Vec<u8>>,
}

pub struct GooglePeople {
    pub tokens: Arc<Tokens>,
    pub users: Mutex<HashMap<String, PeopleUser>>,
    pub requests: u32,
    pub window: Duration,
    pub page_size: usize,
    /// How long a mutation takes (to see two overlapping).
    pub mutation_time: Duration,
    spent: Mutex<HashMap<String, VecDeque<Instant>>>,
    in_flight: Mutex<HashMap<String, u32>>,
    /// Mutations refused because another of the same user was in flight.
    pub concurrent: AtomicU64,
    pub throttled: AtomicU64,
    pub calls: Mutex<HashMap<&'static str, u64>>,
    /// The largest batch create received.
    pub largest_batch: AtomicU64,
    /// Batch creates still to store and then answer with 503 (the client cannot know).
    pub lost_answers: AtomicU64,
    seq: AtomicU64,
}

fn google_error(status: StatusCode, gstatus: &str, reason: &str, message: &str) -> Response {
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

fn bad(message: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        "badRequest",
        message,
    )
}

impl GooglePeople {
    pub fn new(tokens: Arc<Tokens>) -> GooglePeople {
        GooglePeople {
            tokens,
            users: Mutex::new(HashMap::new()),
            requests: 90,
            window: Duration::from_secs(60),
            page_size: 1000,
            mutation_time: Duration::ZERO,
            spent: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            concurrent: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            calls: Mutex::new(HashMap::new()),
            largest_batch: AtomicU64::new(0),
            lost_answers: AtomicU64::new(0),
            seq: AtomicU64::new(1),
        }
    }

    pub fn with_user(self, user: &str) -> GooglePeople {
        self.users
            .lock()
            .unwrap()
            .insert(user.to_string(), PeopleUser::default());
        self
    }

    pub fn with_quota(mut self, requests: u32, window: Duration) -> GooglePeople {
        self.requests = requests;
        self.window = window;
        self
    }

    pub fn with_page_size(mut self, n: usize) -> GooglePeople {
        self.page_size = n;
        self
    }

    pub fn with_mutation_time(mut self, d: Duration) -> GooglePeople {
        self.mutation_time = d;
        self
    }

    pub fn user(&self, user: &str) -> PeopleUser {
        self.users.lock().unwrap()[user].clone()
    }

    pub fn calls_of(&self, method: &str) -> u64 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    fn stamp(&self, p: &mut Value) {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        p["etag"] = json!(format!("%E{n}"));
        p["metadata"] =
            json!({"sources": [{"type": "CONTACT", "etag": format!("%E{n}")}], "seq": n});
    }

    /// Add a contact (test set-up for Google as a source); its resource name.
    pub fn seed(&self, user: &str, mut p: Value) -> String {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let rn = format!("people/c{n}");
        p["resourceName"] = json!(rn);
        self.stamp(&mut p);
        self.users
            .lock()
            .unwrap()
            .get_mut(user)
            .unwrap()
            .contacts
            .push(p);
        rn
    }

    /// Add a user contact group; its resource name.
    pub fn seed_group(&self, user: &str, name: &str) -> String {
        let rn = format!("contactGroups/g{}", self.seq.fetch_add(1, Ordering::SeqCst));
        self.users
            .lock()
            .unwrap()
            .get_mut(user)
            .unwrap()
            .groups
            .push((rn.clone(), name.to_string()));
        rn
    }

    pub fn seed_other(&self, user: &str, mut p: Value) {
        p["resourceName"] = json!(format!(
            "otherContacts/c{}",
            self.seq.fetch_add(1, Ordering::SeqCst)
        ));
        self.stamp(&mut p);
        self.users
            .lock()
            .unwrap()
            .get_mut(user)
            .unwrap()
            .other
            .push(p);
    }

    /// Token and scope, the quota; the user.
    #[allow(clippy::result_large_err)]
    fn admit(
        &self,
        headers: &HeaderMap,
        method: &'static str,
        scope: &[&str],
    ) -> Result<String, Response> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        let g = self.tokens.check_with(headers, |_| true)?;
        let granted: Vec<&str> = g.resource.split(' ').collect();
        if !scope.iter().any(|s| granted.contains(s)) {
            return Err(google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
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
                "PERMISSION_DENIED",
                "forbidden",
                "The caller does not have permission",
            ));
        };
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
            let mut r = google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "rateLimitExceeded",
                "Quota exceeded for quota metric 'Critical requests' and limit 'Critical requests per minute per user' of service 'people.googleapis.com'.",
            );
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            return Err(r);
        }
        q.push_back(now);
        Ok(user)
    }

    /// Run one mutation of `user`, refused when another is in flight. The mutation runs to
    /// its end even when the client goes away meanwhile (its answer is then lost).
    async fn mutate(
        self: &Arc<Self>,
        user: &str,
        f: impl FnOnce(&mut PeopleUser) -> Response + Send + 'static,
    ) -> Response {
        {
            let mut fl = self.in_flight.lock().unwrap();
            let n = fl.entry(user.to_string()).or_default();
            if *n > 0 {
                self.concurrent.fetch_add(1, Ordering::SeqCst);
                return google_error(
                    StatusCode::CONFLICT,
                    "ABORTED",
                    "aborted",
                    "Concurrent mutations of one user's contacts; send them sequentially.",
                );
            }
            *n += 1;
        }
        let (g, user) = (self.clone(), user.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(g.mutation_time).await;
            let r = {
                let mut all = g.users.lock().unwrap();
                f(all.get_mut(&user).unwrap())
            };
            *g.in_flight.lock().unwrap().get_mut(&user).unwrap() -= 1;
            r
        })
        .await
        .unwrap()
    }
}

type Q = Query<HashMap<String, String>>;
type S = State<Arc<GooglePeople>>;

fn page(g: &GooglePeople, all: Vec<Value>, q: &HashMap<String, String>, field: &str) -> Response {
    let per = q
        .get("pageSize")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, 1000)
        .min(g.page_size);
    let from: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(from).take(per).cloned().collect();
    let mut out = json!({ field: items, "totalItems": all.len() });
    if from + per < all.len() {
        out["nextPageToken"] = json!((from + per).to_string());
    } else if q.get("requestSyncToken").map(String::as_str) == Some("true") {
        out["nextSyncToken"] = json!(format!("sync-{}", g.seq.load(Ordering::SeqCst) - 1));
    }
    Json(out).into_response()
}

async fn connections(State(g): S, headers: HeaderMap, Query(q): Q) -> Response {
    let user = match g.admit(
        &headers,
        "people.connections.list",
        &[CONTACTS_SCOPE, CONTACTS_READ_SCOPE],
    ) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if q.get("personFields").is_none_or(String::is_empty) {
        return bad("personFields mask is required. Please specify one or more valid paths.");
    }
    let since: Option<u64> = match q.get("syncToken") {
        Some(t) => match t.strip_prefix("sync-").and_then(|n| n.parse().ok()) {
            Some(n) => Some(n),
            None => {
                return google_error(
                    StatusCode::GONE,
                    "FAILED_PRECONDITION",
                    "expiredSyncToken",
                    "Sync token is expired. Clear local cache and retry call without the sync token.",
                );
            }
        },
        None => None,
    };
    let mut all = g.user(&user).contacts;
    all.sort_by_key(|p| p["metadata"]["seq"].as_u64().unwrap_or(0));
    if let Some(s) = since {
        all.retain(|p| p["metadata"]["seq"].as_u64().unwrap_or(0) > s);
    }
    page(&g, all, &q, "connections")
}

async fn other_contacts(State(g): S, headers: HeaderMap, Query(q): Q) -> Response {
    let user = match g.admit(&headers, "otherContacts.list", &[OTHER_CONTACTS_SCOPE]) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if q.get("readMask").is_none_or(String::is_empty) {
        return bad("readMask is required.");
    }
    page(&g, g.user(&user).other, &q, "otherContacts")
}

async fn groups_list(State(g): S, headers: HeaderMap, Query(q): Q) -> Response {
    let user = match g.admit(
        &headers,
        "contactGroups.list",
        &[CONTACTS_SCOPE, CONTACTS_READ_SCOPE],
    ) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut all = vec![
        json!({"resourceName": "contactGroups/myContacts", "name": "myContacts", "groupType": "SYSTEM_CONTACT_GROUP"}),
    ];
    all.extend(
        g.user(&user).groups.iter().map(
            |(rn, n)| json!({"resourceName": rn, "name": n, "groupType": "USER_CONTACT_GROUP"}),
        ),
    );
    page(&g, all, &q, "contactGroups")
}

async fn groups_create(State(g): S, headers: HeaderMap, body: Bytes) -> Response {
    let user = match g.admit(&headers, "contactGroups.create", &[CONTACTS_SCOPE]) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("Invalid JSON payload received.");
    };
    let Some(name) = v["contactGroup"]["name"].as_str().map(str::to_string) else {
        return bad("contactGroup.name is required");
    };
    let rn = format!("contactGroups/g{}", g.seq.fetch_add(1, Ordering::SeqCst));
    g.mutate(&user, move |u| {
        if u.groups.iter().any(|(_, n)| *n == name) {
            return google_error(
                StatusCode::CONFLICT,
                "ALREADY_EXISTS",
                "duplicate",
                "Contact group name already exists.",
            );
        }
        u.groups.push((rn.clone(), name.clone()));
        Json(json!({"resourceName": rn, "name": name, "groupType": "USER_CONTACT_GROUP"}))
            .into_response()
    })
    .await
}

/// `people:createContact`, `people:batchCreateContacts`, `people:batchDeleteContacts`.
async fn people_post(
    State(g): S,
    headers: HeaderMap,
    Path(action): Path<String>,
    body: Bytes,
) -> Response {
    let method: &'static str = match action.as_str() {
        "people:createContact" => "people.createContact",
        "people:batchCreateContacts" => "people.batchCreateContacts",
        "people:batchDeleteContacts" => "people.batchDeleteContacts",
        _ => return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "notFound", "Not found"),
    };
    let user = match g.admit(&headers, method, &[CONTACTS_SCOPE]) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("Invalid JSON payload received.");
    };
    match method {
        "people.batchDeleteContacts" => {
            let names: Vec<String> = v["resourceNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            if names.is_empty() || names.len() > 500 {
                return bad("resourceNames must hold 1 to 500 names.");
            }
            g.mutate(&user, move |u| {
                u.contacts
                    .retain(|p| !names.iter().any(|n| p["resourceName"] == n.as_str()));
                Json(json!({})).into_response()
            })
            .await
        }
        _ => {
            let people: Vec<Value> = if method == "people.createContact" {
                vec![v]
            } else {
                if v["readMask"].as_str().is_none_or(str::is_empty) {
                    return bad("readMask is required.");
                }
                v["contacts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["contactPerson"].clone())
                    .collect()
            };
            if people.is_empty() || people.len() > 200 {
                return bad("Request must contain 1 to 200 contacts.");
            }
            g.largest_batch
                .fetch_max(people.len() as u64, Ordering::SeqCst);
            let single = method == "people.createContact";
            let made: Vec<Value> = people
                .into_iter()
                .map(|mut p| {
                    p["resourceName"] =
                        json!(format!("people/c{}", g.seq.fetch_add(1, Ordering::SeqCst)));
                    g.stamp(&mut p);
                    p
                })
                .collect();
            let lose = g
                .lost_answers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            g.mutate(&user, move |u| {
                u.contacts.extend(made.iter().cloned());
                if lose {
                    return google_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "UNAVAILABLE",
                        "backendError",
                        "The service is currently unavailable.",
                    );
                }
                if single {
                    return Json(made[0].clone()).into_response();
                }
                Json(json!({"createdPeople": made.iter().map(|p| json!({"httpStatusCode": 200, "person": p, "requestedResourceName": p["resourceName"]})).collect::<Vec<_>>()})).into_response()
            })
            .await
        }
    }
}

/// `people/{id}:updateContact`, `people/{id}:updateContactPhoto`.
async fn person_patch(
    State(g): S,
    headers: HeaderMap,
    Path(rest): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let Some((id, action)) = rest.split_once(':') else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "notFound", "Not found");
    };
    let method: &'static str = match action {
        "updateContact" => "people.updateContact",
        "updateContactPhoto" => "people.updateContactPhoto",
        _ => return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "notFound", "Not found"),
    };
    let user = match g.admit(&headers, method, &[CONTACTS_SCOPE]) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("Invalid JSON payload received.");
    };
    let rn = format!("people/{id}");
    let id = id.to_string();
    let fields: Vec<String> = q
        .get("updatePersonFields")
        .map(|f| f.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if method == "people.updateContact" && fields.is_empty() {
        return bad("updatePersonFields mask is required.");
    }
    let gg = g.clone();
    g.mutate(&user, move |u| {
        let Some(p) = u.contacts.iter_mut().find(|p| p["resourceName"] == rn.as_str()) else {
            return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "notFound", "Requested entity was not found.");
        };
        if method == "people.updateContactPhoto" {
            use base64::Engine as _;
            let Some(bytes) = v["photoBytes"].as_str().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()) else {
                return bad("photoBytes must be base64.");
            };
            p["photos"] = json!([{"url": format!("https://lh3.googleusercontent.com/contacts/{id}"), "default": false}]);
            gg.stamp(p);
            let out = p.clone();
            u.photos.insert(rn.clone(), bytes);
            return Json(json!({"person": out})).into_response();
        }
        if v["etag"] != p["etag"] {
            return google_error(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", "failedPrecondition", "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.");
        }
        for f in &fields {
            match v.get(f.as_str()) {
                Some(x) => p[f.as_str()] = x.clone(),
                None => {
                    p.as_object_mut().unwrap().remove(f.as_str());
                }
            }
        }
        gg.stamp(p);
        Json(p.clone()).into_response()
    })
    .await
}

pub fn router(g: Arc<GooglePeople>) -> Router {
    Router::new()
        .route("/v1/people/me/connections", get(connections))
        .route("/v1/otherContacts", get(other_contacts))
        .route("/v1/contactGroups", get(groups_list).post(groups_create))
        .route("/v1/{action}", post(people_post))
        .route("/v1/people/{rest}", patch(person_patch))
        .with_state(g)
}
