//! Modified UTF-7 (RFC 3501 5.1.3), the encoding of IMAP folder names, both ways. Every
//! endpoint names folders this way on the wire (the Graph and Gmail API endpoints too), so
//! the mapping, the journal's folder names and every printer decode them here.

/// Modified UTF-7 (RFC 3501 5.1.3) to Unicode; a name that is not valid mUTF-7 stays as is.
pub fn decode_mutf7(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    try_decode_mutf7(s).unwrap_or_else(|| s.to_string())
}

/// Strict decoder (a server may send a raw `&`, which must not panic).
fn try_decode_mutf7(s: &str) -> Option<String> {
    fn b64(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('-')?;
        let chunk = &after.as_bytes()[..end];
        if chunk.is_empty() {
            out.push('&');
        } else {
            let (mut acc, mut bits, mut units) = (0u32, 0u32, Vec::new());
            for &c in chunk {
                acc = (acc << 6) | b64(c)?;
                bits += 6;
                if bits >= 16 {
                    bits -= 16;
                    units.push(((acc >> bits) & 0xFFFF) as u16);
                }
            }
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Unicode to modified UTF-7 (RFC 3501 5.1.3): printable ASCII (0x20-0x7e) stands for
/// itself, `&` is `&-`, everything else (DEL and other controls included, which a crate we
/// used before left raw) goes in `&...-` runs of modified BASE64 over UTF-16.
pub fn encode_mutf7(s: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(units: &mut Vec<u16>, out: &mut String) {
        if units.is_empty() {
            return;
        }
        out.push('&');
        let (mut acc, mut bits) = (0u32, 0u32);
        for u in units.drain(..) {
            acc = (acc << 16) | u32::from(u);
            bits += 16;
            while bits >= 6 {
                bits -= 6;
                out.push(B64[((acc >> bits) & 63) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(B64[((acc << (6 - bits)) & 63) as usize] as char);
        }
        out.push('-');
    }
    let mut out = String::with_capacity(s.len());
    let mut units: Vec<u16> = Vec::new();
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut units, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_ampersand_from_a_server_is_kept_not_a_panic() {
        assert_eq!(decode_mutf7("R&D Team-x"), "R&D Team-x");
        assert_eq!(decode_mutf7("A&B"), "A&B");
        assert_eq!(decode_mutf7("Kunden &- Partner"), "Kunden & Partner");
        assert_eq!(decode_mutf7("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(decode_mutf7("&ZeVnLIqe-"), "日本語");
    }

    #[test]
    fn mutf7_round_trip() {
        for s in ["Entwürfe", "Kunden & Partner", "日本語", "plain"] {
            assert_eq!(decode_mutf7(&encode_mutf7(s)), s);
        }
        assert_eq!(encode_mutf7("Kunden & Partner"), "Kunden &- Partner");
        // RFC 3501's own example, and DEL (not printable: encoded, never raw).
        assert_eq!(
            encode_mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode_mutf7("a\u{7f}b"), "a&AH8-b");
        assert_eq!(decode_mutf7("a&AH8-b"), "a\u{7f}b");
    }
}
