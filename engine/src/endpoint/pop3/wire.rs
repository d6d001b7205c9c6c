//! The POP3 line protocol on one stream: single-line answers, and multi-line answers read
//! line by line within their bounds in bytes, lines and time ([`Bound`]).

use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufStream};

use super::super::bounded::{self, Violation};
use super::super::net::{Io, io_err, with_timeout};
use super::super::types::{EndpointError, Result};
use crate::mail::fmt::bytes_exact;

/// Longest response line accepted (RFC 1939 allows 512; servers' greetings can be longer).
const MAX_LINE: usize = 8192;

/// Longest UIDL or LIST line (RFC 1939: a number, a unique-id of at most 70 characters).
const LISTING_LINE: usize = 256;

/// The pace a multi-line answer's overall deadline allows for the bytes it is expected to
/// carry, on top of `timeout_secs` (see [`Bound::allowance`]).
const DEADLINE_RATE: u64 = 64 * 1024;

/// Typical length of a UIDL or LIST line, for the deadline of a listing.
const TYPICAL_LISTING_LINE: u64 = 64;

/// What a multi-line answer may hold, and what it is, for the error.
pub(super) struct Bound {
    bytes: u64,
    lines: usize,
    line: usize,
    /// Bytes the answer is expected to carry (at most `bytes`): it may take `timeout_secs`
    /// plus these at [`DEADLINE_RATE`] in all.
    expected: u64,
    what: String,
}

impl Bound {
    /// CAPA: a few dozen short lines.
    pub(super) fn capa() -> Bound {
        Bound {
            bytes: 64 * 1024,
            lines: 200,
            line: MAX_LINE,
            expected: 0,
            what: "the CAPA answer".into(),
        }
    }

    /// UIDL or LIST of a maildrop STAT said holds `count` messages: lines for that many plus
    /// slack, bytes never more than [`bounded::POP3_LISTING_BUDGET`] whatever STAT said.
    pub(super) fn listing(command: &str, count: u32) -> Bound {
        let lines = bounded::listing_cap(count);
        let bytes = bounded::POP3_LISTING_BUDGET as u64;
        Bound {
            bytes,
            lines,
            line: LISTING_LINE,
            expected: (lines as u64)
                .saturating_mul(TYPICAL_LISTING_LINE)
                .min(bytes),
            what: format!("the {command} answer (STAT said {count} messages)"),
        }
    }

    /// One message, at most the endpoint's message cap (a line may be as long); `size` is
    /// its size from LIST (0 when LIST did not say), for the deadline only.
    pub(super) fn message(cap: u64, origin: &str, size: u64) -> Bound {
        Bound {
            bytes: cap,
            lines: usize::MAX,
            line: usize::MAX,
            expected: if size == 0 { cap } else { size.min(cap) },
            what: format!("the message (cap {}: {origin})", bytes_exact(cap)),
        }
    }

    /// The overall deadline of the answer: `idle` (the timeout of each read) plus the
    /// expected bytes at [`DEADLINE_RATE`].
    pub(super) fn allowance(&self, idle: Duration) -> Duration {
        let paced = self.expected.min(self.bytes) / DEADLINE_RATE;
        idle.saturating_add(Duration::from_secs(paced))
    }
}

/// The POP3 line protocol on one stream.
pub(super) struct Conn {
    pub(super) stream: BufStream<Box<dyn Io>>,
    pub(super) timeout: Duration,
}

