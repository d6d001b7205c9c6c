//! [`MailSession`] for a Gmail mailbox: the engine's calls in terms of folders (labels) and
//! UIDs.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::connector::GmailSession;
use super::types::{Label, SYSTEM_FOLDERS, units};
use super::wire::{date_of, error_of, flags_of, store_err};
use crate::endpoint::session::{MailSession, UidFlags};
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Body, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageIdentity, MessageMeta, Result, SpecialUse,
};
use crate::mail::fingerprint::fingerprint;
use crate::mail::utf7::{decode_mutf7, encode_mutf7};

impl MailSession for GmailSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        if !self.c.items.mail {
            return Ok(Vec::new());
        }
        self.load_labels().await?;
        let folder = |name: &str, special| Folder {
            wire_name: name
                .split('/')
                .map(encode_mutf7)
                .collect::<Vec<_>>()
                .join("/"),
            path: name.split('/').map(str::to_string).collect(),
            delimiter: Some('/'),
            special,
            selectable: true,
        };
        let mut out: Vec<Folder> = SYSTEM_FOLDERS
            .iter()
            .map(|(_, n, s)| Folder {
                wire_name: n.to_string(),
                path: vec![n.to_string()],
                delimiter: Some('/'),
                special: *s,
                selectable: true,
            })
            .collect();
        out.push(Folder {
            wire_name: self.archive_name().to_string(),
            path: vec![self.archive_name().to_string()],
            delimiter: Some('/'),
            special: Some(SpecialUse::Archive),
            selectable: true,
        });
        let mut user: Vec<&Label> = self.labels.iter().filter(|l| l.kind != "system").collect();
        user.sort_by(|a, b| a.name.cmp(&b.name));
        for l in user {
            out.push(folder(&l.name, None));
        }
        Ok(out)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.note_baseline().await?;
        let (cur, st) = self.open(folder, "examine").await?;
        self.current = Some(cur);
        Ok(st)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        let (cur, st) = self.open(folder, "open for import").await?;
        self.current = Some(cur);
        Ok(st)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let (cur, st) = self.open(folder, "status").await?;
        if self.current.as_ref().is_some_and(|c| c.key == cur.key) {
            self.current = Some(cur);
        }
        Ok(st)
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        let op = "labels.create";
        match self.resolve(folder, op).await {
            Ok(_) => return Ok(false),
            Err(EndpointError::NoFolder { .. }) => {}
            Err(e) => return Err(e),
        }
        let name = decode_mutf7(folder);
        let body = json!({
            "name": name,
            "labelListVisibility": "labelShow",
            "messageListVisibility": "show",
        })
        .to_string();
        let (st, resp) = self
            .call(
                op,
                units::LABELS_CREATE,
                Method::POST,
                self.url(false, &["labels"]),
                Some(("application/json", body.as_bytes())),
            )
            .await?;
        if st == StatusCode::CONFLICT {
            self.load_labels().await?;
            return Ok(false);
        }
        if st == StatusCode::BAD_REQUEST {
            let (_, message) = error_of(&resp);
            return Err(EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "Gmail refuses the label name {name:?}: {message} (Gmail reserves the names of its system labels, e.g. Starred, Important, Chats; map the folder to another name with a [folders] rename rule)"
                ),
            });
        }
        if !st.is_success() {
            return Err(self.unexpected(op, st, &resp));
        }
        let l: Label = self.parse(op, &resp)?;
        self.labels.push(l);
        Ok(true)
    }

    /// The Gmail id (the same in every folder) and the labels in X-GM-LABELS' words
    /// (`\\Inbox`, `\\Sent`, `\\Draft`, `\\Spam`, `\\Trash`, `\\Starred`, `\\Important`, user
    /// labels by name), for the engine's copy-each-message-once plan (`sync::gmail`).
    async fn fetch_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        let which = self.select("fetch identities", &[], from_uid)?;
        let mut out = Vec::with_capacity(which.len());
        for (uid, id) in which {
            let Some(m) = self.meta_of(&id).await? else {
                continue;
            };
            let labels = m
                .labels
                .iter()
                .filter_map(|l| match l.as_str() {
                    "INBOX" => Some("\\Inbox".to_string()),
                    "SENT" => Some("\\Sent".to_string()),
                    "DRAFT" => Some("\\Draft".to_string()),
                    "SPAM" => Some("\\Spam".to_string()),
                    "TRASH" => Some("\\Trash".to_string()),
                    "STARRED" => Some("\\Starred".to_string()),
                    "IMPORTANT" => Some("\\Important".to_string()),
                    other => self.folder_of_label(other),
                })
                .collect();
            out.push(MessageIdentity {
                uid,
                size: m.size,
                message_id: None,
                provider_id: Some(id),
                labels: Some(labels),
            });
        }
        Ok(out)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let which = self.select("fetch meta", &[], from_uid)?;
        let mut out = Vec::with_capacity(which.len());
        for (uid, id) in which {
            if let Some(m) = self.meta_of(&id).await? {
                out.push(MessageMeta { uid, size: m.size });
            }
        }
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        for (uid, id) in self.select("fetch messages", uids, 0)? {
            let Some((bytes, meta)) = self.raw(&id).await? else {
                continue;
            };
            let m = Message {
                uid,
                flags: flags_of(&meta.labels),
                internal_date: date_of(meta.internal_ms),
                body: Body::new(bytes),
            };
            if !sink.send(m).await {
                break;
            }
        }
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        let mut out = Vec::new();
        for (uid, id) in self.select("fetch fingerprints", uids, from_uid)? {
            let Some((bytes, meta)) = self.raw(&id).await? else {
                continue;
            };
            out.push(Fingerprinted {
                uid,
                size: bytes.len() as u64,
                fingerprint: fingerprint(&bytes),
                flags: flags_of(&meta.labels),
                internal_date: date_of(meta.internal_ms),
            });
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        let op = "messages.import";
        let (name, target, key) = match self.resolve(folder, op).await {
            Ok(r) => r,
            Err(EndpointError::NoFolder { .. }) => {
                return Ok(msgs
                    .iter()
                    .map(|_| AppendOutcome::Failed {
                        error: EndpointError::NoFolder {
                            op: self.ctx(op),
                            folder: decode_mutf7(folder),
                            server: None,
                        },
                    })
                    .collect());
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            let r = self.import(&target, &key, &name, m).await?;
            let stop = matches!(r, AppendOutcome::Failed { .. });
            out.push(r);
            if stop {
                // Not sent: the rest stays pending with the same reason.
                while out.len() < msgs.len() {
                    let error = match &out[out.len() - 1] {
                        AppendOutcome::Failed { error } => EndpointError::No {
                            op: self.ctx(op),
                            message: format!("not sent after an earlier failure: {error}"),
                        },
                        _ => unreachable!(),
                    };
                    out.push(AppendOutcome::Failed { error });
                }
                break;
            }
        }
        Ok(out)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        let op = "messages.delete";
        let key = self.current(op)?.key.clone();
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.user, &key, uids)
            .map_err(store_err(op))?;
        for (uid, id) in refs {
            let (st, body) = self
                .call(
                    op,
                    units::MESSAGES_DELETE,
                    Method::DELETE,
                    self.url(false, &["messages", &id]),
                    None,
                )
                .await?;
            if !(st.is_success() || st == StatusCode::NOT_FOUND) {
                return Err(self.unexpected(op, st, &body));
            }
            self.meta.remove(&id);
            if let Some(cur) = self.current.as_mut() {
                cur.listing.retain(|(u, _)| *u != uid);
            }
        }
        Ok(())
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        let op = "labels.update";
        let l = self.user_label(from, op).await?;
        let body = json!({ "id": l.id, "name": decode_mutf7(to) }).to_string();
        let (st, resp) = self
            .call(
                op,
                units::LABELS_UPDATE,
                Method::PATCH,
                self.url(false, &["labels", &l.id]),
                Some(("application/json", body.as_bytes())),
            )
            .await?;
        match st {
            s if s.is_success() => {
                self.load_labels().await?;
                Ok(())
            }
            StatusCode::NOT_FOUND => Err(EndpointError::NoFolder {
                op: self.ctx(op),
                folder: decode_mutf7(from),
                server: None,
            }),
            StatusCode::CONFLICT => Err(EndpointError::No {
                op: self.ctx(op),
                message: format!("a label named {} exists already", decode_mutf7(to)),
            }),
            _ => Err(self.unexpected(op, st, &resp)),
        }
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        let op = "labels.delete";
        let l = self.user_label(folder, op).await?;
        let (st, resp) = self
            .call(
                op,
                units::LABELS_DELETE,
                Method::DELETE,
                self.url(false, &["labels", &l.id]),
                None,
            )
            .await?;
        match st {
            s if s.is_success() => {
                self.labels.retain(|x| x.id != l.id);
                Ok(())
            }
            StatusCode::NOT_FOUND => Err(EndpointError::NoFolder {
                op: self.ctx(op),
                folder: decode_mutf7(folder),
                server: None,
            }),
            _ => Err(self.unexpected(op, st, &resp)),
        }
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        // Gmail keeps no IMAP keywords through the API.
        Some(&self.no_keywords)
    }

    /// On a source, the mailbox's historyId (taken once per session, before anything is
    /// compared) is the marker; see `history`.
    async fn examine_changes(&mut self, folder: &str) -> Result<(FolderState, Option<u64>)> {
        if self.c.side != "source" {
            return Ok((self.examine(folder).await?, None));
        }
        let marker = self.history_marker().await?;
        Ok((self.examine(folder).await?, Some(marker)))
    }

    /// The listing alone: Gmail's sizes are estimates that cost a `messages.get` each.
    async fn list_uids(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        Ok(self
            .select("list", &[], from_uid)?
            .into_iter()
            .map(|(uid, _)| MessageMeta { uid, size: 0 })
            .collect())
    }

    /// All flags, or on a source those of the messages Gmail's history names since the
    /// marker `changed_since` (see `history`).
    async fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        if uids.is_none() && self.c.side == "source" {
            return self.history_flags(changed_since).await;
        }
        self.label_flags(uids).await
    }

    fn take_notice(&mut self) -> Option<String> {
        self.take_history_notice()
    }

    async fn set_flags(&mut self, uid: u32, add: &[String], remove: &[String]) -> Result<()> {
        self.modify_flags(uid, add, remove).await
    }

    async fn move_messages(&mut self, uids: &[u32], to: &str) -> Result<()> {
        self.relabel(uids, to).await
    }

    async fn logout(self) {}
}
