//! Project files for the tests, built as TOML values and serialised by `toml`, never pasted
//! together as text (a path or a password with a quote in it stays one value):
//!
//! ```ignore
//! let p = ProjectBuilder::imap(&src, &dst)          // [project], [source], [destination]
//!     .mailboxes(&[MailboxLine { batch: "b", user: "alice", pass: "alice-pw" }])
//!     .set("destination.max_message_size", "1 MB")  // any key, by its dotted path
//!     .create();                                    // a ProjectDir in a new temporary directory
//! ```
//!
//! [`ProjectBuilder::new`] starts from `[project]` alone (`state = "state.sqlite"`);
//! `.source(..)` and `.destination(..)` take whole endpoint tables ([`imap`], [`pop3`], or a
//! `toml::toml!` table); `.write(dir)` writes `dir/project.toml`. [`ProjectDir::edit`] changes
//! a written project file the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::{Table, Value};

use super::{Dovecot, MailboxLine, ProjectDir};

#[derive(Debug, Clone)]
pub struct ProjectBuilder {
    doc: Table,
}

impl ProjectBuilder {
    /// `[project]` with this name and `state = "state.sqlite"`, nothing else.
    pub fn new(name: &str) -> ProjectBuilder {
        ProjectBuilder { doc: Table::new() }
            .set("project.name", name)
            .set("project.state", "state.sqlite")
    }

    /// Project "test" from the source Dovecot to the destination one (plain IMAP on
    /// 127.0.0.1); no mailboxes yet.
    pub fn imap(src: &Dovecot, dst: &Dovecot) -> ProjectBuilder {
        ProjectBuilder::new("test")
            .source(imap(src.port))
            .destination(imap(dst.port))
    }

    /// The project file at `path`, to change and write again.
    pub fn load(path: &Path) -> ProjectBuilder {
        let text = std::fs::read_to_string(path).unwrap();
        ProjectBuilder {
            doc: toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        }
    }

    /// The `[source]` table, replaced whole.
    pub fn source(self, endpoint: Table) -> ProjectBuilder {
        self.set("source", endpoint)
    }

    /// The `[destination]` table, replaced whole.
    pub fn destination(self, endpoint: Table) -> ProjectBuilder {
        self.set("destination", endpoint)
    }

    /// `key`, a dotted path ("project.folder_workers", "source.oauth.tenant"), set to
    /// `value` (a string, number, bool, table, list...); the tables on the way are created
    /// when missing.
    pub fn set(mut self, key: &str, value: impl Serialize) -> ProjectBuilder {
        let value = Value::try_from(value).unwrap_or_else(|e| panic!("{key}: {e}"));
        let (parents, last) = key.rsplit_once('.').unwrap_or(("", key));
        let mut table = &mut self.doc;
        for part in parents.split('.').filter(|p| !p.is_empty()) {
            table = table
                .entry(part)
                .or_insert_with(|| Value::Table(Table::new()))
                .as_table_mut()
                .unwrap_or_else(|| panic!("{key}: {part} is not a table"));
        }
        table.insert(last.into(), value);
        self
    }

    /// `key` (a dotted path) taken out.
    pub fn remove(mut self, key: &str) -> ProjectBuilder {
        let (parents, last) = key.rsplit_once('.').unwrap_or(("", key));
        let mut table = &mut self.doc;
        for part in parents.split('.').filter(|p| !p.is_empty()) {
            table = table
                .get_mut(part)
                .and_then(Value::as_table_mut)
                .unwrap_or_else(|| panic!("{key}: no table {part}"));
        }
        table
            .remove(last)
            .unwrap_or_else(|| panic!("{key}: not set"));
        self
    }

    /// Every key of `values` set in the table at `key`, its other keys kept.
    pub fn merge(self, key: &str, values: Table) -> ProjectBuilder {
        values
            .into_iter()
            .fold(self, |b, (k, v)| b.set(&format!("{key}.{k}"), v))
    }

    /// A `[[mailbox]]` (see [`mailbox`]).
    pub fn mailbox(self, mailbox: Table) -> ProjectBuilder {
        self.push("mailbox", mailbox)
    }

