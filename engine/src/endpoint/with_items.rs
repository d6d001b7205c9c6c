//! A mailbox whose mail and whose calendars and contacts are two stores: IMAP with its
//! CalDAV/CardDAV server (`[source.dav]`), or a Maildir tree with its `.ics`/`.vcf` files. One
//! session whose folders are the mail folders and the calendars and address books
//! (`calendar:ID`, `contacts:ID`); each call goes to the store that holds the folder it
//! names, or that holds the folder last opened; the engine sees one mailbox.

use super::session::{MailSession, UidFlags};
use super::sink::MessageSink;
use super::types::{
    AppendOutcome, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageIdentity, MessageMeta, Result,
};
use crate::item::collection_of;

pub struct WithItems<M, I> {
    pub mail: M,
    pub items: I,
    host: String,
    /// The folder opened last is a calendar or an address book.
    on_items: bool,
}

impl<M, I> WithItems<M, I> {
    /// `host` names the mailbox's store in messages (the mail store's).
    pub fn new(mail: M, items: I, host: String) -> WithItems<M, I> {
        WithItems {
            mail,
            items,
            host,
            on_items: false,
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

/// `folders` as (calendars and address books, mail folders).
fn split_by_store(folders: &[String]) -> (Vec<String>, Vec<String>) {
    folders
        .iter()
        .cloned()
        .partition(|f| collection_of(f).is_some())
}

/// Run `$body` with `$s` bound to the session that holds `$folder`, remembering which.
macro_rules! by_folder {
    ($self:ident, $folder:expr, $s:ident => $body:expr) => {{
        $self.on_items = collection_of($folder).is_some();
        if $self.on_items {
            let $s = &mut $self.items;
            $body
        } else {
            let $s = &mut $self.mail;
            $body
        }
    }};
}

/// Run `$body` with `$s` bound to the session of the folder opened last.
macro_rules! current {
    ($self:ident, $s:ident => $body:expr) => {{
        if $self.on_items {
            let $s = &mut $self.items;
            $body
        } else {
            let $s = &mut $self.mail;
            $body
        }
    }};
}

impl<M: MailSession, I: MailSession> MailSession for WithItems<M, I> {
    fn capabilities(&self) -> &Capabilities {
        if self.on_items {
            self.items.capabilities()
        } else {
            self.mail.capabilities()
        }
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        let mut out = self.mail.list_folders().await?;
        if let Some(f) = out.iter().find(|f| collection_of(&f.wire_name).is_some()) {
            return Err(EndpointError::Protocol {
                op: "LIST".into(),
                message: format!(
                    "the mail folder {:?} has a name cutover gives calendars and address books (calendar:..., contacts:...); rename it on the server, or move calendars and contacts in a separate project",
                    f.wire_name
                ),
            });
        }
        out.extend(self.items.list_folders().await?);
        Ok(out)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        by_folder!(self, folder, s => s.examine(folder).await)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        by_folder!(self, folder, s => s.open_for_append(folder).await)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        if collection_of(folder).is_some() {
            self.items.status(folder).await
        } else {
            self.mail.status(folder).await
        }
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        if collection_of(folder).is_some() {
            self.items.create_folder(folder).await
        } else {
            self.mail.create_folder(folder).await
        }
    }

    async fn create_folder_shown_as(&mut self, folder: &str, display: &str) -> Result<bool> {
        if collection_of(folder).is_some() {
            self.items.create_folder_shown_as(folder, display).await
        } else {
            self.mail.create_folder_shown_as(folder, display).await
        }
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        current!(self, s => s.fetch_meta(from_uid).await)
    }

    async fn fetch_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        current!(self, s => s.fetch_identities(from_uid).await)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        current!(self, s => s.fetch_messages(uids, sink).await)
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        current!(self, s => s.fetch_fingerprints(uids, from_uid).await)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        by_folder!(self, folder, s => s.append(folder, msgs).await)
    }

    // The pipelined calls go to the store that holds the folder (its own, or the trait's
    // plain default where that store has none), as the plain ones do.

    async fn examine_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        by_folder!(self, folder, s => s.examine_listing(folder, from_uid).await)
    }

    async fn status_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        by_folder!(self, folder, s => s.status_listing(folder, from_uid).await)
    }

