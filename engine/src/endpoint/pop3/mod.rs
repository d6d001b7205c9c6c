//! POP3 source endpoint (RFC 1939, with CAPA, UIDL, TOP and STLS): the inbox only.
//!
//! POP3 has no folders, flags or UIDs. The maildrop is presented as one folder, `INBOX`;
//! each message is identified by its UIDL, which the journal maps to a UID once and for all
//! (`Journal::ref_uids`), so resume, verification and re-runs work as for IMAP. Messages are
//! read with `TOP n <all lines>` where the server offers TOP: unlike RETR, it does not mark
//! them seen on servers that track that (Dovecot does), so the source is left as it was.
//! cutover never sends DELE. The internal date is the delivery time from the newest
//! `Received:` header, else the `Date:` header.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use secrecy::ExposeSecret;
use tokio::io::BufStream;
use tokio_rustls::TlsConnector;

use super::bounded;
use super::budget::ConnectionBudget;
use super::net::{Io, tcp_connect, tls_connector, tls_handshake};
use super::session::MailSession;
use super::sink::MessageSink;
use super::types::{
    AppendOutcome, Body, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageMeta, Result,
};
use crate::config::{self, Credential, Security};
use crate::journal::Journal;
use crate::mail::fingerprint::fingerprint;
use crate::mail::fmt::bytes_exact;

mod wire;

use wire::{Bound, Conn};

/// The one folder a POP3 maildrop has.
pub const INBOX: &str = "INBOX";

/// `TOP n` with this many body lines returns the whole message.
const ALL_LINES: u32 = 999_999_999;

/// Largest message size LIST may give (IMAP's RFC822.SIZE is 32 bits too); more is a lie
/// that would overflow what is computed from it.
const MAX_LISTED_SIZE: u64 = u32::MAX as u64;

#[derive(Clone)]
pub struct Pop3Connector {
    cfg: config::Endpoint,
    tls: Option<TlsConnector>,
    budget: ConnectionBudget,
    store: Journal,
    pub side: &'static str,
}

pub struct Pop3Session {
    conn: Conn,
    _permit: crate::endpoint::budget::Permit,
    caps: Capabilities,
    user: String,
    host: String,
    side: &'static str,
    store: Journal,
    top: bool,
    /// The maildrop as listed at EXAMINE: (UID, message number, size), in UID order.
    listing: Vec<(u32, u32, u64)>,
    /// The largest message read (see [`bounded::message_cap`]), and where it comes from.
    message_cap: u64,
    cap_origin: String,
}

