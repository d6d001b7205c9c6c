//! The IMAP transport guard: the byte stream under async-imap, lexed just enough to bound
//! what a server can make cutover allocate.
//!
//! async-imap buffers each response whole and, when a response announces a literal `{N}`,
//! allocates a zeroed buffer of N bytes (up to 512 MiB) as soon as the line end after `{N}`
//! arrives. The guard sits between the TLS (or TCP) stream and the client and follows the
//! protocol's framing: lines, and literals announced at a line end. It refuses, with a
//! [`Violation`] inside an I/O error, before passing those bytes up:
//! - a line segment outside literals longer than [`LINE_CAP`];
//! - a literal larger than the current limit (the message cap while message bodies are
//!   fetched, [`METADATA_LITERAL_CAP`] otherwise), so nothing is allocated for it;
//! - a response longer than that limit plus [`LINE_CAP`].
//!
//! While message bodies are fetched, a literal of 64 KiB or more is reserved in the
//! process-wide read-ahead budget ([`bounded::read_ahead`]) before its line end is passed up:
//! the read waits until the budget has room, so stalled or slow connections cannot each hold a
//! huge buffer. The reservation is held here until the session takes it ([`GuardHandle::take`])
//! to travel with the message to the destination, or releases it; the next command written
//! releases whatever is left. Time spent waiting for the budget does not count against the
//! read's deadline ([`GuardHandle::within`]).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::PollSemaphore;

use super::bounded::{self, LINE_CAP, METADATA_LITERAL_CAP, Violation};
use super::tap::{Hdr, Tap};
use super::types::{EndpointError, Result};

/// Literals below this size are not reserved by the guard (the message sink reserves them
/// when it queues the message); larger ones before the client allocates their buffer.
const RESERVE_FROM: u64 = 64 * 1024;

#[derive(Clone)]
struct Limit {
    literal: u64,
    /// What the limit is for, in words, for the error.
    context: Arc<str>,
    /// Message bodies: large literals are reserved in the read-ahead budget.
    budgeted: bool,
}

impl Limit {
    fn metadata() -> Limit {
        Limit {
            literal: METADATA_LITERAL_CAP,
            context: "outside a message body".into(),
            budgeted: false,
        }
    }
}

#[derive(Default)]
struct Held {
    permits: Vec<OwnedSemaphorePermit>,
    kib: u32,
}

#[derive(Default)]
struct Waits {
    total: Duration,
    since: Option<Instant>,
}

struct Shared {
    limit: Mutex<Limit>,
    held: Mutex<Held>,
    waits: Mutex<Waits>,
    /// Large message literals passed up are also handed to this, while bodies are fetched
    /// with previews wanted.
    tap: Mutex<Option<Tap>>,
    /// Nothing more may be written (an APPEND was left in the middle of its bytes).
    poisoned: std::sync::atomic::AtomicBool,
    total_kib: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn limit(&self) -> Limit {
        lock(&self.limit).clone()
    }

    /// KiB to reserve for a literal of `n` bytes now (None: nothing to reserve), clamped so
    /// that this connection never waits for permits it holds itself.
    fn want(&self, n: u64, limit: &Limit) -> std::result::Result<Option<u32>, Violation> {
        if !limit.budgeted || n < RESERVE_FROM {
            return Ok(None);
        }
        let held = lock(&self.held).kib;
        if held >= self.total_kib {
            return Err(Violation::Unconsumed {
                budget: self.total_kib as u64 * 1024,
            });
        }
        Ok(Some(
            n.div_ceil(1024).min((self.total_kib - held) as u64) as u32
        ))
    }

    fn hold(&self, p: OwnedSemaphorePermit, kib: u32) {
        let mut h = lock(&self.held);
        h.permits.push(p);
        h.kib += kib;
    }

    fn release(&self) {
        let mut h = lock(&self.held);
        if !h.permits.is_empty() {
            *h = Held::default();
        }
    }

