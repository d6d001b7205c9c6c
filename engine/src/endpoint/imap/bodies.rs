//! The copy's message reads: the UID lists a folder's copy hands out (a whole folder, or
//! the ranges of a split one), each read with a UID FETCH of whole messages, and the next
//! list's UID FETCH written before the last one's answer is read, so that the source's
//! link is not idle for a round trip between lists. The answers are read here rather than
//! through async-imap, whose FETCH stream writes its own command and reads only its answer;
//! each message's bytes stay in the response buffer they were read into (no copy), under
//! the guard's message cap and read-ahead reservations, as [`ImapSession::stream_messages`]
//! reads them.

use std::collections::VecDeque;

use async_imap::imap_proto::{AttributeValue, MailboxDatum, Response, Status};
use async_imap::types::Flag;
use chrono::DateTime;
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedSemaphorePermit;

use super::errors::{map_err, unless_bye};
use super::fetch::{Answers, FETCH_CHUNK_MSGS, FETCH_SLACK, flag_name, too_many, valid_uid};
use super::session::ImapSession;
use crate::endpoint::net::io_err;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::tap::{ANNOUNCE_AFTER, Tap};
use crate::endpoint::types::{Body, EndpointError, Message, Result};
use crate::mail::uidset::uid_set;

const OP: &str = "UID FETCH";
/// UID FETCH commands on the wire at once: the one being read and the next.
const IN_FLIGHT: usize = 2;

/// A message's bytes left in the response they came in: `body` finds them there.
struct InResponse<R> {
    response: R,
    body: for<'a> fn(&'a R) -> &'a [u8],
}

impl<R> AsRef<[u8]> for InResponse<R> {
    fn as_ref(&self) -> &[u8] {
        (self.body)(&self.response)
    }
}

fn keep<R: Send + Sync + 'static>(response: R, body: for<'a> fn(&'a R) -> &'a [u8]) -> Body {
    Body::new(InResponse { response, body })
}

/// The message bytes (`BODY[]`) of a FETCH answer; empty when it has none.
fn message_bytes<'a>(r: &'a Response<'a>) -> &'a [u8] {
    let Response::Fetch(_, attrs) = r else {
        return &[];
    };
    attrs
        .iter()
        .find_map(|a| match a {
            AttributeValue::BodySection {
                section: None,
                data: Some(d),
                ..
            }
            | AttributeValue::Rfc822(Some(d)) => Some(d.as_ref()),
            _ => None,
        })
        .unwrap_or(&[])
}

/// What one answer to a body FETCH says, as `fetch::uid_of` and `fetch::has_body` read
/// async-imap's: `Ok(None)` for a flag update without data (no answer), an error for an
/// answer without a valid UID, or with a size or date but no bytes.
struct Answer {
    uid: u32,
    flags: Vec<String>,
    date: Option<chrono::DateTime<chrono::FixedOffset>>,
    has_body: bool,
}

fn answer_of(seq: u32, attrs: &[AttributeValue<'_>], folder: &str) -> Result<Option<Answer>> {
    let (mut uid, mut size, mut date, mut body, mut header) = (None, false, None, false, false);
    let mut flags = Vec::new();
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::Rfc822Size(_) => size = true,
            AttributeValue::InternalDate(d) => {
                date = Some(DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok());
            }
            AttributeValue::Flags(fs) => {
                flags.extend(fs.iter().filter_map(|f| flag_name(&Flag::from(f.as_ref()))));
            }
            AttributeValue::BodySection {
                section: None,
                data: Some(_),
                ..
            }
            | AttributeValue::Rfc822(Some(_)) => body = true,
            AttributeValue::BodySection { data: Some(_), .. }
            | AttributeValue::Rfc822Header(Some(_)) => header = true,
            _ => {}
        }
    }
    let Some(uid) = valid_uid(uid, size || body || header, seq, folder)? else {
        return Ok(None);
    };
    if !body && (size || date.is_some()) {
        return Err(EndpointError::Protocol {
            op: format!("UID FETCH in {folder}"),
            message: format!(
                "the server answered for UID {uid} without the message's bytes; nothing is \
                 copied from this folder until it sends them"
            ),
        });
    }
    Ok(Some(Answer {
        uid,
        flags,
        date: date.flatten(),
        has_body: body,
    }))
}

