//! The engine's [`MailSession`] calls on a user's Google contacts (see `people`): the
//! address books are the folders, each contact one item.

use super::calendar::read_only;
use super::people::GooglePeople;
use crate::api::ItemKind;
use crate::endpoint::session::MailSession;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageMeta, Result,
};

impl MailSession for GooglePeople {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        if !self.c.items.contacts {
            return Ok(Vec::new());
        }
        Ok(self.folders())
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.select(folder, "examine").await
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        self.select(folder, "open for append").await
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let keep = self.sel.take();
        let r = self.select(folder, "status").await;
        match keep {
            Some(k) if k.folder != folder => self.sel = Some(k),
            _ => {}
        }
        r
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        if self.c.side == "source" {
            return Err(read_only("create address book"));
        }
        if self.folders().iter().any(|f| f.wire_name == folder) {
            return Ok(false);
        }
        Err(EndpointError::No {
            op: self.ctx("create address book"),
            message: format!(
                "Google keeps one address book per user (contacts:default); {folder} cannot be created"
            ),
        })
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let mut out = Vec::new();
        for i in self.chosen(&[], from_uid) {
            out.push(MessageMeta {
                uid: i.uid,
                size: self.text_of(&i)?.len() as u64,
            });
        }
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        for i in self.chosen(uids, 0) {
            if !sink.send(Message::item(i.uid, self.text_of(&i)?)).await {
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
        for i in self.chosen(uids, from_uid) {
            out.push(Fingerprinted::item(
                ItemKind::Contact,
                i.uid,
                &self.text_of(&i)?,
            ));
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        self.write(folder, msgs).await
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        self.expunge(uids).await
    }

    /// A source contact's UID stands for one version (resource name and etag): one no
    /// longer listed whose resource name is listed under another UID changed.
    async fn newer_versions(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        let Some(sel) = &self.sel else {
            return Ok(Vec::new());
        };
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.user, &sel.folder, uids)
            .map_err(super::wire::store_err("changes"))?;
        let now = sel
            .people
            .iter()
            .map(|i| {
                let id = i.key.rsplit_once(' ').map_or(i.key.as_str(), |(k, _)| k);
                (id, i.uid)
            })
            .collect();
        Ok(crate::item::version::newer_versions(refs, &now))
    }

    async fn rename_folder(&mut self, _from: &str, _to: &str) -> Result<()> {
        Err(EndpointError::No {
            op: self.ctx("rename address book"),
            message: "Google's address book is not renamed".into(),
        })
    }

    async fn delete_folder(&mut self, _folder: &str) -> Result<()> {
        // The user's one address book stays.
        Ok(())
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        Some(&self.no_keywords)
    }

    async fn logout(self) {}
}
