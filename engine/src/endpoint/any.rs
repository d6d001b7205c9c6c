//! One connector and one session type over every endpoint kind, so that the engine, rollback,
//! verification and assessment run unchanged whatever the project's source and destination
//! are. Each variant delegates to its endpoint; adding a kind is one arm per method here.

use super::dav::DavConnector;
use super::gmail::{GmailConnector, GmailSession, GoogleItems};
use super::graph::{GraphConnector, GraphSession};
use super::imap::{ImapConnector, ImapSession};
use super::imap_dav::{ImapDavConnector, ImapDavSession};
use super::maildir::{ItemDirSession, MaildirConnector, MaildirSession};
use super::pop3::{Pop3Connector, Pop3Session};
use super::session::{MailSession, UidFlags};
use super::sink::MessageSink;
use super::types::{
    AppendOutcome, Capabilities, Fingerprinted, Folder, FolderState, Message, MessageIdentity,
    MessageMeta, Result,
};
use super::with_items::WithItems;
use crate::config::{self, Credential, EndpointKind, Items, MailboxSpec};
use crate::journal::Journal;

/// Opens sessions on one side (source or destination) of a project, within its connection
/// budget. Cloning shares the budget.
#[derive(Clone)]
pub enum AnyConnector {
    Imap(ImapConnector),
    Pop3(Pop3Connector),
    Graph(GraphConnector),
    Gmail(GmailConnector),
    Maildir(MaildirConnector),
    /// IMAP with its CalDAV/CardDAV server, when the project moves calendars or contacts.
    ImapDav(ImapDavConnector),
}

/// A logged-in session on any endpoint kind.
pub enum AnySession {
    Imap(ImapSession),
    Pop3(Pop3Session),
    Graph(GraphSession),
    Gmail(GmailSession),
    Maildir(MaildirSession),
    ImapDav(Box<ImapDavSession>),
    /// A Maildir tree with its calendars and contacts beside it.
    MaildirItems(Box<WithItems<MaildirSession, ItemDirSession>>),
    /// A Google Workspace user's mail (Gmail API), calendars (Calendar API) and contacts
    /// (People API).
    GmailItems(Box<WithItems<GmailSession, GoogleItems>>),
}

impl AnyConnector {
    /// `store` is the project's journal: endpoints without IMAP UIDs keep their id-to-UID
    /// map there. An IMAP side with a DAV server also reaches its calendars and contacts
    /// when `items` asks for them.
    pub fn new(
        cfg: &config::Endpoint,
        side: &'static str,
        store: &Journal,
        items: Items,
    ) -> Result<AnyConnector> {
        if let (EndpointKind::Imap, Some(dav), true) = (cfg.kind, &cfg.dav, items.any_dav()) {
            return Ok(AnyConnector::ImapDav(ImapDavConnector {
                imap: ImapConnector::for_project(cfg, side, store.path())?,
                dav: DavConnector::new(cfg, dav, items, side, store)?,
            }));
        }
        match cfg.kind {
            EndpointKind::Imap => Ok(AnyConnector::Imap(ImapConnector::for_project(
                cfg,
                side,
                store.path(),
            )?)),
            EndpointKind::Pop3 => Ok(AnyConnector::Pop3(Pop3Connector::new(cfg, side, store)?)),
            EndpointKind::Graph => Ok(AnyConnector::Graph(GraphConnector::new(
                cfg, items, side, store,
            )?)),
            EndpointKind::Gmail => Ok(AnyConnector::Gmail(GmailConnector::with_items(
                cfg, side, store, items,
            )?)),
            EndpointKind::Maildir => Ok(AnyConnector::Maildir(MaildirConnector::new(
                cfg, side, store, items,
            )?)),
        }
    }

    pub fn config(&self) -> &config::Endpoint {
        match self {
            AnyConnector::Imap(c) => c.config(),
            AnyConnector::Pop3(c) => c.config(),
            AnyConnector::Graph(c) => c.config(),
            AnyConnector::Gmail(c) => c.config(),
            AnyConnector::Maildir(c) => c.config(),
            AnyConnector::ImapDav(c) => c.imap.config(),
        }
    }