    /// One `[[mailbox]]` per line: its batch, and the same user and password on both sides.
    pub fn mailboxes(self, lines: &[MailboxLine<'_>]) -> ProjectBuilder {
        lines.iter().fold(self, |b, m| {
            b.mailbox(mailbox(
                Some(m.batch),
                login(m.user, m.pass),
                login(m.user, m.pass),
            ))
        })
    }

    /// A `[[check]]` of the checklist.
    pub fn check(self, check: Table) -> ProjectBuilder {
        self.push("check", check)
    }

    fn push(mut self, key: &str, table: Table) -> ProjectBuilder {
        match self
            .doc
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(a) => a.push(Value::Table(table)),
            other => panic!("{key} is not an array of tables: {other}"),
        }
        self
    }

    /// The text of the project file: `[project]`, `[source]` and `[destination]` first, the
    /// other tables in the order of their names, the mailboxes last.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        struct Ordered<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            project: Option<&'a Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<&'a Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            destination: Option<&'a Value>,
            #[serde(flatten)]
            rest: BTreeMap<&'a str, &'a Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            mailbox: Option<&'a Value>,
        }
        const PLACED: [&str; 4] = ["project", "source", "destination", "mailbox"];
        toml::to_string(&Ordered {
            project: self.doc.get("project"),
            source: self.doc.get("source"),
            destination: self.doc.get("destination"),
            rest: self
                .doc
                .iter()
                .filter(|(k, _)| !PLACED.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
            mailbox: self.doc.get("mailbox"),
        })
        .unwrap()
    }

    /// Written to `dir/project.toml`; its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        self.write_to(&dir.join("project.toml"))
    }

    /// Written to `path`; the path.
    pub fn write_to(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.to_toml()).unwrap();
        path.to_path_buf()
    }

    /// Written to `project.toml` in a new temporary directory.
    pub fn create(&self) -> ProjectDir {
        let dir = tempfile::tempdir().unwrap();
        let path = self.write(dir.path());
        ProjectDir { dir, path }
    }
}

/// An IMAP endpoint on 127.0.0.1 without TLS (the tests' Dovecot instances and proxies).
pub fn imap(port: u16) -> Table {
    toml::toml! {
        kind = "imap"
        host = "127.0.0.1"
        port = (port)
        security = "none"
    }
}

/// A POP3 endpoint on 127.0.0.1 without TLS.
pub fn pop3(port: u16) -> Table {
    toml::toml! {
        kind = "pop3"
        host = "127.0.0.1"
        port = (port)
        security = "none"
    }
}

/// A Maildir endpoint: one tree per mailbox under `dir`.
pub fn maildir(dir: &Path) -> Table {
    let path = dir.to_str().expect("a UTF-8 test path");
    toml::toml! {
        kind = "maildir"
        path = (path)
    }
}

/// Credentials `{ user, password }`.
pub fn login(user: &str, password: &str) -> Table {
    toml::toml! {
        user = (user)
        password = (password)
    }
}

/// Credentials `{ user }` alone (an endpoint that logs in by token).
pub fn user(user: &str) -> Table {
    toml::toml! { user = (user) }
}

/// A `[[mailbox]]`: its batch (`None`: the default one) and both sides' credentials.
pub fn mailbox(batch: Option<&str>, source: Table, destination: Table) -> Table {
    let mut m = Table::new();
    if let Some(b) = batch {
        m.insert("batch".into(), b.into());
    }
    m.insert("source".into(), source.into());
    m.insert("destination".into(), destination.into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_project_loads_with_what_was_set_and_edits_keep_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let batch = "b \"quoted\" & 'odd'";
        let path = ProjectBuilder::new("built")
            .source(imap(1143))
            .destination(imap(1144))
            .set("project.folder_workers", 3)
            .mailbox(mailbox(Some(batch), login("u", "p"), login("u@d", "q")))
            .write(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("[project]\n"), "{text}");
        let p = cutover_engine::config::load(&path).unwrap();
        assert_eq!((p.name.as_str(), p.folder_workers), ("built", 3));
        assert_eq!(p.state_path, dir.path().join("state.sqlite"));
        assert_eq!((p.source.host.as_str(), p.source.port), ("127.0.0.1", 1143));
        assert_eq!(p.destination.port, 1144);
        let m = &p.mailboxes[0];
        assert_eq!((m.batch.as_str(), m.source.user.as_str()), (batch, "u"));
        assert_eq!(m.destination.user, "u@d");

        ProjectBuilder::load(&path)
            .set("destination.port", 2144)
            .remove("project.folder_workers")
            .write_to(&path);
        let q = cutover_engine::config::load(&path).unwrap();
        assert_eq!((q.destination.port, q.source.port), (2144, 1143));
        assert_ne!(q.folder_workers, 3);
        assert_eq!(q.mailboxes[0].batch, batch);
    }
}
