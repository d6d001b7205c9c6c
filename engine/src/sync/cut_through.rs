//! Cut-through for large messages: the destination's APPEND of a message starts as soon as
//! the source starts sending it ([`Preview`]), and its bytes are written as they arrive, so
//! a multi-megabyte message crosses the source's link and the destination's at the same
//! time instead of one after the other.
//!
//! The journal's rule is kept: a message is journalled `appending` (with its fingerprint,
//! computed from the complete message) before the destination can store it. A server stores
//! nothing of an APPEND before its last literal byte, and that byte is held back until the
//! complete message has come through the usual channel, its bytes checked against what was
//! streamed, and its intent journalled ([`super::window`] does that, then writes the rest).
//! When anything goes wrong before, the destination's connection is left mid-command and
//! written no more ([`MailSession::append_stream_abort`]): nothing was stored, the message
//! stays pending, and the session is dropped.

use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::endpoint::{Body, EndpointError, MailSession, Message, Preview};

use super::types::{Ctx, SyncError};

/// Messages of at least this many bytes are streamed through; smaller ones go in windows.
pub(super) const CUT_FROM: u64 = 1024 * 1024;

/// A message whose APPEND was streamed, all but its last bytes written.
pub(super) struct Streamed {
    pub message: Message,
    pub permit: OwnedSemaphorePermit,
    /// The bytes written so far (less than the message's size).
    pub written: usize,
}

/// How a streamed APPEND ended.
pub(super) enum Through {
    /// The destination does not stream APPENDs: nothing was written.
    NotStarted,
    /// The message is whole and checked; its last bytes wait for the journal.
    Ready(Streamed),
    /// An emergency stop: the APPEND was abandoned.
    Stopped,
    /// The source's FETCH ended without the message: the APPEND was abandoned.
    SourceEnded,
}

type Queued = (Message, OwnedSemaphorePermit);

/// Stream the message `p` announces to `folder` on `dst`, with `flags` (the source's and
/// any a plan adds); messages that come through `rx` meanwhile and are not this one (read
/// before it, queued late) go to `earlier`, to be sent after it.
pub(super) async fn stream<D: MailSession>(
    ctx: &Ctx<'_>,
    folder: &str,
    dst: &mut D,
    mut p: Preview,
    flags: Vec<String>,
    rx: &mut mpsc::Receiver<Queued>,
    earlier: &mut Vec<Queued>,
) -> Result<Through, SyncError> {
    let head = Message {
        uid: p.uid,
        flags,
        internal_date: p.internal_date,
        body: Body::new(Vec::<u8>::new()),
    };
    if !dst.append_stream_begin(folder, &head, p.size).await? {
        return Ok(Through::NotStarted);
    }
    // Never the last byte: the server must not be able to store the message before the
    // journal knows of it.
    let most = (p.size - 1) as usize;
    let mut written = 0usize;
    let mut hasher = blake3::Hasher::new();
    let mut chunks_open = true;
    let abandon = |dst: &mut D, why: Through| {
        dst.append_stream_abort(folder);
        Ok(why)
    };
    loop {
        tokio::select! {
            biased;
            _ = ctx.stop.emergency() => return abandon(dst, Through::Stopped),
            c = p.chunks.recv(), if chunks_open => match c {
                Some(c) => {
                    let take = c.len().min(most - written);
                    if take > 0 {
                        // A destination still busy with the windows before stops reading:
                        // an emergency stop must not wait for it to take these bytes.
                        let r = tokio::select! {
                            biased;
                            _ = ctx.stop.emergency() => None,
                            r = dst.append_stream_bytes(folder, &c[..take]) => Some(r),
                        };
                        let Some(r) = r else {
                            return abandon(dst, Through::Stopped);
                        };
                        if let Err(e) = r {
                            dst.append_stream_abort(folder);
                            return Err(e.into());
                        }
                        hasher.update(&c[..take]);
                        written += take;
                    }
                }
                None => chunks_open = false,
            },
            m = rx.recv() => match m {
                Some((m, permit)) if m.uid == p.uid => {
                    let bytes = m.body.bytes();
                    let same = bytes.len() as u64 == p.size
                        && m.flags == p.flags
                        && m.internal_date == p.internal_date
                        && blake3::hash(&bytes[..written]) == hasher.finalize();
                    if !same {
                        dst.append_stream_abort(folder);
                        return Err(EndpointError::Protocol {
                            op: format!("UID FETCH in {folder}"),
                            message: format!(
                                "UID {}: the message as it arrived differs from its start as \
                                 streamed to the destination; that APPEND was abandoned, \
                                 nothing stored (run again: the message is still pending)",
                                p.uid
                            ),
                        }
                        .into());
                    }
                    return Ok(Through::Ready(Streamed { message: m, permit, written }));
                }
                Some(other) => earlier.push(other),
                None => return abandon(dst, Through::SourceEnded),
            },
        }
    }
}
