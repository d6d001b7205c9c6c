//! `cutover backup`: the same engine as a migration, on a derived project whose source is the
//! chosen side of the project and whose destination is a Maildir tree per mailbox in the
//! backup directory, with the backup's own journal there (incremental, resumable after
//! kill -9). Folders keep their names (the project's exclusions apply, its renames do not).
//! Each mailbox's backup is journalled in the project's journal (`backups`), and its summary
//! written beside its manifest.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::space::{self, Space};
use super::tree::{Summary, held, write_summary};
use super::types::{
    BACKUP_JOURNAL, BackupError, default_dir, maildir_endpoint, prepare_dir, selected,
    side_credential, side_dav, side_endpoint, tree_credential,
};
use crate::api::Side;
use crate::config::{ChecklistSettings, MailboxSpec, Project};
use crate::engine::{Engine, Failure, MailboxResult};
use crate::events::Event;
use crate::journal::Journal;

/// A backup set up: its engine (on the derived project) and what it covers.
pub struct BackupRun {
    pub engine: Arc<Engine>,
    pub dir: PathBuf,
    pub side: Side,
    /// Per mailbox: its key in the project, and its entry in the derived project.
    pub mailboxes: Vec<(String, MailboxSpec)>,
}

/// How one mailbox's backup ended.
#[derive(Debug, Clone)]
pub struct MailboxBackup {
    /// The project's key of the mailbox.
    pub key: String,
    pub result: MailboxResult,
    pub summary: Option<Summary>,
}

/// The derived project of a backup: the side's endpoint read, a Maildir tree per mailbox
/// (named after the mailbox's user on that side) written, the journal inside `dir`.
pub fn backup_project(
    project: &Project,
    side: Side,
    dir: &std::path::Path,
    mailboxes: &[MailboxSpec],
) -> Project {
    let from = side_endpoint(project, side).clone();
    let mut p = project.clone();
    p.destination = maildir_endpoint(&from, dir);
    p.source = from;
    p.state_path = dir.join(BACKUP_JOURNAL);
    p.postgres = None;
    p.mailboxes = mailboxes
        .iter()
        .map(|m| {
            let cred = side_credential(m, side).clone();
            MailboxSpec {
                destination: tree_credential(&cred.user),
                source: cred,
                // The side's calendars and contacts go beside the tree.
                source_dav: side_dav(m, side),
                destination_dav: None,
                ..m.clone()
            }
        })
        .collect();
    // Every folder as it is named (the project's exclusions still apply).
    p.folders.rename.clear();
    p.checks.clear();
    p.checklist = ChecklistSettings::default();
    p
}

/// Set up a backup of the selected batches' mailboxes (all when none) of `side` into `dir`
/// (default `backups/<side>/` next to the journal, created private to its owner).
pub fn backup_engine(
    project: &Project,
    side: Side,
    dir: Option<PathBuf>,
    batches: &[String],
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Result<BackupRun, BackupError> {
    let specs = selected(project, batches)?;
    let dir = dir.unwrap_or_else(|| default_dir(project, side));
    prepare_dir(&dir)?;
    let dir = std::fs::canonicalize(&dir).map_err(|source| BackupError::Dir {
        dir: dir.display().to_string(),
        source,
    })?;
    let derived = backup_project(project, side, &dir, &specs);
    let store = Journal::open(&derived.state_path, derived.durability)?;
    let mailboxes = specs
        .iter()
        .map(|m| m.key())
        .zip(derived.mailboxes.iter().cloned())
        .collect();
    Ok(BackupRun {
        engine: Arc::new(Engine::new(derived, store, events)?),
        dir,
        side,
        mailboxes,
    })
}

/// Refuse when the backup directory's file system has less free space than what is left to
/// copy plus 10% (see [`space::check`]).
pub async fn check_space(run: &BackupRun, project_store: &Journal) -> Result<Space, BackupError> {
    space::check(
        &run.engine,
        project_store,
        &run.mailboxes,
        run.side == Side::Source,
        &run.dir,
    )
    .await
}

/// The outcome word journalled for a mailbox's backup or restore.
pub fn outcome_of(r: &MailboxResult) -> String {
    match &r.failure {
        None if r.complete() => "complete".into(),
        None => format!(
            "incomplete: {} skipped, {} failed, {} pending",
            r.totals.skipped, r.totals.failed, r.totals.pending
        ),
        Some((Failure::Stopped, _)) => "stopped".into(),
        Some((_, e)) => format!("failed: {e}"),
    }
}

/// Run the backup: every mailbox journalled in the project's journal (started, then its
/// figures and outcome) and, once complete, its summary written.
pub async fn backup(
    run: &BackupRun,
    project_store: &Journal,
) -> Result<Vec<MailboxBackup>, BackupError> {
    let dir = run.dir.display().to_string();
    let mut rows = Vec::new();
    for (key, _) in &run.mailboxes {
        rows.push(project_store.begin_backup("backup", key, run.side.as_str(), &dir)?);
    }
    let results = run.engine.run(&[]).await;
    let mut out = Vec::new();
    for ((key, spec), row) in run.mailboxes.iter().zip(rows) {
        let result = results
            .iter()
            .find(|r| r.key == spec.key())
            .cloned()
            .unwrap_or_else(|| MailboxResult {
                key: spec.key(),
                batch: spec.batch.clone(),
                totals: Default::default(),
                failure: Some((Failure::Other, "not run (already running?)".into())),
            });
        let outcome = outcome_of(&result);
        let tree = &spec.destination.user;
        let root = run.dir.join(tree);
        let summary = if result.complete() {
            let folders = held(&run.engine.store, &spec.key(), &root, tree)?;
            Some(write_summary(
                &folders,
                key,
                run.side.as_str(),
                &root,
                tree,
            )?)
        } else {
            None
        };
        project_store.end_backup(
            row,
            result.totals.copied,
            result.totals.copied_bytes,
            &outcome,
        )?;
        out.push(MailboxBackup {
            key: key.clone(),
            result,
            summary,
        });
    }
    Ok(out)
}
