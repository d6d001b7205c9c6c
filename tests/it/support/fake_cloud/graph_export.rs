//! What the fake's `$value` returns for a message cutover wrote, the way Exchange exports it:
//! never the imported bytes. Exchange converts MIME into its own properties on import and
//! generates MIME again on export, so the export has:
//!
//! - headers added (Received, X-MS-Exchange-Organization-*, Thread-Index, X-MS-Has-Attach,
//!   Content-Language) and re-folded (Content-Type's parameters on continuation lines);
//! - Date rewritten in UTC;
//! - every multipart boundary regenerated (`_000_<id>_`, `_001_…`);
//! - text parts re-encoded quoted-printable, base64 re-wrapped at 76 columns, line ends CRLF;
//! - a message created as JSON (the JSON path) rendered from its properties: From, To, Cc,
//!   Subject, Message-ID, its one body and its attachments.
//!
//! A message seeded into the fake (a source mailbox) is exported as seeded.

use base64::Engine as _;
use serde_json::Value;

use super::graph::FakeMessage;

/// Lines of `raw`, without their line ends.
fn lines(raw: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = raw
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if raw.ends_with(b"\n") {
        v.pop();
    }
    v
}

/// (unfolded headers, the body's exact bytes) of an entity. Header values are kept as
/// bytes: undeclared 8-bit text stays what it was.
fn split(raw: &[u8]) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |i| pos + i);
        let line = raw[pos..end].strip_suffix(b"\r").unwrap_or(&raw[pos..end]);
        pos = (end + 1).min(raw.len());
        if line.is_empty() {
            return (headers, raw[pos..].to_vec());
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(h) = headers.last_mut() {
                h.1.push(b' ');
                h.1.extend_from_slice(line.trim_ascii());
            }
        } else if let Some(c) = line.iter().position(|b| *b == b':') {
            headers.push((
                String::from_utf8_lossy(&line[..c]).trim().to_string(),
                line[c + 1..].trim_ascii().to_vec(),
            ));
        }
    }
    (headers, Vec::new())
}

fn get(h: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

fn set(h: &mut Vec<(String, Vec<u8>)>, name: &str, value: String) {
    match h.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(x) => x.1 = value.into_bytes(),
        None => h.push((name.to_string(), value.into_bytes())),
    }
}

/// The parts of a multipart body (exact bytes each; the line end before a delimiter
/// belongs to the delimiter).
fn parts<'a>(body: &'a [u8], b: &str) -> Vec<&'a [u8]> {
    let open = format!("--{b}");
    let close = format!("--{b}--");
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    // Where the previous line's content ended (before its line end).
    let mut prev_end = 0;
    while pos < body.len() {
        let end = body[pos..]
            .iter()
            .position(|x| *x == b'\n')
            .map_or(body.len(), |i| pos + i);
        let line = body[pos..end]
            .strip_suffix(b"\r")
            .unwrap_or(&body[pos..end]);
        let t = String::from_utf8_lossy(line);
        let t = t.trim_end();
        if t == open || t == close {
            if let Some(s) = start {
                out.push(&body[s..prev_end.max(s)]);
            }
            if t == close {
                return out;
            }
            start = Some((end + 1).min(body.len()));
        }
        prev_end = pos + line.len();
        pos = end + 1;
    }
    if let Some(s) = start {
        out.push(&body[s.min(body.len())..]);
    }
    out
}

fn boundary(ct: &str) -> Option<String> {
    let i = ct.to_ascii_lowercase().find("boundary=")?;
    let v = &ct[i + "boundary=".len()..];
    let v = v.split(';').next()?.trim();
    Some(v.trim_matches('"').to_string())
}

