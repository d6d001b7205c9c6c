//! `cutover recipients PROJECT`: create on the destination what its directory API can, each
//! step idempotent and journalled (`recipient_changes`): look first; journal `pending`; create;
//! journal `created` with the new object's id. A run killed between the create and its
//! journal entry (or a lost answer) leaves `pending`, and the next run looks: found, it is
//! cutover's (it was not there before, or the row would say `existed`), so it is not created
//! twice and rollback removes it.
//!
//! Microsoft 365 (Graph): Microsoft 365 groups, their members and owners, calendar
//! permissions (Reviewer, Editor, Delegate). Google (Directory API): groups of every kind,
//! their members and owners (role OWNER). The rest is the Exchange Online script's (or the Admin console's on Google).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api::RecipientKind;
use crate::config::{EndpointKind, Items, Project, Recipient};
use crate::endpoint::gmail::GoogleDirectory;
use crate::endpoint::graph::GraphConnector;
use crate::journal::Journal;

use super::lookup::{
    google_group, google_member, google_member_role, graph_calendar_permissions, graph_group,
    graph_links, graph_object_id, graph_role, local_part, permission_of,
};
use super::steps::{Action, Step, steps};
use super::types::{Done, Outcome, RecipientsError, enc};

/// The destination's directory, when cutover can reach it.
pub enum Target {
    Graph(GraphConnector),
    Google(GoogleDirectory),
}

impl Target {
    /// The destination's directory: Graph, or Google with `[recipients] google_admin`.
    pub fn of(project: &Project, store: &Journal) -> Result<Option<Target>, RecipientsError> {
        let d = &project.destination;
        Ok(match d.kind {
            EndpointKind::Graph => Some(Target::Graph(GraphConnector::new(
                d,
                Items::default(),
                "destination",
                store,
            )?)),
            EndpointKind::Gmail => match &project.recipients.google_admin {
                Some(admin) => Some(Target::Google(GoogleDirectory::new(
                    d,
                    "destination",
                    store,
                    admin,
                )?)),
                None => None,
            },
            _ => None,
        })
    }

    pub fn api(&self) -> &'static str {
        match self {
            Target::Graph(_) => "graph",
            Target::Google(_) => "google",
        }
    }
}

/// Carry out every step the destination's API can; the others are reported for the script.
pub async fn create(
    target: &Target,
    store: &Journal,
    list: &[Recipient],
) -> Result<Vec<Outcome>, RecipientsError> {
    let mut out = Vec::new();
    for s in steps(list) {
        let (done, detail) = match target {
            Target::Graph(c) => graph_step(c, store, &s).await?,
            Target::Google(d) => google_step(d, store, &s).await?,
        };
        if matches!(done, Done::Created) {
            let _ = store.set_recipient_state(&s.address, "created");
        }
        out.push(Outcome {
            step: s.describe(),
            done,
            detail,
        });
    }
    Ok(out)
}

/// Journal what a look found: cutover's when its own row was pending or created.
fn found(
    store: &Journal,
    api: &str,
    what: &str,
    address: &str,
    target: &str,
    ids: (Option<&str>, Option<&str>),
) -> Result<(Done, String), RecipientsError> {
    let row = store.recipient_change(api, what, address, target)?;
    let (state, done) = match row.as_ref().map(|r| r.state.as_str()) {
        Some("pending") => ("created", Done::Created),
        Some("created") => ("created", Done::Present),
        _ => ("existed", Done::Present),
    };
    store.set_recipient_change((api, what, address, target), state, ids.0, ids.1)?;
    let detail = match (state, done) {
        ("created", Done::Created) => "found after an unanswered create: cutover's".to_string(),
        ("created", _) => "created by cutover earlier".to_string(),
        _ => "already there (not cutover's: rollback leaves it)".to_string(),
    };
    Ok((done, detail))
}

