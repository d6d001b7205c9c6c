//! Fake Microsoft Graph contacts, served by the Graph fake's router (same tokens, tenants,
//! per-mailbox limits and 429s as mail): the default contact folder (`/contacts`) and the
//! other contact folders (`/contactFolders`), contacts with their fields and single-value
//! extended properties, `$filter` on an extended property's value, `$expand` of chosen
//! extended properties, paging (`$top`/`$skip`), and a contact's photo (`/photo/$value`).
//!
//! Graph's rules it enforces: a contact is made of known fields only (400
//! `RequestBodyRead` otherwise), at most three e-mail addresses (400 `ErrorInvalidArgument`),
//! contact folder names unique (409 `ErrorFolderExists`); no contact groups exist.
//! `store_then_fail` makes the next contact creates be stored and answered 503, as a create
//! whose answer is lost.

use std::collections::{BTreeMap, HashMap};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

/// The fields a Graph contact has (those the fake accepts in a create or an update).
const FIELDS: &[&str] = &[
    "displayName",
    "givenName",
    "surname",
    "middleName",
    "title",
    "generation",
    "nickName",
    "companyName",
    "department",
    "jobTitle",
    "emailAddresses",
    "businessPhones",
    "homePhones",
    "mobilePhone",
    "homeAddress",
    "businessAddress",
    "otherAddress",
    "birthday",
    "personalNotes",
    "categories",
    "businessHomePage",
    "imAddresses",
    "spouseName",
    "fileAs",
    "singleValueExtendedProperties",
];

#[derive(Debug, Clone)]
pub struct FakeContactFolder {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct FakeContact {
    pub id: String,
    /// None: the default Contacts folder.
    pub folder: Option<String>,
    /// The contact's fields as Graph keeps them.
    pub fields: serde_json::Map<String, Value>,
    /// Extended properties, id as sent -> value.
    pub props: BTreeMap<String, String>,
    pub photo: Option<(String, Vec<u8>)>,
    pub change: u64,
}

impl FakeContact {
    pub fn prop(&self, id: &str) -> Option<&String> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, v)| v)
    }

    fn json(&self, expand: &[String]) -> Value {
        let mut v = Value::Object(self.fields.clone());
        v["id"] = json!(self.id);
        v["parentFolderId"] = json!(self.folder.clone().unwrap_or_else(|| "AAMkContacts".into()));
        v["changeKey"] = json!(format!("ck{}", self.change));
        let props: Vec<Value> = expand
            .iter()
            .filter_map(|id| self.prop(id).map(|val| json!({"id": id, "value": val})))
            .collect();
        if !props.is_empty() {
            v["singleValueExtendedProperties"] = json!(props);
        }
        v
    }
}

/// A mailbox's contacts.
#[derive(Debug, Clone, Default)]
pub struct Contacts {
    pub folders: Vec<FakeContactFolder>,
    pub contacts: Vec<FakeContact>,
    /// Contact creates still to store and answer with 503.
    pub lost_answers: u32,
    /// Contact creates received (each POST, stored or refused).
    pub creates: u64,
    /// Photo uploads still to fail with 500 (a contact left without its photo).
    pub failing_photos: u32,
    /// Listings with a `$filter` on an extended property.
    pub filter_queries: u64,
    /// A contact stored by a create whose answer was lost stays out of plain listings
    /// (Graph's listings lag behind a write) while its id is in `lagging`; a `$filter` on
    /// its extended property finds it.
    pub lag_lost: bool,
    pub lagging: std::collections::BTreeSet<String>,
}

impl Contacts {
    /// The contacts of a folder by display name ("Contacts" for the default one).
    pub fn in_folder(&self, name: &str) -> Vec<FakeContact> {
        let fid = self
            .folders
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.id.clone());
        if fid.is_none() && name != "Contacts" {
            return Vec::new();
        }
        self.contacts
            .iter()
            .filter(|c| c.folder == fid)
            .cloned()
            .collect()
    }
}

