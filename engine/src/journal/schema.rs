//! The journal's tables, and the columns added to them since they first shipped (a journal
//! written by an older cutover gets them when it is opened).

use super::conn::Conn;
use super::sql::{Result, params};

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
-- Shared/resource mailboxes, lists and groups the destination must have (from the
-- [recipients] CSV; later from a directory API), as last listed. members and aliases are
-- ';'-separated addresses, access ';'-separated user:Right; state is 'listed' until
-- something creates or verifies the recipient.
CREATE TABLE IF NOT EXISTS recipients (
  address TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  display_name TEXT NOT NULL,
  members TEXT NOT NULL,
  aliases TEXT NOT NULL,
  access TEXT NOT NULL,
  origin TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'listed',
  listed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
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
    // What cutover last wrote at a destination ref (an event or contact, by its normalised
    // fingerprint): a later version from the source replaces it only while it is unchanged.
    ("refs", "written", "TEXT"),
    // The version and commit of the binary that ran the command (`cutover --version`).
    ("runs", "version", "TEXT"),
    // The mailbox's type word (user, shared, room, equipment); NULL for a journal written
    // before types existed, read as user.
    ("mailboxes", "mailbox_type", "TEXT"),
    // Owners of a group found through a directory API (`;`-separated).
    ("recipients", "owners", "TEXT"),
    // How a verification compared (content or fingerprint; NULL: written before content
    // verification existed, read as fingerprint) and its scope: `full` (every mailbox
    // selected) or `sample` with the share of mailboxes and the seed that drew it; the
    // items whose content was compared.
    ("verifications", "method", "TEXT"),
    ("verifications", "scope", "TEXT"),
    ("verifications", "sample_percent", "REAL"),
    ("verifications", "sample_seed", "INTEGER"),
    ("verifications", "items_checked", "INTEGER"),
    // A folder renamed on the source and followed on the destination (issue 19): the
    // destination name it had while its RENAME there is under way (NULL otherwise), so a
    // run killed between the journal and the destination finishes it.
    ("folders", "renamed_from", "TEXT"),
];

