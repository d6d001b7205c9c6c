//! Fake Admin SDK Directory API (`/admin/directory/v1`), stateful, on the same server as the
//! Gmail, Calendar and People fakes. What it enforces, as Google documents it:
//! - a service account's token acting for a Workspace administrator (the subject) with
//!   `admin.directory.user.readonly` (users) or `admin.directory.group` (groups, members):
//!   403 otherwise (`insufficientPermissions`, or `forbidden` "Not Authorized to access this
//!   resource/api" for a subject who is not an administrator);
//! - lists paged with `maxResults` / `pageToken` / `nextPageToken`;
//! - a member's role changed with `PATCH groups/{group}/members/{member}` (members.patch);
//! - a group or member key is an address (or the group's id); 404 "Resource Not Found:
//!   groupKey" / "memberKey"; 409 "Entity already exists." for a second group of one
//!   address, "Member already exists." for a member twice;
//! - 429 `rateLimitExceeded` with Retry-After when the test asks for throttling.
//!
//! Test hooks: users, groups and members seeded and read back, creates counted, creates that
//! hang (stored, then never answered) so a test can kill the client mid-way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::token::Tokens;

pub const USER_READ_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
pub const GROUP_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.group";

#[derive(Debug, Clone, Default)]
pub struct GGroup {
    pub id: String,
    pub email: String,
    pub name: String,
    pub aliases: Vec<String>,
    /// (email, role OWNER | MANAGER | MEMBER).
    pub members: Vec<(String, String)>,
}

pub struct GoogleDirectory {
    pub tokens: Arc<Tokens>,
    pub admins: Mutex<Vec<String>>,
    /// (primary email, full name, aliases).
    pub users: Mutex<Vec<(String, String, Vec<String>)>>,
    pub groups: Mutex<Vec<GGroup>>,
    pub page_size: usize,
    pub throttle_next: AtomicU32,
    pub throttled: AtomicU64,
    pub hang_next_create: AtomicU32,
    pub group_creates: AtomicU64,
    pub member_adds: AtomicU64,
    seq: AtomicU64,
}

fn gerr(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"error": {"code": status.as_u16(), "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}]}}),
        ),
    )
        .into_response()
}

impl GoogleDirectory {
    pub fn new(tokens: Arc<Tokens>) -> GoogleDirectory {
        GoogleDirectory {
            tokens,
            admins: Mutex::new(Vec::new()),
            users: Mutex::new(Vec::new()),
            groups: Mutex::new(Vec::new()),
            page_size: 2,
            throttle_next: AtomicU32::new(0),
            throttled: AtomicU64::new(0),
            hang_next_create: AtomicU32::new(0),
            group_creates: AtomicU64::new(0),
            member_adds: AtomicU64::new(0),
            seq: AtomicU64::new(1),
        }
    }

    pub fn with_admin(self, admin: &str) -> GoogleDirectory {
        self.admins.lock().unwrap().push(admin.into());
        self
    }

    pub fn add_user(&self, email: &str, name: &str, aliases: &[&str]) {
        self.users.lock().unwrap().push((
            email.into(),
            name.into(),
            aliases.iter().map(|a| a.to_string()).collect(),
        ));
    }

    /// A group with members (role MEMBER) and owners (role OWNER, members too).
    pub fn add_group(
        &self,
        email: &str,
        name: &str,
        members: &[&str],
        owners: &[&str],
        aliases: &[&str],
    ) {
        let mut m: Vec<(String, String)> = owners
            .iter()
            .map(|o| (o.to_string(), "OWNER".into()))
            .collect();
        m.extend(
            members
                .iter()
                .map(|x| (x.to_string(), "MEMBER".to_string())),
        );
        let id = format!("0{}grp", self.seq.fetch_add(1, Ordering::SeqCst));
        self.groups.lock().unwrap().push(GGroup {
            id,
            email: email.into(),
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            members: m,
        });
    }

    /// The group with this address: (name, member emails sorted).
    pub fn group(&self, email: &str) -> Option<(String, Vec<String>)> {
        let g = self.groups.lock().unwrap();
        let g = g.iter().find(|g| g.email.eq_ignore_ascii_case(email))?;
        let mut m: Vec<String> = g.members.iter().map(|(e, _)| e.clone()).collect();
        m.sort();
        Some((g.name.clone(), m))
    }

