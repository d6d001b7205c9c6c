//! The folder tree: the displayName hierarchy joined with '/' (the well-known Inbox as
//! `INBOX`), cached per session, and the removal of parent folders cutover created.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Value;

use super::connector::GraphSession;
use super::types::{CREATED_PARENTS, WELL_KNOWN};
use super::wire::enc;
use crate::endpoint::types::{EndpointError, Folder, Result, SpecialUse};
use crate::mail::utf7::encode_mutf7;

impl GraphSession {
    /// The folder tree (cached until a folder is created, renamed or deleted).
    pub(super) async fn folder_list(&mut self) -> Result<&[(Folder, String)]> {
        if self.folders.is_none() {
            let mut roles: HashMap<String, (&str, Option<SpecialUse>)> = HashMap::new();
            for (name, role) in WELL_KNOWN {
                match self
                    .get_json(
                        "list folders",
                        &self.url(&format!("/mailFolders/{name}?$select=id")),
                    )
                    .await
                {
                    Ok(v) => {
                        if let Some(id) = v["id"].as_str() {
                            roles.insert(id.to_string(), (name, *role));
                        }
                    }
                    // A mailbox without an archive folder, for one.
                    Err(EndpointError::No { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let mut out = Vec::new();
            let mut todo: Vec<(Vec<String>, String)> = Vec::new();
            let top = self
                .get_all(
                    "list folders",
                    &self.url("/mailFolders?$top=250&$select=id,displayName,childFolderCount"),
                )
                .await?;
            let mut level: Vec<(Vec<String>, Value)> =
                top.into_iter().map(|v| (Vec::new(), v)).collect();
            loop {
                for (parent, v) in level.drain(..) {
                    let Some(id) = v["id"].as_str() else { continue };
                    let name = v["displayName"].as_str().unwrap_or("").to_string();
                    let role = roles.get(id).copied();
                    let mut path = parent.clone();
                    if role.is_some_and(|r| r.0 == "inbox") && parent.is_empty() {
                        path.push("INBOX".into());
                    } else {
                        path.push(name);
                    }
                    if v["childFolderCount"].as_u64().unwrap_or(1) > 0 {
                        todo.push((path.clone(), id.to_string()));
                    }
                    out.push((
                        Folder {
                            // Modified UTF-7, as the folder mapping encodes destination names.
                            wire_name: encode_mutf7(&path.join("/")),
                            path,
                            delimiter: Some('/'),
                            special: role.and_then(|r| r.1),
                            selectable: true,
                        },
                        id.to_string(),
                    ));
                }
                let Some((path, id)) = todo.pop() else { break };
                let kids = self
                    .get_all(
                        "list folders",
                        &self.url(&format!(
                            "/mailFolders/{}/childFolders?$top=250&$select=id,displayName,childFolderCount",
                            enc(&id)
                        )),
                    )
                    .await?;
                level = kids.into_iter().map(|v| (path.clone(), v)).collect();
            }
            out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
            self.folders = Some(out);
        }
        Ok(self.folders.as_deref().unwrap_or_default())
    }

    pub(super) async fn folder_id(&mut self, wire: &str) -> Result<Option<String>> {
        let want = if wire.eq_ignore_ascii_case("INBOX") {
            "INBOX"
        } else {
            wire
        };
        Ok(self
            .folder_list()
            .await?
            .iter()
            .find(|(f, _)| f.wire_name == want)
            .map(|(_, id)| id.clone()))
    }

    pub(super) async fn need_folder(&mut self, wire: &str, op: &str) -> Result<String> {
        if let Some(id) = self.folder_id(wire).await? {
            return Ok(id);
        }
        // Listed a while ago: look again before saying it does not exist.
        self.folders = None;
        self.folder_id(wire)
            .await?
            .ok_or_else(|| EndpointError::NoFolder {
                op: op.into(),
                folder: wire.into(),
                server: None,
            })
    }

    /// After a folder was deleted: remove the parents cutover created implicitly for it,
    /// deepest first, while they hold no message and no other folder.
    pub(super) async fn delete_created_parents(&mut self, folder: &str) -> Result<()> {
        let (_, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, CREATED_PARENTS)
            .map_err(|e| self.store_err(e))?;
        let all: Vec<u32> = (1..next).collect();
        let created: Vec<String> = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, CREATED_PARENTS, &all)
            .map_err(|e| self.store_err(e))?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let mut path = folder;
        while let Some((parent, _)) = path.rsplit_once('/') {
            path = parent;
            if !created.iter().any(|c| c == parent) {
                break;
            }
            let listed = self.folder_list().await?;
            let Some(id) = listed
                .iter()
                .find(|(f, _)| f.wire_name == parent)
                .map(|(_, id)| id.clone())
            else {
                continue;
            };
            let prefix = format!("{parent}/");
            if listed.iter().any(|(f, _)| f.wire_name.starts_with(&prefix)) {
                break;
            }
            let v = self
                .get_json(
                    "delete folder",
                    &self.url(&format!("/mailFolders/{}?$select=totalItemCount", enc(&id))),
                )
                .await?;
            if v["totalItemCount"].as_u64() != Some(0) {
                break;
            }
            self.call(
                "delete folder",
                Method::DELETE,
                &self.url(&format!("/mailFolders/{}", enc(&id))),
                None,
            )
            .await?;
            tracing::info!(mailbox = %self.upn, folder = parent, "rollback: parent folder cutover created removed");
            self.folders = None;
        }
        Ok(())
    }
}
