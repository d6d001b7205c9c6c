//! Calendars and contacts beside a Maildir tree: one `.ics` or `.vcf` file per item, under
//! `DIR/.items/<mailbox>/calendar/<ID>/` and `DIR/.items/<mailbox>/contacts/<ID>/` (outside
//! the mailbox's own tree, so Dovecot and mutt see only mail), each collection's display
//! name in its `displayname` file. Any calendar or address-book program reads the files.
//!
//! The same item model as a DAV server: an item is named after its UID
//! (`item::resource_name`), written atomically (to a temporary file, synced, then linked
//! in place, which fails when the name is taken, so nothing is overwritten by accident),
//! and what is already at its place decides (`item::version`): the same content is there
//! already, the version cutover wrote is replaced by a newer one, anything else is kept.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::names::refused_component;
use super::store::{blocking, io_err, sync_dir};
use crate::api::ItemKind;
use crate::config::Items;
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

/// The file holding a collection's display name.
pub const DISPLAYNAME: &str = "displayname";

/// The directory of the collection `folder` (`calendar:ID`, `contacts:ID`) of mailbox `user`
/// beside the trees in `dir`, and the journal account its files' UIDs are kept under; None
/// for a mail folder.
pub fn item_dir(dir: &Path, user: &str, folder: &str) -> Option<(PathBuf, String)> {
    let (kind, id) = collection_of(folder)?;
    Some((
        dir.join(".items").join(user).join(kind_dir(kind)).join(id),
        format!("items:{user}"),
    ))
}

pub struct ItemDirSession {
    caps: Capabilities,
    /// `DIR/.items/<mailbox>`.
    root: PathBuf,
    items: Items,
    side: &'static str,
    store: Journal,
    account: String,
    selected: Option<Selected>,
}

struct Selected {
    folder: String,
    kind: ItemKind,
    dir: PathBuf,
    /// (UID, file name, size), in UID order.
    files: Vec<(u32, String, u64)>,
}

fn kind_dir(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Contact => "contacts",
        _ => "calendar",
    }
}

impl ItemDirSession {
    /// The items of mailbox `user` of the Maildir endpoint at `dir`.
    pub fn new(
        dir: &Path,
        user: &str,
        items: Items,
        side: &'static str,
        store: &Journal,
    ) -> ItemDirSession {
        ItemDirSession {
            caps: Capabilities {
                uidplus: true,
                raw: vec!["MAILDIR".into(), "UIDPLUS".into()],
                ..Capabilities::default()
            },
            root: dir.join(".items").join(user),
            items,
            side,
            store: store.clone(),
            account: item_dir(dir, user, "calendar:x")
                .map(|(_, a)| a)
                .unwrap_or_default(),
            selected: None,
        }
    }

    fn journal_err(&self, source: crate::journal::JournalError) -> EndpointError {
        EndpointError::Journal {
            op: format!("{} item UIDs of {}", self.side, self.account),
            source,
        }
    }

    fn read_only(&self, op: &str) -> Result<()> {
        if self.side == "source" {
            return Err(EndpointError::Protocol {
                op: op.into(),
                message: "a Maildir source is only read; cutover never writes to it".into(),
            });
        }
        Ok(())
    }

    /// The directory of a collection folder name, its id checked as one path level.
    fn dir_of(&self, folder: &str) -> Result<(ItemKind, PathBuf)> {
        let (kind, id) = collection_of(folder).ok_or_else(|| EndpointError::NoFolder {
            op: format!("{} items", self.side),
            folder: folder.to_string(),
            server: Some("not a calendar or address book name".into()),
        })?;
        if let Some(why) = refused_component(id).or(id.contains('/').then_some("a '/'")) {
            return Err(EndpointError::No {
                op: format!("{} items", self.side),
                message: format!(
                    "{folder}: a collection name cannot have {why} in a Maildir endpoint"
                ),
            });
        }
        Ok((kind, self.root.join(kind_dir(kind)).join(id)))
    }

