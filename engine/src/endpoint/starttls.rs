//! STARTTLS by hand for IMAP, before the client library takes over the TLS stream.
//!
//! Before TLS anyone on the path can answer, so the exchange is bounded like every read from
//! a server (see [`super::bounded`]): each line is capped at [`LINE_CAP`] and the whole
//! exchange, greeting and untagged lines included, has one deadline.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use super::bounded::{self, LINE_CAP};
use super::net::io_err;
use super::types::{EndpointError, Result};

/// STARTTLS by hand on the plain stream: greeting, `STARTTLS`, tagged OK. Before TLS anyone on
/// the path can answer, so every line is capped and the whole exchange has one deadline,
/// untagged lines included.
pub(crate) async fn imap(
    tcp: &mut BufStream<TcpStream>,
    timeout: Duration,
    addr: &str,
) -> Result<()> {
    let (greeting, op) = (
        format!("greeting from {addr}"),
        format!("STARTTLS with {addr}"),
    );
    let deadline = tokio::time::Instant::now() + timeout;
    let mut line = Vec::new();
    let n = starttls_line(tcp, &mut line, deadline, timeout, &greeting, 0).await?;
    if n == 0 {
        return Err(EndpointError::ConnectionLost {
            op: greeting.clone(),
        });
    }
    if !line.starts_with(b"* OK") {
        return Err(EndpointError::Protocol {
            op: greeting.clone(),
            message: format!(
                "unexpected greeting {:?}",
                String::from_utf8_lossy(&line).trim_end()
            ),
        });
    }
    tcp.write_all(b"s0 STARTTLS\r\n")
        .await
        .map_err(|e| io_err(&op, e))?;
    tcp.flush().await.map_err(|e| io_err(&op, e))?;
    // Lines that were not the answer: a server that keeps talking past the deadline is
    // refusing to answer (permanent); one that says nothing is a stalled network.
    let mut chatter = 0u64;
    loop {
        let n = starttls_line(tcp, &mut line, deadline, timeout, &op, chatter).await?;
        if n == 0 {
            return Err(EndpointError::ConnectionLost { op: op.clone() });
        }
        if let Some(rest) = line.strip_prefix(b"s0 ") {
            if rest.starts_with(b"OK") {
                return Ok(());
            }
            return Err(EndpointError::Protocol {
                op: op.clone(),
                message: format!("refused: {}", String::from_utf8_lossy(rest).trim_end()),
            });
        }
        chatter += 1;
    }
}

/// One line of the STARTTLS exchange, capped, before the exchange's deadline.
async fn starttls_line(
    tcp: &mut BufStream<TcpStream>,
    line: &mut Vec<u8>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    op: &str,
    chatter: u64,
) -> Result<usize> {
    // Checked here too, not only by the timeout: a line already in the buffer is read
    // without waiting, so a server that floods lines would never let the timeout fire.
    let read = if tokio::time::Instant::now() >= deadline {
        Err(())
    } else {
        tokio::time::timeout_at(deadline, bounded::read_line(tcp, LINE_CAP, line))
            .await
            .map_err(drop)
    };
    match read {
        Ok(r) => r.map_err(|e| io_err(op, e)),
        Err(()) if chatter > 0 => Err(EndpointError::Protocol {
            op: op.into(),
            message: format!(
                "no answer within {} s; the server sent {chatter} other line(s) instead",
                timeout.as_secs()
            ),
        }),
        Err(()) => Err(EndpointError::Timeout {
            op: op.into(),
            secs: timeout.as_secs(),
        }),
    }
}
