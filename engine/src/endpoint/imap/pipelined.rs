//! Two commands in one round trip, where the second does not wait on the first's answer:
//! EXAMINE with the listing of the folder's new messages (a folder's copy starts with
//! both), and STATUS with the closing check's listing (a folder's copy ends with both).
//! Across a WAN each saves a round trip per folder. Both are written at once and their
//! answers read in order; the listing's answer is only used when the first command
//! succeeded (a failed EXAMINE leaves no folder selected, so the listing's NO is read and
//! dropped, never taken for another folder's).

use async_imap::imap_proto::{
    AttributeValue, MailboxDatum, Response, ResponseCode, Status, StatusAttribute,
};
use tokio::io::AsyncWriteExt;

use super::errors::{folder_err, map_err, unless_bye};
use super::fetch::{Listing, valid_uid};
use super::folders::{quote, unquote};
use super::select::state_of;
use super::session::ImapSession;
use crate::endpoint::net::io_err;
use crate::endpoint::types::{FolderState, MessageMeta, Result};
use crate::mail::utf7::decode_mutf7;

const LISTING: &str = "UID FETCH (metadata)";
/// Folders whose sizes are asked for in one batch ([`ImapSession::bytes_held`]): a
/// folder's listing may be long, and a batch's answers get five times the timeout.
const SIZES_BATCH: usize = 64;

/// A tagged NO or BAD, in async-imap's words so it is read as everywhere else.
fn refused(status: &Status, outcome: &impl std::fmt::Debug) -> async_imap::error::Error {
    let text = format!("outcome: {outcome:?}");
    match status {
        Status::No => async_imap::error::Error::No(text),
        _ => async_imap::error::Error::Bad(text),
    }
}

/// Commands written at once by [`ImapSession::in_batches`] for folder STATUS and CREATE:
/// with one batch being answered and the next on the wire, the commands unread stay a few
/// dozen KB, so writing never waits on a server that is itself waiting for its answers to be
/// read (a mailbox may have thousands of folders).
const BATCH: usize = 256;

impl ImapSession {
    /// The batches of folder STATUS and CREATE commands: [`BATCH`] commands, the session's
    /// timeout for each batch's answers.
    pub(super) fn folder_batches(&self) -> (usize, std::time::Duration) {
        (BATCH, self.timeout)
    }

