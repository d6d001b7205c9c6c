//! A CalDAV/CardDAV account as a [`MailSession`]: its calendars and address books are the
//! folders `calendar:ID` and `contacts:ID` (see `crate::item::folder`), each resource (an
//! event series with its exceptions, or a contact) an item. The engine's one copy loop,
//! in-doubt resolution, verification and rollback then run unchanged:
//!
//! - UIDs: a resource's href is mapped to a UID once in the journal (`Journal::ref_uids`), as
//!   for Graph and POP3: stable across runs, never reused.
//! - Fingerprints are of the normalised content (`crate::item::normalise`), so two servers'
//!   serialisations of one event match; listed sizes are the servers' own, hence estimates.
//! - Writes are exactly once by construction: a new resource's href is derived from its UID
//!   and created with `If-None-Match: *`. When an item with that UID is there already (a
//!   write whose answer was lost, a re-run; or under another name), it is read back: the
//!   same normalised content is the earlier write, recorded as stored. Other content is
//!   replaced (`If-Match`) only when it is exactly what cutover wrote there (the journal keeps
//!   that fingerprint): a newer version from the source. The destination's own item with
//!   that UID, or one its user changed, is never overwritten (the item is refused, saying so).
//! - A source item's UID stands for one version (href and ETag): an item changed on the
//!   source since the last run is copied again as a new item, and replaces the older one.
//! - A destination that schedules (RFC 6638) gets `SCHEDULE-AGENT=CLIENT` on every organizer
//!   and attendee: a migrated meeting never sends an invitation.
//! - A source is only read.

use std::collections::HashMap;
use std::time::Duration;

use super::client::DavClient;
use super::wire_types::{Collection, CollectionKind, Homes, ItemRef, MULTIGET_CHUNK, PutOutcome};
use super::xml::{encode_segment, href_key, same_href};
use crate::api::ItemKind;
use crate::config::{self, Credential, Items};
use crate::endpoint::budget::ConnectionBudget;
use crate::endpoint::session::MailSession;
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageMeta, Result,
};
use crate::item::{
    AtDestination, at_destination, collection_folder, collection_of, fingerprint, identity,
    resource_name,
};
use crate::journal::Journal;

/// Opens DAV sessions on one side, within the side's connection budget.
#[derive(Clone)]
pub struct DavConnector {
    http: reqwest::Client,
    url: String,
    timeout: Duration,
    budget: ConnectionBudget,
    store: Journal,
    items: Items,
    pub side: &'static str,
}

pub struct DavSession {
    _permit: crate::endpoint::budget::Permit,
    client: DavClient,
    homes: Homes,
    caps: Capabilities,
    items: Items,
    side: &'static str,
    store: Journal,
    /// The account, as the journal's refs name it.
    account: String,
    host: String,
    /// The collections as last listed, by folder name.
    collections: HashMap<String, Collection>,
    selected: Option<Selected>,
}

/// The collection opened by `examine`/`open_for_append`, as listed then.
struct Selected {
    folder: String,
    kind: ItemKind,
    href: String,
    /// (UID, resource), in UID order.
    items: Vec<(u32, ItemRef)>,
}

fn kind_of(c: CollectionKind) -> ItemKind {
    match c {
        CollectionKind::Calendar => ItemKind::Event,
        CollectionKind::AddressBook => ItemKind::Contact,
    }
}

fn wire_kind(k: ItemKind) -> CollectionKind {
    match k {
        ItemKind::Contact => CollectionKind::AddressBook,
        _ => CollectionKind::Calendar,
    }
}

