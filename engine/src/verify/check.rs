//! The comparison's figures, and the comparison by fingerprint.
//!
//! Every source message must be present in its mapped destination folder exactly as many
//! times as in the source (duplicates in the source stay duplicates, nothing more). Messages on
//! the destination that did not come from the source (mail that arrived there) are counted but
//! are not a mismatch. Flags and INTERNALDATE of paired messages are compared too. Where the
//! fingerprints are hashes of the content read back (IMAP, Maildir, Gmail, DAV, calendars and
//! contacts rendered from Graph's properties) equal fingerprints are equal content; where
//! they are stamped properties (Graph mail) `content` compares what the paired messages say.

use std::collections::{BTreeMap, HashMap};

use crate::api::ItemKind;
use crate::endpoint::Fingerprinted;

/// How a verification compared the paired items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// What every item says, read back from the destination (the default).
    #[default]
    Content,
    /// Presence only where the destination's fingerprints are stamped properties (Graph mail:
    /// `--fingerprint-only`); elsewhere the fingerprint is the content's hash anyway.
    Fingerprint,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Content => "content",
            Method::Fingerprint => "fingerprint",
        }
    }
}

/// A destination item whose content is not what the source holds.
#[derive(Debug, Clone, Default)]
pub struct Damaged {
    /// The source folder's name on the wire, and as people read it.
    pub src_wire: String,
    pub src_folder: String,
    pub dst_folder: String,
    pub src_uid: u32,
    pub dst_uid: u32,
    pub message_id: Option<String>,
    /// What differs ("body part 1 differs").
    pub what: String,
}

#[derive(Debug, Clone, Default)]
pub struct FolderCheck {
    pub src_folder: String,
    pub dst_folder: String,
    /// What the folder holds (a calendar's events, an address book's contacts, or mail);
    /// `src_messages`/`dst_messages` count items of this kind.
    pub kind: ItemKind,
    pub src_messages: u64,
    pub dst_messages: u64,
    pub missing: u64,
    pub duplicated: u64,
    pub extra: u64,
    pub flag_differences: u64,
    pub date_differences: u64,
    /// Paired items whose content was compared, and those that differ (`damaged`).
    pub content_checked: u64,
    pub damaged: Vec<Damaged>,
}

impl FolderCheck {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.damaged.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct MailboxCheck {
    pub key: String,
    pub folders: Vec<FolderCheck>,
    pub error: Option<String>,
    /// Content, unless some folder's paired items were compared by stamped fingerprint only.
    pub method: Method,
}

impl MailboxCheck {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.folders.iter().all(FolderCheck::ok)
    }

    /// The verdict in words, as the journal records it: with the content compared, and each
    /// damaged item by source UID.
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return format!("could not complete: {e}");
        }
        if self.ok() {
            let checked: u64 = self.folders.iter().map(|f| f.content_checked).sum();
            return match self.method {
                Method::Content => format!(
                    "every source message on the destination exactly once; content of {checked} compared, all equal"
                ),
                Method::Fingerprint => {
                    "every source message on the destination exactly once (stamped fingerprints only; content not compared)".to_string()
                }
            };
        }
        let bad: Vec<String> = self
            .folders
            .iter()
            .filter(|f| !f.ok())
            .map(|f| {
                let mut t = format!(
                    "{}: {} missing, {} duplicated",
                    f.src_folder, f.missing, f.duplicated
                );
                if !f.damaged.is_empty() {
                    let items: Vec<String> = f
                        .damaged
                        .iter()
                        .map(|d| format!("source UID {} ({})", d.src_uid, d.what))
                        .collect();
                    t.push_str(&format!(
                        ", {} damaged: {}",
                        f.damaged.len(),
                        items.join(", ")
                    ));
                }
                t
            })
            .collect();
        format!("mismatch in {}", bad.join("; "))
    }

    /// The folders' counts summed per kind of item (the folder names left empty).
    pub fn by_kind(&self) -> BTreeMap<ItemKind, FolderCheck> {
        let mut out: BTreeMap<ItemKind, FolderCheck> = BTreeMap::new();
        for f in &self.folders {
            let t = out.entry(f.kind).or_insert_with(|| FolderCheck {
                kind: f.kind,
                ..Default::default()
            });
            t.src_messages += f.src_messages;
            t.dst_messages += f.dst_messages;
            t.missing += f.missing;
            t.duplicated += f.duplicated;
            t.extra += f.extra;
            t.flag_differences += f.flag_differences;
            t.date_differences += f.date_differences;
            t.content_checked += f.content_checked;
            t.damaged.extend(f.damaged.iter().cloned());
        }
        out
    }
}

