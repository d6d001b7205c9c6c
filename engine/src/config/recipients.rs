//! The recipients the destination must have before shared mailboxes can be migrated and
//! groups used: `[recipients] csv = "FILE"`, a CSV the operator exports from the source
//! (Exchange on premises: see docs/procedures/shared-mailboxes.md) listing shared, room and
//! equipment mailboxes, distribution lists and groups with their members, aliases and who has
//! which access. Every mistake names the file, line and column.
//!
//! Discovery through a directory API (Graph, Google) would fill the same [`Recipient`] list.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::lines::ConfigError;
use crate::api::{AccessRight, RecipientKind};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecipients {
    /// The recipients CSV, relative to the project file.
    #[serde(default)]
    pub(super) csv: Option<Spanned<String>>,
    /// What a Google group becomes on Microsoft 365: `distribution` or `m365group`.
    #[serde(default)]
    pub(super) google_groups: Option<Spanned<String>>,
    /// The Workspace administrator the service account acts for in the Directory API.
    #[serde(default)]
    pub(super) google_admin: Option<Spanned<String>>,
}

/// What a Google group becomes on Microsoft 365 (`[recipients] google_groups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GoogleGroups {
    /// A distribution list, created by the Exchange Online script (the default).
    #[default]
    Distribution,
    /// A Microsoft 365 group, created by cutover through Graph.
    M365Group,
}

impl GoogleGroups {
    /// The file's word for it.
    pub fn parse(word: &str) -> Option<GoogleGroups> {
        match word {
            "distribution" => Some(GoogleGroups::Distribution),
            "m365group" => Some(GoogleGroups::M365Group),
            _ => None,
        }
    }

    /// The recipient kind a Google group takes.
    pub fn kind(self) -> RecipientKind {
        match self {
            GoogleGroups::Distribution => RecipientKind::Distribution,
            GoogleGroups::M365Group => RecipientKind::M365Group,
        }
    }
}

/// One user's right on a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The user's address (or login) as the destination knows it.
    pub user: String,
    pub right: AccessRight,
}

/// A shared, room or equipment mailbox, a distribution list or a group.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub kind: RecipientKind,
    pub address: String,
    pub display_name: String,
    /// Members' addresses (groups only).
    pub members: Vec<String>,
    /// More addresses the recipient receives mail at.
    pub aliases: Vec<String>,
    pub access: Vec<Grant>,
    /// Owners' addresses (groups found through a directory API; the CSV has none).
    pub owners: Vec<String>,
    /// The CSV line it came from (0 for one found through a directory API).
    pub line: usize,
}

/// The recipients of the project: the CSV's file and its rows, in file order.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    pub file: Option<PathBuf>,
    pub list: Vec<Recipient>,
    /// `google_groups`: what a Google group becomes on Microsoft 365.
    pub google_groups: GoogleGroups,
    /// `google_admin`: the Workspace administrator for the Directory API (discovery from a
    /// Google source, creation on a Google destination).
    pub google_admin: Option<String>,
}

/// The recipients CSV's columns (case-insensitive in the file).
pub const RECIPIENT_COLUMNS: &[&str] = &[
    "Type",
    "Address",
    "DisplayName",
    "Members",
    "Aliases",
    "Access",
];

/// An address as the CSV may give it: one `@`, something on each side, no space or quote.
pub(crate) fn address_ok(a: &str) -> bool {
    let mut parts = a.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty()
    ) && !a
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | ',' | ';'))
}

/// `a;b; c` into its non-empty parts.
fn list(cell: &str) -> Vec<String> {
    cell.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn load_recipients(file: &Path) -> Result<Vec<Recipient>, ConfigError> {
    let err = |line: usize, column: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    let (mut rdr, col) = super::csv_header::open(
        file,
        "recipients CSV",
        RECIPIENT_COLUMNS,
        &["Type", "Address"],
    )?;
    let mut out: Vec<Recipient> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(line, 1, format!("malformed CSV row: {e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let get = |name: &str| col.get(name).and_then(|&i| rec.get(i)).unwrap_or("");
        let at = |name: &str| col.get(name).map_or(1, |i| i + 1);
        let word = get("Type");
        let kind = RecipientKind::parse(&word.to_ascii_lowercase()).ok_or_else(|| {
            err(
                line,
                at("Type"),
                format!(
                    "column Type: unknown recipient type {word:?}; expected one of {}",
                    RecipientKind::allowed()
                ),
            )
        })?;
        let address = get("Address");
        if !address_ok(address) {
            return Err(err(
                line,
                at("Address"),
                format!("column Address: {address:?} is not an email address"),
            ));
        }
        let key = address.to_ascii_lowercase();
        if let Some(first) = seen.get(&key) {
            return Err(err(
                line,
                at("Address"),
                format!("{address} is listed twice (first on line {first})"),
            ));
        }
        seen.insert(key, line);
        let members = list(get("Members"));
        if !members.is_empty() && kind.is_mailbox() {
            return Err(err(
                line,
                at("Members"),
                format!(
                    "column Members: a {kind} mailbox has no members (give who may open it in Access, e.g. user@domain:FullAccess)"
                ),
            ));
        }
        let aliases = list(get("Aliases"));
        for a in members.iter().chain(&aliases) {
            if !address_ok(a) {
                let column = if members.contains(a) {
                    "Members"
                } else {
                    "Aliases"
                };
                return Err(err(
                    line,
                    at(column),
                    format!("column {column}: {a:?} is not an email address"),
                ));
            }
        }
        let mut access = Vec::new();
        for entry in list(get("Access")) {
            let bad = |m: String| err(line, at("Access"), format!("column Access: {m}"));
            let (user, right) = entry.rsplit_once(':').ok_or_else(|| {
                bad(format!(
                    "{entry:?} is not user:Right (e.g. alice@example.com:FullAccess)"
                ))
            })?;
            let (user, right_word) = (user.trim(), right.trim());
            let right = AccessRight::parse_any(right_word).ok_or_else(|| {
                bad(format!(
                    "unknown right {right_word:?} in {entry:?}; expected one of {}",
                    AccessRight::allowed()
                ))
            })?;
            if !address_ok(user) {
                return Err(bad(format!(
                    "{user:?} in {entry:?} is not an email address"
                )));
            }
            if !kind.is_mailbox() && (right == AccessRight::FullAccess || right.is_calendar()) {
                return Err(bad(format!(
                    "{right} is a mailbox right; a {kind} group takes SendAs or SendOnBehalf"
                )));
            }
            let g = Grant {
                user: user.to_string(),
                right,
            };
            if !access.contains(&g) {
                access.push(g);
            }
        }
        let display = get("DisplayName");
        if display.chars().any(char::is_control) {
            return Err(err(
                line,
                at("DisplayName"),
                "column DisplayName: a line break or control character is not allowed".into(),
            ));
        }
        out.push(Recipient {
            kind,
            address: address.to_string(),
            display_name: if display.is_empty() {
                address.split('@').next().unwrap_or(address).to_string()
            } else {
                display.to_string()
            },
            members,
            aliases,
            access,
            owners: Vec::new(),
            line,
        });
    }
    Ok(out)
}
