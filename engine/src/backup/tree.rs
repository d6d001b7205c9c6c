//! What a backup holds of a mailbox, as its own journal records it: per folder, each copied
//! message's file (found by the unique name its UID maps to), its manifest line, and the
//! fingerprint and size the copy journalled. The summary and `--verify` read it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::types::BackupError;
use crate::endpoint::maildir::{ManifestEntry, folder_dir, item_dir, key_of, read_manifest};
use crate::journal::Journal;
use crate::mail::utf7::decode_mutf7;

/// One message the backup journal says was copied.
#[derive(Debug, Clone)]
pub struct HeldItem {
    pub src_uid: u32,
    /// The file's unique name, if its UID maps to one.
    pub key: Option<String>,
    /// The file, if it is in the folder's `cur/` or `new/`.
    pub path: Option<PathBuf>,
    pub fingerprint: String,
    pub size: u64,
    pub manifest: Option<ManifestEntry>,
}

/// One folder of the backup.
#[derive(Debug, Clone)]
pub struct HeldFolder {
    /// The folder on the side backed up (wire name) and in the tree.
    pub src_name: String,
    pub tree_name: String,
    pub items: Vec<HeldItem>,
}

impl HeldFolder {
    pub fn display(&self) -> String {
        decode_mutf7(&self.tree_name)
    }
}

fn io(op: &str, p: &Path, source: std::io::Error) -> BackupError {
    BackupError::Dir {
        dir: format!("{op} {}", p.display()),
        source,
    }
}

/// Files of a Maildir folder directory by unique name.
fn files_of(dir: &Path) -> Result<HashMap<String, PathBuf>, BackupError> {
    let mut out = HashMap::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("list", &d, e)),
        };
        for e in entries.flatten() {
            if let Ok(name) = e.file_name().into_string() {
                out.insert(key_of(&name).to_string(), e.path());
            }
        }
    }
    Ok(out)
}

/// The item files of a calendar's or address book's directory, by name.
fn item_files(dir: &Path) -> Result<HashMap<String, PathBuf>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(io("list", dir, e)),
    };
    Ok(entries
        .flatten()
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect())
}

/// What the backup of `mailbox` (its key in the backup journal) holds, folder by folder.
/// `root` is the mailbox's tree, `tree_user` its directory name.
pub fn held(
    store: &Journal,
    mailbox: &str,
    root: &Path,
    tree_user: &str,
) -> Result<Vec<HeldFolder>, BackupError> {
    let Some(id) = store.mailbox_id(mailbox)? else {
        return Ok(Vec::new());
    };
    let manifest = read_manifest(root)?;
    let mut out = Vec::new();
    let trees = root.parent().unwrap_or(root);
    for f in store.folders_of(id)? {
        let copied = store.copied(f.id)?;
        let uids: Vec<u32> = copied.iter().filter_map(|c| c.dst_uid).collect();
        // A calendar or an address book: one file per item beside the tree, no manifest.
        let (account, files) = match item_dir(trees, tree_user, &f.dst_name) {
            Some((dir, account)) => (account, item_files(&dir)?),
            None => (
                tree_user.to_string(),
                files_of(&folder_dir(root, &f.dst_name, "verify")?)?,
            ),
        };
        let keys: HashMap<u32, String> = store
            .refs_of("destination", &account, &f.dst_name, &uids)?
            .into_iter()
            .collect();
        let items = copied
            .iter()
            .map(|c| {
                let key = c.dst_uid.and_then(|u| keys.get(&u).cloned());
                HeldItem {
                    src_uid: c.src_uid,
                    path: key.as_ref().and_then(|k| files.get(k).cloned()),
                    manifest: key
                        .as_ref()
                        .and_then(|k| manifest.get(&(f.dst_name.clone(), k.clone())).cloned()),
                    key,
                    fingerprint: c.fingerprint.clone(),
                    size: c.size,
                }
            })
            .collect();
        out.push(HeldFolder {
            src_name: f.src_name,
            tree_name: f.dst_name,
            items,
        });
    }
    Ok(out)
}

/// The per-mailbox summary, `cutover-backup.json` in the mailbox's tree.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mailbox: String,
    pub side: String,
    pub tree: String,
    pub tool: String,
    pub written_at: String,
    pub messages: u64,
    pub bytes: u64,
    pub folders: Vec<FolderSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FolderSummary {
    pub folder: String,
    pub tree_name: String,
    pub messages: u64,
    pub bytes: u64,
    /// Received dates (RFC 3339) of the oldest and newest message, from the manifest.
    pub oldest: Option<String>,
    pub newest: Option<String>,
    /// BLAKE3 (as `mail::fingerprint`) of the folder's sorted message fingerprints, one a line.
    pub fingerprints: String,
}

/// Summarise what the backup holds and write it (synced) into the mailbox's tree.
pub fn write_summary(
    folders: &[HeldFolder],
    mailbox: &str,
    side: &str,
    root: &Path,
    tree_user: &str,
) -> Result<Summary, BackupError> {
    let mut out = Summary {
        mailbox: mailbox.into(),
        side: side.into(),
        tree: tree_user.into(),
        tool: format!("cutover {}", env!("CARGO_PKG_VERSION")),
        written_at: chrono::Utc::now().to_rfc3339(),
        messages: 0,
        bytes: 0,
        folders: Vec::new(),
    };
    for f in folders {
        let mut fps: Vec<&str> = f.items.iter().map(|i| i.fingerprint.as_str()).collect();
        fps.sort();
        let mut dates: Vec<chrono::DateTime<chrono::FixedOffset>> = f
            .items
            .iter()
            .filter_map(|i| i.manifest.as_ref().and_then(ManifestEntry::date))
            .collect();
        dates.sort();
        let fs = FolderSummary {
            folder: f.display(),
            tree_name: f.tree_name.clone(),
            messages: f.items.len() as u64,
            bytes: f.items.iter().map(|i| i.size).sum(),
            oldest: dates.first().map(|d| d.to_rfc3339()),
            newest: dates.last().map(|d| d.to_rfc3339()),
            fingerprints: crate::mail::fingerprint::fingerprint(fps.join("\n").as_bytes()),
        };
        out.messages += fs.messages;
        out.bytes += fs.bytes;
        out.folders.push(fs);
    }
    if root.is_dir() {
        let p = root.join(super::types::SUMMARY_FILE);
        let text = serde_json::to_vec_pretty(&out)
            .map_err(|e| io("write", &p, std::io::Error::other(e)))?;
        let tmp = root.join(format!("{}.tmp", super::types::SUMMARY_FILE));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &p)
        };
        write().map_err(|e| io("write", &p, e))?;
    }
    Ok(out)
}
