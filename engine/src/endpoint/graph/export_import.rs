//! Microsoft 365 to Microsoft 365 at full fidelity (`graph_import = "export-import"`): the
//! mailbox import/export API of Microsoft Graph.
//!
//! - The mailbox: `GET /users/{upn}/settings/exchange` gives `primaryMailboxId`; everything
//!   else is under `/v1.0/admin/exchange/mailboxes/{id}` (the API is in v1.0 and beta).
//! - Folders: `folders` and `folders/{id}/childFolders` (mailboxFolder: `displayName`,
//!   `type` = the folder class). Mail folders (`IPF.Note`) take the names the normal listing
//!   gives them (`INBOX`, special use), the calendars (`IPF.Appointment`) and contact folders
//!   (`IPF.Contact`) the `calendar:ID` / `contacts:ID` names of the JSON path, so that the
//!   folder mapping, verification and rollback see the same folders on every path. Other
//!   classes (tasks, notes) are not listed.
//! - Items: `folders/{id}/items` (mailboxItem: `type` = message class, `categories`, `size`),
//!   with PR_SEARCH_KEY and PR_SUBJECT as extended properties: the summary
//!   ([`crate::item::opaque::Summary`]) that identifies an item on both sides.
//! - Export (source): `exportItems`, at most 20 ids a request; each item's `data` is an
//!   opaque stream, carried untouched (base64) to the destination.
//! - Import (destination): `createImportSession` gives an `importUrl` that carries its own
//!   credential (it is never logged, printed or put in an error, and is sent without the
//!   bearer token); each item is one POST of `{FolderId, Mode: "create", Data}`.
//!
//! There is no idempotency key: an import whose answer was lost (a 503/504 or a broken
//! connection after the POST) is not sent again by this session; the engine holds it in
//! doubt and, before anything is sent again, looks for it on the destination by its summary
//! (the search key the import keeps), as on every other path.
//!
//! Microsoft documents importing "into the same mailbox or a different one", not into another
//! tenant: a refusal of the import session or of an import is reported as an authorization
//! error naming the mailbox and what to do, and the mailbox stops there.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::connector::GraphSession;
use super::types::{
    EXPORT_ANSWER_BUDGET, EXPORT_BATCH, ImportSession, PAGE, SEARCH_KEY_PROP, SUBJECT_PROP, XItem,
    XSel,
};
use super::wire::{enc, error_text, read_only};
use crate::config::GraphImport;
use crate::endpoint::bounded;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, EndpointError, Fingerprinted, Folder, FolderState, Message, MessageMeta, Result,
};
use crate::item::opaque::{self, Summary};

/// What to do when the destination refuses an import (cross-tenant included).
const REFUSED_HELP: &str = "Microsoft documents importing exported items into the same mailbox or another one, not into another tenant: cross-tenant export-import is unverified until tried on two real tenants. Check that the destination app has MailboxItem.ImportExport.All (the source app MailboxItem.Export.All) with admin consent and the mailbox in its scope; if the destination still refuses, set destination.graph_import = \"mime\" (or \"json\") and run again";

impl GraphSession {
    /// Whether this side moves items by export and import.
    pub(super) fn xport_mode(&self) -> bool {
        self.c.cfg.graph_import == GraphImport::ExportImport
    }

    fn admin(&self, mbx: &str, rest: &str) -> String {
        format!(
            "{}/v1.0/admin/exchange/mailboxes/{}{rest}",
            self.c.base,
            enc(mbx)
        )
    }

    /// The user's primary mailbox id.
    async fn mailbox_id(&mut self) -> Result<String> {
        if let Some(m) = &self.xport.mailbox {
            return Ok(m.clone());
        }
        let v = self
            .get_json("find the mailbox", &self.url("/settings/exchange"))
            .await?;
        let Some(id) = v["primaryMailboxId"].as_str().filter(|s| !s.is_empty()) else {
            return Err(EndpointError::Protocol {
                op: "find the mailbox".into(),
                message: format!("Graph gave no primaryMailboxId for {}", self.upn),
            });
        };
        self.xport.mailbox = Some(id.to_string());
        Ok(id.to_string())
    }

