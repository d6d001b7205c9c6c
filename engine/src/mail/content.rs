//! What a message says, for content verification where a service rewrites the MIME it
//! exports (Exchange's `$value` is not the imported bytes: headers re-folded or added,
//! boundaries regenerated, transfer encodings changed). Two messages say the same when:
//!
//! - the headers that survive an Exchange round trip are equal: Message-ID, Subject (decoded,
//!   whitespace collapsed), Date (as an instant), the addresses of From, To and Cc (lower
//!   case), In-Reply-To and References;
//! - their bodies decode to the same text: plain text with line endings and trailing
//!   whitespace ignored, HTML as its visible text (tags dropped, whitespace collapsed);
//! - their attachments decode to the same bytes under the same names (as a set).
//!
//! Anything else (Received lines, X- headers, encodings, boundaries, MIME layout) may differ.
//!
//! A message written through Graph's JSON path is rebuilt from its properties, which keep
//! less ([`Keeps::JsonProperties`]): Message-ID, Subject, From, To and Cc, one body (HTML
//! when the source has it; compared as visible text, whitespace collapsed) and the
//! attachments.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

/// The parts of a message that content verification compares (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    headers: Vec<(&'static str, String)>,
    bodies: Vec<String>,
    /// The one body the JSON path keeps: the HTML's visible text when there is HTML, else
    /// the plain text, whitespace collapsed.
    primary: String,
    /// (name, BLAKE3 of the decoded bytes, length), sorted.
    attachments: Vec<(String, String, usize)>,
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn addrs(a: Option<&Address>) -> String {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(", ")
    })
    .unwrap_or_default()
}

fn ids(v: &HeaderValue) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(" "),
        _ => String::new(),
    }
}

/// Plain text: line endings and trailing whitespace (per line and at the end) ignored.
fn plain(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

/// HTML: its visible text, whitespace collapsed (Exchange rewrites the markup).
fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    let lower = s.to_ascii_lowercase();
    let lower = lower.as_bytes();
    let mut skip_until: Option<&[u8]> = None;
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if let Some(end) = skip_until {
            if lower[i..].starts_with(end) {
                i += end.len();
                skip_until = None;
            } else {
                i += 1;
            }
            continue;
        }
        if !in_tag && lower[i..].starts_with(b"<style") {
            skip_until = Some(b"</style>");
            continue;
        }
        if !in_tag && lower[i..].starts_with(b"<!--") {
            skip_until = Some(b"-->");
            continue;
        }
        match b[i] {
            b'<' => {
                in_tag = true;
                out.push(' ');
            }
            b'>' if in_tag => in_tag = false,
            _ if in_tag => {}
            _ => {
                // A whole UTF-8 character.
                let ch = s.get(i..).and_then(|t| t.chars().next()).unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
                continue;
            }
        }
        i += 1;
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    collapse(&out)
}

/// What `bytes` says, or None when they are not a MIME message at all.
pub fn content(bytes: &[u8]) -> Option<Content> {
    let m = MessageParser::default().parse(bytes)?;
    let headers = vec![
        ("Message-ID", m.message_id().unwrap_or_default().to_string()),
        ("Subject", collapse(m.subject().unwrap_or_default())),
        (
            "Date",
            m.date()
                .map(|d| d.to_timestamp().to_string())
                .unwrap_or_default(),
        ),
        ("From", addrs(m.from())),
        ("To", addrs(m.to())),
        ("Cc", addrs(m.cc())),
        ("In-Reply-To", ids(m.in_reply_to())),
        ("References", ids(m.references())),
    ];
    let mut body_ids: Vec<u32> = m.text_body.iter().chain(&m.html_body).copied().collect();
    body_ids.sort_unstable();
    body_ids.dedup();
    let primary = m
        .html_body
        .iter()
        .find_map(|id| match m.part(*id).map(|p| &p.body) {
            Some(PartType::Html(h)) => Some(html_text(h)),
            _ => None,
        })
        .or_else(|| {
            m.text_body
                .iter()
                .find_map(|id| match m.part(*id).map(|p| &p.body) {
                    Some(PartType::Text(t)) => Some(collapse(t)),
                    _ => None,
                })
        })
        .unwrap_or_default();
    let mut bodies = Vec::new();
    for id in body_ids {
        let Some(p) = m.part(id) else { continue };
        match &p.body {
            PartType::Text(t) => bodies.push(plain(t)),
            PartType::Html(h) => bodies.push(html_text(h)),
            _ => {}
        }
    }
    bodies.retain(|b| !b.is_empty());
    let mut attachments: Vec<(String, String, usize)> = m
        .attachments()
        .map(|p| {
            let c = p.contents();
            (
                p.attachment_name().unwrap_or_default().to_string(),
                blake3::hash(c).to_hex().to_string(),
                c.len(),
            )
        })
        .collect();
    attachments.sort();
    Some(Content {
        headers,
        bodies,
        primary,
        attachments,
    })
}

/// A digest of what `bytes` say (equal for an Exchange export and the MIME imported), for
/// recognising an import by its export; None when they are not a MIME message.
pub fn digest(bytes: &[u8]) -> Option<String> {
    let c = content(bytes)?;
    Some(blake3::hash(format!("{c:?}").as_bytes()).to_hex()[..32].to_string())
}

/// What a way of writing a message promises to keep (see the module's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeps {
    /// The MIME as imported (`importMime`, IMAP, Maildir, Gmail import), possibly rewritten
    /// on export.
    Mime,
    /// Graph's JSON path: the message rebuilt from its properties.
    JsonProperties,
}

