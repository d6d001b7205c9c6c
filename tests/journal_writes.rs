//! The journal's writes are never lost or dropped silently.

mod support;

use std::process::Command;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-it")
        .tempdir()
        .unwrap()
}

/// The journal's SQLite locks are POSIX locks, which a process loses on closing any
/// descriptor of the file: cutover must never open and close the journal (or its -wal and
/// -shm) behind SQLite's back while it has it open. Otherwise another process that opens and
/// closes the journal meanwhile (`cutover report` or `plan` during a run, sqlite3) takes
/// itself for the last user, checkpoints and deletes the -wal, and every later write of the
/// running engine goes to a deleted file: lost without an error.
#[test]
fn another_process_closing_the_journal_loses_none_of_its_writes() {
    let dir = tmp();
    let path = dir.path().join("state.sqlite");
    let store = cutover::store::Store::open(&path, cutover::config::Durability::Crash).unwrap();
    store.upsert_mailbox("a->a", "b", "a", "a").unwrap();
    let count = || {
        let o = Command::new("python3")
            .arg("-c")
            .arg(
                "import sqlite3, sys\n\
                 c = sqlite3.connect(sys.argv[1])\n\
                 print(c.execute('SELECT count(*) FROM mailboxes').fetchone()[0])\n\
                 c.close()\n",
            )
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(count(), "1");
    store.upsert_mailbox("b->b", "b", "b", "b").unwrap();
    assert_eq!(
        count(),
        "2",
        "a write after another process closed the journal was lost"
    );
    assert!(
        dir.path().join("state.sqlite-wal").exists(),
        "the -wal of the open journal was deleted"
    );
}
