//! The journal file itself: opening it (private to this user, schema applied and migrated),
//! opening it read-only, and the one connection every other part of the journal goes through.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use super::schema;
use crate::config::Durability;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("state journal {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

pub type Result<T> = std::result::Result<T, JournalError>;

#[derive(Clone)]
pub struct Journal {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

/// The journal and its `-wal`/`-shm` readable by this user only (and the operators group):
/// they hold every user name, folder and Message-ID of the project. A journal written by an
/// older cutover with a looser mode is tightened too; a new one is created private.
///
/// Only ever called before SQLite opens the journal: SQLite's locks are POSIX locks, which a
/// process loses on closing any other descriptor of the file. A descriptor opened and closed
/// here after SQLite's would drop them, and another process opening and closing the journal
/// (`cutover report` or `plan` during a run, sqlite3) would take itself for its last user,
/// checkpoint and delete the `-wal`: every later write of this process would go to a deleted
/// file, lost without an error. SQLite gives the `-wal` and `-shm` it creates the journal's
/// mode (and, as root, its owner and group); [`share_journal_files`] does the rest.
fn make_journal_private(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    // Created here, private (never through a link), when it does not exist yet.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::local::file_mode())
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    for p in journal_files(path) {
        if let Err(e) = crate::local::make_private(&p) {
            tracing::warn!("cannot make {} private: {e}", p.display());
        }
    }
}

/// The journal file and its `-wal` and `-shm`.
fn journal_files(path: &Path) -> [std::path::PathBuf; 3] {
    ["", "-wal", "-shm"].map(|suffix| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        p.into()
    })
}

/// With SQLite holding the journal open: the `-wal` and `-shm` it created given the
/// operators group by path (lchown: no descriptor opened, so none of SQLite's locks is lost;
/// see [`make_journal_private`]). Their mode is already the journal's.
fn share_journal_files(path: &Path) {
    let [_, wal, shm] = journal_files(path);
    for p in [wal, shm] {
        if let Err(e) = crate::local::give_to_group(&p) {
            tracing::warn!("cannot give {} to the operators group: {e}", p.display());
        }
    }
}

pub(super) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

impl Journal {
    pub fn open(path: &Path, durability: Durability) -> Result<Journal> {
        let p = path.display().to_string();
        let wrap = |source| JournalError::Sqlite {
            path: p.clone(),
            source,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = crate::local::create_private_dir_all(dir);
        }
        make_journal_private(path);
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        let sync = match durability {
            Durability::Crash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        schema::apply(&conn).map_err(wrap)?;
        share_journal_files(path);
        Ok(Journal {
            conn: Arc::new(Mutex::new(conn)),
            path: p,
        })
    }

    /// The journal file (the OAuth2 token file lives next to it).
    pub fn path(&self) -> &Path {
        Path::new(&self.path)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock only means another thread panicked mid-call; SQLite's own
        // transactions keep the file consistent, so carry on with the connection.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut c = self.lock();
        f(&mut c).map_err(|e| self.err(e))
    }

    /// Open the journal of a running project for reading only (`cutover watch`).
    pub fn open_read_only(path: &Path) -> Result<Journal> {
        let p = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| JournalError::Sqlite {
            path: p.clone(),
            source,
        })?;
        let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
        Ok(Journal {
            conn: Arc::new(Mutex::new(conn)),
            path: p,
        })
    }
}

/// A fresh journal in a temporary directory, for the tests of every part of the journal.
#[cfg(test)]
pub(super) fn store() -> (tempfile::TempDir, Journal) {
    let d = tempfile::tempdir().unwrap();
    let s = Journal::open(&d.path().join("j.sqlite"), Durability::Crash).unwrap();
    (d, s)
}