pub type Answer = (StatusCode, Vec<(&'static str, String)>, Value);

/// What a contacts request answers: JSON, or a photo's bytes with their media type.
pub enum Reply {
    Json(Answer),
    Photo(String, Vec<u8>),
}

fn err(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::Json((
        status,
        Vec::new(),
        json!({"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}}),
    ))
}

fn ok(status: StatusCode, v: Value) -> Reply {
    Reply::Json((status, Vec::new(), v))
}

fn not_found() -> Reply {
    err(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn quoted(s: &str) -> Vec<String> {
    // 'value' with '' for a quote inside.
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut v = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    v.push('\'');
                }
                Some('\'') | None => break,
                Some(c) => v.push(c),
            }
        }
        out.push(v);
    }
    out
}

fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A create's or an update's body checked against Graph's contact: (fields, properties).
#[allow(clippy::type_complexity)]
fn contact_body(
    body: &[u8],
) -> Result<(serde_json::Map<String, Value>, Vec<(String, String)>), Reply> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body) else {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "RequestBodyRead",
            "Invalid JSON body.",
        ));
    };
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "RequestBodyRead",
            &format!("The property '{k}' does not exist on type 'microsoft.graph.contact'."),
        ));
    }
    if o.get("emailAddresses")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 3)
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidArgument",
            "A contact has at most three email addresses.",
        ));
    }
    let props = match o.remove("singleValueExtendedProperties") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| {
                Some((
                    p["id"].as_str()?.to_string(),
                    p["value"].as_str()?.to_string(),
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok((o, props))
}

/// Answer a request under `/users/{upn}/` whose path starts with `contacts` or
/// `contactFolders` (`r`: the segments after the mailbox).
#[allow(clippy::too_many_arguments)]
pub fn route(
    c: &mut Contacts,
    next: &mut u64,
    host: &str,
    version: &str,
    upn: &str,
    method: &Method,
    r: &[&str],
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Reply {
    let mut next_id = |prefix: &str| {
        *next += 1;
        format!("{prefix}{}", *next)
    };
    let folder_of =
        |c: &Contacts, fid: &str| c.folders.iter().find(|f| f.id == fid).map(|f| f.id.clone());
    match (method.clone(), r) {
        (Method::GET, ["contactFolders"]) => ok(
            StatusCode::OK,
            json!({"value": c.folders.iter().map(|f| json!({"id": f.id, "displayName": f.name, "parentFolderId": "AAMkContacts"})).collect::<Vec<_>>()}),
        ),
        (Method::POST, ["contactFolders"]) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let Some(name) = v["displayName"].as_str().filter(|n| !n.is_empty()) else {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidArgument",
                    "displayName is required.",
                );
            };
            if name == "Contacts" || c.folders.iter().any(|f| f.name == name) {
                return err(
                    StatusCode::CONFLICT,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                );
            }
            let id = next_id("AAMkCF");
            c.folders.push(FakeContactFolder {
                id: id.clone(),
                name: name.into(),
            });
            ok(StatusCode::CREATED, json!({"id": id, "displayName": name}))
        }
        (Method::DELETE, ["contactFolders", fid]) => {
            let Some(id) = folder_of(c, fid) else {
                return not_found();
            };
            c.folders.retain(|f| f.id != id);
            c.contacts
                .retain(|x| x.folder.as_deref() != Some(id.as_str()));
            Reply::Json((StatusCode::NO_CONTENT, Vec::new(), Value::Null))
        }
        (Method::GET, ["contacts"]) | (Method::GET, ["contactFolders", _, "contacts"]) => {
            let folder = match r {
                [_, fid, _] => match folder_of(c, fid) {
                    Some(id) => Some(id),
                    None => return not_found(),
                },
                _ => None,
            };
            let expand = q.get("$expand").map(|e| quoted(e)).unwrap_or_default();
            let filter = match q.get("$filter") {
                None => None,
                Some(f) if f.starts_with("singleValueExtendedProperties/Any(") => {
                    let v = quoted(f);
                    if v.len() != 2 {
                        return err(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "Invalid filter clause.",
                        );
                    }
                    Some((v[0].clone(), v[1].clone()))
                }
                Some(_) => {
                    return err(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "Invalid filter clause.",
                    );
                }
            };
            if filter.is_some() {
                c.filter_queries += 1;
            }
            let top: usize = q
                .get("$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(10)
                .min(1000);
            let skip: usize = q.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
            let all: Vec<&FakeContact> = c
                .contacts
                .iter()
                .filter(|x| x.folder == folder)
                .filter(|x| match &filter {
                    None => !c.lagging.contains(&x.id),
                    Some((id, val)) => x.prop(id) == Some(val),
                })
                .collect();
            let page: Vec<Value> = all
                .iter()
                .skip(skip)
                .take(top)
                .map(|x| x.json(&expand))
                .collect();
            let mut v = json!({"value": page});
            if skip + top < all.len() {
                let mut qs: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$skip")
                    .map(|(k, v)| format!("{k}={}", enc(v)))
                    .collect();
                qs.push(format!("$skip={}", skip + top));
                v["@odata.nextLink"] = json!(format!(
                    "http://{host}/{version}/users/{upn}/{}?{}",
                    r.join("/"),
                    qs.join("&")
                ));
            }
            ok(StatusCode::OK, v)
        }
        (Method::POST, ["contacts"]) | (Method::POST, ["contactFolders", _, "contacts"]) => {
            c.creates += 1;
            let folder = match r {
                [_, fid, _] => match folder_of(c, fid) {
                    Some(id) => Some(id),
                    None => return not_found(),
                },
                _ => None,
            };
            let (fields, props) = match contact_body(body) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let id = next_id("AAMkCT");
            let contact = FakeContact {
                id: id.clone(),
                folder,
                fields,
                props: props.into_iter().collect(),
                photo: None,
                change: 1,
            };
            let answer = contact.json(&[]);
            c.contacts.push(contact);
            if c.lost_answers > 0 {
                c.lost_answers -= 1;
                if c.lag_lost {
                    c.lagging.insert(id.clone());
                }
                return err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "The service is temporarily unavailable.",
                );
            }
            ok(StatusCode::CREATED, answer)
        }
        (Method::GET, ["contacts", id]) => match c.contacts.iter().find(|x| x.id == *id) {
            Some(x) => ok(
                StatusCode::OK,
                x.json(&q.get("$expand").map(|e| quoted(e)).unwrap_or_default()),
            ),
            None => not_found(),
        },
        (Method::PATCH, ["contacts", id]) => {
            let (fields, props) = match contact_body(body) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let Some(x) = c.contacts.iter_mut().find(|x| x.id == *id) else {
                return not_found();
            };
            for (k, v) in fields {
                x.fields.insert(k, v);
            }
            for (k, v) in props {
                x.props.insert(k, v);
            }
            x.change += 1;
            ok(StatusCode::OK, x.json(&[]))
        }
        (Method::DELETE, ["contacts", id]) => {
            let before = c.contacts.len();
            c.contacts.retain(|x| x.id != *id);
            if c.contacts.len() == before {
                return not_found();
            }
            Reply::Json((StatusCode::NO_CONTENT, Vec::new(), Value::Null))
        }
        (Method::GET, ["contacts", id, "photo", "$value"]) => {
            match c.contacts.iter().find(|x| x.id == *id) {
                Some(FakeContact {
                    photo: Some((m, b)),
                    ..
                }) => Reply::Photo(m.clone(), b.clone()),
                Some(_) => err(
                    StatusCode::NOT_FOUND,
                    "ErrorItemNotFound",
                    "The photo wasn't found.",
                ),
                None => not_found(),
            }
        }
        (Method::PUT, ["contacts", id, "photo", "$value"]) => {
            if !content_type.starts_with("image/") {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidImage",
                    "The photo is not an image.",
                );
            }
            if c.failing_photos > 0 {
                c.failing_photos -= 1;
                return err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "The photo could not be saved.",
                );
            }
            let Some(x) = c.contacts.iter_mut().find(|x| x.id == *id) else {
                return not_found();
            };
            x.photo = Some((content_type.to_string(), body.to_vec()));
            x.change += 1;
            Reply::Json((StatusCode::OK, Vec::new(), Value::Null))
        }
        _ => err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unsupported request {method} /{}", r.join("/")),
        ),
    }
}
