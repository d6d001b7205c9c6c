//! What a delta pass (`cutover sync`) needs of a Graph mailbox: the flags of the listed
//! folder's messages (from the listing itself: `isRead` = `\Seen`, `flag.flagStatus` =
//! `\Flagged`, `isDraft` = `\Draft`). On a source, each pass also runs the folder's delta
//! query (`GET /mailFolders/{id}/messages/delta`, pages followed to the `@odata.deltaLink`):
//! the deltaLink goes to the journal numbered (the change marker of `examine_changes`) with
//! the ids Graph said changed, and the flags compared are only those of the messages changed
//! since the marker the last pass recorded. A token Graph rejects (410 Gone,
//! `syncStateNotFound`, `resyncRequired`, `SyncStateInvalid`) starts a new delta: that
//! pass compares every message's flags, and says so once (`take_notice`).
//! `\Seen` and `\Flagged` set with one `PATCH /messages/{id}` per message, and messages
//! moved to another folder with `POST /messages/{id}/move`. A moved message gets a new id;
//! the pass finds it in the target folder by cutover's fingerprint property (which a move
//! keeps), where the listing maps the new id to a new UID, and journals that UID. Keywords
//! have no Graph counterpart here (the copy does not write categories): not carried.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::connector::GraphSession;
use super::types::{PAGE, Selected};
use super::wire::{enc, read_only};
use crate::endpoint::session::UidFlags;
use crate::endpoint::types::{EndpointError, Result};

impl GraphSession {
    /// The open mail folder: an address book, a calendar or the export-import path has no
    /// flags nor moves here.
    fn mail_open(&self, op: &'static str) -> Result<&Selected> {
        if self.xport_mode() || self.contacts.is_some() || self.calendar.is_some() {
            return Err(EndpointError::Unsupported { op });
        }
        self.selected
            .as_ref()
            .ok_or_else(|| EndpointError::Protocol {
                op: op.into(),
                message: "no mail folder is open".into(),
            })
    }

    /// The flags of the open folder's messages (among `uids`); with `changed_since` (a
    /// marker of [`GraphSession::delta_round`]) only those Graph said changed after it, when
    /// the journal knows them (else all).
    pub(super) fn listed_flags(
        &self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        let sel = self.mail_open("list flags")?;
        let mut items = match uids {
            None => self.chosen(&[], 1),
            Some([]) => return Ok(Vec::new()),
            Some(u) => self.chosen(u, 1),
        };
        if let Some(k) = changed_since {
            let changed = self
                .c
                .store
                .delta_changed_since(self.c.side, &self.upn, &sel.wire, k)
                .map_err(|e| self.store_err(e))?;
            if let Some(ids) = changed {
                let ids: std::collections::HashSet<String> = ids.into_iter().collect();
                items.retain(|i| ids.contains(&i.id));
            }
        }
        Ok(items.into_iter().map(|i| (i.uid, i.flags)).collect())
    }

    /// Run the folder's delta query from its newest deltaLink (or from the start) and record
    /// the new deltaLink: its number, the marker. Nothing changed: the newest is renewed and
    /// keeps its number.
    pub(super) async fn delta_round(&mut self, wire: &str) -> Result<u64> {
        let op = "list changes";
        let side = self.c.side;
        let store = self.c.store.clone();
        let known = store
            .delta_link(side, &self.upn, wire)
            .map_err(|e| self.store_err(e))?;
        if let Some((seq, link)) = known {
            match self.delta_pages(op, &link).await {
                Ok((changed, next)) if changed.is_empty() => {
                    store
                        .renew_delta_link(side, &self.upn, wire, seq, &next)
                        .map_err(|e| self.store_err(e))?;
                    return Ok(seq);
                }
                Ok((changed, next)) => {
                    return store
                        .add_delta_link(side, &self.upn, wire, &next, Some(&changed))
                        .map_err(|e| self.store_err(e));
                }
                Err(e) if token_rejected(&e) => {
                    let folder = crate::mail::utf7::decode_mutf7(wire);
                    tracing::warn!(mailbox = %self.upn, folder = %folder, error = %e, "Graph rejected the delta token: one full comparison");
                    self.notice = Some(format!(
                        "delta pass: Graph no longer accepts the delta token of folder {folder} ({e}): \
                         its flags are compared in full this pass, and a new token is kept"
                    ));
                }
                // The folder is gone: said by `need_folder` below, as for any folder.
                Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {}
                Err(e) => return Err(e),
            }
        }
        let id = self.need_folder(wire, op).await?;
        let url = self.url(&format!(
            "/mailFolders/{}/messages/delta?$select=id,isRead,isDraft,flag&$top={PAGE}",
            enc(&id)
        ));
        let (_, next) = self.delta_pages(op, &url).await?;
        store
            .add_delta_link(side, &self.upn, wire, &next, None)
            .map_err(|e| self.store_err(e))
    }

