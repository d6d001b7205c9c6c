//! A local Maildir tree as an endpoint (`kind = "maildir"`, `path = "DIR"`), source or
//! destination: one tree per mailbox at `DIR/<mailbox user>`, in Dovecot's `LAYOUT=fs`
//! (`mail_location = maildir:DIR/%u:LAYOUT=fs`), so Dovecot, mutt or any Maildir tool read it
//! without cutover.
//!
//! - Folders: INBOX is the root's `cur/new/tmp`; folder "A/B" is `A/B/{cur,new,tmp}`, each
//!   level its IMAP name in modified UTF-7 (Dovecot's default on disk). Levels that layout
//!   cannot hold (`cur`, `new`, `tmp`, `.` and `..`, `~`-names, empty levels, as Dovecot
//!   refuses them) are refused with an error naming the folder.
//! - Messages: one file each, delivered the Maildir way (`names`, `store`): flags D F R S T
//!   and keyword letters a..z in the `:2,` suffix, the letters named in the folder's
//!   `dovecot-keywords`, the file's modification time the received date (INTERNALDATE).
//! - What a file cannot hold (the date's UTC offset, keywords past the 26th of a folder, the
//!   source UID) goes into the mailbox's manifest (`manifest`).
//! - UIDs: a file's unique name (before `:2,`) is mapped to a UID once in the journal
//!   (`Journal::ref_uids`), as for POP3 and Graph: stable across runs, never reused. A file
//!   delivered by a run killed before its journal entry is found again by the engine's
//!   in-doubt resolution (size, then fingerprint, above the recorded UID floor).
//! - A source tree is only read: nothing in it is created, renamed or touched.
//! - File-system work runs synchronously inside `block_in_place` on the multi-threaded
//!   runtime (`session::blocking`), so other mailboxes' tasks move on meanwhile.

mod items;
mod manifest;
mod names;
mod session;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use tokio::sync::OwnedSemaphorePermit;

use super::budget::ConnectionBudget;
use super::types::{Capabilities, EndpointError, Folder, FolderState, Result, SpecialUse};
use crate::config::{self, Credential};
use crate::journal::Journal;
use crate::mail::utf7::decode_mutf7;

pub use items::{ItemDirSession, item_dir};
pub use manifest::FILE as MANIFEST_FILE;
pub use manifest::{Entry as ManifestEntry, read as read_manifest};
pub use names::{folder_dir, key_of, refused_component};

#[derive(Clone)]
pub struct MaildirConnector {
    cfg: config::Endpoint,
    dir: PathBuf,
    budget: ConnectionBudget,
    store: Journal,
    pub side: &'static str,
    /// What the project moves: calendars and contacts live beside the trees.
    pub items: config::Items,
}

pub struct MaildirSession {
    _permit: OwnedSemaphorePermit,
    caps: Capabilities,
    /// The mailbox's tree: `DIR/<user>`.
    root: PathBuf,
    user: String,
    host: String,
    side: &'static str,
    store: Journal,
    selected: Option<Selected>,
    /// The manifest as last read (dropped when this session appends to it).
    manifest: Option<HashMap<(String, String), manifest::Entry>>,
}

/// The folder opened by `examine`/`open_for_append`, as listed then.
struct Selected {
    folder: String,
    dir: PathBuf,
    /// In UID order.
    items: Vec<Item>,
    keywords: Vec<Option<String>>,
}

#[derive(Debug, Clone)]
struct Item {
    uid: u32,
    key: String,
    file: store::File,
}

impl MaildirConnector {
    pub fn new(
        cfg: &config::Endpoint,
        side: &'static str,
        store: &Journal,
        items: config::Items,
    ) -> Result<Self> {
        let dir = cfg.path.clone().ok_or_else(|| EndpointError::Protocol {
            op: format!("{side} endpoint"),
            message: "kind = \"maildir\" needs path = \"DIR\"".into(),
        })?;
        Ok(MaildirConnector {
            cfg: cfg.clone(),
            dir,
            budget: ConnectionBudget::new(cfg.max_connections),
            store: store.clone(),
            side,
            items,
        })
    }

