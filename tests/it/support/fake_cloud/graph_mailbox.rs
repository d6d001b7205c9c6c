//! Fake mailbox import/export API of Microsoft Graph (v1.0 and beta), served by the Graph fake's
//! router with the same tokens, tenants and per-mailbox limits (429 and Retry-After) as mail:
//!
//! - `GET /users/{upn}/settings/exchange`: `primaryMailboxId` (`MBX:<upn>`);
//! - `/admin/exchange/mailboxes/{id}/folders` and `folders/{id}/childFolders`: the mail
//!   folders (`IPF.Note`), the calendars (`IPF.Appointment`) and the contact folders
//!   (`IPF.Contact`, the default one `Contacts`);
//! - `folders/{id}/items`: mailboxItems (`type` = message class, `categories`, `size`,
//!   `createdDateTime`; PR_SEARCH_KEY and PR_SUBJECT through `$expand`); `DELETE` of one
//!   (`disposalType` required);
//! - `exportItems`: at most 20 ids (400 past it); each item's `data` is an opaque blob that
//!   only this fake understands (a reference to a snapshot of the item: message with its
//!   state and properties, event series with exceptions, cancellations and attachments,
//!   contact with its photo);
//! - `createImportSession`: 201 with an `importUrl` carrying its own credential
//!   (`?authtoken=`) and `expirationDateTime`;
//! - the import URL (`/import/...`): `{FolderId, Mode: "create", Data}` re-creates the
//!   exported item exactly (new id, same search key) in the folder, of a matching class;
//!   nobody is notified (the calendar outbox is untouched); a message with the header
//!   `X-Fake-Import: refuse` is refused alone (400). It can be told to refuse imports
//!   (403, as a cross-tenant refusal would be) and to lose answers (the item imported, the
//!   answer 503).

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine as _;
use serde_json::{Value, json};

use super::graph::{Answer, FakeGraph, FakeMessage, GraphState, Mailbox, err, ok};
use super::graph_calendar::FakeEvent;
use super::graph_contacts::FakeContact;

/// The default contact folder's id (what Graph's contacts show as `parentFolderId`).
const CONTACTS_ID: &str = "AAMkContacts";
const SEARCH_KEY: &str = "Binary 0x300B";
const SUBJECT: &str = "String 0x0037";

/// An exported item, as the fake keeps it behind its opaque blob.
#[derive(Debug, Clone)]
enum Snapshot {
    Message(FakeMessage),
    Event(FakeEvent),
    Contact(FakeContact),
}

/// The import/export state of the whole fake.
#[derive(Debug, Default)]
pub struct XState {
    /// Search keys by item id (items never exported nor imported have one derived from
    /// their id).
    keys: HashMap<String, String>,
    vault: HashMap<String, (Snapshot, String)>,
    /// Import credentials -> mailbox.
    sessions: HashMap<String, String>,
    /// Imports each session's credential is good for (None: until it expires, an hour):
    /// past it the import URL answers 401, as an expired one does.
    pub session_imports: Option<u32>,
    /// Imports done per credential.
    used: HashMap<String, u32>,
    /// Mailboxes whose imports are refused (403).
    pub refuse: HashSet<String>,
    /// Mailboxes whose import sessions are refused (403).
    pub refuse_sessions: HashSet<String>,
    /// Per mailbox: imports still to perform and answer 503.
    pub lost: HashMap<String, u32>,
    pub stats: XStats,
}

#[derive(Debug, Default, Clone)]
pub struct XStats {
    pub exports: u64,
    pub exported_items: u64,
    pub largest_export: usize,
    pub imports: u64,
    pub sessions: u64,
    /// Requests to an import URL that carried an Authorization header.
    pub import_with_auth: u64,
    pub refused: u64,
    /// Requests refused because their credential was spent (see `session_imports`).
    pub expired: u64,
}