/// Migration steps after version 1: (version, SQL), applied in order to a journal whose
/// `schema_version` is lower, each with the version it reaches, in one transaction. New steps
/// are appended here, never edited.
const STEPS: &[(u32, &str)] = &[
    // Backups and restores (`cutover backup`, `cutover restore`): one row per mailbox and
    // operation; `kind` is backup or restore, `side` the side read (backup) or written
    // (restore), `dir` the backup directory, `verified_at` set by `cutover backup --verify`.
    (
        2,
        "CREATE TABLE IF NOT EXISTS backups (
           id INTEGER PRIMARY KEY,
           kind TEXT NOT NULL DEFAULT 'backup',
           mailbox TEXT NOT NULL,
           side TEXT NOT NULL,
           dir TEXT NOT NULL,
           started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           finished_at TEXT,
           verified_at TEXT,
           messages INTEGER NOT NULL DEFAULT 0,
           bytes INTEGER NOT NULL DEFAULT 0,
           outcome TEXT NOT NULL DEFAULT 'running'
         );
         CREATE INDEX IF NOT EXISTS backups_mailbox ON backups (mailbox, kind, side);",
    ),
    // Delta passes (`cutover sync`): the source folder's HIGHESTMODSEQ at the last pass
    // (`folders.src_modseq`, CONDSTORE); per message the flags cutover last set on the
    // destination (`messages.flags`, space-separated), and while a move is under way its
    // target (`move_folder`: the folder row, `move_uid`/`move_validity`: the message's UID in
    // the source folder it moved to; `dst_floor` holds the target's UIDNEXT before the move).
    // `sync_passes`: one row per pass with its counts; `sync_changes`: every move and
    // removal cutover made on the destination (and each deletion it reported), so that
    // checks, verification, rollback and fail-back know them for cutover's own.
    (
        3,
        "ALTER TABLE folders ADD COLUMN src_modseq INTEGER;
         ALTER TABLE messages ADD COLUMN flags TEXT;
         ALTER TABLE messages ADD COLUMN move_folder INTEGER;
         ALTER TABLE messages ADD COLUMN move_uid INTEGER;
         ALTER TABLE messages ADD COLUMN move_validity INTEGER;
         CREATE TABLE IF NOT EXISTS sync_passes (
           id INTEGER PRIMARY KEY,
           batches TEXT NOT NULL,
           started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           finished_at TEXT,
           duration_ms INTEGER,
           new_messages INTEGER NOT NULL DEFAULT 0,
           flag_changes INTEGER NOT NULL DEFAULT 0,
           moves INTEGER NOT NULL DEFAULT 0,
           deletions INTEGER NOT NULL DEFAULT 0,
           removed INTEGER NOT NULL DEFAULT 0,
           outcome TEXT NOT NULL DEFAULT 'running'
         );
         CREATE TABLE IF NOT EXISTS sync_changes (
           id INTEGER PRIMARY KEY,
           mailbox TEXT NOT NULL,
           kind TEXT NOT NULL,
           folder TEXT NOT NULL,
           to_folder TEXT,
           dst_uid INTEGER,
           to_dst_uid INTEGER,
           fingerprint TEXT,
           at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         );
         CREATE INDEX IF NOT EXISTS sync_changes_mailbox ON sync_changes (mailbox, kind);",
    ),
    // The switch (`cutover finalize`): per mailbox the moment mail went to the destination
    // for good, per destination folder its UIDNEXT then (fail-back copies back what arrived
    // at or above it and was not written by cutover).
    (
        4,
        "ALTER TABLE mailboxes ADD COLUMN switched_at TEXT;
         ALTER TABLE folders ADD COLUMN dst_switch_uidnext INTEGER",
    ),
    // Mailbox-readiness checks (`cutover access`): one row per mailbox and check; `state` a
    // word of `access::Readiness`, `probed` when a test item was placed, read and removed.
    (
        9,
        "CREATE TABLE IF NOT EXISTS access_checks (
           id INTEGER PRIMARY KEY,
           mailbox TEXT NOT NULL,
           at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           ready INTEGER NOT NULL,
           state TEXT NOT NULL,
           detail TEXT NOT NULL,
           probed INTEGER NOT NULL DEFAULT 0
         );
         CREATE INDEX IF NOT EXISTS access_checks_mailbox ON access_checks (mailbox);",
    ),
    // What `cutover recipients` created (or found) on the destination through a directory
    // API: `api` graph or google, `what` group, member or calendar, `address` the group or
    // mailbox, `target` the member or user ('' for a group), `remote_id` the created object's
    // id, `parent_id` the group's id for a member; `state` pending (written before the
    // create: a lost answer is resolved by looking), created (cutover made it: rollback
    // removes it), existed (it was there already: left alone), removed (by rollback).
    (
        10,
        "CREATE TABLE IF NOT EXISTS recipient_changes (
           id INTEGER PRIMARY KEY,
           api TEXT NOT NULL,
           what TEXT NOT NULL,
           address TEXT NOT NULL,
           target TEXT NOT NULL DEFAULT '',
           remote_id TEXT,
           parent_id TEXT,
           state TEXT NOT NULL,
           at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           UNIQUE (api, what, address, target)
         );",
    ),
    // The operator's report notes (`cutover report --note`, the console's Reports tab):
    // `section` is lessons or recommendations; every edit is a row (who, when), the newest
    // of a section is the one the reports show.
    (
        11,
        "CREATE TABLE IF NOT EXISTS report_notes (
           id INTEGER PRIMARY KEY,
           section TEXT NOT NULL,
           text TEXT NOT NULL,
           by TEXT NOT NULL,
           at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         );",
    ),
    // Workers and mailbox leases (issue 20 item 2, first part): each cutover process working
    // the journal registers (`id` host:pid:start, `heartbeat_at` renewed); a mailbox is
    // worked by the worker holding its lease until `expires_at` (Julian days, the database's
    // clock: every worker compares against the same one).
    (
        12,
        "CREATE TABLE IF NOT EXISTS workers (
           id TEXT PRIMARY KEY,
           host TEXT NOT NULL,
           pid INTEGER NOT NULL,
           started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           heartbeat_at REAL NOT NULL,
           state TEXT NOT NULL DEFAULT 'running'
         );
         CREATE TABLE IF NOT EXISTS leases (
           mailbox TEXT PRIMARY KEY,
           worker TEXT NOT NULL,
           expires_at REAL NOT NULL,
           taken_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         );",
    ),
    // Graph delta queries on a source mail folder (issue 19): per folder the deltaLinks in
    // order (`seq`, the change marker a delta pass records in `folders.src_modseq`), and for
    // each the ids of the messages changed since the link before it (newline-separated;
    // NULL when the previous link was rejected or there was none: compare all).
    (
        13,
        "CREATE TABLE IF NOT EXISTS graph_delta (
           side TEXT NOT NULL,
           account TEXT NOT NULL,
           folder TEXT NOT NULL,
           seq INTEGER NOT NULL,
           link TEXT NOT NULL,
           changed TEXT,
           PRIMARY KEY (side, account, folder, seq)
         );",
    ),
    // Delta passes: events and contacts changed on the source and written again in place of
    // the version cutover wrote, counted per pass (a row only for a pass that had some).
    (
        14,
        "CREATE TABLE IF NOT EXISTS sync_pass_items (
           pass_id INTEGER NOT NULL,
           changed INTEGER NOT NULL DEFAULT 0,
           PRIMARY KEY (pass_id)
         )",
    ),
    // A Gmail API source's history (issue 19): the mailbox's historyId taken before cutover
    // first read it, the starting point of the first delta pass's users.history.list.
    (
        15,
        "CREATE TABLE IF NOT EXISTS gmail_history (
           side TEXT NOT NULL,
           account TEXT NOT NULL,
           history_id INTEGER NOT NULL,
           PRIMARY KEY (side, account)
         );",
    ),
    // A worker's running totals for the fleet console (issue 20): messages and bytes it
    // appended to the destination since it started, set by each heartbeat; and the
    // connection slots a fleet leases per endpoint host (`idx` one of its
    // max_connections), renewed by the heartbeat like mailbox leases.
    (
        16,
        "ALTER TABLE workers ADD COLUMN messages INTEGER;
         ALTER TABLE workers ADD COLUMN bytes INTEGER;
         CREATE TABLE IF NOT EXISTS slots (
           endpoint TEXT NOT NULL,
           idx INTEGER NOT NULL,
           worker TEXT NOT NULL,
           expires_at REAL NOT NULL,
           PRIMARY KEY (endpoint, idx)
         )",
    ),
    // Fleet commands (issue 20 item 3): every stop, pause or start issued for the whole fleet
    // of engines on a PostgreSQL journal (`cutover stop`, the console), in order (`id`);
    // `batch` NULL for all batches, `origin` the engine or shell that issued it (host:pid).
    // Engines are told by NOTIFY and read what they missed here after a reconnection.
    (
        17,
        "CREATE TABLE IF NOT EXISTS fleet_commands (
           id INTEGER PRIMARY KEY,
           kind TEXT NOT NULL,
           batch TEXT,
           issued_by TEXT NOT NULL,
           origin TEXT NOT NULL,
           at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         );",
    ),
    // A message's destination UID within its folder: the look-up of the row an item copied
    // again supersedes (`mark_copied`, every confirmed APPEND) reads one entry here instead of
    // every copied row of the folder.
    (
        18,
        "CREATE INDEX IF NOT EXISTS messages_dst ON messages (folder_id, dst_uid)",
    ),
];

