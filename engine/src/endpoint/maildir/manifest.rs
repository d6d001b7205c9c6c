//! The per-mailbox manifest, `cutover-manifest.jsonl` in the mailbox's root: one JSON line
//! per message cutover wrote, for what a Maildir file cannot hold. A file's time is an
//! instant without a UTC offset, a folder maps at most 26 keywords to letters, and a file has
//! no place for where the message came from; reading the tree back through cutover takes
//! these from here, so a restore is exact. Other Maildir readers (Dovecot, mutt) ignore it.
//!
//! Lines are only appended (and synced) before the message's file is renamed into `cur/`,
//! so a line can exist for a file that never landed (harmless: no file has its key), never
//! the other way round. A torn last line from a crash is skipped when read.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::endpoint::types::{EndpointError, Result};

pub const FILE: &str = "cutover-manifest.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The folder's wire name ("INBOX", "Archive/2024").
    pub folder: String,
    /// The message file's unique name (before `:2,`).
    pub key: String,
    /// INTERNALDATE with its UTC offset, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Keywords the folder had no letter left for (past the 26th).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The message's UID in its source folder, when it came from a migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_uid: Option<u32>,
    pub fingerprint: String,
    pub size: u64,
}

impl Entry {
    pub fn date(&self) -> Option<DateTime<FixedOffset>> {
        self.date
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
    }
}

pub fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

/// The manifest's entries by (folder, key); none when there is no manifest.
pub fn read(root: &Path) -> Result<HashMap<(String, String), Entry>> {
    let p = path(root);
    let text = match std::fs::read(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(source) => {
            return Err(EndpointError::Io {
                op: format!("read {}", p.display()),
                source,
            });
        }
    };
    let mut out = HashMap::new();
    for line in text.split(|b| *b == b'\n') {
        // A torn line (a crash while appending) or a foreign one is skipped.
        if let Ok(e) = serde_json::from_slice::<Entry>(line) {
            out.insert((e.folder.clone(), e.key.clone()), e);
        }
    }
    Ok(out)
}

/// Append these lines (a window's messages) with one write and one sync.
pub fn append_all(root: &Path, entries: &[Entry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let p = path(root);
    let io = |source| EndpointError::Io {
        op: format!("write {}", p.display()),
        source,
    };
    let mut line = Vec::new();
    for e in entries {
        line.extend(serde_json::to_vec(e).map_err(|e| io(std::io::Error::other(e)))?);
        line.push(b'\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .map_err(io)?;
    // A torn line from an earlier crash must not swallow this one: start on a fresh line.
    let len = f.metadata().map_err(io)?.len();
    if len > 0 {
        use std::io::{Read, Seek, SeekFrom};
        let mut r = std::fs::File::open(&p).map_err(io)?;
        r.seek(SeekFrom::Start(len - 1)).map_err(io)?;
        let mut last = [0u8; 1];
        r.read_exact(&mut last).map_err(io)?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    f.write_all(&line).map_err(io)?;
    f.sync_data().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_appended_and_a_torn_line_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let e = |k: &str| Entry {
            folder: "INBOX".into(),
            key: k.into(),
            date: Some("2024-03-01T10:00:00+05:30".into()),
            keywords: vec!["k27".into()],
            source_uid: Some(4),
            fingerprint: "f".into(),
            size: 3,
        };
        append_all(d.path(), &[e("a")]).unwrap();
        std::fs::write(
            path(d.path()),
            [
                std::fs::read(path(d.path())).unwrap(),
                b"{\"folder\":\"IN".to_vec(),
            ]
            .concat(),
        )
        .unwrap();
        append_all(d.path(), &[e("b"), e("c")]).unwrap();
        let m = read(d.path()).unwrap();
        assert_eq!(
            m.len(),
            3,
            "the torn line dropped, the window's two lines kept"
        );
        let b = &m[&("INBOX".to_string(), "b".to_string())];
        assert_eq!(b, &e("b"));
        assert_eq!(b.date().unwrap().offset().local_minus_utc(), 19800);
    }
}