/// The one spelling of an href the journal keeps (servers encode `@` or spaces their own
/// way from one answer to the next): its path, each segment decoded then percent-encoded
/// the same way.
fn canonical(href: &str) -> String {
    let key = href_key(href);
    key.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// A collection's id: the last segment of its href, decoded.
fn collection_id(href: &str) -> String {
    let key = href_key(href);
    key.rsplit('/').next().unwrap_or_default().to_string()
}

impl DavConnector {
    pub fn new(
        cfg: &config::Endpoint,
        dav: &config::DavSettings,
        items: Items,
        side: &'static str,
        store: &Journal,
    ) -> Result<DavConnector> {
        let http = crate::endpoint::http::client(cfg, side, cfg.timeout)?;
        Ok(DavConnector {
            http,
            url: dav.url.clone(),
            timeout: cfg.timeout,
            budget: ConnectionBudget::new(cfg.max_connections),
            store: store.clone(),
            items,
            side,
        })
    }

    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    pub fn max_connections(&self) -> usize {
        self.budget.max()
    }

    /// Wait for a slot, then find the account's calendar and address book homes.
    pub async fn connect(&self, cred: &Credential) -> Result<DavSession> {
        let permit = self.budget.acquire_slot(&format!("dav:{}", self.url)).await;
        let client = DavClient::new(
            self.http.clone(),
            &self.url,
            &cred.user,
            cred.password.clone(),
            self.side,
            self.timeout,
        )?;
        let homes = client.discover().await?;
        let host = client.base().host_str().unwrap_or_default().to_string();
        Ok(DavSession {
            _permit: permit,
            client,
            homes,
            caps: Capabilities {
                uidplus: true,
                // Servers serialise items their own way: sizes differ between two servers
                // holding the same item, and items are matched on fingerprints alone.
                inexact_sizes: true,
                raw: vec!["DAV".into(), "UIDPLUS".into()],
                ..Capabilities::default()
            },
            items: self.items,
            side: self.side,
            store: self.store.clone(),
            account: format!("dav:{}", cred.user),
            host,
            collections: HashMap::new(),
            selected: None,
        })
    }
}

impl DavSession {
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server schedules (RFC 6638).
    pub fn schedules(&self) -> bool {
        self.homes.scheduling
    }

    fn journal_err(&self, source: crate::journal::JournalError) -> EndpointError {
        EndpointError::Journal {
            op: format!("{} DAV UIDs of {}", self.side, self.client.user),
            source,
        }
    }

    fn read_only(&self, op: &str) -> Result<()> {
        if self.side == "source" {
            return Err(EndpointError::Protocol {
                op: op.into(),
                message: "the source's calendars and contacts are only read; cutover never writes to them".into(),
            });
        }
        Ok(())
    }

    fn home(&self, kind: ItemKind) -> Option<&str> {
        match kind {
            ItemKind::Contact => self.homes.addressbook_home.as_deref(),
            _ => self.homes.calendar_home.as_deref(),
        }
    }

    /// The collection a folder name stands for: listed, or (for a destination about to
    /// create or open it) where it would be.
    async fn collection_href(&mut self, folder: &str) -> Result<(ItemKind, String)> {
        let side = self.side;
        let no_folder = |server: Option<String>| EndpointError::NoFolder {
            op: format!("{side} DAV"),
            folder: folder.to_string(),
            server,
        };
        let Some((kind, id)) = collection_of(folder) else {
            return Err(no_folder(Some(
                "not a calendar or address book name".into(),
            )));
        };
        if self.collections.is_empty() {
            self.list_folders().await?;
        }
        if let Some(c) = self.collections.get(folder) {
            return Ok((kind, c.href.clone()));
        }
        let home = self
            .home(kind)
            .ok_or_else(|| no_folder(Some(format!("the server has no {} home", kind.plural()))))?
            .to_string();
        let href = self.client.join(&home, id);
        Ok((kind, format!("{}/", href.trim_end_matches('/'))))
    }

    /// List a collection and give its resources their UIDs.
    async fn select(&mut self, folder: &str) -> Result<FolderState> {
        let (kind, href) = self.collection_href(folder).await?;
        if !self.collections.contains_key(folder) {
            return Err(EndpointError::NoFolder {
                op: format!("{} DAV", self.side),
                folder: folder.to_string(),
                server: None,
            });
        }
        let mut refs = match self.items.calendar_since {
            Some(since) if kind == ItemKind::Event && self.side == "source" => {
                self.client.list_events_since(&href, since).await?
            }
            _ => self.client.list_items(&href).await?,
        };
        refs.sort_by(|a, b| a.href.cmp(&b.href));
        // A source item's UID stands for one version of it: an item changed since (another
        // ETag) is a new item to copy, which replaces the version cutover wrote (see
        // `write`). A destination's UIDs stand for its resources.
        let keys: Vec<String> = refs
            .iter()
            .map(|r| match (&r.etag, self.side) {
                (Some(etag), "source") => format!("{} {etag}", canonical(&r.href)),
                _ => canonical(&r.href),
            })
            .collect();
        let hrefs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let uids = self
            .store
            .ref_uids(self.side, &self.account, folder, &hrefs)
            .map_err(|e| self.journal_err(e))?;
        let (validity, next) = self
            .store
            .ref_folder(self.side, &self.account, folder)
            .map_err(|e| self.journal_err(e))?;
        let mut items: Vec<(u32, ItemRef)> = uids.into_iter().zip(refs).collect();
        items.sort_by_key(|(u, _)| *u);
        let exists = items.len() as u32;
        self.selected = Some(Selected {
            folder: folder.to_string(),
            kind,
            href,
            items,
        });
        Ok(FolderState {
            uidvalidity: validity,
            uidnext: next,
            exists,
        })
    }

    fn selected(&self, op: &str) -> Result<&Selected> {
        self.selected
            .as_ref()
            .ok_or_else(|| EndpointError::Protocol {
                op: op.into(),
                message: "no calendar or address book is open".into(),
            })
    }

    /// The bytes of these UIDs of the open collection, in UID order; vanished ones absent.
    async fn bodies(&self, uids: &[u32], from_uid: u32) -> Result<Vec<(u32, Vec<u8>)>> {
        let sel = self.selected("DAV read")?;
        let wanted: Vec<&(u32, ItemRef)> = sel
            .items
            .iter()
            .filter(|(u, _)| {
                if uids.is_empty() {
                    *u >= from_uid
                } else {
                    uids.contains(u)
                }
            })
            .collect();
        let mut out = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(MULTIGET_CHUNK) {
            let hrefs: Vec<String> = chunk.iter().map(|(_, r)| r.href.clone()).collect();
            let got = self
                .client
                .get_items(&sel.href, wire_kind(sel.kind), &hrefs)
                .await?;
            for (uid, r) in chunk {
                if let Some(d) = got.iter().find(|d| same_href(&d.href, &r.href)) {
                    out.push((*uid, d.body.clone()));
                }
            }
        }
        Ok(out)
    }

    /// The UID of a destination href, allocating it when new.
    fn uid_of(&self, folder: &str, href: &str) -> Result<u32> {
        let uids = self
            .store
            .ref_uids(self.side, &self.account, folder, &[&canonical(href)])
            .map_err(|e| self.journal_err(e))?;
        Ok(uids.first().copied().unwrap_or_default())
    }

    /// Record a write at `href` (its UID, and the fingerprint of what was written there).
    fn stored(&self, folder: &str, href: &str, fp: &str, validity: u32) -> Result<AppendOutcome> {
        let uid = self.uid_of(folder, href)?;
        self.store
            .set_ref_written(self.side, &self.account, folder, &canonical(href), fp)
            .map_err(|e| self.journal_err(e))?;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(validity),
            uid: Some(uid),
        })
    }

    /// Why an item changed on both sides is not written: the destination's version is kept.
    fn kept(&self, folder: &str, what: &str) -> String {
        format!(
            "{what} in {folder} was changed on the destination since cutover wrote it; the \
             destination's version is kept and the source's change is not carried"
        )
    }

    /// Write one item (see the module's documentation for why this is exactly once).
    async fn write(&mut self, folder: &str, m: &Message) -> Result<AppendOutcome> {
        let (kind, coll) = {
            let sel = self.selected("DAV write")?;
            (sel.kind, sel.href.clone())
        };
        let body = m.body.bytes();
        let id = identity(kind, body);
        let what = |why: &str| {
            format!("this {} ({}) {why}", kind.as_str(), id.describe())
                .trim_end()
                .to_string()
        };
        let Some(uid) = id.uid.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(AppendOutcome::Refused {
                reason: format!(
                    "this {} has no UID, which CalDAV/CardDAV require; not copied",
                    kind.as_str()
                ),
            });
        };
        let target = self.client.join(&coll, &resource_name(&uid, kind));
        let bytes = if kind == ItemKind::Event && self.homes.scheduling {
            crate::item::schedule::client_scheduled(body)
        } else {
            body.to_vec()
        };
        let validity = self
            .store
            .ref_folder(self.side, &self.account, folder)
            .map_err(|e| self.journal_err(e))?
            .0;
        let fp = fingerprint(kind, body);
        // Where an item with this UID already is: at the name cutover gives it, or (a UID
        // conflict) under another name.
        let there = match self
            .client
            .put_new(&target, wire_kind(kind), &bytes)
            .await?
        {
            PutOutcome::Stored { .. } => return self.stored(folder, &target, &fp, validity),
            PutOutcome::Refused { status, reason } => {
                return Ok(AppendOutcome::Refused {
                    reason: what(&format!(
                        "was refused by the destination: HTTP {status} {reason}"
                    )),
                });
            }
            PutOutcome::PreconditionFailed => self.client.get_item(&target).await?,
            PutOutcome::UidConflict { href: Some(h) } => self.client.get_item(&h).await?,
            PutOutcome::UidConflict { href: None } => self
                .client
                .find_uid(&coll, wire_kind(kind), &uid)
                .await?
                .into_iter()
                .next(),
        };
        let Some(there) = there else {
            // Gone between the PUT and the read: the next run writes it.
            return Ok(AppendOutcome::Failed {
                error: EndpointError::Protocol {
                    op: format!("{} DAV PUT {target}", self.side),
                    message: "the server said an item with this UID exists, then did not show it"
                        .into(),
                },
            });
        };
        let theirs = fingerprint(kind, &there.body);
        let ours = self
            .store
            .ref_written(self.side, &self.account, folder, &canonical(&there.href))
            .map_err(|e| self.journal_err(e))?;
        let found = at_destination(&fp, &theirs, ours.as_deref());
        if found == AtDestination::Same {
            // Already there: an earlier write whose answer was lost, or a re-run.
            return self.stored(folder, &there.href, &fp, validity);
        }
        if found == AtDestination::ChangedThere {
            // The rule of delta passes: the source decides content, but an item a user
            // changed on the destination since cutover wrote it is kept, and said.
            return Ok(AppendOutcome::Kept {
                reason: self.kept(folder, &what("")),
            });
        }
        if let Some(reason) = found.refusal(&what("")) {
            return Ok(AppendOutcome::Refused { reason });
        }
        let Some(etag) = there.etag.as_deref() else {
            return Ok(AppendOutcome::Refused {
                reason: what(
                    "changed on the source; the destination gives no ETag to replace the version cutover wrote safely; it is not overwritten",
                ),
            });
        };
        // The version cutover wrote, unchanged there since: the source's newer version
        // replaces it, only if it is still that version (If-Match).
        match self
            .client
            .put_replace(&there.href, wire_kind(kind), &bytes, etag)
            .await?
        {
            PutOutcome::Stored { .. } => self.stored(folder, &there.href, &fp, validity),
            PutOutcome::Refused { status, reason } => Ok(AppendOutcome::Refused {
                reason: what(&format!(
                    "changed on the source; the destination refused the newer version: HTTP {status} {reason}"
                )),
            }),
            PutOutcome::PreconditionFailed | PutOutcome::UidConflict { .. } => {
                Ok(AppendOutcome::Kept {
                    reason: self.kept(folder, &what("")),
                })
            }
        }
    }
}

