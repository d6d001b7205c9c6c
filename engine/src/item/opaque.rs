//! An item that travels as an opaque stream (Microsoft 365 to Microsoft 365 through the
//! mailbox import/export API, `graph_import = "export-import"`): what the copy loop carries
//! is a short summary of the item's properties that the import keeps, then the stream as the
//! service gave it (base64, never parsed here).
//!
//! The summary is what identifies the item and what its fingerprint is taken of: the
//! destination cannot reproduce the source's stream byte for byte (Exchange does not promise
//! that a re-exported item is the same stream), but it reads the same summary back from the
//! imported item, so that resume, in-doubt resolution and verification compare the two sides
//! as on every other path.

/// First line of a carried opaque item: no mail, iCalendar or vCard text starts with a
/// control character.
const MAGIC: &str = "\u{1}cutover-opaque 1\n";

/// The properties the summary is made of, as both sides read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The item's message class (`IPM.Note`, `IPM.Appointment`, `IPM.Contact`, ...).
    pub class: String,
    /// The search key (PR_SEARCH_KEY, base64): set when the item is created, kept by a
    /// copy and by a full-fidelity import; the item's identity on both sides.
    pub key: String,
    pub subject: String,
    /// Sorted.
    pub categories: Vec<String>,
}

impl Summary {
    /// The canonical text: one property a line, values on one line each.
    pub fn text(&self) -> String {
        let one = |s: &str| s.replace(['\r', '\n'], " ");
        let mut cats: Vec<String> = self.categories.iter().map(|c| one(c)).collect();
        cats.sort();
        format!(
            "Class: {}\nKey: {}\nSubject: {}\nCategories: {}\n",
            one(&self.class),
            one(&self.key),
            one(&self.subject),
            cats.join(", ")
        )
    }

    /// The fingerprint both sides compare.
    pub fn fingerprint(&self) -> String {
        crate::mail::fingerprint::fingerprint(self.text().as_bytes())
    }
}

/// The bytes the copy loop carries for an exported item.
pub fn wrap(summary: &Summary, data: &str) -> Vec<u8> {
    let mut out = String::with_capacity(MAGIC.len() + 200 + data.len());
    out.push_str(MAGIC);
    out.push_str(&summary.text());
    out.push('\n');
    out.push_str(data);
    out.into_bytes()
}

/// A carried opaque item: its summary text and its stream (base64 as exported).
pub struct Carried<'a> {
    pub summary: &'a str,
    pub data: &'a str,
}

impl Carried<'_> {
    /// A property of the summary ("Key", "Subject", ...).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.summary.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(": "))
                .filter(|v| !v.is_empty())
        })
    }

    /// The fingerprint of the summary (what the destination's copy shows).
    pub fn fingerprint(&self) -> String {
        crate::mail::fingerprint::fingerprint(self.summary.as_bytes())
    }
}

/// The carried item, when these bytes are one.
pub fn parse(bytes: &[u8]) -> Option<Carried<'_>> {
    let rest = bytes.strip_prefix(MAGIC.as_bytes())?;
    let text = std::str::from_utf8(rest).ok()?;
    let end = text.find("\n\n")?;
    Some(Carried {
        summary: &text[..end + 1],
        data: text[end + 2..].trim(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_the_summarys_whatever_the_stream() {
        let s = Summary {
            class: "IPM.Appointment".into(),
            key: "AAEC".into(),
            subject: "Board\nmeeting".into(),
            categories: vec!["Red".into(), "Blue".into()],
        };
        let a = wrap(&s, "c3RyZWFtIG9uZQ==");
        let b = wrap(&s, "YW5vdGhlciBzdHJlYW0=");
        let (ca, cb) = (parse(&a).unwrap(), parse(&b).unwrap());
        assert_eq!(ca.fingerprint(), s.fingerprint());
        assert_eq!(ca.fingerprint(), cb.fingerprint());
        assert_eq!(ca.data, "c3RyZWFtIG9uZQ==");
        assert_eq!(ca.get("Key"), Some("AAEC"));
        assert_eq!(ca.get("Subject"), Some("Board meeting"));
        assert_eq!(ca.get("Categories"), Some("Blue, Red"));
        let other = Summary {
            key: "AAED".into(),
            ..s.clone()
        };
        assert_ne!(other.fingerprint(), s.fingerprint());
        assert!(parse(b"From: a@b\r\n\r\nhi").is_none());
    }
}
