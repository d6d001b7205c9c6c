//! Listing a folder (its message ids, oldest first, mapped to the journal's UIDs, paged),
//! reading messages (metadata, raw bytes) and each message's labels for the engine's
//! copy-each-message-once policy.

use base64::Engine as _;
use reqwest::{Method, StatusCode};

use super::connector::GmailSession;
use super::types::{
    ARCHIVE_QUERY, Current, GmailMessage, LabelledMessage, MessageList, Meta, Target, units,
};
use super::wire::store_err;
use crate::endpoint::bounded;
use crate::endpoint::types::{EndpointError, FolderState, Result};

impl GmailSession {
    /// Every message id of a folder, oldest first (Gmail lists newest first).
    pub(super) async fn list_ids(&self, target: &Target) -> Result<Vec<String>> {
        let op = "messages.list";
        let mut ids = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = self.url(false, &["messages"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("maxResults", "500");
                match target {
                    Target::Label(id) => {
                        q.append_pair("labelIds", id);
                        if id == "SPAM" || id == "TRASH" {
                            q.append_pair("includeSpamTrash", "true");
                        } else {
                            q.append_pair("q", "-in:spam -in:trash");
                        }
                    }
                    Target::Archive => {
                        q.append_pair("q", ARCHIVE_QUERY);
                    }
                }
                if let Some(p) = &page {
                    q.append_pair("pageToken", p);
                }
            }
            let (st, body) = self
                .call(op, units::MESSAGES_LIST, Method::GET, url, None)
                .await?;
            if st == StatusCode::NOT_FOUND {
                return Err(EndpointError::NoFolder {
                    op: self.ctx(op),
                    folder: format!("{target:?}"),
                    server: None,
                });
            }
            if !st.is_success() {
                return Err(self.unexpected(op, st, &body));
            }
            let l: MessageList = self.parse(op, &body)?;
            ids.extend(l.messages.into_iter().map(|m| m.id));
            match l.next_page_token {
                Some(p) if !p.is_empty() => page = Some(p),
                _ => break,
            }
        }
        ids.reverse();
        Ok(ids)
    }

    /// List a folder and map its ids to UIDs.
    pub(super) async fn open(&mut self, folder: &str, op: &str) -> Result<(Current, FolderState)> {
        let (_, target, key) = self.resolve(folder, op).await?;
        let ids = self.list_ids(&target).await?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.user, &key, &refs)
            .map_err(store_err(op))?;
        let mut listing: Vec<(u32, String)> = uids.into_iter().zip(ids).collect();
        listing.sort_unstable();
        listing.dedup_by_key(|e| e.0);
        let (uidvalidity, uidnext) = self
            .c
            .store
            .ref_folder(self.c.side, &self.user, &key)
            .map_err(store_err(op))?;
        let state = FolderState {
            uidvalidity,
            uidnext,
            exists: listing.len() as u32,
        };
        Ok((Current { key, listing }, state))
    }

    pub(super) fn current(&self, op: &str) -> Result<&Current> {
        self.current
            .as_ref()
            .ok_or_else(|| EndpointError::Protocol {
                op: self.ctx(op),
                message: "no folder examined".into(),
            })
    }

    /// `messages.get` in a format; None when the message is gone.
    pub(super) async fn get(&mut self, id: &str, format: &str) -> Result<Option<GmailMessage>> {
        let op = "messages.get";
        let mut url = self.url(false, &["messages", id]);
        url.query_pairs_mut().append_pair("format", format);
        // format=raw carries the message in base64url (4 bytes for 3) inside the JSON.
        let cap = if format == "raw" {
            let m = bounded::message_cap(self.c.cfg.max_message_size);
            (m / 3 * 4)
                .saturating_add(bounded::JSON_CAP as u64)
                .try_into()
                .unwrap_or(usize::MAX)
        } else {
            bounded::JSON_CAP
        };
        let (st, body) = self
            .call_capped(op, units::MESSAGES_GET, Method::GET, url, None, cap)
            .await?;
        if st == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !st.is_success() {
            return Err(self.unexpected(op, st, &body));
        }
        let m: GmailMessage = self.parse(op, &body)?;
        let internal_ms = m.internal_date.as_deref().and_then(|d| d.parse().ok());
        let size = m.size_estimate.unwrap_or(0);
        self.meta.insert(
            m.id.clone(),
            Meta {
                labels: m.label_ids.clone(),
                size,
                internal_ms,
            },
        );
        Ok(Some(m))
    }

    /// Metadata of a message, from this session's cache or `format=minimal`.
    pub(super) async fn meta_of(&mut self, id: &str) -> Result<Option<Meta>> {
        if let Some(m) = self.meta.get(id) {
            return Ok(Some(m.clone()));
        }
        Ok(self
            .get(id, "minimal")
            .await?
            .and_then(|_| self.meta.get(id).cloned()))
    }

    /// The raw bytes, labels and date of a message; None when it is gone.
    pub(super) async fn raw(&mut self, id: &str) -> Result<Option<(Vec<u8>, Meta)>> {
        let Some(m) = self.get(id, "raw").await? else {
            return Ok(None);
        };
        let raw = m.raw.as_deref().unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(raw.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim_end_matches('='))
            })
            .map_err(|e| EndpointError::Protocol {
                op: self.ctx("messages.get"),
                message: format!("message {id}: raw is not base64url: {e}"),
            })?;
        let Some(mut meta) = self.meta.get(id).cloned() else {
            return Err(EndpointError::Protocol {
                op: self.ctx("messages.get"),
                message: format!("Gmail answered for another message than {id}"),
            });
        };
        // The exact size, now that the bytes are here.
        meta.size = bytes.len() as u64;
        self.meta.insert(id.to_string(), meta.clone());
        Ok(Some((bytes, meta)))
    }

    /// UIDs of the examined folder selected by `uids` (all with UID >= `from` when empty).
    pub(super) fn select(&self, op: &str, uids: &[u32], from: u32) -> Result<Vec<(u32, String)>> {
        let cur = self.current(op)?;
        Ok(if uids.is_empty() {
            cur.listing
                .iter()
                .filter(|(u, _)| *u >= from)
                .cloned()
                .collect()
        } else {
            let want: std::collections::HashSet<u32> = uids.iter().copied().collect();
            cur.listing
                .iter()
                .filter(|(u, _)| want.contains(u))
                .cloned()
                .collect()
        })
    }

    /// For the examined folder: each message's UID, its Gmail id (the same in every folder
    /// it is listed in) and all its labels. This is what the engine's "copy each message
    /// once" policy for Gmail-shaped sources needs; without that policy a message with two
    /// folder labels is copied into both folders. One `messages.get` (5 units) per message
    /// not yet seen in this session.
    pub async fn labelled_messages(&mut self) -> Result<Vec<LabelledMessage>> {
        let op = "labelled messages";
        let listing = self.current(op)?.listing.clone();
        let mut out = Vec::with_capacity(listing.len());
        for (uid, id) in listing {
            let Some(meta) = self.meta_of(&id).await? else {
                continue;
            };
            let mut labels: Vec<String> = meta
                .labels
                .iter()
                .map(|l| self.folder_of_label(l).unwrap_or_else(|| l.clone()))
                .collect();
            let folder_label = meta
                .labels
                .iter()
                .any(|l| self.folder_of_label(l).is_some());
            if !folder_label {
                labels.push(self.archive_name().to_string());
            }
            out.push(LabelledMessage {
                uid,
                global_id: id,
                labels,
            });
        }
        Ok(out)
    }
}
