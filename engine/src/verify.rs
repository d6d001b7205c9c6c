//! Verification: compare source and destination folder by folder, by content fingerprint.
//!
//! Every source message must be present in its mapped destination folder exactly as many
//! times as in the source (duplicates in the source stay duplicates, nothing more). Messages on
//! the destination that did not come from the source (mail that arrived there) are counted but
//! are not a mismatch. Flags and INTERNALDATE of paired messages are compared too.

use std::collections::{BTreeMap, HashMap};

use crate::api::ItemKind;
use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::any::AnyConnector;
use crate::endpoint::{Fingerprinted, MailSession};
use crate::item::folder::kind_of_folder;
use crate::sync::SyncError;

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
}

impl FolderCheck {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.duplicated == 0
    }
}

#[derive(Debug, Clone)]
pub struct MailboxCheck {
    pub key: String,
    pub folders: Vec<FolderCheck>,
    pub error: Option<String>,
}

impl MailboxCheck {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.folders.iter().all(FolderCheck::ok)
    }

    /// The verdict in words, as the journal records it (`record_verification`).
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return format!("could not complete: {e}");
        }
        if self.ok() {
            return "every source message on the destination exactly once".to_string();
        }
        let bad: Vec<String> = self
            .folders
            .iter()
            .filter(|f| !f.ok())
            .map(|f| {
                format!(
                    "{}: {} missing, {} duplicated",
                    f.src_folder, f.missing, f.duplicated
                )
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
        }
        out
    }
}

fn normalized_flags(f: &Fingerprinted) -> Vec<String> {
    let mut v: Vec<String> = f.flags.iter().map(|s| s.to_ascii_lowercase()).collect();
    v.sort();
    v
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

pub async fn verify_mailbox(
    project: &Project,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
) -> MailboxCheck {
    let key = spec.key();
    match verify_inner(project, src_c, dst_c, spec).await {
        Ok(folders) => MailboxCheck {
            key,
            folders,
            error: None,
        },
        Err(e) => MailboxCheck {
            key,
            folders: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

async fn verify_inner(
    project: &Project,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
) -> Result<Vec<FolderCheck>, SyncError> {
    let mut s = src_c.connect_mailbox(spec).await?;
    let mut d = dst_c.connect_mailbox(spec).await?;
    let maps = discover(project, &mut s, &mut d).await?.mappings;
    // A Gmail source: each folder is expected to hold what was copied from it, no duplicate.
    let listed: Vec<&crate::endpoint::Folder> = maps.iter().map(|m| &m.src).collect();
    let gmail = match crate::sync::gmail::detect(&project.source, &listed) {
        Some(_) => {
            let store = crate::journal::Journal::open_read_only(&project.state_path)?;
            match store.mailbox_id(&spec.key())? {
                Some(id) => Some(crate::sync::gmail::owned_sightings(&store, id)?),
                None => Some(Default::default()),
            }
        }
        None => None,
    };
    // Several source folders may map to one destination folder (special-use merges):
    // compare per destination folder.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for m in &maps {
        let Some(dst) = &m.dst_wire else { continue };
        match groups.iter_mut().find(|(d, _)| d == dst) {
            Some((_, v)) => v.push(m.src.wire_name.clone()),
            None => groups.push((dst.clone(), vec![m.src.wire_name.clone()])),
        }
    }
    let mut out = Vec::new();
    for (dst, srcs) in groups {
        let mut src_fps = Vec::new();
        for sname in &srcs {
            let st = s.examine(sname).await?;
            let mut fps = s.fetch_fingerprints(&[], 1).await?;
            if let Some(owned) = &gmail {
                crate::sync::gmail::restrict_for_verify(&mut fps, owned, sname, st.uidvalidity);
            }
            src_fps.extend(fps);
        }
        let dst_fps = match d.examine(&dst).await {
            Ok(_) => d.fetch_fingerprints(&[], 1).await?,
            Err(crate::endpoint::EndpointError::NoFolder { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut c = compare(&src_fps, &dst_fps);
        c.src_folder = srcs
            .iter()
            .map(|s| crate::mail::utf7::decode_mutf7(s))
            .collect::<Vec<_>>()
            .join(" + ");
        c.dst_folder = crate::mail::utf7::decode_mutf7(&dst);
        c.kind = srcs.first().map_or(ItemKind::Mail, |s| kind_of_folder(s));
        out.push(c);
    }
    s.logout().await;
    d.logout().await;
    Ok(out)
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
