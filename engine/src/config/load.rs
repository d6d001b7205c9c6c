//! Loading the project file: read it as UTF-8, parse it, validate every section and gather
//! the [`Project`].

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::batches::batch_dates;
use super::checklist::checklist_of;
use super::checks;
use super::dns::dns_of;
use super::endpoints::{EndpointKind, GraphImport, endpoint};
use super::folders::folder_rules;
use super::items::{calendar_since, carries, items};
use super::lines::{ConfigError, LineIndex, toml_error, utf8_text};
use super::mailboxes::{
    MailboxSpec, RawCredential, credential, dav_credential, load_csv, mailbox_type,
};
use super::project::{DEFAULT_MAX_FAILED_MESSAGES, DEFAULT_SPLIT_FOLDER_MESSAGES, Project};
use super::raw::RawProject;
use super::recipients::{GoogleGroups, Recipients, load_recipients};
use super::secrets::SecretKey;
use super::warnings::LOAD_WARNINGS;

pub fn load(path: &Path) -> Result<Project, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::whole(path, format!("cannot read the project file: {e}")))?;
    let text = utf8_text(path, bytes)?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Project, ConfigError> {
    LOAD_WARNINGS.with(|w| w.borrow_mut().clear());
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(path, text, &e))?;
    let raw: RawProject = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let offset = inner.span().map_or(0, |s| s.start);
        let msg = inner.message().trim_end().to_string();
        let msg = if key.is_empty() || key == "." {
            msg
        } else {
            format!("{key}: {msg}")
        };
        ConfigError::at(path, text, offset, msg)
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base.join(p) }
    };

    let mut source = endpoint(path, text, "source", &raw.source, &resolve)?;
    let destination = endpoint(path, text, "destination", &raw.destination, &resolve)?;
    if destination.graph_import == GraphImport::ExportImport {
        if source.kind != EndpointKind::Graph {
            return Err(ConfigError::whole(
                path,
                format!(
                    "destination.graph_import = \"export-import\" moves items from one Microsoft 365 mailbox to another: the source must be kind = \"graph\" too (it is \"{}\"); use \"mime\" or \"json\"",
                    source.kind.name()
                ),
            ));
        }
        // The source reads by export (the opaque stream the destination imports).
        source.graph_import = GraphImport::ExportImport;
    }
    let mut items = match &raw.project.items {
        Some(w) => {
            items(w.get_ref()).map_err(|m| ConfigError::at(path, text, w.span().start, m))?
        }
        None => Default::default(),
    };
    if let Some(d) = &raw.project.calendar_since {
        items.calendar_since = Some(
            calendar_since(d.get_ref())
                .map_err(|m| ConfigError::at(path, text, d.span().start, m))?,
        );
    }
    for (section, e) in [("source", &source), ("destination", &destination)] {
        if let Some(m) = carries(section, e.kind, e.dav.is_some(), &items) {
            let at = raw.project.items.as_ref().map_or(0, |w| w.span().start);
            return Err(ConfigError::at(path, text, at, m));
        }
    }
    let uses_dav = (
        items.any_dav() && source.dav.is_some(),
        items.any_dav() && destination.dav.is_some(),
    );

    // Line starts once: locating each of 20,000 mailboxes must not rescan the file.
    let lines = LineIndex::new(text);
    let mut mailboxes = Vec::with_capacity(raw.mailbox.len());
    for m in &raw.mailbox {
        let span = m.span();
        let (line, _) = lines.line_col(text, span.start);
        let m = m.get_ref();
        let cred = |c: &RawCredential, side: &str| {
            let tokens = if side == "source" {
                source.uses_tokens()
            } else {
                destination.uses_tokens()
            };
            credential(c, tokens, &resolve).map_err(|e| {
                let key = match e.key {
                    Some(SecretKey::Literal) => c.password.as_ref(),
                    Some(SecretKey::Env) => c.password_env.as_ref(),
                    Some(SecretKey::File) => c.password_file.as_ref(),
                    None => None,
                };
                let at = key.map_or(span.start, |k| k.span().start);
                ConfigError::at(path, text, at, format!("[[mailbox]] {side}: {}", e.message))
            })
        };
        let dav = |c: &RawCredential, imap: &super::mailboxes::Credential, side: &str| {
            let (uses, tokens) = if side == "source" {
                (uses_dav.0, source.uses_tokens())
            } else {
                (uses_dav.1, destination.uses_tokens())
            };
            fn v(s: &Option<Spanned<String>>) -> Option<&str> {
                s.as_ref().map(|s| s.get_ref().as_str())
            }
            dav_credential(
                imap,
                c.dav_user.as_deref(),
                (
                    v(&c.dav_password),
                    v(&c.dav_password_env),
                    v(&c.dav_password_file),
                ),
                uses,
                tokens,
                &resolve,
            )
            .map_err(|e| {
                let key = match e.key {
                    Some(SecretKey::Literal) => c.dav_password.as_ref(),
                    Some(SecretKey::Env) => c.dav_password_env.as_ref(),
                    Some(SecretKey::File) => c.dav_password_file.as_ref(),
                    None => None,
                };
                let at = key.map_or(span.start, |k| k.span().start);
                ConfigError::at(path, text, at, format!("[[mailbox]] {side}: {}", e.message))
            })
        };
        let kind = match &m.mailbox_type {
            Some(w) => mailbox_type(w.get_ref()).map_err(|msg| {
                ConfigError::at(
                    path,
                    text,
                    w.span().start,
                    format!("[[mailbox]] type: {msg}"),
                )
            })?,
            None => Default::default(),
        };
        let src = cred(&m.source, "source")?;
        let dst = cred(&m.destination, "destination")?;
        mailboxes.push(MailboxSpec {
            batch: m.batch.clone().unwrap_or_else(|| "default".into()),
            mailbox_type: kind,
            source_dav: dav(&m.source, &src, "source")?,
            destination_dav: dav(&m.destination, &dst, "destination")?,
            source: src,
            destination: dst,
            origin_file: path.to_path_buf(),
            origin_line: line,
        });
    }
    if let Some(csv_path) = &raw.project.mailboxes_csv {
        let file = resolve(csv_path.get_ref());
        if !file.exists() {
            return Err(ConfigError::at(
                path,
                text,
                csv_path.span().start,
                format!(
                    "project.mailboxes_csv: file {} does not exist (the path is relative to the project file)",
                    file.display()
                ),
            ));
        }
        mailboxes.extend(load_csv(
            &file,
            (source.uses_tokens(), destination.uses_tokens()),
            uses_dav,
            &resolve,
        )?);
    }
    if mailboxes.is_empty() {
        return Err(ConfigError::whole(
            path,
            "no mailboxes: add [[mailbox]] entries or set project.mailboxes_csv",
        ));
    }
    let mut seen = std::collections::HashMap::new();
    for m in &mailboxes {
        if let Some(first) = seen.insert(m.key(), m.origin()) {
            return Err(ConfigError {
                file: m.origin_file.clone(),
                line: m.origin_line,
                column: 1,
                message: format!(
                    "mailbox {} is listed twice (first at {first}): each source/destination pair may appear once",
                    m.key()
                ),
            });
        }
    }

    let folders = folder_rules(path, text, &raw.folders)?;

    let ranged = |v: &Option<Spanned<usize>>,
                  key: &str,
                  range: std::ops::RangeInclusive<usize>,
                  default: usize| match v {
        Some(s) => checks::in_range(key, s.get_ref(), &range)
            .map(|()| *s.get_ref())
            .map_err(|m| ConfigError::at(path, text, s.span().start, m)),
        None => Ok(default),
    };
    let parallel_mailboxes = ranged(
        &raw.project.parallel_mailboxes,
        "project.parallel_mailboxes",
        checks::PARALLEL_MAILBOXES,
        source
            .max_connections
            .min(destination.max_connections)
            .div_ceil(2)
            .max(1),
    )?;
    let folder_workers = ranged(
        &raw.project.folder_workers,
        "project.folder_workers",
        checks::FOLDER_WORKERS,
        4,
    )?;
    let split_folder_messages = ranged(
        &raw.project.split_folder_messages,
        "project.split_folder_messages",
        checks::SPLIT_FOLDER_MESSAGES,
        DEFAULT_SPLIT_FOLDER_MESSAGES,
    )?;
    let max_failed_messages = ranged(
        &raw.project.max_failed_messages,
        "project.max_failed_messages",
        checks::MAX_FAILED_MESSAGES,
        DEFAULT_MAX_FAILED_MESSAGES,
    )?;
    let operators_group = match &raw.project.operators_group {
        Some(g) => Some(operators_group(g.get_ref()).map_err(|m| {
            ConfigError::at(
                path,
                text,
                g.span().start,
                format!("project.operators_group: {m}"),
            )
        })?),
        None => None,
    };

    let mut recipients = match &raw.recipients.csv {
        Some(f) => {
            let file = resolve(f.get_ref());
            if !file.exists() {
                return Err(ConfigError::at(
                    path,
                    text,
                    f.span().start,
                    format!(
                        "recipients.csv: file {} does not exist (the path is relative to the project file)",
                        file.display()
                    ),
                ));
            }
            Recipients {
                list: load_recipients(&file)?,
                file: Some(file),
                ..Recipients::default()
            }
        }
        None => Recipients::default(),
    };
    if let Some(w) = &raw.recipients.google_groups {
        recipients.google_groups = GoogleGroups::parse(w.get_ref()).ok_or_else(|| {
            ConfigError::at(
                path,
                text,
                w.span().start,
                format!(
                    "recipients.google_groups: {:?} is not one of distribution, m365group",
                    w.get_ref()
                ),
            )
        })?;
    }
    if let Some(a) = &raw.recipients.google_admin {
        if !super::recipients::address_ok(a.get_ref()) {
            return Err(ConfigError::at(
                path,
                text,
                a.span().start,
                format!(
                    "recipients.google_admin: {:?} is not an email address",
                    a.get_ref()
                ),
            ));
        }
        recipients.google_admin = Some(a.get_ref().clone());
    }

    let (checks, checklist) = checklist_of(path, text, &raw.checklist, &raw.check, &mailboxes)?;
    let dns = dns_of(path, text, &raw.dns, destination.kind, destination.preset)?;
    let batch_dates = batch_dates(path, text, &raw.batch, &mailboxes)?;

    let (state_path, postgres) =
        state_of(path, &raw.project.state, &raw.project.postgres, &resolve)?;
    let lease_seconds = super::postgres::lease_seconds(&raw.project.fleet)
        .map_err(|e| ConfigError::whole(path, e))?;

    Ok(Project {
        name: raw.project.name,
        file: path.to_path_buf(),
        state_path,
        postgres,
        lease_seconds,
        log_dir: raw
            .project
            .log_dir
            .as_deref()
            .map(resolve)
            .unwrap_or_else(|| resolve("cutover-logs")),
        durability: raw.project.durability,
        parallel_mailboxes,
        folder_workers,
        split_folder_messages,
        max_failed_messages,
        brake: raw.project.brake,
        source,
        destination,
        items,
        mailboxes,
        folders,
        checks,
        checklist,
        requirements: raw.assessment.requirements,
        theme: raw.console.theme,
        warnings: LOAD_WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut())),
        operators_group,
        sync: raw.sync,
        dns,
        recipients,
        batch_dates,
    })
}