    /// "source" or "destination".
    pub fn side(&self) -> &'static str {
        match self {
            AnyConnector::Imap(c) => c.side,
            AnyConnector::Pop3(c) => c.side,
            AnyConnector::Graph(c) => c.side,
            AnyConnector::Gmail(c) => c.side,
            AnyConnector::Maildir(c) => c.side,
            AnyConnector::ImapDav(c) => c.imap.side,
        }
    }

    pub fn max_connections(&self) -> usize {
        match self {
            AnyConnector::Imap(c) => c.max_connections(),
            AnyConnector::Pop3(c) => c.max_connections(),
            AnyConnector::Graph(c) => c.max_connections(),
            AnyConnector::Gmail(c) => c.max_connections(),
            AnyConnector::Maildir(c) => c.max_connections(),
            // Each server has its own budget of `max_connections`: the gauge shows both.
            AnyConnector::ImapDav(c) => c.imap.max_connections() + c.dav.max_connections(),
        }
    }

    /// Connections (or, for HTTP APIs, mailbox sessions) open right now.
    pub fn in_use(&self) -> usize {
        match self {
            AnyConnector::Imap(c) => c.in_use(),
            AnyConnector::Pop3(c) => c.in_use(),
            AnyConnector::Graph(c) => c.in_use(),
            AnyConnector::Gmail(c) => c.in_use(),
            AnyConnector::Maildir(c) => c.in_use(),
            AnyConnector::ImapDav(c) => c.imap.in_use() + c.dav.in_use(),
        }
    }

    /// Bytes on the wire and of protocol for an IMAP endpoint (None for the others, whose
    /// HTTP or file traffic is not counted this way).
    pub fn wire(&self) -> Option<super::compress::WireBytes> {
        match self {
            AnyConnector::Imap(c) => Some(c.wire()),
            AnyConnector::ImapDav(c) => Some(c.imap.wire()),
            _ => None,
        }
    }

    /// Wait for a free connection slot, then connect and log in as `cred`.
    pub async fn connect(&self, cred: &Credential) -> Result<AnySession> {
        match self {
            AnyConnector::Imap(c) => c.connect(cred).await.map(AnySession::Imap),
            AnyConnector::Pop3(c) => c.connect(cred).await.map(AnySession::Pop3),
            AnyConnector::Graph(c) => c.connect(cred).await.map(AnySession::Graph),
            AnyConnector::Gmail(c) if c.items().any_dav() => {
                let mail = c.connect(cred).await?;
                let host = mail.host().to_string();
                let cals = GoogleItems::of(&mail);
                Ok(AnySession::GmailItems(Box::new(WithItems::new(
                    mail, cals, host,
                ))))
            }
            AnyConnector::Gmail(c) => c.connect(cred).await.map(AnySession::Gmail),
            AnyConnector::Maildir(c) if c.items.any_dav() => {
                let mail = c.connect(cred).await?;
                let host = mail.host().to_string();
                Ok(AnySession::MaildirItems(Box::new(WithItems::new(
                    mail,
                    c.items_of(&cred.user),
                    host,
                ))))
            }
            AnyConnector::Maildir(c) => c.connect(cred).await.map(AnySession::Maildir),
            // Mail only: the callers that reach calendars use `connect_mailbox`.
            AnyConnector::ImapDav(c) => c.imap.connect(cred).await.map(AnySession::Imap),
        }
    }

    /// Connect and log in as this side of the mailbox `spec`: its mail, and its calendars
    /// and contacts where this side has a DAV server and the project moves them.
    pub async fn connect_mailbox(&self, spec: &MailboxSpec) -> Result<AnySession> {
        let source = self.side() == "source";
        let (cred, dav) = if source {
            (&spec.source, spec.source_dav.as_ref())
        } else {
            (&spec.destination, spec.destination_dav.as_ref())
        };
        match (self, dav) {
            (AnyConnector::ImapDav(c), Some(dav)) => c
                .connect(cred, dav)
                .await
                .map(|s| AnySession::ImapDav(Box::new(s))),
            (AnyConnector::ImapDav(_), None) => Err(super::types::EndpointError::Auth {
                user: cred.user.clone(),
                message: "no CalDAV/CardDAV login for this mailbox (dav_user / dav_password)"
                    .into(),
            }),
            _ => self.connect(cred).await,
        }
    }

    /// Mailboxes an HTTP API endpoint held back in the last minute (server 429/503/504 or a
    /// local rate limit), each with why, for the console.
    pub fn throttled_accounts(&self) -> Vec<String> {
        match self {
            AnyConnector::Graph(c) => c.throttled_accounts(),
            _ => Vec::new(),
        }
    }
}

/// Run `$body` with `$s` bound to the variant's session.
macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            AnySession::Imap($s) => $body,
            AnySession::Pop3($s) => $body,
            AnySession::Graph($s) => $body,
            AnySession::Gmail($s) => $body,
            AnySession::Maildir($s) => $body,
            AnySession::ImapDav($s) => $body,
            AnySession::MaildirItems($s) => $body,
            AnySession::GmailItems($s) => $body,
        }
    };
}

impl AnySession {
    /// The server's host name, for messages.
    pub fn host(&self) -> &str {
        each!(self, s => s.host())
    }

    /// The Gmail API session, for what only Gmail has (every label of a message).
    pub fn as_gmail_mut(&mut self) -> Option<&mut GmailSession> {
        match self {
            AnySession::Gmail(s) => Some(s),
            AnySession::GmailItems(s) => Some(&mut s.mail),
            _ => None,
        }
    }

    /// The IMAP session, for what the console's lag probe asks of IMAP (HIGHESTMODSEQ);
    /// None for the other kinds.
    pub fn as_imap_mut(&mut self) -> Option<&mut ImapSession> {
        match self {
            AnySession::Imap(s) => Some(s),
            AnySession::ImapDav(s) => Some(&mut s.mail),
            _ => None,
        }
    }

