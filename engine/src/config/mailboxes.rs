//! The mailboxes to migrate: `[[mailbox]]` entries of the project file and the Exchange-style
//! mailbox CSV (`project.mailboxes_csv`), each with its source and destination credential.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;

use super::lines::ConfigError;
use super::secrets::{SecretError, SecretKey, secret, secret_unless_token};
use crate::api::MailboxType;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    #[serde(default)]
    pub(super) batch: Option<String>,
    /// "user" (default), "shared", "room" or "equipment".
    #[serde(default, rename = "type")]
    pub(super) mailbox_type: Option<Spanned<String>>,
    pub(super) source: RawCredential,
    pub(super) destination: RawCredential,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    pub(super) user: String,
    #[serde(default)]
    pub(super) password: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) password_env: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) password_file: Option<Spanned<String>>,
    /// The CalDAV/CardDAV login, when it is not the IMAP one.
    #[serde(default)]
    pub(super) dav_user: Option<String>,
    #[serde(default)]
    pub(super) dav_password: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) dav_password_env: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) dav_password_file: Option<Spanned<String>>,
}

#[derive(Clone)]
pub struct Credential {
    pub user: String,
    pub password: SecretString,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credential {{ user: {:?}, password: [REDACTED] }}",
            self.user
        )
    }
}

#[derive(Debug, Clone)]
pub struct MailboxSpec {
    pub batch: String,
    /// User, shared, room or equipment: every kind migrates the same way.
    pub mailbox_type: MailboxType,
    pub source: Credential,
    pub destination: Credential,
    /// The CalDAV/CardDAV login of each side that has a DAV server and moves calendars or
    /// contacts: the side's `dav_user`/`dav_password*`, or else its IMAP login.
    pub source_dav: Option<Credential>,
    pub destination_dav: Option<Credential>,
    /// Where the entry came from, for messages.
    pub origin_file: PathBuf,
    pub origin_line: usize,
}

impl MailboxSpec {
    pub fn origin(&self) -> String {
        format!("{}:{}", self.origin_file.display(), self.origin_line)
    }

    /// The key that identifies this mailbox in the journal.
    pub fn key(&self) -> String {
        format!("{}->{}", self.source.user, self.destination.user)
    }
}

/// A mailbox type word (case-insensitive), or the message naming the allowed words.
pub(super) fn mailbox_type(word: &str) -> Result<MailboxType, String> {
    MailboxType::parse(&word.trim().to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown mailbox type {word:?}; expected one of {}",
            MailboxType::allowed()
        )
    })
}

