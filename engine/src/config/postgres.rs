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
}
