//! Writing: APPEND spoken by hand on the session's stream (pipelined with LITERAL+, else
//! synchronising literals; every tagged reply matched to its message, with APPENDUID), and
//! UID EXPUNGE of exactly cutover's own messages for rollback.

use std::collections::HashMap;

use async_imap::imap_proto::{self, Response, ResponseCode, Status};
use futures::TryStreamExt;
use tokio::io::AsyncWriteExt;

use super::errors::{classify_no, map_err};
use super::fetch::FETCH_CHUNK_MSGS;
use super::folders::quote;
use super::session::ImapSession;
use crate::endpoint::net::{io_err, with_timeout};
use crate::endpoint::types::{AppendOutcome, EndpointError, Message, Result};
use crate::mail::uidset::uid_set;

fn imap_date(d: &chrono::DateTime<chrono::FixedOffset>) -> String {
    d.format("%d-%b-%Y %H:%M:%S %z").to_string()
}

impl ImapSession {
    /// A message's APPEND arguments before its literal: `(flags) "date"` (keywords the folder
    /// cannot hold left out, the date when known).
    pub(super) fn append_args(&self, m: &Message) -> String {
        let flags: Vec<&str> = m
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| {
                f.starts_with('\\')
                    || self
                        .keywords
                        .as_ref()
                        .is_none_or(|k| k.iter().any(|x| x.eq_ignore_ascii_case(f)))
            })
            .collect();
        let date = m
            .internal_date
            .map(|d| format!(" \"{}\"", imap_date(&d)))
            .unwrap_or_default();
        format!("({}){date}", flags.join(" "))
    }

    pub(super) async fn append_window(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        self.settle();
        let mbox = quote(folder);
        let t = self.timeout;
        let mut tags: Vec<String> = Vec::with_capacity(msgs.len());
        let mut outcomes: HashMap<String, AppendOutcome> = HashMap::new();
        // EXISTS the server reported meanwhile: with the messages stored, the selected
        // folder's new size (a later listing's cap).
        let mut reported = 0u32;
        // A BYE or an I/O error loses the connection; a NO for the folder or the account
        // (quota, no such folder) is per message but ends this window after its replies.
        for m in msgs {
            let tag = self.next_tag();
            let len = m.body.len();
            let non_sync = self.caps.literal_plus || (self.caps.literal_minus && len <= 4096);
            let line = format!(
                "{tag} APPEND {mbox} {} {{{len}{}}}\r\n",
                self.append_args(m),
                if non_sync { "+" } else { "" }
            );
            let w = self.s.get_mut();
            w.write_all(line.as_bytes())
                .await
                .map_err(|e| io_err("APPEND", e))?;
            if !non_sync {
                w.flush().await.map_err(|e| io_err("APPEND", e))?;
                // Wait for the continuation; a tagged reply to this very command means the
                // server refused it before the literal (too big, no such folder ...).
                let mut refused = false;
                // One deadline for the answer, untagged lines included.
                let deadline = tokio::time::Instant::now() + t;
                loop {
                    let r = next_response!(self, deadline, "APPEND (continuation)", "APPEND");
                    match r.parsed() {
                        Response::Continue(_) => break,
                        Response::Done {
                            tag: rt,
                            status,
                            outcome,
                        } => {
                            let o = done_outcome(status, outcome, folder);
                            let mine = rt.0 == tag;
                            outcomes.insert(rt.0.clone(), o);
                            if mine {
                                refused = true;
                                break;
                            }
                        }
                        Response::MailboxData(imap_proto::MailboxDatum::Exists(n)) => {
                            reported = reported.max(*n);
                        }
                        _ => {}
                    }
                }
                tags.push(tag);
                if refused {
                    continue;
                }
            } else {
                tags.push(tag);
            }
            let w = self.s.get_mut();
            w.write_all(m.body.bytes())
                .await
                .map_err(|e| io_err("APPEND", e))?;
            w.write_all(b"\r\n")
                .await
                .map_err(|e| io_err("APPEND", e))?;
        }
        self.s
            .get_mut()
            .flush()
            .await
            .map_err(|e| io_err("APPEND", e))?;
        // Each tagged reply within the timeout of the one before: untagged lines do not
        // extend it.
        let mut deadline = tokio::time::Instant::now() + t;
        while tags.iter().any(|t| !outcomes.contains_key(t)) {
            let r = next_response!(self, deadline, "APPEND (reply)", "APPEND");
            // The server closes the connection: the outcomes of the APPENDs not answered yet
            // are unknown (in doubt), and a new connection is worth a try.
            super::errors::unless_bye(r.parsed(), "APPEND")?;
            if let Response::MailboxData(imap_proto::MailboxDatum::Exists(n)) = r.parsed() {
                reported = reported.max(*n);
            } else if let Response::Done {
                tag,
                status,
                outcome,
            } = r.parsed()
            {
                let o = done_outcome(status, outcome, folder);
                outcomes.insert(tag.0.clone(), o);
                deadline = tokio::time::Instant::now() + t;
            }
        }
        let stored = outcomes
            .values()
            .filter(|o| matches!(o, AppendOutcome::Stored { .. }))
            .count() as u32;
        if let Some(e) = self.exists {
            self.exists = Some(e.saturating_add(stored).max(reported));
        }
        Ok(tags
            .iter()
            .map(|t| outcomes.remove(t).expect("every tag answered"))
            .collect())
    }

    pub(super) async fn expunge(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        if !self.caps.uidplus {
            return Err(EndpointError::Protocol {
                op: "UID EXPUNGE".into(),
                message: "the server lacks UIDPLUS, so cutover cannot remove only its own messages (a plain EXPUNGE would also remove any other message marked \\Deleted); remove them by hand or use a server with UIDPLUS".into(),
            });
        }
        let t = self.timeout;
        for chunk in uids.chunks(FETCH_CHUNK_MSGS) {
            let set = uid_set(chunk);
            with_timeout(t, "UID STORE", async {
                let st = self.s.uid_store(&set, "+FLAGS.SILENT (\\Deleted)").await?;
                st.try_collect::<Vec<_>>().await
            })
            .await?
            .map_err(|e| map_err("UID STORE", e))?;
            with_timeout(t, "UID EXPUNGE", async {
                let st = self.s.uid_expunge(&set).await?;
                st.try_collect::<Vec<_>>().await
            })
            .await?
            .map_err(|e| map_err("UID EXPUNGE", e))?;
        }
        Ok(())
    }
}

