//! The project file (TOML) and the Exchange-style mailbox CSV.
//!
//! Every error names the file, the line and column, the key and what was expected, so an
//! operator can fix the file without reading code.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;

pub mod checks;
mod lines;
mod secrets;

use lines::LineIndex;
use secrets::{SecretError, SecretKey, credential, secret, secret_unless_token};

/// A configuration mistake, located in its file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl ConfigError {
    fn at(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = LineIndex::new(text).line_col(text, offset);
        ConfigError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
    fn whole(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
    Tls,
    Starttls,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Generic,
    Gmail,
    M365,
    Exchange,
}

/// How cutover authenticates on an IMAP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// IMAP LOGIN with the mailbox password.
    #[default]
    Login,
    /// AUTHENTICATE PLAIN with the mailbox password.
    Plain,
    /// AUTHENTICATE XOAUTH2; the mailbox's password (or password_env/password_file) holds
    /// the OAuth2 access token.
    Xoauth2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    /// Any IMAP server (Dovecot, Exchange, Exchange Online, Gmail, ...).
    Imap,
    /// Microsoft Graph (Microsoft 365 / Exchange Online mailboxes), source or destination.
    Graph,
    /// The Gmail API (Google Workspace), destination or source.
    Gmail,
    /// POP3: the inbox only, as a source.
    Pop3,
}

impl EndpointKind {
    pub fn name(self) -> &'static str {
        match self {
            EndpointKind::Imap => "imap",
            EndpointKind::Graph => "graph",
            EndpointKind::Gmail => "gmail",
            EndpointKind::Pop3 => "pop3",
        }
    }

    /// Whether the endpoint is an HTTP API whose mailboxes are reached with an OAuth2 token
    /// rather than per-mailbox passwords.
    pub fn is_api(self) -> bool {
        matches!(self, EndpointKind::Graph | EndpointKind::Gmail)
    }
}

/// How a Graph destination creates messages (`graph_import`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphImport {
    /// `importMime`: the exact source bytes, as a received (not draft) item.
    #[default]
    Mime,
    /// The message rebuilt as JSON with MAPI properties (dates, read state), attachments apart.
    Json,
}

/// Which OAuth2 authority issues the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuthProvider {
    /// Microsoft Entra ID (Microsoft 365, Exchange Online).
    Entra,
    /// Google (Workspace).
    Google,
}

/// How a token is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OAuthFlow {
    /// App-only (Entra): client secret or certificate assertion.
    #[default]
    ClientCredentials,
    /// Delegated: an operator signs in once (`cutover login`); the refresh token is kept.
    DeviceCode,
    /// Google service account with domain-wide delegation (JWT assertion per mailbox).
    ServiceAccount,
}

/// The `[source.oauth]` / `[destination.oauth]` table. Secrets come from the environment or
/// files, never from the project file or the command line.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub provider: OAuthProvider,
    pub flow: OAuthFlow,
    /// Entra tenant (id or domain).
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// PEM file with the app's certificate (certificate assertion).
    pub certificate_file: Option<PathBuf>,
    /// PEM file with the certificate's private key (may be the same file).
    pub private_key_file: Option<PathBuf>,
    /// Google service account key (JSON) for domain-wide delegation.
    pub service_account_file: Option<PathBuf>,
    /// Scope override; by default the one the endpoint kind needs.
    pub scope: Option<String>,
    /// Token endpoint override (sovereign clouds, tests).
    pub token_url: Option<String>,
    /// Device authorization endpoint override.
    pub device_code_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth {
    provider: OAuthProvider,
    #[serde(default)]
    flow: OAuthFlow,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    client_secret_file: Option<String>,
    #[serde(default)]
    certificate_file: Option<String>,
    #[serde(default)]
    private_key_file: Option<String>,
    #[serde(default)]
    service_account_file: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    token_url: Option<Spanned<String>>,
    #[serde(default)]
    device_code_url: Option<Spanned<String>>,
}

