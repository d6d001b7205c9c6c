//! Gmail as a source in a delta pass: `users.history.list` as the change marker. The
//! mailbox's `historyId` (`users.getProfile`, 1 unit) is taken once per session before the
//! first folder is compared: it is the marker each folder records once its flags are
//! carried (`folders.src_modseq`). The next pass asks `users.history.list` (2 units a page
//! of up to 500 records) for the records after the folder's marker, and compares only the
//! messages they name (messageAdded, messageDeleted, labelAdded, labelRemoved): one
//! `messages.get` each, instead of one for every message of the folder. The first pass after
//! a copy starts from the baseline the copy recorded (the historyId before it read anything,
//! journal table `gmail_history`). A historyId Google no longer keeps (404 on history.list;
//! Google keeps it "typically at least a week") gives one full comparison of every message
//! of the mailbox, said once in the log and in an info issue.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::connector::GmailSession;
use super::types::units;
use super::wire::store_err;
use crate::endpoint::session::UidFlags;
use crate::endpoint::types::{EndpointError, Result};

/// The history types a delta pass reads.
const TYPES: &[&str] = &[
    "messageAdded",
    "messageDeleted",
    "labelAdded",
    "labelRemoved",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    #[serde(default)]
    history_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryPage {
    #[serde(default)]
    history: Vec<Record>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    messages: Vec<MessageRef>,
    #[serde(default)]
    messages_added: Vec<Wrapped>,
    #[serde(default)]
    messages_deleted: Vec<Wrapped>,
    #[serde(default)]
    labels_added: Vec<Wrapped>,
    #[serde(default)]
    labels_removed: Vec<Wrapped>,
}

#[derive(Debug, Deserialize)]
struct Wrapped {
    message: MessageRef,
}

#[derive(Debug, Deserialize)]
struct MessageRef {
    id: String,
}

impl Record {
    fn ids(self) -> impl Iterator<Item = String> {
        let wrapped = self
            .messages_added
            .into_iter()
            .chain(self.messages_deleted)
            .chain(self.labels_added)
            .chain(self.labels_removed)
            .map(|w| w.message);
        self.messages.into_iter().chain(wrapped).map(|m| m.id)
    }
}

impl GmailSession {
    /// The mailbox's current historyId (`users.getProfile`).
    async fn profile_history_id(&self) -> Result<u64> {
        let op = "users.getProfile";
        let (st, body) = self
            .call(
                op,
                units::GET_PROFILE,
                Method::GET,
                self.url(false, &["profile"]),
                None,
            )
            .await?;
        if !st.is_success() {
            return Err(self.unexpected(op, st, &body));
        }
        let p: Profile = self.parse(op, &body)?;
        p.history_id
            .as_deref()
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| EndpointError::Protocol {
                op: self.ctx(op),
                message: "Gmail's profile has no historyId".into(),
            })
    }

    /// On a source, record the mailbox's history baseline before anything of it is read
    /// (once per session; the first one recorded stays). A mailbox read before without one
    /// (a journal from before the history was read) gets none: its first delta pass
    /// compares every message, and records the markers the next ones start from.
    pub(super) async fn note_baseline(&mut self) -> Result<()> {
        if self.c.side != "source" || self.history.baseline {
            return Ok(());
        }
        let op = "history baseline";
        let store = self.c.store.clone();
        if store
            .gmail_history_start(self.c.side, &self.user)
            .map_err(store_err(op))?
            .is_none()
            && !store
                .gmail_read_before(self.c.side, &self.user)
                .map_err(store_err(op))?
        {
            let id = self.profile_history_id().await?;
            store
                .set_gmail_history_start(self.c.side, &self.user, id)
                .map_err(store_err(op))?;
        }
        self.history.baseline = true;
        Ok(())
    }

    /// The change marker of this pass: the mailbox's historyId, taken once per session
    /// before the first folder is compared.
    pub(super) async fn history_marker(&mut self) -> Result<u64> {
        if let Some(m) = self.history.marker {
            return Ok(m);
        }
        let m = self.profile_history_id().await?;
        self.history.marker = Some(m);
        Ok(m)
    }

    /// The ids of the messages with history records after `start`, every page read; None
    /// when Google no longer keeps that history (404).
    async fn changed_since(&mut self, start: u64) -> Result<Option<HashSet<String>>> {
        if let Some(known) = self.history.since.get(&start) {
            return Ok(known.clone());
        }
        let op = "history.list";
        let mut ids = HashSet::new();
        let mut page: Option<String> = None;
        let found = loop {
            let mut url = self.url(false, &["history"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("startHistoryId", &start.to_string());
                q.append_pair("maxResults", "500");
                for t in TYPES {
                    q.append_pair("historyTypes", t);
                }
                if let Some(p) = &page {
                    q.append_pair("pageToken", p);
                }
            }
            let (st, body) = self
                .call(op, units::HISTORY_LIST, Method::GET, url, None)
                .await?;
            if st == StatusCode::NOT_FOUND {
                break None;
            }
            if !st.is_success() {
                return Err(self.unexpected(op, st, &body));
            }
            let p: HistoryPage = self.parse(op, &body)?;
            ids.extend(p.history.into_iter().flat_map(Record::ids));
            match p.next_page_token {
                Some(t) if !t.is_empty() => page = Some(t),
                _ => break Some(ids),
            }
        };
        if found.is_none() {
            tracing::warn!(mailbox = %self.user, history_id = start, "Gmail no longer keeps the history since this historyId: one full comparison");
            self.history.notice = Some(format!(
                "delta pass: Gmail no longer keeps the history of mailbox {} since historyId \
                 {start} (history.list answered 404 Not Found): every message's flags are \
                 compared in full this pass, and the history is read from the new historyId \
                 next time",
                self.user
            ));
        }
        self.history.since.insert(start, found.clone());
        Ok(found)
    }

    /// The flags of the examined folder's messages changed since marker `since` (None: since
    /// the baseline the copy recorded); all of them when neither is known or the history is
    /// no longer kept.
    pub(super) async fn history_flags(&mut self, since: Option<u64>) -> Result<Vec<UidFlags>> {
        let start = match since {
            Some(s) => Some(s),
            None => self
                .c
                .store
                .gmail_history_start(self.c.side, &self.user)
                .map_err(store_err("list flags"))?,
        };
        let changed = match start {
            Some(s) => self.changed_since(s).await?,
            None => None,
        };
        let Some(ids) = changed else {
            // Labels read earlier in this session may predate the marker: read again.
            self.meta.clear();
            return self.label_flags(None).await;
        };
        let uids: Vec<u32> = self
            .current("list flags")?
            .listing
            .iter()
            .filter(|(_, id)| ids.contains(id))
            .map(|(u, _)| *u)
            .collect();
        // Their labels as they are now, not as this session may have read them before.
        for id in &ids {
            self.meta.remove(id);
        }
        self.label_flags(Some(&uids)).await
    }

    pub(super) fn take_history_notice(&mut self) -> Option<String> {
        self.history.notice.take()
    }
}
