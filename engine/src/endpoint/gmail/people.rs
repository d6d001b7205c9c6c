//! A Google Workspace user's contacts through the People API, on the Gmail endpoint's
//! sign-in: `contacts:default` holds the user's contacts (`people/me/connections`), their
//! contact groups travel as each contact's CATEGORIES; `contacts:other` (Google's "other
//! contacts", people the user wrote to) is listed in the plan and copied only when the
//! source sets `other_contacts = true`.
//!
//! Writing follows the People API's guidance: a user's mutations are sent one at a time
//! (never two at once), new contacts in `people:batchCreateContacts` requests of at most 200.
//! There is no idempotency key: each contact carries its source UID and text in its client
//! data, the journal marks a contact before it is sent, and a contact marked but not found is
//! looked for again (the address book listed afresh) before anything is created again.

use std::sync::Arc;

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use super::calendar::read_only;
use super::connector::{GmailConnector, GmailSession};
use super::people_vcard::{kept_vcard, person_uid, plan, render};
use super::quota::GmailCall;
use super::wire::{error_of, store_err};
use crate::api::ItemKind;
use crate::endpoint::bounded;
use crate::endpoint::rest::Call;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, EndpointError, Folder, FolderState, Message, Result,
};
use crate::item::{AtDestination, at_destination, collection_folder, fingerprint, identity};

/// The user's contacts.
pub(super) const MY_CONTACTS: &str = "default";
/// Google's "other contacts".
pub(super) const OTHER: &str = "other";
/// Most contacts in one batch create (the People API's limit is 200).
pub const MAX_BATCH: usize = 200;

const PERSON_FIELDS: &str = "names,emailAddresses,phoneNumbers,addresses,organizations,birthdays,biographies,photos,memberships,clientData,metadata";
const UPDATE_FIELDS: &str = "names,emailAddresses,phoneNumbers,addresses,organizations,birthdays,biographies,memberships,clientData";

#[derive(Debug, Clone)]
pub(super) struct PersonItem {
    pub(super) uid: u32,
    pub(super) key: String,
    pub(super) p: Value,
}

pub(super) struct PeopleSel {
    pub(super) folder: String,
    pub(super) people: Vec<PersonItem>,
}

/// A contact to create: (its index in the call, UID, fingerprint, person, photo bytes).
type NewContact = (usize, String, String, Value, Option<Vec<u8>>);

/// A person to create without the kept text (only its UID): completed after its photo.
fn without_text(p: &Value) -> Value {
    let mut p = p.clone();
    if let Some(d) = p["clientData"].as_array_mut() {
        d.retain(|x| x["key"] == super::people_vcard::UID_KEY);
    }
    p
}

/// A user's contacts on one side.
pub struct GooglePeople {
    pub(super) c: Arc<GmailConnector>,
    pub(super) user: String,
    pub(super) caps: Capabilities,
    pub(super) sel: Option<PeopleSel>,
    /// (resource name, name) of the user's contact groups, as last listed.
    groups: Vec<(String, String)>,
    pub(super) no_keywords: Vec<String>,
}

impl GooglePeople {
    pub fn of(mail: &GmailSession) -> GooglePeople {
        GooglePeople {
            c: mail.c.clone(),
            user: mail.user.clone(),
            caps: Capabilities {
                inexact_sizes: true,
                raw: vec!["GOOGLE-PEOPLE-API".into()],
                ..Capabilities::default()
            },
            sel: None,
            groups: Vec::new(),
            no_keywords: Vec::new(),
        }
    }

    pub(super) fn ctx(&self, op: &str) -> String {
        format!("{op} ({} contacts of {})", self.c.side, self.user)
    }

    fn url(&self, rest: &str) -> Url {
        let mut u = self.c.apis.people_base.clone();
        u.set_path(&format!(
            "{}/v1/{rest}",
            self.c.apis.people_base.path().trim_end_matches('/')
        ));
        u
    }