/// How a journal commit is made durable (SQLite `synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// `synchronous = NORMAL`: survives a crash or `kill -9` of cutover; the last commits may be
    /// rolled back (never corrupted) by a power loss or OS crash.
    #[default]
    Crash,
    /// `synchronous = FULL`: every commit is fsynced, so it also survives power loss.
    PowerLoss,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    project: RawProjectSection,
    source: RawEndpoint,
    destination: RawEndpoint,
    #[serde(default)]
    mailbox: Vec<Spanned<RawMailbox>>,
    #[serde(default)]
    folders: RawFolders,
    #[serde(default)]
    check: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    checklist: RawChecklist,
    #[serde(default)]
    assessment: RawAssessment,
    #[serde(default)]
    console: RawConsole,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChecklist {
    #[serde(default)]
    defaults: bool,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    expected_mx: Vec<String>,
    #[serde(default)]
    resolver: Option<Spanned<String>>,
    #[serde(default)]
    pilot_batch: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAssessment {
    #[serde(default)]
    requirements: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: String,
    title: String,
    #[serde(default = "default_section")]
    section: String,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    kind: CheckKind,
}

fn default_section() -> String {
    "Preparation".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    #[serde(default)]
    theme: Option<String>,
}

/// Who verifies a checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    #[default]
    Manual,
    Auto,
}

/// What pauses by itself when verification finds a message missing, altered or duplicated
/// on the destination (a data-loss incident).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Brake {
    /// Only the mailbox concerned stops.
    Mailbox,
    /// Its whole batch pauses (default).
    #[default]
    Batch,
    /// Every batch stops (emergency stop).
    All,
}

impl CheckKind {
    pub fn word(self) -> &'static str {
        match self {
            CheckKind::Manual => "manual",
            CheckKind::Auto => "auto",
        }
    }
}

/// The ids of the items the engine verifies itself (`kind = "auto"`).
pub const AUTO_CHECKS: &[&str] = &[
    "login",
    "folders",
    "quota",
    "mx",
    "pilot-verified",
    "no-critical",
];

/// Checklist settings (`[checklist]`).
#[derive(Debug, Clone, Default)]
pub struct ChecklistSettings {
    /// The built-in default items were asked for (`defaults = true`).
    pub defaults: bool,
    /// The project's mail domain, for the `mx` item (None: not applicable).
    pub domain: Option<String>,
    /// Where the domain's MX records must point (host names, case-insensitive).
    pub expected_mx: Vec<String>,
    /// DNS server for the `mx` item ("IP" or "IP:PORT"); the system's resolver when None.
    pub resolver: Option<std::net::SocketAddr>,
    /// The batch whose verification the `pilot-verified` item requires.
    pub pilot_batch: String,
}

/// The built-in checklist (from the service procedure's pre-migration checklist, plus the
/// items the engine verifies): (id, section, title, required, kind).
pub const DEFAULT_CHECKS: &[(&str, &str, &str, bool, CheckKind)] = &[
    (
        "target-configured",
        "Technical",
        "Target tenant / destination system configured",
        true,
        CheckKind::Manual,
    ),
    (
        "security-policies",
        "Technical",
        "Security policies implemented on the destination (MFA, access policies)",
        true,
        CheckKind::Manual,
    ),
    (
        "login",
        "Technical",
        "User accounts created: every mailbox logs in on both sides",
        true,
        CheckKind::Auto,
    ),
    (
        "folders",
        "Technical",
        "Destination folders can be created",
        true,
        CheckKind::Auto,
    ),
    (
        "quota",
        "Technical",
        "Destination quota exceeds what will be copied",
        true,
        CheckKind::Auto,
    ),
    (
        "mx",
        "Technical",
        "DNS records updated: MX points to the destination",
        false,
        CheckKind::Auto,
    ),
    (
        "backup",
        "Technical",
        "Backup procedures verified (source backed up, restore tested)",
        true,
        CheckKind::Manual,
    ),
    (
        "pilot-verified",
        "Technical",
        "Pilot batch migrated and verified",
        true,
        CheckKind::Auto,
    ),
    (
        "no-critical",
        "Technical",
        "No mailbox has an open critical issue",
        true,
        CheckKind::Auto,
    ),
    (
        "user-communication",
        "Business",
        "User communication sent",
        true,
        CheckKind::Manual,
    ),
    (
        "training",
        "Business",
        "Training materials prepared",
        false,
        CheckKind::Manual,
    ),
    (
        "support",
        "Business",
        "Support procedures established",
        true,
        CheckKind::Manual,
    ),
    (
        "rollback-plan",
        "Business",
        "Rollback plan ready",
        true,
        CheckKind::Manual,
    ),
];