/// The schema version a journal has once every step is applied.
#[cfg(test)]
pub(super) fn last_version() -> u32 {
    STEPS.last().map(|(v, _)| *v).unwrap_or(1)
}

/// Create the tables a journal lacks, add the columns it lacks, apply the migration steps it
/// has not had, and record its schema version. On PostgreSQL the same tables, columns and
/// steps (rewritten by `dialect.rs`), in one transaction under an advisory lock (several
/// cutover processes may open the journal at once), after the functions that stand in for
/// SQLite's own.
pub(super) fn apply(conn: &mut Conn) -> Result<()> {
    if conn.is_postgres() {
        return apply_postgres(conn);
    }
    conn.execute_batch(SCHEMA)?;
    for (table, column, decl) in COLUMNS {
        add_column(conn, table, column, decl)?;
    }
    let version = version(conn)?;
    for (to, sql) in STEPS.iter().filter(|(to, _)| *to > version) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; UPDATE meta SET value = '{to}' WHERE key = 'schema_version'; COMMIT;"
        ))?;
    }
    Ok(())
}

/// The schema version, 1 recorded if none is yet.
fn version(conn: &Conn) -> Result<u32> {
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1')",
        params![],
    )?;
    conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
        params![],
        |r| r.get(0),
    )
}

/// SQLite's `julianday` and `sum` over a comparison (a count of rows where it holds), which
/// the journal's queries use, as PostgreSQL functions.
const PG_FUNCTIONS: &str = r#"
CREATE OR REPLACE FUNCTION julianday(t text) RETURNS double precision LANGUAGE sql VOLATILE AS
  $$ SELECT extract(epoch FROM CASE WHEN t = 'now' THEN clock_timestamp() ELSE t::timestamptz END)::double precision / 86400.0 + 2440587.5 $$;