    /// The mailbox's calendars and contacts, beside its tree (see `items`).
    pub fn items_of(&self, user: &str) -> ItemDirSession {
        ItemDirSession::new(&self.dir, user, self.items, self.side, &self.store)
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    /// Open the mailbox's tree: a source's must exist; a destination's is created (private
    /// to its owner) with its INBOX when first written to.
    pub async fn connect(&self, cred: &Credential) -> Result<MaildirSession> {
        let permit = self.budget.acquire().await;
        let user = cred.user.clone();
        if let Some(why) = names::refused_component(&user).or(user
            .contains('/')
            .then_some("a '/' (the tree of a mailbox is one directory)"))
        {
            return Err(EndpointError::Auth {
                user,
                message: format!("a mailbox name cannot have {why} in a Maildir endpoint"),
            });
        }
        let root = self.dir.join(&user);
        if self.side == "source" && !root.join("cur").is_dir() {
            return Err(EndpointError::Auth {
                user,
                message: format!(
                    "no Maildir tree for this mailbox at {} (no cur/ directory)",
                    root.display()
                ),
            });
        }
        // A destination's tree is made when something is first written to it
        // (`ensure_root`): planning creates nothing.
        Ok(MaildirSession {
            _permit: permit,
            caps: Capabilities {
                uidplus: true,
                // A source's files may have Unix line ends, read as CRLF: the listed size is
                // then Dovecot's ",W=" where the name has it, else the file's (an estimate).
                inexact_sizes: self.side == "source",
                // What the engine and assessment look for, in IMAP's words: every write's UID
                // is known at once (UIDPLUS), and nothing waits for a continuation (LITERAL+).
                raw: vec!["MAILDIR".into(), "UIDPLUS".into(), "LITERAL+".into()],
                ..Capabilities::default()
            },
            host: format!("maildir:{}", self.dir.display()),
            root,
            user,
            side: self.side,
            store: self.store.clone(),
            selected: None,
            manifest: None,
        })
    }
}

impl MaildirSession {
    /// Where the tree is, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn store_err(&self, source: crate::journal::JournalError) -> EndpointError {
        EndpointError::Journal {
            op: format!("maildir UIDs of {}", self.user),
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

    /// Make the destination's directory and this mailbox's tree (with its INBOX), private to
    /// the owner, if they are not there yet.
    fn ensure_root(&self) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        if self.root.join("cur").is_dir() {
            return Ok(());
        }
        if let Some(dir) = self.root.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| store::io_err("create", dir, e))?;
        }
        store::make_folder(&self.root).map(|_| ())
    }

    fn manifest(&mut self) -> Result<&HashMap<(String, String), manifest::Entry>> {
        if self.manifest.is_none() {
            self.manifest = Some(manifest::read(&self.root)?);
        }
        Ok(self.manifest.as_ref().expect("just read"))
    }

    /// List a folder and map its files to UIDs (new files get the next UIDs, oldest name
    /// first).
    fn scan(&self, folder: &str, op: &str) -> Result<Selected> {
        let dir = names::folder_dir(&self.root, folder, op)?;
        if dir == self.root && !dir.join("cur").is_dir() && self.side != "source" {
            // A destination not written to yet: an empty INBOX.
            return Ok(Selected {
                folder: folder.to_string(),
                dir,
                items: Vec::new(),
                keywords: vec![None; names::MAX_LETTERS],
            });
        }
        if !dir.join("cur").is_dir() {
            return Err(EndpointError::NoFolder {
                op: op.into(),
                folder: folder.into(),
                server: None,
            });
        }
        let mut files = store::list(&dir)?;
        files.sort_by(|a, b| names::key_of(&a.name).cmp(names::key_of(&b.name)));
        let keys: Vec<&str> = files.iter().map(|f| names::key_of(&f.name)).collect();
        let uids = self
            .store
            .ref_uids(self.side, &self.user, folder, &keys)
            .map_err(|e| self.store_err(e))?;
        let source = self.side == "source";
        let mut items: Vec<Item> = files
            .iter()
            .zip(uids)
            .map(|(f, uid)| {
                let mut file = f.clone();
                if source && let Some(w) = store::virtual_size(&f.name) {
                    file.size = w;
                }
                Item {
                    uid,
                    key: names::key_of(&f.name).to_string(),
                    file,
                }
            })
            .collect();
        items.sort_by_key(|i| i.uid);
        // The same key twice (in new/ and cur/ at once, a reader's move caught half-way):
        // one message.
        items.dedup_by_key(|i| i.uid);
        Ok(Selected {
            folder: folder.to_string(),
            keywords: store::read_keywords(&dir)?,
            dir,
            items,
        })
    }

    fn state(&self, sel: &Selected) -> Result<FolderState> {
        let (uidvalidity, uidnext) = self
            .store
            .ref_folder(self.side, &self.user, &sel.folder)
            .map_err(|e| self.store_err(e))?;
        Ok(FolderState {
            uidvalidity,
            uidnext,
            exists: sel.items.len() as u32,
        })
    }

    /// A message's flags (file name, `dovecot-keywords`, the manifest's extra keywords) and
    /// received date (the manifest's, with its offset, else the file's time in UTC).
    fn flags_and_date(
        &mut self,
        folder: &str,
        keywords: &[Option<String>],
        item: &Item,
    ) -> Result<(Vec<String>, Option<DateTime<FixedOffset>>)> {
        let letter = |c: char| keywords.get((c as u8 - b'a') as usize).cloned().flatten();
        let mut flags = names::flags_of(names::info_of(&item.file.name), &letter);
        let entry = self
            .manifest()?
            .get(&(folder.to_string(), item.key.clone()))
            .cloned();
        let mut date = item
            .file
            .mtime
            .map(|t| DateTime::<Utc>::from(t).fixed_offset());
        if let Some(e) = entry {
            for k in &e.keywords {
                if !flags.iter().any(|f| f.eq_ignore_ascii_case(k)) {
                    flags.push(k.clone());
                }
            }
            // The manifest's date is the one written; the file's time wins if someone changed
            // it since (then only the instant is known).
            if let Some(d) = e.date()
                && date.is_none_or(|m| m.timestamp() == d.timestamp())
            {
                date = Some(d);
            }
        }
        Ok((flags, date))
    }
}