/// A pre-migration checklist item.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub section: String,
    pub required: bool,
    pub kind: CheckKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProjectSection {
    name: String,
    state: String,
    #[serde(default)]
    mailboxes_csv: Option<Spanned<String>>,
    #[serde(default)]
    durability: Durability,
    #[serde(default)]
    parallel_mailboxes: Option<Spanned<usize>>,
    #[serde(default)]
    folder_workers: Option<Spanned<usize>>,
    #[serde(default)]
    max_failed_messages: Option<Spanned<usize>>,
    #[serde(default)]
    log_dir: Option<String>,
    #[serde(default)]
    brake: Brake,
    /// A local group whose members may also stop and watch the run (and read its files).
    #[serde(default)]
    operators_group: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    kind: EndpointKind,
    #[serde(default)]
    host: Option<Spanned<String>>,
    /// Base URL of an HTTP API endpoint (Graph, Gmail): overrides the public service's.
    #[serde(default)]
    api_url: Option<Spanned<String>>,
    #[serde(default)]
    oauth: Option<Spanned<RawOAuth>>,
    #[serde(default)]
    port: Option<Spanned<u16>>,
    #[serde(default = "default_security")]
    security: Spanned<Security>,
    #[serde(default)]
    preset: Preset,
    #[serde(default = "default_connections")]
    max_connections: Spanned<usize>,
    #[serde(default)]
    ca_file: Option<String>,
    #[serde(default)]
    allow_plaintext: bool,
    #[serde(default)]
    max_message_size: Option<Spanned<String>>,
    #[serde(default)]
    timeout_secs: Option<Spanned<u64>>,
    #[serde(default)]
    auth: AuthMethod,
    /// Graph destination: "mime" (importMime, default) or "json".
    #[serde(default)]
    graph_import: Option<GraphImport>,
    /// `[source.gmail]`: how a Gmail-shaped source is read (labels, All Mail).
    #[serde(default)]
    gmail: Option<RawGmail>,
}

/// `[source.gmail]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGmail {
    #[serde(default)]
    multi_label: MultiLabel,
    #[serde(default)]
    include_spam: bool,
    #[serde(default)]
    include_trash: bool,
}

/// Where a Gmail message with several labels is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MultiLabel {
    /// One copy, in the first of its labels (INBOX, Sent, Drafts, then user labels by name);
    /// the other labels become IMAP keywords on it.
    #[default]
    FirstLabel,
    /// One copy in each label's folder.
    CopyPerLabel,
}

/// How a Gmail-shaped source (labels as folders, every message again in All Mail) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GmailSource {
    pub multi_label: MultiLabel,
    pub include_spam: bool,
    pub include_trash: bool,
}

fn default_security() -> Spanned<Security> {
    Spanned::new(0..0, Security::Tls)
}

