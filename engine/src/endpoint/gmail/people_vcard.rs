//! A People API person as a vCard 3.0 and back: names, emails, phones, addresses,
//! organisation and title, birthday, notes, photo, contact-group memberships (as
//! CATEGORIES). A person cutover created keeps the source's UID and text in its client data,
//! read back as written while the person is unchanged.

use base64::Engine as _;
use serde_json::{Value, json};

use super::ical_gcal::unescape;
use crate::item::content::{Line, fold, unfold};

/// Client data key of the source UID of a contact cutover created.
pub(super) const UID_KEY: &str = "cutoverUid";
/// Client data keys of the kept vCard text (chunks), and their count.
const KEPT_COUNT: &str = "cutoverVcardParts";
const KEPT_CHUNK: usize = 1_000;
const KEPT_MAX_CHUNKS: usize = 24;

fn kept_key(i: usize) -> String {
    format!("cutoverVcard{i}")
}

/// A client data value of a person.
pub(super) fn client_data<'a>(p: &'a Value, key: &str) -> Option<&'a str> {
    p["clientData"]
        .as_array()?
        .iter()
        .find(|d| d["key"] == key)?["value"]
        .as_str()
}

/// The vCard text cutover kept on a person, when all its chunks are there.
pub(super) fn kept_vcard(p: &Value) -> Option<String> {
    let n: usize = client_data(p, KEPT_COUNT)?.parse().ok()?;
    let mut s = String::new();
    for i in 0..n {
        s.push_str(client_data(p, &kept_key(i))?);
    }
    Some(s)
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

fn first<'a>(p: &'a Value, field: &str) -> Option<&'a Value> {
    p[field].as_array()?.first()
}

fn type_param(kind: &str, t: Option<&str>) -> String {
    let t = t.unwrap_or("other").to_ascii_lowercase();
    let mapped = match (kind, t.as_str()) {
        ("TEL", "mobile") => "CELL",
        ("TEL", "homefax") | ("TEL", "workfax") => "FAX",
        (_, "home") => "HOME",
        (_, "work") => "WORK",
        _ => "OTHER",
    };
    match kind {
        "EMAIL" => format!("EMAIL;TYPE=INTERNET,{mapped}"),
        _ => format!("{kind};TYPE={mapped}"),
    }
}

/// The UID a person is known by: the source UID cutover stored on it, else its resource
/// name's id.
pub(super) fn person_uid(p: &Value) -> String {
    if let Some(u) = client_data(p, UID_KEY) {
        return u.to_string();
    }
    let rn = p["resourceName"].as_str().unwrap_or_default();
    format!("google-{}", rn.rsplit('/').next().unwrap_or(rn))
}