    async fn folder_bytes(
        &mut self,
        folders: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        let (items, mail) = split_by_store(folders);
        let mut out = std::collections::HashMap::new();
        if !mail.is_empty() {
            out.extend(self.mail.folder_bytes(&mail).await?);
        }
        if !items.is_empty() {
            out.extend(self.items.folder_bytes(&items).await?);
        }
        Ok(out)
    }

    async fn statuses(
        &mut self,
        folders: &[String],
        markers: bool,
    ) -> Result<super::session::Statuses> {
        let (items, mail) = split_by_store(folders);
        let mut out = super::session::Statuses::new();
        if !mail.is_empty() {
            out.extend(self.mail.statuses(&mail, markers).await?);
        }
        if !items.is_empty() {
            out.extend(self.items.statuses(&items, markers).await?);
        }
        Ok(out)
    }

    async fn fetch_each(
        &mut self,
        next: &mut (dyn FnMut() -> Option<Vec<u32>> + Send),
        sink: &MessageSink,
    ) -> Result<()> {
        current!(self, s => s.fetch_each(next, sink).await)
    }

    async fn append_send(&mut self, folder: &str, msgs: &[Message]) -> Result<bool> {
        by_folder!(self, folder, s => s.append_send(folder, msgs).await)
    }

    async fn append_ready(&mut self, folder: &str) -> Result<()> {
        by_folder!(self, folder, s => s.append_ready(folder).await)
    }

    async fn append_finish(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        by_folder!(self, folder, s => s.append_finish(folder, msgs).await)
    }

    fn append_streams(&self, folder: &str) -> bool {
        if collection_of(folder).is_some() {
            self.items.append_streams(folder)
        } else {
            self.mail.append_streams(folder)
        }
    }

    async fn append_stream_begin(
        &mut self,
        folder: &str,
        head: &Message,
        size: u64,
    ) -> Result<bool> {
        by_folder!(self, folder, s => s.append_stream_begin(folder, head, size).await)
    }

    async fn append_stream_bytes(&mut self, folder: &str, bytes: &[u8]) -> Result<()> {
        by_folder!(self, folder, s => s.append_stream_bytes(folder, bytes).await)
    }

    async fn append_stream_end(&mut self, folder: &str, rest: &[u8]) -> Result<()> {
        by_folder!(self, folder, s => s.append_stream_end(folder, rest).await)
    }

    fn append_stream_abort(&mut self, folder: &str) {
        by_folder!(self, folder, s => s.append_stream_abort(folder))
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        current!(self, s => s.expunge_uids(uids).await)
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        by_folder!(self, from, s => s.rename_folder(from, to).await)
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        by_folder!(self, folder, s => s.delete_folder(folder).await)
    }

    async fn examine_changes(&mut self, folder: &str) -> Result<(FolderState, Option<u64>)> {
        by_folder!(self, folder, s => s.examine_changes(folder).await)
    }

    fn marker_covers_expunges(&self) -> bool {
        if self.on_items {
            self.items.marker_covers_expunges()
        } else {
            self.mail.marker_covers_expunges()
        }
    }

    async fn list_uids(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        current!(self, s => s.list_uids(from_uid).await)
    }

    async fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        current!(self, s => s.list_flags(uids, changed_since).await)
    }

    async fn set_flags(&mut self, uid: u32, add: &[String], remove: &[String]) -> Result<()> {
        current!(self, s => s.set_flags(uid, add, remove).await)
    }

    async fn move_messages(&mut self, uids: &[u32], to: &str) -> Result<()> {
        current!(self, s => s.move_messages(uids, to).await)
    }

    async fn newer_versions(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        current!(self, s => s.newer_versions(uids).await)
    }

    async fn expunge_unchanged(&mut self, uids: &[u32]) -> Result<Vec<u32>> {
        current!(self, s => s.expunge_unchanged(uids).await)
    }

    fn take_notice(&mut self) -> Option<String> {
        current!(self, s => s.take_notice())
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        if self.on_items {
            self.items.permanent_keywords()
        } else {
            self.mail.permanent_keywords()
        }
    }

    async fn logout(self) {
        self.mail.logout().await;
        self.items.logout().await;
    }
}