    fn scan(&self, folder: &str) -> Result<Selected> {
        let (kind, dir) = self.dir_of(folder)?;
        let ext = match kind {
            ItemKind::Contact => ".vcf",
            _ => ".ics",
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EndpointError::NoFolder {
                    op: format!("{} items", self.side),
                    folder: folder.to_string(),
                    server: None,
                });
            }
            Err(e) => return Err(io_err("list", &dir, e)),
        };
        let mut found = Vec::new();
        for e in entries {
            let e = e.map_err(|x| io_err("list", &dir, x))?;
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || !name.ends_with(ext) {
                continue;
            }
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            found.push((name, size));
        }
        found.sort();
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        let uids = self
            .store
            .ref_uids(self.side, &self.account, folder, &names)
            .map_err(|e| self.journal_err(e))?;
        let mut files: Vec<(u32, String, u64)> = uids
            .into_iter()
            .zip(found)
            .map(|(u, (n, s))| (u, n, s))
            .collect();
        files.sort_by_key(|f| f.0);
        Ok(Selected {
            folder: folder.to_string(),
            kind,
            dir,
            files,
        })
    }

    fn select(&mut self, folder: &str) -> Result<FolderState> {
        let sel = self.scan(folder)?;
        let (validity, next) = self
            .store
            .ref_folder(self.side, &self.account, folder)
            .map_err(|e| self.journal_err(e))?;
        let exists = sel.files.len() as u32;
        self.selected = Some(sel);
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

    fn chosen(&self, uids: &[u32], from_uid: u32) -> Result<Vec<(u32, PathBuf)>> {
        let sel = self.selected("read items")?;
        Ok(sel
            .files
            .iter()
            .filter(|(u, _, _)| {
                if uids.is_empty() {
                    *u >= from_uid
                } else {
                    uids.contains(u)
                }
            })
            .map(|(u, n, _)| (*u, sel.dir.join(n)))
            .collect())
    }

    fn stored(&self, folder: &str, name: &str, fp: &str) -> Result<AppendOutcome> {
        let uids = self
            .store
            .ref_uids(self.side, &self.account, folder, &[name])
            .map_err(|e| self.journal_err(e))?;
        self.store
            .set_ref_written(self.side, &self.account, folder, name, fp)
            .map_err(|e| self.journal_err(e))?;
        let validity = self
            .store
            .ref_folder(self.side, &self.account, folder)
            .map_err(|e| self.journal_err(e))?
            .0;
        Ok(AppendOutcome::Stored {
            uidvalidity: Some(validity),
            uid: uids.first().copied(),
        })
    }

    /// Write one item (see the module's documentation).
    fn write(
        &self,
        folder: &str,
        kind: ItemKind,
        dir: &Path,
        m: &Message,
    ) -> Result<AppendOutcome> {
        let body = m.body.bytes();
        let id = identity(kind, body);
        let what = format!("this {} ({})", kind.as_str(), id.describe());
        let Some(uid) = id.uid.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(AppendOutcome::Refused {
                reason: format!("this {} has no UID; not copied", kind.as_str()),
            });
        };
        let name = resource_name(&uid, kind);
        let path = dir.join(&name);
        let fp = fingerprint(kind, body);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let write_tmp = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(body)?;
            f.sync_all()
        };
        if let Err(e) = write_tmp() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err("write item", &tmp, e));
        }
        // A hard link does not replace an existing name: the first write of this UID wins.
        let placed = match std::fs::hard_link(&tmp, &path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(io_err("write item", &path, e));
            }
        };
        if placed {
            let _ = std::fs::remove_file(&tmp);
            sync_dir(dir)?;
            return self.stored(folder, &name, &fp);
        }
        let theirs = match std::fs::read(&path) {
            Ok(b) => fingerprint(kind, &b),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(io_err("read item", &path, e));
            }
        };
        let ours = self
            .store
            .ref_written(self.side, &self.account, folder, &name)
            .map_err(|e| self.journal_err(e))?;
        let found = at_destination(&fp, &theirs, ours.as_deref());
        if found == AtDestination::OursOlder {
            // The version cutover wrote: the newer one replaces it atomically.
            std::fs::rename(&tmp, &path).map_err(|e| io_err("replace item", &path, e))?;
            sync_dir(dir)?;
            return self.stored(folder, &name, &fp);
        }
        let _ = std::fs::remove_file(&tmp);
        match found.refusal(&what) {
            // A user's edit of cutover's copy is kept (a warning).
            Some(reason) if found == AtDestination::ChangedThere => {
                Ok(AppendOutcome::Kept { reason })
            }
            Some(reason) => Ok(AppendOutcome::Refused { reason }),
            None => self.stored(folder, &name, &fp),
        }
    }
}

