//! Rollback: remove from the destination exactly what cutover wrote, identified by the
//! journal (destination UID and content fingerprint, re-checked on the server before any
//! deletion), then the folders cutover created once they are empty. Never anything else: mail
//! that was on the destination before, or that arrived there during the migration, stays.
//!
//! Journalled step by step (`removing` before the UID EXPUNGE, `pending` after), so an
//! interrupted rollback resumes where it stopped and a rolled-back mailbox migrates again
//! cleanly. The source is never touched.

use std::collections::HashMap;

use crate::api::MailboxState;
use crate::config::MailboxSpec;
use crate::endpoint::any::AnyConnector;
use crate::endpoint::{EndpointError, MailSession};
use crate::events::{Event, Halt, RunStats, Severity, Sink};
use crate::journal::{FolderRow, Journal, JournalError};
use crate::sync::{Ctx, SyncError, resolve_in_doubt};

/// Messages removed per journalled step.
const STEP: usize = 200;

/// Mailbox state while a rollback is under way (a run refuses to start it).
pub const ROLLING_BACK: &str = MailboxState::RollingBack.as_str();
pub const ROLLED_BACK: &str = MailboxState::RolledBack.as_str();

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Refused(String),
    #[error("stopped by the operator (emergency stop); run the rollback again to finish it")]
    Stopped,
}

impl RollbackError {
    /// The journal could not be read or written.
    pub fn is_journal(&self) -> bool {
        match self {
            RollbackError::Journal(_) => true,
            RollbackError::Sync(e) => e.is_journal(),
            RollbackError::Endpoint(e) => e.is_journal(),
            RollbackError::Refused(_) | RollbackError::Stopped => false,
        }
    }
}

/// What a rollback of one folder will do (or did).
#[derive(Debug, Clone, Default)]
pub struct FolderPlan {
    pub folder_id: i64,
    pub src: String,
    pub dst: String,
    /// Messages cutover wrote there (by the journal), and their bytes.
    pub messages: u64,
    pub bytes: u64,
    /// APPENDs in doubt: resolved against the destination first, removed if found.
    pub in_doubt: u64,
    /// Cutover created the folder: deleted once empty.
    pub created: bool,
}

#[derive(Debug, Clone, Default)]
pub struct MailboxPlan {
    pub key: String,
    pub batch: String,
    pub folders: Vec<FolderPlan>,
}

impl MailboxPlan {
    pub fn messages(&self) -> u64 {
        self.folders.iter().map(|f| f.messages + f.in_doubt).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.folders.iter().map(|f| f.bytes).sum()
    }
}

/// The plan, from the journal alone (a dry run).
pub fn plan(store: &Journal, specs: &[MailboxSpec]) -> Result<Vec<MailboxPlan>, JournalError> {
    let mut out = Vec::new();
    for spec in specs {
        let key = spec.key();
        let mut mp = MailboxPlan {
            key: key.clone(),
            batch: spec.batch.clone(),
            folders: Vec::new(),
        };
        if let Some(id) = store.mailbox_id(&key)? {
            for f in store.folders_of(id)? {
                let written = store.written(f.id)?;
                let doubt = store
                    .in_doubt(f.id)?
                    .iter()
                    .filter(|d| !d.confirmed)
                    .count() as u64;
                let created = store.folder_created(f.id)?;
                if written.is_empty() && doubt == 0 && !created {
                    continue;
                }
                mp.folders.push(FolderPlan {
                    folder_id: f.id,
                    src: crate::mail::utf7::decode_mutf7(&f.src_name),
                    dst: f.dst_name.clone(),
                    messages: written.len() as u64,
                    bytes: written.iter().map(|w| w.size).sum(),
                    in_doubt: doubt,
                    created,
                });
            }
        }
        out.push(mp);
    }
    Ok(out)
}