    /// The group's members with the role OWNER, in order.
    pub fn owners(&self, email: &str) -> Vec<String> {
        let groups = self.groups.lock().unwrap();
        groups
            .iter()
            .find(|g| g.email.eq_ignore_ascii_case(email))
            .map(|g| {
                g.members
                    .iter()
                    .filter(|(_, r)| r == "OWNER")
                    .map(|(e, _)| e.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn groups_with_email(&self, email: &str) -> usize {
        self.groups
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.email.eq_ignore_ascii_case(email))
            .count()
    }
}

fn page(items: Vec<Value>, field: &str, q: &HashMap<String, String>, size: usize) -> Response {
    let max = q
        .get("maxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(size)
        .min(size)
        .max(1);
    let from = q
        .get("pageToken")
        .and_then(|t| t.strip_prefix('p'))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0usize);
    let chunk: Vec<Value> = items.iter().skip(from).take(max).cloned().collect();
    let mut v = json!({ field: chunk, "kind": format!("admin#directory#{field}") });
    if from + max < items.len() {
        v["nextPageToken"] = json!(format!("p{}", from + max));
    }
    Json(v).into_response()
}

async fn handle(
    State(d): State<Arc<GoogleDirectory>>,
    Path(rest): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let g = match d.tokens.check_with(&headers, |_| true) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let r: Vec<&str> = rest.split('/').collect();
    let scope = if r[0] == "users" {
        USER_READ_SCOPE
    } else {
        GROUP_SCOPE
    };
    if !g.resource.split(' ').any(|s| s == scope) {
        return gerr(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        );
    }
    if !g
        .subject
        .as_ref()
        .is_some_and(|s| d.admins.lock().unwrap().contains(s))
    {
        return gerr(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not Authorized to access this resource/api",
        );
    }
    if d.throttle_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        d.throttled.fetch_add(1, Ordering::SeqCst);
        let mut resp = gerr(
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' of service 'admin.googleapis.com'.",
        );
        resp.headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return resp;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (resp, created) = answer(&d, &method, &r, &q, &body);
    if created
        && d.hang_next_create
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    resp
}

fn answer(
    d: &GoogleDirectory,
    method: &Method,
    r: &[&str],
    q: &HashMap<String, String>,
    body: &Value,
) -> (Response, bool) {
    let plain = |r: Response| (r, false);
    let mut groups = d.groups.lock().unwrap();
    let find = |groups: &[GGroup], k: &str| {
        groups
            .iter()
            .position(|g| g.id == k || g.email.eq_ignore_ascii_case(k))
    };
    let no_group = || {
        gerr(
            StatusCode::NOT_FOUND,
            "notFound",
            "Resource Not Found: groupKey",
        )
    };
    match (method.clone(), r) {
        (Method::GET, ["users"]) => {
            let items = d
                .users
                .lock()
                .unwrap()
                .iter()
                .map(|(e, n, a)| json!({"primaryEmail": e, "name": {"fullName": n}, "aliases": a}))
                .collect();
            plain(page(items, "users", q, d.page_size))
        }
        (Method::GET, ["users", k]) => plain(
            match d
                .users
                .lock()
                .unwrap()
                .iter()
                .find(|u| u.0.eq_ignore_ascii_case(k))
            {
                Some((e, n, a)) => {
                    Json(json!({"primaryEmail": e, "name": {"fullName": n}, "aliases": a}))
                        .into_response()
                }
                None => gerr(
                    StatusCode::NOT_FOUND,
                    "notFound",
                    "Resource Not Found: userKey",
                ),
            },
        ),
        (Method::GET, ["groups"]) => {
            let items = groups
                .iter()
                .map(|g| {
                    json!({"id": g.id, "email": g.email, "name": g.name, "aliases": g.aliases,
                    "directMembersCount": g.members.len().to_string()})
                })
                .collect();
            plain(page(items, "groups", q, d.page_size))
        }
        (Method::POST, ["groups"]) => {
            let Some(email) = body["email"].as_str() else {
                return plain(gerr(
                    StatusCode::BAD_REQUEST,
                    "required",
                    "Missing required field: email",
                ));
            };
            if find(&groups, email).is_some() {
                return plain(gerr(
                    StatusCode::CONFLICT,
                    "duplicate",
                    "Entity already exists.",
                ));
            }
            d.group_creates.fetch_add(1, Ordering::SeqCst);
            let g = GGroup {
                id: format!("0{}grp", d.seq.fetch_add(1, Ordering::SeqCst)),
                email: email.into(),
                name: body["name"].as_str().unwrap_or(email).into(),
                aliases: Vec::new(),
                members: Vec::new(),
            };
            let v = json!({"id": g.id, "email": g.email, "name": g.name});
            groups.push(g);
            (Json(v).into_response(), true)
        }
        (Method::GET, ["groups", k]) => plain(match find(&groups, k) {
            Some(i) => {
                let g = &groups[i];
                Json(json!({"id": g.id, "email": g.email, "name": g.name, "aliases": g.aliases}))
                    .into_response()
            }
            None => no_group(),
        }),
        (Method::DELETE, ["groups", k]) => plain(match find(&groups, k) {
            Some(i) => {
                groups.remove(i);
                StatusCode::NO_CONTENT.into_response()
            }
            None => no_group(),
        }),
        (Method::GET, ["groups", k, "members"]) => plain(match find(&groups, k) {
            Some(i) => {
                let items = groups[i].members.iter()
                    .map(|(e, role)| json!({"email": e, "role": role, "type": "USER", "status": "ACTIVE"}))
                    .collect();
                page(items, "members", q, d.page_size)
            }
            None => no_group(),
        }),
        (Method::GET, ["groups", k, "members", m]) => plain(match find(&groups, k) {
            Some(i) => match groups[i]
                .members
                .iter()
                .find(|(e, _)| e.eq_ignore_ascii_case(m))
            {
                Some((e, role)) => {
                    Json(json!({"email": e, "role": role, "type": "USER"})).into_response()
                }
                None => gerr(
                    StatusCode::NOT_FOUND,
                    "notFound",
                    "Resource Not Found: memberKey",
                ),
            },
            None => no_group(),
        }),
        (Method::POST, ["groups", k, "members"]) => {
            let Some(i) = find(&groups, k) else {
                return plain(no_group());
            };
            let Some(email) = body["email"].as_str() else {
                return plain(gerr(
                    StatusCode::BAD_REQUEST,
                    "required",
                    "Missing required field: memberKey",
                ));
            };
            if groups[i]
                .members
                .iter()
                .any(|(e, _)| e.eq_ignore_ascii_case(email))
            {
                return plain(gerr(
                    StatusCode::CONFLICT,
                    "duplicate",
                    "Member already exists.",
                ));
            }
            d.member_adds.fetch_add(1, Ordering::SeqCst);
            let role = body["role"].as_str().unwrap_or("MEMBER").to_string();
            groups[i].members.push((email.into(), role.clone()));
            (
                Json(json!({"email": email, "role": role, "type": "USER"})).into_response(),
                true,
            )
        }
        // members.patch: a member's role (OWNER, MANAGER, MEMBER).
        (Method::PATCH, ["groups", k, "members", m]) => plain(match find(&groups, k) {
            Some(i) => match groups[i]
                .members
                .iter_mut()
                .find(|(e, _)| e.eq_ignore_ascii_case(m))
            {
                Some((e, role)) => {
                    if let Some(r) = body["role"].as_str() {
                        *role = r.to_string();
                    }
                    Json(json!({"email": e, "role": role, "type": "USER"})).into_response()
                }
                None => gerr(
                    StatusCode::NOT_FOUND,
                    "notFound",
                    "Resource Not Found: memberKey",
                ),
            },
            None => no_group(),
        }),
        (Method::DELETE, ["groups", k, "members", m]) => plain(match find(&groups, k) {
            Some(i) => {
                let before = groups[i].members.len();
                groups[i]
                    .members
                    .retain(|(e, _)| !e.eq_ignore_ascii_case(m));
                if groups[i].members.len() < before {
                    StatusCode::NO_CONTENT.into_response()
                } else {
                    gerr(
                        StatusCode::NOT_FOUND,
                        "notFound",
                        "Resource Not Found: memberKey",
                    )
                }
            }
            None => no_group(),
        }),
        _ => plain(gerr(
            StatusCode::BAD_REQUEST,
            "badRequest",
            &format!("unsupported {method} {}", r.join("/")),
        )),
    }
}

pub fn router(d: Arc<GoogleDirectory>) -> Router {
    Router::new()
        .route("/admin/directory/v1/{*rest}", any(handle))
        .with_state(d)
}