fn default_connections() -> Spanned<usize> {
    Spanned::new(0..0, 8)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    #[serde(default)]
    batch: Option<String>,
    source: RawCredential,
    destination: RawCredential,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    user: String,
    #[serde(default)]
    password: Option<Spanned<String>>,
    #[serde(default)]
    password_env: Option<Spanned<String>>,
    #[serde(default)]
    password_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFolders {
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    rename: Vec<RawRename>,
    #[serde(default)]
    separator_substitute: Option<char>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRename {
    from: Spanned<String>,
    to: String,
}

/// A loaded, validated project.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub file: PathBuf,
    pub state_path: PathBuf,
    pub log_dir: PathBuf,
    pub durability: Durability,
    pub parallel_mailboxes: usize,
    pub folder_workers: usize,
    /// Error budget: once this many messages of one mailbox were refused by the destination
    /// (journal state `failed`), the mailbox fails instead of going on refusing more.
    pub max_failed_messages: usize,
    pub brake: Brake,
    pub source: Endpoint,
    pub destination: Endpoint,
    pub mailboxes: Vec<MailboxSpec>,
    pub folders: FolderRules,
    pub checks: Vec<Check>,
    pub checklist: ChecklistSettings,
    /// Custom requirements named in `[assessment] requirements` (raise the complexity).
    pub requirements: Vec<String>,
    /// The console theme named in the file, if any.
    pub theme: Option<String>,
    /// Warnings found while loading (a password file readable by others): the caller shows
    /// them (on stderr and in the log; logging is not set up yet while the file loads).
    pub warnings: Vec<String>,
    /// `[project] operators_group`: its members may stop and watch the run too; the files
    /// cutover writes are shared with it (see [`crate::local`]).
    pub operators_group: Option<crate::local::Group>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub kind: EndpointKind,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub preset: Preset,
    pub max_connections: usize,
    pub ca_file: Option<PathBuf>,
    /// Largest message this endpoint accepts, from the file or the preset (the server's
    /// APPENDLIMIT, when it announces one, is applied at run time).
    pub max_message_size: Option<u64>,
    pub timeout: std::time::Duration,
    pub auth: AuthMethod,
    /// Base URL of an HTTP API endpoint (Graph: `https://graph.microsoft.com`, Gmail:
    /// `https://gmail.googleapis.com`), or the file's override.
    pub api_url: String,
    pub oauth: Option<OAuthSettings>,
    /// How a Graph destination creates messages.
    pub graph_import: GraphImport,
    /// Set when this endpoint is (to be read as) Gmail: `preset = "gmail"`, `kind = "gmail"`
    /// or a `[source.gmail]` table. A source then copies each message once (see
    /// `sync::gmail`).
    pub gmail: Option<GmailSource>,
}

impl Endpoint {
    /// Mailboxes on this endpoint log in with a token, not a password of their own.
    pub fn uses_tokens(&self) -> bool {
        self.oauth.is_some()
    }
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
    pub source: Credential,
    pub destination: Credential,
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

#[derive(Debug, Clone, Default)]
pub struct FolderRules {
    pub exclude: Vec<regex::Regex>,
    pub rename: Vec<(regex::Regex, String)>,
    pub separator_substitute: char,
}

pub fn load(path: &Path) -> Result<Project, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::whole(path, format!("cannot read the project file: {e}")))?;
    let text = utf8_text(path, bytes)?;
    parse(path, &text)
}