    fn wait_started(&self) {
        let mut w = lock(&self.waits);
        if w.since.is_none() {
            w.since = Some(Instant::now());
        }
    }

    fn wait_ended(&self) {
        let mut w = lock(&self.waits);
        if let Some(s) = w.since.take() {
            w.total += s.elapsed();
        }
    }

    /// What was passed up to the client, seen by the tap if there is one.
    fn passed(&self, bytes: &[u8]) {
        if let Some(t) = lock(&self.tap).as_mut() {
            t.feed(bytes);
        }
    }

    /// Time spent waiting for the budget so far, the current wait included.
    fn waited(&self) -> Duration {
        let w = lock(&self.waits);
        w.total + w.since.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

/// IMAP framing: lines, and literals announced by `{N}` CR LF at a line end.
#[derive(Debug)]
struct Lexer {
    literal_left: u64,
    /// Bytes of the current line segment (since the response began or a literal ended).
    seg: usize,
    /// Bytes of the current response, literals included.
    resp: u64,
    hdr: Hdr,
}

impl Lexer {
    fn new() -> Lexer {
        Lexer {
            literal_left: 0,
            seg: 0,
            resp: 0,
            hdr: Hdr::None,
        }
    }

    /// Lex `bytes` until a literal header completes: `Some((i, n))` when `bytes[i]` is the
    /// line end that announces a literal of `n` bytes (the lexer is then past it).
    fn scan(
        &mut self,
        bytes: &[u8],
        limit: &Limit,
    ) -> std::result::Result<Option<(usize, u64)>, Violation> {
        let resp_cap = limit.literal.saturating_add(LINE_CAP as u64);
        let mut i = 0;
        while i < bytes.len() {
            if self.literal_left > 0 {
                let take = self.literal_left.min((bytes.len() - i) as u64);
                self.literal_left -= take;
                self.resp += take;
                i += take as usize;
                continue;
            }
            let b = bytes[i];
            self.seg += 1;
            self.resp += 1;
            if self.seg > LINE_CAP {
                return Err(Violation::Line { cap: LINE_CAP });
            }
            if self.resp > resp_cap {
                return Err(Violation::Response { cap: resp_cap });
            }
            let prev = self.hdr;
            self.hdr = prev.next(b);
            if b == b'\n' {
                self.seg = 0;
                if let Hdr::Cr(n) = prev {
                    if n > limit.literal {
                        return Err(Violation::Literal {
                            size: n,
                            cap: limit.literal,
                            context: limit.context.clone(),
                        });
                    }
                    if self.resp.saturating_add(n) > resp_cap {
                        return Err(Violation::Response { cap: resp_cap });
                    }
                    self.literal_left = n;
                    return Ok(Some((i, n)));
                }
                self.resp = 0;
            }
            i += 1;
        }
        Ok(None)
    }
}

/// The guarded stream (see the module documentation).
pub struct Guard<S> {
    inner: S,
    lex: Lexer,
    shared: Arc<Shared>,
    sem: PollSemaphore,
    /// KiB to reserve before the withheld line end at the front of `stash` is passed up.
    pending: Option<u32>,
    /// Bytes read from `inner` and not passed up yet.
    stash: Vec<u8>,
    stash_pos: usize,
    /// The first stashed byte (the withheld line end) was lexed already.
    stash_lexed: bool,
}

/// The session's side of a [`Guard`]: limits, reservations, deadlines.
#[derive(Clone)]
pub struct GuardHandle(Arc<Shared>);

impl<S> Guard<S> {
    /// A guard on the process-wide read-ahead budget.
    pub fn new(inner: S) -> (Guard<S>, GuardHandle) {
        Self::with_budget(
            inner,
            bounded::read_ahead().clone(),
            bounded::read_ahead_kib(),
        )
    }

    /// A guard on a budget of its own (`total_kib` KiB permits of `sem`).
    pub fn with_budget(inner: S, sem: Arc<Semaphore>, total_kib: u32) -> (Guard<S>, GuardHandle) {
        let shared = Arc::new(Shared {
            limit: Mutex::new(Limit::metadata()),
            held: Mutex::default(),
            waits: Mutex::default(),
            tap: Mutex::default(),
            poisoned: Default::default(),
            total_kib,
        });
        (
            Guard {
                inner,
                lex: Lexer::new(),
                shared: shared.clone(),
                sem: PollSemaphore::new(sem),
                pending: None,
                stash: Vec::new(),
                stash_pos: 0,
                stash_lexed: false,
            },
            GuardHandle(shared),
        )
    }
}

impl<S> fmt::Debug for Guard<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("lexer", &self.lex)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        'read: loop {
            if let Some(kib) = this.pending {
                match this.sem.poll_acquire_many(cx, kib) {
                    Poll::Pending => {
                        this.shared.wait_started();
                        return Poll::Pending;
                    }
                    Poll::Ready(p) => {
                        this.shared.wait_ended();
                        if let Some(p) = p {
                            this.shared.hold(p, kib);
                        }
                        this.pending = None;
                    }
                }
            }
            let start = buf.filled().len();
            let mut lexed = 0;
            if this.stash_pos < this.stash.len() {
                let n = buf.remaining().min(this.stash.len() - this.stash_pos);
                buf.put_slice(&this.stash[this.stash_pos..this.stash_pos + n]);
                if this.stash_lexed {
                    lexed = 1;
                    this.stash_lexed = false;
                }
                this.stash_pos += n;
                if this.stash_pos == this.stash.len() {
                    this.stash.clear();
                    this.stash_pos = 0;
                }
            } else {
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            }
            let end = buf.filled().len();
            if end == start {
                return Poll::Ready(Ok(()));
            }
            let limit = this.shared.limit();
            let mut i = start + lexed;
            while i < end {
                // A refusal passes nothing of this read up.
                let refuse = |buf: &mut ReadBuf<'_>, v: Violation| {
                    buf.set_filled(start);
                    Poll::Ready(Err(v.into_io()))
                };
                let found = match this.lex.scan(&buf.filled()[i..end], &limit) {
                    Ok(f) => f,
                    Err(v) => return refuse(buf, v),
                };
                let Some((at, n)) = found else { break };
                let nl = i + at;
                i = nl + 1;
                let kib = match this.shared.want(n, &limit) {
                    Ok(Some(kib)) => kib,
                    Ok(None) => continue,
                    Err(v) => return refuse(buf, v),
                };
                // Withhold the line end (the client allocates the literal's buffer when it
                // sees it) and what follows, until the reservation is made; by then the
                // responses before it have been consumed.
                let mut rest = buf.filled()[nl..end].to_vec();
                rest.extend_from_slice(&this.stash[this.stash_pos..]);
                this.stash = rest;
                this.stash_pos = 0;
                this.stash_lexed = true;
                buf.set_filled(nl);
                this.pending = Some(kib);
                if nl > start {
                    this.shared.passed(&buf.filled()[start..]);
                    return Poll::Ready(Ok(()));
                }
                continue 'read;
            }
            this.shared.passed(&buf.filled()[start..]);
            return Poll::Ready(Ok(()));
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this
            .shared
            .poisoned
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the connection was left in the middle of an APPEND's message; it takes no more commands",
            )));
        }
        // A new command: the answers to the last one have been consumed.
        if !buf.is_empty() {
            this.shared.release();
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl GuardHandle {
    /// Message bodies follow: literals up to `cap` bytes (`context` says where the cap comes
    /// from), large ones reserved in the read-ahead budget.
    pub fn messages(&self, cap: u64, context: &str) {
        *lock(&self.0.limit) = Limit {
            literal: cap,
            context: format!("for a message ({context})").into(),
            budgeted: true,
        };
    }

    /// Back to metadata: literals up to [`METADATA_LITERAL_CAP`], nothing reserved, no tap.
    pub fn metadata(&self) {
        *lock(&self.0.limit) = Limit::metadata();
        *lock(&self.0.tap) = None;
    }

    /// Until [`Self::metadata`]: every literal of at least `from` bytes passed up is
    /// offered to `on_literal` with the line segment before it (from the response's start,
    /// or from the end of the literal before); the chunk sender it gives gets the
    /// literal's bytes as they pass up.
    pub fn tap(&self, tap: Tap) {
        *lock(&self.0.tap) = Some(tap);
    }

    /// From now on every write fails: the connection is mid-command (an APPEND left in the
    /// middle of its message), and anything written would be read as part of it.
    pub fn poison(&self) {
        self.0
            .poisoned
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The reservations made for the literals read so far, as one permit.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        let mut h = lock(&self.0.held);
        let held = std::mem::take(&mut *h);
        let mut it = held.permits.into_iter();
        let mut first = it.next()?;
        for p in it {
            first.merge(p);
        }
        Some(first)
    }

    /// Drop the reservations of the literals read so far (their responses were consumed).
    pub fn release(&self) {
        self.0.release();
    }

    /// `f` within `t` of its own time: waits for the read-ahead budget do not count (the
    /// budget frees up as the destination stores messages, however slowly).
    pub async fn within<F: Future>(&self, t: Duration, op: &str, f: F) -> Result<F::Output> {
        let start = Instant::now();
        let mark = self.0.waited();
        let mut f = pin!(f);
        loop {
            let now = Instant::now();
            let waited = self.0.waited().saturating_sub(mark);
            let active = (now - start).saturating_sub(waited);
            if active >= t {
                return Err(EndpointError::Timeout {
                    op: op.to_string(),
                    secs: t.as_secs(),
                });
            }
            let next = now + (t - active).max(Duration::from_millis(10));
            if let Ok(v) = tokio::time::timeout_at(next, f.as_mut()).await {
                return Ok(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, BufStream};

    /// Serves the given chunks, one per read, then end of stream (or nothing more, forever).
    #[derive(Debug)]
    struct Chunks {
        chunks: VecDeque<Vec<u8>>,
        stall: bool,
    }

    impl Chunks {
        fn new(chunks: &[&[u8]]) -> Chunks {
            Chunks {
                chunks: chunks.iter().map(|c| c.to_vec()).collect(),
                stall: false,
            }
        }
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            match this.chunks.front_mut() {
                Some(c) => {
                    let n = c.len().min(buf.remaining());
                    buf.put_slice(&c[..n]);
                    c.drain(..n);
                    if c.is_empty() {
                        this.chunks.pop_front();
                    }
                    Poll::Ready(Ok(()))
                }
                None if this.stall => Poll::Pending,
                None => Poll::Ready(Ok(())),
            }
        }
    }

    impl AsyncWrite for Chunks {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn guard(chunks: &[&[u8]], kib: u32) -> (Guard<Chunks>, GuardHandle, Arc<Semaphore>) {
        let sem = Arc::new(Semaphore::new(kib as usize));
        let (g, h) = Guard::with_budget(Chunks::new(chunks), sem.clone(), kib);
        (g, h, sem)
    }

    async fn read_all(g: &mut Guard<Chunks>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        g.read_to_end(&mut out).await?;
        Ok(out)
    }

    fn violation(e: &io::Error) -> Violation {
        Violation::of(e)
            .cloned()
            .unwrap_or_else(|| panic!("not a violation: {e}"))
    }

    #[tokio::test]
    async fn a_line_without_end_is_refused_at_the_cap() {
        let long = vec![b'x'; LINE_CAP + 10];
        let (mut g, _, _) = guard(&[b"* OK ", &long], 1024);
        let e = read_all(&mut g).await.unwrap_err();
        assert!(matches!(violation(&e), Violation::Line { .. }), "{e}");
        // Many lines, each under the cap, are fine.
        let line = [vec![b'y'; LINE_CAP - 2], b"\r\n".to_vec()].concat();
        let (mut g, _, _) = guard(&[&line, &line, &line], 1024);
        assert_eq!(read_all(&mut g).await.unwrap().len(), 3 * LINE_CAP);
    }

    #[tokio::test]
    async fn an_oversized_literal_is_refused_before_its_line_end_is_passed_up() {
        let (mut g, h, _) = guard(&[b"* 1 FETCH (UID 1 BODY[] {400000000}\r\n", b"xxxx"], 1024);
        h.messages(1_000_000, "test cap");
        let mut buf = vec![0u8; 4096];
        let e = g.read(&mut buf).await.unwrap_err();
        match violation(&e) {
            Violation::Literal { size, cap, context } => {
                assert_eq!((size, cap), (400_000_000, 1_000_000));
                assert!(context.contains("test cap"), "{context}");
            }
            v => panic!("{v}"),
        }
        // Outside message bodies the cap is the metadata one.
        let (mut g, _, _) = guard(&[b"* LIST () \"/\" {2000000}\r\n"], 1024);
        let e = read_all(&mut g).await.unwrap_err();
        assert!(
            matches!(violation(&e), Violation::Literal { cap, .. } if cap == METADATA_LITERAL_CAP),
            "{e}"
        );
    }

    #[tokio::test]
    async fn literal_bytes_are_not_a_line_and_responses_are_capped() {
        // A 100 KiB literal without a line break inside, under the message cap.
        let body = vec![b'z'; 100 * 1024];
        let head = format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len());
        let (mut g, h, _) = guard(&[head.as_bytes(), &body, b")\r\n"], 1024);
        h.messages(1 << 20, "test");
        let got = read_all(&mut g).await.unwrap();
        assert_eq!(got.len(), head.len() + body.len() + 3);
        // Endless empty literals in one response: the response is capped.
        let seg = b"X {0}\r\n".repeat(100_000);
        let (mut g, h, _) = guard(&[b"* 1 FETCH (", &seg], 1024);
        h.messages(64 * 1024, "test");
        let e = read_all(&mut g).await.unwrap_err();
        assert!(matches!(violation(&e), Violation::Response { .. }), "{e}");
        // Text that only looks like a header mid-line is no literal.
        let (mut g, _, _) = guard(&[b"* OK {9999999999} is not at the end\r\n"], 1024);
        assert!(read_all(&mut g).await.is_ok());
    }

    #[tokio::test]
    async fn large_literals_wait_for_the_budget_and_the_reservation_travels() {
        let body = vec![b'b'; 150 * 1024];
        let head = format!("* 1 FETCH (UID 1 BODY[] {{{}}}\r\n", body.len());
        let msg = [head.as_bytes(), &body, b")\r\n"].concat();
        let (g, h, sem) = guard(&[&msg, &msg], 200);
        h.messages(1 << 20, "test");
        let mut client = async_imap::Client::new(BufStream::new(g));
        let first = client.read_response().await.unwrap().unwrap();
        let async_imap::imap_proto::Response::Fetch(_, attrs) = first.parsed() else {
            panic!("{:?}", first.parsed())
        };
        assert!(attrs.iter().any(|a| matches!(
            a,
            async_imap::imap_proto::AttributeValue::BodySection { data: Some(d), .. } if d.len() == body.len()
        )));
        let permit = h.take().expect("the literal was reserved");
        assert_eq!(permit.num_permits(), 150);
        assert_eq!(sem.available_permits(), 50);
        // The second literal needs 150 KiB and only 50 are free: the read waits ...
        let second = tokio::time::timeout(Duration::from_millis(200), client.read_response()).await;
        assert!(second.is_err(), "read past the budget");
        assert!(h.0.waited() > Duration::ZERO);
        // ... until the first message is stored (its reservation dropped).
        drop(permit);
        let second = client.read_response().await.unwrap().unwrap();
        assert!(matches!(
            second.parsed(),
            async_imap::imap_proto::Response::Fetch(..)
        ));
        assert_eq!(h.take().map(|p| p.num_permits()), Some(150));
    }

    #[tokio::test]
    async fn headers_split_across_reads_and_several_in_one_read_are_lexed() {
        // Two 80 KiB messages; the first header split in three reads, the second arriving in
        // the same read as the end of the first message.
        let body = vec![b'q'; 80 * 1024];
        let tail = [b")\r\n".as_slice(), b"* 2 FETCH (UID 2 BODY[] {81920}\r\n"].concat();
        let (g, h, sem) = guard(
            &[
                b"* 1 FETCH (UID 1 BODY[] {819",
                b"20}\r",
                b"\n",
                &body,
                &tail,
                &body,
                b")\r\n",
            ],
            1024,
        );
        h.messages(1 << 20, "test");
        let mut client = async_imap::Client::new(BufStream::new(g));
        for uid in [1, 2] {
            let r = client.read_response().await.unwrap().unwrap();
            let async_imap::imap_proto::Response::Fetch(n, attrs) = r.parsed() else {
                panic!("{:?}", r.parsed())
            };
            assert_eq!(*n, uid);
            assert!(attrs.iter().any(|a| matches!(
                a,
                async_imap::imap_proto::AttributeValue::BodySection { data: Some(d), .. } if d[..] == body[..]
            )));
            // Exactly this message's reservation, taken before the next header is read.
            let p = h.take().expect("reserved");
            assert_eq!(p.num_permits(), 80);
            assert_eq!(sem.available_permits(), 1024 - 80);
        }
        assert!(client.read_response().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_literal_larger_than_the_budget_takes_all_of_it_and_writes_release() {
        let body = vec![b'c'; 300 * 1024];
        let head = format!("* 2 FETCH (BODY[] {{{}}}\r\n", body.len());
        let (mut g, h, sem) = guard(&[head.as_bytes(), &body, b")\r\n"], 200);
        h.messages(1 << 20, "test");
        read_all(&mut g).await.unwrap();
        assert_eq!(sem.available_permits(), 0);
        g.write_all(b"c1 NOOP\r\n").await.unwrap();
        assert_eq!(sem.available_permits(), 200);
    }

    #[tokio::test]
    async fn unconsumed_large_literals_beyond_the_budget_are_refused() {
        let body = vec![b'u'; 300 * 1024];
        let head = format!("* 3 FETCH (BODY[] {{{}}}\r\n", body.len());
        let msg = [head.as_bytes(), &body, b")\r\n"].concat();
        let (mut g, h, _) = guard(&[&msg, &msg], 200);
        h.messages(1 << 20, "test");
        let e = read_all(&mut g).await.unwrap_err();
        assert!(matches!(violation(&e), Violation::Unconsumed { .. }), "{e}");
    }

    #[tokio::test]
    async fn budget_waits_do_not_count_against_the_deadline() {
        let (_, h, _) = guard(&[], 10);
        let ms = Duration::from_millis;
        // A read that waits 600 ms for the budget, then 100 ms for the server, passes a
        // 300 ms limit.
        let shared = h.0.clone();
        let r = h
            .within(ms(300), "test", async move {
                shared.wait_started();
                tokio::time::sleep(ms(600)).await;
                shared.wait_ended();
                tokio::time::sleep(ms(100)).await;
                7
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        // Without budget waits, the limit holds.
        let r = h
            .within(
                Duration::from_secs(1),
                "stalled read",
                tokio::time::sleep(ms(1500)),
            )
            .await;
        assert!(
            matches!(r, Err(EndpointError::Timeout { ref op, secs: 1 }) if op == "stalled read")
        );
    }
}