fn normalized_flags(f: &Fingerprinted) -> Vec<String> {
    let mut v: Vec<String> = f.flags.iter().map(|s| s.to_ascii_lowercase()).collect();
    v.sort();
    v
}

/// Source and destination items paired by fingerprint, in order within each fingerprint:
/// (index in `src`, index in `dst`).
pub(super) fn pairs(src: &[Fingerprinted], dst: &[Fingerprinted]) -> Vec<(usize, usize)> {
    let mut by_fp: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in dst.iter().enumerate() {
        by_fp.entry(d.fingerprint.as_str()).or_default().push(i);
    }
    let mut used: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, s) in src.iter().enumerate() {
        let fp = s.fingerprint.as_str();
        let n = used.entry(fp).or_default();
        if let Some(j) = by_fp.get(fp).and_then(|v| v.get(*n)) {
            out.push((i, *j));
        }
        *n += 1;
    }
    out
}

/// Compare one folder's fingerprints.
pub fn compare(src: &[Fingerprinted], dst: &[Fingerprinted]) -> FolderCheck {
    let mut by_fp: HashMap<&str, Vec<&Fingerprinted>> = HashMap::new();
    for d in dst {
        by_fp.entry(d.fingerprint.as_str()).or_default().push(d);
    }
    let mut src_count: HashMap<&str, u64> = HashMap::new();
    for s in src {
        *src_count.entry(s.fingerprint.as_str()).or_default() += 1;
    }
    let mut c = FolderCheck {
        src_messages: src.len() as u64,
        dst_messages: dst.len() as u64,
        ..Default::default()
    };
    for (fp, n) in &src_count {
        let have = by_fp.get(fp).map_or(0, |v| v.len() as u64);
        if have < *n {
            c.missing += n - have;
        } else if have > *n {
            c.duplicated += have - n;
        }
    }
    for (fp, v) in &by_fp {
        if !src_count.contains_key(fp) {
            c.extra += v.len() as u64;
        }
    }
    // Pair in UID order within each fingerprint and compare flags and dates.
    let mut used: HashMap<&str, usize> = HashMap::new();
    for s in src {
        let fp = s.fingerprint.as_str();
        let i = used.entry(fp).or_default();
        if let Some(d) = by_fp.get(fp).and_then(|v| v.get(*i)) {
            if normalized_flags(s) != normalized_flags(d) {
                c.flag_differences += 1;
            }
            if s.internal_date != d.internal_date {
                c.date_differences += 1;
            }
        }
        *i += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(uid: u32, f: &str) -> Fingerprinted {
        Fingerprinted {
            uid,
            size: 1,
            fingerprint: f.into(),
            flags: vec![],
            internal_date: None,
        }
    }

    #[test]
    fn duplicates_missing_and_extra() {
        let src = [fp(1, "a"), fp(2, "a"), fp(3, "b"), fp(4, "c")];
        let dst = [fp(1, "a"), fp(2, "a"), fp(3, "b"), fp(4, "b"), fp(5, "z")];
        let c = compare(&src, &dst);
        assert_eq!((c.missing, c.duplicated, c.extra), (1, 1, 1));
        assert!(!c.ok());
        let c = compare(&src, &src);
        assert!(c.ok());
        assert_eq!(pairs(&src, &dst), vec![(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn sums_per_kind() {
        let f = |kind, n, missing| FolderCheck {
            kind,
            src_messages: n,
            dst_messages: n - missing,
            missing,
            ..Default::default()
        };
        let m = MailboxCheck {
            key: "a->b".into(),
            folders: vec![
                f(ItemKind::Mail, 5, 0),
                f(ItemKind::Event, 3, 1),
                f(ItemKind::Event, 2, 0),
            ],
            error: None,
            method: Method::Content,
        };
        let k = m.by_kind();
        assert_eq!(k.len(), 2);
        assert_eq!(
            (
                k[&ItemKind::Event].src_messages,
                k[&ItemKind::Event].missing
            ),
            (5, 1)
        );
        assert!(!k[&ItemKind::Event].ok());
        assert!(k[&ItemKind::Mail].ok());
    }
}
