//! What the backup operations share: their errors, the side they work on, and the files they
//! keep in the backup directory.

use std::path::{Path, PathBuf};

use crate::api::Side;
use crate::config::{Credential, Endpoint, MailboxSpec, Project};
use crate::endpoint::EndpointError;
use crate::journal::JournalError;
use crate::sync::SyncError;

/// The backup's own journal, inside the backup directory (incremental and resumable like a
/// migration's).
pub const BACKUP_JOURNAL: &str = "backup-journal.sqlite";

/// The per-mailbox summary written at the end of each mailbox's backup, beside its manifest.
pub const SUMMARY_FILE: &str = "cutover-backup.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "not enough free space for the backup in {dir}: {free} free, {needed} needed ({basis} plus 10%); free some space or choose another --dir"
    )]
    NoSpace {
        dir: String,
        free: String,
        needed: String,
        basis: String,
    },
    #[error("cannot use the backup directory {dir}: {source}")]
    Dir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    NoMailbox(String),
    /// Another backup or verification holds the directory.
    #[error("{0}")]
    Busy(String),
    #[error(
        "no backup of {mailbox} in {dir}: neither {tried} holds a Maildir tree (run `cutover backup` first, or give --dir)"
    )]
    NoBackup {
        mailbox: String,
        dir: String,
        tried: String,
    },
    #[error("folder {folder:?} is not in the backup of {mailbox} (it holds: {have})")]
    NoFolder {
        mailbox: String,
        folder: String,
        have: String,
    },
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl BackupError {
    /// The journal could not be read or written (exit 9).
    pub fn is_journal(&self) -> bool {
        match self {
            BackupError::Journal(_) => true,
            BackupError::Sync(e) => e.is_journal(),
            BackupError::Endpoint(e) => e.is_journal(),
            _ => false,
        }
    }

    /// Something the project or the command line names does not exist (exit 3).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            BackupError::NoMailbox(_) | BackupError::NoBackup { .. } | BackupError::NoFolder { .. }
        )
    }
}

/// The default backup directory of a side: `backups/<side>/` next to the journal.
pub fn default_dir(project: &Project, side: Side) -> PathBuf {
    project
        .state_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("backups")
        .join(side.as_str())
}

/// The project's endpoint of a side.
pub fn side_endpoint(project: &Project, side: Side) -> &Endpoint {
    match side {
        Side::Source => &project.source,
        Side::Destination => &project.destination,
    }
}

/// A mailbox's credential on a side.
pub fn side_credential(spec: &MailboxSpec, side: Side) -> &Credential {
    match side {
        Side::Source => &spec.source,
        Side::Destination => &spec.destination,
    }
}

/// The CalDAV/CardDAV login of a mailbox's side, when it has one.
pub fn side_dav(spec: &MailboxSpec, side: Side) -> Option<Credential> {
    match side {
        Side::Source => spec.source_dav.clone(),
        Side::Destination => spec.destination_dav.clone(),
    }
}

/// A credential for a Maildir tree: its directory name, no password.
pub fn tree_credential(user: &str) -> Credential {
    Credential {
        user: user.to_string(),
        password: secrecy::SecretString::from(String::new()),
    }
}

/// A Maildir endpoint at `dir`, with the limits of the endpoint it stands opposite.
pub fn maildir_endpoint(like: &Endpoint, dir: &Path) -> Endpoint {
    let mut e = like.clone();
    e.kind = crate::config::EndpointKind::Maildir;
    e.host = dir.display().to_string();
    e.port = 0;
    e.preset = crate::config::Preset::Generic;
    e.ca_file = None;
    e.max_message_size = None;
    e.oauth = None;
    e.gmail = None;
    e.graph_import = crate::config::GraphImport::default();
    e.auth = crate::config::AuthMethod::default();
    e.api_url = String::new();
    e.path = Some(dir.to_path_buf());
    e
}

/// The project's mailboxes in the given batches (all when none), or an error naming them.
pub fn selected(project: &Project, batches: &[String]) -> Result<Vec<MailboxSpec>, BackupError> {
    let v: Vec<MailboxSpec> = project
        .mailboxes
        .iter()
        .filter(|m| batches.is_empty() || batches.contains(&m.batch))
        .cloned()
        .collect();
    if v.is_empty() {
        return Err(BackupError::NoMailbox(format!(
            "no mailbox in batch(es) {} of {}",
            batches.join(", "),
            project.file.display()
        )));
    }
    Ok(v)
}

/// Create a backup directory private to its owner (and the operators group), or check that
/// an existing one is a directory.
pub fn prepare_dir(dir: &Path) -> Result<(), BackupError> {
    let err = |source| BackupError::Dir {
        dir: dir.display().to_string(),
        source,
    };
    crate::local::create_private_dir_all(dir).map_err(err)?;
    if !dir.is_dir() {
        return Err(err(std::io::Error::other("not a directory")));
    }
    Ok(())
}