    /// Write `commands` (each without its tag) in batches of `batch`, the next batch on the
    /// wire while the last one's answers are read: up to two batches cost one round trip,
    /// and more cost no wait between batches. Every response read goes to `on`, with the
    /// index of the command it answers when it is one's tagged answer (None otherwise); a BYE
    /// is an error. Each batch's answers get `wait`.
    pub(super) async fn in_batches(
        &mut self,
        op: &str,
        commands: &[String],
        (batch, wait): (usize, std::time::Duration),
        mut on: impl FnMut(Option<usize>, &Response<'_>) -> Result<()>,
    ) -> Result<()> {
        self.settle();
        // Tags written and not answered yet, with their command's index.
        let mut open = std::collections::HashMap::new();
        let mut written = 0;
        for end in (0..commands.len())
            .step_by(batch)
            .map(|s| (s + batch).min(commands.len()))
        {
            // This batch and the next on the wire (the first two in one write).
            let upto = (end + batch).min(commands.len());
            if written < upto {
                let mut lines = String::new();
                for (i, c) in commands.iter().enumerate().take(upto).skip(written) {
                    let tag = self.next_tag();
                    lines.push_str(&format!("{tag} {c}\r\n"));
                    open.insert(tag, i);
                }
                self.write_commands(op, &lines).await?;
                written = upto;
            }
            let deadline = tokio::time::Instant::now() + wait;
            while open.values().any(|&i| i < end) {
                let r = next_response!(self, deadline, op, op);
                unless_bye(r.parsed(), op)?;
                let answers = match r.parsed() {
                    Response::Done { tag, .. } => open.remove(tag.0.as_str()),
                    _ => None,
                };
                on(answers, r.parsed())?;
            }
        }
        Ok(())
    }

    /// Write `lines` (whole commands) and flush.
    pub(super) async fn write_commands(&mut self, op: &str, lines: &str) -> Result<()> {
        let w = self.s.get_mut();
        w.write_all(lines.as_bytes())
            .await
            .map_err(|e| io_err(op, e))?;
        w.flush().await.map_err(|e| io_err(op, e))
    }

    /// Write `command` (untagged here) and the listing of the selected folder from `from` on
    /// (`UID FETCH from:* (UID RFC822.SIZE)`) together: their tags, and the deadline for both
    /// answers (a listing may be long: the time a listing alone is given, as `list_meta`).
    async fn with_listing(
        &mut self,
        op: &str,
        command: &str,
        from: u32,
    ) -> Result<(String, String, tokio::time::Instant)> {
        let (first, listing) = (self.next_tag(), self.next_tag());
        let lines =
            format!("{first} {command}\r\n{listing} UID FETCH {from}:* (UID RFC822.SIZE)\r\n");
        self.write_commands(op, &lines).await?;
        Ok((
            first,
            listing,
            tokio::time::Instant::now() + self.timeout * 5,
        ))
    }

    /// Read and drop the answer to `tag` (a command whose result is not used).
    async fn skip_answer(&mut self, tag: &str, deadline: tokio::time::Instant) -> Result<()> {
        loop {
            let r = next_response!(self, deadline, LISTING, LISTING);
            if let Response::Done { tag: rt, .. } = r.parsed()
                && rt.0 == tag
            {
                return Ok(());
            }
        }
    }

    /// The answer to a `UID FETCH from:* (UID RFC822.SIZE)` sent as `tag`, as
    /// [`ImapSession::list_meta`] reads it: capped by the folder's EXISTS as the server
    /// updates it, answers below `from` (`n:*` always names the last message) left out.
    async fn read_listing(
        &mut self,
        tag: &str,
        from: u32,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<MessageMeta>> {
        let mut listing = Listing::new(self.exists.unwrap_or(0));
        let mut out = Vec::new();
        loop {
            let r = next_response!(self, deadline, LISTING, LISTING);
            unless_bye(r.parsed(), LISTING)?;
            match r.parsed() {
                Response::MailboxData(MailboxDatum::Exists(n)) => {
                    listing.exists = listing.exists.max(*n);
                }
                Response::Fetch(n, attrs) => {
                    listing.one_more(LISTING, || None)?;
                    let uid = attrs.iter().find_map(|a| match a {
                        AttributeValue::Uid(u) => Some(*u),
                        _ => None,
                    });
                    let size = attrs.iter().find_map(|a| match a {
                        AttributeValue::Rfc822Size(s) => Some(*s),
                        _ => None,
                    });
                    // A flag update of some message (`* n FETCH (FLAGS ...)`) is no answer;
                    // "n:*" always names the last message, even when its UID is below n.
                    if let Some(uid) = valid_uid(uid, size.is_some(), *n, &self.opened)?
                        && uid >= from
                    {
                        out.push(MessageMeta {
                            uid,
                            size: u64::from(size.unwrap_or(0)),
                        });
                    }
                }
                Response::Done {
                    tag: rt,
                    status,
                    outcome,
                } if rt.0 == tag => match status {
                    Status::Ok => break,
                    _ => return Err(map_err("UID FETCH", refused(status, outcome))),
                },
                _ => {}
            }
        }
        self.exists = Some(listing.exists);
        out.sort_unstable_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    /// EXAMINE `folder`, and list its messages from `from_uid` on (UID and size): one round
    /// trip.
    pub(super) async fn examine_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        self.settle();
        self.exists = None;
        self.modseq = None;
        let from = from_uid.max(1);
        let (examine, listing, deadline) = self
            .with_listing("EXAMINE", &format!("EXAMINE {}", quote(folder)), from)
            .await?;
        let mut mb = async_imap::types::Mailbox::default();
        // An untagged NO or BAD fails the EXAMINE, as async-imap reads it.
        let mut warned = None;
        let opened = loop {
            let r = next_response!(self, deadline, "EXAMINE", "EXAMINE");
            unless_bye(r.parsed(), "EXAMINE")?;
            match r.parsed() {
                Response::MailboxData(MailboxDatum::Exists(n)) => mb.exists = *n,
                Response::Data {
                    status: Status::Ok,
                    outcome,
                } => match outcome.code {
                    Some(ResponseCode::UidValidity(v)) => mb.uid_validity = Some(v),
                    Some(ResponseCode::UidNext(n)) => mb.uid_next = Some(n),
                    Some(ResponseCode::HighestModSeq(m)) => mb.highest_modseq = Some(m),
                    _ => {}
                },
                Response::Data {
                    status: s @ (Status::No | Status::Bad),
                    outcome,
                } => {
                    warned
                        .get_or_insert_with(|| folder_err("EXAMINE", folder, refused(s, outcome)));
                }
                Response::Done {
                    tag: rt,
                    status,
                    outcome,
                } if rt.0 == examine => {
                    break match (status, warned) {
                        (Status::Ok, None) => Ok(()),
                        (Status::Ok, Some(e)) => Err(e),
                        _ => Err(folder_err("EXAMINE", folder, refused(status, outcome))),
                    };
                }
                _ => {}
            }
        };
        let st = opened.and_then(|()| {
            self.opened = decode_mutf7(folder);
            self.exists = Some(mb.exists);
            self.modseq = mb.highest_modseq;
            state_of("EXAMINE", folder, &mb)
        });
        match st {
            Ok(st) => Ok((st, self.read_listing(&listing, from, deadline).await?)),
            Err(e) => {
                // Not opened: the listing's answer (a NO, no folder being selected) is
                // read and dropped.
                self.skip_answer(&listing, deadline).await?;
                Err(e)
            }
        }
    }

    /// The bytes each of `folders` holds (its messages' RFC822.SIZE added up), for the order
    /// a first pass takes them in: every folder EXAMINEd and listed, pipelined
    /// ([`ImapSession::in_batches`], [`SIZES_BATCH`] folders a batch). A folder the server
    /// will not open is left out. Only sizes are read: nothing here is journalled or trusted
    /// beyond that order.
    pub(super) async fn bytes_held(
        &mut self,
        folders: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        let mut out = std::collections::HashMap::new();
        let commands: Vec<String> = folders
            .iter()
            .flat_map(|f| {
                [
                    format!("EXAMINE {}", quote(f)),
                    "UID FETCH 1:* (RFC822.SIZE)".into(),
                ]
            })
            .collect();
        // The folder being answered (the answers come in order): opened, its bytes so far,
        // its listing capped as any listing (a server flooding FETCH lines is refused, not
        // read on).
        let (mut opened, mut bytes, mut count) = (false, 0u64, Listing::new(0));
        let batch = (2 * SIZES_BATCH, self.timeout * 5);
        self.in_batches("EXAMINE", &commands, batch, |i, r| {
            match (i, r) {
                (_, Response::MailboxData(MailboxDatum::Exists(n))) => {
                    count.exists = count.exists.max(*n);
                }
                (_, Response::Fetch(_, attrs)) => {
                    count.one_more(LISTING, || None)?;
                    for a in attrs {
                        if let AttributeValue::Rfc822Size(n) = a {
                            bytes = bytes.saturating_add(u64::from(*n));
                        }
                    }
                }
                (Some(i), Response::Done { status, .. }) if i % 2 == 0 => {
                    opened = matches!(status, Status::Ok);
                }
                (Some(i), Response::Done { status, .. }) => {
                    if opened && matches!(status, Status::Ok) {
                        out.insert(folders[i / 2].clone(), bytes);
                    }
                    (opened, bytes, count) = (false, 0, Listing::new(0));
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
        // What was opened last is nobody's folder: the next EXAMINE or SELECT opens its own.
        self.opened.clear();
        self.exists = None;
        self.modseq = None;
        Ok(out)
    }

    /// STATUS of the selected `folder`, and its messages from `from_uid` on (UID and size):
    /// one round trip.
    pub(super) async fn status_listing(
        &mut self,
        folder: &str,
        from_uid: u32,
    ) -> Result<(FolderState, Vec<MessageMeta>)> {
        self.settle();
        let from = from_uid.max(1);
        let status_cmd = format!("STATUS {} (UIDNEXT UIDVALIDITY MESSAGES)", quote(folder));
        let (status, listing, deadline) = self.with_listing("STATUS", &status_cmd, from).await?;
        let mut mb = async_imap::types::Mailbox::default();
        let mut exists = None;
        let answered = loop {
            let r = next_response!(self, deadline, "STATUS", "STATUS");
            unless_bye(r.parsed(), "STATUS")?;
            match r.parsed() {
                Response::MailboxData(MailboxDatum::Status {
                    mailbox,
                    status: attrs,
                }) if unquote(mailbox) == folder => {
                    for a in attrs {
                        match a {
                            StatusAttribute::UidNext(n) => mb.uid_next = Some(*n),
                            StatusAttribute::UidValidity(v) => mb.uid_validity = Some(*v),
                            StatusAttribute::Messages(n) => mb.exists = *n,
                            _ => {}
                        }
                    }
                }
                // The selected folder's EXISTS, updated by the server meanwhile.
                Response::MailboxData(MailboxDatum::Exists(n)) => exists = Some(*n),
                Response::Done {
                    tag: rt,
                    status: s,
                    outcome,
                } if rt.0 == status => {
                    break match s {
                        Status::Ok => Ok(()),
                        _ => Err(folder_err("STATUS", folder, refused(s, outcome))),
                    };
                }
                _ => {}
            }
        };
        if let Some(e) = exists {
            self.exists = Some(self.exists.unwrap_or(0).max(e));
        }
        match answered.and_then(|()| state_of("STATUS", folder, &mb)) {
            Ok(st) => Ok((st, self.read_listing(&listing, from, deadline).await?)),
            Err(e) => {
                self.skip_answer(&listing, deadline).await?;
                Err(e)
            }
        }
    }
}
