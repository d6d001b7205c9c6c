//! MULTIAPPEND (RFC 3502): a whole window in one APPEND command, which the server stores
//! atomically (every message or none), with APPENDUID's UID set mapped back to the messages
//! in their order (`OK [APPENDUID 1796519484 1:3]`). Used where the destination offers
//! MULTIAPPEND and LITERAL+, so no literal waits for a continuation (a one-message window is
//! a plain APPEND with LITERAL+, sent and answered the same way); a window the server
//! refuses is sent again message by message (`append_window`), so that the one message at
//! fault is named and the others stored. One command per window also spares the server the
//! per-command work of a pipelined APPEND each, and leaves a killed run's window all in or
//! all out, never half stored. The copy sends the next window before the last one's
//! answer is read ([`ImapSession::multi_send`], [`ImapSession::multi_finish`]), so the link
//! is not idle for a round trip per window.

use async_imap::imap_proto::{self, Response, ResponseCode, Status};
use tokio::io::AsyncWriteExt;

use super::append::done_outcome;
use super::folders::quote;
use super::session::{Answered, ImapSession};
use crate::endpoint::net::io_err;
use crate::endpoint::types::{AppendOutcome, EndpointError, Message, Result};

/// The UIDs of an APPENDUID set, in order; a set longer than any window is cut short (and
/// then not believed, having more UIDs than messages), never expanded without bound.
fn uids_of(set: &[imap_proto::rfc4315::UidSetMember]) -> Vec<u32> {
    const MAX: usize = 100_000;
    let mut out = Vec::new();
    for m in set {
        let room = MAX + 1 - out.len();
        match m {
            imap_proto::rfc4315::UidSetMember::Uid(u) => out.push(*u),
            imap_proto::rfc4315::UidSetMember::UidRange(r) => out.extend(r.clone().take(room)),
        }
        if out.len() > MAX {
            break;
        }
    }
    out
}

impl ImapSession {
    /// Whether a window of `n` messages goes as one command whose answer can be read later:
    /// MULTIAPPEND, or a plain APPEND for one message (LITERAL+: no continuation awaited).
    pub(super) fn multiappend_for(&self, n: usize) -> bool {
        self.caps.literal_plus && (n == 1 || (n > 1 && self.caps.multiappend))
    }

    /// One window as one MULTIAPPEND command, its answer read at once.
    pub(super) async fn append_multi(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        self.multi_send(folder, msgs).await?;
        self.multi_finish(folder, msgs).await
    }

    /// Write a window's MULTIAPPEND command (LITERAL+: no continuation awaited); its answer
    /// is read by [`Self::multi_finish`], windows in the order they were sent.
    pub(super) async fn multi_send(&mut self, folder: &str, msgs: &[Message]) -> Result<()> {
        self.settle();
        if self.sent.is_empty() {
            // Nothing in flight: what was reported belongs to earlier commands (or folders).
            self.reported = 0;
        }
        let tag = self.next_tag();
        let heads: Vec<String> = msgs
            .iter()
            .map(|m| format!(" {} {{{}+}}\r\n", self.append_args(m), m.body.len()))
            .collect();
        let w = self.s.get_mut();
        w.write_all(format!("{tag} APPEND {}", quote(folder)).as_bytes())
            .await
            .map_err(|e| io_err("APPEND", e))?;
        for (m, head) in msgs.iter().zip(&heads) {
            w.write_all(head.as_bytes())
                .await
                .map_err(|e| io_err("APPEND", e))?;
            w.write_all(m.body.bytes())
                .await
                .map_err(|e| io_err("APPEND", e))?;
        }
        w.write_all(b"\r\n")
            .await
            .map_err(|e| io_err("APPEND", e))?;
        w.flush().await.map_err(|e| io_err("APPEND", e))?;
        self.sent.push_back((tag, tokio::time::Instant::now()));
        Ok(())
    }