impl Pop3Connector {
    pub fn new(cfg: &config::Endpoint, side: &'static str, store: &Journal) -> Result<Self> {
        if side != "source" {
            return Err(EndpointError::Protocol {
                op: format!("{side} endpoint"),
                message: "POP3 can only be a source (it cannot store messages)".into(),
            });
        }
        let tls = match cfg.security {
            Security::None => None,
            _ => Some(tls_connector(cfg)?),
        };
        Ok(Pop3Connector {
            cfg: cfg.clone(),
            tls,
            budget: ConnectionBudget::new(cfg.max_connections),
            store: store.clone(),
            side,
        })
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    /// Wait for a free connection slot, then connect and log in (USER/PASS, after STLS when
    /// the endpoint says starttls).
    pub async fn connect(&self, cred: &Credential) -> Result<Pop3Session> {
        let permit = self
            .budget
            .acquire_slot(&format!("pop3:{}:{}", self.cfg.host, self.cfg.port))
            .await;
        let timeout = self.cfg.timeout;
        let addr = format!("{}:{}", self.cfg.host, self.cfg.port);
        let tcp = tcp_connect(&self.cfg).await?;
        let stream: Box<dyn Io> = match self.cfg.security {
            Security::Tls => Box::new(tls_handshake(self.tls.as_ref(), &self.cfg, tcp).await?),
            _ => Box::new(tcp),
        };
        let mut conn = Conn {
            stream: BufStream::new(stream),
            timeout,
        };
        let greeting = conn.line("greeting").await?;
        if !greeting.starts_with("+OK") {
            return Err(EndpointError::Protocol {
                op: "greeting".into(),
                message: format!("POP3 server {addr} greeted with {greeting:?}"),
            });
        }
        let mut caps = capa(&mut conn).await?;
        if self.cfg.security == Security::Starttls {
            if !caps.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
                return Err(EndpointError::Tls {
                    host: self.cfg.host.clone(),
                    message: "security = \"starttls\" but the POP3 server does not offer STLS"
                        .into(),
                });
            }
            conn.simple("STLS", "STLS").await?;
            let tls = tls_handshake(self.tls.as_ref(), &self.cfg, conn.stream.into_inner()).await?;
            conn = Conn {
                stream: BufStream::new(Box::new(tls)),
                timeout,
            };
            caps = capa(&mut conn).await?;
        }
        let user = cred.user.clone();
        let login_err = |e: EndpointError| match e {
            EndpointError::No { message, .. } => {
                if message.contains("[IN-USE]") || message.contains("[SYS/TEMP]") {
                    EndpointError::Throttled {
                        op: "POP3 login".into(),
                        message,
                        wait: None,
                    }
                } else {
                    EndpointError::Auth {
                        user: user.clone(),
                        message,
                    }
                }
            }
            other => other,
        };
        conn.simple("USER", &format!("USER {}", cred.user))
            .await
            .map_err(login_err)?;
        conn.simple("PASS", &format!("PASS {}", cred.password.expose_secret()))
            .await
            .map_err(login_err)?;
        Ok(Pop3Session {
            conn,
            _permit: permit,
            top: caps.iter().any(|c| c.eq_ignore_ascii_case("TOP")),
            caps: Capabilities {
                raw: caps,
                ..Capabilities::default()
            },
            user: cred.user.clone(),
            host: self.cfg.host.clone(),
            side: self.side,
            store: self.store.clone(),
            listing: Vec::new(),
            message_cap: bounded::message_cap(self.cfg.max_message_size),
            cap_origin: bounded::message_cap_origin(self.cfg.max_message_size, self.side),
        })
    }
}

