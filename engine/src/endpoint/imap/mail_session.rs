//! The endpoint trait over an IMAP session: each call goes to the module of its concern.

use std::time::Duration;

use super::session::ImapSession;
use crate::endpoint::session::{MailSession, UidFlags};
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, Fingerprinted, Folder, FolderState, Message, MessageIdentity,
    MessageMeta, Result,
};

impl MailSession for ImapSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        self.list().await
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.examine_folder(folder).await
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        self.select_folder(folder).await
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        self.status_folder(folder).await
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        self.create(folder).await
    }

    async fn create_folders(&mut self, folders: &[(String, String)]) -> Result<Vec<Result<bool>>> {
        let wires: Vec<String> = folders.iter().map(|(w, _)| w.clone()).collect();
        self.create_all(&wires).await
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        self.list_meta(from_uid).await
    }

    async fn examine_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        self.examine_listing(folder, from_uid).await
    }

    async fn folder_bytes(
        &mut self,
        folders: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        self.bytes_held(folders).await
    }

    async fn status_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        self.status_listing(folder, from_uid).await
    }

    async fn fetch_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        self.list_identities(from_uid).await
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        self.stream_messages(uids, sink).await
    }

    async fn fetch_each(
        &mut self,
        next: &mut (dyn FnMut() -> Option<Vec<u32>> + Send),
        sink: &MessageSink,
    ) -> Result<()> {
        self.stream_lists(next, sink).await
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        self.hash_messages(uids, from_uid).await
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        if self.multiappend_for(msgs.len()) {
            self.append_multi(folder, msgs).await
        } else {
            self.append_window(folder, msgs).await
        }
    }

    async fn append_send(&mut self, folder: &str, msgs: &[Message]) -> Result<bool> {
        if !self.multiappend_for(msgs.len()) {
            return Ok(false);
        }
        self.multi_send(folder, msgs).await?;
        Ok(true)
    }

    async fn append_ready(&mut self, folder: &str) -> Result<()> {
        self.multi_ready(folder).await
    }

    async fn append_finish(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        self.multi_finish(folder, msgs).await
    }

    fn append_streams(&self, _: &str) -> bool {
        self.multiappend_for(1)
    }

    async fn append_stream_begin(
        &mut self,
        folder: &str,
        head: &Message,
        size: u64,
    ) -> Result<bool> {
        self.stream_begin(folder, head, size).await
    }

    async fn append_stream_bytes(&mut self, _: &str, bytes: &[u8]) -> Result<()> {
        self.stream_bytes(bytes).await
    }

    async fn append_stream_end(&mut self, _: &str, rest: &[u8]) -> Result<()> {
        self.stream_end(rest).await
    }

    fn append_stream_abort(&mut self, _: &str) {
        self.stream_abort();
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        self.expunge(uids).await
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        self.rename(from, to).await
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        self.delete(folder).await
    }

    async fn examine_changes(&mut self, folder: &str) -> Result<(FolderState, Option<u64>)> {
        self.examine_modseq(folder).await
    }

    fn marker_covers_expunges(&self) -> bool {
        self.has_qresync()
    }

    async fn statuses(
        &mut self,
        folders: &[String],
        markers: bool,
    ) -> Result<crate::endpoint::Statuses> {
        self.status_all(folders, markers).await
    }

    async fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        self.uid_flags(uids, changed_since).await
    }

    async fn set_flags(&mut self, uid: u32, add: &[String], remove: &[String]) -> Result<()> {
        self.store_flags(uid, add, remove).await
    }

    async fn move_messages(&mut self, uids: &[u32], to: &str) -> Result<()> {
        self.move_uids(uids, to).await
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        self.keywords.as_deref()
    }

    /// LOGOUT said, its answer not waited for (nothing in it matters, and across a WAN the
    /// wait is a round trip per connection); then the connection is closed.
    async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.s.run_command("LOGOUT")).await;
    }
}