/// A person rendered from its fields; `groups` names its user contact groups.
pub(super) fn render(p: &Value, groups: &[(String, String)]) -> String {
    let mut out = vec![
        "BEGIN:VCARD".to_string(),
        "VERSION:3.0".to_string(),
        format!("UID:{}", person_uid(p)),
    ];
    let n = first(p, "names");
    let get =
        |v: Option<&Value>, k: &str| v.and_then(|x| x[k].as_str()).map(esc).unwrap_or_default();
    out.push(format!(
        "N:{};{};{};{};{}",
        get(n, "familyName"),
        get(n, "givenName"),
        get(n, "middleName"),
        get(n, "honorificPrefix"),
        get(n, "honorificSuffix")
    ));
    let fn_ = n
        .and_then(|x| x["displayName"].as_str())
        .map(str::to_string)
        .or_else(|| {
            first(p, "emailAddresses").and_then(|e| e["value"].as_str().map(str::to_string))
        })
        .unwrap_or_default();
    out.push(format!("FN:{}", esc(&fn_)));
    for e in p["emailAddresses"].as_array().into_iter().flatten() {
        if let Some(v) = e["value"].as_str() {
            out.push(format!("{}:{v}", type_param("EMAIL", e["type"].as_str())));
        }
    }
    for t in p["phoneNumbers"].as_array().into_iter().flatten() {
        if let Some(v) = t["value"].as_str() {
            out.push(format!(
                "{}:{}",
                type_param("TEL", t["type"].as_str()),
                esc(v)
            ));
        }
    }
    for a in p["addresses"].as_array().into_iter().flatten() {
        let f = |k: &str| a[k].as_str().map(esc).unwrap_or_default();
        out.push(format!(
            "{}:{};{};{};{};{};{};{}",
            type_param("ADR", a["type"].as_str()),
            f("poBox"),
            f("extendedAddress"),
            f("streetAddress"),
            f("city"),
            f("region"),
            f("postalCode"),
            f("country")
        ));
    }
    if let Some(o) = first(p, "organizations") {
        let (name, dept) = (
            o["name"].as_str().map(esc).unwrap_or_default(),
            o["department"].as_str().map(esc),
        );
        if !name.is_empty() || dept.is_some() {
            out.push(match dept {
                Some(d) => format!("ORG:{name};{d}"),
                None => format!("ORG:{name}"),
            });
        }
        if let Some(t) = o["title"].as_str() {
            out.push(format!("TITLE:{}", esc(t)));
        }
    }
    if let Some(b) = first(p, "birthdays").map(|b| &b["date"]) {
        let (y, m, d) = (b["year"].as_i64(), b["month"].as_i64(), b["day"].as_i64());
        match (y, m, d) {
            (Some(y), Some(m), Some(d)) => out.push(format!("BDAY:{y:04}-{m:02}-{d:02}")),
            (None, Some(m), Some(d)) => out.push(format!("BDAY:--{m:02}{d:02}")),
            _ => {}
        }
    }
    if let Some(b) = first(p, "biographies").and_then(|b| b["value"].as_str()) {
        out.push(format!("NOTE:{}", esc(b)));
    }
    if let Some(ph) = p["photos"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["default"].as_bool() != Some(true))
        .and_then(|x| x["url"].as_str())
    {
        out.push(format!("PHOTO;VALUE=URI:{ph}"));
    }
    let cats: Vec<String> = p["memberships"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["contactGroupMembership"]["contactGroupResourceName"].as_str())
        .filter_map(|rn| groups.iter().find(|(r, _)| r == rn).map(|(_, n)| esc(n)))
        .collect();
    if !cats.is_empty() {
        out.push(format!("CATEGORIES:{}", cats.join(",")));
    }
    out.push("END:VCARD".into());
    out.iter().map(|l| fold(l)).collect()
}

fn google_type(l: &Line) -> Option<&'static str> {
    let types: Vec<String> = l
        .params
        .iter()
        .filter(|(k, _)| k == "TYPE")
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_uppercase()))
        .collect();
    let has = |t: &str| types.iter().any(|x| x == t);
    if l.bare_name() == "TEL" && has("CELL") {
        Some("mobile")
    } else if has("HOME") {
        Some("home")
    } else if has("WORK") {
        Some("work")
    } else {
        None
    }
}

