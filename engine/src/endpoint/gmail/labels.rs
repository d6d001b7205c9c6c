//! Labels as folders: the system labels under their folder names, user labels by name, and
//! mail without a folder label as the archive; what a folder name points to.

use reqwest::Method;

use super::connector::GmailSession;
use super::types::{
    ARCHIVE, ARCHIVE_ALT, ARCHIVE_KEY, Label, LabelList, RESERVED_ALIASES, SYSTEM_FOLDERS, Target,
    units,
};
use crate::endpoint::types::{EndpointError, Result};
use crate::mail::utf7::decode_mutf7;

impl GmailSession {
    pub(super) async fn load_labels(&mut self) -> Result<()> {
        let op = "labels.list";
        let (st, body) = self
            .call(
                op,
                units::LABELS_LIST,
                Method::GET,
                self.url(false, &["labels"]),
                None,
            )
            .await?;
        if !st.is_success() {
            return Err(self.unexpected(op, st, &body));
        }
        self.labels = self.parse::<LabelList>(op, &body)?.labels;
        Ok(())
    }

    pub(super) fn user_label_named(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.kind != "system" && l.name == name)
    }

    pub(super) fn archive_name(&self) -> &'static str {
        if self.user_label_named(ARCHIVE).is_some() {
            ARCHIVE_ALT
        } else {
            ARCHIVE
        }
    }

    /// The folder name (modified UTF-7 on the wire, like IMAP names) for a label id.
    pub(super) fn folder_of_label(&self, id: &str) -> Option<String> {
        if let Some((_, name, _)) = SYSTEM_FOLDERS.iter().find(|(l, _, _)| *l == id) {
            return Some(name.to_string());
        }
        self.labels
            .iter()
            .find(|l| l.id == id && l.kind != "system")
            .map(|l| l.name.clone())
    }

    /// Where a folder name points, from the labels known (read again once when unknown).
    pub(super) async fn resolve(
        &mut self,
        wire: &str,
        op: &str,
    ) -> Result<(String, Target, String)> {
        let name = decode_mutf7(wire);
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok((
                "INBOX".into(),
                Target::Label("INBOX".into()),
                "INBOX".into(),
            ));
        }
        if let Some((id, n, _)) = SYSTEM_FOLDERS.iter().find(|(_, n, _)| *n == name) {
            return Ok((n.to_string(), Target::Label(id.to_string()), id.to_string()));
        }
        // Names Gmail reserves for its system labels (it refuses them as label names).
        if let Some((_, id)) = RESERVED_ALIASES
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&name))
        {
            return Ok((name, Target::Label(id.to_string()), id.to_string()));
        }
        for attempt in 0..2 {
            if name == self.archive_name() {
                return Ok((name, Target::Archive, ARCHIVE_KEY.into()));
            }
            if let Some(l) = self.user_label_named(&name) {
                let id = l.id.clone();
                return Ok((name, Target::Label(id.clone()), id));
            }
            if attempt == 0 {
                self.load_labels().await?;
            }
        }
        Err(EndpointError::NoFolder {
            op: self.ctx(op),
            folder: name,
            server: None,
        })
    }

    /// The user label behind a folder name, for rename and delete.
    pub(super) async fn user_label(&mut self, folder: &str, op: &str) -> Result<Label> {
        match self.resolve(folder, op).await? {
            (_, Target::Label(id), _) => match self.labels.iter().find(|l| l.id == id) {
                Some(l) if l.kind != "system" => Ok(l.clone()),
                _ => Err(EndpointError::No {
                    op: self.ctx(op),
                    message: format!(
                        "{} is a Gmail system label; it cannot be changed",
                        decode_mutf7(folder)
                    ),
                }),
            },
            (name, Target::Archive, _) => Err(EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "{name} is mail without labels, not a label; it cannot be changed"
                ),
            }),
        }
    }
}