/// The role of a top-level folder named as Dovecot's default configuration names its
/// special-use mailboxes (a tree keeps no SPECIAL-USE of its own). With these marked, the
/// engine maps roles by them and does not guess from other names (such as a localised
/// "Entwürfe" beside "Drafts").
fn special_of(name: &str) -> Option<SpecialUse> {
    match name {
        "Drafts" => Some(SpecialUse::Drafts),
        "Sent" => Some(SpecialUse::Sent),
        "Trash" => Some(SpecialUse::Trash),
        "Junk" => Some(SpecialUse::Junk),
        "Archive" => Some(SpecialUse::Archive),
        _ => None,
    }
}

/// The folders under a mailbox's root, INBOX first: every directory level (a level without
/// `cur/` is listed as not selectable), names decoded from modified UTF-7.
fn walk(root: &Path) -> Result<Vec<Folder>> {
    if !root.is_dir() {
        // A destination not written to yet holds an empty INBOX.
        return Ok(vec![Folder {
            wire_name: "INBOX".into(),
            path: vec!["INBOX".into()],
            delimiter: Some(names::SEPARATOR),
            special: None,
            selectable: true,
        }]);
    }
    let mut out = vec![Folder {
        wire_name: "INBOX".into(),
        path: vec!["INBOX".into()],
        delimiter: Some(names::SEPARATOR),
        special: None,
        selectable: true,
    }];
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, path)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| store::io_err("list", &dir, e))?;
        let mut subs = Vec::new();
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            // A Maildir++ tree (".Folder.Sub" beside INBOX, each with the "maildirfolder" file
            // that layout puts in its folders) would be read with odd names: refused, naming
            // the layout cutover reads. (LAYOUT=fs allows a folder ".x"; it has no such file.)
            if path.is_empty() && name.starts_with('.') && e.path().join("maildirfolder").is_file()
            {
                return Err(EndpointError::No {
                    op: "list folders".into(),
                    message: format!(
                        "{} holds the Maildir++ folder {name:?}: this endpoint reads Dovecot's LAYOUT=fs (one directory per level); convert the tree or serve it with Dovecot and read it as kind = \"imap\"",
                        root.display()
                    ),
                });
            }
            if names::refused_component(&name).is_some() || !e.path().is_dir() {
                continue;
            }
            subs.push(name);
        }
        subs.sort();
        for name in subs.into_iter().rev() {
            let d = dir.join(&name);
            let mut p = path.clone();
            p.push(name);
            stack.push((d, p));
        }
        // The root's INBOX/ directory holds INBOX's children ("INBOX/Sub"); INBOX itself is
        // the root.
        let inbox_dir = path.len() == 1 && path[0].eq_ignore_ascii_case("INBOX");
        if !path.is_empty() && !inbox_dir {
            out.push(Folder {
                wire_name: path.join("/"),
                path: path.iter().map(|c| decode_mutf7(c)).collect(),
                delimiter: Some(names::SEPARATOR),
                special: if path.len() == 1 {
                    special_of(&path[0])
                } else {
                    None
                },
                selectable: dir.join("cur").is_dir(),
            });
        }
    }
    Ok(out)
}
