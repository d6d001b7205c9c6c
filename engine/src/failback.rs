//! Fail-back: after a cutover the destination receives new mail; abandoning the cutover must
//! lose none of it. `cutover failback` copies the messages that arrived on the destination
//! after the migration started (UID at or above the folder's UIDNEXT when cutover first
//! opened it, and not written by cutover) back to the source folder they map from, through the
//! same copy path as a migration: byte-exact with flags and dates, journalled, resumable,
//! idempotent. The forward direction in turn never copies what fail-back wrote. Once
//! `cutover finalize` marked the switch, "after the migration" means after the switch: at or
//! above the folder's UIDNEXT then (`Journal::switch_uidnext`).

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::api::MailboxState;
use crate::config::{MailboxSpec, Project};
use crate::endpoint::Folder;
use crate::endpoint::{EndpointError, MailSession};
use crate::engine::{Engine, failback_journal_key as journal_key};
use crate::events::{Event, RunStats, Severity};
use crate::journal::{Journal, JournalError, Totals};
use crate::mail::utf7::decode_mutf7;
use crate::sync::{FolderJob, SyncError, UidFilter};

#[derive(Debug, thiserror::Error)]
pub enum FailbackError {
    #[error(
        "{0} was never migrated by this project (nothing in the journal): nothing to fail back"
    )]
    NeverMigrated(String),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl FailbackError {
    /// The journal could not be read or written (exit 9).
    pub fn is_journal(&self) -> bool {
        match self {
            FailbackError::Journal(_) => true,
            FailbackError::Sync(e) => e.is_journal(),
            FailbackError::Endpoint(e) => e.is_journal(),
            FailbackError::NeverMigrated(_) => false,
        }
    }
}

/// The project seen the other way round: the destination becomes the (read-only) source.
pub fn reversed(project: &Project) -> Project {
    let mut p = project.clone();
    std::mem::swap(&mut p.source, &mut p.destination);
    for m in &mut p.mailboxes {
        std::mem::swap(&mut m.source, &mut m.destination);
    }
    p
}

/// One folder's fail-back, as planned.
#[derive(Debug, Clone)]
pub struct FolderPlan {
    /// Folder on the destination (read) and on the source (written).
    pub from: String,
    pub to: String,
    /// Messages that arrived on the destination after the migration and are not yet back.
    pub to_copy: u64,
    pub bytes: u64,
    /// Already copied back by an earlier fail-back.
    pub done: u64,
    /// Why the folder is not failed back, if it is not.
    pub skipped: Option<String>,
    /// Messages cutover did not write that arrived on the destination before the switch
    /// (`cutover finalize`): not copied back, counted so they are never skipped in silence.
    pub before_switch: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub folders: Vec<FolderPlan>,
    /// The moment of the switch (`cutover finalize`), when it was marked.
    pub switched_at: Option<String>,
    pub totals: Totals,
    pub appended: u64,
}