fn key_of(x: &XState, id: &str) -> String {
    x.keys
        .get(id)
        .cloned()
        .unwrap_or_else(|| base64::engine::general_purpose::STANDARD.encode(format!("SK:{id}")))
}

/// `MBX:<upn>` -> upn.
pub fn mailbox_upn(id: &str) -> Option<String> {
    id.strip_prefix("MBX:").map(str::to_ascii_lowercase)
}

fn folder(id: &str, name: &str, class: &str, parent: Option<&str>, children: usize) -> Value {
    json!({"id": id, "displayName": name, "type": class, "parentFolderId": parent,
           "childFolderCount": children})
}

/// Every folder: (json, parent id).
fn folders(mb: &mut Mailbox) -> Vec<(Value, Option<String>)> {
    let mut out = Vec::new();
    for f in &mb.folders {
        let n = mb
            .folders
            .iter()
            .filter(|c| c.parent.as_deref() == Some(&f.id))
            .count();
        out.push((
            folder(&f.id, &f.name, "IPF.Note", f.parent.as_deref(), n),
            f.parent.clone(),
        ));
    }
    mb.calendars.ensure_default();
    for c in &mb.calendars.calendars {
        out.push((folder(&c.id, &c.name, "IPF.Appointment", None, 0), None));
    }
    out.push((
        folder(CONTACTS_ID, "Contacts", "IPF.Contact", None, 0),
        None,
    ));
    for c in &mb.contacts.folders {
        out.push((folder(&c.id, &c.name, "IPF.Contact", None, 0), None));
    }
    out
}

