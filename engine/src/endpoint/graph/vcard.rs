//! Graph contacts and vCards: a contact's JSON rendered as a vCard 4.0 text (the source's
//! view of a Graph contact), and a vCard turned into the JSON Graph creates a contact from.
//!
//! Graph's contact holds a fixed set of fields; what it has no field for (a vCard's
//! related people, geo, keys, X- properties, a fourth e-mail address...) is not in the
//! JSON. Fidelity is kept another way: the source vCard's text travels in a named extended
//! property ([`super::types::CONTACT_VCARD_PROP`]) and a contact that carries it is rendered
//! from that text (see `contacts`), so a DAV → Graph → DAV or Graph → Graph copy compares
//! equal with its source. Contacts without it (the mailbox's own) are rendered from their
//! fields, always the same way, so their fingerprint is stable across runs.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::item::content::{Line, fold, unfold};

/// A contact's photo: its media type and bytes.
pub(super) type Photo = (String, Vec<u8>);

/// Escape a vCard text value (RFC 6350 §3.4).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Split a structured value at unescaped `sep`, each part unescaped.
fn split(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') | Some('N') => out.last_mut().expect("one").push('\n'),
                Some(o) => out.last_mut().expect("one").push(o),
                None => {}
            },
            c if c == sep => out.push(String::new()),
            c => out.last_mut().expect("one").push(c),
        }
    }
    out
}

fn unesc(s: &str) -> String {
    split(s, '\u{0}').concat()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").trim().to_string()
}

