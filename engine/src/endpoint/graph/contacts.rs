//! A mailbox's contact folders as address books (`contacts:default` for the default Contacts
//! folder, `contacts:<displayName>` for the others), each contact an item whose body is a
//! vCard 4.0 text (see `vcard`).
//!
//! - UIDs: a contact's Graph id (with its changeKey on a source, so that a contact changed
//!   since the last run is a new item to copy) gets a journal UID, as messages do.
//! - A contact's identity (the vCard's UID) is the source identity cutover stored on it
//!   ([`CONTACT_UID_PROP`]) when cutover created it, else its Graph id.
//! - Writes are exactly once: a contact with the source UID already in the folder is not
//!   created again (the same content is the earlier write; other content replaces it only
//!   when it is exactly what cutover wrote there). Before a create is sent, its UID is
//!   journalled; a UID journalled already (a create whose answer was lost) is first searched
//!   for on the destination by the extended property (`$filter`), so nothing is duplicated.
//! - Graph has no contact groups: a vCard group is refused, saying so.

use reqwest::Method;
use serde_json::{Value, json};

use super::connector::GraphSession;
use super::types::{
    CONTACT_UID_PROP, CONTACT_VCARD_PROP, ContactItem, ContactSel, PAGE, contact_sent,
};
use super::vcard::{Photo, is_group, photo, render, to_graph, to_graph_replacing};
use super::wire::{enc, read_only};
use crate::api::ItemKind;
use crate::endpoint::types::{AppendOutcome, EndpointError, Folder, FolderState, Message, Result};
use crate::item::{collection_folder, collection_of, fingerprint, identity};

/// The default contact folder's name.
pub(super) const DEFAULT: &str = "default";

/// `$expand` of the two properties cutover keeps on a contact.
fn expand() -> String {
    format!(
        "$expand={}",
        enc(&format!(
            "singleValueExtendedProperties($filter=id eq '{CONTACT_UID_PROP}' or id eq '{CONTACT_VCARD_PROP}')"
        ))
    )
}

