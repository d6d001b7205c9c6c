//! Content lines, the grammar iCalendar and vCard share (RFC 5545 §3.1, RFC 6350 §3.3):
//! `NAME;PARAM=value,"quoted; value":VALUE`, folded at 75 octets with CRLF and one space or tab.

/// One unfolded content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The property name, upper case (with a vCard group prefix kept: `ITEM1.EMAIL`).
    pub name: String,
    /// Parameters in their order, names upper case, values without their quotes.
    pub params: Vec<(String, String)>,
    pub value: String,
}

/// The logical lines of a text: folds joined, CR and LF endings both read, empty lines dropped.
pub fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !raw.is_empty() {
            out.push(raw.to_string());
        }
    }
    out
}

impl Line {
    /// Parse one unfolded line; None when it has no `:` outside quotes.
    pub fn parse(raw: &str) -> Option<Line> {
        let mut in_quotes = false;
        let mut colon = None;
        for (i, c) in raw.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ':' if !in_quotes => {
                    colon = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let colon = colon?;
        let (head, value) = (&raw[..colon], &raw[colon + 1..]);
        let mut parts = split_unquoted(head, ';').into_iter();
        let name = parts.next()?.trim().to_ascii_uppercase();
        if name.is_empty() {
            return None;
        }
        let params = parts
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_uppercase(), v.replace('"', "")),
                None => (p.trim().to_ascii_uppercase(), String::new()),
            })
            .collect();
        Some(Line {
            name,
            params,
            value: value.to_string(),
        })
    }

    /// The property name without a vCard group prefix.
    pub fn bare_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The line written back (unfolded), parameter values quoted where they must be.
    pub fn render(&self) -> String {
        let mut s = self.name.clone();
        for (k, v) in &self.params {
            s.push(';');
            s.push_str(k);
            s.push('=');
            if v.contains([';', ':', ',']) {
                s.push('"');
                s.push_str(v);
                s.push('"');
            } else {
                s.push_str(v);
            }
        }
        s.push(':');
        s.push_str(&self.value);
        s
    }
}

fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if c == sep && !in_quotes {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

/// Fold a line at 75 octets (never inside a UTF-8 character), CRLF-terminated.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 74 * 3 + 2);
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

/// An event's inline attachments (`ATTACH;VALUE=BINARY` or `;ENCODING=BASE64`): each one's
/// file name (`FILENAME` / `X-FILENAME`, else "unnamed") and decoded size in bytes, from the
/// length of its base64 text (no decoding).
pub fn inline_attachments(text: &str) -> Vec<(String, u64)> {
    unfold(text)
        .iter()
        .filter_map(|raw| Line::parse(raw))
        .filter(|l| {
            l.bare_name() == "ATTACH"
                && (l
                    .param("VALUE")
                    .is_some_and(|v| v.eq_ignore_ascii_case("BINARY"))
                    || l.param("ENCODING")
                        .is_some_and(|v| v.eq_ignore_ascii_case("BASE64")))
        })
        .map(|l| {
            let b64 = l.value.trim();
            let pad = b64.bytes().rev().take_while(|b| *b == b'=').count() as u64;
            let size = (b64.len() as u64 / 4 * 3).saturating_sub(pad);
            let name = l
                .param("FILENAME")
                .or_else(|| l.param("X-FILENAME"))
                .unwrap_or("unnamed")
                .to_string();
            (name, size)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_attachments_are_sized_from_their_base64() {
        let text = "BEGIN:VEVENT\r\nUID:a\r\nATTACH;VALUE=BINARY;ENCODING=BASE64;FILENAME=agenda.pdf:aGVsbG8g\r\n d29ybGQ=\r\nATTACH:https://example.com/x\r\nATTACH;ENCODING=BASE64;X-FILENAME=\"a;b.txt\":YQ==\r\nEND:VEVENT\r\n";
        assert_eq!(
            inline_attachments(text),
            vec![("agenda.pdf".to_string(), 11), ("a;b.txt".to_string(), 1)]
        );
        assert!(inline_attachments("BEGIN:VCARD\r\nEND:VCARD\r\n").is_empty());
    }

    #[test]
    fn lines_unfold_and_parse_with_quoted_parameters() {
        let text = "BEGIN:VEVENT\r\nATTENDEE;CN=\"Doe; Jane\";PARTSTAT=ACCEPTED:mai\r\n lto:jane@example.com\r\nEND:VEVENT\r\n";
        let lines = unfold(text);
        assert_eq!(lines.len(), 3);
        let l = Line::parse(&lines[1]).expect("parses");
        assert_eq!(l.name, "ATTENDEE");
        assert_eq!(l.param("CN"), Some("Doe; Jane"));
        assert_eq!(l.value, "mailto:jane@example.com");
        assert_eq!(
            l.render(),
            "ATTENDEE;CN=\"Doe; Jane\";PARTSTAT=ACCEPTED:mailto:jane@example.com"
        );
        assert_eq!(Line::parse("no colon"), None);
        assert_eq!(
            Line::parse("item1.EMAIL;type=INTERNET:a@b").map(|l| l.bare_name().to_string()),
            Some("EMAIL".into())
        );
    }

    #[test]
    fn folding_keeps_characters_whole() {
        let long = format!("SUMMARY:{}", "Zoë Ångström 山田 ".repeat(10));
        let folded = fold(&long);
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(unfold(&folded), vec![long]);
    }
}
