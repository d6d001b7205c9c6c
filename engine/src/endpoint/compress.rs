//! COMPRESS=DEFLATE (RFC 4978) under the IMAP transport guard, and the bytes on the wire.
//!
//! The layer sits between the TLS (or TCP) stream and the [guard](super::guard): the guard
//! lexes the protocol, so it must see the uncompressed bytes. It starts as a pass-through;
//! once the server has answered `OK` to `COMPRESS DEFLATE`, [`WireCounter::enable`] switches
//! it, and from the next read or write on, both directions are raw DEFLATE (RFC 1951, no zlib
//! header). The server sends nothing between its `OK` and cutover's next command, so no byte
//! read before the switch belongs to the compressed stream. Every flush (the client flushes at
//! the end of each command, and cutover's own pipelined and MULTIAPPEND writes flush at the end
//! of theirs) is a complete DEFLATE sync flush ([`super::deflate`]), so the server never waits
//! on a half-sent command.
//!
//! Counting: every byte read from and written to the stream below (the wire, before TLS) and
//! every byte passed up and down (the protocol) is added to the connector's [`WireCounter`], so
//! the console and the run summary show what crossed the link and what it carried.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::deflate::Deflate;
use super::net::Io;
pub use crate::wire::WireBytes;

#[derive(Default)]
struct Totals {
    wire_in: AtomicU64,
    wire_out: AtomicU64,
    plain_in: AtomicU64,
    plain_out: AtomicU64,
    compressed_sessions: AtomicU64,
}

/// The counts of one connector (all its sessions), shared with the monitor.
#[derive(Clone, Default)]
pub struct WireCounter(Arc<Totals>);

impl fmt::Debug for WireCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl WireCounter {
    pub fn get(&self) -> WireBytes {
        let t = &self.0;
        WireBytes {
            wire_in: t.wire_in.load(Relaxed),
            wire_out: t.wire_out.load(Relaxed),
            plain_in: t.plain_in.load(Relaxed),
            plain_out: t.plain_out.load(Relaxed),
            compressed_sessions: t.compressed_sessions.load(Relaxed),
        }
    }
}

/// The switch of one session's layer.
#[derive(Clone)]
pub struct CompressSwitch {
    on: Arc<AtomicBool>,
    totals: WireCounter,
}

impl CompressSwitch {
    /// Compress both directions from the next read or write on. Call only after the server's
    /// `OK` to `COMPRESS DEFLATE`, before the next command.
    pub fn enable(&self) {
        if !self.on.swap(true, Relaxed) {
            self.totals.0.compressed_sessions.fetch_add(1, Relaxed);
        }
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }
}

/// The stream below, counted.
struct Counted {
    inner: Box<dyn Io>,
    totals: WireCounter,
}

impl fmt::Debug for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counted").finish_non_exhaustive()
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let n = (buf.filled().len() - before) as u64;
        self.totals.0.wire_in.fetch_add(n, Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.totals.0.wire_out.fetch_add(n as u64, Relaxed);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

enum State {
    Plain(Counted),
    Deflate(Box<Deflate<Counted>>),
    /// Only while switching.
    Switching,
}

/// The layer: pass-through until switched, then DEFLATE both ways.
pub struct Compressible {
    state: State,
    switch: CompressSwitch,
}

impl fmt::Debug for Compressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressible")
            .field("on", &self.switch.is_on())
            .finish_non_exhaustive()
    }
}

impl Compressible {
    /// Wrap `inner`, counting into `totals`; the switch turns compression on.
    pub fn new(inner: Box<dyn Io>, totals: &WireCounter) -> (Compressible, CompressSwitch) {
        let switch = CompressSwitch {
            on: Arc::default(),
            totals: totals.clone(),
        };
        let layer = Compressible {
            state: State::Plain(Counted {
                inner,
                totals: totals.clone(),
            }),
            switch: switch.clone(),
        };
        (layer, switch)
    }

    fn stream(&mut self) -> Pin<&mut (dyn Io + 'static)> {
        if self.switch.is_on() && matches!(self.state, State::Plain(_)) {
            let State::Plain(c) = std::mem::replace(&mut self.state, State::Switching) else {
                unreachable!("checked above")
            };
            self.state = State::Deflate(Box::new(Deflate::new(c)));
        }
        match &mut self.state {
            State::Plain(c) => Pin::new(c as &mut (dyn Io + 'static)),
            State::Deflate(d) => Pin::new(d.as_mut() as &mut (dyn Io + 'static)),
            State::Switching => unreachable!("the state is restored before returning"),
        }
    }

    fn totals(&self) -> &Totals {
        &self.switch.totals.0
    }
}

impl AsyncRead for Compressible {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(self.stream().poll_read(cx, buf))?;
        let n = (buf.filled().len() - before) as u64;
        self.totals().plain_in.fetch_add(n, Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Compressible {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(self.stream().poll_write(cx, buf))?;
        self.totals().plain_out.fetch_add(n as u64, Relaxed);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Both ends of a duplex pipe, compressed after the switch: what one writes the other
    /// reads, the wire carries fewer bytes than the protocol for repetitive text, and every
    /// flush lets the peer read the whole command without waiting for more.
    #[tokio::test]
    async fn switched_layers_talk_deflate_and_count_the_wire() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (ta, tb) = (WireCounter::default(), WireCounter::default());
        let (mut a, sa) = Compressible::new(Box::new(a), &ta);
        let (mut b, sb) = Compressible::new(Box::new(b), &tb);
        a.write_all(b"c1 COMPRESS DEFLATE\r\n").await.unwrap();
        a.flush().await.unwrap();
        let mut line = [0u8; 21];
        b.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"c1 COMPRESS DEFLATE\r\n");
        sa.enable();
        sb.enable();
        let text = "Subject: the same line again and again\r\n".repeat(500);
        a.write_all(text.as_bytes()).await.unwrap();
        a.flush().await.unwrap();
        let mut got = vec![0u8; text.len()];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, text.as_bytes());
        b.write_all(b"c2 OK done\r\n").await.unwrap();
        b.flush().await.unwrap();
        let mut ok = [0u8; 12];
        a.read_exact(&mut ok).await.unwrap();
        assert_eq!(&ok, b"c2 OK done\r\n");
        let w = ta.get();
        assert_eq!(w.plain_out, 21 + text.len() as u64);
        assert!(w.wire_out < w.plain_out / 10, "{w:?}");
        assert_eq!(w.plain_in, 12);
        assert_eq!(w.compressed_sessions, 1);
        assert!(w.ratio() > 5.0, "{w:?}");
        assert_eq!(tb.get().wire_in, w.wire_out);
    }

    #[tokio::test]
    async fn unswitched_layer_passes_bytes_through() {
        let (a, mut b) = tokio::io::duplex(1024);
        let t = WireCounter::default();
        let (mut a, _s) = Compressible::new(Box::new(a), &t);
        a.write_all(b"a1 NOOP\r\n").await.unwrap();
        a.flush().await.unwrap();
        let mut got = [0u8; 9];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"a1 NOOP\r\n");
        let w = t.get();
        assert_eq!((w.wire_out, w.plain_out, w.compressed_sessions), (9, 9, 0));
        assert_eq!(w.ratio(), 1.0);
    }
}