fn mime_subject(mime: &[u8]) -> String {
    mail_parser::MessageParser::new()
        .parse_headers(mime)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A listed mailboxItem: (id, class, subject, categories, size).
type Listed = (String, &'static str, String, Vec<String>, usize);

/// A folder's items as mailboxItems.
fn items(mb: &Mailbox, fid: &str) -> Option<Vec<Listed>> {
    if mb.folders.iter().any(|f| f.id == fid) {
        return Some(
            mb.messages
                .iter()
                .filter(|m| m.folder == fid)
                .map(|m| {
                    let (subject, cats) = match &m.json {
                        Some(j) => (
                            j["subject"].as_str().unwrap_or("").to_string(),
                            strings(&j["categories"]),
                        ),
                        None => (mime_subject(m.mime.as_deref().unwrap_or(b"")), Vec::new()),
                    };
                    (m.id.clone(), "IPM.Note", subject, cats, m.export().len())
                })
                .collect(),
        );
    }
    if mb.calendars.calendars.iter().any(|c| c.id == fid) {
        return Some(
            mb.calendars
                .events
                .iter()
                .filter(|e| e.calendar == fid)
                .map(|e| {
                    (
                        e.id.clone(),
                        "IPM.Appointment",
                        e.fields
                            .get("subject")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        strings(e.fields.get("categories").unwrap_or(&Value::Null)),
                        Value::Object(e.fields.clone()).to_string().len(),
                    )
                })
                .collect(),
        );
    }
    let book = if fid == CONTACTS_ID {
        None
    } else if mb.contacts.folders.iter().any(|f| f.id == fid) {
        Some(fid.to_string())
    } else {
        return None;
    };
    Some(
        mb.contacts
            .contacts
            .iter()
            .filter(|c| c.folder == book)
            .map(|c| {
                (
                    c.id.clone(),
                    "IPM.Contact",
                    c.fields
                        .get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    strings(c.fields.get("categories").unwrap_or(&Value::Null)),
                    Value::Object(c.fields.clone()).to_string().len(),
                )
            })
            .collect(),
    )
}

/// Answer `/admin/exchange/mailboxes/{id}/<r>` for mailbox `upn` (tenant checked here).
#[allow(clippy::too_many_arguments)]
pub fn route(
    g: &FakeGraph,
    tenant: &str,
    host: &str,
    method: &Method,
    upn: &str,
    r: &[String],
    q: &HashMap<String, String>,
    body: &[u8],
) -> Answer {
    let mut st = g.state.lock().unwrap();
    let GraphState {
        mailboxes,
        next,
        xport,
        ..
    } = &mut *st;
    let Some(mb) = mailboxes.get_mut(upn) else {
        return err(
            StatusCode::NOT_FOUND,
            "ErrorInvalidMailbox",
            "The mailbox was not found.",
        );
    };
    if mb.tenant != tenant {
        return err(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        );
    }
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    match (method.clone(), r.as_slice()) {
        (Method::GET, ["folders"]) => {
            let v: Vec<Value> = folders(mb)
                .into_iter()
                .filter(|(_, p)| p.is_none())
                .map(|(v, _)| v)
                .collect();
            ok(StatusCode::OK, json!({"value": v}))
        }
        (Method::GET, ["folders", id, "childFolders"]) => {
            let v: Vec<Value> = folders(mb)
                .into_iter()
                .filter(|(_, p)| p.as_deref() == Some(*id))
                .map(|(v, _)| v)
                .collect();
            ok(StatusCode::OK, json!({"value": v}))
        }
        (Method::GET, ["folders", id, "items"]) => {
            let Some(list) = items(mb, id) else {
                return err(
                    StatusCode::NOT_FOUND,
                    "ErrorItemNotFound",
                    "The specified folder was not found in the store.",
                );
            };
            let v: Vec<Value> = list
                .into_iter()
                .map(|(id, class, subject, cats, size)| {
                    json!({
                        "id": id, "type": class, "categories": cats, "size": size,
                        "createdDateTime": "2024-01-01T00:00:00Z",
                        "singleValueExtendedProperties": [
                            {"id": SEARCH_KEY, "value": key_of(xport, &id)},
                            {"id": SUBJECT, "value": subject}
                        ]
                    })
                })
                .collect();
            ok(StatusCode::OK, json!({"value": v}))
        }
        (Method::DELETE, ["folders", _, "items", id]) => {
            if !matches!(
                q.get("disposalType").map(String::as_str),
                Some("softDelete" | "hardDelete")
            ) {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "The disposalType query parameter is required.",
                );
            }
            let before = mb.messages.len() + mb.calendars.events.len() + mb.contacts.contacts.len();
            mb.messages.retain(|m| m.id != *id);
            mb.calendars.events.retain(|e| e.id != *id);
            mb.contacts.contacts.retain(|c| c.id != *id);
            if before == mb.messages.len() + mb.calendars.events.len() + mb.contacts.contacts.len()
            {
                return err(
                    StatusCode::NOT_FOUND,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                );
            }
            ok(StatusCode::NO_CONTENT, Value::Null)
        }
        (Method::POST, ["exportItems"]) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let ids = strings(&v["itemIds"]);
            if ids.is_empty() || ids.len() > 20 {
                return err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "itemIds must hold between 1 and 20 identifiers.",
                );
            }
            xport.stats.exports += 1;
            xport.stats.largest_export = xport.stats.largest_export.max(ids.len());
            let mut out = Vec::new();
            for id in ids {
                let snap = if let Some(m) = mb.messages.iter().find(|m| m.id == id) {
                    Some(Snapshot::Message(m.clone()))
                } else if let Some(e) = mb.calendars.events.iter().find(|e| e.id == id) {
                    Some(Snapshot::Event(e.clone()))
                } else {
                    mb.contacts
                        .contacts
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| Snapshot::Contact(c.clone()))
                };
                let Some(snap) = snap else {
                    out.push(json!({"itemId": id, "error": {"code": "ErrorItemNotFound",
                        "message": "The specified object was not found in the store."}}));
                    continue;
                };
                *next += 1;
                let token = format!("FTS{next}");
                let key = key_of(xport, &id);
                xport.vault.insert(token.clone(), (snap, key));
                xport.stats.exported_items += 1;
                let data = base64::engine::general_purpose::STANDARD
                    .encode(format!("\u{0}FAKE-FTS\u{0}{token}"));
                out.push(json!({"itemId": id, "changeKey": "ck1", "data": data}));
            }
            ok(StatusCode::OK, json!({"value": out}))
        }
        (Method::POST, ["createImportSession"]) => {
            if xport.refuse_sessions.contains(upn) {
                xport.stats.refused += 1;
                return err(
                    StatusCode::FORBIDDEN,
                    "ErrorAccessDenied",
                    "Access is denied. Check credentials and try again.",
                );
            }
            *next += 1;
            let secret = format!("eyJfakeImportCredential{next}x");
            xport.sessions.insert(secret.clone(), upn.to_string());
            xport.stats.sessions += 1;
            let expires = (chrono::Utc::now() + chrono::Duration::hours(1))
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            ok(
                StatusCode::CREATED,
                json!({
                    "importUrl": format!("http://{host}/import/Mailboxes('MBX:{upn}')/importItem?authtoken={secret}"),
                    "expirationDateTime": expires
                }),
            )
        }
        _ => err(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unsupported mailbox request {method} {}", r.join("/")),
        ),
    }
}

