//! The tenant's directory in the fake Graph (`/v1.0/users`, `/v1.0/groups`, a mailbox's
//! `calendar/calendarPermissions`), as Microsoft documents it:
//! - collections paged with `@odata.nextLink` (the fake's page size, `$top` below it);
//! - `mailboxSettings.userPurpose` (user, shared, room, equipment);
//! - `$filter` on groups with `mail eq '...'` and `mailNickname eq '...'` joined by `or`;
//! - creating a group: only Microsoft 365 groups (`groupTypes: ["Unified"]`) or security
//!   groups without mail; a mail-enabled security group or a distribution list is refused
//!   with 400 (Graph cannot create them), as is a second group with the same mailNickname;
//!   the group's mail is `mailNickname@` the tenant's domain;
//! - owners added with `POST /groups/{id}/owners/$ref` (400 when already one), removed with
//!   `DELETE /groups/{id}/owners/{id}/$ref`;
//! - members added with `POST /groups/{id}/members/$ref` (`@odata.id` of a directory
//!   object): 400 when already a member, 400 on a mail-enabled non-unified group (Graph cannot
//!   change its members), 404 for an unknown group or object; removed with `DELETE
//!   /groups/{id}/members/{id}/$ref`;
//! - calendar permissions listed, added (role read, write, delegate...), deleted; 404 for a
//!   user without a mailbox;
//! - 404 `Request_ResourceNotFound` for an unknown user or group; 429 with Retry-After when
//!   the test asks for throttling.
//!
//! Test hooks: users and groups seeded, read back, counted; creates that hang (stored, then no
//! answer) so a test can kill the client mid-way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::graph::{Answer, err};

#[derive(Debug, Clone, Default)]
pub struct DirUser {
    pub id: String,
    pub mail: String,
    pub display_name: String,
    /// user, shared, room, equipment.
    pub purpose: String,
    pub proxy: Vec<String>,
    pub calendar: Vec<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct DirGroup {
    pub id: String,
    pub mail: Option<String>,
    pub nickname: String,
    pub display_name: String,
    pub unified: bool,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    pub proxy: Vec<String>,
    /// Member object ids.
    pub members: Vec<String>,
    pub owners: Vec<String>,
}

#[derive(Default)]
pub struct DirState {
    pub users: Vec<DirUser>,
    pub groups: Vec<DirGroup>,
}

pub struct Directory {
    pub state: Mutex<DirState>,
    /// The tenant's domain (a created group's mail is its nickname @ this).
    pub domain: Mutex<String>,
    pub page_size: usize,
    /// The next this-many directory requests are answered 429 with `Retry-After: 1`.
    pub throttle_next: AtomicU32,
    pub throttled: AtomicU64,
    /// Creates (groups, members, permissions) stored and then never answered, this many.
    pub hang_next_create: AtomicU32,
    /// Creates received: (groups, members, calendar permissions).
    pub group_creates: AtomicU64,
    pub member_adds: AtomicU64,
    pub owner_adds: AtomicU64,
    pub permission_adds: AtomicU64,
    seq: AtomicU64,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            state: Mutex::new(DirState::default()),
            domain: Mutex::new("contoso.com".into()),
            page_size: 2,
            throttle_next: AtomicU32::new(0),
            throttled: AtomicU64::new(0),
            hang_next_create: AtomicU32::new(0),
            group_creates: AtomicU64::new(0),
            member_adds: AtomicU64::new(0),
            owner_adds: AtomicU64::new(0),
            permission_adds: AtomicU64::new(0),
            seq: AtomicU64::new(1),
        }
    }
}