pub(super) fn credential(
    c: &RawCredential,
    tokens: bool,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Credential, SecretError> {
    fn value(v: &Option<Spanned<String>>) -> Option<&str> {
        v.as_ref().map(|s| s.get_ref().as_str())
    }
    secret_unless_token(
        tokens,
        value(&c.password),
        value(&c.password_env),
        value(&c.password_file),
        resolve,
    )
    .map(|password| Credential {
        user: c.user.clone(),
        password,
    })
}

/// A side's DAV login: `dav_user` (else the IMAP user) with `dav_password*` (else the IMAP
/// password); None when the side reaches no DAV server. A side that logs in to IMAP with a
/// token has no password to lend: it must give its own.
pub(super) fn dav_credential(
    imap: &Credential,
    user: Option<&str>,
    given: (Option<&str>, Option<&str>, Option<&str>),
    uses_dav: bool,
    tokens: bool,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Option<Credential>, SecretError> {
    if !uses_dav {
        return Ok(None);
    }
    let password = match given {
        (None, None, None) if tokens => {
            return Err(SecretError {
                key: None,
                message: "this side signs in with OAuth, which CalDAV/CardDAV servers do not take: give dav_user and dav_password (or dav_password_env / dav_password_file)".into(),
            });
        }
        (None, None, None) => imap.password.clone(),
        (l, e, f) => secret(l, e, f, resolve).map_err(|e| SecretError {
            key: e.key,
            message: format!("dav_{}", e.message),
        })?,
    };
    Ok(Some(Credential {
        user: user.unwrap_or(&imap.user).to_string(),
        password,
    }))
}

/// The CSV columns, Exchange Online IMAP-migration style.
pub const CSV_COLUMNS: &[&str] = &[
    "EmailAddress",
    "UserName",
    "Password",
    "Batch",
    "DestinationUser",
    "DestinationPassword",
    "DestinationPasswordEnv",
    "DestinationPasswordFile",
    "PasswordEnv",
    "PasswordFile",
    "DavUserName",
    "DavPassword",
    "DestinationDavUserName",
    "DestinationDavPassword",
    "Type",
];

pub(super) fn load_csv(
    file: &Path,
    tokens: (bool, bool),
    uses_dav: (bool, bool),
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Vec<MailboxSpec>, ConfigError> {
    let err = |line: usize, column: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    let (mut rdr, col) = super::csv_header::open(
        file,
        "mailbox CSV",
        CSV_COLUMNS,
        &["EmailAddress", "UserName"],
    )?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(line, 1, format!("malformed CSV row: {e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let get = |name: &str| {
            col.get(name)
                .and_then(|&i| rec.get(i))
                .filter(|s| !s.is_empty())
        };
        let field_col = |name: &str| col.get(name).map_or(1, |i| i + 1);
        let email = get("EmailAddress").ok_or_else(|| {
            err(
                line,
                field_col("EmailAddress"),
                "EmailAddress is empty".into(),
            )
        })?;
        let user = get("UserName")
            .ok_or_else(|| err(line, field_col("UserName"), "UserName is empty".into()))?;
        // A refusal points at the column of the key it is about.
        let secret_col = |e: &SecretError, side: &str| {
            let name = match e.key {
                Some(SecretKey::Env) => "PasswordEnv",
                Some(SecretKey::File) => "PasswordFile",
                Some(SecretKey::Literal) | None => "Password",
            };
            field_col(&format!("{side}{name}"))
        };
        let src = secret_unless_token(
            tokens.0,
            get("Password"),
            get("PasswordEnv"),
            get("PasswordFile"),
            resolve,
        )
        .map_err(|e| {
            err(
                line,
                secret_col(&e, ""),
                format!(
                    "source credential for {user}: {} (columns Password, PasswordEnv, PasswordFile)",
                    e.message
                ),
            )
        })?;
        let dst = secret_unless_token(
            tokens.1,
            get("DestinationPassword"),
            get("DestinationPasswordEnv"),
            get("DestinationPasswordFile"),
            resolve,
        )
        .map_err(|e| {
            err(
                line,
                secret_col(&e, "Destination"),
                format!(
                    "destination credential for {email}: {} (columns DestinationPassword, DestinationPasswordEnv, DestinationPasswordFile)",
                    e.message
                ),
            )
        })?;
        let source = Credential {
            user: user.to_string(),
            password: src,
        };
        let destination = Credential {
            user: get("DestinationUser").unwrap_or(email).to_string(),
            password: dst,
        };
        let dav = |imap: &Credential, prefix: &str, uses: bool, tokens: bool| {
            dav_credential(
                imap,
                get(&format!("{prefix}DavUserName")),
                (get(&format!("{prefix}DavPassword")), None, None),
                uses,
                tokens,
                resolve,
            )
            .map_err(|e| {
                err(
                    line,
                    field_col(&format!("{prefix}DavPassword")),
                    format!(
                        "{} DAV login of {user}: {} (columns {prefix}DavUserName, {prefix}DavPassword)",
                        if prefix.is_empty() { "source" } else { "destination" },
                        e.message
                    ),
                )
            })
        };
        let kind = match get("Type") {
            Some(w) => mailbox_type(w)
                .map_err(|m| err(line, field_col("Type"), format!("column Type: {m}")))?,
            None => MailboxType::User,
        };
        let source_dav = dav(&source, "", uses_dav.0, tokens.0)?;
        let destination_dav = dav(&destination, "Destination", uses_dav.1, tokens.1)?;
        out.push(MailboxSpec {
            batch: get("Batch").unwrap_or("default").to_string(),
            mailbox_type: kind,
            source,
            destination,
            source_dav,
            destination_dav,
            origin_file: file.to_path_buf(),
            origin_line: line,
        });
    }
    Ok(out)
}
