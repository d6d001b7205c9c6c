//! Listing a folder's messages (ids mapped to the journal's UIDs, cutover's properties read
//! back, its unfinished creations removed) and downloading a message's MIME export.

use reqwest::{Method, StatusCode};

use super::connector::GraphSession;
use super::types::{BUILDING_PROP, FINGERPRINT_PROP, Item, PAGE, SIZE_PROP, Selected};
use super::wire::{enc, failure, parse_date};
use crate::endpoint::bounded;
use crate::endpoint::types::{EndpointError, FolderState, Result};

impl GraphSession {
    /// List a folder's messages, map their ids to UIDs and keep the listing.
    pub(super) async fn select(&mut self, wire: &str, op: &str) -> Result<FolderState> {
        let id = self.need_folder(wire, op).await?;
        let url = self.url(&format!(
            "/mailFolders/{}/messages?$top={PAGE}&$select=id,isRead,isDraft,flag,receivedDateTime&$expand={}",
            enc(&id),
            enc(&format!(
                "singleValueExtendedProperties($filter=id eq '{FINGERPRINT_PROP}' or id eq '{SIZE_PROP}' or id eq '{BUILDING_PROP}')"
            ))
        ));
        let raw = match self.get_all(op, &url).await {
            Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {
                self.folders = None;
                return Err(EndpointError::NoFolder {
                    op: op.into(),
                    folder: wire.into(),
                    server: None,
                });
            }
            r => r?,
        };
        let mut items: Vec<Item> = Vec::with_capacity(raw.len());
        for v in &raw {
            let Some(mid) = v["id"].as_str() else {
                continue;
            };
            let mut size = None;
            let mut fp = None;
            let mut building = false;
            for p in v["singleValueExtendedProperties"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let pid = p["id"].as_str().unwrap_or("");
                let val = p["value"].as_str().unwrap_or("");
                if pid.eq_ignore_ascii_case(FINGERPRINT_PROP) {
                    let mut it = val.split_whitespace();
                    if let (Some(f), Some(s)) = (it.next(), it.next().and_then(|s| s.parse().ok()))
                    {
                        fp = Some((f.to_string(), s));
                    }
                } else if pid.eq_ignore_ascii_case(SIZE_PROP) {
                    size = val.parse::<u64>().ok();
                } else if pid.eq_ignore_ascii_case(BUILDING_PROP) {
                    building = true;
                }
            }
            let mut flags = Vec::new();
            if v["isRead"].as_bool() == Some(true) {
                flags.push("\\Seen".to_string());
            }
            if v["flag"]["flagStatus"].as_str() == Some("flagged") {
                flags.push("\\Flagged".to_string());
            }
            if v["isDraft"].as_bool() == Some(true) {
                flags.push("\\Draft".to_string());
            }
            items.push(Item {
                uid: 0,
                id: mid.to_string(),
                size: fp.as_ref().map(|f| f.1).or(size).unwrap_or(0),
                unfinished: building && fp.is_none(),
                fingerprint: fp.map(|f| f.0),
                flags,
                received: parse_date(&v["receivedDateTime"]),
            });
        }
        // First-seen order for ids never seen: oldest first, so UIDs grow with time.
        items.sort_by(|a, b| a.received.cmp(&b.received).then(a.id.cmp(&b.id)));
        // Paging by $skip while mail arrives can list one message on two pages: once each.
        let mut listed = std::collections::HashSet::new();
        items.retain(|i| listed.insert(i.id.clone()));
        // cutover's own unfinished JSON creations (a run killed while adding attachments):
        // never the copy of anything; removed (the message is sent again whole).
        let unfinished: Vec<String> = items
            .iter()
            .filter(|i| i.unfinished)
            .map(|i| i.id.clone())
            .collect();
        items.retain(|i| !i.unfinished);
        if self.c.side == "destination" {
            for id in unfinished {
                let gone = self
                    .call(
                        "remove unfinished message",
                        Method::POST,
                        &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                        None,
                    )
                    .await;
                if gone.is_ok() {
                    tracing::info!(mailbox = %self.upn, folder = wire, "removed a message an interrupted run left without its attachments");
                }
            }
        }
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, wire, &ids)
            .map_err(|e| self.store_err(e))?;
        for (i, u) in items.iter_mut().zip(uids) {
            i.uid = u;
        }
        items.sort_by_key(|i| i.uid);
        let (uidvalidity, uidnext) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, wire)
            .map_err(|e| self.store_err(e))?;
        let exists = items.len() as u32;
        self.selected = Some(Selected {
            wire: wire.to_string(),
            items,
        });
        Ok(FolderState {
            uidvalidity,
            uidnext,
            exists,
        })
    }

    pub(super) fn chosen(&self, uids: &[u32], from_uid: u32) -> Vec<Item> {
        let Some(sel) = &self.selected else {
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

    /// A message's MIME export; None when it is gone.
    pub(super) async fn mime(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let op = "download message";
        let url = self.url(&format!("/messages/{}/$value", enc(id)));
        let r = self
            .c
            .send(&self.upn, op, 0, true, || self.c.http.get(&url))
            .await?;
        let status = r.status;
        let resp = r.resp;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = bounded::error_body(resp).await;
            return Err(failure(&self.upn, op, status, &body));
        }
        let cap = bounded::message_cap(self.c.cfg.max_message_size);
        let out = bounded::http_body(resp, cap.try_into().unwrap_or(usize::MAX), "a message")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        Ok(Some(out))
    }
}