/// Quoted-printable, lines of at most 76 characters, CRLF between lines.
fn qp(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, line) in lines(body).into_iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let mut col = 0;
        for (i, b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let lit = (33..=126).contains(b) && *b != b'=' || (*b == b' ' && !last);
            let piece = if lit {
                vec![*b]
            } else {
                format!("={b:02X}").into_bytes()
            };
            if col + piece.len() > 75 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            col += piece.len();
            out.extend_from_slice(&piece);
        }
    }
    if body.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn b64_wrapped(bytes: &[u8]) -> Vec<u8> {
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = Vec::new();
    for c in s.as_bytes().chunks(76) {
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Header lines, Content-Type's parameters folded onto continuation lines.
fn emit_headers(h: &[(String, Vec<u8>)], out: &mut Vec<u8>) {
    for (n, v) in h {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        if n.eq_ignore_ascii_case("Content-Type") || n.eq_ignore_ascii_case("Content-Disposition") {
            let v = String::from_utf8_lossy(v);
            let folded = v
                .split(';')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(";\r\n\t");
            out.extend_from_slice(folded.as_bytes());
        } else {
            out.extend_from_slice(v);
        }
        out.extend_from_slice(b"\r\n");
    }
}

fn owned(h: &[(&str, String)]) -> Vec<(String, Vec<u8>)> {
    h.iter()
        .map(|(n, v)| (n.to_string(), v.clone().into_bytes()))
        .collect()
}

/// One entity as Exchange writes it again; `n` numbers the regenerated boundaries.
fn entity(raw: &[u8], id: &str, n: &mut u32) -> Vec<u8> {
    let (mut h, body) = split(raw);
    let declared = get(&h, "Content-Type");
    let ct = declared.clone().unwrap_or_else(|| "text/plain".into());
    let lct = ct.to_ascii_lowercase();
    let cte = get(&h, "Content-Transfer-Encoding")
        .unwrap_or_else(|| "7bit".into())
        .to_ascii_lowercase();
    let new_body = if let (true, Some(b)) = (lct.starts_with("multipart/"), boundary(&ct)) {
        let nb = format!("_{:03}_{id}_", *n);
        *n += 1;
        let mut out = Vec::new();
        for p in parts(&body, &b) {
            out.extend_from_slice(format!("--{nb}\r\n").as_bytes());
            out.extend_from_slice(&entity(p, id, n));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{nb}--\r\n").as_bytes());
        let i = lct.find("boundary=").unwrap_or(ct.len());
        let rest: String = ct[i..]
            .split_once(';')
            .map(|(_, r)| format!(";{r}"))
            .unwrap_or_default();
        set(
            &mut h,
            "Content-Type",
            format!("{}boundary=\"{nb}\"{rest}", &ct[..i]),
        );
        out
    } else if lct.starts_with("text/") && matches!(cte.as_str(), "7bit" | "8bit") {
        // The charset stays what it was (declared or not): only the encoding changes.
        set(
            &mut h,
            "Content-Transfer-Encoding",
            "quoted-printable".into(),
        );
        qp(&body)
    } else if cte == "base64" {
        let clean: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match base64::engine::general_purpose::STANDARD.decode(&clean) {
            Ok(bytes) => b64_wrapped(&bytes),
            Err(_) => body,
        }
    } else {
        body
    };
    let mut out = Vec::new();
    emit_headers(&h, &mut out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&new_body);
    out
}

/// The `$value` of an imported MIME message.
pub fn exchange_mime(mime: &[u8], id: &str) -> Vec<u8> {
    let short: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let mut n = 0;
    let body = entity(mime, &short, &mut n);
    let (mut h, rest) = split(&body);
    if let Some(d) = get(&h, "Date").and_then(|d| chrono::DateTime::parse_from_rfc2822(&d).ok()) {
        set(&mut h, "Date", d.with_timezone(&chrono::Utc).to_rfc2822());
    }
    let has_attach = String::from_utf8_lossy(&rest)
        .to_ascii_lowercase()
        .contains("attachment");
    let mut all = owned(&[
        (
            "Received",
            "from AM0PR01MB1234.eurprd01.prod.exchangelabs.com (2603:10a6:208:1::1) by AM0PR01MB5678.eurprd01.prod.exchangelabs.com with HTTPS; Mon, 7 Dec 2026 09:00:00 +0000".to_string(),
        ),
        ("Thread-Index", format!("AQHZ{short}")),
    ]);
    all.append(&mut h);
    all.push((
        "X-MS-Has-Attach".into(),
        if has_attach { "yes" } else { "" }.as_bytes().to_vec(),
    ));
    all.push(("X-MS-Exchange-Organization-SCL".into(), "-1".into()));
    all.push((
        "X-MS-Exchange-Organization-AuthAs".into(),
        "Internal".into(),
    ));
    all.push(("Content-Language".into(), "en-US".into()));
    let mut out = Vec::new();
    emit_headers(&all, &mut out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&rest);
    out
}

fn addr(v: &Value) -> String {
    let a = v["emailAddress"]["address"].as_str().unwrap_or("");
    match v["emailAddress"]["name"].as_str() {
        Some(n) if n != a => format!("\"{n}\" <{a}>"),
        _ => a.to_string(),
    }
}

/// The `$value` of a message created as JSON: MIME rendered from its properties.
pub fn exchange_json(m: &FakeMessage) -> Vec<u8> {
    let j = m.json.clone().unwrap_or(Value::Null);
    let list = |k: &str| -> String {
        j[k].as_array()
            .map(|a| a.iter().map(addr).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let mut h: Vec<(&str, String)> = Vec::new();
    if j["from"].is_object() {
        h.push(("From", addr(&j["from"])));
    }
    for (name, key) in [("To", "toRecipients"), ("Cc", "ccRecipients")] {
        let v = list(key);
        if !v.is_empty() {
            h.push((name, v));
        }
    }
    h.push(("Subject", j["subject"].as_str().unwrap_or("").to_string()));
    if let Some(id) = j["internetMessageId"].as_str() {
        h.push(("Message-ID", id.to_string()));
    }
    h.push(("MIME-Version", "1.0".into()));
    let html = j["body"]["contentType"].as_str() == Some("html");
    let text = j["body"]["content"].as_str().unwrap_or("");
    let mut body_part = Vec::new();
    emit_headers(
        &owned(&[
            (
                "Content-Type",
                format!(
                    "{}; charset=\"utf-8\"",
                    if html { "text/html" } else { "text/plain" }
                ),
            ),
            ("Content-Transfer-Encoding", "quoted-printable".into()),
        ]),
        &mut body_part,
    );
    body_part.extend_from_slice(b"\r\n");
    body_part.extend_from_slice(&qp(text.as_bytes()));
    let mut out = Vec::new();
    if m.attachments.is_empty() {
        emit_headers(&owned(&h), &mut out);
        out.extend_from_slice(&body_part);
        return out;
    }
    let b = format!(
        "_000_{}_",
        m.id.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
    );
    h.push(("Content-Type", format!("multipart/mixed; boundary=\"{b}\"")));
    emit_headers(&owned(&h), &mut out);
    out.extend_from_slice(format!("\r\n--{b}\r\n").as_bytes());
    out.extend_from_slice(&body_part);
    for a in &m.attachments {
        out.extend_from_slice(format!("\r\n--{b}\r\n").as_bytes());
        emit_headers(
            &owned(&[
                (
                    "Content-Type",
                    format!("{}; name=\"{}\"", a.content_type, a.name),
                ),
                (
                    "Content-Disposition",
                    format!(
                        "attachment; filename=\"{}\"; size={}",
                        a.name,
                        a.bytes.len()
                    ),
                ),
                ("Content-Transfer-Encoding", "base64".into()),
            ]),
            &mut out,
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&b64_wrapped(&a.bytes));
    }
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}
