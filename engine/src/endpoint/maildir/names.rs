//! Names on disk: folders in Dovecot's `LAYOUT=fs` (one directory per level, each component
//! as its IMAP name in modified UTF-7, INBOX the tree's root), Maildir's unique file names
//! and the `:2,` info suffix (flags D F P R S T, keywords as the letters a..z).

use std::path::{Path, PathBuf};

use crate::endpoint::types::EndpointError;

/// The hierarchy separator of the layout (Dovecot's fs layout default).
pub const SEPARATOR: char = '/';

/// Maildir's subdirectories, which no folder component may be named (Dovecot refuses them
/// as "reserved names" in this layout).
pub const RESERVED: [&str; 3] = ["cur", "new", "tmp"];

/// The most keywords one folder's `dovecot-keywords` can map to letters.
pub const MAX_LETTERS: usize = 26;

/// Why Dovecot's fs layout cannot hold this folder component, if it cannot.
pub fn refused_component(c: &str) -> Option<&'static str> {
    if c.is_empty() {
        Some("an empty level (two separators in a row)")
    } else if c == "." || c == ".." {
        Some("a '.' or '..' level")
    } else if c.starts_with('~') {
        Some("a level starting with '~' (Dovecot refuses it)")
    } else if RESERVED.contains(&c) {
        Some("a level named cur, new or tmp (Maildir's own directories)")
    } else if c.contains('\0') || c.contains('\\') {
        Some("a NUL or backslash in a name")
    } else if c.len() > 255 {
        Some("a level longer than 255 bytes (the file system's limit)")
    } else {
        None
    }
}

/// The directory of a folder (its wire name: modified UTF-7 levels joined with '/') under a
/// mailbox's root; INBOX is the root itself.
pub fn folder_dir(root: &Path, folder: &str, op: &str) -> Result<PathBuf, EndpointError> {
    if folder.eq_ignore_ascii_case("INBOX") {
        return Ok(root.to_path_buf());
    }
    let mut dir = root.to_path_buf();
    for c in folder.split(SEPARATOR) {
        if let Some(why) = refused_component(c) {
            return Err(EndpointError::No {
                op: op.into(),
                message: format!(
                    "folder {folder:?} cannot be stored in a Maildir tree (LAYOUT=fs): it has {why}; rename it with a [folders] rename rule"
                ),
            });
        }
        dir.push(c);
    }
    Ok(dir)
}

/// The unique part of a Maildir file name (before the `:2,` info), which identifies the
/// message whatever its flags.
pub fn key_of(name: &str) -> &str {
    name.split_once(':').map_or(name, |(k, _)| k)
}

/// The flags part of a file name (`S`, `FSab`...), empty when it has no `:2,` info.
pub fn info_of(name: &str) -> &str {
    name.split_once(":2,").map_or("", |(_, i)| i)
}

/// A message's file name: `key:2,` then the standard flags (in ASCII order, as Maildir
/// requires) and the keyword letters.
pub fn file_name(key: &str, flags: &[String], letter_of: &dyn Fn(&str) -> Option<char>) -> String {
    let mut letters: Vec<char> = Vec::new();
    for f in flags {
        let l = match f.to_ascii_lowercase().as_str() {
            "\\draft" => Some('D'),
            "\\flagged" => Some('F'),
            "\\answered" => Some('R'),
            "\\seen" => Some('S'),
            "\\deleted" => Some('T'),
            "\\recent" => None,
            _ if f.starts_with('\\') => None,
            _ => letter_of(f),
        };
        if let Some(l) = l
            && !letters.contains(&l)
        {
            letters.push(l);
        }
    }
    letters.sort_unstable();
    format!("{key}:2,{}", letters.into_iter().collect::<String>())
}

/// The IMAP flags of an info part; keyword letters through `keyword_of`. `P` (passed, set
/// by mail readers when a message is forwarded) reads as `$Forwarded`.
pub fn flags_of(info: &str, keyword_of: &dyn Fn(char) -> Option<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ch in info.chars() {
        let f = match ch {
            'D' => Some("\\Draft".to_string()),
            'F' => Some("\\Flagged".to_string()),
            'P' => Some("$Forwarded".to_string()),
            'R' => Some("\\Answered".to_string()),
            'S' => Some("\\Seen".to_string()),
            'T' => Some("\\Deleted".to_string()),
            'a'..='z' => keyword_of(ch),
            _ => None,
        };
        if let Some(f) = f
            && !out.iter().any(|o| o.eq_ignore_ascii_case(&f))
        {
            out.push(f);
        }
    }
    out
}

/// A new unique name, as Maildir delivery makes them: seconds, microseconds, process id and
/// a per-process counter, then the host name.
pub fn unique_name(size: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let host = hostname();
    format!(
        "{}.M{}P{}Q{n}.{host},S={size}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

/// The host name with the characters Maildir names cannot hold ('/' and ':') escaped as
/// Maildir's conventions say (`\057`, `\072`).
fn hostname() -> String {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into());
    h.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_map_to_directories_and_unstorable_names_are_refused_by_name() {
        let root = Path::new("/b/ann");
        assert_eq!(folder_dir(root, "INBOX", "t").unwrap(), root);
        assert_eq!(
            folder_dir(root, "A&-B/Sub", "t").unwrap(),
            root.join("A&-B").join("Sub")
        );
        // As Dovecot 2.3 answers CREATE in this layout: "cur" and "~x" refused (reserved
        // name, begins with '~'), ".hid" and "INBOX/Sub" (under the root's INBOX/) allowed.
        assert_eq!(folder_dir(root, ".hid", "t").unwrap(), root.join(".hid"));
        assert_eq!(
            folder_dir(root, "INBOX/Sub", "t").unwrap(),
            root.join("INBOX").join("Sub")
        );
        for bad in ["a//b", "cur", "x/tmp", "..", "~x", "."] {
            let e = folder_dir(root, bad, "create folder")
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn flags_and_keywords_round_trip_through_the_info_suffix() {
        let kws = ["Work", "$label1"];
        let letter = |k: &str| {
            kws.iter()
                .position(|x| *x == k)
                .map(|i| (b'a' + i as u8) as char)
        };
        let flags: Vec<String> = [
            "\\Seen",
            "$label1",
            "\\Answered",
            "\\Flagged",
            "Work",
            "\\Draft",
            "\\Deleted",
            "\\Recent",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let name = file_name("k1,S=3", &flags, &letter);
        assert_eq!(name, "k1,S=3:2,DFRSTab");
        assert_eq!(key_of(&name), "k1,S=3");
        let back = flags_of(info_of(&name), &|c| {
            kws.get((c as u8 - b'a') as usize).map(|s| s.to_string())
        });
        assert_eq!(
            back,
            [
                "\\Draft",
                "\\Flagged",
                "\\Answered",
                "\\Seen",
                "\\Deleted",
                "Work",
                "$label1"
            ]
        );
        assert!(unique_name(7).ends_with(",S=7"));
        assert_ne!(unique_name(1), unique_name(1));
    }
}
