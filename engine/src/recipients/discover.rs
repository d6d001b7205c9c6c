//! Discovery through the source's directory API: Microsoft Graph (users with their mailbox
//! type from `mailboxSettings.userPurpose`, groups with mail, their members and owners,
//! calendar permissions of shared and resource mailboxes and of the project's user mailboxes) and the Google Admin SDK Directory
//! API (users and their aliases, groups with members, owners and aliases). What it finds
//! becomes [`Recipient`]s (line 0), with source addresses mapped to the destination's through
//! the project's mailboxes.

use std::collections::HashMap;

use serde_json::Value;

use crate::api::{AccessRight, RecipientKind};
use crate::config::{GoogleGroups, Grant, Project, Recipient};
use crate::endpoint::EndpointError;
use crate::endpoint::gmail::GoogleDirectory;
use crate::endpoint::graph::GraphConnector;

use super::types::{Discovered, enc};

/// Source address (lower case) -> destination address, from the project's mailboxes.
pub fn address_map(project: &Project) -> HashMap<String, String> {
    project
        .mailboxes
        .iter()
        .filter_map(|m| {
            let src = mailbox_address(&m.source.user)?;
            let dst = mailbox_address(&m.destination.user)?;
            Some((src.to_ascii_lowercase(), dst))
        })
        .collect()
}

/// The address in a login: `admin@x\info@x` (delegated form) gives `info@x`; `None` without
/// an `@`.
pub fn mailbox_address(login: &str) -> Option<String> {
    let a = login.rsplit('\\').next().unwrap_or(login);
    let a = a.split('*').next().unwrap_or(a);
    a.contains('@').then(|| a.to_string())
}

fn mapped(map: &HashMap<String, String>, a: &str) -> String {
    map.get(&a.to_ascii_lowercase())
        .cloned()
        .unwrap_or_else(|| a.to_string())
}

/// Graph's calendar role as a right (`None` for what the rights do not name).
pub fn graph_role_right(role: &str) -> Option<AccessRight> {
    match role {
        "read" => Some(AccessRight::CalendarReviewer),
        "write" => Some(AccessRight::CalendarEditor),
        "delegateWithoutPrivateEventAccess" | "delegateWithPrivateEventAccess" => {
            Some(AccessRight::CalendarDelegate)
        }
        _ => None,
    }
}

/// A Graph group's kind: Microsoft 365 group, mail-enabled security group, distribution list
/// (`None`: not mail-enabled, no address to recreate).
pub fn graph_group_kind(g: &Value) -> Option<RecipientKind> {
    let unified = g["groupTypes"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == "Unified"));
    let mail = g["mailEnabled"].as_bool().unwrap_or(false);
    let security = g["securityEnabled"].as_bool().unwrap_or(false);
    match (unified, mail, security) {
        (true, _, _) => Some(RecipientKind::M365Group),
        (false, true, true) => Some(RecipientKind::Security),
        (false, true, false) => Some(RecipientKind::Distribution),
        _ => None,
    }
}