/// What one mailbox's rollback did.
#[derive(Debug, Clone, Default)]
pub struct MailboxOutcome {
    pub key: String,
    pub removed: u64,
    /// Recorded as written but not on the destination any more (nothing to remove).
    pub already_gone: u64,
    /// On the destination under the recorded UID with other content: left alone, reported.
    pub mismatched: u64,
    pub folders_deleted: u64,
    /// Folders cutover created that are kept because they hold mail cutover did not write.
    pub folders_kept: u64,
    pub error: Option<String>,
}

/// Roll back one mailbox on the destination.
pub async fn rollback_mailbox(
    dst: &AnyConnector,
    store: &Journal,
    sink: &Sink,
    spec: &MailboxSpec,
    operator: &str,
    halt: &Halt,
) -> MailboxOutcome {
    let key = spec.key();
    let mut out = MailboxOutcome {
        key: key.clone(),
        ..Default::default()
    };
    let r = rollback_inner(dst, store, sink, spec, &mut out, halt)
        .await
        .and_then(|()| {
            if let Some(id) = store.mailbox_id(&key)? {
                store.set_mailbox_state(id, ROLLED_BACK, None)?;
            }
            Ok(())
        });
    match r {
        Ok(()) => {
            sink.issue(
                Severity::Warning,
                "operator",
                Some(&key),
                None,
                None,
                &format!(
                    "rollback by {operator} finished: {} message(s) removed from the destination, {} were already gone, {} left alone (content differs), {} folder(s) deleted, {} kept (they hold mail cutover did not write)",
                    out.removed, out.already_gone, out.mismatched, out.folders_deleted, out.folders_kept
                ),
            );
        }
        Err(e) => {
            let msg = format!(
                "rollback by {operator} interrupted: {e}; run the rollback again to finish it (it resumes where it stopped)"
            );
            sink.issue(Severity::Error, "operator", Some(&key), None, None, &msg);
            if e.is_journal() {
                // Kept for the exit code (9), also when the rollback ran from the console.
                sink.note_journal_fault(&e.to_string());
            }
            out.error = Some(e.to_string());
        }
    }
    sink.send(Event::RollbackDone {
        mailbox: key,
        removed: out.removed,
        error: out.error.clone(),
    });
    out
}

async fn rollback_inner(
    dst_conn: &AnyConnector,
    store: &Journal,
    sink: &Sink,
    spec: &MailboxSpec,
    out: &mut MailboxOutcome,
    halt: &Halt,
) -> Result<(), RollbackError> {
    let key = spec.key();
    let Some(mailbox_id) = store.mailbox_id(&key)? else {
        return Ok(()); // never migrated: nothing to undo
    };
    store.set_mailbox_state(mailbox_id, ROLLING_BACK, None)?;
    let mut dst = dst_conn.connect_mailbox(spec).await?;
    // Children before their parents, so that created parents can be deleted once empty.
    let mut folders = store.folders_of(mailbox_id)?;
    folders.sort_by_key(|f| std::cmp::Reverse(f.dst_name.len()));
    for f in folders {
        rollback_folder(store, sink, &key, &f, &mut dst, out, halt).await?;
    }
    dst.logout().await;
    Ok(())
}

