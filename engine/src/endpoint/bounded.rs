//! Bounds on everything cutover reads from a server, in bytes and in time.
//!
//! A server (or anyone on the path before TLS) decides how much it sends; these limits decide
//! how much cutover keeps. Every read is capped by purpose:
//! - a protocol line outside literals: [`LINE_CAP`] (64 KiB);
//! - a message (an IMAP literal, a POP3 retrieval, a Graph or Gmail download): its endpoint's
//!   `max_message_size` plus a margin, [`DEFAULT_MESSAGE_CAP`] when unset ([`message_cap`]);
//! - any other literal (Message-ID headers, folder names): [`METADATA_LITERAL_CAP`];
//! - collections of responses (UIDs and sizes, identities, POP3 UIDL/LIST): what the folder
//!   said it holds plus slack ([`listing_cap`], at most [`MAX_LISTING`] entries of a UID and a
//!   size); what a listing keeps beyond that is charged in estimated bytes ([`alloc_cost`])
//!   against a budget: [`identity_budget`] for identities, [`POP3_LISTING_BUDGET`] for POP3's
//!   UIDL and LIST; a folder listing: [`MAX_FOLDERS`] and [`FOLDER_LIST_BUDGET`];
//! - HTTP bodies: [`JSON_CAP`] for API pages and errors, [`TOKEN_CAP`] for token answers,
//!   the message cap for downloads ([`http_body`]).
//!
//! Message bytes waiting between the sources and the destinations of all folder pipelines
//! share one process-wide read-ahead budget ([`READ_AHEAD_BYTES`], see [`read_ahead`]).

use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::types::{EndpointError, Folder, MessageIdentity};
use crate::mail::fmt::{bytes_exact, bytes_iec};

/// Longest protocol line outside literals (IMAP, POP3, the STARTTLS exchange).
pub const LINE_CAP: usize = 64 * 1024;

/// Largest message read when the endpoint sets no `max_message_size`.
pub const DEFAULT_MESSAGE_CAP: u64 = 256 * 1024 * 1024;

/// Largest literal outside message bodies (a Message-ID header field, a folder name).
pub const METADATA_LITERAL_CAP: u64 = 1024 * 1024;

/// Most folders a folder listing may return.
pub const MAX_FOLDERS: usize = 100_000;

/// Memory a folder listing may keep (names and their decoded levels, see [`folder_cost`]).
pub const FOLDER_LIST_BUDGET: usize = 32 * 1024 * 1024;

/// Most responses a listing of one folder may return, whatever the folder claims to hold. A
/// listing of UIDs and sizes keeps 16 bytes per message: at most 80 MB.
pub const MAX_LISTING: usize = 5_000_000;

/// Memory one listing of identities (UID, size, Message-ID, Gmail's message id and labels)
/// may keep, the entries themselves included, for a folder of up to about 200,000 messages
/// (about 300 bytes for a typical Gmail message with two labels); larger folders get 512
/// bytes a message ([`identity_budget`]).
pub const IDENTITY_BUDGET: usize = 96 * 1024 * 1024;

/// The most [`identity_budget`] grows to, however many messages a folder claims: about 1.5
/// million typical Gmail messages.
pub const IDENTITY_CEILING: usize = 768 * 1024 * 1024;

/// Longest Gmail label kept (Gmail allows 225 characters; modified UTF-7 and nesting make
/// the wire form longer).
pub const MAX_LABEL: usize = 4096;

/// Memory POP3's UIDL and LIST answers may keep together, and the most bytes either may send.
pub const POP3_LISTING_BUDGET: usize = 64 * 1024 * 1024;

/// Largest JSON page, API answer or error body from an HTTP endpoint.
pub const JSON_CAP: usize = 16 * 1024 * 1024;

/// Largest answer from an OAuth2 token or device-code endpoint.
pub const TOKEN_CAP: usize = 1024 * 1024;

