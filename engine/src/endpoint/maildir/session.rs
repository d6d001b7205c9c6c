//! [`MailSession`] for a Maildir tree: the engine's calls in terms of folders and UIDs.

use std::time::SystemTime;

use super::store::blocking;
use super::{MaildirSession, Selected, manifest, names, store, walk};
use crate::endpoint::session::{MailSession, UidFlags};
use crate::endpoint::sink::MessageSink;
use crate::endpoint::types::{
    AppendOutcome, Body, Capabilities, EndpointError, Fingerprinted, Folder, FolderState, Message,
    MessageMeta, Result,
};
use crate::mail::fingerprint::fingerprint;

/// A message ready to be delivered: where, under which file name, and its manifest line.
struct Prepared {
    dir: std::path::PathBuf,
    name: String,
    entry: manifest::Entry,
}

impl MaildirSession {
    fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    /// Re-list the selected folder (what it holds now).
    fn rescan(&mut self, op: &str) -> Result<()> {
        if let Some(f) = self.selected.as_ref().map(|s| s.folder.clone()) {
            self.selected = Some(self.scan(&f, op)?);
        }
        Ok(())
    }

    fn chosen(&self, uids: &[u32], from_uid: u32) -> Vec<super::Item> {
        let Some(s) = self.selected() else {
            return Vec::new();
        };
        s.items
            .iter()
            .filter(|i| {
                if uids.is_empty() {
                    i.uid >= from_uid
                } else {
                    uids.contains(&i.uid)
                }
            })
            .cloned()
            .collect()
    }

    /// A file's bytes; None when it vanished (or was renamed by a flag change) since listed.
    /// On a source, a file cutover did not write (no manifest line of its size) is read as
    /// an IMAP server serves it: bare LFs become CRLF. What cutover wrote, and everything on
    /// a destination, is read as it is.
    fn read(&mut self, item: &super::Item) -> Result<Option<Vec<u8>>> {
        let bytes = match std::fs::read(&item.file.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store::io_err("read", &item.file.path, e)),
        };
        if self.side != "source" {
            return Ok(Some(bytes));
        }
        let folder = self
            .selected()
            .map(|s| s.folder.clone())
            .unwrap_or_default();
        let ours = self
            .manifest()?
            .get(&(folder, item.key.clone()))
            .is_some_and(|e| e.size == bytes.len() as u64);
        Ok(Some(if ours { bytes } else { store::crlf(bytes) }))
    }

    fn meta_of(
        &mut self,
        item: &super::Item,
    ) -> Result<(Vec<String>, Option<chrono::DateTime<chrono::FixedOffset>>)> {
        let (folder, keywords) = match self.selected() {
            Some(s) => (s.folder.clone(), s.keywords.clone()),
            None => return Ok((Vec::new(), None)),
        };
        self.flags_and_date(&folder, &keywords, item)
    }

    /// A message's file name and manifest line, its keywords given letters in the folder's
    /// `dovecot-keywords` (written now, under the folder's lock).
    fn prepare(&mut self, folder: &str, m: &Message) -> Result<Prepared> {
        let dir = names::folder_dir(&self.root, folder, "append")?;
        if !dir.join("cur").is_dir() {
            return Err(EndpointError::NoFolder {
                op: "append".into(),
                folder: folder.into(),
                server: None,
            });
        }
        // Most messages carry no keyword: no lock, no keywords file to read.
        let has_keywords = m.flags.iter().any(|f| !f.starts_with('\\'));
        let (kws, extra) = if !has_keywords {
            (Vec::new(), Vec::new())
        } else {
            store::with_keywords_lock(&dir, || {
                let mut kws = store::read_keywords(&dir)?;
                let mut extra = Vec::new();
                let mut changed = false;
                for f in m.flags.iter().filter(|f| !f.starts_with('\\')) {
                    if kws.iter().flatten().any(|k| k == f) {
                        continue;
                    }
                    // A name the keywords file cannot hold on one line: the manifest keeps it.
                    if f.chars().any(char::is_control) {
                        extra.push(f.clone());
                        continue;
                    }
                    match kws.iter().position(Option::is_none) {
                        Some(i) => {
                            kws[i] = Some(f.clone());
                            changed = true;
                        }
                        None => extra.push(f.clone()),
                    }
                }
                if changed {
                    store::write_keywords(&dir, &kws)?;
                }
                Ok((kws, extra))
            })?
        };
        let bytes = m.body.bytes();
        let key = names::unique_name(bytes.len() as u64);
        let letter = |k: &str| {
            kws.iter()
                .position(|x| x.as_deref() == Some(k))
                .map(|i| (b'a' + i as u8) as char)
        };
        let name = names::file_name(&key, &m.flags, &letter);
        Ok(Prepared {
            dir,
            name,
            entry: manifest::Entry {
                folder: folder.to_string(),
                key,
                date: m.internal_date.map(|d| d.to_rfc3339()),
                keywords: extra,
                source_uid: Some(m.uid),
                fingerprint: fingerprint(bytes),
                size: bytes.len() as u64,
            },
        })
    }

    /// Deliver one prepared message (its manifest line already written) and give it its UID.
    fn deliver_one(
        &mut self,
        folder: &str,
        m: &Message,
        p: &Prepared,
    ) -> Result<(AppendOutcome, std::path::PathBuf)> {
        let mtime = m.internal_date.map(SystemTime::from);
        let file = store::deliver(&p.dir, &p.name, m.body.bytes(), mtime)?;
        let uid = self
            .store
            .ref_uids(self.side, &self.user, folder, &[p.entry.key.as_str()])
            .map_err(|e| self.store_err(e))?;
        let (uidvalidity, _) = self
            .store
            .ref_folder(self.side, &self.user, folder)
            .map_err(|e| self.store_err(e))?;
        Ok((
            AppendOutcome::Stored {
                uidvalidity: Some(uidvalidity),
                uid: uid.first().copied(),
            },
            file,
        ))
    }
}