/// The mailbox of an import URL's credential, if it is one the fake gave.
pub fn import_upn(g: &FakeGraph, uri: &Uri, headers: &HeaderMap) -> Result<String, Answer> {
    let mut st = g.state.lock().unwrap();
    if headers.contains_key("authorization") {
        st.xport.stats.import_with_auth += 1;
    }
    let secret = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("authtoken="))
        .unwrap_or("");
    let x = &mut st.xport;
    let spent = x
        .session_imports
        .is_some_and(|n| x.used.get(secret).copied().unwrap_or(0) >= n);
    if spent {
        x.stats.expired += 1;
    } else if x.sessions.contains_key(secret) {
        *x.used.entry(secret.to_string()).or_default() += 1;
    }
    x.sessions
        .get(secret)
        .filter(|_| !spent)
        .cloned()
        .ok_or_else(|| {
            err(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The import session's token is not valid.",
            )
        })
}

/// One POST to an import URL of mailbox `upn`.
pub fn import(g: &FakeGraph, upn: &str, body: &[u8]) -> Answer {
    let mut st = g.state.lock().unwrap();
    let GraphState {
        mailboxes,
        next,
        xport,
        ..
    } = &mut *st;
    let Some(mb) = mailboxes.get_mut(upn) else {
        return err(
            StatusCode::NOT_FOUND,
            "ErrorInvalidMailbox",
            "No such mailbox.",
        );
    };
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if v["Mode"] != "create" || !v["ItemId"].is_null() || !v["ChangeKey"].is_null() {
        return err(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "Mode must be create, without ItemId or ChangeKey.",
        );
    }
    if xport.refuse.contains(upn) {
        xport.stats.refused += 1;
        return err(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied: the item cannot be imported into this mailbox.",
        );
    }
    let token = v["Data"]
        .as_str()
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("\u{0}FAKE-FTS\u{0}").map(str::to_string));
    let Some((snap, key)) = token.and_then(|t| xport.vault.get(&t).cloned()) else {
        return err(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "Data is not an exported item.",
        );
    };
    // A message the fake was told to refuse (a header says so): 400, as for a stream
    // Exchange cannot take.
    if let Snapshot::Message(m) = &snap
        && m.mime.as_ref().is_some_and(|b| {
            const MARK: &[u8] = b"X-Fake-Import: refuse\r\n";
            b.windows(MARK.len()).any(|w| w == MARK)
        })
    {
        return err(
            StatusCode::BAD_REQUEST,
            "ErrorCorruptData",
            "The item could not be imported.",
        );
    }
    let fid = v["FolderId"].as_str().unwrap_or("").to_string();
    if items(mb, &fid).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified folder was not found in the store.",
        );
    };
    *next += 1;
    let n = *next;
    let wrong = || {
        err(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The item's class does not belong in this folder.",
        )
    };
    let new_id = match snap {
        Snapshot::Message(mut m) => {
            if !mb.folders.iter().any(|f| f.id == fid) {
                return wrong();
            }
            let new_id = format!("AAMkXM{n}");
            m.id = new_id.clone();
            m.folder = fid;
            mb.messages.push(m);
            new_id
        }
        Snapshot::Event(mut e) => {
            if !mb.calendars.calendars.iter().any(|c| c.id == fid) {
                return wrong();
            }
            let new_id = format!("AAMkXEV{n}");
            e.id = new_id.clone();
            e.calendar = fid;
            let mut k = 0;
            let renamed: BTreeMap<String, (String, serde_json::Map<String, Value>)> = e
                .exceptions
                .into_iter()
                .map(|(orig, (_, f))| {
                    k += 1;
                    (orig, (format!("{new_id}-x{k}"), f))
                })
                .collect();
            e.exceptions = renamed;
            mb.calendars.events.push(e);
            new_id
        }
        Snapshot::Contact(mut c) => {
            let book = if fid == CONTACTS_ID {
                None
            } else if mb.contacts.folders.iter().any(|f| f.id == fid) {
                Some(fid.clone())
            } else {
                return wrong();
            };
            let new_id = format!("AAMkXC{n}");
            c.id = new_id.clone();
            c.folder = book;
            mb.contacts.contacts.push(c);
            new_id
        }
    };
    xport.keys.insert(new_id.clone(), key);
    xport.stats.imports += 1;
    if let Some(l) = xport.lost.get_mut(upn).filter(|l| **l > 0) {
        *l -= 1;
        return err(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
        );
    }
    ok(
        StatusCode::OK,
        json!({"itemId": new_id, "changeKey": format!("ck{n}")}),
    )
}