fn not_found(what: &str) -> Answer {
    err(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn bad(message: &str) -> Answer {
    err(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

fn ok(v: Value) -> Answer {
    (StatusCode::OK, Vec::new(), v)
}

impl Directory {
    fn next_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}-{:04}-0000-0000-0000-000000000000",
            self.seq.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Add a user (purpose user, shared, room or equipment); its id.
    pub fn add_user(&self, mail: &str, name: &str, purpose: &str) -> String {
        let id = self.next_id("u");
        self.state.lock().unwrap().users.push(DirUser {
            id: id.clone(),
            mail: mail.into(),
            display_name: name.into(),
            purpose: purpose.into(),
            proxy: vec![format!("SMTP:{mail}")],
            calendar: Vec::new(),
        });
        id
    }

    /// Add a calendar permission of `user` on `mailbox`'s calendar.
    pub fn add_calendar_permission(&self, mailbox: &str, user: &str, role: &str) {
        let id = self.next_id("p");
        let mut st = self.state.lock().unwrap();
        let u = st
            .users
            .iter_mut()
            .find(|u| u.mail.eq_ignore_ascii_case(mailbox))
            .expect("a seeded user");
        u.calendar
            .push(json!({"id": id, "role": role, "isRemovable": true,
            "isInsideOrganization": true, "emailAddress": {"address": user, "name": user}}));
    }

    /// Remove `user`'s calendar permission on `mailbox` (as someone would in Outlook).
    pub fn remove_calendar_permission(&self, mailbox: &str, user: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(u) = st
            .users
            .iter_mut()
            .find(|u| u.mail.eq_ignore_ascii_case(mailbox))
        {
            u.calendar
                .retain(|p| p["emailAddress"]["address"].as_str() != Some(user));
        }
    }

    /// Add a group: `kind` m365group, distribution, security; members and owners by mail.
    pub fn add_group(
        &self,
        mail: &str,
        name: &str,
        kind: &str,
        members: &[&str],
        owners: &[&str],
    ) -> String {
        let id = self.next_id("g");
        let mut st = self.state.lock().unwrap();
        let ids = |st: &DirState, l: &[&str]| -> Vec<String> {
            l.iter()
                .map(|m| object_id(st, m).unwrap_or_else(|| panic!("seed {m} first")))
                .collect()
        };
        let members = ids(&st, members);
        let owners = ids(&st, owners);
        st.groups.push(DirGroup {
            id: id.clone(),
            mail: Some(mail.into()),
            nickname: mail.split('@').next().unwrap().into(),
            display_name: name.into(),
            unified: kind == "m365group",
            mail_enabled: true,
            security_enabled: kind == "security",
            proxy: vec![format!("SMTP:{mail}")],
            members,
            owners,
        });
        id
    }

    /// The owners' mails of the group with this mail, sorted.
    pub fn owners(&self, mail: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        let Some(g) = st.groups.iter().find(|g| {
            g.mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(mail))
        }) else {
            return Vec::new();
        };
        let mut o: Vec<String> = g.owners.iter().map(|m| mail_of(&st, m)).collect();
        o.sort();
        o
    }

    /// The group with this mail: (display name, unified, member mails sorted).
    pub fn group(&self, mail: &str) -> Option<(String, bool, Vec<String>)> {
        let st = self.state.lock().unwrap();
        let g = st.groups.iter().find(|g| {
            g.mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(mail))
        })?;
        let mut members: Vec<String> = g.members.iter().map(|m| mail_of(&st, m)).collect();
        members.sort();
        Some((g.display_name.clone(), g.unified, members))
    }

    /// How many groups have this mail (a duplicate would make two).
    pub fn groups_with_mail(&self, mail: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.groups
            .iter()
            .filter(|g| {
                g.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(mail))
            })
            .count()
    }

    /// `mailbox`'s calendar permissions: (user, role).
    pub fn calendar_permissions(&self, mailbox: &str) -> Vec<(String, String)> {
        let st = self.state.lock().unwrap();
        st.users
            .iter()
            .find(|u| u.mail.eq_ignore_ascii_case(mailbox))
            .map(|u| {
                u.calendar
                    .iter()
                    .map(|p| {
                        (
                            p["emailAddress"]["address"].as_str().unwrap().to_string(),
                            p["role"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn object_id(st: &DirState, key: &str) -> Option<String> {
    st.users
        .iter()
        .find(|u| u.id == key || u.mail.eq_ignore_ascii_case(key))
        .map(|u| u.id.clone())
        .or_else(|| {
            st.groups
                .iter()
                .find(|g| {
                    g.id == key
                        || g.mail
                            .as_deref()
                            .is_some_and(|m| m.eq_ignore_ascii_case(key))
                })
                .map(|g| g.id.clone())
        })
}

fn mail_of(st: &DirState, id: &str) -> String {
    st.users
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.mail.clone())
        .or_else(|| {
            st.groups
                .iter()
                .find(|g| g.id == id)
                .and_then(|g| g.mail.clone())
        })
        .unwrap_or_default()
}

fn object_json(st: &DirState, id: &str) -> Value {
    match st.users.iter().find(|u| u.id == id) {
        Some(u) => json!({"@odata.type": "#microsoft.graph.user", "id": u.id, "mail": u.mail,
            "userPrincipalName": u.mail, "displayName": u.display_name}),
        None => json!({"@odata.type": "#microsoft.graph.group", "id": id, "mail": mail_of(st, id)}),
    }
}

fn group_json(g: &DirGroup) -> Value {
    json!({"id": g.id, "displayName": g.display_name, "mail": g.mail, "mailNickname": g.nickname,
        "mailEnabled": g.mail_enabled, "securityEnabled": g.security_enabled,
        "groupTypes": if g.unified { vec!["Unified"] } else { vec![] }, "proxyAddresses": g.proxy})
}

/// A page of `items` from `skip`, with the next link when more follow.
fn page(
    host: &str,
    path: &str,
    q: &HashMap<String, String>,
    items: Vec<Value>,
    size: usize,
) -> Answer {
    let top = q
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(size)
        .min(size)
        .max(1);
    let skip = q
        .get("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let chunk: Vec<Value> = items.iter().skip(skip).take(top).cloned().collect();
    let mut v = json!({"value": chunk});
    if skip + top < items.len() {
        let mut next = format!("http://{host}/v1.0/{path}?$skiptoken={}", skip + top);
        for (k, val) in q {
            if k != "$skiptoken" {
                next.push_str(&format!("&{}={}", k, enc(val)));
            }
        }
        v["@odata.nextLink"] = json!(next);
    }
    ok(v)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~@,$".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `mail eq 'a' or mailNickname eq 'b'` as (property, value) pairs.
fn filter_terms(f: &str) -> Vec<(String, String)> {
    f.split(" or ")
        .filter_map(|t| {
            let (prop, rest) = t.trim().split_once(" eq ")?;
            let v = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            Some((prop.trim().to_string(), v.replace("''", "'")))
        })
        .collect()
}

/// Whether this request is the directory's (answered here) rather than a mailbox's.
pub fn is_directory(_d: &Directory, rest: &[String], q: &HashMap<String, String>) -> bool {
    match rest.first().map(String::as_str) {
        Some("groups") | Some("directoryObjects") => true,
        Some("users") => match rest.len() {
            1 => true,
            // Only cutover's directory reads ask for proxyAddresses (`cutover access` reads the
            // user's licences from the mailbox side of the fake).
            2 => q
                .get("$select")
                .is_some_and(|s| s.contains("proxyAddresses")),
            3 => {
                rest[2] == "mailboxSettings"
                    && q.get("$select").is_some_and(|s| s.contains("userPurpose"))
            }
            _ => rest[2] == "calendar" && rest.get(3).is_some_and(|s| s == "calendarPermissions"),
        },
        _ => false,
    }
}

/// Answer a directory request (`rest`: the path after `/v1.0/`); `None` when it hangs (a
/// create stored, its answer never sent).
pub async fn route(
    d: &Directory,
    host: &str,
    method: &Method,
    rest: &[String],
    q: &HashMap<String, String>,
    body: &[u8],
) -> Answer {
    if d.throttle_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        d.throttled.fetch_add(1, Ordering::SeqCst);
        let mut a = err(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests; retry after the delay.",
        );
        a.1.push(("Retry-After", "1".into()));
        return a;
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    let (a, created) = answer(d, host, method, &r, q, &body);
    if created
        && d.hang_next_create
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        // Stored; the answer never comes (the client is killed meanwhile).
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    a
}

fn answer(
    d: &Directory,
    host: &str,
    method: &Method,
    r: &[&str],
    q: &HashMap<String, String>,
    body: &Value,
) -> (Answer, bool) {
    let mut st = d.state.lock().unwrap();
    let user_idx = |st: &DirState, k: &str| {
        st.users
            .iter()
            .position(|u| u.id == k || u.mail.eq_ignore_ascii_case(k))
    };
    let group_idx = |st: &DirState, k: &str| st.groups.iter().position(|g| g.id == k);
    let plain = |a: Answer| (a, false);
    match (method.clone(), r) {
        (Method::GET, ["users"]) => {
            let items = st
                .users
                .iter()
                .map(|u| {
                    json!({"id": u.id, "mail": u.mail, "userPrincipalName": u.mail,
                    "displayName": u.display_name, "proxyAddresses": u.proxy})
                })
                .collect();
            plain(page(host, "users", q, items, d.page_size))
        }
        (Method::GET, ["users", k]) => plain(match user_idx(&st, k) {
            Some(i) => {
                let u = &st.users[i];
                ok(
                    json!({"id": u.id, "mail": u.mail, "userPrincipalName": u.mail,
                    "displayName": u.display_name, "proxyAddresses": u.proxy}),
                )
            }
            None => not_found(k),
        }),
        (Method::GET, ["users", k, "mailboxSettings"]) => plain(match user_idx(&st, k) {
            Some(i) => ok(json!({"userPurpose": st.users[i].purpose, "timeZone": "UTC"})),
            None => not_found(k),
        }),
        (Method::GET, ["users", k, "calendar", "calendarPermissions"]) => {
            plain(match user_idx(&st, k) {
                Some(i) => {
                    let items = st.users[i].calendar.clone();
                    let path = format!("users/{k}/calendar/calendarPermissions");
                    page(host, &path, q, items, d.page_size)
                }
                None => not_found(k),
            })
        }
        (Method::POST, ["users", k, "calendar", "calendarPermissions"]) => {
            let Some(i) = user_idx(&st, k) else {
                return plain(not_found(k));
            };
            let Some(addr) = body["emailAddress"]["address"].as_str() else {
                return plain(bad("emailAddress is required."));
            };
            if st.users[i]
                .calendar
                .iter()
                .any(|p| p["emailAddress"]["address"].as_str() == Some(addr))
            {
                return plain(bad("The permission for this user already exists."));
            }
            d.permission_adds.fetch_add(1, Ordering::SeqCst);
            let mut p = body.clone();
            p["id"] = json!(d.next_id("p"));
            st.users[i].calendar.push(p.clone());
            ((StatusCode::CREATED, Vec::new(), p), true)
        }
        (Method::DELETE, ["users", k, "calendar", "calendarPermissions", pid]) => {
            plain(match user_idx(&st, k) {
                Some(i) => {
                    let before = st.users[i].calendar.len();
                    st.users[i]
                        .calendar
                        .retain(|p| p["id"].as_str() != Some(pid));
                    if st.users[i].calendar.len() < before {
                        (StatusCode::NO_CONTENT, Vec::new(), Value::Null)
                    } else {
                        not_found(pid)
                    }
                }
                None => not_found(k),
            })
        }
        (Method::GET, ["groups"]) => {
            let terms = q
                .get("$filter")
                .map(|f| filter_terms(f))
                .unwrap_or_default();
            let items = st
                .groups
                .iter()
                .filter(|g| {
                    terms.is_empty()
                        || terms.iter().any(|(p, v)| match p.as_str() {
                            "mail" => g.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(v)),
                            "mailNickname" => g.nickname.eq_ignore_ascii_case(v),
                            _ => false,
                        })
                })
                .map(group_json)
                .collect();
            plain(page(host, "groups", q, items, d.page_size))
        }
        (Method::POST, ["groups"]) => {
            let unified = body["groupTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "Unified"));
            let mail_enabled = body["mailEnabled"].as_bool().unwrap_or(false);
            if mail_enabled && !unified {
                return plain(bad(
                    "The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset and the security-enablement property is set.",
                ));
            }
            let Some(nick) = body["mailNickname"].as_str() else {
                return plain(bad("Property 'mailNickname' is required."));
            };
            if st
                .groups
                .iter()
                .any(|g| g.nickname.eq_ignore_ascii_case(nick))
            {
                return plain(bad(
                    "Another object with the same value for property mailNickname already exists.",
                ));
            }
            d.group_creates.fetch_add(1, Ordering::SeqCst);
            let domain = d.domain.lock().unwrap().clone();
            let mail = unified.then(|| format!("{nick}@{domain}"));
            let g = DirGroup {
                id: d.next_id("g"),
                proxy: mail.iter().map(|m| format!("SMTP:{m}")).collect(),
                mail,
                nickname: nick.into(),
                display_name: body["displayName"].as_str().unwrap_or(nick).into(),
                unified,
                mail_enabled,
                security_enabled: body["securityEnabled"].as_bool().unwrap_or(false),
                members: Vec::new(),
                owners: Vec::new(),
            };
            let v = group_json(&g);
            st.groups.push(g);
            ((StatusCode::CREATED, Vec::new(), v), true)
        }
        (Method::GET, ["groups", id]) => plain(match group_idx(&st, id) {
            Some(i) => ok(group_json(&st.groups[i])),
            None => not_found(id),
        }),
        (Method::DELETE, ["groups", id]) => plain(match group_idx(&st, id) {
            Some(i) => {
                st.groups.remove(i);
                (StatusCode::NO_CONTENT, Vec::new(), Value::Null)
            }
            None => not_found(id),
        }),
        (Method::GET, ["groups", id, which @ ("members" | "owners")]) => {
            plain(match group_idx(&st, id) {
                Some(i) => {
                    let g = &st.groups[i];
                    let ids = if *which == "members" {
                        &g.members
                    } else {
                        &g.owners
                    };
                    let items = ids.iter().map(|m| object_json(&st, m)).collect();
                    page(host, &format!("groups/{id}/{which}"), q, items, d.page_size)
                }
                None => not_found(id),
            })
        }
        (Method::POST, ["groups", id, "members", "$ref"]) => {
            let Some(i) = group_idx(&st, id) else {
                return plain(not_found(id));
            };
            let Some(oid) = body["@odata.id"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
            else {
                return plain(bad("Invalid object identifier ''."));
            };
            let Some(oid) = object_id(&st, oid) else {
                return plain(not_found(oid));
            };
            let g = &st.groups[i];
            if g.mail_enabled && !g.unified {
                return plain(bad(
                    "Cannot Update a mail-enabled security groups and or distribution list.",
                ));
            }
            if g.members.contains(&oid) {
                return plain(bad(
                    "One or more added object references already exist for the following modified properties: 'members'.",
                ));
            }
            d.member_adds.fetch_add(1, Ordering::SeqCst);
            st.groups[i].members.push(oid);
            ((StatusCode::NO_CONTENT, Vec::new(), Value::Null), true)
        }
        (Method::POST, ["groups", id, "owners", "$ref"]) => {
            let Some(i) = group_idx(&st, id) else {
                return plain(not_found(id));
            };
            let Some(oid) = body["@odata.id"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
                .and_then(|o| object_id(&st, o))
            else {
                return plain(bad("Invalid object identifier."));
            };
            if st.groups[i].owners.contains(&oid) {
                return plain(bad(
                    "One or more added object references already exist for the following modified properties: 'owners'.",
                ));
            }
            d.owner_adds.fetch_add(1, Ordering::SeqCst);
            st.groups[i].owners.push(oid);
            ((StatusCode::NO_CONTENT, Vec::new(), Value::Null), true)
        }
        (Method::DELETE, ["groups", id, "owners", oid, "$ref"]) => {
            plain(match group_idx(&st, id) {
                Some(i) if st.groups[i].owners.iter().any(|m| m == oid) => {
                    st.groups[i].owners.retain(|m| m != oid);
                    (StatusCode::NO_CONTENT, Vec::new(), Value::Null)
                }
                _ => not_found(oid),
            })
        }
        (Method::DELETE, ["groups", id, "members", mid, "$ref"]) => {
            plain(match group_idx(&st, id) {
                Some(i) if st.groups[i].members.iter().any(|m| m == mid) => {
                    st.groups[i].members.retain(|m| m != mid);
                    (StatusCode::NO_CONTENT, Vec::new(), Value::Null)
                }
                _ => not_found(mid),
            })
        }
        _ => plain(err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unsupported directory request {method} /{}", r.join("/")),
        )),
    }
}