async fn rollback_folder<D: MailSession>(
    store: &Journal,
    sink: &Sink,
    key: &str,
    f: &FolderRow,
    dst: &mut D,
    out: &mut MailboxOutcome,
    halt: &Halt,
) -> Result<(), RollbackError> {
    if halt.is_emergency() {
        return Err(RollbackError::Stopped);
    }
    let fname = crate::mail::utf7::decode_mutf7(&f.src_name);
    let issue =
        |sev, cat: &str, uid, msg: &str| sink.issue(sev, cat, Some(key), Some(&fname), uid, msg);
    let created = store.folder_created(f.id)?;
    let state = match dst.open_for_append(&f.dst_name).await {
        Ok(s) => s,
        Err(EndpointError::NoFolder { op, .. })
            if !dst
                .list_folders()
                .await?
                .iter()
                .any(|x| x.wire_name == f.dst_name) =>
        {
            let _ = op;
            // The folder is gone from the destination: so is everything cutover wrote there.
            let written = store.written(f.id)?;
            let ids: Vec<i64> = written.iter().map(|w| w.id).collect();
            out.already_gone += ids.len() as u64;
            store.mark_removed(&ids)?;
            let doubt: Vec<i64> = store.in_doubt(f.id)?.iter().map(|d| d.id).collect();
            store.mark_removed(&doubt)?;
            store.folder_rolled_back(f.id, true)?;
            return Ok(());
        }
        // Listed but not selectable now (in use, no rights): stop, resume later.
        Err(e) => return Err(e.into()),
    };
    // APPENDs in doubt first: found on the destination means written, hence removed below.
    // (Its own halt: the emergency stop is checked between the steps below, not shadowed.)
    let no_halt = Halt::default();
    let stats = RunStats::default();
    let ctx = Ctx {
        store,
        sink,
        stop: &no_halt,
        stats: &stats,
    };
    if f.dst_uidvalidity == Some(state.uidvalidity) {
        resolve_in_doubt(&ctx, &f.dst_name, f.id, state.uidvalidity, dst, &issue).await?;
    }
    let written = store.written(f.id)?;
    let (valid, stale): (Vec<_>, Vec<_>) = written
        .iter()
        .partition(|w| w.dst_uidvalidity == Some(state.uidvalidity));
    if !stale.is_empty() {
        return Err(RollbackError::Refused(format!(
            "{key}/{fname}: the destination folder {} has a new UIDVALIDITY, so {} message(s) cannot be identified by UID; run `cutover run` once (it re-identifies them by fingerprint), then roll back",
            f.dst_name,
            stale.len()
        )));
    }
    // Confirmed-but-unidentifiable rows (UID 0) hold nothing to remove.
    let (with_uid, without): (Vec<_>, Vec<_>) = valid
        .into_iter()
        .partition(|w| w.dst_uid.is_some_and(|u| u > 0));
    let none: Vec<i64> = without.iter().map(|w| w.id).collect();
    out.already_gone += none.len() as u64;
    store.mark_removed(&none)?;
    let mut removed_here = 0u64;
    for step in with_uid.chunks(STEP) {
        if halt.is_emergency() {
            return Err(RollbackError::Stopped);
        }
        let by_uid: HashMap<u32, &crate::journal::CopiedRow> =
            step.iter().filter_map(|w| Some((w.dst_uid?, *w))).collect();
        let mut uids: Vec<u32> = by_uid.keys().copied().collect();
        uids.sort_unstable();
        // Re-check on the server: only a message with the recorded content is removed.
        let now = dst.fetch_fingerprints(&uids, 0).await?;
        let present: HashMap<u32, &str> = now
            .iter()
            .map(|p| (p.uid, p.fingerprint.as_str()))
            .collect();
        let mut remove = Vec::new();
        let mut remove_ids = Vec::new();
        let mut gone_ids = Vec::new();
        for (uid, w) in &by_uid {
            match present.get(uid) {
                Some(fp) if *fp == w.fingerprint => {
                    remove.push(*uid);
                    remove_ids.push(w.id);
                }
                Some(_) => {
                    out.mismatched += 1;
                    issue(
                        Severity::Critical,
                        "verification",
                        Some(w.src_uid),
                        &format!(
                            "rollback: destination UID {uid} does not hold the message cutover wrote (content differs); left alone"
                        ),
                    );
                }
                None => gone_ids.push(w.id),
            }
        }
        remove.sort_unstable();
        store.mark_removing(&remove_ids)?;
        dst.expunge_uids(&remove).await?;
        store.mark_removed(&remove_ids)?;
        store.mark_removed(&gone_ids)?;
        out.removed += remove.len() as u64;
        out.already_gone += gone_ids.len() as u64;
        removed_here += remove.len() as u64;
        sink.send(Event::RollbackProgress {
            mailbox: key.to_string(),
            folder: fname.clone(),
            removed: out.removed,
        });
    }
    // In-doubt APPENDs that never landed: pending again.
    let left: Vec<i64> = store.in_doubt(f.id)?.iter().map(|d| d.id).collect();
    store.mark_removed(&left)?;
    if removed_here > 0 {
        tracing::info!(mailbox = key, folder = %fname, removed = removed_here, "rollback: folder done");
    }
    let mut deleted = false;
    if created {
        let after = dst.status(&f.dst_name).await?;
        if after.exists == 0 {
            match delete_if_empty(dst, &f.dst_name).await? {
                Deletion::Deleted => {
                    deleted = true;
                    out.folders_deleted += 1;
                }
                Deletion::Kept(why) => {
                    out.folders_kept += 1;
                    issue(
                        Severity::Info,
                        "destination",
                        None,
                        &format!("rollback: folder {} kept: {why}", f.dst_name),
                    );
                }
            }
        } else {
            out.folders_kept += 1;
            issue(
                Severity::Info,
                "destination",
                None,
                &format!(
                    "rollback: folder {} was created by cutover but now holds {} message(s) cutover did not write; kept",
                    f.dst_name, after.exists
                ),
            );
        }
    }
    store.folder_rolled_back(f.id, deleted)?;
    Ok(())
}

