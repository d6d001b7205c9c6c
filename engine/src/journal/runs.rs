//! Runs (each command that works the project) and reports produced, and what they tell:
//! the copy rate per hour and the measured throughput of earlier runs.

use super::sql::params;

use super::db::{Journal, NOW, Result};

impl Journal {
    /// Record that a command starts, with the version (and commit) of the binary running it.
    pub fn begin_run(&self, command: &str, version: &str) -> Result<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs(command, version) VALUES (?1, ?2)",
                [command, version],
            )?;
            c.last_insert_rowid()
        })
    }

    /// Which versions of cutover ran commands on this project: (version, runs, first and
    /// last start), oldest first; runs from before versions were recorded are "unrecorded".
    pub fn run_versions(&self) -> Result<Vec<(String, u64, String, String)>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT coalesce(version, 'unrecorded'), count(*), min(started_at), max(started_at)
                 FROM runs GROUP BY 1 ORDER BY min(started_at)",
            )?;
            st.query_map(params![], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?))
            })?
            .collect()
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
                .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<super::sql::Result<_>>()?;
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

    /// The runs that overlap the window [`since`, `until`), oldest first: (command, start, end
    /// (None while a run has not finished, or died without finishing), and the items and
    /// bytes journalled as copied while it ran, inside the window (0 without an end)).
    #[allow(clippy::type_complexity)]
    pub fn runs_between(
        &self,
        since: &str,
        until: &str,
    ) -> Result<Vec<(String, String, Option<String>, u64, u64)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT r.command, r.started_at, r.finished_at,
                        (SELECT count(*) FROM messages m WHERE m.state = 'copied'
                          AND m.updated_at >= max(r.started_at, ?1) AND m.updated_at <= min(r.finished_at, ?2)),
                        (SELECT coalesce(sum(m.size), 0) FROM messages m WHERE m.state = 'copied'
                          AND m.updated_at >= max(r.started_at, ?1) AND m.updated_at <= min(r.finished_at, ?2))
                 FROM runs r
                 WHERE r.started_at < ?2 AND (r.finished_at IS NULL OR r.finished_at >= ?1)
                 ORDER BY r.started_at, r.id",
            )?;
            st.query_map(params![since, until], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                    r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
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
}