/// The `smtp:` addresses of `proxyAddresses` other than the primary one.
pub fn graph_aliases(v: &Value) -> Vec<String> {
    v["proxyAddresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|p| p.strip_prefix("smtp:"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn addresses(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|m| m["mail"].as_str().or(m["userPrincipalName"].as_str()))
        .map(str::to_string)
        .collect()
}

/// A mailbox's calendar permissions as grants (Reviewer, Editor, Delegate); other roles
/// but `none` and `freeBusyRead` become notes.
async fn calendar_grants(
    c: &GraphConnector,
    id: &str,
    address: &str,
    map: &HashMap<String, String>,
    notes: &mut Vec<String>,
) -> Result<Vec<Grant>, EndpointError> {
    let mut access = Vec::new();
    let perms = c
        .directory_all(
            "read calendar permissions",
            &format!("/users/{}/calendar/calendarPermissions", enc(id)),
        )
        .await?
        .unwrap_or_default();
    for p in &perms {
        let Some(user) = p["emailAddress"]["address"]
            .as_str()
            .filter(|a| !a.is_empty())
        else {
            continue;
        };
        let role = p["role"].as_str().unwrap_or("");
        match graph_role_right(role) {
            Some(right) => access.push(Grant {
                user: mapped(map, user),
                right,
            }),
            None if role != "none" && role != "freeBusyRead" => notes.push(format!(
                "{address}: calendar role {role:?} of {user} has no equivalent right here; not recreated"
            )),
            None => {}
        }
    }
    Ok(access)
}

/// The tenant's shared/resource mailboxes and mail-enabled groups, and the calendar
/// delegates of the project's user mailboxes, through Graph.
pub async fn from_graph(
    c: &GraphConnector,
    map: &HashMap<String, String>,
) -> Result<Discovered, EndpointError> {
    let mut d = Discovered {
        source: "graph".into(),
        ..Discovered::default()
    };
    let users = c
        .directory_all(
            "list users",
            "/users?$select=id,displayName,mail,userPrincipalName,proxyAddresses&$top=100",
        )
        .await?
        .unwrap_or_default();
    for u in &users {
        let Some(address) = u["mail"].as_str().filter(|a| !a.is_empty()) else {
            continue;
        };
        let id = u["id"].as_str().unwrap_or(address);
        let (status, s) = c
            .directory_call(
                "read mailbox settings",
                reqwest::Method::GET,
                &format!("/users/{}/mailboxSettings?$select=userPurpose", enc(id)),
                None,
            )
            .await?;
        if !status.is_success() {
            // No mailbox (a user without an Exchange licence).
            continue;
        }
        d.users += 1;
        let kind = match s["userPurpose"].as_str().unwrap_or("user") {
            "shared" => RecipientKind::Shared,
            "room" => RecipientKind::Room,
            "equipment" => RecipientKind::Equipment,
            _ => {
                let aliases = graph_aliases(u);
                if !aliases.is_empty() {
                    d.user_aliases.push((mapped(map, address), aliases));
                }
                // A user mailbox of the project: who may use its calendar (only these, not
                // the whole tenant's).
                if map.contains_key(&address.to_ascii_lowercase()) {
                    let access = calendar_grants(c, id, address, map, &mut d.notes).await?;
                    if !access.is_empty() {
                        d.recipients.push(Recipient {
                            kind: RecipientKind::User,
                            address: mapped(map, address),
                            display_name: u["displayName"].as_str().unwrap_or(address).to_string(),
                            members: Vec::new(),
                            aliases: Vec::new(),
                            access,
                            owners: Vec::new(),
                            line: 0,
                        });
                    }
                }
                continue;
            }
        };
        let access = calendar_grants(c, id, address, map, &mut d.notes).await?;
        d.recipients.push(Recipient {
            kind,
            address: mapped(map, address),
            display_name: u["displayName"].as_str().unwrap_or(address).to_string(),
            members: Vec::new(),
            aliases: graph_aliases(u),
            access,
            owners: Vec::new(),
            line: 0,
        });
    }
    let groups = c
        .directory_all(
            "list groups",
            "/groups?$select=id,displayName,mail,mailEnabled,securityEnabled,groupTypes,proxyAddresses&$top=100",
        )
        .await?
        .unwrap_or_default();
    for g in &groups {
        let (Some(kind), Some(address)) = (graph_group_kind(g), g["mail"].as_str()) else {
            d.skipped_groups += 1;
            continue;
        };
        let id = g["id"].as_str().unwrap_or_default();
        let members = c
            .directory_all(
                "list group members",
                &format!(
                    "/groups/{}/members?$select=id,mail,userPrincipalName",
                    enc(id)
                ),
            )
            .await?
            .unwrap_or_default();
        let owners = c
            .directory_all(
                "list group owners",
                &format!(
                    "/groups/{}/owners?$select=id,mail,userPrincipalName",
                    enc(id)
                ),
            )
            .await?
            .unwrap_or_default();
        d.recipients.push(Recipient {
            kind,
            address: mapped(map, address),
            display_name: g["displayName"].as_str().unwrap_or(address).to_string(),
            members: addresses(&members).iter().map(|a| mapped(map, a)).collect(),
            aliases: graph_aliases(g),
            access: Vec::new(),
            owners: addresses(&owners).iter().map(|a| mapped(map, a)).collect(),
            line: 0,
        });
    }
    Ok(d)
}

/// The Workspace's groups (as `groups` says they become) and users' aliases through the
/// Directory API, and the Gmail delegates of the project's mailboxes (FullAccess and SendAs).
/// Google has no shared mailboxes: a shared address there is a group or a user's mailbox
/// delegated to others.
pub async fn from_google(
    dir: &GoogleDirectory,
    groups: GoogleGroups,
    map: &HashMap<String, String>,
) -> Result<Discovered, EndpointError> {
    let mut d = Discovered {
        source: "google".into(),
        ..Discovered::default()
    };
    let q = [("customer", "my_customer"), ("maxResults", "200")];
    let users = dir
        .all("list users", &["users"], &q, "users")
        .await?
        .unwrap_or_default();
    for u in &users {
        d.users += 1;
        let Some(address) = u["primaryEmail"].as_str() else {
            continue;
        };
        let aliases: Vec<String> = u["aliases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if !aliases.is_empty() {
            d.user_aliases.push((mapped(map, address), aliases));
        }
        // A mailbox of the project: its Gmail delegates read and send as the user, which on
        // Exchange is FullAccess and SendAs.
        if map.contains_key(&address.to_ascii_lowercase()) {
            match dir.delegates(address).await? {
                Ok(delegates) if !delegates.is_empty() => d.recipients.push(Recipient {
                    kind: RecipientKind::User,
                    address: mapped(map, address),
                    display_name: u["name"]["fullName"]
                        .as_str()
                        .unwrap_or(address)
                        .to_string(),
                    members: Vec::new(),
                    aliases: Vec::new(),
                    access: delegates
                        .iter()
                        .flat_map(|who| {
                            [AccessRight::FullAccess, AccessRight::SendAs].map(|right| Grant {
                                user: mapped(map, who),
                                right,
                            })
                        })
                        .collect(),
                    owners: Vec::new(),
                    line: 0,
                }),
                Ok(_) => {}
                Err(why) => d
                    .notes
                    .push(format!("{address}: Gmail delegates not read: {why}")),
            }
        }
    }
    let list = dir
        .all("list groups", &["groups"], &q, "groups")
        .await?
        .unwrap_or_default();
    for g in &list {
        let Some(address) = g["email"].as_str() else {
            continue;
        };
        let key = g["id"].as_str().unwrap_or(address);
        let members = dir
            .all(
                "list group members",
                &["groups", key, "members"],
                &[("maxResults", "200")],
                "members",
            )
            .await?
            .unwrap_or_default();
        let with_role = |owner: bool| -> Vec<String> {
            members
                .iter()
                .filter(|m| (m["role"].as_str() == Some("OWNER")) == owner || !owner)
                .filter_map(|m| m["email"].as_str())
                .map(|a| mapped(map, a))
                .collect()
        };
        d.recipients.push(Recipient {
            kind: groups.kind(),
            address: mapped(map, address),
            display_name: g["name"].as_str().unwrap_or(address).to_string(),
            members: with_role(false),
            aliases: g["aliases"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            access: Vec::new(),
            owners: with_role(true),
            line: 0,
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_kinds_and_calendar_roles_as_graph_gives_them() {
        let k = |v: Value| graph_group_kind(&v);
        assert_eq!(
            k(json!({"groupTypes": ["Unified"], "mailEnabled": true, "securityEnabled": false})),
            Some(RecipientKind::M365Group)
        );
        assert_eq!(
            k(json!({"groupTypes": [], "mailEnabled": true, "securityEnabled": true})),
            Some(RecipientKind::Security)
        );
        assert_eq!(
            k(json!({"groupTypes": [], "mailEnabled": true, "securityEnabled": false})),
            Some(RecipientKind::Distribution)
        );
        assert_eq!(
            k(json!({"groupTypes": [], "mailEnabled": false, "securityEnabled": true})),
            None
        );
        assert_eq!(
            graph_role_right("read"),
            Some(AccessRight::CalendarReviewer)
        );
        assert_eq!(
            graph_role_right("delegateWithPrivateEventAccess"),
            Some(AccessRight::CalendarDelegate)
        );
        assert_eq!(graph_role_right("limitedRead"), None);
        assert_eq!(
            graph_aliases(
                &json!({"proxyAddresses": ["SMTP:a@x.test", "smtp:b@x.test", "x500:/o=1"]})
            ),
            ["b@x.test"]
        );
        assert_eq!(
            mailbox_address("admin@x.test\\info@x.test").as_deref(),
            Some("info@x.test")
        );
        assert_eq!(
            mailbox_address("info@x.test*master").as_deref(),
            Some("info@x.test")
        );
        assert_eq!(mailbox_address("info"), None);
    }
}
