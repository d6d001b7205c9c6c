//! `[project] state = "postgres://USER@HOST:PORT/DATABASE"` and `[project.postgres]`: the
//! journal on a PostgreSQL server instead of the SQLite file (see docs/guide/postgres.md).

use std::path::PathBuf;

use serde::Deserialize;

/// `[project.postgres]`: where the password comes from when the URL has none.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostgres {
    /// The name of an environment variable holding the password.
    #[serde(default)]
    pub(super) password_env: Option<String>,
    /// A file whose first line is the password (relative to the project file).
    #[serde(default)]
    pub(super) password_file: Option<String>,
}

/// `[project.fleet]`: how the workers of a PostgreSQL journal share its mailboxes.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFleet {
    /// How long a mailbox's lease lasts without a renewal (seconds, default 30).
    #[serde(default)]
    pub(super) lease_seconds: Option<f64>,
}

/// The lease time when `[project.fleet] lease_seconds` is not set.
pub const DEFAULT_LEASE_SECONDS: f64 = 30.0;

/// `[project.fleet] lease_seconds`, checked: at least 1 s and at most a day.
pub(super) fn lease_seconds(raw: &Option<RawFleet>) -> Result<f64, String> {
    match raw.as_ref().and_then(|f| f.lease_seconds) {
        None => Ok(DEFAULT_LEASE_SECONDS),
        Some(s) if (1.0..=86_400.0).contains(&s) => Ok(s),
        Some(s) => Err(format!(
            "[project.fleet] lease_seconds = {s}: write a number of seconds from 1 to 86400 (default 30)"
        )),
    }
}

/// Where a PostgreSQL journal is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL as written (it may hold a password: shown only through [`PgTarget::display`]).
    pub url: String,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// Whether `[project] state` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(state: &str) -> bool {
    state.starts_with("postgres://") || state.starts_with("postgresql://")
}

impl PgTarget {
    /// The URL without its password, for every message.
    pub fn display(&self) -> String {
        redact(&self.url)
    }
}

/// The URL with any password in it removed.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    let auth = match auth.rfind('@') {
        Some(at) => {
            let (user, host) = auth.split_at(at);
            let user = user.split(':').next().unwrap_or("");
            format!("{user}{host}")
        }
        None => auth.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let kept: Vec<&str> = tail[q + 1..]
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                tail[..q].to_string()
            } else {
                format!("{}?{}", &tail[..q], kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    format!("{}://{auth}{tail}", &url[..scheme_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redact("postgres://mig:s3cret@db.example:5433/cut?sslmode=require&password=x"),
            "postgres://mig@db.example:5433/cut?sslmode=require"
        );
        assert_eq!(redact("postgres://mig@h/db"), "postgres://mig@h/db");
        assert!(is_postgres_url("postgresql://h/db") && !is_postgres_url("state.sqlite"));
    }

    fn load(state: &str, pg: &str) -> Result<crate::config::Project, String> {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("p.toml");
        std::fs::write(
            &path,
            format!(
                "[project]\nname = \"t\"\nstate = \"{state}\"\n{pg}\n[source]\nkind = \"imap\"\nhost = \"h\"\n\
                 [destination]\nkind = \"imap\"\nhost = \"h\"\n[[mailbox]]\n\
                 source = {{ user = \"a\", password = \"x\" }}\ndestination = {{ user = \"a\", password = \"x\" }}\n"
            ),
        )
        .unwrap();
        crate::config::load(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn a_postgres_state_reads_its_password_keys_and_names_its_local_files() {
        let p = load(
            "postgres://mig:pw@db:5433/acme?sslmode=require",
            "[project.postgres]\npassword_file = \"pg-pass\"",
        )
        .unwrap();
        let pg = p.postgres.as_ref().unwrap();
        assert_eq!(pg.display(), "postgres://mig@db:5433/acme?sslmode=require");
        assert!(pg.password_file.as_ref().unwrap().ends_with("pg-pass"));
        assert!(pg.password_file.as_ref().unwrap().is_absolute());
        assert!(p.state_path.ends_with("acme.postgres"));
        assert_eq!(p.journal_name(), pg.display());
        // SQLite stays the default, unchanged.
        let p = load("j.sqlite", "").unwrap();
        assert!(p.postgres.is_none() && p.state_path.ends_with("j.sqlite"));
    }

    #[test]
    fn postgres_keys_without_a_url_both_password_keys_or_no_database_are_refused() {
        let e = load("j.sqlite", "[project.postgres]\npassword_env = \"X\"").unwrap_err();
        assert!(e.contains("not a postgres:// URL"), "{e}");
        let e = load(
            "postgres://u@h/db",
            "[project.postgres]\npassword_env = \"X\"\npassword_file = \"f\"",
        )
        .unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = load("postgres://u:secret@h:5432/", "").unwrap_err();
        assert!(
            e.contains("names no database") && !e.contains("secret"),
            "{e}"
        );
        let p = load("postgres://u@h/db", "[project.fleet]\nlease_seconds = 3").unwrap();
        assert_eq!(p.lease_seconds, 3.0);
        assert_eq!(load("postgres://u@h/db", "").unwrap().lease_seconds, 30.0);
        let e = load("postgres://u@h/db", "[project.fleet]\nlease_seconds = 0.5").unwrap_err();
        assert!(e.contains("lease_seconds"), "{e}");
        let e = load(
            "postgres://u@h/db",
            "[project.postgres]\npasword_env = \"X\"",
        )
        .unwrap_err();
        assert!(e.contains("pasword_env"), "{e}");
    }
}