/// The file's text, or an error naming the line and column of the first byte that is not
/// UTF-8.
pub(crate) fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        ConfigError {
            file: path.to_path_buf(),
            line,
            column,
            message: format!(
                "not UTF-8 text (byte 0x{:02x}); save the file as UTF-8",
                e.as_bytes()[valid.len()]
            ),
        }
    })
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

    let source = endpoint(path, text, "source", &raw.source, &resolve)?;
    let destination = endpoint(path, text, "destination", &raw.destination, &resolve)?;

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
        mailboxes.push(MailboxSpec {
            batch: m.batch.clone().unwrap_or_else(|| "default".into()),
            source: cred(&m.source, "source")?,
            destination: cred(&m.destination, "destination")?,
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

    let mut folders = FolderRules {
        separator_substitute: raw.folders.separator_substitute.unwrap_or('_'),
        ..Default::default()
    };
    let re = |s: &Spanned<String>, key: &str| {
        regex::Regex::new(s.get_ref()).map_err(|e| {
            ConfigError::at(
                path,
                text,
                s.span().start,
                format!("{key}: not a valid regular expression: {e}"),
            )
        })
    };
    for e in &raw.folders.exclude {
        folders.exclude.push(re(e, "folders.exclude")?);
    }
    for r in &raw.folders.rename {
        folders
            .rename
            .push((re(&r.from, "folders.rename.from")?, r.to.clone()));
    }

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

    let (checks, checklist) = checklist_of(path, text, &raw, &mailboxes)?;

    Ok(Project {
        name: raw.project.name,
        file: path.to_path_buf(),
        state_path: resolve(&raw.project.state),
        log_dir: raw
            .project
            .log_dir
            .as_deref()
            .map(resolve)
            .unwrap_or_else(|| resolve("cutover-logs")),
        durability: raw.project.durability,
        parallel_mailboxes,
        folder_workers,
        max_failed_messages,
        brake: raw.project.brake,
        source,
        destination,
        mailboxes,
        folders,
        checks,
        checklist,
        requirements: raw.assessment.requirements,
        theme: raw.console.theme,
        warnings: LOAD_WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut())),
        operators_group,
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

/// The checklist items (the file's, after the built-in ones when `defaults = true`; a file
/// item with a built-in id replaces it) and the `[checklist]` settings.
fn checklist_of(
    path: &Path,
    text: &str,
    raw: &RawProject,
    mailboxes: &[MailboxSpec],
) -> Result<(Vec<Check>, ChecklistSettings), ConfigError> {
    let mut checks: Vec<Check> = Vec::new();
    if raw.checklist.defaults {
        for (id, section, title, required, kind) in DEFAULT_CHECKS {
            checks.push(Check {
                id: id.to_string(),
                title: title.to_string(),
                section: section.to_string(),
                required: *required,
                kind: *kind,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in &raw.check {
        let span = c.span();
        let c = c.get_ref();
        if c.id.trim().is_empty() {
            return Err(ConfigError::at(
                path,
                text,
                span.start,
                "[[check]] id: must not be empty",
            ));
        }
        if !seen.insert(c.id.clone()) {
            return Err(ConfigError::at(
                path,
                text,
                span.start,
                format!(
                    "[[check]] id {:?} is defined twice: each item needs its own id",
                    c.id
                ),
            ));
        }
        if c.kind == CheckKind::Auto && !AUTO_CHECKS.contains(&c.id.as_str()) {
            return Err(ConfigError::at(
                path,
                text,
                span.start,
                format!(
                    "[[check]] {:?}: kind = \"auto\" needs an id the engine can verify: one of {}",
                    c.id,
                    AUTO_CHECKS.join(", ")
                ),
            ));
        }
        let item = Check {
            id: c.id.clone(),
            title: c.title.clone(),
            section: c.section.clone(),
            required: c.required,
            kind: c.kind,
        };
        match checks.iter_mut().find(|x| x.id == item.id) {
            Some(x) => *x = item,
            None => checks.push(item),
        }
    }
    let resolver = match &raw.checklist.resolver {
        None => None,
        Some(r) => {
            let s = r.get_ref().trim();
            let addr = s
                .parse::<std::net::SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    ConfigError::at(
                        path,
                        text,
                        r.span().start,
                        format!(
                            "checklist.resolver: expected an IP address or IP:PORT such as \"127.0.0.1:5353\", got {s:?}"
                        ),
                    )
                })?;
            checks::in_range("checklist.resolver port", &addr.port(), &checks::PORT)
                .map_err(|m| ConfigError::at(path, text, r.span().start, m))?;
            Some(addr)
        }
    };
    if let Some(b) = &raw.checklist.pilot_batch
        && !mailboxes.iter().any(|m| &m.batch == b)
    {
        return Err(ConfigError::whole(
            path,
            format!(
                "checklist.pilot_batch: no mailbox is in batch {b:?}; name one of the file's batches"
            ),
        ));
    }
    let pilot_batch = raw.checklist.pilot_batch.clone().unwrap_or_else(|| {
        if mailboxes.iter().any(|m| m.batch == "pilot") {
            "pilot".into()
        } else {
            mailboxes
                .first()
                .map(|m| m.batch.clone())
                .unwrap_or_default()
        }
    });
    let domain = raw
        .checklist
        .domain
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    Ok((
        checks,
        ChecklistSettings {
            defaults: raw.checklist.defaults,
            domain,
            expected_mx: raw
                .checklist
                .expected_mx
                .iter()
                .map(|m| m.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            resolver,
            pilot_batch,
        },
    ))
}

/// Default error budget per mailbox (`max_failed_messages`).
pub const DEFAULT_MAX_FAILED_MESSAGES: usize = 50;

thread_local! {
    /// Warnings of the project file being loaded on this thread (see `Project::warnings`).
    static LOAD_WARNINGS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A warning of the file being loaded (shown on stderr and in the log by the caller).
fn load_warning(msg: String) {
    tracing::warn!("{msg}");
    LOAD_WARNINGS.with(|w| w.borrow_mut().push(msg));
}

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start);
    ConfigError::at(path, text, offset, e.message().trim_end().to_string())
}

fn endpoint(
    path: &Path,
    text: &str,
    section: &str,
    raw: &RawEndpoint,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Endpoint, ConfigError> {
    let security = *raw.security.get_ref();
    let default_api = match raw.kind {
        EndpointKind::Graph => "https://graph.microsoft.com",
        EndpointKind::Gmail => "https://gmail.googleapis.com",
        EndpointKind::Imap | EndpointKind::Pop3 => "",
    };
    // Every URL cutover sends secrets or mail to: https, unless loopback or allow_plaintext.
    let explicit_urls =
        raw.api_url
            .iter()
            .map(|u| ("api_url", u))
            .chain(raw.oauth.iter().flat_map(|o| {
                let o = o.get_ref();
                [
                    ("oauth.token_url", &o.token_url),
                    ("oauth.device_code_url", &o.device_code_url),
                ]
                .into_iter()
                .filter_map(|(k, u)| u.as_ref().map(|u| (k, u)))
            }));
    for (key, url) in explicit_urls {
        let key = format!("{section}.{key}");
        match checks::endpoint_url(&key, url.get_ref(), raw.allow_plaintext) {
            Ok(None) => {}
            Ok(Some(warning)) => load_warning(warning),
            Err(m) => return Err(ConfigError::at(path, text, url.span().start, m)),
        }
    }
    let api_url = raw
        .api_url
        .as_ref()
        .map_or(default_api, |u| u.get_ref().as_str())
        .trim_end_matches('/')
        .to_string();
    let host = match &raw.host {
        Some(h) => {
            let host = h.get_ref().trim().to_string();
            if host.is_empty() {
                return Err(ConfigError::at(
                    path,
                    text,
                    h.span().start,
                    format!("{section}.host: must not be empty"),
                ));
            }
            host
        }
        None if raw.kind.is_api() => api_url
            .split("://")
            .nth(1)
            .unwrap_or(&api_url)
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_string(),
        None => match preset_host(raw.kind, raw.preset) {
            Some(h) => h.to_string(),
            None => {
                return Err(ConfigError::whole(
                    path,
                    format!(
                        "{section}.host: missing (the server's name, e.g. host = \"imap.example.com\")"
                    ),
                ));
            }
        },
    };
    let oauth = match &raw.oauth {
        Some(o) => Some(oauth_settings(o.get_ref(), resolve).map_err(|e| {
            ConfigError::at(path, text, o.span().start, format!("{section}.oauth: {e}"))
        })?),
        None => None,
    };
    if raw.kind.is_api() && oauth.is_none() {
        return Err(ConfigError::whole(
            path,
            format!(
                "{section}: kind = \"{}\" needs a [{section}.oauth] table (provider, tenant, client_id and a secret or certificate)",
                raw.kind.name()
            ),
        ));
    }
    if raw.graph_import.is_some() && (raw.kind != EndpointKind::Graph || section != "destination") {
        return Err(ConfigError::whole(
            path,
            format!("{section}.graph_import: only a Graph destination imports messages"),
        ));
    }
    if raw.kind == EndpointKind::Pop3 && section == "destination" {
        return Err(ConfigError::whole(
            path,
            "destination.kind: POP3 can only be a source (it has no way to store messages)",
        ));
    }
    if raw.auth == AuthMethod::Xoauth2 && raw.kind == EndpointKind::Pop3 {
        return Err(ConfigError::whole(
            path,
            format!("{section}.auth: xoauth2 is for IMAP; POP3 logs in with USER/PASS"),
        ));
    }
    if security == Security::None && !is_loopback(&host) && !raw.allow_plaintext {
        return Err(ConfigError::at(
            path,
            text,
            raw.security.span().start,
            format!(
                "{section}.security: \"none\" sends passwords and mail in clear text to {host}; \
                 it is allowed only for loopback hosts unless the section sets allow_plaintext = true"
            ),
        ));
    }
    if security == Security::None && !is_loopback(&host) {
        load_warning(format!(
            "{section}: allow_plaintext = true with security = \"none\": passwords and mail travel in clear text to {host}"
        ));
    }
    let max_connections = *raw.max_connections.get_ref();
    checks::in_range(
        &format!("{section}.max_connections"),
        &max_connections,
        &checks::MAX_CONNECTIONS,
    )
    .map_err(|m| ConfigError::at(path, text, raw.max_connections.span().start, m))?;
    if let Some(p) = &raw.port {
        checks::in_range(&format!("{section}.port"), p.get_ref(), &checks::PORT)
            .map_err(|m| ConfigError::at(path, text, p.span().start, m))?;
    }
    let timeout_secs = match &raw.timeout_secs {
        Some(t) => {
            checks::in_range(
                &format!("{section}.timeout_secs"),
                t.get_ref(),
                &checks::TIMEOUT_SECS,
            )
            .map_err(|m| ConfigError::at(path, text, t.span().start, m))?;
            *t.get_ref()
        }
        None => 120,
    };
    if raw.gmail.is_some() && section != "source" {
        return Err(ConfigError::whole(
            path,
            format!(
                "{section}.gmail: the [gmail] table is for a Gmail source (labels and All Mail are read, never written)"
            ),
        ));
    }
    let gmail = match &raw.gmail {
        Some(g) => Some(GmailSource {
            multi_label: g.multi_label,
            include_spam: g.include_spam,
            include_trash: g.include_trash,
        }),
        None if section == "source"
            && (raw.preset == Preset::Gmail || raw.kind == EndpointKind::Gmail) =>
        {
            Some(GmailSource::default())
        }
        None => None,
    };
    let port = raw
        .port
        .as_ref()
        .map(|p| *p.get_ref())
        .unwrap_or(match (raw.kind, security) {
            (EndpointKind::Pop3, Security::Tls) => 995,
            (EndpointKind::Pop3, _) => 110,
            (_, Security::Tls) => 993,
            _ => 143,
        });
    let ca_file = raw.ca_file.as_deref().map(resolve);
    let max_message_size = match &raw.max_message_size {
        Some(s) => {
            let at = |m: String| ConfigError::at(path, text, s.span().start, m);
            let size = s
                .get_ref()
                .parse::<bytesize::ByteSize>()
                .map_err(|e| {
                    at(format!(
                        "{section}.max_message_size: expected a size such as \"35 MiB\": {e}"
                    ))
                })?
                .as_u64();
            if !checks::MAX_MESSAGE_SIZE.contains(&size) {
                return Err(at(format!(
                    "{section}.max_message_size: {:?} is out of range: expected 1 KiB to 2 GiB",
                    s.get_ref()
                )));
            }
            Some(size)
        }
        None => match raw.preset {
            Preset::M365 | Preset::Exchange => Some(35 * 1024 * 1024),
            // Gmail announces its limit (APPENDLIMIT=35651584), which applies at run time.
            Preset::Gmail | Preset::Generic => None,
        },
    };
    Ok(Endpoint {
        kind: raw.kind,
        host,
        port,
        security,
        preset: raw.preset,
        max_connections,
        ca_file,
        max_message_size,
        timeout: std::time::Duration::from_secs(timeout_secs),
        auth: raw.auth,
        api_url,
        oauth,
        graph_import: raw.graph_import.unwrap_or_default(),
        gmail,
    })
}

/// The IMAP server a preset implies when the file names none: Exchange Online
/// (`outlook.office365.com`) for m365, `imap.gmail.com` for gmail (both port 993, TLS).
/// Exchange Server on premises (preset exchange) has no public name.
pub fn preset_host(kind: EndpointKind, preset: Preset) -> Option<&'static str> {
    match (kind, preset) {
        (EndpointKind::Imap, Preset::M365) => Some("outlook.office365.com"),
        (EndpointKind::Imap, Preset::Gmail) => Some("imap.gmail.com"),
        _ => None,
    }
}

fn oauth_settings(
    o: &RawOAuth,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<OAuthSettings, String> {
    let client_secret = match (&o.client_secret_env, &o.client_secret_file) {
        (None, None) => None,
        (env, file) => Some(
            secret(None, env.as_deref(), file.as_deref(), resolve)
                .map_err(|e| e.message.replace("password_", "client_secret_"))?,
        ),
    };
    let s = OAuthSettings {
        provider: o.provider,
        flow: o.flow,
        tenant: o.tenant.clone(),
        client_id: o.client_id.clone(),
        client_secret,
        certificate_file: o.certificate_file.as_deref().map(resolve),
        private_key_file: o
            .private_key_file
            .as_deref()
            .or(o.certificate_file.as_deref())
            .map(resolve),
        service_account_file: o.service_account_file.as_deref().map(resolve),
        scope: o.scope.clone(),
        token_url: o.token_url.as_ref().map(|u| u.get_ref().clone()),
        device_code_url: o.device_code_url.as_ref().map(|u| u.get_ref().clone()),
    };
    match (s.provider, s.flow) {
        (OAuthProvider::Entra, OAuthFlow::ServiceAccount) => {
            return Err("flow \"service-account\" is Google's; Entra uses client-credentials or device-code".into());
        }
        (OAuthProvider::Entra, _) if s.tenant.is_none() || s.client_id.is_none() => {
            return Err("Entra needs tenant and client_id (the app registration's ids)".into());
        }
        (OAuthProvider::Entra, OAuthFlow::ClientCredentials)
            if s.client_secret.is_none() && s.certificate_file.is_none() =>
        {
            return Err("client-credentials needs client_secret_env, client_secret_file or certificate_file".into());
        }
        (OAuthProvider::Google, OAuthFlow::DeviceCode) => {
            return Err("Google's device flow does not grant the mail scopes; use flow = \"service-account\" (a key with domain-wide delegation)".into());
        }
        (OAuthProvider::Google, OAuthFlow::ServiceAccount | OAuthFlow::ClientCredentials)
            if s.service_account_file.is_none() =>
        {
            return Err("Google app-only access needs service_account_file (a key with domain-wide delegation)".into());
        }
        _ => {}
    }
    Ok(s)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
];

fn load_csv(
    file: &Path,
    tokens: (bool, bool),
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Vec<MailboxSpec>, ConfigError> {
    let err = |line: usize, column: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| err(0, 0, format!("cannot read the mailbox CSV: {e}")))?;
    let headers = rdr
        .headers()
        .map_err(|e| err(1, 1, format!("cannot read the CSV header: {e}")))?
        .clone();
    let mut col = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let canon = CSV_COLUMNS
            .iter()
            .find(|c| c.eq_ignore_ascii_case(h))
            .ok_or_else(|| {
                err(
                    1,
                    i + 1,
                    format!(
                        "unknown column {h:?}; expected some of {}",
                        CSV_COLUMNS.join(", ")
                    ),
                )
            })?;
        col.insert(*canon, i);
    }
    for required in ["EmailAddress", "UserName"] {
        if !col.contains_key(required) {
            return Err(err(1, 1, format!("missing required column {required}")));
        }
    }
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
        out.push(MailboxSpec {
            batch: get("Batch").unwrap_or("default").to_string(),
            source: Credential {
                user: user.to_string(),
                password: src,
            },
            destination: Credential {
                user: get("DestinationUser").unwrap_or(email).to_string(),
                password: dst,
            },
            origin_file: file.to_path_buf(),
            origin_line: line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let idx = LineIndex::new("ab\ncd");
        assert_eq!(idx.line_col("ab\ncd", 0), (1, 1));
        assert_eq!(idx.line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("mail.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }
}