/// The vCard 4.0 text of a Graph contact (`uid`: the identity the vCard carries).
pub(super) fn render(v: &Value, uid: &str, photo: Option<&Photo>) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCARD".into(),
        "VERSION:4.0".into(),
        format!("UID:{}", esc(uid)),
    ];
    let n: Vec<String> = ["surname", "givenName", "middleName", "title", "generation"]
        .iter()
        .map(|k| esc(&text(v, k)))
        .collect();
    let mut display = text(v, "displayName");
    if display.is_empty() {
        display = [text(v, "givenName"), text(v, "surname")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
    }
    lines.push(format!("FN:{}", esc(&display)));
    if n.iter().any(|p| !p.is_empty()) {
        lines.push(format!("N:{}", n.join(";")));
    }
    let nick = text(v, "nickName");
    if !nick.is_empty() {
        lines.push(format!("NICKNAME:{}", esc(&nick)));
    }
    let (company, dept) = (text(v, "companyName"), text(v, "department"));
    // No empty trailing component: servers drop it (Radicale does), which would change the
    // fingerprint of what they hold.
    if !dept.is_empty() {
        lines.push(format!("ORG:{};{}", esc(&company), esc(&dept)));
    } else if !company.is_empty() {
        lines.push(format!("ORG:{}", esc(&company)));
    }
    let job = text(v, "jobTitle");
    if !job.is_empty() {
        lines.push(format!("TITLE:{}", esc(&job)));
    }
    for e in v["emailAddresses"].as_array().into_iter().flatten() {
        let a = text(e, "address");
        if !a.is_empty() {
            lines.push(format!("EMAIL:{}", esc(&a)));
        }
    }
    for (key, ty) in [("businessPhones", "work"), ("homePhones", "home")] {
        for p in v[key].as_array().into_iter().flatten() {
            if let Some(p) = p.as_str().filter(|p| !p.trim().is_empty()) {
                lines.push(format!("TEL;TYPE={ty},voice:{}", esc(p.trim())));
            }
        }
    }
    let mobile = text(v, "mobilePhone");
    if !mobile.is_empty() {
        lines.push(format!("TEL;TYPE=cell:{}", esc(&mobile)));
    }
    for (key, ty) in [
        ("homeAddress", Some("home")),
        ("businessAddress", Some("work")),
        ("otherAddress", None),
    ] {
        let a = &v[key];
        let parts: Vec<String> = ["street", "city", "state", "postalCode", "countryOrRegion"]
            .iter()
            .map(|k| esc(&text(a, k)))
            .collect();
        if parts.iter().all(String::is_empty) {
            continue;
        }
        let ty = ty.map(|t| format!(";TYPE={t}")).unwrap_or_default();
        lines.push(format!("ADR{ty}:;;{}", parts.join(";")));
    }
    if let Some(b) = v["birthday"].as_str().filter(|b| b.len() >= 10) {
        lines.push(format!("BDAY:{}", b[..10].replace('-', "")));
    }
    let url = text(v, "businessHomePage");
    if !url.is_empty() {
        lines.push(format!("URL:{}", esc(&url)));
    }
    let cats: Vec<String> = v["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .map(esc)
        .collect();
    if !cats.is_empty() {
        lines.push(format!("CATEGORIES:{}", cats.join(",")));
    }
    let notes = v["personalNotes"].as_str().unwrap_or("");
    if !notes.trim().is_empty() {
        lines.push(format!("NOTE:{}", esc(notes)));
    }
    if let Some((mime, bytes)) = photo {
        // The b-encoded form (vCard 3.0's, which servers take in 4.0 cards too) rather than a
        // `data:` URI: Radicale 3.1 (vobject) cuts a data URI at its first comma.
        let ty = mime
            .strip_prefix("image/")
            .unwrap_or("jpeg")
            .to_ascii_uppercase();
        lines.push(format!(
            "PHOTO;ENCODING=b;TYPE={ty}:{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ));
    }
    lines.push("END:VCARD".into());
    lines.iter().map(|l| fold(l)).collect()
}

/// A vCard's lines, unfolded and parsed (those of the first VCARD only).
fn lines(bytes: &[u8]) -> Vec<Line> {
    let text = String::from_utf8_lossy(bytes);
    unfold(&text)
        .iter()
        .filter_map(|l| Line::parse(l))
        .filter(|l| !matches!(l.name.as_str(), "BEGIN" | "END"))
        .collect()
}

/// Whether a vCard is a contact group (vCard 4.0 `KIND:group`, or Apple's 3.0
/// `X-ADDRESSBOOKSERVER-KIND:group`), which Graph contacts cannot hold.
pub(super) fn is_group(bytes: &[u8]) -> bool {
    lines(bytes).iter().any(|l| {
        matches!(l.bare_name(), "KIND" | "X-ADDRESSBOOKSERVER-KIND")
            && l.value.trim().eq_ignore_ascii_case("group")
    })
}

/// The TYPE parameter values of a line, lower case (`TYPE=work,voice`, `TYPE=WORK;TYPE=cell`).
fn types(l: &Line) -> Vec<String> {
    l.params
        .iter()
        .filter(|(k, _)| k == "TYPE")
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect()
}

/// The photo of a vCard: a 4.0 `data:` URI, or 3.0 `ENCODING=b` base64.
pub(super) fn photo(bytes: &[u8]) -> Option<Photo> {
    let l = lines(bytes)
        .into_iter()
        .find(|l| l.bare_name() == "PHOTO")?;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(rest) = l.value.strip_prefix("data:") {
        let (head, data) = rest.split_once(',')?;
        let mime = head.split(';').next().unwrap_or("image/jpeg");
        let bytes = b64.decode(data.trim()).ok()?;
        return Some((mime.to_string(), bytes));
    }
    let encoded = l
        .param("ENCODING")
        .is_some_and(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("base64"));
    if !encoded {
        return None;
    }
    let ty = types(&l)
        .into_iter()
        .next()
        .map(|t| t.trim_start_matches("image/").to_string())
        .unwrap_or_else(|| "jpeg".into());
    let bytes = b64.decode(l.value.trim()).ok()?;
    Some((format!("image/{ty}"), bytes))
}

fn address(value: &str) -> Value {
    let p = split(value, ';');
    let get = |i: usize| p.get(i).cloned().unwrap_or_default();
    // Post office box and extended address join the street.
    let street = [get(0), get(1), get(2)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    json!({
        "street": street,
        "city": get(3),
        "state": get(4),
        "postalCode": get(5),
        "countryOrRegion": get(6),
    })
}

/// A birthday as Graph takes it (`1990-05-01T00:00:00Z`); None for one without a year.
fn birthday(value: &str) -> Option<String> {
    let d: String = value.chars().take_while(|c| *c != 'T').collect();
    let digits: String = d.chars().filter(|c| c.is_ascii_digit()).collect();
    if d.starts_with("--") || digits.len() != 8 {
        return None;
    }
    Some(format!(
        "{}-{}-{}T00:00:00Z",
        &digits[..4],
        &digits[4..6],
        &digits[6..8]
    ))
}

/// The Graph contact JSON of a vCard (3.0 or 4.0): the fields Graph has; Graph keeps at most
/// three e-mail addresses, and one mobile number (other cell numbers go with the others).
pub(super) fn to_graph(bytes: &[u8]) -> Value {
    let mut o = Map::new();
    let mut emails = Vec::new();
    let (mut work, mut home) = (Vec::new(), Vec::new());
    let mut cats: Vec<String> = Vec::new();
    for l in lines(bytes) {
        let t = types(&l);
        match l.bare_name() {
            "FN" => {
                o.insert("displayName".into(), json!(unesc(&l.value)));
            }
            "N" => {
                let p = split(&l.value, ';');
                for (i, key) in ["surname", "givenName", "middleName", "title", "generation"]
                    .iter()
                    .enumerate()
                {
                    if let Some(s) = p.get(i).filter(|s| !s.is_empty()) {
                        o.insert((*key).into(), json!(s.replace(',', " ")));
                    }
                }
            }
            "NICKNAME" => {
                o.insert("nickName".into(), json!(unesc(&l.value)));
            }
            "ORG" => {
                let p = split(&l.value, ';');
                if let Some(c) = p.first().filter(|s| !s.is_empty()) {
                    o.insert("companyName".into(), json!(c));
                }
                if let Some(d) = p.get(1).filter(|s| !s.is_empty()) {
                    o.insert("department".into(), json!(d));
                }
            }
            "TITLE" => {
                o.insert("jobTitle".into(), json!(unesc(&l.value)));
            }
            "EMAIL" if emails.len() < 3 => {
                emails.push(json!({"address": unesc(&l.value).trim()}));
            }
            "TEL" => {
                let n = unesc(l.value.trim_start_matches("tel:"));
                if t.iter().any(|x| x == "cell") && !o.contains_key("mobilePhone") {
                    o.insert("mobilePhone".into(), json!(n));
                } else if t.iter().any(|x| x == "home") {
                    home.push(json!(n));
                } else {
                    work.push(json!(n));
                }
            }
            "ADR" => {
                let key = if t.iter().any(|x| x == "home") {
                    "homeAddress"
                } else if t.iter().any(|x| x == "work") {
                    "businessAddress"
                } else {
                    "otherAddress"
                };
                o.entry(key).or_insert_with(|| address(&l.value));
            }
            "BDAY" => {
                if let Some(b) = birthday(&l.value) {
                    o.insert("birthday".into(), json!(b));
                }
            }
            "NOTE" => {
                o.insert("personalNotes".into(), json!(unesc(&l.value)));
            }
            "URL" => {
                o.entry("businessHomePage")
                    .or_insert_with(|| json!(unesc(&l.value)));
            }
            "CATEGORIES" => cats.extend(split(&l.value, ',').into_iter().filter(|c| !c.is_empty())),
            _ => {}
        }
    }
    if !emails.is_empty() {
        o.insert("emailAddresses".into(), json!(emails));
    }
    if !work.is_empty() {
        o.insert("businessPhones".into(), json!(work));
    }
    if !home.is_empty() {
        o.insert("homePhones".into(), json!(home));
    }
    if !cats.is_empty() {
        o.insert("categories".into(), json!(cats));
    }
    Value::Object(o)
}

/// The fields [`to_graph`] fills, with what clears each when a vCard has none.
const FILLED: &[(&str, bool)] = &[
    ("displayName", false),
    ("surname", false),
    ("givenName", false),
    ("middleName", false),
    ("title", false),
    ("generation", false),
    ("nickName", false),
    ("companyName", false),
    ("department", false),
    ("jobTitle", false),
    ("emailAddresses", true),
    ("mobilePhone", false),
    ("homePhones", true),
    ("businessPhones", true),
    ("homeAddress", false),
    ("businessAddress", false),
    ("otherAddress", false),
    ("birthday", false),
    ("personalNotes", false),
    ("businessHomePage", false),
    ("categories", true),
];

/// [`to_graph`] for an update (PATCH keeps what it is not given): every field the vCard
/// does not fill is cleared.
pub(super) fn to_graph_replacing(bytes: &[u8]) -> Value {
    let mut v = to_graph(bytes);
    if let Some(o) = v.as_object_mut() {
        for (key, list) in FILLED {
            o.entry(*key)
                .or_insert_with(|| if *list { json!([]) } else { Value::Null });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nFN:Zoë Ångström\r\nN:Ångström;Zoë;;Dr.;\r\nORG:Acme\\, Inc.;Sales\r\nTITLE:Head\r\nEMAIL;TYPE=work:zoe@acme.example\r\nEMAIL:z2@x.example\r\nEMAIL:z3@x.example\r\nEMAIL:z4@x.example\r\nTEL;TYPE=CELL:+49 1\r\nTEL;TYPE=HOME:+49 2\r\nTEL;TYPE=WORK:+49 3\r\nADR;TYPE=HOME:;;Main St 1;Berlin;;10115;Germany\r\nBDAY:1990-05-01\r\nNOTE:line1\\nline2\r\nCATEGORIES:friends,work\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\nEND:VCARD\r\n";

    #[test]
    fn a_vcard_becomes_graph_fields_and_back() {
        let v = to_graph(CARD.as_bytes());
        assert_eq!(v["displayName"], "Zoë Ångström");
        assert_eq!(v["surname"], "Ångström");
        assert_eq!(v["title"], "Dr.");
        assert_eq!(v["companyName"], "Acme, Inc.");
        assert_eq!(v["department"], "Sales");
        assert_eq!(v["emailAddresses"].as_array().unwrap().len(), 3);
        assert_eq!(v["mobilePhone"], "+49 1");
        assert_eq!(v["homePhones"][0], "+49 2");
        assert_eq!(v["businessPhones"][0], "+49 3");
        assert_eq!(v["homeAddress"]["city"], "Berlin");
        assert_eq!(v["birthday"], "1990-05-01T00:00:00Z");
        assert_eq!(v["personalNotes"], "line1\nline2");
        assert_eq!(v["categories"][1], "work");
        let p = photo(CARD.as_bytes()).expect("photo");
        assert_eq!(p.0, "image/png");
        let back = render(&v, "c-1", Some(&p));
        assert!(back.contains("ORG:Acme\\, Inc.;Sales\r\n"), "{back}");
        assert!(back.contains("BDAY:19900501\r\n"), "{back}");
        assert!(back.contains("NOTE:line1\\nline2\r\n"), "{back}");
        assert!(
            back.contains("PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\n"),
            "{back}"
        );
        // Rendering the rendering's JSON again is stable.
        assert_eq!(render(&to_graph(back.as_bytes()), "c-1", Some(&p)), back);
        assert!(!is_group(CARD.as_bytes()));
        assert!(is_group(
            b"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nEND:VCARD\r\n"
        ));
    }
}