    async fn call(
        &self,
        op: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let ctx = self.ctx(op);
        let policy = GmailCall {
            quota: &self.c.apis.people_quota,
            user: &self.user,
            op,
            ctx: &ctx,
            units: 1,
            cap: bounded::JSON_CAP,
            // The People API has no idempotency key: a create is never sent twice blindly.
            no_resend: matches!(op, "people.batchCreateContacts" | "contactGroups.create"),
        };
        let call = Call {
            account: &self.user,
            op: &ctx,
            auth: true,
        };
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.c
            .rest
            .send(&call, &policy, || {
                let mut req = self.c.rest.http().request(method.clone(), url.clone());
                if let Some(b) = &bytes {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone());
                }
                req
            })
            .await
    }

    /// A call whose answer must be a success, parsed.
    async fn ok(&self, op: &str, method: Method, url: Url, body: Option<&Value>) -> Result<Value> {
        let (st, resp) = self.call(op, method, url, body).await?;
        if !st.is_success() {
            let (reason, message) = error_of(&resp);
            let scope = if self.c.side == "source" {
                crate::config::permissions::CONTACTS_READ_SCOPE
            } else {
                crate::config::permissions::CONTACTS_SCOPE
            };
            return Err(EndpointError::No {
                op: self.ctx(op),
                message: if st == StatusCode::FORBIDDEN {
                    format!(
                        "HTTP 403 {reason}: {message} (is {scope} granted in the domain-wide delegation?)"
                    )
                } else {
                    format!("HTTP {} {reason}: {message}", st.as_u16())
                },
            });
        }
        if resp.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&resp).map_err(|e| EndpointError::Protocol {
            op: self.ctx(op),
            message: format!("unreadable answer from the People API: {e}"),
        })
    }

    /// Every element of `field` over the pages of a list.
    async fn get_all(&self, op: &str, url: Url, field: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut u = url.clone();
            if let Some(t) = &token {
                u.query_pairs_mut().append_pair("pageToken", t);
            }
            let v = self.ok(op, Method::GET, u, None).await?;
            out.extend(v[field].as_array().cloned().unwrap_or_default());
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    fn other_wanted(&self) -> bool {
        self.c.cfg.google_other_contacts
    }

    pub(super) fn folders(&self) -> Vec<Folder> {
        let f = |id: &str, shown: &str, selectable: bool| Folder {
            wire_name: collection_folder(ItemKind::Contact, id),
            path: vec!["Contacts".into(), shown.into()],
            delimiter: Some('/'),
            special: None,
            selectable,
        };
        let mut out = vec![f(MY_CONTACTS, "Contacts", true)];
        if self.c.side == "source" {
            out.push(f(OTHER, "Other contacts", self.other_wanted()));
        }
        out
    }

    async fn load_groups(&mut self) -> Result<()> {
        let mut url = self.url("contactGroups");
        url.query_pairs_mut().append_pair("pageSize", "1000");
        self.groups = self
            .get_all("contactGroups.list", url, "contactGroups")
            .await?
            .into_iter()
            .filter(|g| g["groupType"] == "USER_CONTACT_GROUP")
            .filter_map(|g| {
                Some((
                    g["resourceName"].as_str()?.to_string(),
                    g["name"].as_str()?.to_string(),
                ))
            })
            .collect();
        Ok(())
    }

    /// List an address book and give each contact its journal UID.
    pub(super) async fn select(&mut self, folder: &str, op: &str) -> Result<FolderState> {
        let id = crate::item::collection_of(folder)
            .map(|x| x.1)
            .unwrap_or("");
        let listed = match id {
            MY_CONTACTS => {
                self.load_groups().await?;
                let mut url = self.url("people/me/connections");
                url.query_pairs_mut()
                    .append_pair("pageSize", "1000")
                    .append_pair("personFields", PERSON_FIELDS);
                self.get_all("people.connections.list", url, "connections")
                    .await?
            }
            OTHER if self.c.side == "source" => {
                let mut url = self.url("otherContacts");
                url.query_pairs_mut()
                    .append_pair("pageSize", "1000")
                    .append_pair("readMask", "names,emailAddresses,phoneNumbers,metadata");
                self.get_all("otherContacts.list", url, "otherContacts")
                    .await?
            }
            _ => {
                return Err(EndpointError::NoFolder {
                    op: self.ctx(op),
                    folder: folder.to_string(),
                    server: None,
                });
            }
        };
        let source = self.c.side == "source";
        let mut people: Vec<(String, Value)> = listed
            .into_iter()
            .map(|p| {
                let u = person_uid(&p);
                let key = if source {
                    format!("{u} {}", p["etag"].as_str().unwrap_or_default())
                } else {
                    u
                };
                (key, p)
            })
            .collect();
        people.sort_by(|a, b| a.0.cmp(&b.0));
        people.dedup_by(|a, b| a.0 == b.0);
        let refs: Vec<&str> = people.iter().map(|(k, _)| k.as_str()).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.user, folder, &refs)
            .map_err(store_err(op))?;
        let (validity, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.user, folder)
            .map_err(store_err(op))?;
        let mut items: Vec<PersonItem> = people
            .into_iter()
            .zip(uids)
            .map(|((key, p), uid)| PersonItem { uid, key, p })
            .collect();
        items.sort_by_key(|i| i.uid);
        let exists = items.len() as u32;
        self.sel = Some(PeopleSel {
            folder: folder.to_string(),
            people: items,
        });
        Ok(FolderState {
            uidvalidity: validity,
            uidnext: next,
            exists,
        })
    }

    pub(super) fn chosen(&self, uids: &[u32], from_uid: u32) -> Vec<PersonItem> {
        let Some(sel) = &self.sel else {
            return Vec::new();
        };
        sel.people
            .iter()
            .filter(|i| crate::endpoint::types::in_selection(i.uid, uids, from_uid))
            .cloned()
            .collect()
    }

    /// A contact's vCard: on a destination, the text cutover kept while the contact is as
    /// it left it (same etag); else rendered from its fields.
    pub(super) fn text_of(&self, i: &PersonItem) -> Result<Vec<u8>> {
        if self.c.side != "source"
            && let Some(sel) = &self.sel
        {
            let written = self
                .c
                .store
                .ref_written(self.c.side, &self.user, &sel.folder, &i.key)
                .map_err(store_err("read contact"))?;
            let etag = i.p["etag"].as_str().unwrap_or_default();
            let unchanged = match written.as_deref().and_then(|w| w.split_once(' ')) {
                Some((_, e)) => e == "-" || e == etag,
                None => true,
            };
            if unchanged && let Some(k) = kept_vcard(&i.p) {
                return Ok(k.into_bytes());
            }
        }
        Ok(render(&i.p, &self.groups).into_bytes())
    }

    fn stored(&self, folder: &str, uid: &str, written: &str) -> Result<AppendOutcome> {
        let op = "people.createContact";
        let (side, user) = (self.c.side, self.user.as_str());
        let uids = self
            .c
            .store
            .ref_uids(side, user, folder, &[uid])
            .map_err(store_err(op))?;
        self.c
            .store
            .set_ref_written(side, user, folder, uid, written)
            .map_err(store_err(op))?;
        let (validity, _) = self
            .c
            .store
            .ref_folder(side, user, folder)
            .map_err(store_err(op))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(validity),
            uid: uids.first().copied(),
        })
    }

    /// The memberships of these category names, creating the groups missing.
    async fn memberships(&mut self, cats: &[String]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for c in cats {
            let rn = match self.groups.iter().find(|(_, n)| n == c) {
                Some((rn, _)) => rn.clone(),
                None => {
                    let g = self
                        .ok(
                            "contactGroups.create",
                            Method::POST,
                            self.url("contactGroups"),
                            Some(&json!({"contactGroup": {"name": c}})),
                        )
                        .await?;
                    let rn = g["resourceName"].as_str().unwrap_or_default().to_string();
                    self.groups.push((rn.clone(), c.clone()));
                    rn
                }
            };
            out.push(json!({"contactGroupMembership": {"contactGroupResourceName": rn}}));
        }
        Ok(out)
    }

    /// Write contacts to the user's contacts (see the module's documentation).
    pub(super) async fn write(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> Result<Vec<AppendOutcome>> {
        let op = "people.batchCreateContacts";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        if crate::item::collection_of(folder).map(|x| x.1) != Some(MY_CONTACTS) {
            return Ok(msgs
                .iter()
                .map(|_| AppendOutcome::Failed {
                    error: EndpointError::NoFolder {
                        op: self.ctx(op),
                        folder: folder.to_string(),
                        server: Some("Google keeps one address book: contacts:default".into()),
                    },
                })
                .collect());
        }
        if self.sel.as_ref().is_none_or(|s| s.folder != folder) {
            self.select(folder, "append").await?;
        }
        let (side, user) = (self.c.side, self.user.clone());
        let mut out: Vec<Option<AppendOutcome>> = (0..msgs.len()).map(|_| None).collect();
        // (index, uid, fp, person, photo) to create.
        let mut new: Vec<NewContact> = Vec::new();
        let mut relisted = false;
        for (i, m) in msgs.iter().enumerate() {
            let body = m.body.bytes();
            let id = identity(ItemKind::Contact, body);
            let this = format!("this contact ({})", id.describe());
            let Some(uid) = id.uid.clone().filter(|u| !u.trim().is_empty()) else {
                out[i] = Some(AppendOutcome::Refused {
                    reason: format!("{this} has no UID; not copied"),
                });
                continue;
            };
            let text = String::from_utf8_lossy(body).into_owned();
            let (mut person, cats, photo) = match plan(&text, &uid) {
                Ok(p) => p,
                Err(why) => {
                    out[i] = Some(AppendOutcome::Refused {
                        reason: format!("{this} {why}; not copied"),
                    });
                    continue;
                }
            };
            let fp = fingerprint(ItemKind::Contact, body);
            self.c
                .store
                .ref_uids(side, &user, folder, &[uid.as_str()])
                .map_err(store_err(op))?;
            let written = self
                .c
                .store
                .ref_written(side, &user, folder, &uid)
                .map_err(store_err(op))?
                .filter(|w| !w.is_empty());
            let find = |s: &Self| {
                s.sel
                    .as_ref()
                    .and_then(|x| x.people.iter().find(|p| p.key == uid).cloned())
            };
            let mut there = find(self);
            if there.is_none() && written.is_some() && !relisted {
                // Marked before an earlier create: was it stored? Listed afresh once.
                self.select(folder, "append").await?;
                relisted = true;
                there = find(self);
            }
            person["memberships"] = json!(self.memberships(&cats).await?);
            match there {
                None => new.push((i, uid, fp, person, photo)),
                Some(t)
                    if kept_vcard(&t.p).is_none()
                        && written.as_deref().is_some_and(|w| w.ends_with(" -")) =>
                {
                    // Cutover's create, interrupted before its last step: completed.
                    out[i] = Some(self.update(folder, &uid, &fp, &t, person, photo).await?);
                }
                Some(t) => {
                    let theirs = fingerprint(ItemKind::Contact, &self.text_of(&t)?);
                    let ours = written.as_deref().map(|w| w.split(' ').next().unwrap_or(w));
                    match at_destination(&fp, &theirs, ours) {
                        AtDestination::Same => {
                            let mut etag = t.p["etag"].as_str().unwrap_or_default().to_string();
                            let has_photo = t.p["photos"]
                                .as_array()
                                .is_some_and(|v| v.iter().any(|x| x["default"] != true));
                            if let Some(bytes) = photo.as_deref().filter(|_| !has_photo) {
                                // Created by a run killed before its photo was set.
                                etag = self.photo(&t.p, bytes).await?;
                            }
                            out[i] = Some(self.stored(folder, &uid, &format!("{fp} {etag}"))?);
                        }
                        AtDestination::OursOlder => {
                            out[i] = Some(self.update(folder, &uid, &fp, &t, person, photo).await?);
                        }
                        found => {
                            let reason = found.refusal(&this).unwrap_or_default();
                            // A user's edit of cutover's copy is kept (a warning).
                            out[i] = Some(if found == AtDestination::ChangedThere {
                                AppendOutcome::Kept { reason }
                            } else {
                                AppendOutcome::Refused { reason }
                            });
                        }
                    }
                }
            }
        }
        for chunk in new.chunks(MAX_BATCH) {
            for (_, uid, fp, _, _) in chunk {
                self.c
                    .store
                    .set_ref_written(side, &user, folder, uid, &format!("{fp} -"))
                    .map_err(store_err(op))?;
            }
            let body = json!({
                "contacts": chunk
                    .iter()
                    .map(|c| json!({"contactPerson": if c.4.is_some() { without_text(&c.3) } else { c.3.clone() }}))
                    .collect::<Vec<_>>(),
                "readMask": PERSON_FIELDS,
            });
            let created = match self
                .call(
                    op,
                    Method::POST,
                    self.url("people:batchCreateContacts"),
                    Some(&body),
                )
                .await
            {
                Ok((st, resp)) if st.is_success() => serde_json::from_slice::<Value>(&resp)
                    .map_err(|e| EndpointError::Protocol {
                        op: self.ctx(op),
                        message: format!("unreadable answer from the People API: {e}"),
                    })?,
                Ok((st, resp)) if st == StatusCode::BAD_REQUEST => {
                    let (reason, message) = error_of(&resp);
                    for (i, uid, _, _, _) in chunk {
                        out[*i] = Some(AppendOutcome::Refused {
                            reason: format!(
                                "this contact (UID {uid}) was refused by the People API with its batch ({reason}: {message}); not copied"
                            ),
                        });
                    }
                    continue;
                }
                Ok((st, resp)) => {
                    let (reason, message) = error_of(&resp);
                    for (i, _, _, _, _) in chunk {
                        out[*i] = Some(AppendOutcome::Failed {
                            error: EndpointError::No {
                                op: self.ctx(op),
                                message: format!("HTTP {} {reason}: {message}", st.as_u16()),
                            },
                        });
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for r in created["createdPeople"].as_array().into_iter().flatten() {
                let p = &r["person"];
                let u = person_uid(p);
                let Some((i, uid, fp, full, photo)) = chunk.iter().find(|c| c.1 == u) else {
                    continue;
                };
                out[*i] = Some(match photo {
                    // Created without its text: the photo, then the text (see `update`).
                    Some(_) => {
                        let t = PersonItem {
                            uid: 0,
                            key: uid.clone(),
                            p: p.clone(),
                        };
                        self.update(folder, uid, fp, &t, full.clone(), photo.clone())
                            .await?
                    }
                    None => {
                        let etag = p["etag"].as_str().unwrap_or_default();
                        self.stored(folder, uid, &format!("{fp} {etag}"))?
                    }
                });
            }
        }
        Ok(out
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| AppendOutcome::Failed {
                    error: EndpointError::Protocol {
                        op: self.ctx(op),
                        message: "the People API's answer did not name this contact".into(),
                    },
                })
            })
            .collect())
    }

    /// Set a contact's photo; its etag after.
    async fn photo(&self, p: &Value, bytes: &[u8]) -> Result<String> {
        use base64::Engine as _;
        let rn = p["resourceName"].as_str().unwrap_or_default();
        let v = self
            .ok(
                "people.updateContactPhoto",
                Method::PATCH,
                self.url(&format!("{rn}:updateContactPhoto")),
                Some(&json!({
                    "photoBytes": base64::engine::general_purpose::STANDARD.encode(bytes),
                    "personFields": "metadata",
                })),
            )
            .await?;
        Ok(v["person"]["etag"].as_str().unwrap_or_default().to_string())
    }

    /// Replace the version cutover wrote with a newer one.
    async fn update(
        &self,
        folder: &str,
        uid: &str,
        fp: &str,
        t: &PersonItem,
        mut person: Value,
        photo: Option<Vec<u8>>,
    ) -> Result<AppendOutcome> {
        let rn = t.p["resourceName"].as_str().unwrap_or_default();
        let mut etag = t.p["etag"].clone();
        // The photo first: the kept text, written last, marks the contact complete.
        if let Some(b) = photo {
            etag = json!(self.photo(&t.p, &b).await?);
        }
        person["etag"] = etag;
        let mut url = self.url(&format!("{rn}:updateContact"));
        url.query_pairs_mut()
            .append_pair("updatePersonFields", UPDATE_FIELDS)
            .append_pair("personFields", "metadata");
        let v = self
            .ok("people.updateContact", Method::PATCH, url, Some(&person))
            .await?;
        let etag = v["etag"].as_str().unwrap_or_default().to_string();
        self.stored(folder, uid, &format!("{fp} {etag}"))
    }

    /// Delete these contacts (rollback), in batches of at most 200.
    pub(super) async fn expunge(&mut self, uids: &[u32]) -> Result<()> {
        let op = "people.batchDeleteContacts";
        if self.c.side == "source" {
            return Err(read_only(op));
        }
        let Some(sel) = &self.sel else {
            return Ok(());
        };
        let chosen: Vec<String> = sel
            .people
            .iter()
            .filter(|p| uids.contains(&p.uid))
            .filter_map(|p| p.p["resourceName"].as_str().map(str::to_string))
            .collect();
        for chunk in chosen.chunks(MAX_BATCH) {
            self.ok(
                op,
                Method::POST,
                self.url("people:batchDeleteContacts"),
                Some(&json!({ "resourceNames": chunk })),
            )
            .await?;
        }
        Ok(())
    }
}
