//! Bytes on an IMAP link against the bytes of protocol they carried: a plain figure that the
//! transport counts (`endpoint::compress`) and the contract carries to the CLI and console.

/// Bytes that crossed the link and bytes of protocol they carried, both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireBytes {
    /// Read from the server, as sent (compressed when compression is on).
    pub wire_in: u64,
    /// Written to the server, as sent.
    pub wire_out: u64,
    /// Read, as the protocol carries it (after decompression).
    pub plain_in: u64,
    /// Written, as the protocol carries it (before compression).
    pub plain_out: u64,
    /// Sessions that turned compression on.
    pub compressed_sessions: u64,
}

impl WireBytes {
    /// Protocol bytes per wire byte, both directions (1.0 without compression).
    pub fn ratio(&self) -> f64 {
        let wire = self.wire_in + self.wire_out;
        if wire == 0 {
            return 1.0;
        }
        (self.plain_in + self.plain_out) as f64 / wire as f64
    }
}
