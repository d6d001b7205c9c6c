//! What a delta pass (`cutover sync`) needs of a Graph mailbox: the flags of the listed
//! folder's messages (from the listing itself: `isRead` = `\Seen`, `flag.flagStatus` =
//! `\Flagged`, `isDraft` = `\Draft`; no change marker, so every listed message is compared),
//! `\Seen` and `\Flagged` set with one `PATCH /messages/{id}` per message, and messages
//! moved to another folder with `POST /messages/{id}/move`. A moved message gets a new id;
//! the pass finds it in the target folder by cutover's fingerprint property (which a move
//! keeps), where the listing maps the new id to a new UID, and journals that UID. Keywords
//! have no Graph counterpart here (the copy does not write categories): not carried.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::connector::GraphSession;
use super::types::Selected;
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

    pub(super) fn listed_flags(&self, uids: Option<&[u32]>) -> Result<Vec<UidFlags>> {
        self.mail_open("list flags")?;
        let items = match uids {
            None => self.chosen(&[], 1),
            Some([]) => return Ok(Vec::new()),
            Some(u) => self.chosen(u, 1),
        };
        Ok(items.into_iter().map(|i| (i.uid, i.flags)).collect())
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