/// What a body FETCH response says before its message's bytes, from the line segment
/// that announces them (`* 3 FETCH (UID 7 FLAGS (\\Seen) INTERNALDATE "…" RFC822.SIZE 5
/// BODY[] {5}` CR LF): UID, flags and date, when all three come before the bytes and the
/// literal is the message's (a cut-through needs them before the message is whole).
fn head_of(
    head: &[u8],
    folder: &str,
) -> Option<(u32, Vec<String>, chrono::DateTime<chrono::FixedOffset>)> {
    let open = head.iter().rposition(|&b| b == b'{')?;
    let mut line = head[..open].to_vec();
    line.extend_from_slice(b"\"\")\r\n");
    let (_, r) = Response::parse(&line).ok()?;
    let Response::Fetch(seq, attrs) = &r else {
        return None;
    };
    let body_last = matches!(
        attrs.last(),
        Some(AttributeValue::BodySection { section: None, .. } | AttributeValue::Rfc822(_))
    );
    if !body_last || !attrs.iter().any(|a| matches!(a, AttributeValue::Flags(_))) {
        return None;
    }
    let a = answer_of(*seq, attrs, folder).ok()??;
    Some((a.uid, a.flags, a.date?))
}

/// Two reservations as one.
fn merged(
    a: Option<OwnedSemaphorePermit>,
    b: Option<OwnedSemaphorePermit>,
) -> Option<OwnedSemaphorePermit> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.merge(b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

impl ImapSession {
    /// Stream the messages of every UID list `next` hands out into `sink`, list after list
    /// until it has none left, with the next UID FETCH on the wire while the last one's
    /// answer is read ([`IN_FLIGHT`]). A list longer than [`FETCH_CHUNK_MSGS`] goes as
    /// several commands.
    pub(super) async fn stream_lists(
        &mut self,
        next: &mut (dyn FnMut() -> Option<Vec<u32>> + Send),
        sink: &MessageSink,
    ) -> Result<()> {
        self.settle();
        self.guard.messages(self.message_cap, &self.cap_origin);
        if let Some(pv) = sink.previewer() {
            // Large messages are announced as their bytes start to arrive (cut-through).
            let folder = self.opened.clone();
            self.guard.tap(Tap::new(
                pv.threshold(),
                ANNOUNCE_AFTER,
                Box::new(move |head: &[u8], n| {
                    let (uid, flags, date) = head_of(head, &folder)?;
                    Some(pv.prepare(uid, flags, Some(date), n))
                }),
            ));
        }
        let mut chunks: VecDeque<Vec<u32>> = VecDeque::new();
        let mut more = true;
        // Commands written and not yet answered: tag, UIDs asked for.
        let mut sent: VecDeque<(String, usize)> = VecDeque::new();
        let mut carry = None;
        loop {
            while sent.len() < IN_FLIGHT {
                if chunks.is_empty() && more {
                    match next() {
                        Some(uids) => {
                            chunks.extend(uids.chunks(FETCH_CHUNK_MSGS).map(<[u32]>::to_vec))
                        }
                        None => more = false,
                    }
                }
                let Some(chunk) = chunks.pop_front() else {
                    break;
                };
                if chunk.is_empty() {
                    continue;
                }
                // Writing makes the guard let go of what it holds (a new command means the
                // last answer was read); with a command still unanswered, that is for its
                // messages already read ahead: kept, and sent with the next message.
                if !sent.is_empty() {
                    carry = merged(carry.take(), self.guard.take());
                }
                let tag = self.next_tag();
                let line = format!(
                    "{tag} UID FETCH {} (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n",
                    uid_set(&chunk)
                );
                let w = self.s.get_mut();
                w.write_all(line.as_bytes())
                    .await
                    .map_err(|e| io_err(OP, e))?;
                w.flush().await.map_err(|e| io_err(OP, e))?;
                sent.push_back((tag, chunk.len()));
            }
            let Some((tag, asked)) = sent.pop_front() else {
                break;
            };
            self.read_bodies(&tag, asked, sink, &mut carry).await?;
        }
        self.guard.metadata();
        Ok(())
    }

    /// The answer to the body FETCH sent as `tag` for `asked` UIDs, each message into
    /// `sink` with what the guard reserved while reading it.
    async fn read_bodies(
        &mut self,
        tag: &str,
        asked: usize,
        sink: &MessageSink,
        carry: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<()> {
        let t = self.timeout;
        let cap = asked + FETCH_SLACK;
        let (mut n, mut answers) = (0, Answers::default());
        loop {
            let r = self
                .guard
                .within(t, "UID FETCH (reading a message)", self.s.read_response())
                .await?
                .map_err(|e| io_err(OP, e))?
                .ok_or(EndpointError::ConnectionLost { op: OP.into() })?;
            // What the guard reserved while reading this response travels with its message.
            let reserved = self.guard.take();
            unless_bye(r.parsed(), OP)?;
            let answer = match r.parsed() {
                Response::Fetch(seq, attrs) => {
                    n += 1;
                    if n > cap {
                        return Err(too_many(OP, cap, None));
                    }
                    answer_of(*seq, attrs, &self.opened)?
                }
                Response::MailboxData(MailboxDatum::Exists(e)) => {
                    self.exists = Some(self.exists.unwrap_or(0).max(*e));
                    None
                }
                Response::Done {
                    tag: rt,
                    status,
                    outcome,
                } if rt.0 == tag => {
                    if matches!(status, Status::Ok) {
                        break;
                    }
                    let text = format!("outcome: {outcome:?}");
                    return Err(map_err(
                        OP,
                        match status {
                            Status::No => async_imap::error::Error::No(text),
                            _ => async_imap::error::Error::Bad(text),
                        },
                    ));
                }
                _ => None,
            };
            let Some(a) = answer else { continue };
            if !a.has_body {
                answers.flag_update(a.uid);
                continue;
            }
            answers.body(a.uid);
            let msg = Message {
                uid: a.uid,
                flags: a.flags,
                internal_date: a.date,
                body: keep(r, |r| message_bytes(r.parsed())),
            };
            if !sink
                .send_reserved(msg, merged(carry.take(), reserved))
                .await
            {
                // The consumer stopped (emergency stop, or a destination failure): the
                // session is mid-FETCH and is dropped.
                return Err(EndpointError::Protocol {
                    op: OP.into(),
                    message: "abandoned: the copy stopped".into(),
                });
            }
        }
        answers.check(&self.opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::imap_proto::Response;

    fn attrs(line: &[u8]) -> Response<'_> {
        Response::parse(line).unwrap().1
    }

    #[test]
    fn answers_are_read_as_the_stream_reads_them() {
        let r = attrs(
            b"* 3 FETCH (UID 7 FLAGS (\\Seen \\Recent Work) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 5 BODY[] {5}\r\nhello)\r\n",
        );
        let Response::Fetch(seq, a) = &r else {
            panic!()
        };
        let got = answer_of(*seq, a, "INBOX").unwrap().unwrap();
        assert_eq!((got.uid, got.has_body), (7, true));
        assert_eq!(
            got.flags,
            ["\\Seen", "Work"],
            "\\Recent is not a flag to copy"
        );
        assert_eq!(got.date.unwrap().to_rfc3339(), "1996-07-17T02:44:25-07:00");
        assert_eq!(message_bytes(&r), b"hello");
        // The same answer's head, before its bytes: what a cut-through needs.
        let head = b"* 3 FETCH (UID 7 FLAGS (\\Seen \\Recent Work) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 5 BODY[] {5}\r\n";
        let (uid, flags, date) = head_of(head, "INBOX").unwrap();
        assert_eq!((uid, flags), (7, vec!["\\Seen".to_string(), "Work".into()]));
        assert_eq!(Some(date), got.date);
        // Not when the date comes after the bytes, or the literal is not the message.
        assert!(head_of(b"* 3 FETCH (UID 7 FLAGS () BODY[] {5}\r\n", "INBOX").is_none());
        assert!(
            head_of(
                b"* 3 FETCH (UID 7 FLAGS () INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[HEADER] {5}\r\n",
                "INBOX"
            )
            .is_none()
        );
        // A flag update of another message: no answer.
        let r = attrs(b"* 4 FETCH (FLAGS (\\Seen))\r\n");
        let Response::Fetch(seq, a) = &r else {
            panic!()
        };
        assert!(answer_of(*seq, a, "INBOX").unwrap().is_none());
        // A flag update with its UID: an answer without bytes (checked at the end).
        let r = attrs(b"* 4 FETCH (UID 9 FLAGS (\\Seen))\r\n");
        let Response::Fetch(seq, a) = &r else {
            panic!()
        };
        assert!(!answer_of(*seq, a, "INBOX").unwrap().unwrap().has_body);
        // A size without the bytes, or data without a UID: the folder stops with a reason.
        for line in [
            &b"* 5 FETCH (UID 9 RFC822.SIZE 5)\r\n"[..],
            b"* 5 FETCH (RFC822.SIZE 5 BODY[] {5}\r\nhello)\r\n",
            b"* 5 FETCH (UID 0 BODY[] {5}\r\nhello)\r\n",
        ] {
            let r = attrs(line);
            let Response::Fetch(seq, a) = &r else {
                panic!()
            };
            let e = answer_of(*seq, a, "Work").err().expect("refused");
            assert!(e.to_string().contains("Work"), "{e}");
        }
    }
}