    /// Every page of a delta query: the ids of the messages changed (removed ones left out:
    /// the folder's listing says what vanished) and the `@odata.deltaLink` it ends with.
    async fn delta_pages(&self, op: &str, url: &str) -> Result<(Vec<String>, String)> {
        let mut changed = Vec::new();
        let mut next = url.to_string();
        loop {
            let v = self.get_json(op, &next).await?;
            for m in v["value"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if m.get("@removed").is_none()
                    && let Some(id) = m["id"].as_str()
                {
                    changed.push(id.to_string());
                }
            }
            if let Some(l) = v["@odata.nextLink"].as_str() {
                next = l.to_string();
            } else if let Some(l) = v["@odata.deltaLink"].as_str() {
                return Ok((changed, l.to_string()));
            } else {
                return Err(EndpointError::Protocol {
                    op: op.into(),
                    message: format!(
                        "Graph's delta answer for {} has neither a nextLink nor a deltaLink",
                        self.upn
                    ),
                });
            }
        }
    }

    /// Set `\Seen` and `\Flagged` as asked on one message of the open folder (one PATCH;
    /// none when neither changes). A message gone meanwhile is left to the folder's check.
    pub(super) async fn patch_flags(
        &mut self,
        uid: u32,
        add: &[String],
        remove: &[String],
    ) -> Result<()> {
        let op = "store flags";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        let Some(id) = self
            .mail_open(op)?
            .items
            .iter()
            .find(|i| i.uid == uid)
            .map(|i| i.id.clone())
        else {
            return Ok(());
        };
        let has = |l: &[String], f: &str| l.iter().any(|x| x.eq_ignore_ascii_case(f));
        let mut body = Map::new();
        if has(add, "\\Seen") {
            body.insert("isRead".into(), json!(true));
        } else if has(remove, "\\Seen") {
            body.insert("isRead".into(), json!(false));
        }
        if has(add, "\\Flagged") {
            body.insert("flag".into(), json!({"flagStatus": "flagged"}));
        } else if has(remove, "\\Flagged") {
            body.insert("flag".into(), json!({"flagStatus": "notFlagged"}));
        }
        if body.is_empty() {
            return Ok(());
        }
        let url = self.url(&format!("/messages/{}", enc(&id)));
        self.call(op, Method::PATCH, &url, Some(&Value::Object(body)))
            .await?;
        Ok(())
    }

    /// Move messages of the open folder to folder `to` (`POST /messages/{id}/move`, one
    /// request each). A message no longer there (moved by an interrupted pass) is skipped:
    /// the pass looks for it in the target folder.
    pub(super) async fn move_to(&mut self, uids: &[u32], to: &str) -> Result<()> {
        let op = "move messages";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        let ids: Vec<String> = self
            .mail_open(op)?
            .items
            .iter()
            .filter(|i| uids.contains(&i.uid))
            .map(|i| i.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let dest = self.need_folder(to, op).await?;
        for id in ids {
            let url = self.url(&format!("/messages/{}/move", enc(&id)));
            match self
                .call(
                    op,
                    Method::POST,
                    &url,
                    Some(&json!({"destinationId": dest})),
                )
                .await
            {
                Ok(_) => {}
                Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Graph no longer knows the delta token: start again from a full delta.
fn token_rejected(e: &EndpointError) -> bool {
    let t = e.to_string().to_ascii_lowercase();
    t.contains("http 410")
        || ["syncstatenotfound", "resyncrequired", "syncstateinvalid"]
            .iter()
            .any(|c| t.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_token_is_told_from_other_failures() {
        let no = |m: &str| EndpointError::No {
            op: "list changes".into(),
            message: m.into(),
        };
        assert!(token_rejected(&no("HTTP 410 SyncStateNotFound: gone")));
        assert!(token_rejected(&no("HTTP 400 resyncRequired: start over")));
        assert!(token_rejected(&no("HTTP 400 SyncStateInvalid: bad")));
        assert!(!token_rejected(&no(
            "HTTP 404 ErrorItemNotFound: no folder"
        )));
        assert!(!token_rejected(&no("HTTP 503 ServiceUnavailable: later")));
    }
}
