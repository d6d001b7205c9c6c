//! `cutover recipients PROJECT --check`: read back from the destination's directory what its
//! API can read (Graph: mailbox types, groups with their kind, members, owners and aliases,
//! calendar permissions; Google: groups, members and owners), journal each recipient's state and the checklist
//! item `recipients`'s result, and say what cannot be verified (FullAccess, SendAs,
//! SendOnBehalf: Exchange Online PowerShell only).

use reqwest::Method;

use crate::api::RecipientKind;
use crate::config::Recipient;
use crate::endpoint::gmail::GoogleDirectory;
use crate::endpoint::graph::GraphConnector;
use crate::journal::Journal;

use super::apply::Target;
use super::discover::{graph_aliases, graph_group_kind};
use super::lookup::{
    google_group, google_member, google_member_role, graph_calendar_permissions, graph_group,
    graph_links, graph_members, graph_role, permission_of,
};
use super::types::{Checked, Found, RecipientsError, enc};

/// Read back every recipient; journal the states and the checklist result.
pub async fn check(
    target: &Target,
    store: &Journal,
    list: &[Recipient],
) -> Result<Vec<Checked>, RecipientsError> {
    let mut out = Vec::new();
    for r in list {
        let c = match target {
            Target::Graph(c) => graph_check(c, r).await?,
            Target::Google(d) => google_check(d, r).await?,
        };
        store.set_recipient_state(&r.address, c.state())?;
        out.push(c);
    }
    let rows: Vec<(String, String, String)> = out
        .iter()
        .map(|c| {
            let (status, reason) = match &c.found {
                Found::Present => ("pass", "present on the destination".to_string()),
                Found::Missing => ("fail", "not on the destination".to_string()),
                Found::Differs(d) => ("fail", d.clone()),
            };
            (c.address.clone(), status.to_string(), reason)
        })
        .collect();
    store.set_check_results("recipients", &rows)?;
    Ok(out)
}

fn unverified(r: &Recipient) -> Vec<String> {
    r.access
        .iter()
        .filter(|g| !g.right.is_calendar() || graph_role(g.right).is_none())
        .map(|g| format!("{} {}", g.user, g.right))
        .collect()
}

fn missing<'a>(want: &'a [String], have: &[String]) -> Vec<&'a str> {
    want.iter()
        .filter(|w| !have.iter().any(|h| h.eq_ignore_ascii_case(w)))
        .map(String::as_str)
        .collect()
}

