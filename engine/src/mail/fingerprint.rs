//! Message fingerprints: how a message is recognised by its content wherever it is (the
//! journal records one per copied message; in-doubt resolution, re-matching after a
//! UIDVALIDITY change and verification compare them across source and destination).

/// Content fingerprint: BLAKE3 of the exact bytes, 128 bits in hex.
pub fn fingerprint(body: &[u8]) -> String {
    let h = blake3::hash(body);
    h.to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_content_sensitive() {
        assert_eq!(fingerprint(b"abc"), fingerprint(b"abc"));
        assert_ne!(fingerprint(b"abc"), fingerprint(b"abd"));
        assert_eq!(fingerprint(b"").len(), 32);
    }
}