    /// The mailbox's folders that carry mail, events or contacts, named as on the JSON path.
    pub(super) async fn x_folders(&mut self) -> Result<Vec<(Folder, String)>> {
        if let Some(f) = &self.xport.folders {
            return Ok(f.clone());
        }
        let mbx = self.mailbox_id().await?;
        // (mailbox folder, display path) breadth first.
        let mut listed: Vec<(Value, Vec<String>)> = Vec::new();
        let mut queue: Vec<(String, Vec<String>)> = vec![(
            self.admin(&mbx, &format!("/folders?$top={PAGE}")),
            Vec::new(),
        )];
        while let Some((url, parent)) = queue.pop() {
            for v in self.get_all("list mailbox folders", &url).await? {
                let (Some(id), Some(name)) = (v["id"].as_str(), v["displayName"].as_str()) else {
                    continue;
                };
                let mut path = parent.clone();
                path.push(name.to_string());
                if v["childFolderCount"].as_u64().unwrap_or(0) > 0 {
                    queue.push((
                        self.admin(
                            &mbx,
                            &format!("/folders/{}/childFolders?$top={PAGE}", enc(id)),
                        ),
                        path.clone(),
                    ));
                }
                listed.push((v, path));
            }
        }
        // The normal listings name the folders (and say which mail folder has which role);
        // a mailbox folder is matched to one by id, else by its place and name.
        let (mail, inbox) = if self.c.items.mail {
            let inbox = self
                .get_json(
                    "list folders",
                    &self.url("/mailFolders/inbox?$select=id,displayName"),
                )
                .await?["displayName"]
                .as_str()
                .unwrap_or("Inbox")
                .to_string();
            (self.folder_list().await?.to_vec(), inbox)
        } else {
            (Vec::new(), String::new())
        };
        let cals = if self.c.items.calendar {
            self.calendars().await?
        } else {
            Vec::new()
        };
        let books: Vec<(Folder, String)> = if self.c.items.contacts {
            self.contact_folders()
                .await?
                .into_iter()
                .map(|(f, id)| (f, id.unwrap_or_default()))
                .collect()
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        for (v, mut path) in listed {
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let class = v["type"].as_str().unwrap_or("IPF.Note");
            let by = |list: &[(Folder, String)], same: &dyn Fn(&Folder) -> bool| {
                list.iter()
                    .find(|(_, i)| *i == id)
                    .or_else(|| list.iter().find(|(f, _)| same(f)))
                    .map(|(f, _)| f.clone())
            };
            let found = if class.starts_with("IPF.Appointment") {
                // The calendars' listing names them "Calendar/<name>".
                by(&cals, &|f: &Folder| {
                    path.len() == 1 && f.path.last() == path.last()
                })
            } else if class.starts_with("IPF.Contact") {
                by(&books, &|f: &Folder| {
                    path.len() == 1 && f.path.last() == path.last()
                })
            } else if class.starts_with("IPF.Note") || class == "IPF" {
                if path.first() == Some(&inbox) {
                    path[0] = "INBOX".into();
                }
                by(&mail, &|f: &Folder| f.path == path)
            } else {
                None
            };
            if let Some(f) = found {
                out.push((f, id));
            }
        }
        out.sort_by(|a, b| a.0.wire_name.cmp(&b.0.wire_name));
        out.dedup_by(|a, b| a.0.wire_name == b.0.wire_name);
        self.xport.folders = Some(out.clone());
        Ok(out)
    }

    async fn x_folder_id(&mut self, folder: &str, op: &str) -> Result<String> {
        let found = self
            .x_folders()
            .await?
            .into_iter()
            .find(|(f, _)| f.wire_name == folder);
        match found {
            Some((_, id)) => Ok(id),
            None => {
                self.xport.folders = None;
                Err(EndpointError::NoFolder {
                    op: op.into(),
                    folder: folder.into(),
                    server: None,
                })
            }
        }
    }

    /// List a folder's items with their summaries, map their ids to UIDs and keep them.
    pub(super) async fn x_select(&mut self, folder: &str, op: &str) -> Result<FolderState> {
        let fid = self.x_folder_id(folder, op).await?;
        let mbx = self.mailbox_id().await?;
        let url = self.admin(
            &mbx,
            &format!(
                "/folders/{}/items?$top={PAGE}&$expand={}",
                enc(&fid),
                enc(&format!(
                    "singleValueExtendedProperties($filter=id eq '{SEARCH_KEY_PROP}' or id eq '{SUBJECT_PROP}')"
                ))
            ),
        );
        let raw = self.get_all(op, &url).await?;
        let mut items: Vec<(XItem, String)> = Vec::with_capacity(raw.len());
        for v in &raw {
            let Some(id) = v["id"].as_str() else { continue };
            let summary = summary_of(v, id);
            items.push((
                XItem {
                    uid: 0,
                    id: id.to_string(),
                    size: v["size"].as_u64().unwrap_or(0),
                    summary,
                },
                v["createdDateTime"].as_str().unwrap_or("").to_string(),
            ));
        }
        // First-seen order for ids never seen: oldest first.
        items.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.id.cmp(&b.0.id)));
        let mut seen = std::collections::HashSet::new();
        items.retain(|i| seen.insert(i.0.id.clone()));
        let mut items: Vec<XItem> = items.into_iter().map(|i| i.0).collect();
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, folder, &ids)
            .map_err(|e| self.store_err(e))?;
        for (i, u) in items.iter_mut().zip(uids) {
            i.uid = u;
        }
        items.sort_by_key(|i| i.uid);
        let (uidvalidity, uidnext) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        let exists = items.len() as u32;
        self.xport.selected = Some(XSel {
            folder: folder.to_string(),
            fid,
            items,
        });
        Ok(FolderState {
            uidvalidity,
            uidnext,
            exists,
        })
    }

    fn x_chosen(&self, uids: &[u32], from_uid: u32) -> Vec<XItem> {
        let Some(sel) = &self.xport.selected else {
            return Vec::new();
        };
        let mut want = uids.to_vec();
        want.sort_unstable();
        sel.items
            .iter()
            .filter(|i| {
                if want.is_empty() {
                    i.uid >= from_uid
                } else {
                    want.binary_search(&i.uid).is_ok()
                }
            })
            .cloned()
            .collect()
    }

    pub(super) async fn x_fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let Some(folder) = self.xport.selected.as_ref().map(|s| s.folder.clone()) else {
            return Ok(Vec::new());
        };
        self.x_select(&folder, "list items").await?;
        Ok(self
            .x_chosen(&[], from_uid)
            .into_iter()
            .map(|i| MessageMeta {
                uid: i.uid,
                size: i.size,
            })
            .collect())
    }

    pub(super) fn x_fingerprints(&self, uids: &[u32], from_uid: u32) -> Vec<Fingerprinted> {
        self.x_chosen(uids, from_uid)
            .into_iter()
            .map(|i| Fingerprinted {
                uid: i.uid,
                size: i.size,
                fingerprint: i.summary.fingerprint(),
                flags: Vec::new(),
                internal_date: None,
            })
            .collect()
    }

    /// Export the chosen items, 20 a request, into `sink` in UID order.
    pub(super) async fn x_fetch(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        let items = self.x_chosen(uids, 0);
        if items.is_empty() {
            return Ok(());
        }
        let mbx = self.mailbox_id().await?;
        let url = self.admin(&mbx, "/exportItems");
        let one_item = bounded::message_cap(self.c.cfg.max_message_size);
        for chunk in batches(&items, EXPORT_ANSWER_BUDGET) {
            let ids: Vec<&str> = chunk.iter().map(|i| i.id.as_str()).collect();
            // The answer carries the items' streams in base64: room for what they weigh.
            let weight: u64 = chunk.iter().map(|i| i.size).sum();
            let cap = (weight.max(one_item) / 3 * 4 + (1 << 20)).max(bounded::JSON_CAP as u64);
            let v = self.export(&url, &ids, cap).await?;
            let answers = v["value"].as_array().cloned().unwrap_or_default();
            for i in chunk {
                let Some(a) = answers
                    .iter()
                    .find(|a| a["itemId"].as_str() == Some(i.id.as_str()))
                else {
                    // Gone since the listing: absent, as on every path.
                    continue;
                };
                if !a["error"].is_null() {
                    let code = a["error"]["code"].as_str().unwrap_or("error");
                    if code.contains("NotFound") {
                        continue;
                    }
                    return Err(EndpointError::Protocol {
                        op: "export items".into(),
                        message: format!(
                            "Graph did not export item {} ({}) of {}: {code}: {}",
                            i.uid,
                            i.summary.subject,
                            self.upn,
                            a["error"]["message"].as_str().unwrap_or("")
                        ),
                    });
                }
                let Some(data) = a["data"].as_str() else {
                    return Err(EndpointError::Protocol {
                        op: "export items".into(),
                        message: format!(
                            "Graph exported item {} of {} without data",
                            i.uid, self.upn
                        ),
                    });
                };
                let m = Message::item(i.uid, opaque::wrap(&i.summary, data));
                if !sink.send(m).await {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One `exportItems` request; its answer read within `cap` bytes.
    async fn export(&self, url: &str, ids: &[&str], cap: u64) -> Result<Value> {
        let op = "export items";
        let body = serde_json::to_vec(&json!({ "itemIds": ids })).unwrap_or_default();
        let r = self
            .c
            .send(&self.upn, op, body.len() as u64, true, || {
                self.c
                    .http
                    .post(url)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
            })
            .await?;
        let status = r.status;
        let answer = bounded::http_body(
            r.resp,
            cap.try_into().unwrap_or(usize::MAX),
            "an export answer",
        )
        .await
        .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        if !status.is_success() {
            return Err(super::wire::failure(&self.upn, op, status, &answer));
        }
        serde_json::from_slice(&answer).map_err(|e| EndpointError::Protocol {
            op: op.into(),
            message: format!("unreadable JSON from Graph for {}: {e}", self.upn),
        })
    }

    /// The import URL of this mailbox, created (again) when there is none or it expires.
    async fn import_url(&mut self) -> Result<String> {
        if let Some(s) = &self.xport.import
            && Utc::now() < s.renew_at
        {
            return Ok(s.url.clone());
        }
        let mbx = self.mailbox_id().await?;
        let r = self
            .call(
                "create import session",
                Method::POST,
                &self.admin(&mbx, "/createImportSession"),
                None,
            )
            .await;
        let v = match r {
            Ok((_, v)) => v,
            Err(EndpointError::Auth { message, .. }) => {
                return Err(self.refused(&message));
            }
            Err(e) => return Err(e),
        };
        let Some(url) = v["importUrl"].as_str().filter(|u| !u.is_empty()) else {
            return Err(EndpointError::Protocol {
                op: "create import session".into(),
                message: format!("Graph gave no importUrl for {}", self.upn),
            });
        };
        let expires = v["expirationDateTime"]
            .as_str()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(10));
        self.xport.import = Some(ImportSession {
            url: url.to_string(),
            renew_at: expires - chrono::Duration::minutes(2),
        });
        Ok(url.to_string())
    }

    fn refused(&self, why: &str) -> EndpointError {
        EndpointError::Auth {
            user: self.upn.clone(),
            message: format!(
                "the destination mailbox refused the import of an item exported from the source ({why}). {REFUSED_HELP}"
            ),
        }
    }

    /// Import carried items into `folder`; one outcome per item.
    pub(super) async fn x_append(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        if self.c.side == "source" {
            return Err(read_only("import"));
        }
        let fid = self.x_folder_id(folder, "import").await?;
        let mut out = Vec::with_capacity(msgs.len());
        let mut stop: Option<String> = None;
        for m in msgs {
            let Some(c) = opaque::parse(m.body.bytes()) else {
                out.push(AppendOutcome::Refused {
                    reason: "graph_import = \"export-import\" imports only items exported from a Microsoft 365 source; this one was not (check the source endpoint)".into(),
                });
                continue;
            };
            if let Some(why) = &stop {
                out.push(AppendOutcome::Failed {
                    error: EndpointError::No {
                        op: "import".into(),
                        message: format!("not attempted: {why}"),
                    },
                });
                continue;
            }
            let body = json!({"FolderId": fid, "Mode": "create", "Data": c.data});
            match self.import_one(&body).await {
                Ok(id) => out.push(self.allocate(folder, &id)?),
                // This item alone (its stream refused): the rest goes on.
                Err(EndpointError::No { message, .. }) => out.push(AppendOutcome::Refused {
                    reason: format!("Exchange refused to import the item: {message}"),
                }),
                // The mailbox or folder cannot take more now: the rest waits.
                Err(
                    e @ (EndpointError::OverQuota { .. }
                    | EndpointError::NoFolder { .. }
                    | EndpointError::Throttled { .. }
                    | EndpointError::Auth { .. }),
                ) => {
                    stop = Some(e.to_string());
                    out.push(AppendOutcome::Failed { error: e });
                }
                // Sent, answer lost: in doubt (found again before anything is re-sent).
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One POST to the import URL; the new item's id. A lost answer is an error (in doubt).
    async fn import_one(&mut self, body: &Value) -> Result<String> {
        let op = "import item";
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut renewed = false;
        loop {
            let url = self.import_url().await?;
            let r = self
                .c
                .send(&self.upn, op, bytes.len() as u64, false, || {
                    self.c
                        .http
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .body(bytes.clone())
                })
                .await?;
            let status = r.status;
            let answer = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
                .await
                .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
            if status.is_success() {
                let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                return match v["itemId"].as_str() {
                    Some(id) => Ok(id.to_string()),
                    // Imported, but which item it became is not known: in doubt.
                    None => Err(EndpointError::ConnectionLost {
                        op: format!("{op} for {}: the answer named no itemId", self.upn),
                    }),
                };
            }
            let (code, message) = error_text(&answer);
            let message = scrub(&message, &url);
            // The session's credential expired (a long run): once more with a new session.
            if status.as_u16() == 401 && !renewed {
                self.xport.import = None;
                renewed = true;
                continue;
            }
            if matches!(status.as_u16(), 401 | 403) {
                return Err(self.refused(&format!("HTTP {} {code}: {message}", status.as_u16())));
            }
            if status.as_u16() == 507 || code.to_ascii_lowercase().contains("quota") {
                return Err(EndpointError::OverQuota {
                    op: op.into(),
                    message: format!("{code}: {message} (mailbox {})", self.upn),
                });
            }
            if status.as_u16() == 404 {
                self.xport.folders = None;
                return Err(EndpointError::NoFolder {
                    op: op.into(),
                    folder: body["FolderId"].as_str().unwrap_or("").into(),
                    server: None,
                });
            }
            return Err(EndpointError::No {
                op: op.into(),
                message: format!(
                    "HTTP {} {code}: {message} (mailbox {})",
                    status.as_u16(),
                    self.upn
                ),
            });
        }
    }

    /// Remove items from the folder opened (rollback).
    pub(super) async fn x_expunge(&mut self, uids: &[u32]) -> Result<()> {
        let Some((folder, fid)) = self
            .xport
            .selected
            .as_ref()
            .map(|s| (s.folder.clone(), s.fid.clone()))
        else {
            return Ok(());
        };
        let mbx = self.mailbox_id().await?;
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &folder, uids)
            .map_err(|e| self.store_err(e))?;
        for (_, id) in refs {
            let url = self.admin(
                &mbx,
                &format!(
                    "/folders/{}/items/{}?disposalType=hardDelete",
                    enc(&fid),
                    enc(&id)
                ),
            );
            match self.call("delete item", Method::DELETE, &url, None).await {
                Ok(_) => {}
                Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Export requests: at most 20 items each (Graph's limit) and, past the first item, no more
/// than `budget` listed bytes, so that an answer of big items stays bounded (a big item goes
/// alone).
fn batches(items: &[XItem], budget: u64) -> Vec<&[XItem]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut weight = 0u64;
    for (n, i) in items.iter().enumerate() {
        let full = n - start == EXPORT_BATCH || (n > start && weight + i.size > budget);
        if full {
            out.push(&items[start..n]);
            start = n;
            weight = 0;
        }
        weight += i.size;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// The summary of a listed mailbox item.
fn summary_of(v: &Value, id: &str) -> Summary {
    let prop = |pid: &str| -> Option<String> {
        v["singleValueExtendedProperties"]
            .as_array()?
            .iter()
            .find(|p| {
                p["id"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(pid))
            })
            .and_then(|p| p["value"].as_str())
            .map(str::to_string)
    };
    Summary {
        class: v["type"].as_str().unwrap_or("").to_string(),
        // An item without a search key (none is known) is known by its id: it never
        // matches another mailbox's item, so it is never taken for a copy.
        key: prop(SEARCH_KEY_PROP).unwrap_or_else(|| format!("id:{id}")),
        subject: prop(SUBJECT_PROP).unwrap_or_default(),
        categories: v["categories"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// An error text without the import URL or its token.
fn scrub(message: &str, url: &str) -> String {
    let mut m = message.replace(url, "<import URL>");
    if let Some(q) = url.split_once('?').map(|(_, q)| q) {
        m = m.replace(q, "<credential>");
    }
    if m.to_ascii_lowercase().contains("authtoken") {
        return "(the answer quoted the import URL's credential; left out)".into();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_text_never_carries_the_import_url() {
        let url = "https://outlook.office365.com/api/gbeta/Mailboxes('MBX:a@b')/importItem?authtoken=eyJSECRET";
        let m = scrub(&format!("bad request to {url}"), url);
        assert!(!m.contains("eyJSECRET"), "{m}");
        let m = scrub("token authtoken=eyJSECRET was refused", url);
        assert!(!m.contains("eyJSECRET"), "{m}");
        assert_eq!(scrub("Access is denied.", url), "Access is denied.");
    }

    #[test]
    fn exports_are_at_most_20_items_and_big_items_go_alone() {
        let item = |size: u64| XItem {
            uid: 1,
            id: "x".into(),
            size,
            summary: Summary::default(),
        };
        let small: Vec<XItem> = (0..45).map(|_| item(1000)).collect();
        let sizes: Vec<usize> = batches(&small, 10_000_000)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [20, 20, 5]);
        let mixed = vec![
            item(4_000_000),
            item(9_000_000),
            item(1000),
            item(20_000_000),
            item(1),
        ];
        let sizes: Vec<usize> = batches(&mixed, 10_000_000)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [1, 2, 1, 1]);
        assert!(batches(&[], 10).is_empty());
    }

    #[test]
    fn a_listed_item_is_summarised_by_the_properties_the_import_keeps() {
        let v = json!({
            "id": "X1", "type": "IPM.Appointment", "categories": ["Red"],
            "singleValueExtendedProperties": [
                {"id": "Binary 0x300b", "value": "AAEC"},
                {"id": "String 0x0037", "value": "Board"}
            ]
        });
        let s = summary_of(&v, "X1");
        assert_eq!(
            (s.class.as_str(), s.key.as_str(), s.subject.as_str()),
            ("IPM.Appointment", "AAEC", "Board")
        );
        assert_eq!(summary_of(&json!({"type": "IPM.Note"}), "X2").key, "id:X2");
    }
}