async fn graph_step(
    c: &GraphConnector,
    store: &Journal,
    s: &Step,
) -> Result<(Done, String), RecipientsError> {
    let script = || Ok((Done::Script, "Graph cannot: in the script".to_string()));
    match &s.action {
        Action::Create { kind, display_name } if *kind == RecipientKind::M365Group => {
            if let Some(g) = graph_group(c, &s.address).await? {
                let id = g["id"].as_str().unwrap_or_default().to_string();
                return found(store, "graph", "group", &s.address, "", (Some(&id), None));
            }
            store.set_recipient_change(
                ("graph", "group", &s.address, ""),
                "pending",
                None,
                None,
            )?;
            let body = json!({
                "displayName": display_name,
                "mailNickname": local_part(&s.address),
                "mailEnabled": true,
                "securityEnabled": false,
                "groupTypes": ["Unified"],
            });
            let (_, v) = c
                .directory_call("create group", Method::POST, "/groups", Some(&body))
                .await?;
            let id = v["id"].as_str().unwrap_or_default();
            store.set_recipient_change(
                ("graph", "group", &s.address, ""),
                "created",
                Some(id),
                None,
            )?;
            Ok((Done::Created, format!("group id {id}")))
        }
        Action::Member(m) if s.kind == RecipientKind::M365Group => {
            graph_link(c, store, s, m, "member").await
        }
        Action::Owner(m) if s.kind == RecipientKind::M365Group => {
            graph_link(c, store, s, m, "owner").await
        }
        Action::Grant { user, right } => {
            let Some(role) = graph_role(*right) else {
                return script();
            };
            let Some(perms) = graph_calendar_permissions(c, &s.address).await? else {
                return Ok((
                    Done::Waiting,
                    "the mailbox is not on the destination yet: run the script first".into(),
                ));
            };
            if let Some(p) = permission_of(&perms, user) {
                let id = p["id"].as_str().unwrap_or_default().to_string();
                let has = p["role"].as_str().unwrap_or_default().to_string();
                let (done, detail) = found(
                    store,
                    "graph",
                    "calendar",
                    &s.address,
                    user,
                    (Some(&id), None),
                )?;
                return Ok(if has == role {
                    (done, detail)
                } else {
                    (
                        Done::Present,
                        format!("{user} has role {has}, {role} wanted: left as it is"),
                    )
                });
            }
            store.set_recipient_change(
                ("graph", "calendar", &s.address, user),
                "pending",
                None,
                None,
            )?;
            let body = json!({
                "emailAddress": {"address": user},
                "role": role,
                "isInsideOrganization": true,
                "isRemovable": true,
            });
            let (_, v) = c
                .directory_call(
                    "grant calendar permission",
                    Method::POST,
                    &format!("/users/{}/calendar/calendarPermissions", enc(&s.address)),
                    Some(&body),
                )
                .await?;
            let id = v["id"].as_str().unwrap_or_default();
            store.set_recipient_change(
                ("graph", "calendar", &s.address, user),
                "created",
                Some(id),
                None,
            )?;
            Ok((Done::Created, format!("role {role}")))
        }
        _ => script(),
    }
}

/// Add `m` to the group's members or owners (`what`: member, owner), looking first.
async fn graph_link(
    c: &GraphConnector,
    store: &Journal,
    s: &Step,
    m: &str,
    what: &str,
) -> Result<(Done, String), RecipientsError> {
    let Some(g) = graph_group(c, &s.address).await? else {
        return Ok((Done::Waiting, "the group is not there".into()));
    };
    let gid = g["id"].as_str().unwrap_or_default().to_string();
    let Some(uid) = graph_object_id(c, m).await? else {
        return Ok((Done::Waiting, format!("{m} is not on the destination")));
    };
    let which = format!("{what}s");
    if graph_links(c, &gid, &which)
        .await?
        .iter()
        .any(|(id, _)| *id == uid)
    {
        return found(
            store,
            "graph",
            what,
            &s.address,
            m,
            (Some(&uid), Some(&gid)),
        );
    }
    store.set_recipient_change(
        ("graph", what, &s.address, m),
        "pending",
        Some(&uid),
        Some(&gid),
    )?;
    let body = json!({
        "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")
    });
    c.directory_call(
        &format!("add group {what}"),
        Method::POST,
        &format!("/groups/{}/{which}/$ref", enc(&gid)),
        Some(&body),
    )
    .await?;
    store.set_recipient_change(("graph", what, &s.address, m), "created", None, None)?;
    Ok((Done::Created, String::new()))
}

