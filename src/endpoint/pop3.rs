//! POP3 source endpoint (RFC 1939, with CAPA, UIDL, TOP and STLS): the inbox only.
//!
//! POP3 has no folders, flags or UIDs. The maildrop is presented as one folder, `INBOX`;
//! each message is identified by its UIDL, which the journal maps to a UID once and for all
//! (`Store::ref_uids`), so resume, verification and re-runs work as for IMAP. Messages are
//! read with `TOP n <all lines>` where the server offers TOP: unlike RETR, it does not mark
//! them seen on servers that track that (Dovecot does), so the source is left as it was.
//! cutover never sends DELE. The internal date is the delivery time from the newest
//! `Received:` header, else the `Date:` header.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use secrecy::ExposeSecret;
use tokio::io::{AsyncWriteExt, BufStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsConnector;

use super::bounded::{self, Violation};
use super::imap::{Io, io_err, tcp_connect, tls_connector, tls_handshake, with_timeout};
use super::{
    AppendOutcome, Body, Capabilities, ConnectionBudget, EndpointError, Fingerprinted, Folder,
    FolderState, MailSession, Message, MessageMeta, MessageSink, Result, fingerprint,
};
use crate::config::{self, Credential, Security};
use crate::store::Store;

/// The one folder a POP3 maildrop has.
pub const INBOX: &str = "INBOX";

/// `TOP n` with this many body lines returns the whole message.
const ALL_LINES: u32 = 999_999_999;

/// Longest response line accepted (RFC 1939 allows 512; servers' greetings can be longer).
const MAX_LINE: usize = 8192;

/// Longest UIDL or LIST line (RFC 1939: a number, a unique-id of at most 70 characters).
const LISTING_LINE: usize = 256;

/// What a multi-line answer may hold, and what it is, for the error.
struct Bound {
    bytes: u64,
    lines: usize,
    line: usize,
    what: String,
}

impl Bound {
    /// CAPA: a few dozen short lines.
    fn capa() -> Bound {
        Bound {
            bytes: 64 * 1024,
            lines: 200,
            line: MAX_LINE,
            what: "the CAPA answer".into(),
        }
    }

    /// UIDL or LIST of a maildrop STAT said holds `count` messages.
    fn listing(command: &str, count: u32) -> Bound {
        let lines = bounded::listing_cap(count);
        Bound {
            // Lines average well under half the longest allowed.
            bytes: (lines * LISTING_LINE / 2) as u64,
            lines,
            line: LISTING_LINE,
            what: format!("the {command} answer (STAT said {count} messages)"),
        }
    }

    /// One message, at most the endpoint's message cap (a line may be as long).
    fn message(cap: u64, origin: &str) -> Bound {
        Bound {
            bytes: cap,
            lines: usize::MAX,
            line: usize::MAX,
            what: format!("the message (cap {}: {origin})", bounded::human(cap)),
        }
    }
}

#[derive(Clone)]
pub struct Pop3Connector {
    cfg: config::Endpoint,
    tls: Option<TlsConnector>,
    budget: ConnectionBudget,
    store: Store,
    pub side: &'static str,
}

pub struct Pop3Session {
    conn: Conn,
    _permit: OwnedSemaphorePermit,
    caps: Capabilities,
    user: String,
    host: String,
    side: &'static str,
    store: Store,
    top: bool,
    /// The maildrop as listed at EXAMINE: (UID, message number, size), in UID order.
    listing: Vec<(u32, u32, u64)>,
    /// The largest message read (see [`bounded::message_cap`]), and where it comes from.
    message_cap: u64,
    cap_origin: String,
}

/// The POP3 line protocol on one stream.
struct Conn {
    stream: BufStream<Box<dyn Io>>,
    timeout: std::time::Duration,
}

impl Conn {
    /// One response line, without its CRLF.
    async fn line(&mut self, op: &str) -> Result<String> {
        let mut buf = Vec::new();
        let n = with_timeout(
            self.timeout,
            op,
            bounded::read_line(&mut self.stream, MAX_LINE, &mut buf),
        )
        .await?
        .map_err(|e| io_err(op, e))?;
        if n == 0 {
            return Err(EndpointError::ConnectionLost { op: op.into() });
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    async fn send(&mut self, op: &str, command: &str) -> Result<()> {
        let w = async {
            self.stream.write_all(command.as_bytes()).await?;
            self.stream.write_all(b"\r\n").await?;
            self.stream.flush().await
        };
        with_timeout(self.timeout, op, w)
            .await?
            .map_err(|e| io_err(op, e))
    }

    /// A command with a one-line answer: its text after `+OK`, or `No` with the `-ERR` text.
    async fn simple(&mut self, op: &str, command: &str) -> Result<String> {
        self.send(op, command).await?;
        let l = self.line(op).await?;
        if let Some(rest) = l.strip_prefix("+OK") {
            Ok(rest.trim().to_string())
        } else if let Some(rest) = l.strip_prefix("-ERR") {
            Err(EndpointError::No {
                op: op.into(),
                message: rest.trim().to_string(),
            })
        } else {
            Err(EndpointError::Protocol {
                op: op.into(),
                message: format!("unexpected answer {l:?}"),
            })
        }
    }

    /// The body of a multi-line answer, dot-unstuffed, every line ending in CRLF: within
    /// one deadline, and no more than `bound` allows.
    async fn multiline(&mut self, op: &str, bound: &Bound) -> Result<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let over = |limit: String| EndpointError::Protocol {
            op: op.into(),
            message: format!("{} is longer than {limit}; stopped reading", bound.what),
        };
        let mut out = Vec::new();
        let mut lines = 0usize;
        let mut line = Vec::new();
        loop {
            // Room for the bytes left, a stuffed dot and the line end.
            let left = bound.bytes.saturating_sub(out.len() as u64);
            let cap = (bound.line as u64).min(left.saturating_add(3)) as usize;
            let read = bounded::read_line(&mut self.stream, cap, &mut line);
            let n = match tokio::time::timeout_at(deadline, read).await {
                Err(_) => {
                    return Err(EndpointError::Timeout {
                        op: op.into(),
                        secs: self.timeout.as_secs(),
                    });
                }
                Ok(Err(e)) if Violation::of(&e).is_some() => {
                    return Err(if cap < bound.line {
                        over(bounded::human(bound.bytes))
                    } else {
                        over(format!("{} bytes in one line", bound.line))
                    });
                }
                Ok(r) => r.map_err(|e| io_err(op, e))?,
            };
            if n == 0 {
                return Err(EndpointError::ConnectionLost { op: op.into() });
            }
            if line == b".\r\n" || line == b".\n" {
                return Ok(out);
            }
            lines += 1;
            if lines > bound.lines {
                return Err(over(format!("{} lines", bound.lines)));
            }
            let l = if line.starts_with(b".") {
                &line[1..]
            } else {
                &line[..]
            };
            if (out.len() + l.len()) as u64 > bound.bytes {
                return Err(over(bounded::human(bound.bytes)));
            }
            out.extend_from_slice(l);
        }
    }

    /// Lines of a multi-line answer as text (CAPA, UIDL, LIST).
    async fn text_lines(&mut self, op: &str, command: &str, bound: &Bound) -> Result<Vec<String>> {
        self.simple(op, command).await?;
        let body = self.multiline(op, bound).await?;
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .collect())
    }
}

impl Pop3Connector {
    pub fn new(cfg: &config::Endpoint, side: &'static str, store: &Store) -> Result<Self> {
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
        let permit = self.budget.acquire().await;
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
        let uidl = self
            .conn
            .text_lines("UIDL", "UIDL", &Bound::listing("UIDL", count))
            .await?;
        let sizes: HashMap<u32, u64> = self
            .conn
            .text_lines("LIST", "LIST", &Bound::listing("LIST", count))
            .await?
            .iter()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            })
            .collect();
        let mut entries: Vec<(u32, String)> = Vec::with_capacity(uidl.len());
        for l in &uidl {
            let mut it = l.split_whitespace();
            match (it.next().and_then(|n| n.parse().ok()), it.next()) {
                (Some(n), Some(id)) => entries.push((n, id.to_string())),
                _ => {
                    return Err(EndpointError::Protocol {
                        op: "UIDL".into(),
                        message: format!("unreadable UIDL line {l:?} for {}", self.user),
                    });
                }
            }
        }
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
                let bound = Bound::message(self.message_cap.saturating_add(2), &self.cap_origin);
                let mut body = self.conn.multiline("RETR", &bound).await?;
                // A multi-line answer always ends its last line with CRLF, so a message
                // without a final line break gains one on the wire; LIST gave its real size.
                if body.len() as u64 == size + 2 && body.ends_with(b"\r\n") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A connection whose server side sends `data` (then keeps the stream open).
    fn conn(data: Vec<u8>, timeout: Duration) -> (Conn, tokio::task::JoinHandle<()>) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(async move {
            let _ = server.write_all(&data).await;
            // Hold the stream open: no end of stream, only what was sent.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(server);
        });
        let c = Conn {
            stream: BufStream::new(Box::new(client)),
            timeout,
        };
        (c, task)
    }

    fn protocol_message(r: Result<Vec<u8>>) -> String {
        match r {
            Err(EndpointError::Protocol { message, .. }) => message,
            other => panic!("not a protocol error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_message_within_the_cap_is_read_dot_unstuffed() {
        let (mut c, t) = conn(
            b"Subject: x\r\n\r\n..dot\r\n.\r\n".to_vec(),
            Duration::from_secs(5),
        );
        let body = c
            .multiline("RETR", &Bound::message(100, "test"))
            .await
            .unwrap();
        assert_eq!(body, b"Subject: x\r\n\r\n.dot\r\n");
        t.abort();
    }

    #[tokio::test]
    async fn a_message_over_the_cap_is_refused_whatever_its_lines() {
        // Many short lines.
        let (mut c, t) = conn(b"0123456789\r\n".repeat(30), Duration::from_secs(5));
        let m = protocol_message(c.multiline("RETR", &Bound::message(100, "test")).await);
        assert!(m.contains("is longer than 100 bytes"), "{m}");
        assert!(m.contains("test"), "{m}");
        t.abort();
        // One line that never ends.
        let (mut c, t) = conn(vec![b'x'; 5000], Duration::from_secs(5));
        let m = protocol_message(c.multiline("RETR", &Bound::message(100, "test")).await);
        assert!(m.contains("is longer than 100 bytes"), "{m}");
        t.abort();
    }

    #[tokio::test]
    async fn listings_are_capped_by_the_stat_count() {
        let lines: Vec<u8> = (1..=1100)
            .flat_map(|i| format!("{i} uid-{i}\r\n").into_bytes())
            .collect();
        let (mut c, t) = conn(lines, Duration::from_secs(5));
        let m = protocol_message(c.multiline("UIDL", &Bound::listing("UIDL", 2)).await);
        assert!(
            m.contains("the UIDL answer (STAT said 2 messages) is longer than 1002 lines"),
            "{m}"
        );
        t.abort();
        let (mut c, t) = conn(
            [b"1 ".as_slice(), &[b'u'; 1000], b"\r\n"].concat(),
            Duration::from_secs(5),
        );
        let m = protocol_message(c.multiline("UIDL", &Bound::listing("UIDL", 2)).await);
        assert!(m.contains("longer than 256 bytes in one line"), "{m}");
        t.abort();
    }

    #[tokio::test]
    async fn a_multi_line_answer_has_one_deadline() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        // A line every 100 ms, forever: each line is quick, the answer never ends.
        let task = tokio::spawn(async move {
            loop {
                if server.write_all(b"X-SLOW\r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let mut c = Conn {
            stream: BufStream::new(Box::new(client)),
            timeout: Duration::from_secs(1),
        };
        let r = c.multiline("CAPA", &Bound::capa()).await;
        assert!(
            matches!(r, Err(EndpointError::Timeout { ref op, secs: 1 }) if op == "CAPA"),
            "{r:?}"
        );
        task.abort();
    }
}
