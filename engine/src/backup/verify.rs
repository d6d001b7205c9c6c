//! `cutover backup --verify`: every file of the backup re-read against its manifest line (size
//! and fingerprint of the bytes), then the backup against the live side, folder by folder
//! (counts and fingerprints): what is missing or changed is named. A backup that passes is
//! marked verified in the project's journal.

use std::collections::HashMap;

use super::run::BackupRun;
use super::tree::held;
use super::types::BackupError;
use crate::discover::discover;
use crate::endpoint::{EndpointError, MailSession};
use crate::journal::Journal;
use crate::mail::fingerprint::fingerprint;
use crate::mail::utf7::decode_mutf7;

/// One mailbox's verification.
#[derive(Debug, Clone, Default)]
pub struct MailboxVerify {
    /// The project's key of the mailbox.
    pub key: String,
    pub files: u64,
    /// Problems that make the backup unfit: a file missing or changed, mail of the live side
    /// not in the backup.
    pub problems: Vec<String>,
    /// Worth saying, not a failure: mail in the backup no longer on the live side.
    pub notes: Vec<String>,
    /// The verification could not be done (the live side unreachable...).
    pub error: Option<String>,
    pub verified: bool,
}

fn list(v: &[u32]) -> String {
    let mut s: Vec<String> = v.iter().take(10).map(u32::to_string).collect();
    if v.len() > 10 {
        s.push(format!("and {} more", v.len() - 10));
    }
    s.join(", ")
}

/// Verify the backup of every mailbox of `run` (set up by [`super::backup_engine`]).
pub async fn verify(
    run: &BackupRun,
    project_store: &Journal,
) -> Result<Vec<MailboxVerify>, BackupError> {
    let mut out = Vec::new();
    for (key, spec) in &run.mailboxes {
        let mut v = MailboxVerify {
            key: key.clone(),
            ..Default::default()
        };
        let tree = &spec.destination.user;
        let root = run.dir.join(tree);
        if run.engine.store.mailbox_id(&spec.key())?.is_none() || !root.is_dir() {
            v.problems.push(format!(
                "no backup of this mailbox in {} (run `cutover backup` first)",
                run.dir.display()
            ));
            out.push(v);
            continue;
        }
        let folders = held(&run.engine.store, &spec.key(), &root, tree)?;
        // 1. Every file against its manifest line (and the journal's record of the copy).
        for f in &folders {
            let name = f.display();
            for i in &f.items {
                v.files += 1;
                let what = format!(
                    "folder {name}: message {} (source UID {})",
                    i.key.as_deref().unwrap_or("?"),
                    i.src_uid
                );
                let Some(path) = &i.path else {
                    v.problems
                        .push(format!("{what}: file missing from the backup"));
                    continue;
                };
                let kind = crate::item::kind_of_folder(&f.tree_name);
                if kind != crate::api::ItemKind::Mail {
                    // An event or contact file: its normalised content against the copy's.
                    match tokio::task::block_in_place(|| std::fs::read(path)) {
                        Ok(b) if crate::item::fingerprint(kind, &b) == i.fingerprint => {}
                        Ok(_) => v.problems.push(format!("{what}: changed since the backup")),
                        Err(e) => v
                            .problems
                            .push(format!("{what}: cannot read {}: {e}", path.display())),
                    }
                    continue;
                }
                let Some(m) = &i.manifest else {
                    v.problems.push(format!("{what}: no line in the manifest"));
                    continue;
                };
                let bytes = match tokio::task::block_in_place(|| std::fs::read(path)) {
                    Ok(b) => b,
                    Err(e) => {
                        v.problems
                            .push(format!("{what}: cannot read {}: {e}", path.display()));
                        continue;
                    }
                };
                if bytes.len() as u64 != m.size || fingerprint(&bytes) != m.fingerprint {
                    v.problems.push(format!(
                        "{what}: changed since the backup ({} bytes now, {} in the manifest)",
                        bytes.len(),
                        m.size
                    ));
                } else if m.fingerprint != i.fingerprint {
                    v.problems.push(format!(
                        "{what}: the manifest and the backup's journal disagree on its content"
                    ));
                }
            }
        }
        // 2. The backup against the live side, folder by folder.
        match live(run, spec, &folders).await {
            Ok((problems, notes)) => {
                v.problems.extend(problems);
                v.notes.extend(notes);
            }
            Err(e) if e.is_journal() => return Err(e),
            Err(e) => v.error = Some(e.to_string()),
        }
        if v.problems.is_empty() && v.error.is_none() {
            v.verified = project_store.mark_backup_verified(
                key,
                run.side.as_str(),
                &run.dir.display().to_string(),
            )?;
            if !v.verified {
                v.problems.push(
                    "no complete backup of this mailbox in this directory is journalled (run `cutover backup` to finish it)".into(),
                );
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// Compare the backup's folders with the live side's: (problems, notes).
async fn live(
    run: &BackupRun,
    spec: &crate::config::MailboxSpec,
    folders: &[super::tree::HeldFolder],
) -> Result<(Vec<String>, Vec<String>), BackupError> {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    let mut s = run.engine.src.connect_mailbox(spec).await?;
    let mut d = run.engine.dst.connect_mailbox(spec).await?;
    let found = discover(&run.engine.project, &mut s, &mut d).await?;
    d.logout().await;
    for m in &found.mappings {
        let Some(dst) = &m.dst_wire else { continue };
        let name = m.src.display();
        let held = folders
            .iter()
            .find(|f| f.src_name == m.src.wire_name && &f.tree_name == dst);
        match s.examine(&m.src.wire_name).await {
            Ok(_) => {}
            Err(EndpointError::NoFolder { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        let fps = s.fetch_fingerprints(&[], 1).await?;
        let Some(held) = held else {
            if !fps.is_empty() {
                problems.push(format!(
                    "folder {name}: {} message(s) on the {} are not in the backup (the folder is not backed up)",
                    fps.len(),
                    run.side.as_str()
                ));
            }
            continue;
        };
        let mut have: HashMap<&str, usize> = HashMap::new();
        for i in &held.items {
            *have.entry(i.fingerprint.as_str()).or_default() += 1;
        }
        let mut missing = Vec::new();
        for f in &fps {
            match have.get_mut(f.fingerprint.as_str()) {
                Some(n) if *n > 0 => *n -= 1,
                _ => missing.push(f.uid),
            }
        }
        if !missing.is_empty() {
            problems.push(format!(
                "folder {name}: {} message(s) on the {} are not in the backup (UIDs {}); run `cutover backup` again",
                missing.len(),
                run.side.as_str(),
                list(&missing)
            ));
        }
        let gone: usize = have.values().sum();
        if gone > 0 {
            notes.push(format!(
                "folder {name}: {gone} message(s) in the backup are no longer on the {}",
                run.side.as_str()
            ));
        }
    }
    for f in folders {
        if !found.mappings.iter().any(|m| m.src.wire_name == f.src_name) && !f.items.is_empty() {
            notes.push(format!(
                "folder {}: in the backup ({} message(s)), no longer on the {}",
                decode_mutf7(&f.tree_name),
                f.items.len(),
                run.side.as_str()
            ));
        }
    }
    s.logout().await;
    Ok((problems, notes))
}