/// Message bytes all folder pipelines of the process may hold between their sources and
/// their destinations, together.
pub const READ_AHEAD_BYTES: u64 = 64 * 1024 * 1024;
const READ_AHEAD_KIB: u32 = (READ_AHEAD_BYTES / 1024) as u32;

/// The largest message read from an endpoint: its `max_message_size` plus as much again (at
/// least 16 MiB more: an IMAP rendering can be a third larger than the stored size), else
/// [`DEFAULT_MESSAGE_CAP`]. Listed sizes (RFC822.SIZE, Graph's size, Gmail's sizeEstimate)
/// are estimates and never the cap.
pub fn message_cap(max_message_size: Option<u64>) -> u64 {
    match max_message_size {
        Some(m) => m.saturating_add(m.max(16 * 1024 * 1024)),
        None => DEFAULT_MESSAGE_CAP,
    }
}

/// Where the message cap of the `side` ("source", "destination") endpoint comes from, for
/// error messages.
pub fn message_cap_origin(max_message_size: Option<u64>, side: &str) -> String {
    match max_message_size {
        Some(m) => format!(
            "max_message_size {} of the {side} plus margin; raise it in [{side}] to accept larger",
            bytes_iec(m)
        ),
        None => format!("the default cap; set max_message_size in [{side}] to change it"),
    }
}

/// Most responses a listing of a folder that holds `exists` messages may return (new mail
/// may arrive meanwhile): EXISTS plus 10% plus 1000, at most [`MAX_LISTING`].
/// Memory one listing of identities may keep for a folder that says it holds `exists`
/// messages: [`IDENTITY_BUDGET`], or 512 bytes a message for a large folder (a Gmail All
/// Mail of a million messages must still be planned), at most [`IDENTITY_CEILING`].
pub fn identity_budget(exists: u32) -> usize {
    (exists as usize)
        .saturating_mul(512)
        .clamp(IDENTITY_BUDGET, IDENTITY_CEILING)
}

pub fn listing_cap(exists: u32) -> usize {
    let e = exists as usize;
    (e + e / 10 + 1000).min(MAX_LISTING)
}

/// Estimated memory of a heap allocation of `bytes` as a general-purpose allocator serves it
/// (8 bytes of bookkeeping, 16-byte steps, 32 bytes at least; nothing for 0 bytes). Used to
/// charge what a listing keeps against its budget, so that many tiny strings cost what they
/// really cost.
pub fn alloc_cost(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes.saturating_add(8 + 15).max(32) / 16 * 16
    }
}

/// Estimated memory of a `String` of `len` bytes held in a collection: its 24-byte header
/// and its allocation.
pub fn string_cost(len: usize) -> usize {
    std::mem::size_of::<String>().saturating_add(alloc_cost(len))
}

/// Estimated memory of one listed folder: the entry, its wire name and each decoded level.
pub fn folder_cost(f: &Folder) -> usize {
    std::mem::size_of::<Folder>()
        + alloc_cost(f.wire_name.len())
        + f.path.iter().map(|p| string_cost(p.len())).sum::<usize>()
}

/// Estimated memory of one listed identity: the entry and the strings it holds.
pub fn identity_cost(m: &MessageIdentity) -> usize {
    let s = |o: &Option<String>| o.as_ref().map_or(0, |x| alloc_cost(x.len()));
    std::mem::size_of::<MessageIdentity>()
        + s(&m.message_id)
        + s(&m.provider_id)
        + m.labels.as_ref().map_or(0, |ls| {
            ls.iter().map(|l| string_cost(l.len())).sum::<usize>()
        })
}

/// The process-wide read-ahead budget, in KiB permits.
pub fn read_ahead() -> &'static Arc<Semaphore> {
    static BUDGET: OnceLock<Arc<Semaphore>> = OnceLock::new();
    BUDGET.get_or_init(|| Arc::new(Semaphore::new(READ_AHEAD_KIB as usize)))
}