async fn graph_check(c: &GraphConnector, r: &Recipient) -> Result<Checked, RecipientsError> {
    let mut differs = Vec::new();
    let found_kind;
    let aliases;
    if r.kind.is_mailbox() {
        let (status, u) = c
            .directory_call(
                "read user",
                Method::GET,
                &format!("/users/{}?$select=id,mail,proxyAddresses", enc(&r.address)),
                None,
            )
            .await?;
        let (s2, settings) = if status.is_success() {
            c.directory_call(
                "read mailbox settings",
                Method::GET,
                &format!(
                    "/users/{}/mailboxSettings?$select=userPurpose",
                    enc(&r.address)
                ),
                None,
            )
            .await?
        } else {
            (status, serde_json::Value::Null)
        };
        if !s2.is_success() {
            return Ok(checked(r, Found::Missing));
        }
        let purpose = settings["userPurpose"]
            .as_str()
            .unwrap_or("user")
            .to_string();
        found_kind = purpose;
        aliases = graph_aliases(&u);
        let grants: Vec<_> = r
            .access
            .iter()
            .filter_map(|g| graph_role(g.right).map(|role| (g, role)))
            .collect();
        if !grants.is_empty() {
            let perms = graph_calendar_permissions(c, &r.address)
                .await?
                .unwrap_or_default();
            for (g, role) in grants {
                match permission_of(&perms, &g.user).and_then(|p| p["role"].as_str()) {
                    Some(has) if has == role => {}
                    Some(has) => {
                        differs.push(format!("{} has calendar role {has}, not {role}", g.user))
                    }
                    None => differs.push(format!("{} has no {}", g.user, g.right)),
                }
            }
        }
    } else {
        let Some(g) = graph_group(c, &r.address).await? else {
            return Ok(checked(r, Found::Missing));
        };
        found_kind = graph_group_kind(&g).map_or("group without mail".into(), |k| k.to_string());
        aliases = graph_aliases(&g);
        let members: Vec<String> = graph_members(c, g["id"].as_str().unwrap_or_default())
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        let lacking = missing(&r.members, &members);
        if !lacking.is_empty() {
            differs.push(format!("members missing: {}", lacking.join(", ")));
        }
        // Graph's /owners are a Microsoft 365 group's owners; a list's ManagedBy is
        // Exchange's (not verified here, said so below).
        if !r.owners.is_empty() && r.kind == RecipientKind::M365Group {
            let owners: Vec<String> =
                graph_links(c, g["id"].as_str().unwrap_or_default(), "owners")
                    .await?
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect();
            let lacking = missing(&r.owners, &owners);
            if !lacking.is_empty() {
                differs.push(format!("owners missing: {}", lacking.join(", ")));
            }
        }
    }
    if found_kind != r.kind.as_str() {
        differs.insert(0, format!("is a {found_kind}, not a {}", r.kind));
    }
    let lacking = missing(&r.aliases, &aliases);
    if !lacking.is_empty() {
        differs.push(format!("aliases missing: {}", lacking.join(", ")));
    }
    let mut c = checked(
        r,
        if differs.is_empty() {
            Found::Present
        } else {
            Found::Differs(differs.join("; "))
        },
    );
    if !r.owners.is_empty() && r.kind != RecipientKind::M365Group {
        c.unverified
            .push(format!("owners (ManagedBy) {}", r.owners.join(", ")));
    }
    Ok(c)
}

async fn google_check(d: &GoogleDirectory, r: &Recipient) -> Result<Checked, RecipientsError> {
    if r.kind.is_mailbox() {
        // Google has no shared mailboxes: the address must be a user (read through users).
        let (status, _) = d
            .call("read user", Method::GET, &["users", &r.address], &[], None)
            .await?;
        let mut c = checked(
            r,
            if status.is_success() {
                Found::Present
            } else {
                Found::Missing
            },
        );
        // Nothing of a mailbox's rights is readable through the Directory API.
        c.unverified = r
            .access
            .iter()
            .map(|g| format!("{} {}", g.user, g.right))
            .collect();
        if r.kind != RecipientKind::User {
            c.unverified
                .push(format!("type {} (Google has none)", r.kind));
        }
        return Ok(c);
    }
    if google_group(d, &r.address).await?.is_none() {
        return Ok(checked(r, Found::Missing));
    }
    let mut lacking = Vec::new();
    for m in &r.members {
        if !google_member(d, &r.address, m).await? {
            lacking.push(m.as_str());
        }
    }
    let mut differs = Vec::new();
    if !lacking.is_empty() {
        differs.push(format!("members missing: {}", lacking.join(", ")));
    }
    let mut not_owner = Vec::new();
    for m in &r.owners {
        if google_member_role(d, &r.address, m).await?.as_deref() != Some("OWNER") {
            not_owner.push(m.as_str());
        }
    }
    if !not_owner.is_empty() {
        differs.push(format!("owners missing: {}", not_owner.join(", ")));
    }
    let mut c = checked(
        r,
        if differs.is_empty() {
            Found::Present
        } else {
            Found::Differs(differs.join("; "))
        },
    );
    if !r.aliases.is_empty() {
        c.unverified.push("aliases".into());
    }
    Ok(c)
}

fn checked(r: &Recipient, found: Found) -> Checked {
    Checked {
        address: r.address.clone(),
        kind: r.kind.to_string(),
        found,
        unverified: unverified(r),
    }
}
