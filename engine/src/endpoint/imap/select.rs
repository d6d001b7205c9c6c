//! Opening a folder: EXAMINE (read-only, the source), SELECT (the destination, with the
//! keywords it accepts) and STATUS, each giving the folder's UIDVALIDITY, UIDNEXT and size.

use async_imap::imap_proto::{self, Response, Status};
use async_imap::types::Flag;
use tokio::io::AsyncWriteExt;

use super::errors::folder_err;
use super::folders::{quote, unquote};
use super::session::ImapSession;
use crate::endpoint::net::{io_err, with_timeout};
use crate::endpoint::types::{EndpointError, FolderState, Result};
use crate::mail::utf7::decode_mutf7;

/// A folder's state as the server announced it. UIDVALIDITY must be there and non-zero
/// (RFC 3501 2.3.1.1): the journal keys every message by it, and 0 is what a missing one
/// would read as. async-imap ends EXAMINE/SELECT/STATUS without an error when the
/// connection closes before the tagged answer, so a missing UIDVALIDITY is first of all a
/// connection lost mid-answer: retried on a new connection (seen with Dovecot under load).
/// UIDVALIDITY 0 is a server fault, never retried.
pub(super) fn state_of(
    op: &str,
    folder: &str,
    mb: &async_imap::types::Mailbox,
) -> Result<FolderState> {
    let uidvalidity = match mb.uid_validity {
        Some(v) if v != 0 => v,
        Some(_) => {
            return Err(EndpointError::Protocol {
                op: format!("{op} {}", decode_mutf7(folder)),
                message: "the server gave UIDVALIDITY 0 for the folder; cutover cannot tell its \
                          messages apart across sessions without one (a server fault: report it \
                          to the server's operator)"
                    .into(),
            });
        }
        None => {
            return Err(EndpointError::ConnectionLost {
                op: format!(
                    "{op} {} (its answer ended without the folder's UIDVALIDITY)",
                    decode_mutf7(folder)
                ),
            });
        }
    };
    Ok(FolderState {
        uidvalidity,
        uidnext: mb.uid_next.unwrap_or(0),
        exists: mb.exists,
    })
}

impl ImapSession {
    pub(super) async fn examine_folder(&mut self, folder: &str) -> Result<FolderState> {
        self.settle();
        self.exists = None;
        self.modseq = None;
        let mb = with_timeout(self.timeout, "EXAMINE", self.s.examine(folder))
            .await?
            .map_err(|e| folder_err("EXAMINE", folder, e))?;
        self.opened = decode_mutf7(folder);
        self.exists = Some(mb.exists);
        self.modseq = mb.highest_modseq;
        state_of("EXAMINE", folder, &mb)
    }

    pub(super) async fn select_folder(&mut self, folder: &str) -> Result<FolderState> {
        self.settle();
        self.exists = None;
        self.modseq = None;
        let mb = with_timeout(self.timeout, "SELECT", self.s.select(folder))
            .await?
            .map_err(|e| folder_err("SELECT", folder, e))?;
        self.opened = decode_mutf7(folder);
        let any = mb
            .permanent_flags
            .iter()
            .any(|f| matches!(f, Flag::MayCreate));
        self.keywords = if any || mb.permanent_flags.is_empty() {
            None
        } else {
            Some(
                mb.permanent_flags
                    .iter()
                    .filter_map(|f| match f {
                        Flag::Custom(c) => Some(c.to_string()),
                        _ => None,
                    })
                    .collect(),
            )
        };
        self.exists = Some(mb.exists);
        self.modseq = mb.highest_modseq;
        state_of("SELECT", folder, &mb)
    }