impl MailSession for ItemDirSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        blocking(|| {
            let mut out = Vec::new();
            for kind in [ItemKind::Event, ItemKind::Contact] {
                if !self.items.has(kind) {
                    continue;
                }
                let d = self.root.join(kind_dir(kind));
                let entries = match std::fs::read_dir(&d) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_err("list", &d, e)),
                };
                for e in entries {
                    let e = e.map_err(|x| io_err("list", &d, x))?;
                    let Ok(id) = e.file_name().into_string() else {
                        continue;
                    };
                    if id.starts_with('.') || !e.path().is_dir() {
                        continue;
                    }
                    let shown = std::fs::read_to_string(e.path().join(DISPLAYNAME))
                        .ok()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| id.clone());
                    let top = if kind == ItemKind::Contact {
                        "Contacts"
                    } else {
                        "Calendars"
                    };
                    out.push(Folder {
                        wire_name: collection_folder(kind, &id),
                        path: vec![top.to_string(), shown],
                        delimiter: Some('/'),
                        special: None,
                        selectable: true,
                    });
                }
            }
            out.sort_by(|a, b| a.wire_name.cmp(&b.wire_name));
            Ok(out)
        })
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        blocking(|| self.select(folder))
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        blocking(|| self.select(folder))
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let keep = self.selected.take();
        let r = blocking(|| self.select(folder));
        self.selected = keep;
        r
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        let id = collection_of(folder)
            .map(|(_, id)| id.to_string())
            .unwrap_or_default();
        self.create_folder_shown_as(folder, &id).await
    }

    async fn create_folder_shown_as(&mut self, folder: &str, display: &str) -> Result<bool> {
        use std::os::unix::fs::DirBuilderExt;
        self.read_only("create a calendar or address book")?;
        let (_, dir) = self.dir_of(folder)?;
        blocking(|| {
            if dir.is_dir() {
                return Ok(false);
            }
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io_err("create", &dir, e))?;
            let name = display.rsplit('/').next().unwrap_or(display);
            std::fs::write(dir.join(DISPLAYNAME), format!("{name}\n"))
                .map_err(|e| io_err("create", &dir, e))?;
            if let Some(p) = dir.parent() {
                sync_dir(p)?;
            }
            Ok(true)
        })
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        let folder = self.selected("list items")?.folder.clone();
        blocking(|| self.select(&folder))?;
        let sel = self.selected("list items")?;
        Ok(sel
            .files
            .iter()
            .filter(|(u, _, _)| *u >= from_uid)
            .map(|(u, _, s)| MessageMeta { uid: *u, size: *s })
            .collect())
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        let mut files = self.chosen(uids, 0)?;
        files.sort_by_key(|f| f.0);
        for (uid, path) in files {
            let bytes = match blocking(|| std::fs::read(&path)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("read item", &path, e)),
            };
            if !sink.send(Message::item(uid, bytes)).await {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        let kind = self.selected("read items")?.kind;
        let files = self.chosen(uids, from_uid)?;
        blocking(|| {
            let mut out = Vec::with_capacity(files.len());
            for (uid, path) in files {
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_err("read item", &path, e)),
                };
                out.push(Fingerprinted::item(kind, uid, &bytes));
            }
            Ok(out)
        })
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        self.read_only("write an event or contact")?;
        if self.selected.as_ref().is_none_or(|s| s.folder != folder) {
            blocking(|| self.select(folder))?;
        }
        let (kind, dir) = {
            let s = self.selected("write items")?;
            (s.kind, s.dir.clone())
        };
        blocking(|| {
            msgs.iter()
                .map(|m| self.write(folder, kind, &dir, m))
                .collect()
        })
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        self.read_only("delete an event or contact")?;
        let (folder, dir) = {
            let s = self.selected("delete items")?;
            (s.folder.clone(), s.dir.clone())
        };
        let refs = self
            .store
            .refs_of(self.side, &self.account, &folder, uids)
            .map_err(|e| self.journal_err(e))?;
        blocking(|| {
            for (_, name) in refs {
                let p = dir.join(&name);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("delete item", &p, e)),
                }
            }
            sync_dir(&dir)
        })
    }

    async fn rename_folder(&mut self, from: &str, _to: &str) -> Result<()> {
        Err(EndpointError::Protocol {
            op: format!("{} items: rename {from}", self.side),
            message: "a calendar or address book is not renamed; it is deleted when empty".into(),
        })
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        self.read_only("delete a calendar or address book")?;
        let (_, dir) = self.dir_of(folder)?;
        blocking(|| {
            let left = std::fs::read_dir(&dir)
                .map_err(|e| io_err("delete", &dir, e))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name() != DISPLAYNAME)
                .count();
            if left > 0 {
                return Err(EndpointError::No {
                    op: format!("delete {folder}"),
                    message: format!("{left} file(s) are still in it"),
                });
            }
            let _ = std::fs::remove_file(dir.join(DISPLAYNAME));
            std::fs::remove_dir(&dir).map_err(|e| io_err("delete", &dir, e))?;
            if let Some(p) = dir.parent() {
                sync_dir(p)?;
            }
            Ok(())
        })
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        None
    }

    async fn logout(self) {}
}