impl MailSession for MaildirSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        walk(&self.root)
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        let sel = blocking(|| self.scan(folder, "examine"))?;
        let st = self.state(&sel)?;
        self.selected = Some(sel);
        Ok(st)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        self.read_only("open for append")?;
        self.ensure_root()?;
        self.examine(folder).await
    }

    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        let sel = blocking(|| self.scan(folder, "status"))?;
        self.state(&sel)
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        self.read_only("create folder")?;
        self.ensure_root()?;
        let dir = names::folder_dir(&self.root, folder, "create folder")?;
        store::make_folder(&dir)
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        blocking(|| self.rescan("list messages"))?;
        Ok(self
            .chosen(&[], from_uid)
            .into_iter()
            .map(|i| MessageMeta {
                uid: i.uid,
                size: i.file.size,
            })
            .collect())
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        for i in self.chosen(uids, 0) {
            let Some(bytes) = blocking(|| self.read(&i))? else {
                continue;
            };
            let (flags, internal_date) = self.meta_of(&i)?;
            let m = Message {
                uid: i.uid,
                flags,
                internal_date,
                body: Body::new(bytes),
            };
            if !sink.send(m).await {
                break;
            }
        }
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        let mut out = Vec::new();
        for i in self.chosen(uids, from_uid) {
            let Some(bytes) = blocking(|| self.read(&i))? else {
                continue;
            };
            let (flags, internal_date) = self.meta_of(&i)?;
            out.push(Fingerprinted {
                uid: i.uid,
                size: bytes.len() as u64,
                fingerprint: fingerprint(&bytes),
                flags,
                internal_date,
            });
        }
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        self.read_only("append")?;
        self.ensure_root()?;
        // The window's manifest lines first, in one write and one sync (what a file cannot
        // hold is never lost to a crash after the file is there); then the files, each
        // synced; then one sync of the directory before any is reported stored.
        let prepared: Vec<Result<Prepared>> = msgs
            .iter()
            .map(|m| blocking(|| self.prepare(folder, m)))
            .collect();
        let entries: Vec<manifest::Entry> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.entry.clone()))
            .collect();
        blocking(|| manifest::append_all(&self.root, &entries))?;
        self.manifest = None;
        let mut out = Vec::with_capacity(msgs.len());
        let mut stop: Option<String> = None;
        let mut delivered: Option<std::path::PathBuf> = None;
        let mut files = Vec::new();
        for (m, p) in msgs.iter().zip(prepared) {
            if let Some(why) = &stop {
                out.push(AppendOutcome::Failed {
                    error: EndpointError::No {
                        op: "append".into(),
                        message: format!("not attempted: {why}"),
                    },
                });
                continue;
            }
            let done = p.and_then(|p| {
                let (o, file) = blocking(|| self.deliver_one(folder, m, &p))?;
                delivered = Some(p.dir.join("cur"));
                files.push(file);
                Ok(o)
            });
            match done {
                Ok(o) => out.push(o),
                Err(
                    e @ (EndpointError::OverQuota { .. }
                    | EndpointError::NoFolder { .. }
                    | EndpointError::No { .. }),
                ) => {
                    stop = Some(e.to_string());
                    out.push(AppendOutcome::Failed { error: e });
                }
                // Anything else (an I/O error, the journal): what was stored is in doubt.
                Err(e) => return Err(e),
            }
        }
        if let Some(cur) = delivered {
            blocking(|| store::sync_window(&cur, &files))?;
        }
        Ok(out)
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        self.read_only("expunge")?;
        self.rescan("expunge")?;
        let Some(sel) = self.selected() else {
            return Ok(());
        };
        let refs = self
            .store
            .refs_of(self.side, &self.user, &sel.folder, uids)
            .map_err(|e| self.store_err(e))?;
        let dir = sel.dir.clone();
        for (_, key) in refs {
            for i in sel.items.iter().filter(|i| i.key == key) {
                match std::fs::remove_file(&i.file.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(store::io_err("expunge", &i.file.path, e)),
                }
            }
        }
        store::sync_dir(&dir.join("cur"))?;
        self.rescan("expunge")
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        self.read_only("rename folder")?;
        let a = names::folder_dir(&self.root, from, "rename folder")?;
        let b = names::folder_dir(&self.root, to, "rename folder")?;
        if a == self.root || b == self.root {
            return Err(EndpointError::No {
                op: "rename folder".into(),
                message: format!("{from} -> {to}: INBOX is the tree's root and cannot be renamed"),
            });
        }
        if b.exists() {
            return Err(EndpointError::No {
                op: "rename folder".into(),
                message: format!("{from} -> {to}: {} exists already", b.display()),
            });
        }
        if let Some(p) = b.parent() {
            std::fs::create_dir_all(p).map_err(|e| store::io_err("rename folder", p, e))?;
        }
        std::fs::rename(&a, &b).map_err(|e| store::io_err("rename folder", &a, e))?;
        if self.selected.as_ref().is_some_and(|s| s.folder == from) {
            self.selected = None;
        }
        Ok(())
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        self.read_only("delete folder")?;
        let dir = names::folder_dir(&self.root, folder, "delete folder")?;
        if dir == self.root {
            return Err(EndpointError::No {
                op: "delete folder".into(),
                message: "INBOX is the tree's root and cannot be deleted".into(),
            });
        }
        if !dir.join("cur").is_dir() {
            return Err(EndpointError::NoFolder {
                op: "delete folder".into(),
                folder: folder.into(),
                server: None,
            });
        }
        store::remove_folder(&dir, folder)?;
        if self.selected.as_ref().is_some_and(|s| s.folder == folder) {
            self.selected = None;
        }
        Ok(())
    }

    /// The flags of the opened folder's messages, from their file names, the folder's
    /// `dovecot-keywords` and the manifest (as a copy reads them). A tree has no change
    /// marker: always all of them.
    async fn list_flags(
        &mut self,
        uids: Option<&[u32]>,
        _changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>> {
        let items = match uids {
            None => self.chosen(&[], 1),
            Some([]) => return Ok(Vec::new()),
            Some(u) => self.chosen(u, 1),
        };
        let mut out = Vec::with_capacity(items.len());
        for i in &items {
            out.push((i.uid, self.meta_of(i)?.0));
        }
        out.sort_by_key(|(u, _)| *u);
        Ok(out)
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        // Any keyword: 26 per folder in the file names, the rest in the manifest.
        None
    }

    async fn logout(self) {}
}
