//! The engine's [`MailSession`] calls on a user's Google calendars (see `calendar`): the
//! calendars are the folders, each iCalUID's events one item.

use super::calendar::{GoogleCalendars, read_only};
use crate::api::ItemKind;
use crate::endpoint::session::MailSession;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageMeta, Result,
};

impl MailSession for GoogleCalendars {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        if !self.c.items.calendar {
            return Ok(Vec::new());
        }
        Ok(self
            .calendars()
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
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
        self.create(folder).await
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let mut out = Vec::new();
        for g in self.chosen(&[], from_uid) {
            out.push(MessageMeta {
                uid: g.uid,
                size: self.text_of(&g)?.len() as u64,
            });
        }
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        for g in self.chosen(uids, 0) {
            let m = Message::item(g.uid, self.text_of(&g)?);
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
        for g in self.chosen(uids, from_uid) {
            out.push(Fingerprinted::item(
                ItemKind::Event,
                g.uid,
                &self.text_of(&g)?,
            ));
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        if self.c.side == "source" {
            return Err(read_only("append"));
        }
        if self.sel.as_ref().is_none_or(|s| s.folder != folder) {
            self.select(folder, "append").await?;
        }
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            out.push(self.write(folder, m).await?);
        }
        Ok(out)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        self.expunge(uids).await
    }

    /// A source event series' UID stands for one version (iCalUID and a digest of its
    /// events): one no longer listed whose iCalUID is listed under another UID changed.
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
            .groups
            .iter()
            .map(|g| (g.ical_uid.as_str(), g.uid))
            .collect();
        Ok(crate::item::version::newer_versions(refs, &now))
    }

    async fn rename_folder(&mut self, _from: &str, _to: &str) -> Result<()> {
        Err(EndpointError::No {
            op: self.ctx("rename calendar"),
            message: "a calendar is not renamed; it is deleted when empty".into(),
        })
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        self.delete(folder).await
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        Some(&self.no_keywords)
    }

    async fn logout(self) {}
}
