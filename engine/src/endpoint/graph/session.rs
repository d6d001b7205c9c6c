//! [`MailSession`] for a Graph mailbox: the engine's calls in terms of folders and UIDs.
//! The source side never writes. An address book (`contacts:ID`) is handed to `contacts`,
//! a calendar (`calendar:ID`) to `calendar`.

use reqwest::Method;
use serde_json::json;

use super::connector::GraphSession;
use super::types::{CREATED_PARENTS, incomplete};
use super::wire::{enc, read_only};
use crate::api::ItemKind;
use crate::endpoint::session::{MailSession, UidFlags};
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Body, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageMeta, Result,
};
use crate::item::kind_of_folder;
use crate::mail::fingerprint::fingerprint;
use crate::mail::utf7::decode_mutf7;

impl MailSession for GraphSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        self.folders = None;
        if self.xport_mode() {
            self.xport.folders = None;
            return Ok(self
                .x_folders()
                .await?
                .into_iter()
                .map(|(f, _)| f)
                .collect());
        }
        let mut out: Vec<Folder> = self
            .folder_list()
            .await?
            .iter()
            .map(|(f, _)| f.clone())
            .collect();
        if self.c.items.contacts {
            out.extend(self.contact_folders().await?.into_iter().map(|(f, _)| f));
        }
        if self.c.items.calendar {
            out.extend(self.calendars().await?.into_iter().map(|(f, _)| f));
        }
        Ok(out)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.calendar = None;
        if self.xport_mode() {
            return self.x_select(folder, "examine").await;
        }
        if is_contacts(folder) {
            self.selected = None;
            return self.contact_select(folder, "examine").await;
        }
        self.contacts = None;
        if is_calendar(folder) {
            self.selected = None;
            return self.calendar_select(folder, "examine").await;
        }
        self.select(folder, "examine").await
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        self.calendar = None;
        if self.xport_mode() {
            return self.x_select(folder, "open for append").await;
        }
        if is_contacts(folder) {
            self.selected = None;
            return self.contact_select(folder, "open for append").await;
        }
        self.contacts = None;
        if is_calendar(folder) {
            self.selected = None;
            return self.calendar_select(folder, "open for append").await;
        }
        let st = self.select(folder, "open for append").await?;
        if self.c.side == "destination" && self.repair(folder).await? {
            return self.select(folder, "open for append").await;
        }
        Ok(st)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        if self.xport_mode() {
            let keep = self.xport.selected.take();
            let r = self.x_select(folder, "status").await;
            if let Some(k) = keep
                && k.folder != folder
            {
                self.xport.selected = Some(k);
            }
            return r;
        }
        if is_contacts(folder) {
            let keep = self.contacts.take();
            let r = self.contact_select(folder, "status").await;
            match keep {
                Some(k) if k.folder != folder => self.contacts = Some(k),
                Some(_) => {}
                // A mail folder (or nothing) stays the open one.
                None => self.contacts = None,
            }
            return r;
        }
        if is_calendar(folder) {
            let keep = self.calendar.take();
            let r = self.calendar_select(folder, "status").await;
            match keep {
                Some(k) if k.folder != folder => self.calendar = Some(k),
                Some(_) => {}
                None => self.calendar = None,
            }
            return r;
        }
        let keep = self.selected.take();
        let r = self.select(folder, "status").await;
        if let Some(k) = keep
            && k.wire != folder
        {
            self.selected = Some(k);
        }
        r
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        if self.c.side == "source" {
            return Err(read_only("create folder"));
        }
        // The export-import listing names the folders the calls below create.
        self.xport.folders = None;
        if is_contacts(folder) {
            return self.create_contact_folder(folder).await;
        }
        if is_calendar(folder) {
            return self.create_calendar(folder).await;
        }
        self.folders = None;
        if self.folder_id(folder).await?.is_some() {
            return Ok(false);
        }
        let parts: Vec<&str> = folder.split('/').collect();
        let mut parent: Option<String> = None;
        for i in 0..parts.len() {
            let path = parts[..=i].join("/");
            if let Some(id) = self.folder_id(&path).await? {
                parent = Some(id);
                continue;
            }
            let url = match &parent {
                None => self.url("/mailFolders"),
                Some(p) => self.url(&format!("/mailFolders/{}/childFolders", enc(p))),
            };
            let r = self
                .call(
                    "create folder",
                    Method::POST,
                    &url,
                    Some(&json!({"displayName": decode_mutf7(parts[i])})),
                )
                .await;
            match r {
                Ok((_, v)) => {
                    parent = v["id"].as_str().map(str::to_string);
                    if i + 1 < parts.len() {
                        self.c
                            .store
                            .ref_uids(self.c.side, &self.upn, CREATED_PARENTS, &[path.as_str()])
                            .map_err(|e| self.store_err(e))?;
                    }
                }
                Err(EndpointError::No { message, .. })
                    if message.contains("ErrorFolderExists") || message.contains("HTTP 409") =>
                {
                    self.folders = None;
                    parent = self.folder_id(&path).await?;
                    if i + 1 == parts.len() {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e),
            }
            self.folders = None;
        }
        Ok(true)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        if self.xport_mode() {
            return self.x_fetch_meta(from_uid).await;
        }
        if let Some(folder) = self.contacts.as_ref().map(|s| s.folder.clone()) {
            self.contact_select(&folder, "list contacts").await?;
            return Ok(self
                .chosen_contacts(&[], from_uid)
                .into_iter()
                .map(|i| MessageMeta {
                    uid: i.uid,
                    // An estimate: the vCard is rendered when read.
                    size: i
                        .vcard
                        .as_ref()
                        .map_or(i.json.to_string().len(), String::len)
                        as u64,
                })
                .collect());
        }
        if let Some(folder) = self.calendar.as_ref().map(|s| s.folder.clone()) {
            self.calendar_select(&folder, "list events").await?;
            return Ok(self
                .chosen_events(&[], from_uid)
                .into_iter()
                .map(|i| MessageMeta {
                    uid: i.uid,
                    // An estimate: the iCalendar text is rendered when read.
                    size: i
                        .ical
                        .as_ref()
                        .map_or(i.json.to_string().len(), String::len)
                        as u64,
                })
                .collect());
        }
        let Some(wire) = self.selected.as_ref().map(|s| s.wire.clone()) else {
            return Ok(Vec::new());
        };
        // What the mailbox holds now.
        self.select(&wire, "list messages").await?;
        let items = self.chosen(&[], from_uid);
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            // PR_MESSAGE_SIZE: Exchange's storage size, not the MIME export's length (the
            // capabilities say so; the journal records the real size once a message is read).
            out.push(MessageMeta {
                uid: i.uid,
                size: i.size,
            });
        }
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        if self.xport_mode() {
            return self.x_fetch(uids, sink).await;
        }
        if self.contacts.is_some() {
            for i in self.chosen_contacts(uids, 0) {
                let m = Message::item(i.uid, self.contact_vcard(&i).await?);
                if !sink.send(m).await {
                    break;
                }
            }
            return Ok(());
        }
        if self.calendar.is_some() {
            for i in self.chosen_events(uids, 0) {
                let m = Message::item(i.uid, self.event_ical(&i).await?);
                if !sink.send(m).await {
                    break;
                }
            }
            return Ok(());
        }
        for i in self.chosen(uids, 0) {
            let Some(bytes) = self.mime(&i.id).await? else {
                continue;
            };
            let m = Message {
                uid: i.uid,
                flags: i.flags.clone(),
                internal_date: i.received,
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
        if self.xport_mode() {
            return Ok(self.x_fingerprints(uids, from_uid));
        }
        let mut out = Vec::new();
        if self.contacts.is_some() {
            for i in self.chosen_contacts(uids, from_uid) {
                let card = self.contact_vcard(&i).await?;
                out.push(Fingerprinted::item(ItemKind::Contact, i.uid, &card));
            }
            return Ok(out);
        }
        if self.calendar.is_some() {
            for i in self.chosen_events(uids, from_uid) {
                let text = self.event_ical(&i).await?;
                out.push(Fingerprinted::item(ItemKind::Event, i.uid, &text));
            }
            return Ok(out);
        }
        for i in self.chosen(uids, from_uid) {
            let (fp, size) = match &i.fingerprint {
                Some(fp) => (fp.clone(), i.size),
                None => match self.mime(&i.id).await? {
                    Some(b) => (fingerprint(&b), b.len() as u64),
                    None => continue,
                },
            };
            out.push(Fingerprinted {
                uid: i.uid,
                size,
                fingerprint: fp,
                flags: i.flags.clone(),
                internal_date: i.received,
            });
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        if self.c.side == "source" {
            return Err(read_only("append"));
        }
        if self.xport_mode() {
            return self.x_append(folder, msgs).await;
        }
        if is_contacts(folder) {
            if self.contacts.as_ref().is_none_or(|s| s.folder != folder) {
                self.selected = None;
                self.calendar = None;
                self.contact_select(folder, "append").await?;
            }
            let mut out = Vec::with_capacity(msgs.len());
            for m in msgs {
                out.push(self.write_contact(folder, m).await?);
            }
            return Ok(out);
        }
        if is_calendar(folder) {
            if self.calendar.as_ref().is_none_or(|s| s.folder != folder) {
                self.selected = None;
                self.contacts = None;
                self.calendar_select(folder, "append").await?;
            }
            let mut out = Vec::with_capacity(msgs.len());
            for m in msgs {
                out.push(self.write_event(folder, m).await?);
            }
            return Ok(out);
        }
        let folder_id = self.need_folder(folder, "append").await?;
        let mut out = Vec::with_capacity(msgs.len());
        let mut stop: Option<String> = None;
        for m in msgs {
            if let Some(why) = &stop {
                out.push(AppendOutcome::Failed {
                    error: EndpointError::No {
                        op: "append".into(),
                        message: format!("not attempted: {why}"),
                    },
                });
                continue;
            }
            match self.append_one(folder, &folder_id, m).await {
                Ok(o) => out.push(o),
                Err(
                    e @ (EndpointError::OverQuota { .. }
                    | EndpointError::NoFolder { .. }
                    | EndpointError::Throttled { .. }
                    | EndpointError::Auth { .. }),
                ) => {
                    stop = Some(e.to_string());
                    if matches!(e, EndpointError::NoFolder { .. }) {
                        self.folders = None;
                    }
                    out.push(AppendOutcome::Failed { error: e });
                }
                // The connection failed: what was stored is unknown (in doubt).
                Err(e) => return Err(e),
            }
        }
        // Every import of this batch was completed or never happened: nothing to repair.
        self.c
            .store
            .reset_ref_folder(self.c.side, &self.upn, &incomplete(folder))
            .map_err(|e| self.store_err(e))?;
        Ok(out)
    }

    /// A source event's or contact's UID stands for one version (Graph id and changeKey):
    /// one no longer listed whose id is listed under another UID changed.
    async fn newer_versions(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        let unsupported = EndpointError::Unsupported {
            op: "tell changed items from deleted ones",
        };
        if self.xport_mode() {
            return Err(unsupported);
        }
        let folder = match (&self.contacts, &self.calendar) {
            (Some(c), _) => c.folder.clone(),
            (None, Some(c)) => c.folder.clone(),
            (None, None) => return Err(unsupported),
        };
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &folder, uids)
            .map_err(|e| self.store_err(e))?;
        let now = match (&self.contacts, &self.calendar) {
            (Some(c), _) => c.items.iter().map(|i| (i.id.as_str(), i.uid)).collect(),
            (None, Some(c)) => c.items.iter().map(|i| (i.id.as_str(), i.uid)).collect(),
            (None, None) => Default::default(),
        };
        Ok(crate::item::version::newer_versions(refs, &now))
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("expunge"));
        }
        if self.xport_mode() {
            return self.x_expunge(uids).await;
        }
        if self.contacts.is_some() {
            return self.expunge_contacts(uids).await;
        }
        if self.calendar.is_some() {
            return self.expunge_events(uids).await;
        }
        let Some(wire) = self.selected.as_ref().map(|s| s.wire.clone()) else {
            return Ok(());
        };
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &wire, uids)
            .map_err(|e| self.store_err(e))?;
        for (_, id) in refs {
            match self
                .call(
                    "permanentDelete",
                    Method::POST,
                    &self.url(&format!("/messages/{}/permanentDelete", enc(&id))),
                    None,
                )
                .await
            {
                Ok(_) => {}
                // Already gone.
                Err(EndpointError::No { message, .. }) if message.contains("HTTP 404") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("rename folder"));
        }
        self.xport.folders = None;
        if is_contacts(from) || is_calendar(from) {
            return Err(EndpointError::Protocol {
                op: format!("rename {from}"),
                message: "an address book or a calendar is not renamed; it is deleted when empty"
                    .into(),
            });
        }
        let id = self.need_folder(from, "rename folder").await?;
        let (fp, fname) = from.rsplit_once('/').unwrap_or(("", from));
        let (tp, tname) = to.rsplit_once('/').unwrap_or(("", to));
        if fp != tp {
            return Err(EndpointError::No {
                op: "rename folder".into(),
                message: format!(
                    "{from} -> {to}: only a rename within the same parent is supported"
                ),
            });
        }
        let _ = fname;
        self.call(
            "rename folder",
            Method::PATCH,
            &self.url(&format!("/mailFolders/{}", enc(&id))),
            Some(&json!({"displayName": decode_mutf7(tname)})),
        )
        .await?;
        self.folders = None;
        Ok(())
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("delete folder"));
        }
        self.xport.folders = None;
        if is_contacts(folder) {
            return self.delete_contact_folder(folder).await;
        }
        if is_calendar(folder) {
            return self.delete_calendar(folder).await;
        }
        let id = self.need_folder(folder, "delete folder").await?;
        self.call(
            "delete folder",
            Method::DELETE,
            &self.url(&format!("/mailFolders/{}", enc(&id))),
            None,
        )
        .await?;
        self.folders = None;
        self.delete_created_parents(folder).await
    }

    async fn examine_changes(&mut self, folder: &str) -> Result<(FolderState, Option<u64>)> {
        if self.xport_mode()
            || is_contacts(folder)
            || is_calendar(folder)
            || self.c.side != "source"
        {
            return Ok((self.examine(folder).await?, None));
        }
        self.calendar = None;
        self.contacts = None;
        // The delta first: a change made between it and the listing is in the listing and
        // in the next pass's delta, never in neither.
        let marker = self.delta_round(folder).await?;
        let st = self.select(folder, "examine").await?;
        Ok((st, Some(marker)))
    }

    async fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        self.listed_flags(uids, changed_since)
    }

    fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    async fn set_flags(&mut self, uid: u32, add: &[String], remove: &[String]) -> Result<()> {
        self.patch_flags(uid, add, remove).await
    }

    async fn move_messages(&mut self, uids: &[u32], to: &str) -> Result<()> {
        self.move_to(uids, to).await
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        // Read state and the flag are kept; keywords have no place in Graph's model here.
        Some(&[])
    }

    async fn logout(self) {}
}

/// An address book's name (`contacts:ID`).
fn is_contacts(folder: &str) -> bool {
    kind_of_folder(folder) == ItemKind::Contact
}

/// A calendar's name (`calendar:ID`).
fn is_calendar(folder: &str) -> bool {
    kind_of_folder(folder) == ItemKind::Event
}