/// The outcome of one tagged APPEND reply. NO for the message itself (too big, refused
/// content) is a per-message refusal; NO for the folder or the account is an error for all.
pub(super) fn done_outcome(
    status: &Status,
    outcome: &imap_proto::Outcome<'_>,
    folder: &str,
) -> AppendOutcome {
    match done_result(status, outcome, folder) {
        Ok(o) => o,
        Err(error) => AppendOutcome::Failed { error },
    }
}

fn done_result(
    status: &Status,
    outcome: &imap_proto::Outcome<'_>,
    folder: &str,
) -> Result<AppendOutcome> {
    let info = outcome.information.as_deref().unwrap_or("").to_string();
    match status {
        Status::Ok => {
            if let Some(ResponseCode::AppendUid(validity, uids)) = &outcome.code {
                let uid = uids.first().map(|u| match u {
                    imap_proto::rfc4315::UidSetMember::Uid(u) => *u,
                    imap_proto::rfc4315::UidSetMember::UidRange(r) => *r.start(),
                });
                Ok(AppendOutcome::Stored {
                    uidvalidity: Some(*validity),
                    uid,
                })
            } else {
                Ok(AppendOutcome::Stored {
                    uidvalidity: None,
                    uid: None,
                })
            }
        }
        _ => {
            let code = match &outcome.code {
                Some(ResponseCode::TryCreate) => "TRYCREATE ".to_string(),
                _ => String::new(),
            };
            let text = format!("{code}{info}");
            let up = text.to_ascii_uppercase();
            if up.contains("TOOBIG") || up.contains("TOO BIG") || up.contains("TOO LARGE") {
                return Ok(AppendOutcome::Refused {
                    reason: format!("destination refused it as too large: {info}"),
                });
            }
            match classify_no("APPEND", &text, Some(folder)) {
                EndpointError::No { message, .. } if matches!(status, Status::No) => {
                    // A NO without a folder or quota reason concerns this message (e.g. a NUL
                    // byte or a malformed header the server will not store).
                    Ok(AppendOutcome::Refused {
                        reason: format!("destination refused the message: {message}"),
                    })
                }
                EndpointError::No { message, .. } => Err(EndpointError::Protocol {
                    op: "APPEND".into(),
                    message: format!("server said BAD: {message}"),
                }),
                e => Err(e),
            }
        }
    }
}
