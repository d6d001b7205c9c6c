//! A Google Workspace user's calendars (Calendar API) and contacts (People API) as one
//! session beside the mail: each call goes to the API of the folder it names
//! (`calendar:ID` or `contacts:ID`), or of the folder opened last.

use super::calendar::GoogleCalendars;
use super::connector::GmailSession;
use super::people::GooglePeople;
use crate::api::ItemKind;
use crate::endpoint::session::MailSession;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, Fingerprinted, Folder, FolderState, Message, MessageMeta, Result,
};
use crate::item::kind_of_folder;

pub struct GoogleItems {
    cal: GoogleCalendars,
    people: GooglePeople,
    /// The folder opened last is an address book.
    on_people: bool,
}

impl GoogleItems {
    /// The calendars and contacts of the user of a Gmail session, on its sign-in.
    pub fn of(mail: &GmailSession) -> GoogleItems {
        GoogleItems {
            cal: GoogleCalendars::of(mail),
            people: GooglePeople::of(mail),
            on_people: false,
        }
    }
}

macro_rules! by_folder {
    ($self:ident, $folder:expr, $s:ident => $body:expr) => {{
        $self.on_people = kind_of_folder($folder) == ItemKind::Contact;
        if $self.on_people {
            let $s = &mut $self.people;
            $body
        } else {
            let $s = &mut $self.cal;
            $body
        }
    }};
}

macro_rules! current {
    ($self:ident, $s:ident => $body:expr) => {{
        if $self.on_people {
            let $s = &mut $self.people;
            $body
        } else {
            let $s = &mut $self.cal;
            $body
        }
    }};
}

impl MailSession for GoogleItems {
    fn capabilities(&self) -> &Capabilities {
        if self.on_people {
            self.people.capabilities()
        } else {
            self.cal.capabilities()
        }
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        let mut out = self.cal.list_folders().await?;
        out.extend(self.people.list_folders().await?);
        Ok(out)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        by_folder!(self, folder, s => s.examine(folder).await)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        by_folder!(self, folder, s => s.open_for_append(folder).await)
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        if kind_of_folder(folder) == ItemKind::Contact {
            self.people.status(folder).await
        } else {
            self.cal.status(folder).await
        }
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        if kind_of_folder(folder) == ItemKind::Contact {
            self.people.create_folder(folder).await
        } else {
            self.cal.create_folder(folder).await
        }
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        current!(self, s => s.fetch_meta(from_uid).await)
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

    async fn newer_versions(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        current!(self, s => s.newer_versions(uids).await)
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        by_folder!(self, from, s => s.rename_folder(from, to).await)
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        by_folder!(self, folder, s => s.delete_folder(folder).await)
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        if self.on_people {
            self.people.permanent_keywords()
        } else {
            self.cal.permanent_keywords()
        }
    }

    async fn logout(self) {}
}