/// The whole budget in KiB.
pub fn read_ahead_kib() -> u32 {
    READ_AHEAD_KIB
}

/// KiB permits for `bytes` (rounded up), at most the whole budget: a message larger than
/// the budget takes all of it and so travels alone.
pub fn kib(bytes: u64) -> u32 {
    bytes.div_ceil(1024).min(READ_AHEAD_KIB as u64) as u32
}

/// Reserve read-ahead for a message of `bytes` (at least 1 KiB), waiting until it is free.
pub async fn reserve(bytes: u64) -> OwnedSemaphorePermit {
    read_ahead()
        .clone()
        .acquire_many_owned(kib(bytes).max(1))
        .await
        .expect("the read-ahead budget is never closed")
}

/// A read refused because the server sent more than cutover accepts. Carried inside an
/// `io::Error` (kind `InvalidData`) through the IMAP client; `endpoint::net::io_err` turns it
/// into a permanent [`EndpointError::Protocol`], never a retried network error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Violation {
    #[error("the server sent a line longer than {cap} bytes (no line end); stopped reading")]
    Line { cap: usize },
    #[error(
        "the server announced a literal of {}, more than the {} accepted {context}; refused before reading it",
        bytes_exact(*size),
        bytes_exact(*cap)
    )]
    Literal {
        size: u64,
        cap: u64,
        context: Arc<str>,
    },
    #[error("the server sent a response of more than {}; stopped reading", bytes_exact(*cap))]
    Response { cap: u64 },
    #[error(
        "the server sent literals of more than {} that were not asked for (the read-ahead budget); stopped reading",
        bytes_exact(*budget)
    )]
    Unconsumed { budget: u64 },
    #[error("the server sent more than {} in one answer (the cap for {what}); stopped reading", bytes_exact(*cap as u64))]
    Body { cap: usize, what: &'static str },
}

impl Violation {
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, self)
    }

    /// The violation an I/O error carries, if it is one.
    pub fn of(e: &std::io::Error) -> Option<&Violation> {
        e.get_ref().and_then(|i| i.downcast_ref::<Violation>())
    }
}

/// Read one line (through its `\n`) into `out` (cleared first), at most `cap` bytes:
/// `Ok(0)` at end of stream, a [`Violation::Line`] error when no line end came within `cap`.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    cap: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    out.clear();
    let n = r.take(cap as u64).read_until(b'\n', out).await?;
    if n > 0 && !out.ends_with(b"\n") && n >= cap {
        return Err(Violation::Line { cap }.into_io());
    }
    Ok(n)
}

/// Which timeout ended a [`read_line_paced`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// No byte came within the idle timeout.
    Idle,
    /// The overall deadline passed.
    Deadline,
}

/// [`read_line`] with time bounds: each read from `r` waits at most `idle` for bytes (a slow
/// but steady sender is never cut), and the line must be complete by `deadline`.
pub async fn read_line_paced<R: AsyncBufRead + Unpin>(
    r: &mut R,
    cap: usize,
    out: &mut Vec<u8>,
    idle: std::time::Duration,
    deadline: tokio::time::Instant,
) -> Result<std::io::Result<usize>, Stall> {
    out.clear();
    loop {
        let wake = (tokio::time::Instant::now() + idle).min(deadline);
        let buf = match tokio::time::timeout_at(wake, r.fill_buf()).await {
            Err(_) if wake >= deadline => return Err(Stall::Deadline),
            Err(_) => return Err(Stall::Idle),
            Ok(Err(e)) => return Ok(Err(e)),
            Ok(Ok(b)) => b,
        };
        if buf.is_empty() {
            return Ok(Ok(out.len()));
        }
        let room = &buf[..buf.len().min(cap - out.len())];
        let (take, done) = match room.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (room.len(), false),
        };
        out.extend_from_slice(&room[..take]);
        r.consume(take);
        if done {
            return Ok(Ok(out.len()));
        }
        if out.len() >= cap {
            return Ok(Err(Violation::Line { cap }.into_io()));
        }
    }
}

