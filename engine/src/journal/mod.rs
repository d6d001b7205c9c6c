//! The durable state journal: one SQLite file per project.
//!
//! Everything the engine must remember across a crash lives here: per mailbox and folder the
//! UIDVALIDITY and high-water marks, and per source message its state, size, fingerprint and
//! destination UID. The rule that makes `kill -9` harmless: a message is journalled as
//! `appending` (with the destination UID floor) *before* its APPEND is sent, and as `copied`
//! only after the server confirmed it. Whatever is still `appending` at the next start is
//! resolved against the destination before anything is re-sent.
//!
//! The interface is deliberately narrow (plain rows in, plain rows out) so that another backend
//! (PostgreSQL, for several machines working one project) can implement the same calls.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Durability;

pub mod inspect;

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

/// Message states in the journal.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const APPENDING: &str = "appending";
    pub const COPIED: &str = "copied";
    pub const SKIPPED: &str = "skipped";
    pub const FAILED: &str = "failed";
    /// A row of an older source UIDVALIDITY that was matched to a row of the new one.
    pub const SUPERSEDED: &str = "superseded";
    /// Being removed from the destination by a rollback (journalled before the UID EXPUNGE).
    pub const REMOVING: &str = "removing";
}

/// What became of a folder (the `folders.state` column); see [`Journal::set_folder_state`].
pub mod folder_state {
    /// Listed and planned, never opened on the source yet.
    pub const NEW: &str = "new";
    /// Opened on the source; its messages are not all in the journal yet.
    pub const OPEN: &str = "open";
    /// Every message of the folder is in the journal (copied, pending, skipped...): the
    /// totals account for all of it.
    pub const LISTED: &str = "listed";
    pub const GONE: &str = "gone";
    pub const REFUSED: &str = "refused";
}

/// The reason journalled for a message that vanished from the source before it was copied
/// (not a loss: it is no longer on the source).
pub const EXPUNGED_REASON: &str = "expunged on the source before it could be copied";

#[derive(Clone)]
pub struct Journal {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

#[derive(Debug, Clone, Default)]
pub struct FolderRow {
    pub id: i64,
    pub mailbox_id: i64,
    pub src_name: String,
    pub dst_name: String,
    pub src_uidvalidity: Option<u32>,
    pub src_uidnext: Option<u32>,
    /// Highest source UID enumerated into the journal (under `src_uidvalidity`).
    pub src_high: u32,
    pub dst_uidvalidity: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct PendingRow {
    pub id: i64,
    pub src_uid: u32,
    pub size: u64,
}

/// A message whose APPEND outcome is unknown, or whose destination UID is not yet known.
#[derive(Debug, Clone)]
pub struct DoubtRow {
    pub id: i64,
    pub src_uid: u32,
    pub size: u64,
    pub fingerprint: String,
    pub dst_floor: u32,
    /// The server confirmed the APPEND (no UIDPLUS), as opposed to an unknown outcome.
    pub confirmed: bool,
    /// Seconds since the row was journalled as `appending`.
    pub age_secs: f64,
}

#[derive(Debug, Clone)]
pub struct CopiedRow {
    pub id: i64,
    pub src_uid: u32,
    pub fingerprint: String,
    pub size: u64,
    pub dst_uid: Option<u32>,
    pub dst_uidvalidity: Option<u32>,
}

/// One sighting of a message in a Gmail source folder (see the `gmail_seen` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmailSeenRow {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub ident: String,
    pub own: bool,
    /// Extra keywords for an owned sighting, space-separated.
    pub keywords: String,
    pub reason: Option<String>,
}

/// Journalled just before an APPEND is sent.
#[derive(Debug, Clone)]
pub struct AppendIntent {
    pub id: i64,
    /// The size of the bytes actually read and sent, which replaces the listing's size (an
    /// estimate on some endpoints: Gmail's sizeEstimate, Graph's PR_MESSAGE_SIZE).
    pub size: u64,
    pub fingerprint: String,
    pub message_id: Option<String>,
    pub dst_uidvalidity: u32,
    pub dst_floor: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub messages: u64,
    pub bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    pub failed: u64,
    pub pending: u64,
}

/// An issue as journalled.
#[derive(Debug, Clone, Default)]
pub struct IssueRow {
    pub id: i64,
    pub severity: String,
    pub category: String,
    pub mailbox: Option<String>,
    pub folder: Option<String>,
    pub uid: Option<u32>,
    pub message: String,
    pub count: u32,
    pub last_seen: String,
    /// "open", "acknowledged" or "resolved".
    pub state: String,
    pub first_seen: String,
    /// Who set the state, when, and their note.
    pub state_by: Option<String>,
    pub state_at: Option<String>,
    pub note: Option<String>,
}

/// A mailbox as journalled.
#[derive(Debug, Clone, Default)]
pub struct MailboxRow {
    pub id: i64,
    pub key: String,
    pub batch: String,
    pub src_user: String,
    pub dst_user: String,
    pub state: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_error: Option<String>,
}

/// Why messages of a mailbox were not copied: (state, reason, count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipRow {
    pub state: String,
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct Issue<'a> {
    pub severity: &'a str,
    pub category: &'a str,
    pub mailbox: Option<&'a str>,
    pub folder: Option<&'a str>,
    pub uid: Option<u32>,
    pub message: &'a str,
}

