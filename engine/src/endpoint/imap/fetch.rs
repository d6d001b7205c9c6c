//! Reading messages: listings of UIDs and sizes or identities (streamed, capped by the
//! folder's EXISTS and a memory budget), whole messages streamed into the copy's sink under
//! the guard's message cap, and content fingerprints (bodies hashed and dropped).

use async_imap::types::{Flag, UnsolicitedResponse};
use futures::TryStreamExt;

use super::errors::map_err;
use super::folders::unquote;
use super::session::{ImapSession, drained_exists};
use crate::endpoint::bounded;
use crate::endpoint::net::with_timeout;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    Body, EndpointError, Fingerprinted, Message, MessageIdentity, MessageMeta, Result,
};
use crate::mail::fingerprint::fingerprint;
use crate::mail::fmt::bytes_exact;
use crate::mail::uidset::uid_set;
use crate::mail::utf7::decode_mutf7;

/// A fetched message's bytes, left in async-imap's response buffer.
struct FetchBody(async_imap::types::Fetch);

impl AsRef<[u8]> for FetchBody {
    fn as_ref(&self) -> &[u8] {
        self.0.body().unwrap_or_default()
    }
}

/// Messages per UID FETCH of bodies.
pub(super) const FETCH_CHUNK_MSGS: usize = 500;
/// FETCH responses beyond the UIDs asked for that a UID FETCH may bring (unsolicited flag
/// updates of other messages); more is a protocol error.
pub(super) const FETCH_SLACK: usize = 1000;

/// The count of a streamed listing (`UID FETCH n:*`): its cap follows EXISTS as the server
/// updates it meanwhile (new mail, our own APPENDs).
pub(super) struct Listing {
    n: usize,
    pub(super) exists: u32,
}

impl Listing {
    pub(super) fn new(exists: u32) -> Listing {
        Listing { n: 0, exists }
    }

    /// One more response; refused once there are more than the folder can hold.
    pub(super) fn one_more(
        &mut self,
        op: &str,
        unsolicited: impl FnMut() -> Option<UnsolicitedResponse>,
    ) -> Result<()> {
        if let Some(e) = drained_exists(unsolicited) {
            self.exists = self.exists.max(e);
        }
        self.n += 1;
        let cap = bounded::listing_cap(self.exists);
        if self.n > cap {
            return Err(too_many(op, cap, Some(self.exists)));
        }
        Ok(())
    }
}

/// A server that sent more FETCH responses than the folder can hold.
pub(super) fn too_many(op: &str, cap: usize, exists: Option<u32>) -> EndpointError {
    let why = match exists {
        Some(e) => format!(" for a folder of {e} messages (EXISTS)"),
        None => " for the messages asked for".to_string(),
    };
    EndpointError::Protocol {
        op: op.into(),
        message: format!("the server sent more than {cap} FETCH responses{why}; stopped reading"),
    }
}

/// The Gmail labels of a FETCH answer, decoded (Gmail writes non-ASCII label names in
/// modified UTF-7, as folder names); a label longer than [`bounded::MAX_LABEL`] is a protocol
/// error for the message.
fn labels_of(f: &async_imap::types::Fetch, uid: u32, folder: &str) -> Result<Option<Vec<String>>> {
    let Some(ls) = f.gmail_labels() else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ls.len());
    for l in ls {
        if l.len() > bounded::MAX_LABEL {
            return Err(EndpointError::Protocol {
                op: "UID FETCH (identities)".into(),
                message: format!(
                    "the server gave UID {uid} in {folder} a label of {} bytes, more than the {} accepted",
                    l.len(),
                    bounded::MAX_LABEL
                ),
            });
        }
        out.push(decode_mutf7(&unquote(l)));
    }
    Ok(Some(out))
}

pub fn flag_name(f: &Flag<'_>) -> Option<String> {
    Some(match f {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent | Flag::MayCreate => return None,
        Flag::Custom(c) => c.to_string(),
    })
}

