//! The files of one Maildir folder: its message files, its `dovecot-keywords`, and delivery
//! (into `tmp/`, synced, its time set to the received date, renamed into `cur/`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::endpoint::types::{EndpointError, Result};

use super::names::MAX_LETTERS;

/// The keywords file Dovecot keeps in each Maildir folder: "N name" lines, N the letter's
/// index (0 = a).
pub const KEYWORDS_FILE: &str = "dovecot-keywords";

/// A message file as listed.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// Run file-system work without stalling the runtime's other tasks: on the multi-threaded
/// runtime the binary uses, the worker thread hands its other tasks on first
/// (`block_in_place`); elsewhere (a single-threaded test runtime) it simply runs.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub fn io_err(op: &str, path: &Path, source: std::io::Error) -> EndpointError {
    // A full disk or quota is the destination's "over quota": the folder stops, the
    // messages stay pending.
    if matches!(
        source.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT)
    ) {
        return EndpointError::OverQuota {
            op: op.into(),
            message: format!("{}: {source}", path.display()),
        };
    }
    EndpointError::Io {
        op: format!("{op} {}", path.display()),
        source,
    }
}

/// The message files of a folder directory (in `cur/` and `new/`; dot files skipped).
pub fn list(dir: &Path) -> Result<Vec<File>> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && sub == "new" => continue,
            Err(e) => return Err(io_err("list", &d, e)),
        };
        for e in entries {
            let e = e.map_err(|x| io_err("list", &d, x))?;
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let md = match e.metadata() {
                Ok(m) => m,
                // Renamed (a flag change by another reader) or removed since the listing.
                Err(x) if x.kind() == std::io::ErrorKind::NotFound => continue,
                Err(x) => return Err(io_err("list", &e.path(), x)),
            };
            if !md.is_file() {
                continue;
            }
            out.push(File {
                path: e.path(),
                name,
                size: md.len(),
                mtime: md.modified().ok(),
            });
        }
    }
    Ok(out)
}

/// A message with its bare LFs made CRLF, as Dovecot (and any IMAP server) serves a Maildir
/// file written with Unix line ends; unchanged when it has none.
pub fn crlf(bytes: Vec<u8>) -> Vec<u8> {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' && (*i == 0 || bytes[i - 1] != b'\r'))
        .count();
    if bare == 0 {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + bare);
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

/// Dovecot's `,W=` (the size with CRLF line ends) in a file name, if there.
pub fn virtual_size(name: &str) -> Option<u64> {
    let key = super::names::key_of(name);
    key.split(',')
        .find_map(|p| p.strip_prefix("W="))
        .and_then(|n| n.parse().ok())
}

/// A folder's keyword letters: index 0 is 'a'.
pub fn read_keywords(dir: &Path) -> Result<Vec<Option<String>>> {
    let p = dir.join(KEYWORDS_FILE);
    let mut out = vec![None; MAX_LETTERS];
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err("read", &p, e)),
    };
    for line in text.lines() {
        let Some((n, name)) = line.split_once(' ') else {
            continue;
        };
        if let Ok(i) = n.parse::<usize>()
            && i < MAX_LETTERS
            && !name.is_empty()
        {
            out[i] = Some(name.to_string());
        }
    }
    Ok(out)
}