/// Split a structured value on unescaped `;`.
fn parts(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut esc = false;
    for c in v.chars() {
        if esc {
            out.last_mut().expect("one").push('\\');
            out.last_mut().expect("one").push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == ';' {
            out.push(String::new());
        } else {
            out.last_mut().expect("one").push(c);
        }
    }
    out.into_iter().map(|p| unescape(&p)).collect()
}

/// A vCard (3.0 or 4.0) as a People API person (without photo and memberships), the
/// categories it names, and its inline photo's bytes; Err(why) when it cannot be written.
pub(super) type Planned = (Value, Vec<String>, Option<Vec<u8>>);

pub(super) fn plan(text: &str, uid: &str) -> Result<Planned, String> {
    let lines: Vec<Line> = unfold(text).iter().filter_map(|r| Line::parse(r)).collect();
    let get = |n: &str| lines.iter().find(|l| l.bare_name() == n);
    let kind = get("KIND")
        .map(|l| l.value.trim().to_ascii_lowercase())
        .or_else(|| get("X-ADDRESSBOOKSERVER-KIND").map(|l| l.value.trim().to_ascii_lowercase()));
    if kind.as_deref() == Some("group") {
        return Err("is a contact group card; Google keeps groups as labels of contacts (their members' CATEGORIES), not as cards".into());
    }
    let mut p = json!({});
    let mut name = json!({});
    if let Some(n) = get("N") {
        let v = parts(&n.value);
        for (i, k) in [
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        ]
        .iter()
        .enumerate()
        {
            if let Some(x) = v.get(i).filter(|x| !x.is_empty()) {
                name[*k] = json!(x);
            }
        }
    }
    if let Some(f) = get("FN") {
        name["unstructuredName"] = json!(unescape(&f.value));
    }
    if name.as_object().is_some_and(|o| !o.is_empty()) {
        p["names"] = json!([name]);
    }
    let typed = |l: &Line, v: Value| {
        let mut v = v;
        if let Some(t) = google_type(l) {
            v["type"] = json!(t);
        }
        v
    };
    let emails: Vec<Value> = lines
        .iter()
        .filter(|l| l.bare_name() == "EMAIL")
        .map(|l| typed(l, json!({"value": l.value.trim()})))
        .collect();
    if !emails.is_empty() {
        p["emailAddresses"] = json!(emails);
    }
    let phones: Vec<Value> = lines
        .iter()
        .filter(|l| l.bare_name() == "TEL")
        .map(|l| {
            let v = l.value.trim();
            typed(
                l,
                json!({"value": unescape(v.strip_prefix("tel:").unwrap_or(v))}),
            )
        })
        .collect();
    if !phones.is_empty() {
        p["phoneNumbers"] = json!(phones);
    }
    let addrs: Vec<Value> = lines
        .iter()
        .filter(|l| l.bare_name() == "ADR")
        .map(|l| {
            let v = parts(&l.value);
            let mut a = json!({});
            for (i, k) in [
                "poBox",
                "extendedAddress",
                "streetAddress",
                "city",
                "region",
                "postalCode",
                "country",
            ]
            .iter()
            .enumerate()
            {
                if let Some(x) = v.get(i).filter(|x| !x.is_empty()) {
                    a[*k] = json!(x);
                }
            }
            typed(l, a)
        })
        .collect();
    if !addrs.is_empty() {
        p["addresses"] = json!(addrs);
    }
    let mut org = json!({});
    if let Some(o) = get("ORG") {
        let v = parts(&o.value);
        if let Some(n) = v.first().filter(|x| !x.is_empty()) {
            org["name"] = json!(n);
        }
        if let Some(d) = v.get(1).filter(|x| !x.is_empty()) {
            org["department"] = json!(d);
        }
    }
    if let Some(t) = get("TITLE") {
        org["title"] = json!(unescape(&t.value));
    }
    if org.as_object().is_some_and(|o| !o.is_empty()) {
        p["organizations"] = json!([org]);
    }
    if let Some(b) = get("BDAY") {
        let raw = b.value.trim();
        let num = |x: &str| x.parse::<i64>().ok();
        let date = match raw.strip_prefix("--") {
            Some(md) => {
                let md = md.replace('-', "");
                match (md.get(..2).and_then(num), md.get(2..4).and_then(num)) {
                    (Some(m), Some(d)) => json!({"month": m, "day": d}),
                    _ => return Err(format!("has an unreadable BDAY {raw:?}")),
                }
            }
            None => {
                let v = raw.replace('-', "");
                match (
                    v.get(..4).and_then(num),
                    v.get(4..6).and_then(num),
                    v.get(6..8).and_then(num),
                ) {
                    (Some(y), Some(m), Some(d)) => json!({"year": y, "month": m, "day": d}),
                    _ => return Err(format!("has an unreadable BDAY {raw:?}")),
                }
            }
        };
        p["birthdays"] = json!([{ "date": date }]);
    }
    if let Some(n) = get("NOTE") {
        p["biographies"] = json!([{ "value": unescape(&n.value), "contentType": "TEXT_PLAIN" }]);
    }
    let categories: Vec<String> = lines
        .iter()
        .filter(|l| l.bare_name() == "CATEGORIES")
        .flat_map(|l| {
            l.value
                .split(',')
                .map(|c| unescape(c.trim()))
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    let photo = match get("PHOTO") {
        None => None,
        Some(l) => {
            let v = l.value.trim();
            let b64 = if l
                .param("ENCODING")
                .is_some_and(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("BASE64"))
            {
                Some(v.to_string())
            } else {
                v.strip_prefix("data:")
                    .and_then(|d| d.split_once(";base64,"))
                    .map(|(_, b)| b.to_string())
            };
            match b64 {
                Some(b) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b.replace([' ', '\r', '\n'], ""))
                        .map_err(|e| format!("has a PHOTO that is not base64 ({e})"))?,
                ),
                None => None, // A photo by URL: Google takes photo bytes only.
            }
        }
    };
    let mut data = vec![json!({"key": UID_KEY, "value": uid})];
    let chunks: Vec<String> = text
        .chars()
        .collect::<Vec<_>>()
        .chunks(KEPT_CHUNK)
        .map(|c| c.iter().collect())
        .collect();
    if chunks.len() <= KEPT_MAX_CHUNKS {
        data.push(json!({"key": KEPT_COUNT, "value": chunks.len().to_string()}));
        for (i, c) in chunks.into_iter().enumerate() {
            data.push(json!({"key": kept_key(i), "value": c}));
        }
    }
    p["clientData"] = json!(data);
    Ok((p, categories, photo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_becomes_a_person_and_a_person_a_card() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nN:Ångström;Zoë;;Dr.;\r\nFN:Dr. Zoë Ångström\r\nEMAIL;TYPE=INTERNET,WORK:zoe@example.com\r\nTEL;TYPE=CELL:+49 170 1\r\nADR;TYPE=HOME:;;Hauptstr. 1;Berlin;;10115;Germany\r\nORG:Acme\\, Inc.;R&D\r\nTITLE:Chemist\r\nBDAY:1980-02-29\r\nNOTE:Line 1\\nLine 2\r\nCATEGORIES:Friends,Work\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4A==\r\nEND:VCARD\r\n";
        let (p, cats, photo) = plan(card, "u1").unwrap();
        assert_eq!(p["names"][0]["familyName"], "Ångström");
        assert_eq!(p["names"][0]["honorificPrefix"], "Dr.");
        assert_eq!(
            p["emailAddresses"][0],
            json!({"value": "zoe@example.com", "type": "work"})
        );
        assert_eq!(p["phoneNumbers"][0]["type"], "mobile");
        assert_eq!(p["addresses"][0]["city"], "Berlin");
        assert_eq!(
            p["organizations"][0],
            json!({"name": "Acme, Inc.", "department": "R&D", "title": "Chemist"})
        );
        assert_eq!(
            p["birthdays"][0]["date"],
            json!({"year": 1980, "month": 2, "day": 29})
        );
        assert_eq!(p["biographies"][0]["value"], "Line 1\nLine 2");
        assert_eq!(cats, ["Friends", "Work"]);
        assert_eq!(photo, Some(vec![0xff, 0xd8, 0xff, 0xe0]));
        assert_eq!(client_data(&p, UID_KEY), Some("u1"));
        assert_eq!(kept_vcard(&p).as_deref(), Some(card));
        assert!(plan("BEGIN:VCARD\r\nKIND:group\r\nEND:VCARD\r\n", "g").is_err());

        let person = json!({
            "resourceName": "people/c42",
            "names": [{"displayName": "Bo Li", "familyName": "Li", "givenName": "Bo"}],
            "emailAddresses": [{"value": "bo@example.com", "type": "home"}],
            "phoneNumbers": [{"value": "+1 555", "type": "work"}],
            "birthdays": [{"date": {"month": 7, "day": 4}}],
            "memberships": [{"contactGroupMembership": {"contactGroupResourceName": "contactGroups/g1"}}],
        });
        let t = render(&person, &[("contactGroups/g1".into(), "Family".into())]);
        for want in [
            "UID:google-c42",
            "N:Li;Bo;;;",
            "FN:Bo Li",
            "EMAIL;TYPE=INTERNET,HOME:bo@example.com",
            "TEL;TYPE=WORK:+1 555",
            "BDAY:--0704",
            "CATEGORIES:Family",
        ] {
            assert!(t.contains(&format!("{want}\r\n")), "{want} in {t}");
        }
    }
}