impl FakeGraph {
    /// Refuse (403) every import into this mailbox, as a cross-tenant refusal would.
    pub fn refuse_imports(&self, upn: &str) {
        let mut st = self.state.lock().unwrap();
        st.xport.refuse.insert(upn.to_ascii_lowercase());
    }

    /// Refuse (403) the mailbox's import sessions.
    pub fn refuse_import_sessions(&self, upn: &str) {
        let mut st = self.state.lock().unwrap();
        st.xport.refuse_sessions.insert(upn.to_ascii_lowercase());
    }

    /// Perform the mailbox's next `n` imports but answer them 503 (lost answers).
    pub fn lose_import_answers(&self, upn: &str, n: u32) {
        let mut st = self.state.lock().unwrap();
        *st.xport.lost.entry(upn.to_ascii_lowercase()).or_default() += n;
    }

    /// Each import session's credential is good for `n` imports, then answers 401.
    pub fn expire_import_sessions_after(&self, n: u32) {
        self.state.lock().unwrap().xport.session_imports = Some(n);
    }

    /// What the import/export API saw.
    pub fn xstats(&self) -> XStats {
        self.state.lock().unwrap().xport.stats.clone()
    }
}

impl FakeGraph {
    /// Add a draft (JSON as Graph keeps it) to the mailbox's Drafts folder; its id.
    pub fn seed_draft(&self, upn: &str, subject: &str, body: &str, categories: &[&str]) -> String {
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let id = format!("AAMkD{}", st.next);
        let mb = st
            .mailboxes
            .get_mut(&upn.to_ascii_lowercase())
            .expect("mailbox");
        let folder = mb.well_known("drafts").expect("Drafts").id.clone();
        mb.messages.push(FakeMessage {
            id: id.clone(),
            folder,
            mime: None,
            json: Some(json!({
                "subject": subject,
                "body": {"contentType": "text", "content": body},
                "toRecipients": [{"emailAddress": {"address": "bob@example.org"}}],
                "categories": categories,
            })),
            is_read: true,
            is_draft: true,
            flagged: false,
            received: "2024-06-01T08:00:00Z".into(),
            props: BTreeMap::new(),
            attachments: Vec::new(),
            via: "json",
        });
        id
    }
}
