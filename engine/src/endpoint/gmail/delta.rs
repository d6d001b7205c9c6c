//! What a delta pass (`cutover sync`) needs of a Gmail mailbox as the destination: the
//! flags of the examined folder's messages (from their labels: no `UNREAD` = `\Seen`,
//! `STARRED` = `\Flagged`, `DRAFT` = `\Draft`), `\Seen` and `\Flagged` set with
//! `messages.modify` (`UNREAD` and `STARRED` removed or added), and moves as label changes
//! (`messages.modify`: the folder's label removed, the target's added; Archive is no
//! label). A message keeps its id through a move: the target folder's listing gives it a
//! UID there, and the pass finds it by fingerprint. Keywords are not carried (the copy
//! writes none as labels).

use reqwest::Method;
use serde_json::json;

use super::connector::GmailSession;
use super::types::{ARCHIVE_KEY, Target};
use super::wire::flags_of;
use crate::endpoint::session::UidFlags;
use crate::endpoint::types::{EndpointError, Result};

/// `messages.modify` costs 5 units.
const MESSAGES_MODIFY: u32 = 5;

impl GmailSession {
    pub(super) async fn label_flags(&mut self, uids: Option<&[u32]>) -> Result<Vec<UidFlags>> {
        let which = match uids {
            None => self.select("list flags", &[], 1)?,
            Some([]) => return Ok(Vec::new()),
            Some(u) => self.select("list flags", u, 1)?,
        };
        let mut out = Vec::with_capacity(which.len());
        for (uid, id) in which {
            if let Some(m) = self.meta_of(&id).await? {
                out.push((uid, flags_of(&m.labels)));
            }
        }
        Ok(out)
    }

    /// `messages.modify` of one message; a message gone meanwhile is left alone.
    async fn modify(&mut self, id: &str, add: &[&str], remove: &[&str]) -> Result<()> {
        let op = "messages.modify";
        if self.c.side == "source" {
            return Err(EndpointError::Protocol {
                op: self.ctx(op),
                message: "the source is never modified (Gmail source is read-only)".into(),
            });
        }
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let body = json!({"addLabelIds": add, "removeLabelIds": remove}).to_string();
        let (st, resp) = self
            .call(
                op,
                MESSAGES_MODIFY,
                Method::POST,
                self.url(false, &["messages", id, "modify"]),
                Some(("application/json", body.as_bytes())),
            )
            .await?;
        self.meta.remove(id);
        if st.is_success() || st == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.unexpected(op, st, &resp))
    }

    pub(super) async fn modify_flags(
        &mut self,
        uid: u32,
        add: &[String],
        remove: &[String],
    ) -> Result<()> {
        let Some((_, id)) = self.select("messages.modify", &[uid], 1)?.pop() else {
            return Ok(());
        };
        let has = |l: &[String], f: &str| l.iter().any(|x| x.eq_ignore_ascii_case(f));
        let (mut plus, mut minus) = (Vec::new(), Vec::new());
        if has(add, "\\Seen") {
            minus.push("UNREAD");
        } else if has(remove, "\\Seen") {
            plus.push("UNREAD");
        }
        if has(add, "\\Flagged") {
            plus.push("STARRED");
        } else if has(remove, "\\Flagged") {
            minus.push("STARRED");
        }
        self.modify(&id, &plus, &minus).await
    }

    /// Move messages of the examined folder to folder `to`: its label added, the examined
    /// folder's removed, one `messages.modify` each.
    pub(super) async fn relabel(&mut self, uids: &[u32], to: &str) -> Result<()> {
        let which = self.select("messages.modify", uids, 1)?;
        if which.is_empty() {
            return Ok(());
        }
        let from = self.current("messages.modify")?.key.clone();
        let (_, target, _) = self.resolve(to, "messages.modify").await?;
        let to_label = match target {
            Target::Label(l) => Some(l),
            Target::Archive => None,
        };
        let from_label = (from != ARCHIVE_KEY).then_some(from);
        if to_label == from_label {
            return Ok(());
        }
        for (_, id) in which {
            let plus: Vec<&str> = to_label.iter().map(String::as_str).collect();
            let minus: Vec<&str> = from_label.iter().map(String::as_str).collect();
            self.modify(&id, &plus, &minus).await?;
        }
        Ok(())
    }
}