/// How `dst` differs from `src` under the normalisation above (None: they say the same).
/// Equal bytes are always the same; bytes that do not parse are compared as bytes.
pub fn differs(src: &[u8], dst: &[u8]) -> Option<String> {
    differs_as(src, dst, Keeps::Mime)
}

/// [`differs`], for what `keeps` promises.
pub fn differs_as(src: &[u8], dst: &[u8], keeps: Keeps) -> Option<String> {
    if src == dst {
        return None;
    }
    let (Some(a), Some(b)) = (content(src), content(dst)) else {
        return Some("the bytes differ (not readable as MIME)".into());
    };
    const JSON_HEADERS: [&str; 5] = ["Message-ID", "Subject", "From", "To", "Cc"];
    for ((name, x), (_, y)) in a.headers.iter().zip(&b.headers) {
        if keeps == Keeps::JsonProperties && !JSON_HEADERS.contains(name) {
            continue;
        }
        if x != y {
            return Some(format!("header {name} differs"));
        }
    }
    if keeps == Keeps::JsonProperties {
        if a.primary != b.primary {
            return Some("the body differs".into());
        }
    } else {
        if a.bodies.len() != b.bodies.len() {
            return Some(format!(
                "{} body part(s) on the source, {} on the destination",
                a.bodies.len(),
                b.bodies.len()
            ));
        }
        if let Some(i) = a.bodies.iter().zip(&b.bodies).position(|(x, y)| x != y) {
            return Some(format!("body part {} differs", i + 1));
        }
    }
    if a.attachments != b.attachments {
        let missing: Vec<&str> = a
            .attachments
            .iter()
            .filter(|x| !b.attachments.contains(x))
            .map(|x| x.0.as_str())
            .collect();
        return Some(if missing.is_empty() {
            format!(
                "{} attachment(s) on the source, {} on the destination",
                a.attachments.len(),
                b.attachments.len()
            )
        } else {
            format!("attachment(s) differ: {}", missing.join(", "))
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n\
Subject: Quarterly =?utf-8?q?r=C3=A9sum=C3=A9?=\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\
Message-ID: <q1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Figures attached.\r\nR\xc3\xa9gards\r\n--b1\r\n\
Content-Type: application/pdf; name=\"q.pdf\"\r\nContent-Disposition: attachment; filename=\"q.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";

    /// The same message as Exchange exports it: headers re-folded and added, a new
    /// boundary, the text quoted-printable, the Date in UTC.
    const EXPORTED: &[u8] = b"Received: from mail.protection.outlook.com\r\n\
X-MS-Exchange-Organization-AuthAs: Anonymous\r\nFrom: Alice <alice@example.com>\r\n\
To: \"bob@example.com\" <bob@example.com>\r\nSubject: =?utf-8?B?UXVhcnRlcmx5IHLDqXN1bcOp?=\r\n\
Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMessage-ID: <q1@example.com>\r\n\
Content-Type: multipart/mixed;\r\n\tboundary=\"_004_EXCH_\"\r\nMIME-Version: 1.0\r\n\r\n\
--_004_EXCH_\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nFigures attached.\r\nR=C3=A9gards\r\n\r\n\
--_004_EXCH_\r\nContent-Type: application/pdf; name=\"q.pdf\"\r\n\
Content-Disposition: attachment; filename=\"q.pdf\"; size=9\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\nLjQK\r\n\r\n--_004_EXCH_--\r\n";

    #[test]
    fn an_exchange_rewrite_says_the_same() {
        assert_eq!(differs(SRC, EXPORTED), None);
        assert_eq!(digest(SRC), digest(EXPORTED));
        assert!(digest(SRC).is_some());
        assert_eq!(differs(SRC, SRC), None);
    }

    #[test]
    fn a_changed_body_attachment_or_header_is_seen() {
        let body = String::from_utf8_lossy(EXPORTED).replace("Figures", "Fiddled");
        assert_eq!(
            differs(SRC, body.as_bytes()).as_deref(),
            Some("body part 1 differs")
        );
        let att = String::from_utf8_lossy(EXPORTED).replace("LjQK", "LjUK");
        assert_eq!(
            differs(SRC, att.as_bytes()).as_deref(),
            Some("attachment(s) differ: q.pdf")
        );
        let subj = String::from_utf8_lossy(SRC).replace("Quarterly", "Monthly");
        assert_eq!(
            differs(SRC, subj.as_bytes()).as_deref(),
            Some("header Subject differs")
        );
    }

    #[test]
    fn the_json_path_keeps_one_body_and_the_main_headers() {
        let src = b"From: a@x.example\r\nTo: b@x.example\r\nSubject: s\r\nMessage-ID: <j@x>\r\n\
Date: Mon, 2 Mar 2026 10:00:00 +0100\r\nContent-Type: text/plain\r\n\r\nHello\r\nworld\r\n";
        let dst = b"From: \"a@x.example\" <a@x.example>\r\nTo: b@x.example\r\nSubject: s\r\n\
Message-ID: <j@x>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>Hello<br/>\r\nworld</body></html>\r\n";
        assert_eq!(differs_as(src, dst, Keeps::JsonProperties), None);
        assert!(differs(src, dst).is_some());
        let other = String::from_utf8_lossy(dst).replace("world", "moon");
        assert_eq!(
            differs_as(src, other.as_bytes(), Keeps::JsonProperties).as_deref(),
            Some("the body differs")
        );
    }

    #[test]
    fn html_is_compared_by_its_visible_text() {
        let a = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<p>Hello&nbsp;<b>world</b></p>\r\n";
        let b = b"Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head><body><div><p>Hello <b>world</b></p></div></body></html>";
        assert_eq!(differs(a, b), None);
        let c = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>";
        assert!(differs(a, c).is_some());
    }
}