CREATE OR REPLACE FUNCTION cutover_count_true(n bigint, b boolean) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT n + CASE WHEN b THEN 1 ELSE 0 END $$;
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = cutover_count_true, STYPE = bigint, INITCOND = '0');
"#;

/// The key of the advisory lock that serialises schema changes on PostgreSQL.
const PG_SCHEMA_LOCK: i64 = 0x0063_7574_6f76_6572;

fn apply_postgres(conn: &mut Conn) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch_raw(&format!("SELECT pg_advisory_xact_lock({PG_SCHEMA_LOCK})"))?;
    // A journal already at this version is left alone: the DDL below (ALTER TABLE … IF NOT
    // EXISTS still takes the table's exclusive lock) would block, or deadlock with, the
    // other workers of a fleet writing the journal while this one starts.
    if postgres_current(&tx)? {
        return tx.commit();
    }
    tx.execute_batch_raw(PG_FUNCTIONS)?;
    tx.execute_batch(SCHEMA)?;
    for (table, column, decl) in COLUMNS {
        tx.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {decl}"
        ))?;
    }
    let version = version(&tx)?;
    for (to, sql) in STEPS.iter().filter(|(to, _)| *to > version) {
        tx.execute_batch(&format!(
            "{sql}; UPDATE meta SET value = '{to}' WHERE key = 'schema_version'"
        ))?;
    }
    tx.commit()
}

/// Whether a PostgreSQL journal has every table step, column and function this build
/// knows (read from the catalogs only: no lock that a running worker would wait for).
fn postgres_current(c: &Conn) -> Result<bool> {
    let count = |sql: &str| c.query_row(sql, params![], |r| r.get::<_, i64>(0));
    if count(
        "SELECT count(*) FROM pg_class WHERE relname = 'meta' AND relnamespace = current_schema()::regnamespace",
    )? == 0
    {
        return Ok(false);
    }
    let last = STEPS.last().map(|(v, _)| *v).unwrap_or(1);
    let version = count(&format!(
        "SELECT count(*) FROM meta WHERE key = 'schema_version' AND value = '{last}'"
    ))?;
    let functions =
        count("SELECT count(*) FROM pg_proc WHERE proname IN ('julianday', 'cutover_count_true')")?;
    let pairs: Vec<String> = COLUMNS
        .iter()
        .map(|(t, col, _)| format!("('{t}', '{col}')"))
        .collect();
    let columns = count(&format!(
        "SELECT count(*) FROM information_schema.columns
         WHERE table_schema = current_schema() AND (table_name, column_name) IN ({})",
        pairs.join(", ")
    ))?;
    Ok(version == 1 && functions >= 2 && columns == COLUMNS.len() as i64)
}

/// Add a column unless the table already has it (SQLite has no ADD COLUMN IF NOT EXISTS).
fn add_column(c: &Conn, table: &str, column: &str, decl: &str) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::super::db::Journal;
    use super::*;
    use crate::config::Durability;

    #[test]
    fn an_older_journal_gets_the_new_columns_and_tables() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("old.sqlite");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
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
        // The migration steps ran once: the backups table is there, the version is the last.
        let v: String = s
            .with(|c| {
                c.query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    params![],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(v, STEPS.last().unwrap().0.to_string());
        assert!(s.backup_rows().unwrap().is_empty());
    }

    /// A fleet worker starting on a current PostgreSQL journal changes no table: it opens
    /// while another worker holds a write lock on `mailboxes` (an ALTER TABLE would wait for
    /// it, or deadlock with it).
    #[test]
    fn opening_a_current_postgres_journal_waits_for_no_table_lock() {
        let (_d, first) = crate::journal::db::store_postgres();
        let target = first.postgres_target().expect("a postgres journal").clone();
        first
            .with(|c| c.execute_batch_raw("BEGIN; LOCK TABLE mailboxes IN ROW EXCLUSIVE MODE"))
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let d = tempfile::tempdir().unwrap();
            let r = Journal::open_postgres(&target, &d.path().join("j"), false).map(drop);
            let _ = tx.send(r.map_err(|e| e.to_string()));
        });
        let opened = rx.recv_timeout(std::time::Duration::from_secs(20));
        first.with(|c| c.execute_batch_raw("ROLLBACK")).unwrap();
        assert_eq!(opened, Ok(Ok(())), "the second open waited for the lock");
    }
}