/// Run `f` holding an exclusive lock on the folder's keywords (a lock file in its `tmp/`), so
/// that two writers adding keywords at once (two source folders mapped into one) do not
/// lose one another's letters.
pub fn with_keywords_lock<T>(dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let p = dir.join("tmp").join(".cutover-keywords.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| io_err("lock", &p, e))?;
    file.lock().map_err(|e| io_err("lock", &p, e))?;
    let out = f();
    let _ = file.unlock();
    out
}

/// Write a folder's keywords as Dovecot does ("0 name\n" lines), atomically.
pub fn write_keywords(dir: &Path, kws: &[Option<String>]) -> Result<()> {
    let mut text = String::new();
    for (i, k) in kws.iter().enumerate() {
        if let Some(k) = k {
            text.push_str(&format!("{i} {k}\n"));
        }
    }
    let tmp = dir.join("tmp").join(format!(
        "{}.{KEYWORDS_FILE}",
        super::names::unique_name(text.len() as u64)
    ));
    let dst = dir.join(KEYWORDS_FILE);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_err("write", &tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err("write", &tmp, e))?;
    std::fs::rename(&tmp, &dst).map_err(|e| io_err("write", &dst, e))
}

/// Deliver one message: written to `tmp/NAME-without-info`, its modification time set to
/// `mtime`, renamed to `cur/NAME`. Returns the file's path. Nothing is synced here: the caller
/// makes a window of deliveries durable at once ([`sync_window`]) before it reports them
/// stored.
pub fn deliver(dir: &Path, name: &str, bytes: &[u8], mtime: Option<SystemTime>) -> Result<PathBuf> {
    let key = super::names::key_of(name);
    let tmp = dir.join("tmp").join(key);
    let cur = dir.join("cur");
    let dst = cur.join(name);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Some(t) = mtime {
            f.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("deliver", &tmp, e));
    }
    std::fs::rename(&tmp, &dst).map_err(|e| io_err("deliver", &dst, e))?;
    Ok(dst)
}

/// Make a window of deliveries into `cur` durable: each file's data, then the directory
/// holding their renames, once. (Not `syncfs`: it would also wait for every other writer's
/// dirty data on that file system, a cost nobody can predict on a shared machine.)
pub fn sync_window(cur: &Path, files: &[PathBuf]) -> Result<()> {
    for f in files {
        std::fs::File::open(f)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_err("sync", f, e))?;
    }
    sync_dir(cur)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("sync", dir, e))
}

/// Make a folder's directories (`cur`, `new`, `tmp`), private to the owner. True when the
/// folder did not exist.
pub fn make_folder(dir: &Path) -> Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.join("cur").is_dir() {
        return Ok(false);
    }
    for sub in ["cur", "new", "tmp"] {
        let d = dir.join(sub);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d)
            .map_err(|e| io_err("create folder", &d, e))?;
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(true)
}

/// Remove a folder that holds no message any more: its Maildir directories, its keywords
/// and Dovecot's index files; the directory itself when no subfolder is left in it.
pub fn remove_folder(dir: &Path, folder: &str) -> Result<()> {
    let left = list(dir)?;
    if !left.is_empty() {
        return Err(EndpointError::No {
            op: "delete folder".into(),
            message: format!("folder {folder} still holds {} message(s)", left.len()),
        });
    }
    for sub in ["cur", "new", "tmp"] {
        let d = dir.join(sub);
        match std::fs::remove_dir_all(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("delete folder", &d, e)),
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|e| io_err("delete folder", dir, e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if (name == KEYWORDS_FILE || name.starts_with("dovecot")) && e.path().is_file() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    // Subfolders keep the directory (Dovecot then lists it as \Noselect).
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_lands_in_cur_with_its_time_and_keywords_read_back() {
        let d = tempfile::tempdir().unwrap();
        assert!(make_folder(d.path()).unwrap());
        assert!(!make_folder(d.path()).unwrap());
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        let p = deliver(d.path(), "k1,S=5:2,S", b"hello", Some(t)).unwrap();
        assert_eq!(p, d.path().join("cur").join("k1,S=5:2,S"));
        let l = list(d.path()).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].size, l[0].mtime), (5, Some(t)));
        assert!(
            std::fs::read_dir(d.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );
        let mut kws = vec![None; MAX_LETTERS];
        kws[0] = Some("Work".to_string());
        kws[2] = Some("$label1".to_string());
        write_keywords(d.path(), &kws).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(KEYWORDS_FILE)).unwrap(),
            "0 Work\n2 $label1\n"
        );
        assert_eq!(read_keywords(d.path()).unwrap(), kws);
        assert!(remove_folder(d.path(), "INBOX").is_err());
        assert_eq!(crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"a\r\n".to_vec()), b"a\r\n");
        assert_eq!(virtual_size("1.M2P3.h,S=205,W=212:2,S"), Some(212));
        assert_eq!(virtual_size("1.M2P3.h,S=205:2,S"), None);
    }
}