/// One mailbox of an assessment, as journalled.
#[derive(Debug, Clone, Default)]
pub struct AssessedMailboxRow {
    pub mailbox: String,
    pub batch: String,
    pub src_caps: String,
    pub dst_caps: String,
    pub src_error: Option<String>,
    pub dst_error: Option<String>,
    pub read_error: Option<String>,
    pub folders: u64,
    pub messages: u64,
    pub bytes: u64,
    pub to_copy_bytes: u64,
    pub largest: u64,
    pub oversize: u64,
    pub size_limit: Option<u64>,
    pub quota_used: Option<u64>,
    pub quota_limit: Option<u64>,
    pub probe: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AssessedFolderRow {
    pub mailbox: String,
    pub folder: String,
    pub dst_folder: Option<String>,
    pub special: Option<String>,
    pub messages: u64,
    pub bytes: u64,
    pub largest: u64,
}

/// A message worth naming: one of the largest ("largest") or over the limit ("oversize").
#[derive(Debug, Clone, Default)]
pub struct AssessedMessageRow {
    pub mailbox: String,
    pub folder: String,
    pub uid: u32,
    pub size: u64,
    pub kind: String,
}

#[derive(Debug, Clone, Default)]
pub struct RiskRow {
    pub severity: String,
    pub mailbox: Option<String>,
    pub message: String,
}

/// Everything one `cutover assess` found.
#[derive(Debug, Clone, Default)]
pub struct AssessmentRows {
    pub batches: String,
    pub complexity: String,
    pub factors: String,
    pub mailboxes: Vec<AssessedMailboxRow>,
    pub folders: Vec<AssessedFolderRow>,
    pub messages: Vec<AssessedMessageRow>,
    pub risks: Vec<RiskRow>,
}

/// The latest result of an auto check, per mailbox ("" for project-wide checks).
#[derive(Debug, Clone, Default)]
pub struct CheckResultRow {
    pub check_id: String,
    pub mailbox: String,
    pub status: String,
    pub reason: String,
    pub at: String,
}

/// A checklist item's operator record: tick, note, override.
#[derive(Debug, Clone, Default)]
pub struct CheckStateRow {
    pub done: bool,
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<String>,
    pub override_by: Option<String>,
    pub override_reason: Option<String>,
    pub override_at: Option<String>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  batch TEXT NOT NULL,
  src_user TEXT NOT NULL,
  dst_user TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'new',
  started_at TEXT,
  finished_at TEXT,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS folders (
  id INTEGER PRIMARY KEY,
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
  src_name TEXT NOT NULL,
  dst_name TEXT NOT NULL,
  src_uidvalidity INTEGER,
  src_uidnext INTEGER,
  src_high INTEGER NOT NULL DEFAULT 0,
  dst_uidvalidity INTEGER,
  dst_created INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'new',
  UNIQUE (mailbox_id, src_name)
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  folder_id INTEGER NOT NULL REFERENCES folders(id),
  src_uidvalidity INTEGER NOT NULL,
  src_uid INTEGER NOT NULL,
  size INTEGER NOT NULL,
  state TEXT NOT NULL,
  fingerprint TEXT,
  message_id TEXT,
  dst_uidvalidity INTEGER,
  dst_uid INTEGER,
  dst_floor INTEGER,
  reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (folder_id, src_uidvalidity, src_uid)
);
CREATE INDEX IF NOT EXISTS messages_state ON messages (folder_id, state);
CREATE TABLE IF NOT EXISTS issues (
  id INTEGER PRIMARY KEY,
  severity TEXT NOT NULL,
  category TEXT NOT NULL,
  mailbox TEXT,
  folder TEXT,
  uid INTEGER,
  message TEXT NOT NULL,
  first_seen TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  last_seen TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  count INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL DEFAULT 'open'
);
CREATE UNIQUE INDEX IF NOT EXISTS issues_fold
  ON issues (severity, category, ifnull(mailbox,''), ifnull(folder,''), ifnull(uid,-1), message);
CREATE TABLE IF NOT EXISTS checks (
  id TEXT PRIMARY KEY,
  done INTEGER NOT NULL DEFAULT 0,
  by TEXT,
  at TEXT,
  note TEXT
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  command TEXT NOT NULL,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  finished_at TEXT,
  outcome TEXT
);
CREATE TABLE IF NOT EXISTS reports (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  format TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))

);
CREATE TABLE IF NOT EXISTS assessments (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  batches TEXT NOT NULL,
  complexity TEXT NOT NULL,
  factors TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assessed_mailboxes (
  assessment_id INTEGER NOT NULL REFERENCES assessments(id),
  mailbox TEXT NOT NULL,
  batch TEXT NOT NULL,
  src_caps TEXT NOT NULL,
  dst_caps TEXT NOT NULL,
  src_error TEXT,
  dst_error TEXT,
  read_error TEXT,
  folders INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  to_copy_bytes INTEGER NOT NULL,
  largest INTEGER NOT NULL,
  oversize INTEGER NOT NULL,
  size_limit INTEGER,
  quota_used INTEGER,
  quota_limit INTEGER,
  probe TEXT,
  PRIMARY KEY (assessment_id, mailbox)
);
CREATE TABLE IF NOT EXISTS assessed_folders (
  assessment_id INTEGER NOT NULL REFERENCES assessments(id),
  mailbox TEXT NOT NULL,
  folder TEXT NOT NULL,
  dst_folder TEXT,
  special TEXT,
  messages INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  largest INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assessed_messages (
  assessment_id INTEGER NOT NULL REFERENCES assessments(id),
  mailbox TEXT NOT NULL,
  folder TEXT NOT NULL,
  uid INTEGER NOT NULL,
  size INTEGER NOT NULL,
  kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS risks (
  assessment_id INTEGER NOT NULL REFERENCES assessments(id),
  severity TEXT NOT NULL,
  mailbox TEXT,
  message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS check_results (
  check_id TEXT NOT NULL,
  mailbox TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (check_id, mailbox)
);
CREATE TABLE IF NOT EXISTS verifications (
  id INTEGER PRIMARY KEY,
  mailbox TEXT NOT NULL,
  batch TEXT NOT NULL,
  ok INTEGER NOT NULL,
  summary TEXT NOT NULL,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
-- Endpoints without IMAP UIDs (Graph, Gmail API, POP3) name messages by their own ids
-- (immutable Graph id, Gmail message id, POP3 UIDL). The engine works in u32 UIDs, so each
-- such id gets a UID here, allocated once and never reused, in a folder whose UIDVALIDITY
-- is also kept here. `side` is source or destination, `account` the mailbox user, `folder`
-- the endpoint's folder name.
CREATE TABLE IF NOT EXISTS ref_folders (
  side TEXT NOT NULL, account TEXT NOT NULL, folder TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,
  PRIMARY KEY (side, account, folder)
);
-- Gmail-shaped sources (labels as folders, every message again in All Mail): each sighting
-- of a message in a source folder, its identity (`ident`: provider id, Message-ID and size,
-- or content fingerprint, with an ordinal) and whether it is the sighting that is copied
-- (`own` = 1, with the other labels as `keywords`) or a duplicate (`own` = 0, `reason` names
-- the copy). Duplicates never enter `messages`: they are neither copied nor skipped.
CREATE TABLE IF NOT EXISTS gmail_seen (
  mailbox_id INTEGER NOT NULL,
  folder TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  ident TEXT NOT NULL,
  own INTEGER NOT NULL,
  keywords TEXT NOT NULL DEFAULT '',
  reason TEXT,
  PRIMARY KEY (mailbox_id, folder, uidvalidity, uid)
);
CREATE TABLE IF NOT EXISTS refs (
  side TEXT NOT NULL, account TEXT NOT NULL, folder TEXT NOT NULL,
  uid INTEGER NOT NULL, ref TEXT NOT NULL,
  PRIMARY KEY (side, account, folder, uid),
  UNIQUE (side, account, folder, ref)
);
"#;

/// Columns added after a table was first shipped: (table, column, declaration). Journals
/// written by an older cutover get them on open; new ones are listed here, never edited.
const COLUMNS: &[(&str, &str, &str)] = &[
    // The destination folder's UIDNEXT when cutover first opened it: mail at or above it
    // that cutover did not write arrived after the migration started (fail-back copies it).
    ("folders", "dst_start_uidnext", "INTEGER"),
    // The destination folder's EXISTS and UIDNEXT when cutover last checked it: unchanged
    // since, nothing was added or removed there, and the check is skipped.
    ("folders", "dst_seen_exists", "INTEGER"),
    ("folders", "dst_seen_uidnext", "INTEGER"),
    ("issues", "state_by", "TEXT"),
    ("issues", "state_at", "TEXT"),
    ("issues", "note", "TEXT"),
    ("checks", "override_by", "TEXT"),
    ("checks", "override_reason", "TEXT"),
    ("checks", "override_at", "TEXT"),
];

/// Add a column unless the table already has it (SQLite has no ADD COLUMN IF NOT EXISTS).
fn add_column(c: &Connection, table: &str, column: &str, decl: &str) -> rusqlite::Result<()> {
    let exists: bool = c.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |r| r.get(0),
    )?;
    if !exists {
        c.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
    }
    Ok(())
}

/// The columns `folder_row` reads, in its order.
const FOLDER_COLUMNS: &str =
    "id, mailbox_id, src_name, dst_name, src_uidvalidity, src_uidnext, src_high, dst_uidvalidity";

fn folder_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FolderRow> {
    Ok(FolderRow {
        id: r.get(0)?,
        mailbox_id: r.get(1)?,
        src_name: r.get(2)?,
        dst_name: r.get(3)?,
        src_uidvalidity: r.get(4)?,
        src_uidnext: r.get(5)?,
        src_high: r.get(6)?,
        dst_uidvalidity: r.get(7)?,
    })
}

/// The columns `copied_row` reads, in its order.
const COPIED_COLUMNS: &str = "id, src_uid, fingerprint, size, dst_uid, dst_uidvalidity";

fn copied_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CopiedRow> {
    Ok(CopiedRow {
        id: r.get(0)?,
        src_uid: r.get(1)?,
        fingerprint: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        dst_uid: r.get(4)?,
        dst_uidvalidity: r.get(5)?,
    })
}

/// The columns `issue_row` reads, in its order.
const ISSUE_COLUMNS: &str = "id, severity, category, mailbox, folder, uid, message, count, \
    last_seen, state, first_seen, state_by, state_at, note";

fn issue_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IssueRow> {
    Ok(IssueRow {
        id: r.get(0)?,
        severity: r.get(1)?,
        category: r.get(2)?,
        mailbox: r.get(3)?,
        folder: r.get(4)?,
        uid: r.get(5)?,
        message: r.get(6)?,
        count: r.get(7)?,
        last_seen: r.get(8)?,
        state: r.get(9)?,
        first_seen: r.get(10)?,
        state_by: r.get(11)?,
        state_at: r.get(12)?,
        note: r.get(13)?,
    })
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

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

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
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        for (table, column, decl) in COLUMNS {
            add_column(&conn, table, column, decl).map_err(wrap)?;
        }
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1')",
            [],
        )
        .map_err(wrap)?;
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

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock only means another thread panicked mid-call; SQLite's own
        // transactions keep the file consistent, so carry on with the connection.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut c = self.lock();
        f(&mut c).map_err(|e| self.err(e))
    }

    pub fn begin_run(&self, command: &str) -> Result<i64> {
        self.with(|c| {
            c.execute("INSERT INTO runs(command) VALUES (?1)", [command])?;
            Ok(c.last_insert_rowid())
        })
    }

    pub fn end_run(&self, run: i64, outcome: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!("UPDATE runs SET finished_at = {NOW}, outcome = ?2 WHERE id = ?1"),
                params![run, outcome],
            )
            .map(drop)
        })
    }

    pub fn upsert_mailbox(&self, key: &str, batch: &str, src: &str, dst: &str) -> Result<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO mailboxes(key, batch, src_user, dst_user) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET batch = excluded.batch",
                params![key, batch, src, dst],
            )?;
            c.query_row("SELECT id FROM mailboxes WHERE key = ?1", [key], |r| {
                r.get(0)
            })
        })
    }

    pub fn set_mailbox_state(&self, id: i64, state: &str, error: Option<&str>) -> Result<()> {
        self.with(|c| {
            let sql = match state {
                "running" => format!(
                    "UPDATE mailboxes SET state = ?2, started_at = coalesce(started_at, {NOW}), last_error = ?3 WHERE id = ?1"
                ),
                "done" | "failed" => format!(
                    "UPDATE mailboxes SET state = ?2, finished_at = {NOW}, last_error = ?3 WHERE id = ?1"
                ),
                _ => "UPDATE mailboxes SET state = ?2, last_error = ?3 WHERE id = ?1".to_string(),
            };
            c.execute(&sql, params![id, state, error]).map(drop)
        })
    }

    /// The folder row for a source folder, created on first sight with its destination name.
    pub fn folder(&self, mailbox_id: i64, src_name: &str, dst_name: &str) -> Result<FolderRow> {
        self.with(|c| {
            c.execute(
                "INSERT INTO folders(mailbox_id, src_name, dst_name) VALUES (?1, ?2, ?3)
                 ON CONFLICT(mailbox_id, src_name) DO UPDATE SET dst_name = excluded.dst_name",
                params![mailbox_id, src_name, dst_name],
            )?;
            c.query_row(
                &format!(
                    "SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = ?1 AND src_name = ?2"
                ),
                params![mailbox_id, src_name],
                folder_row,
            )
        })
    }

    pub fn folders_of(&self, mailbox_id: i64) -> Result<Vec<FolderRow>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = ?1 ORDER BY id"
            ))?;
            st.query_map([mailbox_id], folder_row)?.collect()
        })
    }

    /// Messages cutover wrote to the destination in this folder and has not removed yet
    /// (`copied`, or `removing` after an interrupted rollback).
    pub fn written(&self, folder_id: i64) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COPIED_COLUMNS} FROM messages
                     WHERE folder_id = ?1 AND state IN ('copied', 'removing') ORDER BY id"
            ))?;
            st.query_map([folder_id], copied_row)?.collect()
        })
    }

    /// Whether cutover created this destination folder.
    pub fn folder_created(&self, folder_id: i64) -> Result<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT dst_created FROM folders WHERE id = ?1",
                [folder_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v != 0)
        })
    }

    fn set_states(&self, ids: &[i64], sql: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(sql)?;
                for id in ids {
                    st.execute([id])?;
                }
            }
            tx.commit()
        })
    }

    /// Rollback, step 1: these messages are about to be removed from the destination.
    pub fn mark_removing(&self, ids: &[i64]) -> Result<()> {
        self.set_states(
            ids,
            &format!("UPDATE messages SET state = 'removing', updated_at = {NOW} WHERE id = ?1"),
        )
    }

    /// Rollback, step 2: removed (or confirmed absent). They are pending again, so that a
    /// later run migrates them afresh.
    pub fn mark_removed(&self, ids: &[i64]) -> Result<()> {
        self.set_states(
            ids,
            &format!(
                "UPDATE messages SET state = 'pending', dst_uid = NULL, dst_uidvalidity = NULL, dst_floor = NULL, reason = 'rolled back', updated_at = {NOW} WHERE id = ?1"
            ),
        )
    }

    /// Rollback of a folder finished; `deleted` when cutover also deleted the (empty) folder
    /// it had created, so that a new run creates it again and reads its new UIDVALIDITY.
    pub fn folder_rolled_back(&self, folder_id: i64, deleted: bool) -> Result<()> {
        self.with(|c| {
            if deleted {
                c.execute(
                    "UPDATE folders SET dst_created = 0, dst_uidvalidity = NULL, dst_start_uidnext = NULL WHERE id = ?1",
                    [folder_id],
                )?;
            }
            Ok(())
        })
    }

    pub fn mark_folder_created(&self, folder_id: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_created = 1 WHERE id = ?1",
                [folder_id],
            )
            .map(drop)
        })
    }

    /// Start tracking a new source UIDVALIDITY: the high-water mark restarts at 0 (the rows
    /// of the old UIDVALIDITY stay, to be matched by fingerprint).
    pub fn set_src_uidvalidity(&self, folder_id: i64, validity: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET src_uidvalidity = ?2, src_high = 0, src_uidnext = NULL WHERE id = ?1",
                params![folder_id, validity],
            )
            .map(drop)
        })
    }

    /// Remember the destination folder's UIDNEXT when cutover first opened it (kept once set).
    pub fn set_dst_start(&self, folder_id: i64, uidnext: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_start_uidnext = ?2 WHERE id = ?1 AND dst_start_uidnext IS NULL",
                params![folder_id, uidnext],
            )
            .map(drop)
        })
    }

    /// The destination folder's (EXISTS, UIDNEXT) at cutover's last check.
    pub fn dst_seen(&self, folder_id: i64) -> Result<Option<(u32, u32)>> {
        self.with(|c| {
            c.query_row(
                "SELECT dst_seen_exists, dst_seen_uidnext FROM folders WHERE id = ?1",
                [folder_id],
                |r| {
                    Ok(
                        match (r.get::<_, Option<u32>>(0)?, r.get::<_, Option<u32>>(1)?) {
                            (Some(e), Some(u)) => Some((e, u)),
                            _ => None,
                        },
                    )
                },
            )
        })
    }

    pub fn set_dst_seen(&self, folder_id: i64, exists: u32, uidnext: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_seen_exists = ?2, dst_seen_uidnext = ?3 WHERE id = ?1",
                params![folder_id, exists, uidnext],
            )
            .map(drop)
        })
    }

    /// The destination folder was renumbered (new UIDVALIDITY): restart its window here.
    pub fn reset_dst_start(&self, folder_id: i64, uidnext: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_start_uidnext = ?2 WHERE id = ?1",
                params![folder_id, uidnext],
            )
            .map(drop)
        })
    }

    /// For fail-back: the destination folder's UIDNEXT when the migration first opened it
    /// (or, for journals older than that column, the lowest UID floor recorded), its
    /// UIDVALIDITY, and the destination UIDs cutover wrote there.
    pub fn written_window(
        &self,
        folder_id: i64,
    ) -> Result<(Option<u32>, Option<u32>, std::collections::HashSet<u32>)> {
        self.with(|c| {
            let (start, validity): (Option<u32>, Option<u32>) = c.query_row(
                "SELECT coalesce(dst_start_uidnext, (SELECT min(dst_floor) FROM messages WHERE folder_id = ?1)), dst_uidvalidity FROM folders WHERE id = ?1",
                [folder_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut st = c.prepare_cached(
                "SELECT dst_uid FROM messages WHERE folder_id = ?1 AND state IN ('copied', 'removing', 'appending')
                 AND dst_uid IS NOT NULL AND dst_uidvalidity IS ?2",
            )?;
            let uids = st
                .query_map(params![folder_id, validity], |r| r.get::<_, u32>(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((start, validity, uids))
        })
    }

    pub fn set_dst_uidvalidity(&self, folder_id: i64, validity: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET dst_uidvalidity = ?2 WHERE id = ?1",
                params![folder_id, validity],
            )
            .map(drop)
        })
    }

    /// Record newly enumerated source messages as pending and advance the high-water mark,
    /// in one transaction.
    pub fn add_pending(
        &self,
        folder_id: i64,
        validity: u32,
        msgs: &[(u32, u64)],
        high: u32,
        uidnext: u32,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO messages(folder_id, src_uidvalidity, src_uid, size, state)
                     VALUES (?1, ?2, ?3, ?4, 'pending')",
                )?;
                for (uid, size) in msgs {
                    st.execute(params![folder_id, validity, uid, *size as i64])?;
                }
            }
            tx.execute(
                "UPDATE folders SET src_high = max(src_high, ?2), src_uidnext = ?3 WHERE id = ?1",
                params![folder_id, high, uidnext],
            )?;
            tx.commit()
        })
    }

    pub fn pending(&self, folder_id: i64, validity: u32) -> Result<Vec<PendingRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, src_uid, size FROM messages
                 WHERE folder_id = ?1 AND src_uidvalidity = ?2 AND state = 'pending' ORDER BY src_uid",
            )?;
            st.query_map(params![folder_id, validity], |r| {
                Ok(PendingRow {
                    id: r.get(0)?,
                    src_uid: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }

    /// Messages whose APPEND may or may not have happened (`appending`), or that were appended
    /// without learning their destination UID (`copied`, no UIDPLUS).
    pub fn in_doubt(&self, folder_id: i64) -> Result<Vec<DoubtRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, src_uid, size, fingerprint, coalesce(dst_floor, 1), state = 'copied',
                        coalesce((julianday('now') - julianday(updated_at)) * 86400.0, 1e9) FROM messages
                 WHERE folder_id = ?1 AND (state = 'appending' OR (state = 'copied' AND dst_uid IS NULL))
                 ORDER BY id",
            )?;
            st.query_map([folder_id], |r| {
                Ok(DoubtRow {
                    id: r.get(0)?,
                    src_uid: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    fingerprint: r.get(3)?,
                    dst_floor: r.get(4)?,
                    confirmed: r.get(5)?,
                    age_secs: r.get(6)?,
                })
            })?
            .collect()
        })
    }

    pub fn copied(&self, folder_id: i64) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COPIED_COLUMNS} FROM messages
                     WHERE folder_id = ?1 AND state = 'copied' ORDER BY id"
            ))?;
            st.query_map([folder_id], copied_row)?.collect()
        })
    }

    /// Copied rows of an older source UIDVALIDITY: candidates for fingerprint matching.
    pub fn copied_other_validity(&self, folder_id: i64, validity: u32) -> Result<Vec<CopiedRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                &format!(
                    "SELECT {COPIED_COLUMNS} FROM messages
                     WHERE folder_id = ?1 AND state = 'copied' AND src_uidvalidity != ?2 ORDER BY id"
                ),
            )?;
            st.query_map(params![folder_id, validity], copied_row)?
            .collect()
        })
    }

    /// A source message under a new UIDVALIDITY is the same message as an old row: move the
    /// old row's outcome to the new key.
    pub fn carry_over(&self, old_id: i64, new_validity: u32, new_uid: u32) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO messages(folder_id, src_uidvalidity, src_uid, size, state, fingerprint, message_id,
                                      dst_uidvalidity, dst_uid, dst_floor)
                 SELECT folder_id, ?2, ?3, size, state, fingerprint, message_id, dst_uidvalidity, dst_uid, dst_floor
                 FROM messages WHERE id = ?1
                 ON CONFLICT(folder_id, src_uidvalidity, src_uid) DO UPDATE SET
                   state = excluded.state, fingerprint = excluded.fingerprint, message_id = excluded.message_id,
                   dst_uidvalidity = excluded.dst_uidvalidity, dst_uid = excluded.dst_uid",
                params![old_id, new_validity, new_uid],
            )?;
            tx.execute(
                "UPDATE messages SET state = 'superseded' WHERE id = ?1",
                [old_id],
            )?;
            tx.commit()
        })
    }

    /// Journal the intent to append, for a whole window, in one transaction.
    pub fn mark_appending(&self, intents: &[AppendIntent]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'appending', fingerprint = ?2, message_id = ?3,
                       dst_uidvalidity = ?4, dst_floor = ?5, size = ?6, attempts = attempts + 1,
                       updated_at = {NOW}
                     WHERE id = ?1"
                ))?;
                for i in intents {
                    st.execute(params![
                        i.id,
                        i.fingerprint,
                        i.message_id,
                        i.dst_uidvalidity,
                        i.dst_floor,
                        i.size as i64
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Journal confirmed appends (destination UID when the server told it).
    pub fn mark_copied(&self, done: &[(i64, Option<u32>)], dst_uidvalidity: u32) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'copied', dst_uid = ?2, dst_uidvalidity = ?3, reason = NULL,
                       updated_at = {NOW} WHERE id = ?1"
                ))?;
                for (id, uid) in done {
                    st.execute(params![id, uid, dst_uidvalidity])?;
                }
            }
            tx.commit()
        })
    }

    pub fn set_pending(&self, ids: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE messages SET state = 'pending', dst_uid = NULL, updated_at = {NOW} WHERE id = ?1"
                ))?;
                for id in ids {
                    st.execute([id])?;
                }
            }
            tx.commit()
        })
    }

    /// A message that will not be copied (oversize, refused): never silently.
    pub fn mark_skipped(&self, id: i64, state: &str, reason: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE messages SET state = ?2, reason = ?3, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, state, reason],
            )
            .map(drop)
        })
    }

    pub fn folder_totals(&self, folder_id: i64) -> Result<Totals> {
        self.totals_where("m.folder_id = ?1", folder_id)
    }

    pub fn mailbox_totals(&self, mailbox_id: i64) -> Result<Totals> {
        self.totals_where(
            "m.folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)",
            mailbox_id,
        )
    }

    fn totals_where(&self, cond: &str, arg: i64) -> Result<Totals> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT count(*), coalesce(sum(size),0),
                        coalesce(sum(state = 'copied'),0), coalesce(sum(CASE WHEN state = 'copied' THEN size END),0),
                        coalesce(sum(state = 'skipped'),0), coalesce(sum(state = 'failed'),0),
                        coalesce(sum(state IN ('pending','appending')),0)
                     FROM messages m WHERE {cond} AND state != 'superseded'"
                ),
                [arg],
                |r| {
                    Ok(Totals {
                        messages: r.get::<_, i64>(0)? as u64,
                        bytes: r.get::<_, i64>(1)? as u64,
                        copied: r.get::<_, i64>(2)? as u64,
                        copied_bytes: r.get::<_, i64>(3)? as u64,
                        skipped: r.get::<_, i64>(4)? as u64,
                        failed: r.get::<_, i64>(5)? as u64,
                        pending: r.get::<_, i64>(6)? as u64,
                    })
                },
            )
        })
    }

    /// Record an issue; a repeat of the same issue folds into one record with a count. A
    /// resolved issue that happens again is open again (its note stays, to show what was tried).
    pub fn record_issue(&self, i: &Issue<'_>) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO issues(severity, category, mailbox, folder, uid, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(severity, category, ifnull(mailbox,''), ifnull(folder,''), ifnull(uid,-1), message)
                     DO UPDATE SET count = count + 1, last_seen = {NOW},
                       state = CASE WHEN state = 'resolved' THEN 'open' ELSE state END"
                ),
                params![i.severity, i.category, i.mailbox, i.folder, i.uid, i.message],
            )
            .map(drop)
        })
    }

    /// (severity, category, mailbox, folder, uid, message, count) of every issue, newest first.
    #[allow(clippy::type_complexity)]
    pub fn issues(
        &self,
    ) -> Result<
        Vec<(
            String,
            String,
            Option<String>,
            Option<String>,
            Option<u32>,
            String,
            u32,
        )>,
    > {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT severity, category, mailbox, folder, uid, message, count FROM issues ORDER BY last_seen DESC, id DESC",
            )?;
            st.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect()
        })
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

    /// (state, last_error) of a mailbox, when the journal knows it.
    pub fn mailbox_state(&self, key: &str) -> Result<Option<(i64, String, Option<String>)>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, state, last_error FROM mailboxes WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
    }

    /// The newest issues (at most `limit`), newest first.
    pub fn issue_rows(&self, limit: usize) -> Result<Vec<IssueRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ISSUE_COLUMNS} FROM issues ORDER BY last_seen DESC, id DESC LIMIT ?1"
            ))?;
            st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], issue_row)?
                .collect()
        })
    }

    /// Acknowledge or resolve an issue (or reopen it), recording who, when and their note
    /// (an absent note keeps the previous one).
    pub fn set_issue_state(
        &self,
        id: i64,
        state: &str,
        by: &str,
        note: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE issues SET state = ?2, state_by = ?3, state_at = {NOW}, note = coalesce(?4, note)
                     WHERE id = ?1"
                ),
                params![id, state, by, note],
            )
            .map(drop)
        })
    }

    /// Every mailbox the journal knows, in the order they were first seen.
    pub fn mailbox_rows(&self) -> Result<Vec<MailboxRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, key, batch, src_user, dst_user, state, started_at, finished_at, last_error
                 FROM mailboxes ORDER BY id",
            )?;
            st.query_map([], |r| {
                Ok(MailboxRow {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    batch: r.get(2)?,
                    src_user: r.get(3)?,
                    dst_user: r.get(4)?,
                    state: r.get(5)?,
                    started_at: r.get(6)?,
                    finished_at: r.get(7)?,
                    last_error: r.get(8)?,
                })
            })?
            .collect()
        })
    }

    /// Folders the journal holds for a mailbox.
    /// Record what became of a folder this run: `folder_state::OPEN` once the source
    /// opened it, `LISTED` once all its messages are in the journal, `GONE` when the source
    /// no longer lists it, `REFUSED` when it could not be copied (CREATE on the destination
    /// or EXAMINE on the source refused, or a permanent error).
    pub fn set_folder_state(&self, folder_id: i64, state: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folders SET state = ?2 WHERE id = ?1",
                rusqlite::params![folder_id, state],
            )
            .map(drop)
        })
    }

    /// Source folders of a mailbox that were listed but not copied: refused, opened but not
    /// enumerated, or never opened (a run stopped or failed before them). Their messages are
    /// not all counted anywhere else, so no total can say "all copied" while one is here.
    /// (A journal from before folder states has `new` with a UIDVALIDITY for folders it
    /// enumerated: those count as listed.)
    pub fn folders_not_copied(&self, mailbox_id: i64) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT src_name FROM folders WHERE mailbox_id = ?1
                   AND (state IN (?2, ?4) OR (state = ?3 AND src_uidvalidity IS NULL))
                 ORDER BY src_name",
            )?;
            st.query_map(
                rusqlite::params![
                    mailbox_id,
                    folder_state::REFUSED,
                    folder_state::NEW,
                    folder_state::OPEN
                ],
                |r| r.get::<_, String>(0),
            )?
            .collect()
        })
    }

    pub fn folder_count(&self, mailbox_id: i64) -> Result<u64> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM folders WHERE mailbox_id = ?1",
                [mailbox_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    /// Messages of a mailbox not copied (skipped or failed), grouped by reason.
    pub fn skip_reasons(&self, mailbox_id: i64) -> Result<Vec<SkipRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT state, coalesce(reason, ''), count(*) FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state IN ('skipped', 'failed')
                 GROUP BY state, reason ORDER BY count(*) DESC, reason",
            )?;
            st.query_map([mailbox_id], |r| {
                Ok(SkipRow {
                    state: r.get(0)?,
                    reason: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }

    /// Messages (and their bytes) of a mailbox that vanished from the source before they
    /// were copied.
    pub fn expunged(&self, mailbox_id: i64) -> Result<(u64, u64)> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM messages
                 WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)
                   AND state = 'skipped' AND reason = ?2",
                params![mailbox_id, EXPUNGED_REASON],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }

    /// Copied messages and bytes per hour ("YYYY-MM-DDTHH") and mailbox id, by the time the
    /// copy was journalled, in the window [`since`, `until`) (from the beginning without `since`).
    pub fn copied_per_hour(
        &self,
        since: Option<&str>,
        until: &str,
    ) -> Result<Vec<(String, i64, u64, u64)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT substr(m.updated_at, 1, 13), f.mailbox_id, count(*), coalesce(sum(m.size), 0)
                 FROM messages m JOIN folders f ON f.id = m.folder_id
                 WHERE m.state = 'copied' AND m.updated_at >= ?1 AND m.updated_at < ?2
                 GROUP BY 1, 2 ORDER BY 1, 2",
            )?;
            st.query_map(params![since.unwrap_or(""), until], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            })?
            .collect()
        })
    }

    /// Note that a report was produced, covering the journal up to `until` (the start of the
    /// next daily report's window).
    pub fn record_report(&self, kind: &str, format: &str, until: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO reports(kind, format, created_at) VALUES (?1, ?2, ?3)",
                params![kind, format, until],
            )
            .map(drop)
        })
    }

    /// When the last report of this kind was produced.
    pub fn last_report(&self, kind: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row(
                "SELECT max(created_at) FROM reports WHERE kind = ?1",
                [kind],
                |r| r.get(0),
            )
        })
    }

    /// Tick or untick a checklist item, recording who and when.
    pub fn set_check(&self, id: &str, done: bool, by: &str, note: Option<&str>) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO checks(id, done, by, at, note) VALUES (?1, ?2, ?3, {NOW}, ?4)
                     ON CONFLICT(id) DO UPDATE SET done = excluded.done, by = excluded.by, at = excluded.at,
                       note = coalesce(excluded.note, note)"
                ),
                params![id, done, by, note],
            )
            .map(drop)
        })
    }

    /// id -> (done, by, at, note)
    #[allow(clippy::type_complexity)]
    pub fn checks(
        &self,
    ) -> Result<
        std::collections::HashMap<String, (bool, Option<String>, Option<String>, Option<String>)>,
    > {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT id, done, by, at, note FROM checks")?;
            st.query_map([], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            })?
            .collect()
        })
    }

    /// Journal an assessment in one transaction; returns its id.
    pub fn save_assessment(&self, a: &AssessmentRows) -> Result<i64> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO assessments(batches, complexity, factors) VALUES (?1, ?2, ?3)",
                params![a.batches, a.complexity, a.factors],
            )?;
            let id = tx.last_insert_rowid();
            for m in &a.mailboxes {
                tx.execute(
                    "INSERT INTO assessed_mailboxes(assessment_id, mailbox, batch, src_caps, dst_caps, src_error,
                       dst_error, read_error, folders, messages, bytes, to_copy_bytes, largest, oversize,
                       size_limit, quota_used, quota_limit, probe)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                    params![
                        id,
                        m.mailbox,
                        m.batch,
                        m.src_caps,
                        m.dst_caps,
                        m.src_error,
                        m.dst_error,
                        m.read_error,
                        m.folders as i64,
                        m.messages as i64,
                        m.bytes as i64,
                        m.to_copy_bytes as i64,
                        m.largest as i64,
                        m.oversize as i64,
                        m.size_limit.map(|v| v as i64),
                        m.quota_used.map(|v| v as i64),
                        m.quota_limit.map(|v| v as i64),
                        m.probe
                    ],
                )?;
            }
            for f in &a.folders {
                tx.execute(
                    "INSERT INTO assessed_folders(assessment_id, mailbox, folder, dst_folder, special, messages, bytes, largest)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        id,
                        f.mailbox,
                        f.folder,
                        f.dst_folder,
                        f.special,
                        f.messages as i64,
                        f.bytes as i64,
                        f.largest as i64
                    ],
                )?;
            }
            for m in &a.messages {
                tx.execute(
                    "INSERT INTO assessed_messages(assessment_id, mailbox, folder, uid, size, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, m.mailbox, m.folder, m.uid, m.size as i64, m.kind],
                )?;
            }
            for r in &a.risks {
                tx.execute(
                    "INSERT INTO risks(assessment_id, severity, mailbox, message) VALUES (?1, ?2, ?3, ?4)",
                    params![id, r.severity, r.mailbox, r.message],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
    }

    /// The mailboxes of the newest assessment that covered each mailbox (latest wins).
    pub fn latest_assessed_mailboxes(&self) -> Result<Vec<AssessedMailboxRow>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mailbox, batch, src_caps, dst_caps, src_error, dst_error, folders, messages, bytes,
                        to_copy_bytes, largest, oversize, size_limit, quota_used, quota_limit, probe, read_error
                 FROM assessed_mailboxes a
                 WHERE assessment_id = (SELECT max(assessment_id) FROM assessed_mailboxes b WHERE b.mailbox = a.mailbox)
                 ORDER BY mailbox",
            )?;
            st.query_map([], |r| {
                Ok(AssessedMailboxRow {
                    mailbox: r.get(0)?,
                    batch: r.get(1)?,
                    src_caps: r.get(2)?,
                    dst_caps: r.get(3)?,
                    src_error: r.get(4)?,
                    dst_error: r.get(5)?,
                    folders: r.get::<_, i64>(6)? as u64,
                    messages: r.get::<_, i64>(7)? as u64,
                    bytes: r.get::<_, i64>(8)? as u64,
                    to_copy_bytes: r.get::<_, i64>(9)? as u64,
                    largest: r.get::<_, i64>(10)? as u64,
                    oversize: r.get::<_, i64>(11)? as u64,
                    size_limit: r.get::<_, Option<i64>>(12)?.map(|v| v as u64),
                    quota_used: r.get::<_, Option<i64>>(13)?.map(|v| v as u64),
                    quota_limit: r.get::<_, Option<i64>>(14)?.map(|v| v as u64),
                    probe: r.get(15)?,
                    read_error: r.get(16)?,
                })
            })?
            .collect()
        })
    }

    /// Record auto-check results (one row per mailbox, "" for a project-wide check).
    pub fn set_check_results(
        &self,
        check_id: &str,
        rows: &[(String, String, String)],
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (mailbox, status, reason) in rows {
                tx.execute(
                    &format!(
                        "INSERT INTO check_results(check_id, mailbox, status, reason, at) VALUES (?1, ?2, ?3, ?4, {NOW})
                         ON CONFLICT(check_id, mailbox) DO UPDATE SET status = excluded.status,
                           reason = excluded.reason, at = excluded.at"
                    ),
                    params![check_id, mailbox, status, reason],
                )?;
            }
            tx.commit()
        })
    }

    pub fn check_results(&self) -> Result<Vec<CheckResultRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT check_id, mailbox, status, reason, at FROM check_results ORDER BY check_id, mailbox",
            )?;
            st.query_map([], |r| {
                Ok(CheckResultRow {
                    check_id: r.get(0)?,
                    mailbox: r.get(1)?,
                    status: r.get(2)?,
                    reason: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// The operator overrides an unmet checklist item, with a reason (stands until the item
    /// is checked or ticked again).
    pub fn override_check(&self, id: &str, by: &str, reason: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO checks(id, done, override_by, override_reason, override_at) VALUES (?1, 0, ?2, ?3, {NOW})
                     ON CONFLICT(id) DO UPDATE SET override_by = excluded.override_by,
                       override_reason = excluded.override_reason, override_at = excluded.override_at"
                ),
                params![id, by, reason],
            )
            .map(drop)
        })
    }

    /// id -> tick, note and override of every checklist item the operator touched.
    pub fn check_states(&self) -> Result<std::collections::HashMap<String, CheckStateRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, done, by, at, note, override_by, override_reason, override_at FROM checks",
            )?;
            st.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    CheckStateRow {
                        done: r.get(1)?,
                        by: r.get(2)?,
                        at: r.get(3)?,
                        note: r.get(4)?,
                        override_by: r.get(5)?,
                        override_reason: r.get(6)?,
                        override_at: r.get(7)?,
                    },
                ))
            })?
            .collect()
        })
    }

    /// Journal the outcome of `cutover verify` for one mailbox.
    pub fn record_verification(
        &self,
        mailbox: &str,
        batch: &str,
        ok: bool,
        summary: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO verifications(mailbox, batch, ok, summary) VALUES (?1, ?2, ?3, ?4)",
                params![mailbox, batch, ok, summary],
            )
            .map(drop)
        })
    }

    /// mailbox -> (ok, summary, at) of its newest verification.
    pub fn latest_verifications(
        &self,
    ) -> Result<std::collections::HashMap<String, (bool, String, String)>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT mailbox, ok, summary, at FROM verifications v
                 WHERE id = (SELECT max(id) FROM verifications w WHERE w.mailbox = v.mailbox)",
            )?;
            st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?
                .collect()
        })
    }

    /// Open critical issues that concern a mailbox.
    pub fn open_critical_mailbox_issues(&self) -> Result<Vec<IssueRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                &format!(
                    "SELECT {ISSUE_COLUMNS} FROM issues
                     WHERE severity = 'critical' AND state = 'open' AND mailbox IS NOT NULL ORDER BY id"
                ),
            )?;
            st.query_map([], issue_row)?
            .collect()
        })
    }

    /// Measured copy throughput of earlier finished `run`s: (bytes copied during them, their
    /// seconds, how many runs), from the messages journalled `copied` within each run's time.
    /// None when no finished run copied anything.
    pub fn measured_throughput(&self) -> Result<Option<(u64, f64, u32)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT (SELECT coalesce(sum(m.size), 0) FROM messages m
                          WHERE m.state = 'copied' AND m.updated_at >= r.started_at AND m.updated_at <= r.finished_at),
                        (julianday(r.finished_at) - julianday(r.started_at)) * 86400.0
                 FROM runs r WHERE r.command = 'run' AND r.finished_at IS NOT NULL",
            )?;
            let rows: Vec<(i64, f64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let (mut bytes, mut secs, mut n) = (0u64, 0f64, 0u32);
            for (b, s) in rows {
                if b > 0 && s > 0.0 {
                    bytes += b as u64;
                    secs += s;
                    n += 1;
                }
            }
            Ok((n > 0).then_some((bytes, secs, n)))
        })
    }

    /// Every sighting recorded for a Gmail-shaped source mailbox.
    pub fn gmail_seen(&self, mailbox_id: i64) -> Result<Vec<GmailSeenRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT folder, uidvalidity, uid, ident, own, keywords, reason FROM gmail_seen
                 WHERE mailbox_id = ?1 ORDER BY folder, uidvalidity, uid",
            )?;
            st.query_map([mailbox_id], |r| {
                Ok(GmailSeenRow {
                    folder: r.get(0)?,
                    uidvalidity: r.get(1)?,
                    uid: r.get(2)?,
                    ident: r.get(3)?,
                    own: r.get::<_, i64>(4)? != 0,
                    keywords: r.get(5)?,
                    reason: r.get(6)?,
                })
            })?
            .collect()
        })
    }

    /// Record new sightings (and their decisions) in one transaction; a sighting already
    /// recorded keeps its first decision.
    pub fn add_gmail_seen(&self, mailbox_id: i64, rows: &[GmailSeenRow]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO gmail_seen
                     (mailbox_id, folder, uidvalidity, uid, ident, own, keywords, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in rows {
                    st.execute(params![
                        mailbox_id,
                        r.folder,
                        r.uidvalidity,
                        r.uid,
                        r.ident,
                        r.own as i64,
                        r.keywords,
                        r.reason
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Owned sightings whose message the journal has not taken up yet (no row, or still
    /// pending): if such a message left its folder, another sighting must own it.
    pub fn gmail_owned_uncopied(&self, mailbox_id: i64) -> Result<Vec<GmailSeenRow>> {
        Ok(self
            .gmail_seen(mailbox_id)?
            .into_iter()
            .filter(|r| r.own)
            .filter(|r| {
                self.with(|c| {
                    c.query_row(
                        "SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id
                         WHERE f.mailbox_id = ?1 AND f.src_name = ?2 AND m.src_uidvalidity = ?3
                           AND m.src_uid = ?4 AND m.state != 'pending'",
                        params![mailbox_id, r.folder, r.uidvalidity, r.uid],
                        |row| row.get::<_, i64>(0),
                    )
                })
                .is_ok_and(|n| n == 0)
            })
            .collect())
    }

    /// Move the ownership of a message from a sighting that left its folder before it was
    /// copied to another sighting of the same message (one transaction).
    pub fn gmail_reassign(
        &self,
        mailbox_id: i64,
        from: &GmailSeenRow,
        to: &GmailSeenRow,
        keywords: &str,
        reason: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE gmail_seen SET own = 0, keywords = '', reason = ?5
                 WHERE mailbox_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
                params![mailbox_id, from.folder, from.uidvalidity, from.uid, reason],
            )?;
            tx.execute(
                "UPDATE gmail_seen SET own = 1, keywords = ?5, reason = NULL
                 WHERE mailbox_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
                params![mailbox_id, to.folder, to.uidvalidity, to.uid, keywords],
            )?;
            // A pending journal row of the gone sighting is superseded by the heir's (it is
            // neither to copy nor "expunged on the source": its message is copied elsewhere).
            tx.execute(
                "UPDATE messages SET state = 'superseded'
                 WHERE state = 'pending' AND src_uidvalidity = ?3 AND src_uid = ?4
                   AND folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1 AND src_name = ?2)",
                params![mailbox_id, from.folder, from.uidvalidity, from.uid],
            )?;
            tx.commit()
        })
    }

    /// (distinct messages, duplicate sightings not copied) of a Gmail-shaped source mailbox.
    pub fn gmail_counts(&self, mailbox_id: i64) -> Result<(u64, u64)> {
        self.with(|c| {
            c.query_row(
                "SELECT count(DISTINCT ident), coalesce(sum(own = 0), 0) FROM gmail_seen
                 WHERE mailbox_id = ?1",
                [mailbox_id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
    }

    pub fn mailbox_id(&self, key: &str) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row("SELECT id FROM mailboxes WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// A folder of an endpoint without UIDs: its UIDVALIDITY and UIDNEXT, set up on first use.
    pub fn ref_folder(&self, side: &str, account: &str, folder: &str) -> Result<(u32, u32)> {
        self.with(|c| ref_folder_in(c, side, account, folder))
    }

    /// The UIDs of these endpoint ids in a folder, allocating the next UIDs (in the order
    /// given) to ids never seen before; one transaction, so an id never gets two UIDs.
    pub fn ref_uids(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        refs: &[&str],
    ) -> Result<Vec<u32>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let (_, mut next) = ref_folder_in(&tx, side, account, folder)?;
            let mut out = Vec::with_capacity(refs.len());
            {
                let mut get = tx.prepare_cached(
                    "SELECT uid FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND ref = ?4",
                )?;
                let mut put = tx.prepare_cached(
                    "INSERT INTO refs(side, account, folder, uid, ref) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for r in refs {
                    let uid: Option<u32> = get
                        .query_row(params![side, account, folder, r], |row| row.get(0))
                        .optional()?;
                    let uid = match uid {
                        Some(u) => u,
                        None => {
                            put.execute(params![side, account, folder, next, r])?;
                            next += 1;
                            next - 1
                        }
                    };
                    out.push(uid);
                }
            }
            tx.execute(
                "UPDATE ref_folders SET uidnext = ?4 WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder, next],
            )?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// The endpoint ids behind these UIDs (UIDs never allocated are left out).
    pub fn refs_of(
        &self,
        side: &str,
        account: &str,
        folder: &str,
        uids: &[u32],
    ) -> Result<Vec<(u32, String)>> {
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT ref FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3 AND uid = ?4",
            )?;
            let mut out = Vec::new();
            for &u in uids {
                if let Some(r) = q
                    .query_row(params![side, account, folder, u], |row| row.get(0))
                    .optional()?
                {
                    out.push((u, r));
                }
            }
            Ok(out)
        })
    }

    /// Start a folder's UIDs afresh under a new UIDVALIDITY (the endpoint's folder was
    /// replaced by another of the same name): the engine then re-checks it as it would an
    /// IMAP folder whose UIDVALIDITY changed.
    pub fn reset_ref_folder(&self, side: &str, account: &str, folder: &str) -> Result<u32> {
        self.with(|c| {
            let tx = c.transaction()?;
            let (old, _) = ref_folder_in(&tx, side, account, folder)?;
            tx.execute(
                "DELETE FROM refs WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder],
            )?;
            let new = old.wrapping_add(1).max(1);
            tx.execute(
                "UPDATE ref_folders SET uidvalidity = ?4, uidnext = 1 \
                 WHERE side = ?1 AND account = ?2 AND folder = ?3",
                params![side, account, folder, new],
            )?;
            tx.commit()?;
            Ok(new)
        })
    }
}

fn ref_folder_in(
    c: &Connection,
    side: &str,
    account: &str,
    folder: &str,
) -> rusqlite::Result<(u32, u32)> {
    let row = c
        .query_row(
            "SELECT uidvalidity, uidnext FROM ref_folders WHERE side = ?1 AND account = ?2 AND folder = ?3",
            params![side, account, folder],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some(v) = row {
        return Ok(v);
    }
    // A UIDVALIDITY that differs between folders and journals (seconds since the epoch, as
    // IMAP servers commonly do), never 0.
    let validity = (chrono::Utc::now().timestamp() as u32).max(1);
    c.execute(
        "INSERT INTO ref_folders(side, account, folder, uidvalidity, uidnext) VALUES (?1, ?2, ?3, ?4, 1)",
        params![side, account, folder, validity],
    )?;
    Ok((validity, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_counts_as_copied_only_once_all_its_messages_are_journalled() {
        let (_d, s) = store();
        let mb = s.upsert_mailbox("a->a", "b", "a", "a").unwrap();
        let f = s.folder(mb, "Work", "Work").unwrap();
        let g = s.folder(mb, "Gone", "Gone").unwrap();
        let not = |s: &Journal| s.folders_not_copied(mb).unwrap();
        // Planned, never opened.
        assert_eq!(not(&s), ["Gone", "Work"]);
        // Opened (UIDVALIDITY known) but stopped before its messages were enumerated.
        s.set_folder_state(f.id, folder_state::OPEN).unwrap();
        s.set_src_uidvalidity(f.id, 7).unwrap();
        assert_eq!(not(&s), ["Gone", "Work"]);
        // Gone from the source: a warning, not a folder left behind.
        s.set_folder_state(g.id, folder_state::GONE).unwrap();
        assert_eq!(not(&s), ["Work"]);
        s.set_folder_state(f.id, folder_state::LISTED).unwrap();
        assert!(not(&s).is_empty());
        s.set_folder_state(f.id, folder_state::REFUSED).unwrap();
        assert_eq!(not(&s), ["Work"]);
    }

    #[test]
    fn endpoint_ids_get_stable_uids_in_first_seen_order() {
        let (_d, s) = store();
        let (v, next) = s.ref_folder("destination", "ann", "Inbox").unwrap();
        assert!(v > 0);
        assert_eq!(next, 1);
        assert_eq!(
            s.ref_uids("destination", "ann", "Inbox", &["b", "a"])
                .unwrap(),
            [1, 2]
        );
        assert_eq!(
            s.ref_uids("destination", "ann", "Inbox", &["a", "c"])
                .unwrap(),
            [2, 3]
        );
        // Another folder, side or account has its own numbering.
        assert_eq!(s.ref_uids("source", "ann", "Inbox", &["a"]).unwrap(), [1]);
        assert_eq!(s.ref_folder("destination", "ann", "Inbox").unwrap(), (v, 4));
        assert_eq!(
            s.refs_of("destination", "ann", "Inbox", &[3, 1, 9])
                .unwrap(),
            [(3, "c".to_string()), (1, "b".to_string())]
        );
        let v2 = s.reset_ref_folder("destination", "ann", "Inbox").unwrap();
        assert_ne!(v2, v);
        assert_eq!(
            s.ref_uids("destination", "ann", "Inbox", &["c"]).unwrap(),
            [1]
        );
    }

    fn store() -> (tempfile::TempDir, Journal) {
        let d = tempfile::tempdir().unwrap();
        let s = Journal::open(&d.path().join("j.sqlite"), Durability::Crash).unwrap();
        (d, s)
    }

    #[test]
    fn lifecycle_of_a_message() {
        let (_d, s) = store();
        let mb = s.upsert_mailbox("a->b", "pilot", "a", "b").unwrap();
        let f = s.folder(mb, "INBOX", "INBOX").unwrap();
        s.add_pending(f.id, 7, &[(1, 100), (2, 200)], 2, 3).unwrap();
        let f = s.folder(mb, "INBOX", "INBOX").unwrap();
        assert_eq!(f.src_high, 2);
        let p = s.pending(f.id, 7).unwrap();
        assert_eq!(p.len(), 2);
        s.mark_appending(&[AppendIntent {
            id: p[0].id,
            size: 100,
            fingerprint: "ff".into(),
            message_id: None,
            dst_uidvalidity: 9,
            dst_floor: 1,
        }])
        .unwrap();
        assert_eq!(s.in_doubt(f.id).unwrap().len(), 1);
        s.mark_copied(&[(p[0].id, Some(5))], 9).unwrap();
        assert!(s.in_doubt(f.id).unwrap().is_empty());
        let t = s.folder_totals(f.id).unwrap();
        assert_eq!((t.messages, t.copied, t.pending, t.bytes), (2, 1, 1, 300));
        // re-adding the same UIDs is a no-op
        s.add_pending(f.id, 7, &[(1, 100)], 1, 3).unwrap();
        assert_eq!(s.folder_totals(f.id).unwrap().messages, 2);
    }

    #[test]
    fn issues_fold() {
        let (_d, s) = store();
        let i = Issue {
            severity: "warning",
            category: "oversize",
            mailbox: Some("a"),
            folder: Some("INBOX"),
            uid: Some(3),
            message: "too big",
        };
        s.record_issue(&i).unwrap();
        s.record_issue(&i).unwrap();
        let all = s.issues().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].6, 2);
    }

    #[test]
    fn issue_states_record_who_when_and_a_note_and_a_repeat_reopens() {
        let (_d, s) = store();
        let i = Issue {
            severity: "error",
            category: "auth",
            mailbox: Some("bob->bob"),
            folder: None,
            uid: None,
            message: "login refused",
        };
        s.record_issue(&i).unwrap();
        let id = s.issue_rows(10).unwrap()[0].id;
        s.set_issue_state(id, "acknowledged", "maria", None)
            .unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!(r.state, "acknowledged");
        assert_eq!(r.state_by.as_deref(), Some("maria"));
        assert!(r.state_at.is_some() && r.note.is_none());
        // Acknowledged stays acknowledged when it happens again.
        s.record_issue(&i).unwrap();
        assert_eq!(s.issue_rows(10).unwrap()[0].state, "acknowledged");
        s.set_issue_state(id, "resolved", "joe", Some("password reset"))
            .unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!(
            (r.state.as_str(), r.state_by.as_deref(), r.note.as_deref()),
            ("resolved", Some("joe"), Some("password reset"))
        );
        assert!(r.first_seen <= r.last_seen);
        // Resolved, then it happens again: open again, note kept, counted.
        s.record_issue(&i).unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!((r.state.as_str(), r.count), ("open", 3));
        assert_eq!(r.note.as_deref(), Some("password reset"));
    }

    #[test]
    fn an_older_journal_gets_the_new_columns_and_tables() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("old.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE issues (id INTEGER PRIMARY KEY, severity TEXT NOT NULL, category TEXT NOT NULL,
                   mailbox TEXT, folder TEXT, uid INTEGER, message TEXT NOT NULL,
                   first_seen TEXT NOT NULL DEFAULT '2026-01-01T00:00:00.000Z',
                   last_seen TEXT NOT NULL DEFAULT '2026-01-01T00:00:00.000Z',
                   count INTEGER NOT NULL DEFAULT 1, state TEXT NOT NULL DEFAULT 'open');
                 INSERT INTO issues(severity, category, message) VALUES ('error', 'server', 'old');",
            )
            .unwrap();
        }
        let s = Journal::open(&path, Durability::Crash).unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!((r.message.as_str(), r.state_by.as_deref()), ("old", None));
        s.set_issue_state(r.id, "resolved", "maria", Some("fixed"))
            .unwrap();
        assert_eq!(s.last_report("daily").unwrap(), None);
        s.record_report("daily", "md", "2026-11-25T00:00:00.000Z")
            .unwrap();
        assert_eq!(
            s.last_report("daily").unwrap().as_deref(),
            Some("2026-11-25T00:00:00.000Z")
        );
        assert_eq!(s.last_report("final").unwrap(), None);
        // Opening again changes nothing.
        drop(s);
        let s = Journal::open(&path, Durability::Crash).unwrap();
        assert_eq!(s.issue_rows(10).unwrap()[0].note.as_deref(), Some("fixed"));
    }
}
