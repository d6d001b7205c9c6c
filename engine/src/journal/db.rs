//! The journal itself: opening it (the SQLite file private to this user, or a PostgreSQL
//! database; schema applied and migrated), opening it read-only, and the one connection
//! every other part of the journal goes through.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use super::conn::Conn;
use super::schema;
use super::sql::SqlError;
use crate::config::{Durability, PgTarget, Project};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// `path` is the SQLite file, or the PostgreSQL URL without its password.
    #[error("state journal {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: SqlError,
    },
}

pub type Result<T> = std::result::Result<T, JournalError>;

#[derive(Clone)]
pub struct Journal {
    conn: Arc<Mutex<Conn>>,
    /// The PostgreSQL journal's target (None: SQLite).
    postgres: Option<PgTarget>,
    /// The journal as messages name it: the file, or the URL without its password.
    name: String,
    /// The local path the OAuth token file is named after (the SQLite file itself).
    local: PathBuf,
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

pub(super) const NOW: &str = super::dialect::SQLITE_NOW;

impl Journal {
    /// The project's journal: its SQLite file, or its PostgreSQL database.
    pub fn open_project(project: &Project) -> Result<Journal> {
        match &project.postgres {
            Some(target) => Journal::open_postgres(target, &project.state_path, false),
            None => Journal::open(&project.state_path, project.durability),
        }
    }

    /// The project's journal for reading only (`cutover watch`, reports, verify).
    pub fn open_project_read_only(project: &Project) -> Result<Journal> {
        match &project.postgres {
            Some(target) => Journal::open_postgres(target, &project.state_path, true),
            None => Journal::open_read_only(&project.state_path),
        }
    }

    /// A journal on PostgreSQL: connected, schema applied and migrated (unless read-only:
    /// then every transaction of the session is read-only). `local` names the local files.
    pub fn open_postgres(target: &PgTarget, local: &Path, read_only: bool) -> Result<Journal> {
        let name = target.display();
        let wrap = |source| JournalError::Store {
            path: name.clone(),
            source,
        };
        let mut conn = Conn::Postgres(super::pg::connect(target).map_err(wrap)?);
        if read_only {
            conn.execute_batch("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .map_err(wrap)?;
        } else {
            schema::apply(&mut conn).map_err(wrap)?;
        }
        Ok(Journal {
            conn: Arc::new(Mutex::new(conn)),
            postgres: Some(target.clone()),
            name: name.clone(),
            local: local.to_path_buf(),
        })
    }

    /// Whether this journal is on PostgreSQL.
    /// What the journal cost this process so far (every connection: see `conn::journal_cost`).
    pub fn cost(&self) -> super::conn::JournalCost {
        super::conn::journal_cost()
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The PostgreSQL journal's target, to open more connections to it (workers).
    pub fn postgres_target(&self) -> Option<&PgTarget> {
        self.postgres.as_ref()
    }

    pub fn open(path: &Path, durability: Durability) -> Result<Journal> {
        let p = path.display().to_string();
        let wrap = |source: rusqlite::Error| JournalError::Store {
            path: p.clone(),
            source: source.into(),
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
        let mut conn = Conn::Sqlite(conn);
        schema::apply(&mut conn).map_err(|source| JournalError::Store {
            path: p.clone(),
            source,
        })?;
        share_journal_files(path);
        Ok(Journal {
            conn: Arc::new(Mutex::new(conn)),
            postgres: None,
            name: p,
            local: path.to_path_buf(),
        })
    }

    /// The journal file (the OAuth2 token file lives next to it); for a PostgreSQL journal
    /// the local name it stands for.
    pub fn path(&self) -> &Path {
        &self.local
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Conn> {
        // A poisoned lock only means another thread panicked mid-call; SQLite's own
        // transactions keep the file consistent, so carry on with the connection.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn err(&self, source: SqlError) -> JournalError {
        JournalError::Store {
            path: self.name.clone(),
            source,
        }
    }

    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Conn) -> super::sql::Result<T>) -> Result<T> {
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
        .map_err(|source| JournalError::Store {
            path: p.clone(),
            source: source.into(),
        })?;
        let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
        Ok(Journal {
            conn: Arc::new(Mutex::new(Conn::Sqlite(conn))),
            postgres: None,
            name: p,
            local: path.to_path_buf(),
        })
    }
}

/// A fresh SQLite journal (tests written before both backends; new ones use
/// [`both_backends!`]).
#[cfg(test)]
#[allow(dead_code)]
pub(super) fn store() -> (tempfile::TempDir, Journal) {
    store_sqlite()
}

/// A fresh SQLite journal in a temporary directory, for the tests of every part of the journal.
#[cfg(test)]
pub(super) fn store_sqlite() -> (tempfile::TempDir, Journal) {
    let d = tempfile::tempdir().unwrap();
    let s = Journal::open(&d.path().join("j.sqlite"), Durability::Crash).unwrap();
    (d, s)
}

/// A fresh PostgreSQL journal: a new database on the test process's cluster
/// (`tests/it/support/postgres.rs`), reached over TCP with its password.
#[cfg(test)]
pub(super) fn store_postgres() -> (tempfile::TempDir, Journal) {
    use super::test_postgres::{PASSWORD, shared};
    let d = tempfile::tempdir().unwrap();
    let cluster = shared();
    let db = cluster.database();
    let target = PgTarget {
        url: format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            cluster.port
        ),
        password_env: None,
        password_file: None,
    };
    let s = Journal::open_postgres(&target, &d.path().join("j.postgres"), false).unwrap();
    (d, s)
}

/// A test of the journal's behaviour, run on both backends: `NAME::sqlite` and
/// `NAME::postgres`, with the journal bound to the name given.
#[cfg(test)]
macro_rules! both_backends {
    (fn $name:ident($s:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let (_d, $s) = $crate::journal::db::store_sqlite();
                $body
            }
            #[test]
            fn postgres() {
                let (_d, $s) = $crate::journal::db::store_postgres();
                $body
            }
        }
    };
}
#[cfg(test)]
pub(super) use both_backends;