    /// Cut-through: a one-message APPEND of `size` bytes with `head`'s flags and date,
    /// its bytes to follow ([`Self::stream_bytes`], [`Self::stream_end`]). LITERAL+ only.
    pub(super) async fn stream_begin(
        &mut self,
        folder: &str,
        head: &Message,
        size: u64,
    ) -> Result<bool> {
        if !self.multiappend_for(1) || self.streaming.is_some() || size == 0 {
            return Ok(false);
        }
        self.settle();
        if self.sent.is_empty() {
            self.reported = 0;
        }
        let tag = self.next_tag();
        let line = format!(
            "{tag} APPEND {} {} {{{size}+}}\r\n",
            quote(folder),
            self.append_args(head)
        );
        self.streaming = Some((tag, size));
        let w = self.s.get_mut();
        w.write_all(line.as_bytes())
            .await
            .map_err(|e| io_err("APPEND", e))?;
        w.flush().await.map_err(|e| io_err("APPEND", e))?;
        Ok(true)
    }

    /// More of the streamed message's bytes, never its last.
    pub(super) async fn stream_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let left = match &mut self.streaming {
            Some((_, left)) if (bytes.len() as u64) < *left => left,
            _ => return Err(self.stream_misfit("bytes did not fit")),
        };
        *left -= bytes.len() as u64;
        let w = self.s.get_mut();
        w.write_all(bytes).await.map_err(|e| io_err("APPEND", e))?;
        w.flush().await.map_err(|e| io_err("APPEND", e))
    }

    /// The streamed message's last bytes and the command's end: in flight from here, its
    /// answer read by [`Self::multi_finish`] as a one-message window's.
    pub(super) async fn stream_end(&mut self, rest: &[u8]) -> Result<()> {
        // Still streaming until the end is written: a write cut short leaves the session
        // mid-command, and its next command poisons it.
        let tag = match &self.streaming {
            Some((tag, left)) if rest.len() as u64 == *left => tag.clone(),
            _ => return Err(self.stream_misfit("end did not match")),
        };
        let w = self.s.get_mut();
        w.write_all(rest).await.map_err(|e| io_err("APPEND", e))?;
        w.write_all(b"\r\n")
            .await
            .map_err(|e| io_err("APPEND", e))?;
        w.flush().await.map_err(|e| io_err("APPEND", e))?;
        self.streaming = None;
        self.sent.push_back((tag, tokio::time::Instant::now()));
        Ok(())
    }

    /// A streamed message's bytes that do not add up to its announced size (`what`): the
    /// APPEND is abandoned.
    fn stream_misfit(&mut self, what: &str) -> EndpointError {
        self.stream_abort();
        EndpointError::Protocol {
            op: "APPEND".into(),
            message: format!(
                "a streamed message's {what} its announced size; the APPEND was abandoned, \
                 nothing stored"
            ),
        }
    }

    /// The streamed APPEND is abandoned: nothing more is written on this connection.
    pub(super) fn stream_abort(&mut self) {
        self.streaming.get_or_insert_with(|| (String::new(), 0));
        self.guard.poison();
    }

    /// One response read while APPEND windows are in flight: an EXISTS counted, a window's
    /// tagged answer kept for its turn, a BYE an error.
    fn note_append_response(&mut self, r: &Response<'_>, folder: &str) -> Result<()> {
        super::errors::unless_bye(r, "APPEND")?;
        match r {
            Response::MailboxData(imap_proto::MailboxDatum::Exists(n)) => {
                self.reported = self.reported.max(*n);
            }
            Response::Done {
                tag: rt,
                status,
                outcome,
            } if self.sent.iter().any(|(s, _)| *s == rt.0) => {
                let code = match &outcome.code {
                    Some(ResponseCode::AppendUid(v, set)) => Some((*v, uids_of(set))),
                    _ => None,
                };
                let a = Answered {
                    stored: matches!(status, Status::Ok),
                    code,
                    outcome: done_outcome(status, outcome, folder),
                };
                self.answered.insert(rt.0.to_string(), a);
                self.answered_at = tokio::time::Instant::now();
            }
            _ => {}
        }
        Ok(())
    }

    /// Read responses until the window sent as `tag` (still in `sent`) is answered; the
    /// answers of other windows are kept for their own turn.
    async fn multi_answer(&mut self, tag: &str, folder: &str) -> Result<Answered> {
        self.await_answer(tag, folder).await?;
        self.answered
            .remove(tag)
            .ok_or_else(|| EndpointError::Protocol {
                op: "APPEND".into(),
                message: "an APPEND answer was lost".into(),
            })
    }

    /// Resolves once the oldest window sent is answered (or none is in flight); the answer
    /// is kept for [`Self::multi_finish`]. Cancel-safe: whatever was read is kept, so the
    /// copy can wait for this or for its next message, whichever comes first.
    pub(super) async fn multi_ready(&mut self, folder: &str) -> Result<()> {
        match self.sent.front().map(|(t, _)| t.clone()) {
            Some(tag) => self.await_answer(&tag, folder).await,
            None => Ok(()),
        }
    }

    /// Read responses until `tag`'s answer is among those kept, within the timeout of when
    /// its window was sent or the last answer came, whichever is later (however often a
    /// wait for it is cancelled and taken up again: a dead server is noticed even while the
    /// source trickles messages in).
    async fn await_answer(&mut self, tag: &str, folder: &str) -> Result<()> {
        let sent = self.sent.iter().find(|(t, _)| t == tag).map(|(_, at)| *at);
        let since = sent.map_or(tokio::time::Instant::now(), |s| s.max(self.answered_at));
        let deadline = since + self.timeout;
        while !self.answered.contains_key(tag) {
            let r = next_response!(self, deadline, "APPEND (reply)", "APPEND");
            self.note_append_response(r.parsed(), folder)?;
        }
        Ok(())
    }

    /// The outcomes of the oldest window [`Self::multi_send`] sent (`msgs`: its messages).
    pub(super) async fn multi_finish(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        let tag =
            self.sent
                .front()
                .map(|(t, _)| t.clone())
                .ok_or_else(|| EndpointError::Protocol {
                    op: "APPEND".into(),
                    message: "no APPEND window awaits an answer".into(),
                })?;
        let a = self.multi_answer(&tag, folder).await?;
        self.sent.pop_front();
        if !a.stored && msgs.len() == 1 {
            // One message: the answer is its own.
            self.reported = 0;
            return Ok(vec![a.outcome]);
        }
        if !a.stored {
            // Nothing of the window was stored (the command is atomic): find the message at
            // fault, or the folder's or account's reason, one APPEND at a time, once the
            // windows sent after it are answered (their answers kept for their turn).
            tracing::info!(folder, n = msgs.len(), outcome = ?a.outcome, "MULTIAPPEND refused; sending the window message by message");
            for (later, _) in self.sent.clone() {
                let b = self.multi_answer(&later, folder).await?;
                self.answered.insert(later, b);
            }
            self.reported = 0;
            return self.append_window(folder, msgs).await;
        }
        let reported = std::mem::take(&mut self.reported);
        if let Some(e) = self.exists {
            self.exists = Some(e.saturating_add(msgs.len() as u32).max(reported));
        }
        Ok(match a.code {
            Some((validity, uids)) if uids.len() == msgs.len() => uids
                .into_iter()
                .map(|uid| AppendOutcome::Stored {
                    uidvalidity: Some(validity),
                    uid: Some(uid),
                })
                .collect(),
            // Stored, UIDs not told (or not one per message): found later by fingerprint.
            _ => msgs
                .iter()
                .map(|_| AppendOutcome::Stored {
                    uidvalidity: None,
                    uid: None,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_proto::rfc4315::UidSetMember;

    #[test]
    fn appenduid_sets_expand_in_order() {
        assert_eq!(
            uids_of(&[UidSetMember::UidRange(7..=9), UidSetMember::Uid(12)]),
            vec![7, 8, 9, 12]
        );
        assert_eq!(
            uids_of(&[UidSetMember::UidRange(1..=u32::MAX)]).len(),
            100_001
        );
    }
}
