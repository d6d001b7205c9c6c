//! Rollback of `cutover recipients`: remove from the destination's directory what cutover
//! created there (journal state `created`, or `pending` when a look finds it: an unanswered
//! create), newest first, and only that: what was there already (`existed`) stays.

use reqwest::Method;

use crate::journal::Journal;

use super::apply::Target;
use super::lookup::{
    google_group, google_member, google_member_role, graph_calendar_permissions, graph_group,
    graph_object_id, permission_of,
};
use super::types::{Done, Outcome, RecipientsError, enc};

/// Remove what cutover created; each removal journalled (`removed`).
pub async fn undo(target: &Target, store: &Journal) -> Result<Vec<Outcome>, RecipientsError> {
    let api = target.api();
    let mut changes: Vec<_> = store
        .recipient_changes()?
        .into_iter()
        .filter(|c| c.api == api && matches!(c.state.as_str(), "created" | "pending"))
        .collect();
    changes.reverse();
    let mut out = Vec::new();
    for ch in changes {
        let what = if ch.target.is_empty() {
            format!("{} {}", ch.what, ch.address)
        } else {
            format!("{} {} of {}", ch.what, ch.target, ch.address)
        };
        let removed = match target {
            Target::Graph(c) => match ch.what.as_str() {
                "group" => {
                    let id = match (&ch.remote_id, ch.state.as_str()) {
                        (Some(id), "created") if !id.is_empty() => Some(id.clone()),
                        _ => graph_group(c, &ch.address)
                            .await?
                            .and_then(|g| g["id"].as_str().map(str::to_string)),
                    };
                    match id {
                        Some(id) => {
                            c.directory_call(
                                "delete group",
                                Method::DELETE,
                                &format!("/groups/{}", enc(&id)),
                                None,
                            )
                            .await?;
                            true
                        }
                        None => false,
                    }
                }
                "member" | "owner" => {
                    let gid = match &ch.parent_id {
                        Some(g) => Some(g.clone()),
                        None => graph_group(c, &ch.address)
                            .await?
                            .and_then(|g| g["id"].as_str().map(str::to_string)),
                    };
                    let uid = match &ch.remote_id {
                        Some(u) => Some(u.clone()),
                        None => graph_object_id(c, &ch.target).await?,
                    };
                    match (gid, uid) {
                        (Some(g), Some(u)) => {
                            c.directory_call(
                                &format!("remove group {}", ch.what),
                                Method::DELETE,
                                &format!("/groups/{}/{}s/{}/$ref", enc(&g), ch.what, enc(&u)),
                                None,
                            )
                            .await?;
                            true
                        }
                        _ => false,
                    }
                }
                _ => {
                    let perms = graph_calendar_permissions(c, &ch.address)
                        .await?
                        .unwrap_or_default();
                    match permission_of(&perms, &ch.target).and_then(|p| p["id"].as_str()) {
                        Some(id) => {
                            c.directory_call(
                                "remove calendar permission",
                                Method::DELETE,
                                &format!(
                                    "/users/{}/calendar/calendarPermissions/{}",
                                    enc(&ch.address),
                                    enc(id)
                                ),
                                None,
                            )
                            .await?;
                            true
                        }
                        None => false,
                    }
                }
            },
            Target::Google(d) => match ch.what.as_str() {
                "group" => {
                    let there = google_group(d, &ch.address).await?.is_some();
                    if there {
                        d.call(
                            "delete group",
                            Method::DELETE,
                            &["groups", &ch.address],
                            &[],
                            None,
                        )
                        .await?;
                    }
                    there
                }
                // A member's role made OWNER: given back the role MEMBER.
                "owner" if ch.remote_id.as_deref() == Some("role") => {
                    let role = google_member_role(d, &ch.address, &ch.target).await?;
                    let owner = role.as_deref() == Some("OWNER");
                    if owner {
                        d.call(
                            "give back the role MEMBER",
                            Method::PATCH,
                            &["groups", &ch.address, "members", &ch.target],
                            &[],
                            Some(&serde_json::json!({"role": "MEMBER"})),
                        )
                        .await?;
                    }
                    owner
                }
                _ => {
                    let there = google_member(d, &ch.address, &ch.target).await?;
                    if there {
                        d.call(
                            "remove group member",
                            Method::DELETE,
                            &["groups", &ch.address, "members", &ch.target],
                            &[],
                            None,
                        )
                        .await?;
                    }
                    there
                }
            },
        };
        store.set_recipient_change(
            (api, &ch.what, &ch.address, &ch.target),
            "removed",
            None,
            None,
        )?;
        out.push(Outcome {
            step: format!("remove {what}"),
            done: Done::Created,
            detail: if removed {
                "removed".into()
            } else {
                "already gone".into()
            },
        });
    }
    Ok(out)
}