async fn google_step(
    d: &GoogleDirectory,
    store: &Journal,
    s: &Step,
) -> Result<(Done, String), RecipientsError> {
    if s.kind == RecipientKind::User {
        return Ok((
            Done::Waiting,
            "rights on a user's mailbox (Gmail delegates): set by the user in Gmail or in the Admin console".into(),
        ));
    }
    if s.kind.is_mailbox() {
        return Ok((
            Done::Waiting,
            "Google has no shared or resource mailbox: create a user (or a calendar resource) in the Admin console".into(),
        ));
    }
    match &s.action {
        Action::Create { display_name, .. } => {
            if google_group(d, &s.address).await?.is_some() {
                return found(store, "google", "group", &s.address, "", (None, None));
            }
            store.set_recipient_change(
                ("google", "group", &s.address, ""),
                "pending",
                None,
                None,
            )?;
            let body = json!({"email": s.address, "name": display_name});
            let (status, v) = d
                .call("create group", Method::POST, &["groups"], &[], Some(&body))
                .await?;
            if status == StatusCode::CONFLICT {
                // Made meanwhile (or by the unanswered create): look again.
                return found(store, "google", "group", &s.address, "", (None, None));
            }
            let id = v["id"].as_str();
            store.set_recipient_change(("google", "group", &s.address, ""), "created", id, None)?;
            Ok((Done::Created, String::new()))
        }
        Action::Member(m) => {
            if google_group(d, &s.address).await?.is_none() {
                return Ok((Done::Waiting, "the group is not there".into()));
            }
            if google_member(d, &s.address, m).await? {
                return found(store, "google", "member", &s.address, m, (None, None));
            }
            store.set_recipient_change(
                ("google", "member", &s.address, m),
                "pending",
                None,
                None,
            )?;
            let body = json!({"email": m, "role": "MEMBER"});
            let (status, _) = d
                .call(
                    "add group member",
                    Method::POST,
                    &["groups", &s.address, "members"],
                    &[],
                    Some(&body),
                )
                .await?;
            if status == StatusCode::CONFLICT {
                return found(store, "google", "member", &s.address, m, (None, None));
            }
            if status == StatusCode::NOT_FOUND {
                return Ok((Done::Waiting, format!("{m} is not known to Google")));
            }
            store.set_recipient_change(
                ("google", "member", &s.address, m),
                "created",
                None,
                None,
            )?;
            Ok((Done::Created, String::new()))
        }
        Action::Owner(m) => google_owner(d, store, s, m).await,
        _ => Ok((
            Done::Waiting,
            "aliases and rights of a Google group: set in the Admin console".into(),
        )),
    }
}

/// Make `m` an owner of the Google group: added with the role OWNER, or a member's role
/// changed to OWNER (journalled with remote id `role`: rollback gives the role MEMBER back).
async fn google_owner(
    d: &GoogleDirectory,
    store: &Journal,
    s: &Step,
    m: &str,
) -> Result<(Done, String), RecipientsError> {
    if google_group(d, &s.address).await?.is_none() {
        return Ok((Done::Waiting, "the group is not there".into()));
    }
    let key = ("google", "owner", s.address.as_str(), m);
    let role = google_member_role(d, &s.address, m).await?;
    if role.as_deref() == Some("OWNER") {
        return found(store, "google", "owner", &s.address, m, (None, None));
    }
    let body = json!({"email": m, "role": "OWNER"});
    let (status, _) = if role.is_some() {
        store.set_recipient_change(key, "pending", Some("role"), None)?;
        d.call(
            "make group owner",
            Method::PATCH,
            &["groups", &s.address, "members", m],
            &[],
            Some(&body),
        )
        .await?
    } else {
        store.set_recipient_change(key, "pending", None, None)?;
        d.call(
            "add group owner",
            Method::POST,
            &["groups", &s.address, "members"],
            &[],
            Some(&body),
        )
        .await?
    };
    if status == StatusCode::NOT_FOUND {
        return Ok((Done::Waiting, format!("{m} is not known to Google")));
    }
    store.set_recipient_change(key, "created", None, None)?;
    Ok((
        Done::Created,
        if role.is_some() {
            "was a member: role OWNER".into()
        } else {
            String::new()
        },
    ))
}