enum Deletion {
    Deleted,
    Kept(String),
}

/// Delete a folder cutover created, without ever taking mail delivered into it at the last
/// moment: the folder is first renamed aside (new deliveries can no longer reach it), then
/// deleted only if the renamed folder is still empty; otherwise it is renamed back. A folder
/// with subfolders is kept (renaming would move them, deleting could drop their parent).
async fn delete_if_empty<D: MailSession>(
    dst: &mut D,
    name: &str,
) -> Result<Deletion, RollbackError> {
    let listed = dst.list_folders().await?;
    let children = listed.iter().any(|x| {
        x.delimiter
            .is_some_and(|d| x.wire_name.starts_with(&format!("{name}{d}")))
    });
    if children {
        return Ok(Deletion::Kept("it has subfolders".into()));
    }
    if crate::item::collection_of(name).is_some() {
        // A calendar or address book cannot be renamed aside: it is deleted only when it
        // is empty right before the DELETE.
        let st = dst.status(name).await?;
        if st.exists > 0 {
            return Ok(Deletion::Kept(format!(
                "{} item(s) that cutover did not write are in it",
                st.exists
            )));
        }
        return match dst.delete_folder(name).await {
            Ok(()) => Ok(Deletion::Deleted),
            Err(EndpointError::No { message, .. }) => Ok(Deletion::Kept(format!(
                "empty, but the server refused to delete it: {message}"
            ))),
            Err(e) => Err(e.into()),
        };
    }
    let aside = format!("{name}-cutover-rollback-{}", std::process::id());
    if let Err(e) = dst.rename_folder(name, &aside).await {
        return match e {
            EndpointError::No { message, .. } => Ok(Deletion::Kept(format!(
                "the server refused to rename it aside for deletion: {message}"
            ))),
            e => Err(e.into()),
        };
    }
    tracing::info!(folder = name, aside = %aside, "rollback: folder renamed aside for deletion");
    let st = dst.status(&aside).await?;
    if st.exists > 0 {
        dst.rename_folder(&aside, name).await?;
        return Ok(Deletion::Kept(format!(
            "{} message(s) arrived in it during the rollback",
            st.exists
        )));
    }
    match dst.delete_folder(&aside).await {
        Ok(()) => Ok(Deletion::Deleted),
        Err(EndpointError::No { message, .. }) => {
            dst.rename_folder(&aside, name).await?;
            Ok(Deletion::Kept(format!(
                "empty, but the server refused to delete it: {message}"
            )))
        }
        Err(e) => Err(e.into()),
    }
}