/// CAPA's capability names (empty when the server predates CAPA and refuses it).
async fn capa(conn: &mut Conn) -> Result<Vec<String>> {
    match conn.text_lines("CAPA", "CAPA", &Bound::capa()).await {
        Ok(ls) => Ok(ls
            .into_iter()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()),
        Err(EndpointError::No { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Delivery time: the newest (topmost) `Received:` header's date, else the `Date:` header.
fn internal_date(bytes: &[u8]) -> Option<DateTime<FixedOffset>> {
    let parsed = mail_parser::MessageParser::new()
        .header_received(mail_parser::HeaderName::Received)
        .header_date(mail_parser::HeaderName::Date)
        .parse_headers(bytes)?;
    let d = parsed
        .received()
        .and_then(|r| r.date)
        .or_else(|| parsed.date().cloned())?;
    DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok()
}

fn source_only(op: &str) -> EndpointError {
    EndpointError::Protocol {
        op: op.into(),
        message: "POP3 is a source only; it cannot be written to".into(),
    }
}

impl Pop3Session {
    pub fn host(&self) -> &str {
        &self.host
    }

    fn check_folder(&self, folder: &str, op: &str) -> Result<()> {
        if folder.eq_ignore_ascii_case(INBOX) {
            Ok(())
        } else {
            Err(EndpointError::NoFolder {
                op: op.into(),
                folder: folder.into(),
                server: None,
            })
        }
    }

    /// List the maildrop (UIDL and LIST) and map each UIDL to its UID.
    async fn list(&mut self) -> Result<FolderState> {
        // STAT says how many messages there are: UIDL and LIST may not list many more.
        let stat = self.conn.simple("STAT", "STAT").await?;
        let count: u32 = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| EndpointError::Protocol {
                op: "STAT".into(),
                message: format!("unreadable STAT answer {stat:?} for {}", self.user),
            })?;
        // Both answers are parsed as they come; what they keep is charged against one
        // budget, whatever STAT said.
        let budget = bounded::POP3_LISTING_BUDGET;
        let over_budget = |op: &str, kept: usize| EndpointError::Protocol {
            op: op.into(),
            message: format!(
                "the UIDL and LIST answers (STAT said {count} messages) take more than {} in memory (after {kept} lines); stopped reading",
                bytes_exact(budget as u64)
            ),
        };
        let mut kept = 0usize;
        let mut entries: Vec<(u32, String)> = Vec::new();
        let user = self.user.clone();
        self.conn.simple("UIDL", "UIDL").await?;
        self.conn
            .multiline_each("UIDL", &Bound::listing("UIDL", count), |raw| {
                let l = String::from_utf8_lossy(raw);
                let l = l.trim_end_matches(['\r', '\n']);
                if l.is_empty() {
                    return Ok(());
                }
                let mut it = l.split_whitespace();
                match (it.next().and_then(|n| n.parse().ok()), it.next()) {
                    (Some(n), Some(id)) => {
                        kept = kept.saturating_add(
                            std::mem::size_of::<(u32, String)>() + bounded::alloc_cost(id.len()),
                        );
                        if kept > budget {
                            return Err(over_budget("UIDL", entries.len()));
                        }
                        entries.push((n, id.to_string()));
                        Ok(())
                    }
                    _ => Err(EndpointError::Protocol {
                        op: "UIDL".into(),
                        message: format!("unreadable UIDL line {l:?} for {user}"),
                    }),
                }
            })
            .await?;
        let mut sizes: HashMap<u32, u64> = HashMap::new();
        let mut listed = 0usize;
        self.conn.simple("LIST", "LIST").await?;
        self.conn
            .multiline_each("LIST", &Bound::listing("LIST", count), |raw| {
                let l = String::from_utf8_lossy(raw);
                let mut it = l.split_whitespace();
                let (Some(n), Some(size)) = (it.next().and_then(|n| n.parse().ok()), it.next())
                else {
                    return Ok(());
                };
                // A size too large to be true is refused, not carried into sums and the journal.
                let size = match size.parse::<u64>() {
                    Ok(s) if s <= MAX_LISTED_SIZE => s,
                    _ if size.bytes().all(|b| b.is_ascii_digit()) => {
                        return Err(EndpointError::Protocol {
                            op: "LIST".into(),
                            message: format!(
                                "LIST gave message {n} a size of {size} bytes, more than the {MAX_LISTED_SIZE} a message can have, for {user}"
                            ),
                        });
                    }
                    _ => return Ok(()),
                };
                // A hash map entry of a number and a size, with the table's slack.
                kept = kept.saturating_add(40);
                listed += 1;
                if kept > budget {
                    return Err(over_budget("LIST", entries.len() + listed));
                }
                sizes.insert(n, size);
                Ok(())
            })
            .await?;
        let ids: Vec<&str> = entries.iter().map(|(_, id)| id.as_str()).collect();
        let store_err = |source| EndpointError::Journal {
            op: "UIDL".into(),
            source,
        };
        let uids = self
            .store
            .ref_uids(self.side, &self.user, INBOX, &ids)
            .map_err(store_err)?;
        let mut listing: Vec<(u32, u32, u64)> = entries
            .iter()
            .zip(uids)
            .map(|((n, _), uid)| (uid, *n, sizes.get(n).copied().unwrap_or(0)))
            .collect();
        listing.sort_unstable();
        self.listing = listing;
        let (uidvalidity, uidnext) = self
            .store
            .ref_folder(self.side, &self.user, INBOX)
            .map_err(store_err)?;
        Ok(FolderState {
            uidvalidity,
            uidnext,
            exists: self.listing.len() as u32,
        })
    }

    /// One whole message, without marking it seen where TOP is offered. `size` is the
    /// message's size from LIST.
    async fn read(&mut self, msgnum: u32, size: u64) -> Result<Option<Vec<u8>>> {
        let command = if self.top {
            format!("TOP {msgnum} {ALL_LINES}")
        } else {
            format!("RETR {msgnum}")
        };
        match self.conn.simple("RETR", &command).await {
            Ok(_) => {
                // The line break a multi-line answer adds to a message without one.
                let bound = Bound::message(
                    self.message_cap.saturating_add(2),
                    &self.cap_origin,
                    size.saturating_add(2),
                );
                let mut body = self.conn.multiline("RETR", &bound).await?;
                // A multi-line answer always ends its last line with CRLF, so a message
                // without a final line break gains one on the wire; LIST gave its real size.
                if (body.len() as u64).checked_sub(2) == Some(size) && body.ends_with(b"\r\n") {
                    body.truncate(body.len() - 2);
                }
                Ok(Some(body))
            }
            // Deleted by another session since the listing: absent, like an expunged UID.
            Err(EndpointError::No { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn selected(&self, uids: &[u32], from_uid: u32) -> Vec<(u32, u32, u64)> {
        self.listing
            .iter()
            .copied()
            .filter(|(uid, _, _)| {
                if uids.is_empty() {
                    *uid >= from_uid
                } else {
                    uids.binary_search(uid).is_ok()
                }
            })
            .collect()
    }
}

impl MailSession for Pop3Session {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        Ok(vec![Folder {
            wire_name: INBOX.into(),
            path: vec![INBOX.into()],
            delimiter: None,
            special: None,
            selectable: true,
        }])
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.check_folder(folder, "EXAMINE")?;
        self.list().await
    }

    async fn open_for_append(&mut self, _folder: &str) -> Result<FolderState> {
        Err(source_only("open for append"))
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        self.check_folder(folder, "STATUS")?;
        self.list().await
    }

    async fn create_folder(&mut self, _folder: &str) -> Result<bool> {
        Err(source_only("create folder"))
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        Ok(self
            .listing
            .iter()
            .filter(|(uid, _, _)| *uid >= from_uid)
            .map(|&(uid, _, size)| MessageMeta { uid, size })
            .collect())
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        for (uid, msgnum, size) in self.selected(&uids, 0) {
            let Some(bytes) = self.read(msgnum, size).await? else {
                continue;
            };
            let m = Message {
                uid,
                flags: Vec::new(),
                internal_date: internal_date(&bytes),
                body: Body::new(bytes),
            };
            if !sink.send(m).await {
                break;
            }
        }
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        let mut out = Vec::new();
        for (uid, msgnum, size) in self.selected(&uids, from_uid) {
            if let Some(bytes) = self.read(msgnum, size).await? {
                out.push(Fingerprinted {
                    uid,
                    size: bytes.len() as u64,
                    fingerprint: fingerprint(&bytes),
                    flags: Vec::new(),
                    internal_date: internal_date(&bytes),
                });
            }
        }
        Ok(out)
    }

    async fn append(&mut self, _folder: &str, _msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        Err(source_only("APPEND"))
    }

    async fn expunge_uids(&mut self, _uids: &[u32]) -> Result<()> {
        Err(source_only("expunge"))
    }

    async fn rename_folder(&mut self, _from: &str, _to: &str) -> Result<()> {
        Err(source_only("rename folder"))
    }

    async fn delete_folder(&mut self, _folder: &str) -> Result<()> {
        Err(source_only("delete folder"))
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        Some(&[])
    }

    async fn logout(mut self) {
        // QUIT ends the session; nothing was marked for deletion, so nothing is deleted.
        let _ = self.conn.simple("QUIT", "QUIT").await;
    }
}