/// Why an HTTP body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// More than the cap (announced by Content-Length, or sent).
    TooLarge(Violation),
    Http(reqwest::Error),
}

impl BodyError {
    /// The endpoint's error: over the cap is a permanent protocol error for `op`; a transport
    /// error is mapped by the endpoint's own `http` function.
    pub fn into_endpoint(
        self,
        op: &str,
        http: impl FnOnce(reqwest::Error) -> EndpointError,
    ) -> EndpointError {
        match self {
            BodyError::TooLarge(v) => EndpointError::Protocol {
                op: op.to_string(),
                message: v.to_string(),
            },
            BodyError::Http(e) => http(e),
        }
    }
}

/// Read an HTTP response body of at most `cap` bytes (`what` names the purpose in the
/// error): refused at once when its Content-Length is over, else read chunk by chunk and
/// stopped as soon as it goes over. The client's own timeout bounds the time.
pub async fn http_body(
    mut resp: reqwest::Response,
    cap: usize,
    what: &'static str,
) -> Result<Vec<u8>, BodyError> {
    let too_large = || BodyError::TooLarge(Violation::Body { cap, what });
    let announced = resp.content_length();
    if announced.is_some_and(|l| l > cap as u64) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(announced.map_or(0, |l| l as usize));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Http)? {
        if out.len() + chunk.len() > cap {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A body read only for its error text: at most [`JSON_CAP`], empty when unreadable.
pub async fn error_body(resp: reqwest::Response) -> Vec<u8> {
    http_body(resp, JSON_CAP, "an error answer")
        .await
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_identity_budget_grows_with_the_folder_up_to_its_ceiling() {
        assert_eq!(identity_budget(0), IDENTITY_BUDGET);
        assert_eq!(identity_budget(100_000), IDENTITY_BUDGET);
        assert_eq!(identity_budget(1_000_000), 512_000_000);
        assert_eq!(identity_budget(u32::MAX), IDENTITY_CEILING);
    }
    use super::*;

    #[test]
    fn message_caps() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(message_cap(None), DEFAULT_MESSAGE_CAP);
        assert_eq!(message_cap(Some(35 * MIB)), 70 * MIB);
        assert_eq!(message_cap(Some(MIB)), 17 * MIB);
        assert_eq!(message_cap(Some(u64::MAX)), u64::MAX);
    }

    #[test]
    fn listing_caps_have_slack_and_a_ceiling() {
        assert_eq!(listing_cap(0), 1000);
        assert_eq!(listing_cap(10_000), 12_000);
        assert_eq!(listing_cap(u32::MAX), MAX_LISTING);
        // UIDs and sizes of the largest listing: well under the 200 MB goal.
        assert!(MAX_LISTING * std::mem::size_of::<super::super::MessageMeta>() <= 80_000_000);
    }

    #[test]
    fn costs_follow_the_allocator() {
        assert_eq!(alloc_cost(0), 0);
        assert_eq!(alloc_cost(1), 32);
        assert_eq!(alloc_cost(24), 32);
        assert_eq!(alloc_cost(25), 48);
        assert_eq!(alloc_cost(1000), 1008);
        assert_eq!(alloc_cost(usize::MAX), usize::MAX / 16 * 16);
        assert_eq!(string_cost(0), 24);
        assert_eq!(string_cost(1), 24 + 32);
        assert_eq!(string_cost(usize::MAX), usize::MAX);
        // A folder "a/b": the entry, its wire name, two levels of one byte each.
        let f = super::super::Folder {
            wire_name: "a/b".into(),
            path: vec!["a".into(), "b".into()],
            delimiter: Some('/'),
            special: None,
            selectable: true,
        };
        assert_eq!(
            folder_cost(&f),
            std::mem::size_of::<super::super::Folder>() + 32 + 2 * (24 + 32)
        );
        // An identity with a Message-ID of 40 bytes and 1,000 one-byte labels.
        let m = super::super::MessageIdentity {
            uid: 1,
            size: 1,
            message_id: Some("x".repeat(40)),
            provider_id: None,
            labels: Some(vec!["a".into(); 1000]),
        };
        assert_eq!(
            identity_cost(&m),
            std::mem::size_of::<super::super::MessageIdentity>() + 48 + 1000 * (24 + 32)
        );
    }

    #[test]
    fn kib_rounds_up_and_is_clamped_to_the_budget() {
        assert_eq!(kib(0), 0);
        assert_eq!(kib(1), 1);
        assert_eq!(kib(1024), 1);
        assert_eq!(kib(1025), 2);
        assert_eq!(kib(u64::MAX), read_ahead_kib());
    }

    #[tokio::test]
    async fn lines_are_capped() {
        let mut r = tokio::io::BufReader::new(&b"short\r\nxxxxxxxxxxxxxxxxxxxx\r\n"[..]);
        let mut line = Vec::new();
        assert_eq!(read_line(&mut r, 16, &mut line).await.unwrap(), 7);
        assert_eq!(line, b"short\r\n");
        let e = read_line(&mut r, 16, &mut line).await.unwrap_err();
        assert!(
            matches!(Violation::of(&e), Some(Violation::Line { cap: 16 })),
            "{e}"
        );
        // A line of exactly the cap, line end included, is accepted.
        let mut r = tokio::io::BufReader::new(&b"abc\n"[..]);
        assert_eq!(read_line(&mut r, 4, &mut line).await.unwrap(), 4);
        assert_eq!(read_line(&mut r, 4, &mut line).await.unwrap(), 0);
    }

    /// An HTTP server on 127.0.0.1 that answers every request with `head` and then `body`
    /// (the body again and again when `endless`, else once), keeping the connection open.
    async fn http_server(head: &'static str, body: &'static [u8], endless: bool) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut req = [0u8; 4096];
                    let _ = s.read(&mut req).await;
                    if s.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    loop {
                        if s.write_all(body).await.is_err() || !endless {
                            break;
                        }
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                });
            }
        });
        format!("http://{addr}/")
    }

    async fn get(url: &str) -> reqwest::Response {
        reqwest::Client::new().get(url).send().await.unwrap()
    }

    #[tokio::test]
    async fn http_bodies_are_capped_by_purpose() {
        let too_large = |r: Result<Vec<u8>, BodyError>| match r {
            Err(BodyError::TooLarge(v)) => v.to_string(),
            other => panic!("not refused as too large: {other:?}"),
        };
        let limit = std::time::Duration::from_secs(10);
        // Announced larger than the cap: refused before any of it is read (the server sends
        // none of it and holds the connection open).
        let url = http_server(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
            b"",
            false,
        )
        .await;
        let r = tokio::time::timeout(limit, http_body(get(&url).await, 1000, "a test answer"))
            .await
            .expect("refused at once");
        let m = too_large(r);
        assert!(
            m.contains("more than 1000 bytes") && m.contains("a test answer"),
            "{m}"
        );
        // Chunked and endless: stopped at the cap.
        let chunk: &'static [u8] = Box::leak(
            format!("400\r\n{}\r\n", "x".repeat(1024))
                .into_bytes()
                .into_boxed_slice(),
        );
        let url = http_server(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunk,
            true,
        )
        .await;
        let r = tokio::time::timeout(limit, http_body(get(&url).await, 100_000, "a test answer"))
            .await
            .expect("stopped at the cap");
        assert!(too_large(r).contains("more than 100000 bytes"));
        // Within the cap: the bytes.
        let url = http_server(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            b"hello",
            false,
        )
        .await;
        let r = tokio::time::timeout(limit, http_body(get(&url).await, 5, "a test answer"))
            .await
            .unwrap();
        assert_eq!(r.unwrap(), b"hello");
    }
}