impl MailSession for DavSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        let mut out = Vec::new();
        self.collections.clear();
        let homes = [
            (self.items.calendar, self.homes.calendar_home.clone()),
            (self.items.contacts, self.homes.addressbook_home.clone()),
        ];
        let mut homes_seen = Vec::new();
        for (wanted, home) in homes {
            let Some(home) = home.filter(|_| wanted) else {
                continue;
            };
            // Many servers keep calendars and address books in one home.
            if homes_seen.iter().any(|h: &String| same_href(h, &home)) {
                continue;
            }
            homes_seen.push(home.clone());
            for c in self.client.list_collections(&home).await? {
                let kind = kind_of(c.kind);
                if !self.items.has(kind) {
                    continue;
                }
                // A task list (VTODO only) is not a calendar of events.
                if kind == ItemKind::Event
                    && !c.components.is_empty()
                    && !c
                        .components
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case("VEVENT"))
                {
                    continue;
                }
                let id = collection_id(&c.href);
                let wire = collection_folder(kind, &id);
                let top = match kind {
                    ItemKind::Contact => "Contacts",
                    _ => "Calendars",
                };
                out.push(Folder {
                    wire_name: wire.clone(),
                    path: vec![
                        top.to_string(),
                        c.displayname
                            .clone()
                            .filter(|d| !d.is_empty())
                            .unwrap_or(id),
                    ],
                    delimiter: Some('/'),
                    special: None,
                    selectable: true,
                });
                self.collections.insert(wire, c);
            }
        }
        out.sort_by(|a, b| a.wire_name.cmp(&b.wire_name));
        Ok(out)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.select(folder).await
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        self.select(folder).await
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let keep = self.selected.take();
        let r = self.select(folder).await;
        self.selected = keep;
        r
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        let id = collection_of(folder)
            .map(|(_, id)| id.to_string())
            .unwrap_or_default();
        self.create_folder_shown_as(folder, &id).await
    }

    /// A calendar or address book is made with the source's display name (the last level
    /// of `display`: "Calendars/Work" gives "Work").
    async fn create_folder_shown_as(&mut self, folder: &str, display: &str) -> Result<bool> {
        self.read_only("create a calendar or address book")?;
        let (kind, href) = self.collection_href(folder).await?;
        if self.collections.contains_key(folder) {
            return Ok(false);
        }
        let name = display.rsplit('/').next().unwrap_or(display);
        let created = self
            .client
            .make_collection(&href, wire_kind(kind), name)
            .await?;
        self.list_folders().await?;
        Ok(created)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        // Listed afresh, like an IMAP UID FETCH: what the collection holds now.
        let folder = self.selected("DAV listing")?.folder.clone();
        self.select(&folder).await?;
        let sel = self.selected("DAV listing")?;
        Ok(sel
            .items
            .iter()
            .filter(|(u, _)| *u >= from_uid)
            .map(|(u, r)| MessageMeta {
                uid: *u,
                size: r.size.unwrap_or(0),
            })
            .collect())
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        for chunk in sorted.chunks(MULTIGET_CHUNK) {
            for (uid, body) in self.bodies(chunk, 0).await? {
                if !sink.send(Message::item(uid, body)).await {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        let kind = self.selected("DAV read")?.kind;
        Ok(self
            .bodies(uids, from_uid)
            .await?
            .into_iter()
            .map(|(uid, body)| Fingerprinted::item(kind, uid, &body))
            .collect())
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        self.read_only("write an event or contact")?;
        if self.selected.as_ref().is_none_or(|s| s.folder != folder) {
            self.select(folder).await?;
        }
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            out.push(self.write(folder, m).await?);
        }
        Ok(out)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        self.read_only("delete an event or contact")?;
        let folder = self.selected("DAV delete")?.folder.clone();
        let refs = self
            .store
            .refs_of(self.side, &self.account, &folder, uids)
            .map_err(|e| self.journal_err(e))?;
        for (_, href) in refs {
            self.client.delete_item(&href, None).await?;
        }
        Ok(())
    }

    /// A source resource's UID stands for one version (href and ETag): a UID no longer listed
    /// whose href is listed under another ETag is that item, changed.
    async fn newer_versions(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        let sel = self.selected("DAV changes")?;
        let refs = self
            .store
            .refs_of(self.side, &self.account, &sel.folder, uids)
            .map_err(|e| self.journal_err(e))?;
        let now: HashMap<String, u32> = sel
            .items
            .iter()
            .map(|(u, r)| (canonical(&r.href), *u))
            .collect();
        Ok(refs
            .into_iter()
            .filter_map(|(uid, key)| {
                let href = key.split_once(' ').map_or(key.as_str(), |(h, _)| h);
                now.get(href).filter(|n| **n != uid).map(|n| (uid, *n))
            })
            .collect())
    }

    /// Delete what cutover wrote, only where the destination still holds exactly that (its
    /// normalised content is what cutover last wrote there), with `If-Match` of the ETag it
    /// was read with: an item a user changed since is kept and returned.
    async fn expunge_unchanged(&mut self, uids: &[u32]) -> Result<Vec<u32>> {
        self.read_only("delete an event or contact")?;
        let (folder, kind) = {
            let sel = self.selected("DAV delete")?;
            (sel.folder.clone(), sel.kind)
        };
        let refs = self
            .store
            .refs_of(self.side, &self.account, &folder, uids)
            .map_err(|e| self.journal_err(e))?;
        let mut kept = Vec::new();
        for (uid, href) in refs {
            // Already gone: an earlier removal whose answer was lost, or a user's.
            let Some(there) = self.client.get_item(&href).await? else {
                continue;
            };
            let written = self
                .store
                .ref_written(self.side, &self.account, &folder, &canonical(&href))
                .map_err(|e| self.journal_err(e))?;
            let ours = written.as_deref() == Some(fingerprint(kind, &there.body).as_str());
            let Some(etag) = there.etag.as_deref().filter(|_| ours) else {
                kept.push(uid);
                continue;
            };
            if !self.client.delete_unchanged(&href, etag).await? {
                kept.push(uid);
            }
        }
        Ok(kept)
    }

    async fn rename_folder(&mut self, from: &str, _to: &str) -> Result<()> {
        Err(EndpointError::Protocol {
            op: format!("{} DAV rename {from}", self.side),
            message: "a calendar or address book is not renamed; it is deleted when empty".into(),
        })
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        self.read_only("delete a calendar or address book")?;
        let (_, href) = self.collection_href(folder).await?;
        self.client.delete_collection(&href).await?;
        self.collections.remove(folder);
        Ok(())
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        None
    }

    async fn logout(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_ids_are_the_last_segment_decoded() {
        assert_eq!(
            resource_name("abc-1@x.org", ItemKind::Event),
            "abc-1@x.org.ics"
        );
        let odd = resource_name("a/b c", ItemKind::Contact);
        assert!(odd.starts_with("cutover-") && odd.ends_with(".vcf"));
        assert_eq!(odd, resource_name("a/b c", ItemKind::Contact));
        assert_eq!(collection_id("/u/calendars/Work%20Cal/"), "Work Cal");
    }
}