/// Whether an answer to a body FETCH carries the message's bytes. A flag update for a
/// message (`* n FETCH (UID u FLAGS (...))`, which a server may send at any time) does not
/// and is no answer: false. An answer with the message's size or date but not its bytes is
/// a protocol error, never an empty message.
fn has_body(f: &async_imap::types::Fetch, uid: u32, folder: &str) -> Result<bool> {
    if f.body().is_some() {
        return Ok(true);
    }
    if f.size.is_some() || f.internal_date().is_some() {
        return Err(EndpointError::Protocol {
            op: format!("UID FETCH in {folder}"),
            message: format!(
                "the server answered for UID {uid} without the message's bytes; nothing is \
                 copied from this folder until it sends them"
            ),
        });
    }
    Ok(false)
}

/// The UIDs a body FETCH answered with their bytes, and those it only sent a flag update
/// for. A UID that got a flag update but never its bytes by the end of the command was
/// answered without them: a protocol error, not a message gone from the source (which is
/// what a UID never answered at all means).
#[derive(Default)]
pub(super) struct Answers {
    with_body: std::collections::HashSet<u32>,
    flags_only: Vec<u32>,
}

impl Answers {
    pub(super) fn body(&mut self, uid: u32) {
        self.with_body.insert(uid);
    }

    pub(super) fn flag_update(&mut self, uid: u32) {
        self.flags_only.push(uid);
    }

    pub(super) fn check(&self, folder: &str) -> Result<()> {
        match self.flags_only.iter().find(|u| !self.with_body.contains(u)) {
            None => Ok(()),
            Some(uid) => Err(EndpointError::Protocol {
                op: format!("UID FETCH in {folder}"),
                message: format!(
                    "the server answered for UID {uid} with its flags but never its bytes; \
                     nothing is copied from this folder until it sends them"
                ),
            }),
        }
    }
}

/// The UID of an answer to a UID FETCH. Every answer carrying message data must have one
/// (RFC 3501 6.4.8), a number from 1 to 2^32-1; the parser drops one it cannot read
/// (negative, too large) as if absent. Such an answer is a protocol error naming the folder
/// and the message, never a message silently passed over. `None`: an unsolicited flag
/// update without data, which is not an answer and is ignored.
fn uid_of(f: &async_imap::types::Fetch, folder: &str) -> Result<Option<u32>> {
    let data = f.size.is_some() || f.body().is_some() || f.header().is_some();
    valid_uid(f.uid, data, f.message, folder)
}

/// [`uid_of`] on what an answer to FETCH message `seq` carries: its UID as parsed, and
/// whether it carries message data.
pub(super) fn valid_uid(
    uid: Option<u32>,
    data: bool,
    seq: u32,
    folder: &str,
) -> Result<Option<u32>> {
    match uid {
        Some(uid) if uid > 0 => Ok(Some(uid)),
        None if !data => Ok(None),
        uid => Err(EndpointError::Protocol {
            op: format!("UID FETCH in {folder}"),
            message: format!(
                "the server answered for message {seq} with {}; nothing is copied from this \
                 folder until the server sends valid UIDs (1 to 4294967295)",
                match uid {
                    Some(_) => "UID 0",
                    None => "no valid UID (missing, negative or above 4294967295)",
                }
            ),
        }),
    }
}

