//! Looking things up on the destination's directory, before creating them and when reading
//! them back: a Graph group by address, a user's or group's id, a group's members and
//! owners, a mailbox's calendar permissions; a Google group and its members with their role.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::api::AccessRight;
use crate::endpoint::EndpointError;
use crate::endpoint::gmail::GoogleDirectory;
use crate::endpoint::graph::GraphConnector;

use super::types::enc;

const GROUP_FIELDS: &str =
    "id,displayName,mail,mailNickname,mailEnabled,securityEnabled,groupTypes,proxyAddresses";

/// The Graph role cutover gives for a calendar right (`None`: Graph has no role for it, the
/// script sets it).
pub fn graph_role(right: AccessRight) -> Option<&'static str> {
    match right {
        AccessRight::CalendarReviewer => Some("read"),
        AccessRight::CalendarEditor => Some("write"),
        AccessRight::CalendarDelegate => Some("delegateWithoutPrivateEventAccess"),
        _ => None,
    }
}

/// The local part of an address (a group's `mailNickname`).
pub fn local_part(address: &str) -> &str {
    address.split('@').next().unwrap_or(address)
}

/// The Graph group with this address (or this mail nickname), if there is one.
pub async fn graph_group(
    c: &GraphConnector,
    address: &str,
) -> Result<Option<Value>, EndpointError> {
    let q = |s: &str| s.replace('\'', "''");
    let filter = format!(
        "mail eq '{}' or mailNickname eq '{}'",
        q(address),
        q(local_part(address))
    );
    let found = c
        .directory_all(
            "find group",
            &format!("/groups?$filter={}&$select={GROUP_FIELDS}", enc(&filter)),
        )
        .await?
        .unwrap_or_default();
    // The address itself first: a nickname may be another domain's.
    Ok(found
        .iter()
        .find(|g| {
            g["mail"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(address))
        })
        .or(found.first())
        .cloned())
}

/// A user's (else a group's) directory id by address.
pub async fn graph_object_id(
    c: &GraphConnector,
    address: &str,
) -> Result<Option<String>, EndpointError> {
    let (status, v) = c
        .directory_call(
            "find user",
            Method::GET,
            &format!("/users/{}?$select=id,mail,proxyAddresses", enc(address)),
            None,
        )
        .await?;
    if status.is_success() {
        return Ok(v["id"].as_str().map(str::to_string));
    }
    Ok(graph_group(c, address)
        .await?
        .and_then(|g| g["id"].as_str().map(str::to_string)))
}

/// A group's members (id, address).
pub async fn graph_members(
    c: &GraphConnector,
    group_id: &str,
) -> Result<Vec<(String, String)>, EndpointError> {
    graph_links(c, group_id, "members").await
}

/// A group's `members` or `owners` (id, address).
pub async fn graph_links(
    c: &GraphConnector,
    group_id: &str,
    which: &str,
) -> Result<Vec<(String, String)>, EndpointError> {
    Ok(c.directory_all(
        &format!("list group {which}"),
        &format!(
            "/groups/{}/{which}?$select=id,mail,userPrincipalName",
            enc(group_id)
        ),
    )
    .await?
    .unwrap_or_default()
    .iter()
    .map(|m| {
        (
            m["id"].as_str().unwrap_or_default().to_string(),
            m["mail"]
                .as_str()
                .or(m["userPrincipalName"].as_str())
                .unwrap_or_default()
                .to_string(),
        )
    })
    .collect())
}

/// A mailbox's calendar permissions, `None` when the mailbox is not there.
pub async fn graph_calendar_permissions(
    c: &GraphConnector,
    mailbox: &str,
) -> Result<Option<Vec<Value>>, EndpointError> {
    c.directory_all(
        "read calendar permissions",
        &format!("/users/{}/calendar/calendarPermissions", enc(mailbox)),
    )
    .await
}

/// The permission of `user` among `perms`.
pub fn permission_of<'a>(perms: &'a [Value], user: &str) -> Option<&'a Value> {
    perms.iter().find(|p| {
        p["emailAddress"]["address"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case(user))
    })
}

/// A Google group by address (`None`: 404).
pub async fn google_group(
    d: &GoogleDirectory,
    address: &str,
) -> Result<Option<Value>, EndpointError> {
    let (status, v) = d
        .call("read group", Method::GET, &["groups", address], &[], None)
        .await?;
    Ok((status == StatusCode::OK).then_some(v))
}

/// Whether `member` is in the Google group.
pub async fn google_member(
    d: &GoogleDirectory,
    group: &str,
    member: &str,
) -> Result<bool, EndpointError> {
    Ok(google_member_role(d, group, member).await?.is_some())
}

/// The role (OWNER, MANAGER, MEMBER) of `member` in the Google group (`None`: not a member).
pub async fn google_member_role(
    d: &GoogleDirectory,
    group: &str,
    member: &str,
) -> Result<Option<String>, EndpointError> {
    let (status, v) = d
        .call(
            "read group member",
            Method::GET,
            &["groups", group, "members", member],
            &[],
            None,
        )
        .await?;
    Ok((status == StatusCode::OK).then(|| v["role"].as_str().unwrap_or("MEMBER").to_string()))
}