impl Conn {
    /// One response line, without its CRLF.
    pub(super) async fn line(&mut self, op: &str) -> Result<String> {
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

    pub(super) async fn send(&mut self, op: &str, command: &str) -> Result<()> {
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
    pub(super) async fn simple(&mut self, op: &str, command: &str) -> Result<String> {
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

    /// The body of a multi-line answer, dot-unstuffed, every line ending in CRLF (see
    /// [`Conn::multiline_each`]).
    pub(super) async fn multiline(&mut self, op: &str, bound: &Bound) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.multiline_each(op, bound, |l| {
            out.extend_from_slice(l);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Each line of a multi-line answer, dot-unstuffed, with its line end, handed to `each`
    /// as it comes: no more than `bound` allows, no read waiting more than the timeout, the
    /// whole answer within [`Bound::allowance`].
    pub(super) async fn multiline_each(
        &mut self,
        op: &str,
        bound: &Bound,
        mut each: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let allowed = bound.allowance(self.timeout);
        let now = tokio::time::Instant::now();
        // However large the allowance (the message cap may be vast), never an overflow.
        let deadline = now
            .checked_add(allowed)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        let over = |limit: String| EndpointError::Protocol {
            op: op.into(),
            message: format!("{} is longer than {limit}; stopped reading", bound.what),
        };
        let mut total = 0u64;
        let mut lines = 0usize;
        let mut line = Vec::new();
        loop {
            // Room for the bytes left, a stuffed dot and the line end.
            let left = bound.bytes.saturating_sub(total);
            let cap = (bound.line as u64).min(left.saturating_add(3)) as usize;
            let read =
                bounded::read_line_paced(&mut self.stream, cap, &mut line, self.timeout, deadline);
            let n = match read.await {
                Err(bounded::Stall::Idle) => {
                    return Err(EndpointError::Timeout {
                        op: format!("{op} (waiting for data)"),
                        secs: self.timeout.as_secs(),
                    });
                }
                Err(bounded::Stall::Deadline) => {
                    return Err(EndpointError::Timeout {
                        op: op.into(),
                        secs: allowed.as_secs(),
                    });
                }
                Ok(Err(e)) if Violation::of(&e).is_some() => {
                    return Err(if cap < bound.line {
                        over(bytes_exact(bound.bytes))
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
                return Ok(());
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
            total = total.saturating_add(l.len() as u64);
            if total > bound.bytes {
                return Err(over(bytes_exact(bound.bytes)));
            }
            each(l)?;
        }
    }

    /// Lines of a multi-line answer as text (CAPA, UIDL, LIST).
    pub(super) async fn text_lines(
        &mut self,
        op: &str,
        command: &str,
        bound: &Bound,
    ) -> Result<Vec<String>> {
        self.simple(op, command).await?;
        let body = self.multiline(op, bound).await?;
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .collect())
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
            .multiline("RETR", &Bound::message(100, "test", 0))
            .await
            .unwrap();
        assert_eq!(body, b"Subject: x\r\n\r\n.dot\r\n");
        t.abort();
    }

    #[tokio::test]
    async fn a_message_over_the_cap_is_refused_whatever_its_lines() {
        // Many short lines.
        let (mut c, t) = conn(b"0123456789\r\n".repeat(30), Duration::from_secs(5));
        let m = protocol_message(c.multiline("RETR", &Bound::message(100, "test", 0)).await);
        assert!(m.contains("is longer than 100 bytes"), "{m}");
        assert!(m.contains("test"), "{m}");
        t.abort();
        // One line that never ends.
        let (mut c, t) = conn(vec![b'x'; 5000], Duration::from_secs(5));
        let m = protocol_message(c.multiline("RETR", &Bound::message(100, "test", 0)).await);
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

    #[test]
    fn deadlines_scale_with_the_announced_size_within_the_cap() {
        const MIB: u64 = 1024 * 1024;
        let t = Duration::from_secs(120);
        let cap = bounded::message_cap(None);
        // 25 MB at 64 KiB/s: 381 s on top of the timeout.
        let b = Bound::message(cap, "test", 25_000_000);
        assert_eq!(b.allowance(t), Duration::from_secs(120 + 381));
        // A small message: the timeout.
        assert_eq!(Bound::message(cap, "test", 56).allowance(t), t);
        // A lying size is held to the cap (256 MiB: 4096 s), as is an unknown one.
        let capped = Duration::from_secs(120 + 256 * MIB / (64 * 1024));
        assert_eq!(Bound::message(cap, "test", u64::MAX).allowance(t), capped);
        assert_eq!(Bound::message(cap, "test", 0).allowance(t), capped);
        // CAPA: the timeout. Listings: their lines at a typical length, within the budget.
        assert_eq!(Bound::capa().allowance(t), t);
        assert_eq!(Bound::listing("UIDL", 0).allowance(t), t);
        assert_eq!(
            Bound::listing("UIDL", 100_000).allowance(t),
            Duration::from_secs(120 + (111_000 * 64) / (64 * 1024))
        );
        let most = Duration::from_secs(120 + bounded::POP3_LISTING_BUDGET as u64 / (64 * 1024));
        assert_eq!(Bound::listing("UIDL", u32::MAX).allowance(t), most);
        // The timeout itself saturates rather than overflows.
        assert_eq!(Bound::capa().allowance(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn listing_bytes_never_follow_stat() {
        for count in [0, 2, 10_000_000, u32::MAX] {
            assert_eq!(
                Bound::listing("UIDL", count).bytes,
                bounded::POP3_LISTING_BUDGET as u64
            );
        }
    }

    #[tokio::test]
    async fn a_slow_steady_message_is_not_cut_at_the_timeout() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        // 30 lines, one every 100 ms: 3 s in all, each read well within the 1 s timeout.
        let task = tokio::spawn(async move {
            for i in 0..30 {
                let line = format!("line {i}\r\n");
                if server.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = server.write_all(b".\r\n").await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let mut c = Conn {
            stream: BufStream::new(Box::new(client)),
            timeout: Duration::from_secs(1),
        };
        // Announced as 20 x 64 KiB: 21 s allowed in all.
        let bound = Bound::message(1 << 30, "test", 20 * 64 * 1024);
        let body = c.multiline("RETR", &bound).await.unwrap();
        assert_eq!(body.split(|b| *b == b'\n').count(), 31);
        task.abort();
    }

    #[tokio::test]
    async fn a_message_that_stops_coming_ends_at_the_idle_timeout() {
        let (mut c, t) = conn(
            b"Subject: x\r\n\r\nhalf a bo".to_vec(),
            Duration::from_secs(1),
        );
        let r = c
            .multiline("RETR", &Bound::message(1 << 30, "test", 1 << 30))
            .await;
        assert!(
            matches!(r, Err(EndpointError::Timeout { ref op, secs: 1 }) if op == "RETR (waiting for data)"),
            "{r:?}"
        );
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