impl ImapSession {
    pub(super) async fn list_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        self.settle();
        let t = self.timeout;
        let from = from_uid.max(1);
        let mut listing = Listing::new(self.exists.unwrap_or(0));
        let unsolicited = self.s.unsolicited_responses.clone();
        let opened = self.opened.clone();
        let s = &mut self.s;
        // Streamed: each response is reduced to its UID and size as it comes, and a server
        // that sends more responses than the folder holds (plus slack) is refused.
        let mut out: Vec<MessageMeta> = with_timeout(t * 4, "UID FETCH (metadata)", async {
            let mut stream = s
                .uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE)")
                .await
                .map_err(|e| map_err("UID FETCH", e))?;
            let mut out = Vec::new();
            while let Some(f) = stream
                .try_next()
                .await
                .map_err(|e| map_err("UID FETCH", e))?
            {
                listing.one_more("UID FETCH (metadata)", || unsolicited.try_recv().ok())?;
                // "n:*" always returns the last message, even when its UID is below n.
                if let Some(uid) = uid_of(&f, &opened)?.filter(|u| *u >= from) {
                    out.push(MessageMeta {
                        uid,
                        size: f.size.unwrap_or(0) as u64,
                    });
                }
            }
            Ok(out)
        })
        .await??;
        self.exists = Some(listing.exists);
        // In place: a stable sort would take half the listing again.
        out.sort_unstable_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    /// UID, size and Message-ID header of each message (one small header field, not the
    /// body); with Gmail's X-GM-EXT-1 also X-GM-MSGID and X-GM-LABELS.
    pub(super) async fn list_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        self.settle();
        let t = self.timeout;
        let from = from_uid.max(1);
        let gm = self
            .caps
            .raw
            .iter()
            .any(|c| c.eq_ignore_ascii_case("X-GM-EXT-1"));
        let items = if gm {
            "(UID RFC822.SIZE X-GM-MSGID X-GM-LABELS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        } else {
            "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        };
        let mut listing = Listing::new(self.exists.unwrap_or(0));
        let unsolicited = self.s.unsolicited_responses.clone();
        let opened = self.opened.clone();
        let s = &mut self.s;
        let mut out: Vec<MessageIdentity> = with_timeout(t * 4, "UID FETCH (identities)", async {
            let mut stream = s
                .uid_fetch(format!("{from}:*"), items)
                .await
                .map_err(|e| map_err("UID FETCH", e))?;
            let mut out = Vec::new();
            // What the listing keeps, in estimated bytes (see bounded::identity_budget).
            let mut kept = 0usize;
            while let Some(f) = stream
                .try_next()
                .await
                .map_err(|e| map_err("UID FETCH", e))?
            {
                listing.one_more("UID FETCH (identities)", || unsolicited.try_recv().ok())?;
                // "n:*" always returns the last message, even when its UID is below n.
                let Some(uid) = uid_of(&f, &opened)?.filter(|u| *u >= from) else {
                    continue;
                };
                let m = MessageIdentity {
                    uid,
                    size: f.size.unwrap_or(0) as u64,
                    // A Message-ID longer than a header line may be is no identity.
                    message_id: f
                        .header()
                        .and_then(crate::mail::message_id::message_id)
                        .filter(|m| !m.trim().is_empty() && m.len() <= 998),
                    // Gmail's own items only when they were asked for (X-GM-EXT-1).
                    provider_id: f.gmail_msg_id().filter(|_| gm).map(|id| id.to_string()),
                    labels: if gm { labels_of(&f, uid, &opened)? } else { None },
                };
                kept = kept.saturating_add(bounded::identity_cost(&m));
                let budget = bounded::identity_budget(listing.exists);
                if kept > budget {
                    return Err(EndpointError::Protocol {
                        op: "UID FETCH (identities)".into(),
                        message: format!(
                            "the identities (Message-IDs, labels) the server listed in {opened} take more than {} in memory (after {} messages); stopped reading",
                            bytes_exact(budget as u64),
                            out.len()
                        ),
                    });
                }
                out.push(m);
            }
            Ok(out)
        })
        .await??;
        self.exists = Some(listing.exists);
        // In place: a stable sort would take half the listing again.
        out.sort_unstable_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    pub(super) async fn stream_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        self.settle();
        self.guard.messages(self.message_cap, &self.cap_origin);
        let unsolicited = self.s.unsolicited_responses.clone();
        let t = self.timeout;
        for chunk in uids.chunks(FETCH_CHUNK_MSGS) {
            let set = uid_set(chunk);
            let cap = chunk.len() + FETCH_SLACK;
            let mut stream = with_timeout(
                t,
                "UID FETCH",
                self.s
                    .uid_fetch(&set, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
            )
            .await?
            .map_err(|e| map_err("UID FETCH", e))?;
            let mut n = 0;
            let mut answers = Answers::default();
            loop {
                let next = self
                    .guard
                    .within(t, "UID FETCH (reading a message)", stream.try_next())
                    .await?
                    .map_err(|e| map_err("UID FETCH", e))?;
                let Some(f) = next else { break };
                n += 1;
                if n > cap {
                    return Err(too_many("UID FETCH", cap, None));
                }
                if let Some(e) = drained_exists(|| unsolicited.try_recv().ok()) {
                    self.exists = Some(self.exists.unwrap_or(0).max(e));
                }
                // What the guard reserved while reading this message travels with it.
                let reserved = self.guard.take();
                let Some(uid) = uid_of(&f, &self.opened)? else {
                    continue;
                };
                if !has_body(&f, uid, &self.opened)? {
                    answers.flag_update(uid);
                    continue;
                }
                answers.body(uid);
                let msg = Message {
                    uid,
                    flags: f.flags().filter_map(|fl| flag_name(&fl)).collect(),
                    internal_date: f.internal_date(),
                    body: Body::new(FetchBody(f)),
                };
                if !sink.send_reserved(msg, reserved).await {
                    // The consumer stopped (emergency stop, or a destination failure). Do not
                    // download the rest of the chunk: the session is mid-FETCH and is dropped.
                    return Err(EndpointError::Protocol {
                        op: "UID FETCH".into(),
                        message: "abandoned: the copy stopped".into(),
                    });
                }
            }
            answers.check(&self.opened)?;
        }
        self.guard.metadata();
        Ok(())
    }

    pub(super) async fn hash_messages(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        self.settle();
        let sets: Vec<(String, usize)> = if uids.is_empty() {
            let cap = bounded::listing_cap(self.exists.unwrap_or(0));
            vec![(format!("{}:*", from_uid.max(1)), cap)]
        } else {
            let mut sets = Vec::new();
            for c in uids.chunks(FETCH_CHUNK_MSGS) {
                sets.push((uid_set(c), c.len() + FETCH_SLACK));
            }
            sets
        };
        self.guard.messages(self.message_cap, &self.cap_origin);
        let unsolicited = self.s.unsolicited_responses.clone();
        let mut out = Vec::new();
        let t = self.timeout;
        for (set, cap) in sets {
            let mut stream = with_timeout(
                t,
                "UID FETCH",
                self.s
                    .uid_fetch(&set, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
            )
            .await?
            .map_err(|e| map_err("UID FETCH", e))?;
            let mut n = 0;
            let mut answers = Answers::default();
            while let Some(f) = self
                .guard
                .within(t, "UID FETCH (reading a message)", stream.try_next())
                .await?
                .map_err(|e| map_err("UID FETCH", e))?
            {
                n += 1;
                if n > cap {
                    return Err(too_many("UID FETCH", cap, None));
                }
                if let Some(e) = drained_exists(|| unsolicited.try_recv().ok()) {
                    self.exists = Some(self.exists.unwrap_or(0).max(e));
                }
                let Some(uid) = uid_of(&f, &self.opened)? else {
                    continue;
                };
                if !has_body(&f, uid, &self.opened)? {
                    answers.flag_update(uid);
                    continue;
                }
                answers.body(uid);
                if uids.is_empty() && uid < from_uid {
                    continue;
                }
                let body = f.body().unwrap_or_default();
                out.push(Fingerprinted {
                    uid,
                    size: body.len() as u64,
                    fingerprint: fingerprint(body),
                    flags: f.flags().filter_map(|fl| flag_name(&fl)).collect(),
                    internal_date: f.internal_date(),
                });
                // Hashed: the bytes and their reservation go.
                drop(f);
                self.guard.release();
            }
            answers.check(&self.opened)?;
        }
        self.guard.metadata();
        out.sort_by_key(|f| f.uid);
        out.dedup_by_key(|f| f.uid);
        Ok(out)
    }
}
