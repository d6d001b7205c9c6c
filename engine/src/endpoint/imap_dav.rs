//! An IMAP endpoint with its CalDAV/CardDAV server beside it (`[source.dav]`), as one
//! session per mailbox (see `with_items`).

use super::dav::{DavConnector, DavSession};
use super::imap::{ImapConnector, ImapSession};
use super::types::Result;
use super::with_items::WithItems;
use crate::config::Credential;

pub type ImapDavSession = WithItems<ImapSession, DavSession>;

#[derive(Clone)]
pub struct ImapDavConnector {
    pub imap: ImapConnector,
    pub dav: DavConnector,
}

impl ImapDavConnector {
    pub async fn connect(&self, imap: &Credential, dav: &Credential) -> Result<ImapDavSession> {
        let i = self.imap.connect(imap).await?;
        let d = self.dav.connect(dav).await?;
        let host = i.host().to_string();
        Ok(WithItems::new(i, d, host))
    }
}