/// The operators group, which must exist and hold the user loading the project (cutover
/// gives the group its files: it cannot give them to a group it is not in).
fn operators_group(name: &str) -> Result<crate::local::Group, String> {
    let g = crate::local::Group::by_name(name)
        .map_err(|e| format!("cannot look up group {name:?}: {e}"))?
        .ok_or_else(|| format!("no group named {name:?} on this machine (see `getent group`)"))?;
    if !crate::local::in_group(&g) {
        return Err(format!(
            "you (uid {}) are not a member of group {name:?}, so cutover cannot share its files with it; \
             add yourself (usermod -aG {name} USER, then log in again) or remove the key",
            crate::local::euid()
        ));
    }
    Ok(g)
}

/// `[project] state`: a SQLite file (relative to the project file), or a PostgreSQL URL with
/// `[project.postgres]`; then the local files (control socket, lock, OAuth tokens) are named
/// after `<database>.postgres` beside the project file.
fn state_of(
    path: &Path,
    state: &str,
    pg: &Option<super::postgres::RawPostgres>,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<(PathBuf, Option<super::postgres::PgTarget>), ConfigError> {
    if !super::postgres::is_postgres_url(state) {
        if pg.is_some() {
            return Err(ConfigError::whole(
                path,
                "[project.postgres] is set but [project] state is not a postgres:// URL: remove it or write state = \"postgres://USER@HOST:PORT/DATABASE\"".to_string(),
            ));
        }
        return Ok((resolve(state), None));
    }
    let raw = pg.as_ref();
    let (env, file) = (
        raw.and_then(|r| r.password_env.clone()),
        raw.and_then(|r| r.password_file.clone()),
    );
    if env.is_some() && file.is_some() {
        return Err(ConfigError::whole(
            path,
            "[project.postgres]: set password_env or password_file, not both".to_string(),
        ));
    }
    let without_query = state.split('?').next().unwrap_or(state);
    let db: String = without_query
        .rsplit_once('/')
        .map(|(before, db)| if before.ends_with('/') { "" } else { db })
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if db.is_empty() {
        return Err(ConfigError::whole(
            path,
            format!(
                "[project] state {}: names no database: write postgres://USER@HOST:PORT/DATABASE",
                super::postgres::redact(state)
            ),
        ));
    }
    Ok((
        resolve(&format!("{db}.postgres")),
        Some(super::postgres::PgTarget {
            url: state.to_string(),
            password_env: env,
            password_file: file.as_deref().map(resolve),
        }),
    ))
}
