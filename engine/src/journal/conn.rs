//! The one connection every query of the journal goes through, on either backend: SQLite
//! (the file, the default) or PostgreSQL (`state = "postgres://…"`). Its calls are the
//! rusqlite calls the journal was written with (`execute`, `query_row`, `prepare_cached`
//! and `query_map`, `transaction`, `last_insert_rowid`), with [`Value`] parameters and
//! [`Row`]s of values; a PostgreSQL statement is the same SQL rewritten by `dialect.rs`.

use super::dialect;
use super::pg::PgConn;
use super::pg_value::{PgParam, row_values};
use super::sql::{Params, Result, Row, SqlError, Value};

/// What the journal cost this process so far (issue 20 item 5, `bench/journal-cost.py`):
/// statements sent, commits (explicit, and every write outside a transaction, which commits
/// on its own), the time spent in them, and the rows the writes changed. Counted for every
/// journal connection of the process, on either backend, at the cost of a few atomic adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalCost {
    pub statements: u64,
    pub commits: u64,
    /// Time in commits: a COMMIT, or a write outside a transaction (all of it).
    pub commit_micros: u64,
    /// Time in every statement, commits included.
    pub micros: u64,
    /// Rows inserted, updated or deleted by `execute`.
    pub rows_written: u64,
}

mod cost {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    use std::time::Instant;

    pub(super) static STATEMENTS: AtomicU64 = AtomicU64::new(0);
    pub(super) static COMMITS: AtomicU64 = AtomicU64::new(0);
    pub(super) static COMMIT_MICROS: AtomicU64 = AtomicU64::new(0);
    pub(super) static MICROS: AtomicU64 = AtomicU64::new(0);
    pub(super) static ROWS: AtomicU64 = AtomicU64::new(0);
    /// Inside BEGIN … COMMIT (one connection at a time writes: the journal's lock).
    pub(super) static IN_TX: AtomicBool = AtomicBool::new(false);

    /// Count one statement that started at `t`; `commit` when it committed.
    pub(super) fn count(t: Instant, commit: bool, rows: u64) {
        let us = t.elapsed().as_micros() as u64;
        STATEMENTS.fetch_add(1, Relaxed);
        MICROS.fetch_add(us, Relaxed);
        ROWS.fetch_add(rows, Relaxed);
        if commit {
            COMMITS.fetch_add(1, Relaxed);
            COMMIT_MICROS.fetch_add(us, Relaxed);
        }
    }
}

/// The journal's cost in this process so far.
pub fn journal_cost() -> JournalCost {
    use std::sync::atomic::Ordering::Relaxed;
    JournalCost {
        statements: cost::STATEMENTS.load(Relaxed),
        commits: cost::COMMITS.load(Relaxed),
        commit_micros: cost::COMMIT_MICROS.load(Relaxed),
        micros: cost::MICROS.load(Relaxed),
        rows_written: cost::ROWS.load(Relaxed),
    }
}

pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(PgConn),
}

fn to_sqlite(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Integer(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(t) => V::Text(t),
        Value::Blob(b) => V::Blob(b),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl PgConn {
    fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        let pg = dialect::to_postgres(sql);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = cache.get(&pg) {
            return Ok(s.clone());
        }
        let s = self.wait(self.client.prepare(&pg))?;
        cache.insert(pg, s.clone());
        Ok(s)
    }

    fn rows(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        let st = self.statement(sql)?;
        let params: Vec<PgParam> = params.into_iter().map(PgParam).collect();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = self.wait(self.client.query(&st, &refs))?;
        rows.iter()
            .map(|r| {
                row_values(r)
                    .map(|values| Row { values })
                    .map_err(SqlError::from)
            })
            .collect()
    }

    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<usize> {
        let st = self.statement(sql)?;
        let params: Vec<PgParam> = params.into_iter().map(PgParam).collect();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        Ok(self.wait(self.client.execute(&st, &refs))? as usize)
    }

    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.wait(self.client.batch_execute(sql))?)
    }
}

impl Conn {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// Every row of a query.
    pub fn rows<P: Params>(&self, sql: &str, params: P) -> Result<Vec<Row>> {
        let t = std::time::Instant::now();
        let rows = self.rows_uncounted(sql, params);
        cost::count(t, false, 0);
        rows
    }

    fn rows_uncounted<P: Params>(&self, sql: &str, params: P) -> Result<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let values = params.values().into_iter().map(to_sqlite);
                let mut rows = st.query(rusqlite::params_from_iter(values))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let values = (0..n)
                        .map(|i| r.get_ref(i).map(from_sqlite))
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    out.push(Row { values });
                }
                Ok(out)
            }
            Conn::Postgres(p) => p.rows(sql, params.values()),
        }
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let t = std::time::Instant::now();
        let n = self.execute_uncounted(sql, params);
        let alone = !cost::IN_TX.load(std::sync::atomic::Ordering::Relaxed);
        cost::count(t, alone, *n.as_ref().unwrap_or(&0) as u64);
        n
    }

    fn execute_uncounted<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let values = params.values().into_iter().map(to_sqlite);
                Ok(st.execute(rusqlite::params_from_iter(values))?)
            }
            Conn::Postgres(p) => p.execute(sql, params.values()),
        }
    }

    /// Several statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let t = std::time::Instant::now();
        let r = self.execute_batch_uncounted(sql);
        match sql {
            "BEGIN" => cost::IN_TX.store(r.is_ok(), Relaxed),
            "COMMIT" | "ROLLBACK" => cost::IN_TX.store(false, Relaxed),
            _ => {}
        }
        cost::count(t, sql == "COMMIT", 0);
        r
    }

    fn execute_batch_uncounted(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(p) => p.batch(&dialect::to_postgres(sql)),
        }
    }

    /// Several statements as they are, not rewritten for PostgreSQL (its own functions).
    pub fn execute_batch_raw(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(p) => p.batch(sql),
        }
    }

    /// The first row of a query through `f`; no row is [`SqlError::NoRows`] (see
    /// `OptionalExtension`).
    pub fn query_row<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        let rows = self.rows(sql, params)?;
        f(rows.first().ok_or(SqlError::NoRows)?)
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare(sql)
    }

    /// The id of the row the last INSERT made (PostgreSQL: the identity it drew last).
    pub fn last_insert_rowid(&self) -> Result<i64> {
        match self {
            Conn::Sqlite(c) => Ok(c.last_insert_rowid()),
            Conn::Postgres(_) => self.query_row("SELECT lastval()", [0i64; 0], |r| r.get(0)),
        }
    }

    /// A transaction: committed by [`Tx::commit`], rolled back when dropped without.
    /// SQLite's is deferred (rusqlite's default), PostgreSQL's READ COMMITTED; with one
    /// connection per process behind the journal's lock, both run one at a time here.
    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        self.execute_batch("BEGIN")?;
        Ok(Tx {
            conn: self,
            done: false,
        })
    }
}

/// A statement to run with parameters (`prepare_cached`); each backend caches its own.
pub struct Statement<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Statement<'_> {
    pub fn query_map<P: Params, T>(
        &mut self,
        params: P,
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let rows = self.conn.rows(&self.sql, params)?;
        Ok(rows.iter().map(f).collect::<Vec<_>>().into_iter())
    }

    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    pub fn query_row<P: Params, T>(
        &mut self,
        params: P,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.conn.query_row(&self.sql, params, f)
    }
}

pub struct Tx<'c> {
    conn: &'c mut Conn,
    done: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.conn.execute_batch("COMMIT")
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