    /// STATUS spoken here rather than through async-imap, which matches the answer's name
    /// against the asked one without undoing the answer's quoting: for a folder named with
    /// `"` or `\` it dropped the answer and reported no UIDVALIDITY.
    pub(super) async fn status_folder(&mut self, folder: &str) -> Result<FolderState> {
        use imap_proto::{MailboxDatum, StatusAttribute};
        let t = self.timeout;
        let tag = self.next_tag();
        let line = format!(
            "{tag} STATUS {} (UIDNEXT UIDVALIDITY MESSAGES)\r\n",
            quote(folder)
        );
        let w = self.s.get_mut();
        w.write_all(line.as_bytes())
            .await
            .map_err(|e| io_err("STATUS", e))?;
        w.flush().await.map_err(|e| io_err("STATUS", e))?;
        let mut mb = async_imap::types::Mailbox::default();
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let r = next_response!(self, deadline, "STATUS", "STATUS");
            // The server closes the connection: no answer is coming, so do not wait for the
            // deadline (as the APPEND loop does).
            super::errors::unless_bye(r.parsed(), "STATUS")?;
            match r.parsed() {
                Response::MailboxData(MailboxDatum::Status { mailbox, status })
                    if unquote(mailbox) == folder =>
                {
                    for a in status {
                        match a {
                            StatusAttribute::UidNext(n) => mb.uid_next = Some(*n),
                            StatusAttribute::UidValidity(v) => mb.uid_validity = Some(*v),
                            StatusAttribute::Messages(n) => mb.exists = *n,
                            _ => {}
                        }
                    }
                }
                Response::Done {
                    tag: rt,
                    status,
                    outcome,
                } if rt.0 == tag => {
                    // In async-imap's words, so the NO is read as everywhere else.
                    let text = format!("outcome: {outcome:?}");
                    match status {
                        Status::Ok => break,
                        Status::No => {
                            return Err(folder_err(
                                "STATUS",
                                folder,
                                async_imap::error::Error::No(text),
                            ));
                        }
                        _ => {
                            return Err(folder_err(
                                "STATUS",
                                folder,
                                async_imap::error::Error::Bad(text),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        state_of("STATUS", folder, &mb)
    }
}

impl ImapSession {
    /// STATUS of every folder in `folders`, pipelined ([`ImapSession::in_batches`]): up to
    /// 256 folders in one round trip. With `markers` and CONDSTORE the folders'
    /// HIGHESTMODSEQ too. A folder answered NO or BAD (not selectable, gone), or without a
    /// UIDVALIDITY, is left out: it is opened as usual. A lost connection or a BYE is an
    /// error, as for any command.
    pub(super) async fn status_all(
        &mut self,
        folders: &[String],
        markers: bool,
    ) -> Result<crate::endpoint::Statuses> {
        use imap_proto::{MailboxDatum, StatusAttribute};
        let mut out = crate::endpoint::Statuses::new();
        let modseq = markers && self.has_condstore();
        let items = if modseq {
            "(UIDNEXT UIDVALIDITY MESSAGES HIGHESTMODSEQ)"
        } else {
            "(UIDNEXT UIDVALIDITY MESSAGES)"
        };
        let asked: std::collections::HashSet<&str> = folders.iter().map(String::as_str).collect();
        let commands: Vec<String> = folders
            .iter()
            .map(|f| format!("STATUS {} {items}", quote(f)))
            .collect();
        let batch = self.folder_batches();
        self.in_batches("STATUS", &commands, batch, |_, r| {
            let Response::MailboxData(MailboxDatum::Status { mailbox, status }) = r else {
                return Ok(());
            };
            let name = unquote(mailbox);
            if !asked.contains(name.as_ref()) {
                return Ok(());
            }
            let mut mb = async_imap::types::Mailbox::default();
            let mut marker = None;
            for a in status {
                match a {
                    StatusAttribute::UidNext(n) => mb.uid_next = Some(*n),
                    StatusAttribute::UidValidity(v) => mb.uid_validity = Some(*v),
                    StatusAttribute::Messages(n) => mb.exists = *n,
                    StatusAttribute::HighestModSeq(m) if modseq => marker = Some(*m),
                    _ => {}
                }
            }
            // Without UIDVALIDITY and UIDNEXT the folder is opened as usual.
            if mb.uid_next.is_some()
                && let Ok(st) = state_of("STATUS", &name, &mb)
            {
                out.insert(name.into_owned(), (st, marker));
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }
}
