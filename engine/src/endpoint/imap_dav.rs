//! An IMAP endpoint with its CalDAV/CardDAV server beside it (`[source.dav]`): one session
//! per mailbox whose folders are the IMAP folders and the calendars and address books
//! (`calendar:ID`, `contacts:ID`). Each call goes to the side that holds the folder it names,
//! or that holds the folder last opened; the engine sees one mailbox.

use super::dav::{DavConnector, DavSession};
use super::imap::{ImapConnector, ImapSession};
use super::session::MailSession;
use super::sink::MessageSink;
use super::types::{
    AppendOutcome, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageIdentity, MessageMeta, Result,
};
use crate::config::Credential;
use crate::item::collection_of;

#[derive(Clone)]
pub struct ImapDavConnector {
    pub imap: ImapConnector,
    pub dav: DavConnector,
}

impl ImapDavConnector {
    pub async fn connect(&self, imap: &Credential, dav: &Credential) -> Result<ImapDavSession> {
        let i = self.imap.connect(imap).await?;
        let d = self.dav.connect(dav).await?;
        Ok(ImapDavSession {
            imap: i,
            dav: d,
            on_dav: false,
        })
    }
}

pub struct ImapDavSession {
    pub imap: ImapSession,
    pub dav: DavSession,
    /// The folder opened last is a calendar or an address book.
    on_dav: bool,
}

/// Run `$body` with `$s` bound to the session that holds `$folder`, remembering which.
macro_rules! by_folder {
    ($self:ident, $folder:expr, $s:ident => $body:expr) => {{
        $self.on_dav = collection_of($folder).is_some();
        if $self.on_dav {
            let $s = &mut $self.dav;
            $body
        } else {
            let $s = &mut $self.imap;
            $body
        }
    }};
}

/// Run `$body` with `$s` bound to the session of the folder opened last.
macro_rules! current {
    ($self:ident, $s:ident => $body:expr) => {{
        if $self.on_dav {
            let $s = &mut $self.dav;
            $body
        } else {
            let $s = &mut $self.imap;
            $body
        }
    }};
}

impl ImapDavSession {
    pub fn host(&self) -> &str {
        self.imap.host()
    }
}

impl MailSession for ImapDavSession {
    fn capabilities(&self) -> &Capabilities {
        if self.on_dav {
            self.dav.capabilities()
        } else {
            self.imap.capabilities()
        }
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        let mut out = self.imap.list_folders().await?;
        if let Some(f) = out.iter().find(|f| collection_of(&f.wire_name).is_some()) {
            return Err(EndpointError::Protocol {
                op: "LIST".into(),
                message: format!(
                    "the IMAP folder {:?} has a name cutover gives calendars and address books (calendar:..., contacts:...); rename it on the server, or move calendars and contacts in a separate project",
                    f.wire_name
                ),
            });
        }
        out.extend(self.dav.list_folders().await?);
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
            self.dav.status(folder).await
        } else {
            self.imap.status(folder).await
        }
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        if collection_of(folder).is_some() {
            self.dav.create_folder(folder).await
        } else {
            self.imap.create_folder(folder).await
        }
    }

    async fn create_folder_shown_as(&mut self, folder: &str, display: &str) -> Result<bool> {
        if collection_of(folder).is_some() {
            self.dav.create_folder_shown_as(folder, display).await
        } else {
            self.imap.create_folder(folder).await
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

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        current!(self, s => s.expunge_uids(uids).await)
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        by_folder!(self, from, s => s.rename_folder(from, to).await)
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        by_folder!(self, folder, s => s.delete_folder(folder).await)
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        if self.on_dav {
            self.dav.permanent_keywords()
        } else {
            self.imap.permanent_keywords()
        }
    }

    async fn logout(self) {
        self.imap.logout().await;
        self.dav.logout().await;
    }
}
