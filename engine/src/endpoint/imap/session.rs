//! The session: its state between commands (the opened folder, its EXISTS, the guard's
//! limits, the command tag). What it does lives by concern in the sibling modules, and
//! [`super::mail_session`] puts it behind the endpoint trait.

use std::time::Duration;

use async_imap::types::UnsolicitedResponse;
use tokio::io::BufStream;

use crate::endpoint::guard::GuardHandle;
use crate::endpoint::net::Io;
use crate::endpoint::types::Capabilities;

pub(super) type Stream = BufStream<Box<dyn Io>>;

/// Drop the unsolicited responses the client queued (`next` takes one): the highest EXISTS
/// among them, if any.
pub(super) fn drained_exists(mut next: impl FnMut() -> Option<UnsolicitedResponse>) -> Option<u32> {
    let mut exists = None;
    while let Some(r) = next() {
        if let UnsolicitedResponse::Exists(n) = r {
            exists = exists.max(Some(n));
        }
    }
    exists
}

pub struct ImapSession {
    pub(super) s: async_imap::Session<Stream>,
    /// The folder opened last (EXAMINE or SELECT), as people read it, for error texts.
    pub(super) opened: String,
    pub(super) caps: Capabilities,
    pub(super) timeout: Duration,
    pub(super) tag: u64,
    pub(super) keywords: Option<Vec<String>>,
    pub(super) host: String,
    /// Limits and read-ahead reservations of the guarded stream under the client.
    pub(super) guard: GuardHandle,
    /// The largest message read (see [`crate::endpoint::bounded::message_cap`]), and where it comes from.
    pub(super) message_cap: u64,
    pub(super) cap_origin: String,
    /// EXISTS of the last EXAMINE or SELECT: how many FETCH responses a listing may bring.
    pub(super) exists: Option<u32>,
    /// HIGHESTMODSEQ of the last EXAMINE or SELECT (CONDSTORE enabled, see `delta`).
    pub(super) modseq: Option<u64>,
    /// `ENABLE CONDSTORE` was sent on this session.
    pub(super) condstore_on: bool,
    /// Tags of the MULTIAPPEND windows sent whose answers were not read yet, oldest first,
    /// and answers read ahead of their turn (see `multiappend`).
    pub(super) sent: std::collections::VecDeque<(String, tokio::time::Instant)>,
    /// When the last APPEND window's answer was read.
    pub(super) answered_at: tokio::time::Instant,
    pub(super) answered: std::collections::HashMap<String, Answered>,
    /// The highest EXISTS the server reported while APPEND answers were read.
    pub(super) reported: u32,
    /// A streamed APPEND under way (cut-through): its tag and the bytes still to write.
    pub(super) streaming: Option<(String, u64)>,
    pub(super) _permit: crate::endpoint::budget::Permit,
}

/// A sent MULTIAPPEND window's tagged answer, read while an older window's was awaited
/// (or while the windows after a refused one were drained).
pub(super) struct Answered {
    pub(super) stored: bool,
    pub(super) code: Option<(u32, Vec<u32>)>,
    pub(super) outcome: crate::endpoint::types::AppendOutcome,
}

impl ImapSession {
    /// Before a command: drop what earlier ones left behind (unsolicited responses the client
    /// queued, reservations of consumed literals) and go back to the metadata limits.
    pub(super) fn settle(&mut self) {
        if self.streaming.is_some() {
            // A command now would be read as the streamed message's bytes.
            self.guard.poison();
        }
        let rx = &self.s.unsolicited_responses;
        if let Some(e) = drained_exists(|| rx.try_recv().ok()) {
            self.exists = Some(self.exists.unwrap_or(0).max(e));
        }
        self.guard.release();
        self.guard.metadata();
    }

    pub(super) fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("c{}", self.tag)
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}