    /// Storage (used, limit) in bytes where the endpoint reports a quota.
    pub async fn storage_quota(&mut self, folder: &str) -> Result<Option<(u64, u64)>> {
        match self {
            AnySession::Imap(s) => s.storage_quota(folder).await,
            AnySession::ImapDav(s) => s.mail.storage_quota(folder).await,
            _ => Ok(None),
        }
    }
}

impl MailSession for AnySession {
    fn capabilities(&self) -> &Capabilities {
        each!(self, s => s.capabilities())
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        each!(self, s => s.list_folders().await)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        each!(self, s => s.examine(folder).await)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        each!(self, s => s.open_for_append(folder).await)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        each!(self, s => s.status(folder).await)
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        each!(self, s => s.create_folder(folder).await)
    }

    async fn create_folders(&mut self, folders: &[(String, String)]) -> Result<Vec<Result<bool>>> {
        each!(self, s => s.create_folders(folders).await)
    }

    async fn create_folder_shown_as(&mut self, folder: &str, display: &str) -> Result<bool> {
        each!(self, s => s.create_folder_shown_as(folder, display).await)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        each!(self, s => s.fetch_meta(from_uid).await)
    }

    async fn fetch_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        each!(self, s => s.fetch_identities(from_uid).await)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        each!(self, s => s.fetch_messages(uids, sink).await)
    }

    async fn fetch_each(
        &mut self,
        next: &mut (dyn FnMut() -> Option<Vec<u32>> + Send),
        sink: &MessageSink,
    ) -> Result<()> {
        each!(self, s => s.fetch_each(next, sink).await)
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        each!(self, s => s.fetch_fingerprints(uids, from_uid).await)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        each!(self, s => s.append(folder, msgs).await)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        each!(self, s => s.expunge_uids(uids).await)
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        each!(self, s => s.rename_folder(from, to).await)
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        each!(self, s => s.delete_folder(folder).await)
    }

    async fn examine_changes(&mut self, folder: &str) -> Result<(FolderState, Option<u64>)> {
        each!(self, s => s.examine_changes(folder).await)
    }

    fn marker_covers_expunges(&self) -> bool {
        each!(self, s => s.marker_covers_expunges())
    }

    async fn newer_versions(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        each!(self, s => s.newer_versions(uids).await)
    }

    async fn expunge_unchanged(&mut self, uids: &[u32]) -> Result<Vec<u32>> {
        each!(self, s => s.expunge_unchanged(uids).await)
    }

    async fn statuses(
        &mut self,
        folders: &[String],
        markers: bool,
    ) -> Result<crate::endpoint::Statuses> {
        each!(self, s => s.statuses(folders, markers).await)
    }

    async fn examine_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        each!(self, s => s.examine_listing(folder, from_uid).await)
    }

    async fn folder_bytes(
        &mut self,
        folders: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        each!(self, s => s.folder_bytes(folders).await)
    }

    async fn status_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        each!(self, s => s.status_listing(folder, from_uid).await)
    }

    async fn append_send(&mut self, folder: &str, msgs: &[Message]) -> Result<bool> {
        each!(self, s => s.append_send(folder, msgs).await)
    }

    async fn append_ready(&mut self, folder: &str) -> Result<()> {
        each!(self, s => s.append_ready(folder).await)
    }

    async fn append_finish(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        each!(self, s => s.append_finish(folder, msgs).await)
    }

    fn append_streams(&self, folder: &str) -> bool {
        each!(self, s => s.append_streams(folder))
    }

    async fn append_stream_begin(
        &mut self,
        folder: &str,
        head: &Message,
        size: u64,
    ) -> Result<bool> {
        each!(self, s => s.append_stream_begin(folder, head, size).await)
    }

    async fn append_stream_bytes(&mut self, folder: &str, bytes: &[u8]) -> Result<()> {
        each!(self, s => s.append_stream_bytes(folder, bytes).await)
    }

    async fn append_stream_end(&mut self, folder: &str, rest: &[u8]) -> Result<()> {
        each!(self, s => s.append_stream_end(folder, rest).await)
    }

    fn append_stream_abort(&mut self, folder: &str) {
        each!(self, s => s.append_stream_abort(folder))
    }

    fn take_notice(&mut self) -> Option<String> {
        each!(self, s => s.take_notice())
    }

    async fn list_uids(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        each!(self, s => s.list_uids(from_uid).await)
    }

    async fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        each!(self, s => s.list_flags(uids, changed_since).await)
    }

    async fn set_flags(&mut self, uid: u32, add: &[String], remove: &[String]) -> Result<()> {
        each!(self, s => s.set_flags(uid, add, remove).await)
    }

    async fn move_messages(&mut self, uids: &[u32], to: &str) -> Result<()> {
        each!(self, s => s.move_messages(uids, to).await)
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        each!(self, s => s.permanent_keywords())
    }

    async fn logout(self) -> () {
        each!(self, s => s.logout().await)
    }
}