fn prop(v: &Value, id: &str) -> Option<String> {
    v["singleValueExtendedProperties"]
        .as_array()?
        .iter()
        .find(|p| p["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .and_then(|p| p["value"].as_str())
        .map(str::to_string)
}

fn not_found(e: &EndpointError) -> bool {
    matches!(e, EndpointError::No { message, .. } if message.contains("HTTP 404"))
}

impl GraphSession {
    /// The contact folders, as address books (with their Graph ids; None for the default).
    pub(super) async fn contact_folders(&mut self) -> Result<Vec<(Folder, Option<String>)>> {
        let book = |name: &str, display: &str| Folder {
            wire_name: collection_folder(ItemKind::Contact, name),
            path: vec!["Contacts".into(), display.into()],
            delimiter: Some('/'),
            special: None,
            selectable: true,
        };
        let mut out = vec![(book(DEFAULT, "Contacts"), None)];
        let listed = self
            .get_all(
                "list contact folders",
                &self.url("/contactFolders?$top=250&$select=id,displayName"),
            )
            .await?;
        for v in listed {
            let (Some(id), Some(name)) = (v["id"].as_str(), v["displayName"].as_str()) else {
                continue;
            };
            if name == DEFAULT || name.is_empty() {
                continue;
            }
            out.push((book(name, name), Some(id.to_string())));
        }
        out.sort_by(|a, b| a.0.wire_name.cmp(&b.0.wire_name));
        Ok(out)
    }

    /// The Graph id of an address book (None: the default folder); NoFolder when absent.
    async fn contact_folder_id(&mut self, folder: &str, op: &str) -> Result<Option<String>> {
        let found = self
            .contact_folders()
            .await?
            .into_iter()
            .find(|(f, _)| f.wire_name == folder);
        match found {
            Some((_, id)) => Ok(id),
            None => Err(EndpointError::NoFolder {
                op: op.into(),
                folder: folder.into(),
                server: None,
            }),
        }
    }

    fn contacts_url(&self, fid: &Option<String>) -> String {
        match fid {
            None => self.url("/contacts"),
            Some(id) => self.url(&format!("/contactFolders/{}/contacts", enc(id))),
        }
    }

    fn contact_item(v: Value, uid: u32) -> ContactItem {
        ContactItem {
            uid,
            id: v["id"].as_str().unwrap_or_default().to_string(),
            source_uid: prop(&v, CONTACT_UID_PROP),
            vcard: prop(&v, CONTACT_VCARD_PROP),
            json: v,
        }
    }

    /// List an address book and give its contacts their UIDs.
    pub(super) async fn contact_select(&mut self, folder: &str, op: &str) -> Result<FolderState> {
        let fid = self.contact_folder_id(folder, op).await?;
        let url = format!("{}?$top={PAGE}&{}", self.contacts_url(&fid), expand());
        let mut listed = self.get_all("list contacts", &url).await?;
        listed.retain(|v| v["id"].as_str().is_some());
        listed.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        let source = self.c.side == "source";
        let keys: Vec<String> = listed
            .iter()
            .map(|v| {
                let id = v["id"].as_str().unwrap_or_default();
                match v["changeKey"].as_str() {
                    Some(ck) if source => format!("{id} {ck}"),
                    _ => id.to_string(),
                }
            })
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let uids = self
            .c
            .store
            .ref_uids(self.c.side, &self.upn, folder, &refs)
            .map_err(|e| self.store_err(e))?;
        let (validity, next) = self
            .c
            .store
            .ref_folder(self.c.side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        let mut items: Vec<ContactItem> = listed
            .into_iter()
            .zip(uids)
            .map(|(v, u)| Self::contact_item(v, u))
            .collect();
        items.sort_by_key(|i| i.uid);
        let exists = items.len() as u32;
        self.contacts = Some(ContactSel {
            folder: folder.to_string(),
            fid,
            items,
        });
        Ok(FolderState {
            uidvalidity: validity,
            uidnext: next,
            exists,
        })
    }

    pub(super) fn contact_sel(&self, op: &str) -> Result<&ContactSel> {
        self.contacts
            .as_ref()
            .ok_or_else(|| EndpointError::Protocol {
                op: op.into(),
                message: "no address book is open".into(),
            })
    }

    /// The contacts of the open address book among `uids` (all from `from_uid` when empty).
    pub(super) fn chosen_contacts(&self, uids: &[u32], from_uid: u32) -> Vec<ContactItem> {
        let Some(sel) = &self.contacts else {
            return Vec::new();
        };
        sel.items
            .iter()
            .filter(|i| crate::endpoint::types::in_selection(i.uid, uids, from_uid))
            .cloned()
            .collect()
    }

    /// A contact's photo; None without one.
    async fn contact_photo(&self, id: &str) -> Result<Option<Photo>> {
        let url = self.url(&format!("/contacts/{}/photo/$value", enc(id)));
        let op = "read contact photo";
        let r = self
            .c
            .send(&self.upn, op, 0, true, || self.c.http.get(&url))
            .await?;
        if r.status.as_u16() == 404 {
            return Ok(None);
        }
        let mime = r
            .resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("image/jpeg")
            .split(';')
            .next()
            .unwrap_or("image/jpeg")
            .trim()
            .to_string();
        let status = r.status;
        let body = crate::endpoint::bounded::http_body(
            r.resp,
            crate::endpoint::bounded::JSON_CAP,
            "a contact photo",
        )
        .await
        .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        if !status.is_success() {
            return Err(super::wire::failure(&self.upn, op, status, &body));
        }
        Ok(Some((mime, body.to_vec())))
    }

    /// The vCard of a listed contact: the source text cutover stored on it, else rendered
    /// from its fields (and photo).
    pub(super) async fn contact_vcard(&self, i: &ContactItem) -> Result<Vec<u8>> {
        if let Some(v) = &i.vcard {
            return Ok(v.clone().into_bytes());
        }
        let photo = self.contact_photo(&i.id).await?;
        let uid = i.source_uid.as_deref().unwrap_or(&i.id);
        Ok(render(&i.json, uid, photo.as_ref()).into_bytes())
    }

    /// Record a contact cutover wrote (its UID; the fingerprint of what it holds and its
    /// changeKey then).
    fn contact_stored(&self, folder: &str, id: &str, fp: &str, ck: &str) -> Result<AppendOutcome> {
        let side = self.c.side;
        let uids = self
            .c
            .store
            .ref_uids(side, &self.upn, folder, &[id])
            .map_err(|e| self.store_err(e))?;
        self.c
            .store
            .set_ref_written(side, &self.upn, folder, id, &format!("{fp} {ck}"))
            .map_err(|e| self.store_err(e))?;
        let (validity, _) = self
            .c
            .store
            .ref_folder(side, &self.upn, folder)
            .map_err(|e| self.store_err(e))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(validity),
            uid: uids.first().copied(),
        })
    }

    /// The contact in the open address book that carries this source UID: as listed, else
    /// (`search`) looked up on the service by the extended property.
    async fn contact_with_uid(&self, uid: &str, search: bool) -> Result<Option<ContactItem>> {
        let sel = self.contact_sel("write contact")?;
        if let Some(i) = sel
            .items
            .iter()
            .find(|i| i.source_uid.as_deref() == Some(uid))
        {
            return Ok(Some(i.clone()));
        }
        if !search {
            return Ok(None);
        }
        let filter = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq '{CONTACT_UID_PROP}' and ep/value eq '{}')",
            uid.replace('\'', "''")
        );
        let url = format!(
            "{}?$filter={}&{}",
            self.contacts_url(&sel.fid),
            enc(&filter),
            expand()
        );
        let found = self.get_all("find contact", &url).await?;
        Ok(found.into_iter().next().map(|v| Self::contact_item(v, 0)))
    }

    /// Complete a contact cutover created: its photo, then the source vCard property. Its
    /// changeKey afterwards.
    async fn contact_finish(&self, id: &str, body: &[u8]) -> Result<String> {
        if let Some((mime, bytes)) = photo(body) {
            let url = self.url(&format!("/contacts/{}/photo/$value", enc(id)));
            let op = "set contact photo";
            let len = bytes.len() as u64;
            let r = self
                .c
                .send(&self.upn, op, len, true, || {
                    self.c
                        .http
                        .put(&url)
                        .header("Content-Type", mime.clone())
                        .body(bytes.clone())
                })
                .await?;
            if !r.status.is_success() {
                let status = r.status;
                let body = r.resp.bytes().await.unwrap_or_default();
                return Err(super::wire::failure(&self.upn, op, status, &body));
            }
        }
        let text = String::from_utf8_lossy(body).into_owned();
        let (_, v) = self
            .call(
                "complete contact",
                Method::PATCH,
                &self.url(&format!("/contacts/{}", enc(id))),
                Some(&json!({"singleValueExtendedProperties": [
                    {"id": CONTACT_VCARD_PROP, "value": text}
                ]})),
            )
            .await?;
        Ok(v["changeKey"].as_str().unwrap_or_default().to_string())
    }

    /// Write one contact to the open address book (see the module's documentation).
    pub(super) async fn write_contact(
        &mut self,
        folder: &str,
        m: &Message,
    ) -> Result<AppendOutcome> {
        let body = m.body.bytes();
        let id = identity(ItemKind::Contact, body);
        let what = |why: &str| format!("this contact ({}) {why}", id.describe());
        if is_group(body) {
            return Ok(AppendOutcome::Refused {
                reason: what(
                    "is a contact group (KIND:group); Microsoft 365 contacts have no groups, so it is not copied",
                ),
            });
        }
        let Some(uid) = id.uid.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(AppendOutcome::Refused {
                reason: what("has no UID; not copied"),
            });
        };
        let fp = fingerprint(ItemKind::Contact, body);
        let side = self.c.side;
        let sent = contact_sent(folder);
        self.c
            .store
            .ref_uids(side, &self.upn, &sent, &[uid.as_str()])
            .map_err(|e| self.store_err(e))?;
        let tried = self
            .c
            .store
            .ref_written(side, &self.upn, &sent, &uid)
            .map_err(|e| self.store_err(e))?
            .is_some();
        if let Some(there) = self.contact_with_uid(&uid, tried).await? {
            return self.contact_there(folder, &there, body, &fp, &what).await;
        }
        // Journalled before it is sent: a lost answer is searched for, never sent blindly.
        self.c
            .store
            .set_ref_written(side, &self.upn, &sent, &uid, &fp)
            .map_err(|e| self.store_err(e))?;
        let mut new = to_graph(body);
        let mut props = vec![json!({"id": CONTACT_UID_PROP, "value": uid})];
        let has_photo = photo(body).is_some();
        if !has_photo {
            props.push(json!({"id": CONTACT_VCARD_PROP, "value": String::from_utf8_lossy(body)}));
        }
        new["singleValueExtendedProperties"] = json!(props);
        let url = self.contacts_url(&self.contact_sel("write contact")?.fid);
        let created = match self
            .call("create contact", Method::POST, &url, Some(&new))
            .await
        {
            Ok((_, v)) => v,
            Err(EndpointError::No { message, .. }) => {
                return Ok(AppendOutcome::Refused {
                    reason: what(&format!("was refused by Graph: {message}")),
                });
            }
            Err(e) => return Err(e),
        };
        let Some(cid) = created["id"].as_str().map(str::to_string) else {
            return Err(EndpointError::Protocol {
                op: "create contact".into(),
                message: "Graph's answer has no contact id".into(),
            });
        };
        let mut ck = created["changeKey"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if has_photo {
            ck = self.contact_finish(&cid, body).await?;
        }
        self.contact_stored(folder, &cid, &fp, &ck)
    }

    /// A contact with the source UID is in the folder already. The journal keeps, per
    /// destination contact, the fingerprint cutover wrote and the contact's changeKey after
    /// that write (`"<fingerprint> <changeKey>"`): another changeKey means its user changed it.
    async fn contact_there(
        &mut self,
        folder: &str,
        there: &ContactItem,
        body: &[u8],
        fp: &str,
        what: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<AppendOutcome> {
        let side = self.c.side;
        let uid = identity(ItemKind::Contact, body).uid.unwrap_or_default();
        let ours = self
            .c
            .store
            .ref_written(side, &self.upn, folder, &there.id)
            .map_err(|e| self.store_err(e))?;
        let tried = self
            .c
            .store
            .ref_written(side, &self.upn, &contact_sent(folder), &uid)
            .map_err(|e| self.store_err(e))?;
        let their_ck = there.json["changeKey"].as_str().unwrap_or_default();
        if there.vcard.is_none() && tried.as_deref() == Some(fp) {
            // Cutover's own create, interrupted before its photo and text were set.
            let ck = self.contact_finish(&there.id, body).await?;
            return self.contact_stored(folder, &there.id, fp, &ck);
        }
        let theirs = fingerprint(ItemKind::Contact, &self.contact_vcard(there).await?);
        let (our_fp, our_ck) = match ours.as_deref() {
            Some(w) => {
                let (f, c) = w.split_once(' ').unwrap_or((w, ""));
                (Some(f.to_string()), c.to_string())
            }
            None => (None, String::new()),
        };
        if theirs == fp {
            // An earlier write whose answer was lost, or a re-run: what the journal knows of
            // it stays (a later user edit is not taken for cutover's version).
            let ck = if our_fp.as_deref() == Some(fp) {
                our_ck
            } else {
                their_ck.to_string()
            };
            return self.contact_stored(folder, &there.id, fp, &ck);
        }
        if our_fp.as_deref() != Some(theirs.as_str()) || our_ck != their_ck {
            let why = if ours.is_some() {
                "was changed on the destination since cutover wrote it"
            } else {
                "is on the destination already with other content"
            };
            let reason = what(&format!("{why}; it is not overwritten"));
            // A user's edit of cutover's copy is kept (a warning); the destination's own
            // contact is refused.
            return Ok(if ours.is_some() {
                AppendOutcome::Kept { reason }
            } else {
                AppendOutcome::Refused { reason }
            });
        }
        // The version cutover wrote, unchanged since: the source's newer version replaces it.
        self.c
            .store
            .set_ref_written(side, &self.upn, &contact_sent(folder), &uid, fp)
            .map_err(|e| self.store_err(e))?;
        let mut new = to_graph_replacing(body);
        new["singleValueExtendedProperties"] = json!([]);
        self.call(
            "update contact",
            Method::PATCH,
            &self.url(&format!("/contacts/{}", enc(&there.id))),
            Some(&new),
        )
        .await?;
        let ck = self.contact_finish(&there.id, body).await?;
        self.contact_stored(folder, &there.id, fp, &ck)
    }

    /// Create an address book: a contact folder named after it (the default always exists).
    pub(super) async fn create_contact_folder(&mut self, folder: &str) -> Result<bool> {
        if self.c.side == "source" {
            return Err(read_only("create contact folder"));
        }
        let Some((_, name)) = collection_of(folder) else {
            return Ok(false);
        };
        if self
            .contact_folders()
            .await?
            .iter()
            .any(|(f, _)| f.wire_name == folder)
        {
            return Ok(false);
        }
        match self
            .call(
                "create contact folder",
                Method::POST,
                &self.url("/contactFolders"),
                Some(&json!({"displayName": name})),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(EndpointError::No { message, .. })
                if message.contains("ErrorFolderExists") || message.contains("HTTP 409") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Delete an address book cutover created (never the default one).
    pub(super) async fn delete_contact_folder(&mut self, folder: &str) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("delete contact folder"));
        }
        let Some(id) = self
            .contact_folder_id(folder, "delete contact folder")
            .await?
        else {
            return Ok(());
        };
        self.call(
            "delete contact folder",
            Method::DELETE,
            &self.url(&format!("/contactFolders/{}", enc(&id))),
            None,
        )
        .await?;
        if self.contacts.as_ref().is_some_and(|s| s.folder == folder) {
            self.contacts = None;
        }
        Ok(())
    }

    /// Delete exactly these contacts of the open address book (rollback).
    pub(super) async fn expunge_contacts(&mut self, uids: &[u32]) -> Result<()> {
        if self.c.side == "source" {
            return Err(read_only("expunge"));
        }
        let folder = self.contact_sel("delete contacts")?.folder.clone();
        let refs = self
            .c
            .store
            .refs_of(self.c.side, &self.upn, &folder, uids)
            .map_err(|e| self.store_err(e))?;
        for (_, id) in refs {
            match self
                .call(
                    "delete contact",
                    Method::DELETE,
                    &self.url(&format!("/contacts/{}", enc(&id))),
                    None,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