/// The engine that runs fail-backs: the project reversed. Its stop flag is what `cutover
/// stop` trips, so the caller serves the control socket with it.
pub fn engine(
    project: &Project,
    store: Journal,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Result<Arc<Engine>, FailbackError> {
    Ok(Arc::new(Engine::new(reversed(project), store, events)?))
}

/// Plan (and unless `dry_run`, run) the fail-back of one mailbox, on an engine made by
/// [`engine`]. `spec` is the mailbox as the (forward) project file has it.
pub async fn failback(
    engine: &Arc<Engine>,
    spec: &MailboxSpec,
    dry_run: bool,
) -> Result<Outcome, FailbackError> {
    let store = engine.store.clone();
    let forward_key = spec.key();
    let forward_id = store
        .mailbox_id(&forward_key)?
        .ok_or_else(|| FailbackError::NeverMigrated(forward_key.clone()))?;
    let mut back = spec.clone();
    std::mem::swap(&mut back.source, &mut back.destination);
    back.batch = "failback".into();
    let key = journal_key(&forward_key);
    let fb_id =
        store.upsert_mailbox(&key, "failback", &back.source.user, &back.destination.user)?;

    // The destination, read-only: what arrived after the migration, per folder.
    let mut dst = engine.src.connect(&back.source).await?;
    let mut out = Outcome {
        switched_at: store.switched_at(&forward_key)?,
        ..Outcome::default()
    };
    let mut jobs = VecDeque::new();
    let forward = store.folders_of(forward_id)?;
    // Destination folders the migration never wrote (created there after go-live): not
    // failed back automatically; said loudly, never skipped in silence.
    let listed: Vec<Folder> = dst.list_folders().await?;
    for l in listed.iter().filter(|l| l.selectable) {
        if !forward.iter().any(|f| f.dst_name == l.wire_name) {
            let st = dst.status(&l.wire_name).await?;
            if st.exists > 0 {
                out.folders.push(FolderPlan {
                    from: l.wire_name.clone(),
                    to: String::new(),
                    to_copy: 0,
                    bytes: 0,
                    done: 0,
                    skipped: Some(format!(
                        "{} message(s) in a folder the migration did not write (created on the destination later?): not copied back; copy it by hand if needed",
                        st.exists
                    )),
                    before_switch: 0,
                });
            }
        }
    }
    for f in forward {
        let (start, validity, written) = store.written_window(f.id)?;
        let mut plan = FolderPlan {
            from: f.dst_name.clone(),
            to: f.src_name.clone(),
            to_copy: 0,
            bytes: 0,
            done: 0,
            skipped: None,
            before_switch: 0,
        };
        let row = store.folder(fb_id, &f.dst_name, &f.src_name)?;
        plan.done = store.folder_totals(row.id)?.copied;
        let doubt = store.in_doubt(f.id)?.len();
        if doubt > 0 {
            plan.skipped = Some(format!(
                "{doubt} forward APPEND(s) here are in doubt (interrupted, or no UIDPLUS): cutover cannot yet tell its own messages from new ones; run `cutover run` once to resolve them, then fail back"
            ));
            out.folders.push(plan);
            continue;
        }
        let Some(start) = start else {
            plan.skipped = Some("never opened on the destination by cutover".into());
            out.folders.push(plan);
            continue;
        };
        let state = match dst.examine(&f.dst_name).await {
            Ok(s) => s,
            Err(EndpointError::NoFolder { .. }) => {
                plan.skipped = Some("no longer on the destination".into());
                out.folders.push(plan);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if validity.is_some_and(|v| v != state.uidvalidity) {
            plan.skipped = Some(format!(
                "the destination folder's UIDVALIDITY changed ({} -> {}): cutover cannot tell its own messages from new ones by UID; copy by hand or run `cutover run` first",
                validity.unwrap_or(0),
                state.uidvalidity
            ));
            engine.sink().issue(
                Severity::Error,
                "verification",
                Some(&key),
                Some(&decode_mutf7(&f.dst_name)),
                None,
                plan.skipped.as_deref().unwrap_or(""),
            );
            out.folders.push(plan);
            continue;
        }
        // After `cutover finalize`: what arrived after the switch (the folder's UIDNEXT then).
        let switch = store.switch_uidnext(f.id)?;
        let metas = dst.fetch_meta(start.max(1)).await?;
        let from = switch.map_or(start, |s| s.max(start));
        plan.before_switch = metas
            .iter()
            .filter(|m| !written.contains(&m.uid) && m.uid < from)
            .count() as u64;
        let new: Vec<_> = metas
            .iter()
            .filter(|m| !written.contains(&m.uid) && m.uid >= from && m.uid > row.src_high)
            .collect();
        plan.to_copy = new.len() as u64 + store.folder_totals(row.id)?.pending;
        plan.bytes = new.iter().map(|m| m.size).sum();
        out.folders.push(plan);
        jobs.push_back(FolderJob {
            mailbox: key.clone(),
            row,
            src: f.dst_name.clone(),
            src_display: decode_mutf7(&f.dst_name),
            seen: Default::default(),
            dst: f.src_name.clone(),
            filter: Some(Arc::new(UidFilter {
                min_uid: from,
                exclude: written,
                ..Default::default()
            })),
            max_failed: engine.project.max_failed_messages,
        });
    }
    dst.logout().await;
    if dry_run {
        out.totals = store.mailbox_totals(fb_id)?;
        return Ok(out);
    }
    store.set_mailbox_state(fb_id, MailboxState::Running.as_str(), None)?;
    let r = engine.run_jobs(&back, jobs, None, Vec::new()).await;
    out.totals = store.mailbox_totals(fb_id)?;
    out.appended = RunStats::get(&engine.stats.appended);
    match r {
        Ok(()) => {
            store.set_mailbox_state(fb_id, MailboxState::Done.as_str(), None)?;
            engine.sink().issue(
                Severity::Info,
                "operator",
                Some(&key),
                None,
                None,
                &format!(
                    "fail-back: {} message(s) that arrived on the destination after the migration are on the source ({} this run)",
                    out.totals.copied, out.appended
                ),
            );
            Ok(out)
        }
        Err(e) => {
            store.set_mailbox_state(fb_id, MailboxState::Failed.as_str(), Some(&e.to_string()))?;
            Err(e.into())
        }
    }
}
