//! One mailbox's verification: its folders discovered and mapped as a run maps them, then per
//! destination folder the fingerprint comparison and, where the destination's fingerprints
//! are stamped properties, the content comparison of every paired item.

use crate::api::ItemKind;
use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::any::AnyConnector;
use crate::endpoint::{Fingerprinted, MailSession};
use crate::item::folder::kind_of_folder;
use crate::sync::SyncError;

use super::check::{Damaged, FolderCheck, MailboxCheck, Method, compare, pairs};
use super::content::{Pair, compare_content};

pub async fn verify_mailbox(
    project: &Project,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
    method: Method,
) -> MailboxCheck {
    let key = spec.key();
    match verify_inner(project, src_c, dst_c, spec, method).await {
        Ok((folders, method)) => MailboxCheck {
            key,
            folders,
            error: None,
            method,
        },
        Err(e) => MailboxCheck {
            key,
            folders: Vec::new(),
            error: Some(e.to_string()),
            method,
        },
    }
}

async fn verify_inner(
    project: &Project,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
    method: Method,
) -> Result<(Vec<FolderCheck>, Method), SyncError> {
    let mut s = src_c.connect_mailbox(spec).await?;
    let mut d = dst_c.connect_mailbox(spec).await?;
    let maps = discover(project, &mut s, &mut d).await?.mappings;
    // A Gmail source: each folder is expected to hold what was copied from it, no duplicate.
    let listed: Vec<&crate::endpoint::Folder> = maps.iter().map(|m| &m.src).collect();
    let gmail = match crate::sync::gmail::detect(&project.source, &listed) {
        Some(_) => {
            let store = crate::journal::Journal::open_project_read_only(project)?;
            match store.mailbox_id(&spec.key())? {
                Some(id) => Some(crate::sync::gmail::owned_sightings(&store, id)?),
                None => Some(Default::default()),
            }
        }
        None => None,
    };
    // Export-import moves opaque items whose fingerprints are computed from what each side
    // reads back (class, search key, subject, categories: what that path promises to keep),
    // not stamped by cutover: compared as they are, like bytes elsewhere.
    let export_import =
        project.destination.graph_import == crate::config::GraphImport::ExportImport;
    let stamped = d.capabilities().stamped_fingerprints && !export_import;
    let mut used = Method::Content;
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
        // The source folder (wire name) of each of `src_fps`.
        let mut src_of: Vec<String> = Vec::new();
        for sname in &srcs {
            let st = s.examine(sname).await?;
            let mut fps = s.fetch_fingerprints(&[], 1).await?;
            if let Some(owned) = &gmail {
                crate::sync::gmail::restrict_for_verify(&mut fps, owned, sname, st.uidvalidity);
            }
            src_of.extend(std::iter::repeat_n(sname.clone(), fps.len()));
            src_fps.extend(fps);
        }
        let (dst_fps, dst_validity): (Vec<Fingerprinted>, Option<u32>) = match d.examine(&dst).await
        {
            Ok(st) => (d.fetch_fingerprints(&[], 1).await?, Some(st.uidvalidity)),
            Err(crate::endpoint::EndpointError::NoFolder { .. }) => (Vec::new(), None),
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
        let paired = pairs(&src_fps, &dst_fps);
        if stamped && c.kind == ItemKind::Mail {
            if method == Method::Content {
                let list: Vec<Pair> = paired
                    .iter()
                    .map(|(i, j)| Pair {
                        src_wire: src_of[*i].clone(),
                        src_uid: src_fps[*i].uid,
                        dst_uid: dst_fps[*j].uid,
                    })
                    .collect();
                let json = project.destination.graph_import == crate::config::GraphImport::Json;
                let (checked, damaged) = compare_content(&mut s, &mut d, &dst, &list, json).await?;
                c.content_checked = checked;
                c.damaged = damaged;
            } else {
                used = Method::Fingerprint;
            }
        } else if export_import {
            // The summary (class, search key, subject, categories) proves presence, not
            // content, and categories are the users' to change on the destination: a changed
            // summary is never taken for damage (re-copying would undo a user's edit).
            used = Method::Fingerprint;
        } else {
            // The fingerprints are the hashes of what was read back from both sides: a copy
            // whose bytes changed is a source message without its fingerprint on the
            // destination, where the journal says cutover put it.
            c.content_checked = paired.len() as u64;
            if let (Some(v), ItemKind::Mail) = (dst_validity, c.kind) {
                let found = changed_copies(project, spec, &src_fps, &src_of, &dst_fps, &paired, v);
                c.content_checked += found.len() as u64;
                c.missing = c.missing.saturating_sub(found.len() as u64);
                c.extra = c.extra.saturating_sub(found.len() as u64);
                for (i, j) in found {
                    c.damaged.push(Damaged {
                        src_wire: src_of[i].clone(),
                        src_folder: crate::mail::utf7::decode_mutf7(&src_of[i]),
                        dst_folder: c.dst_folder.clone(),
                        src_uid: src_fps[i].uid,
                        dst_uid: dst_fps[j].uid,
                        message_id: None,
                        what: "the bytes differ from the source's".into(),
                    });
                }
            }
        }
        out.push(c);
    }
    s.logout().await;
    d.logout().await;
    Ok((out, used))
}

/// Source messages without a match on the destination whose journalled copy (its destination
/// UID under the folder's UIDVALIDITY) is there, unmatched too: the copy's bytes changed.
/// (index in `src`, index in `dst`). None found without a journal.
fn changed_copies(
    project: &Project,
    spec: &MailboxSpec,
    src: &[Fingerprinted],
    src_of: &[String],
    dst: &[Fingerprinted],
    paired: &[(usize, usize)],
    dst_validity: u32,
) -> Vec<(usize, usize)> {
    let src_paired: std::collections::HashSet<usize> = paired.iter().map(|p| p.0).collect();
    let dst_paired: std::collections::HashSet<usize> = paired.iter().map(|p| p.1).collect();
    if src_paired.len() == src.len() || dst_paired.len() == dst.len() {
        return Vec::new();
    }
    let Ok(store) = crate::journal::Journal::open_project_read_only(project) else {
        return Vec::new();
    };
    // Unmatched destination items that hold no source message (not surplus duplicates).
    let src_fps: std::collections::HashSet<&str> =
        src.iter().map(|s| s.fingerprint.as_str()).collect();
    let dst_at: std::collections::HashMap<u32, usize> = dst
        .iter()
        .enumerate()
        .filter(|(j, d)| !dst_paired.contains(j) && !src_fps.contains(d.fingerprint.as_str()))
        .map(|(j, d)| (d.uid, j))
        .collect();
    let mut copied: std::collections::HashMap<&str, std::collections::HashMap<u32, (u32, u32)>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for (i, s) in src.iter().enumerate() {
        if src_paired.contains(&i) {
            continue;
        }
        let folder = src_of[i].as_str();
        if !copied.contains_key(folder) {
            let map = store.copied_to(&spec.key(), folder).unwrap_or_default();
            copied.insert(folder, map);
        }
        let Some((uid, validity)) = copied.get(folder).and_then(|m| m.get(&s.uid)) else {
            continue;
        };
        if *validity != dst_validity {
            continue;
        }
        if let Some(j) = dst_at.get(uid)
            && !out.iter().any(|(_, k)| k == j)
        {
            out.push((i, *j));
        }
    }
    out
}
