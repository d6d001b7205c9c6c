//! Writing one message: through `importMime` (the exact bytes, then read state, flag and
//! fingerprint in a PATCH), or the JSON path; the journal's intent records, and the repair
//! of imports an interrupted run left without their PATCH.

use base64::Engine as _;
use reqwest::Method;
use serde_json::Value;

use super::connector::GraphSession;
use super::types::{Item, incomplete};
use super::wire::{completion, created_id, enc, failure};
use crate::config::GraphImport;
use crate::endpoint::bounded;
use crate::endpoint::types::{AppendOutcome, EndpointError, Message, Result};
use crate::mail::fingerprint::fingerprint;

impl GraphSession {
    /// Complete imports an earlier process made but could not finish (killed between the
    /// import and its PATCH): a message of the selected folder without cutover's property
    /// whose export has the fingerprint of a recorded import gets its state and property.
    /// Returns whether anything was repaired.
    pub(super) async fn repair(&mut self, folder: &str) -> Result<bool> {
        let key = incomplete(folder);
        let (_, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, &key)
            .map_err(|e| self.store_err(e))?;
        if next <= 1 {
            return Ok(false);
        }
        let all: Vec<u32> = (1..next).collect();
        let mut intents: Vec<(String, u64, bool, bool, Option<String>)> = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &key, &all)
            .map_err(|e| self.store_err(e))?
            .into_iter()
            .filter_map(|(_, r)| {
                let mut it = r.split(' ');
                Some((
                    it.next()?.to_string(),
                    it.next()?.parse().ok()?,
                    it.next()? == "1",
                    it.next()? == "1",
                    // What the message says (`mail::content`): Exchange's export is not
                    // the imported bytes, so the fingerprint alone may not find it.
                    it.next().map(str::to_string),
                ))
            })
            .collect();
        let bare: Vec<Item> = self
            .selected
            .as_ref()
            .map(|s| {
                s.items
                    .iter()
                    .filter(|i| i.fingerprint.is_none())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut repaired = 0;
        for i in bare {
            if intents.is_empty() {
                break;
            }
            let Some(bytes) = self.mime(&i.id).await? else {
                continue;
            };
            let f = fingerprint(&bytes);
            let said = crate::mail::content::digest(&bytes);
            let Some(pos) = intents
                .iter()
                .position(|x| x.0 == f || (said.is_some() && x.4 == said))
            else {
                continue;
            };
            let (fp, size, seen, flagged, _) = intents.swap_remove(pos);
            self.call(
                "complete interrupted import",
                Method::PATCH,
                &self.url(&format!("/messages/{}", enc(&i.id))),
                Some(&completion(&format!("{fp} {size}"), seen, flagged)),
            )
            .await?;
            repaired += 1;
        }
        if repaired > 0 {
            tracing::info!(mailbox = %self.upn, folder, repaired, "completed imports an interrupted run left unfinished");
        }
        self.c
            .store
            .reset_ref_folder(self.c.side, &self.upn, &key)
            .map_err(|e| self.store_err(e))?;
        Ok(repaired > 0)
    }

    pub(super) fn allocate(&self, folder: &str, id: &str) -> Result<AppendOutcome> {
        let uid = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, folder, &[id])
            .map_err(|e| self.store_err(e))?;
        let (uidvalidity, _) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(uidvalidity),
            uid: uid.first().copied(),
        })
    }

    /// Journal one message; `Err` when the outcome is unknown (the connection failed after the
    /// request was sent) or the folder/account cannot take it.
    pub(super) async fn append_one(
        &self,
        folder: &str,
        folder_id: &str,
        m: &Message,
    ) -> Result<AppendOutcome> {
        let raw = m.body.bytes();
        let fp = format!("{} {}", fingerprint(raw), raw.len());
        let b64_len = raw.len().div_ceil(3) * 4;
        let mime = self.c.cfg.graph_import == GraphImport::Mime
            && (b64_len as u64) <= self.c.limits.max_request;
        let seen = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"));
        let flagged = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Flagged"));
        if mime {
            // If this process dies between the import and its PATCH, the next open of the
            // folder finds the bare import by its content and completes it (`repair`).
            let mut intent = format!("{fp} {} {}", seen as u8, flagged as u8);
            if let Some(d) = crate::mail::content::digest(raw) {
                intent.push(' ');
                intent.push_str(&d);
            }
            self.c
                .store
                .ref_uids(
                    self.c.side,
                    &self.upn,
                    &incomplete(folder),
                    &[intent.as_str()],
                )
                .map_err(|e| self.store_err(e))?;
        }
        let created = if mime {
            self.import_mime(folder_id, raw).await
        } else {
            self.create_json(folder_id, m, &fp).await
        };
        let id = match created {
            Ok(id) => id,
            Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {
                return Err(EndpointError::NoFolder {
                    op: "append".into(),
                    folder: folder.into(),
                    server: None,
                });
            }
            Err(EndpointError::No { message, .. }) => {
                return Ok(AppendOutcome::Refused {
                    reason: format!("Graph refused the message: {message}"),
                });
            }
            Err(e) => return Err(e),
        };
        // The message exists from here: journal its UID before anything else can fail.
        let outcome = self.allocate(folder, &id)?;
        let patch = if mime {
            completion(&fp, seen, flagged)
        } else {
            Value::Null
        };
        if !patch.is_null()
            && let Err(e) = self
                .call(
                    "set read state and flag",
                    Method::PATCH,
                    &self.url(&format!("/messages/{}", enc(&id))),
                    Some(&patch),
                )
                .await
        {
            // Without its state and fingerprint the copy is not the message: take it back,
            // so that it is sent again whole (if that fails too, the append is in doubt and
            // the next run resolves it against the mailbox).
            self.call(
                "remove incomplete message",
                Method::POST,
                &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                None,
            )
            .await
            .map_err(|d| EndpointError::ConnectionLost {
                op: format!(
                    "append to {folder} for {}: the message was created but not completed ({e}), and removing it failed ({d})",
                    self.upn
                ),
            })?;
            return Err(e);
        }
        Ok(outcome)
    }

    pub(super) async fn import_mime(&self, folder_id: &str, raw: &[u8]) -> Result<String> {
        let op = "importMime";
        let body = base64::engine::general_purpose::STANDARD.encode(raw);
        let url = self.beta(&format!("/mailFolders/{}/importMime", enc(folder_id)));
        let len = body.len() as u64;
        let r = self
            .c
            .send(&self.upn, op, len, true, || {
                self.c
                    .http
                    .post(&url)
                    .header("Content-Type", "text/plain")
                    .body(body.clone())
            })
            .await?;
        let status = r.status;
        let bytes = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        if !status.is_success() {
            return Err(failure(&self.upn, op, status, &bytes));
        }
        created_id(op, &bytes)
    }
}
