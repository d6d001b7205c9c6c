//! The guard's tap: the bytes an IMAP session's guard passes up, watched for large
//! literals, whose bytes are handed on as they arrive (cut-through: a large message's
//! APPEND on the destination starts while the source still sends it; see
//! [`super::sink::Preview`]). What the client reads is untouched: the tap sees a copy.

use std::time::{Duration, Instant};

use super::sink::{Announcement, ChunkTx};

/// Where a lexer is in a literal header `{digits}` CR LF.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Hdr {
    None,
    Open,
    Digits(u64),
    Close(u64),
    Cr(u64),
}

impl Hdr {
    /// The state after byte `b`.
    pub(super) fn next(self, b: u8) -> Hdr {
        match (self, b) {
            (_, b'{') => Hdr::Open,
            (Hdr::Open, b'0'..=b'9') => Hdr::Digits((b - b'0') as u64),
            (Hdr::Digits(n), b'0'..=b'9') => {
                Hdr::Digits(n.saturating_mul(10).saturating_add((b - b'0') as u64))
            }
            (Hdr::Digits(n), b'}') => Hdr::Close(n),
            (Hdr::Close(n), b'\r') => Hdr::Cr(n),
            _ => Hdr::None,
        }
    }
}

/// The longest line segment before a literal that is kept for the tap's callback: a FETCH
/// response's head (UID, FLAGS, INTERNALDATE, RFC822.SIZE, BODY[]) is far shorter; a longer
/// one is not offered.
const HEAD_CAP: usize = 8 * 1024;

/// What is offered a literal: the line segment before it (its `{N}` CR LF included) and N;
/// it answers with the literal's preview, to announce if its bytes take a while, and where
/// they go meanwhile; or None.
pub type OnLiteral = Box<dyn FnMut(&[u8], u64) -> Option<(Announcement, ChunkTx)> + Send>;

/// A literal is announced once its bytes have been arriving for this long: one that comes
/// whole sooner (a fast link) gains nothing from a head start.
pub const ANNOUNCE_AFTER: Duration = Duration::ZERO;

/// Follows the IMAP framing of the bytes passed up (lines, and literals announced at a
/// line end) and hands each literal of at least `from` bytes to `on_literal`.
pub struct Tap {
    from: u64,
    after: Duration,
    on_literal: OnLiteral,
    seg: Vec<u8>,
    seg_len: usize,
    hdr: Hdr,
    left: u64,
    out: Option<ChunkTx>,
    /// The literal's preview until it is announced, and when its bytes began.
    pending: Option<(Announcement, Instant)>,
}

impl Tap {
    /// Literals of at least `from` bytes, announced once their bytes have been arriving for
    /// `after` ([`ANNOUNCE_AFTER`]).
    pub fn new(from: u64, after: Duration, on_literal: OnLiteral) -> Tap {
        Tap {
            from: from.max(1),
            after,
            on_literal,
            seg: Vec::new(),
            seg_len: 0,
            hdr: Hdr::None,
            left: 0,
            out: None,
            pending: None,
        }
    }

    /// Bytes passed up, in order.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.left > 0 {
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|(_, since)| since.elapsed() >= self.after)
                    && let Some((a, _)) = self.pending.take()
                    && !a.send()
                {
                    self.out = None;
                }
                let n = self.left.min(bytes.len() as u64) as usize;
                if let Some(out) = &mut self.out {
                    out.send(&bytes[..n]);
                }
                self.left -= n as u64;
                if self.left == 0 {
                    // Dropping the sender says the literal is whole (one never announced is
                    // let go).
                    self.out = None;
                    self.pending = None;
                }
                bytes = &bytes[n..];
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            self.seg_len += 1;
            if self.seg_len <= HEAD_CAP {
                self.seg.push(b);
            }
            let prev = self.hdr;
            self.hdr = prev.next(b);
            if b == b'\n' {
                if let Hdr::Cr(n) = prev {
                    self.left = n;
                    if n >= self.from
                        && self.seg_len <= HEAD_CAP
                        && let Some((a, out)) = (self.on_literal)(&self.seg, n)
                    {
                        self.pending = Some((a, Instant::now()));
                        self.out = Some(out);
                    }
                }
                self.seg.clear();
                self.seg_len = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::sink::MessageSink;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn large_literals_are_handed_on_with_their_head_whatever_the_reads() {
        let stream: &[u8] = b"* 1 FETCH (UID 4 BODY[] {3}\r\nabc)\r\n* 2 FETCH (UID 5 BODY[] {7}\r\nhello\r\n)\r\n* 3 FETCH (UID 6 BODY[] {5}\r\nworld)\r\nc1 OK done\r\n";
        let second = stream.windows(3).position(|w| w == b"{7}").unwrap() + 6;
        // Byte by byte, and in two reads: the same literals, heads and bytes.
        for reads in [
            stream.chunks(1).collect::<Vec<_>>(),
            vec![&stream[..second], &stream[second..]],
        ] {
            let (mut sink, _rx) = MessageSink::new(4);
            let mut previews = sink.with_previews(0);
            let previewer = sink.previewer().unwrap();
            let heads = Arc::new(Mutex::new(Vec::new()));
            let seen = heads.clone();
            let mut tap = Tap::new(
                5,
                Duration::ZERO,
                Box::new(move |head: &[u8], n| {
                    seen.lock().unwrap().push(head.to_vec());
                    Some(previewer.prepare(1, Vec::new(), None, n))
                }),
            );
            let mut fed = 0;
            let mut taken = None;
            for r in reads {
                tap.feed(r);
                fed += r.len();
                if fed >= second && taken.is_none() {
                    // The copy takes the first large one up as soon as it is announced.
                    let p = previews
                        .try_recv()
                        .expect("the 7-byte literal is previewed");
                    assert!(p.chunks.take_up());
                    taken = Some(p);
                }
            }
            let mut p = taken.unwrap();
            assert_eq!(p.size, 7);
            let mut got = Vec::new();
            while let Some(c) = p.chunks.recv().await {
                got.extend(c);
            }
            assert_eq!(got, b"hello\r\n");
            // The next one is announced too, but never taken up: its bytes are let go.
            let mut late = previews
                .try_recv()
                .expect("the 5-byte literal is previewed");
            assert!(!late.chunks.take_up());
            assert_eq!(late.chunks.recv().await, None);
            assert!(previews.try_recv().is_err(), "the 3-byte one is not");
            let heads = heads.lock().unwrap();
            assert_eq!(heads.len(), 2);
            assert_eq!(heads[0], b"* 2 FETCH (UID 5 BODY[] {7}\r\n");
        }
    }
}
