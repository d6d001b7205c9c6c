//! The `[source]` and `[destination]` sections: the endpoint kind (IMAP, Graph, Gmail API,
//! POP3, Maildir), its server, security, limits and presets, and an IMAP side's CalDAV/CardDAV
//! server (`[source.dav]`), validated into an [`Endpoint`].

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::checks::{self, is_loopback};
use super::google_quota::{GoogleQuota, RawGoogleQuota, google_quota};
use super::graph_limits::{GraphLimits, RawGraphLimits, graph_limits};
use super::lines::ConfigError;
use super::oauth::{OAuthSettings, RawOAuth, oauth_settings};
use super::warnings::load_warning;

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
    /// A local Maildir tree (Dovecot's `LAYOUT=fs`), one per mailbox under `path`: source or
    /// destination.
    Maildir,
}

impl EndpointKind {
    pub fn name(self) -> &'static str {
        match self {
            EndpointKind::Imap => "imap",
            EndpointKind::Graph => "graph",
            EndpointKind::Gmail => "gmail",
            EndpointKind::Pop3 => "pop3",
            EndpointKind::Maildir => "maildir",
        }
    }

    /// Whether the endpoint is an HTTP API whose mailboxes are reached with an OAuth2 token
    /// rather than per-mailbox passwords.
    pub fn is_api(self) -> bool {
        matches!(self, EndpointKind::Graph | EndpointKind::Gmail)
    }
}

/// COMPRESS=DEFLATE (RFC 4978) on an IMAP endpoint (`compress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compress {
    /// On where the server offers it and the host is not a loopback address (a WAN link gains,
    /// a local server only pays the CPU). The default.
    #[default]
    Auto,
    /// On wherever the server offers it.
    On,
    /// Never asked.
    Off,
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
    /// Microsoft 365 to Microsoft 365: every item (mail, meetings, contacts) exported from the
    /// source mailbox as Exchange's opaque full-fidelity stream and imported into the
    /// destination mailbox (the mailbox import/export API). Needs a Graph source; the
    /// project sets it on the source side too, which then reads by export.
    #[serde(rename = "export-import")]
    ExportImport,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
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
    /// IMAP: COMPRESS=DEFLATE, "auto", "on" or "off" (default).
    #[serde(default)]
    compress: Option<Compress>,
    /// Graph destination: "mime" (importMime, default), "json" or "export-import".
    #[serde(default)]
    graph_import: Option<GraphImport>,
    /// `[source.gmail]`: how a Gmail-shaped source is read (labels, All Mail).
    #[serde(default)]
    gmail: Option<RawGmail>,
    /// Maildir: the directory holding one Maildir tree per mailbox.
    #[serde(default)]
    path: Option<Spanned<String>>,
    /// `[source.dav]`: the CalDAV/CardDAV server beside an IMAP endpoint.
    #[serde(default)]
    dav: Option<RawDav>,
    /// Google's per-user quotas on a Gmail endpoint (see `google_quota`).
    #[serde(default)]
    gmail_units_per_minute: Option<Spanned<u32>>,
    #[serde(default)]
    gmail_quota_window: Option<Spanned<String>>,
    #[serde(default)]
    calendar_requests_per_minute: Option<Spanned<u32>>,
    #[serde(default)]
    people_requests_per_minute: Option<Spanned<u32>>,
    /// A Gmail source: copy Google's "other contacts" too.
    #[serde(default)]
    other_contacts: Option<Spanned<bool>>,
    /// `[source.graph_limits]` / `[destination.graph_limits]` (see `graph_limits`).
    #[serde(default)]
    graph_limits: Option<Spanned<RawGraphLimits>>,
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

/// `[source.dav]` / `[destination.dav]` as the file has it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDav {
    pub(super) url: Spanned<String>,
    #[serde(default)]
    pub(super) security: Option<Spanned<Security>>,
}

/// Where an IMAP side's calendars and address books live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavSettings {
    /// The DAV root (`https://dav.example.com/`): discovery starts there (and at its
    /// `/.well-known/caldav` and `/.well-known/carddav`).
    pub url: String,
    pub security: Security,
}

/// A side's `[dav]` table validated: an IMAP side only; `https://` with security "tls"
/// (the default), `http://` only with security "none" and only to a loopback host.
pub(super) fn dav_settings(
    section: &str,
    kind: EndpointKind,
    raw: &RawDav,
) -> Result<DavSettings, (usize, String)> {
    let key = format!("{section}.dav");
    if kind != EndpointKind::Imap {
        return Err((
            raw.url.span().start,
            format!(
                "{key}: only an IMAP endpoint takes a [{key}] table (this one is {}: its calendars and contacts are not reached by CalDAV/CardDAV)",
                kind.name()
            ),
        ));
    }
    let url = raw.url.get_ref().trim();
    let at_url = |m: String| (raw.url.span().start, m);
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        at_url(format!(
            "{key}.url: {url:?} is not a URL ({e}); expected the DAV server's root, e.g. \"https://dav.example.com/\""
        ))
    })?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    if host.is_empty() {
        return Err(at_url(format!("{key}.url: {url:?} names no host")));
    }
    let security = raw
        .security
        .as_ref()
        .map_or(Security::Tls, |s| *s.get_ref());
    let at_sec = |m: String| {
        (
            raw.security
                .as_ref()
                .map_or(raw.url.span().start, |s| s.span().start),
            m,
        )
    };
    match (parsed.scheme(), security) {
        ("https", Security::Tls) => {}
        ("http", Security::None) if is_loopback(&host) => {}
        ("http", Security::None) => {
            return Err(at_sec(format!(
                "{key}.security: \"none\" sends passwords, calendars and contacts in clear text to {host}; it is allowed only for loopback hosts"
            )));
        }
        ("http", _) => {
            return Err(at_url(format!(
                "{key}.url: http:// is clear text; use https:// (or security = \"none\" for a loopback test server)"
            )));
        }
        ("https", Security::None) => {
            return Err(at_sec(format!(
                "{key}.security: \"none\" with an https:// URL; use security = \"tls\" (the default)"
            )));
        }
        (_, Security::Starttls) => {
            return Err(at_sec(format!(
                "{key}.security: starttls is an IMAP/POP3 mechanism; DAV is \"tls\" (https://) or \"none\" (http:// on loopback)"
            )));
        }
        (other, _) => {
            return Err(at_url(format!(
                "{key}.url: {other}:// is not supported; use https://"
            )));
        }
    }
    Ok(DavSettings {
        url: url.to_string(),
        security,
    })
}

fn default_security() -> Spanned<Security> {
    Spanned::new(0..0, Security::Tls)
}

fn default_connections() -> Spanned<usize> {
    Spanned::new(0..0, 8)
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
    /// COMPRESS=DEFLATE on an IMAP endpoint.
    pub compress: Compress,
    /// Set when this endpoint is (to be read as) Gmail: `preset = "gmail"`, `kind = "gmail"`
    /// or a `[source.gmail]` table. A source then copies each message once (see
    /// `sync::gmail`).
    pub gmail: Option<GmailSource>,
    /// Maildir: the absolute directory holding one Maildir tree per mailbox.
    pub path: Option<PathBuf>,
    /// The CalDAV/CardDAV server of an IMAP endpoint (`[source.dav]`), when it has one.
    pub dav: Option<DavSettings>,
    /// Google's per-user quotas (a Gmail endpoint; the defaults elsewhere).
    pub google_quota: GoogleQuota,
    /// A Gmail source copies Google's "other contacts" (`other_contacts = true`).
    pub google_other_contacts: bool,
    /// Exchange Online's per app-and-mailbox limits (a Graph endpoint; the defaults elsewhere).
    pub graph_limits: GraphLimits,
}

impl Endpoint {
    /// Whether IMAP sessions ask for COMPRESS=DEFLATE (when the server offers it).
    pub fn wants_compression(&self) -> bool {
        match self.compress {
            Compress::On => true,
            Compress::Off => false,
            Compress::Auto => !super::checks::is_loopback(&self.host),
        }
    }

    /// Mailboxes on this endpoint need no password of their own: they log in with a token,
    /// or they are local directories (Maildir).
    pub fn uses_tokens(&self) -> bool {
        self.oauth.is_some() || self.kind == EndpointKind::Maildir
    }
}

pub(super) fn endpoint(
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
        EndpointKind::Imap | EndpointKind::Pop3 | EndpointKind::Maildir => "",
    };
    let maildir = maildir_path(path, text, section, raw)?;
    let dav = match &raw.dav {
        Some(d) => Some(
            dav_settings(section, raw.kind, d)
                .map_err(|(at, m)| ConfigError::at(path, text, at, m))?,
        ),
        None => None,
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
        // A local tree is named by its directory wherever an endpoint is named by its host.
        _ if let Some(dir) = &maildir => dir.display().to_string(),
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
                let msg = format!(
                    "{section}.host: missing (the server's name, e.g. host = \"imap.example.com\")"
                );
                // Where the key belongs: the line opening the section (its header, or
                // its inline table), not a comment naming it.
                let (header, inline) = (format!("[{section}]"), format!("{section} ="));
                let mut offset = 0;
                let mut at = None;
                for line in text.split_inclusive('\n') {
                    let t = line.trim_start();
                    if t.starts_with(&header) || t.starts_with(&inline) {
                        at = Some(offset + line.len() - t.len());
                        break;
                    }
                    offset += line.len();
                }
                return Err(match at {
                    Some(at) => ConfigError::at(path, text, at, msg),
                    None => ConfigError::whole(path, msg),
                });
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
    if raw.compress.is_some() && raw.kind != EndpointKind::Imap {
        return Err(ConfigError::whole(
            path,
            format!(
                "{section}.compress: COMPRESS=DEFLATE is an IMAP extension; remove it from this {} endpoint",
                raw.kind.name()
            ),
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
    let google_quota = google_quota(
        section,
        raw.kind == EndpointKind::Gmail,
        &RawGoogleQuota {
            gmail_units_per_minute: raw.gmail_units_per_minute.clone(),
            gmail_quota_window: raw.gmail_quota_window.clone(),
            calendar_requests_per_minute: raw.calendar_requests_per_minute.clone(),
            people_requests_per_minute: raw.people_requests_per_minute.clone(),
        },
    )
    .map_err(|(at, m)| ConfigError::at(path, text, at, m))?;
    let graph_limits = graph_limits(
        section,
        raw.kind == EndpointKind::Graph,
        raw.graph_limits.as_ref(),
    )
    .map_err(|(at, m)| ConfigError::at(path, text, at, m))?;
    let google_other_contacts = match &raw.other_contacts {
        Some(o) if raw.kind != EndpointKind::Gmail || section != "source" => {
            return Err(ConfigError::at(
                path,
                text,
                o.span().start,
                format!(
                    "{section}.other_contacts: only a kind = \"gmail\" source has Google's \"other contacts\""
                ),
            ));
        }
        Some(o) => *o.get_ref(),
        None => false,
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
        compress: raw.compress.unwrap_or_default(),
        gmail,
        path: maildir,
        dav,
        google_quota,
        google_other_contacts,
        graph_limits,
    })
}

/// `path` of a Maildir endpoint: required, absolute, a directory (a destination's is created
/// when missing, and must be writable); refused on any other kind, as are the network keys on
/// a Maildir endpoint.
fn maildir_path(
    path: &Path,
    text: &str,
    section: &str,
    raw: &RawEndpoint,
) -> Result<Option<PathBuf>, ConfigError> {
    if raw.kind != EndpointKind::Maildir {
        return match &raw.path {
            Some(p) => Err(ConfigError::at(
                path,
                text,
                p.span().start,
                format!(
                    "{section}.path: only a kind = \"maildir\" endpoint has a path (this one is {})",
                    raw.kind.name()
                ),
            )),
            None => Ok(None),
        };
    }
    let network = [
        ("host", raw.host.as_ref().map(|h| h.span().start)),
        ("port", raw.port.as_ref().map(|p| p.span().start)),
        ("api_url", raw.api_url.as_ref().map(|u| u.span().start)),
        ("oauth", raw.oauth.as_ref().map(|o| o.span().start)),
    ];
    for (key, at) in network {
        if let Some(at) = at {
            return Err(ConfigError::at(
                path,
                text,
                at,
                format!(
                    "{section}.{key}: a maildir endpoint is a local directory; it has no {key}"
                ),
            ));
        }
    }
    if raw.gmail.is_some() || raw.graph_import.is_some() || raw.auth != AuthMethod::Login {
        return Err(ConfigError::whole(
            path,
            format!("{section}: gmail, graph_import and auth do not apply to a maildir endpoint"),
        ));
    }
    let Some(p) = &raw.path else {
        return Err(ConfigError::whole(
            path,
            format!(
                "{section}.path: missing (kind = \"maildir\" needs the directory of the Maildir trees, e.g. path = \"/srv/backup/maildir\")"
            ),
        ));
    };
    let at = |m: String| ConfigError::at(path, text, p.span().start, m);
    let dir = PathBuf::from(p.get_ref());
    if p.get_ref().trim().is_empty() || !dir.is_absolute() {
        return Err(at(format!(
            "{section}.path: {:?} must be an absolute path (the directory of the Maildir trees)",
            p.get_ref()
        )));
    }
    match std::fs::metadata(&dir) {
        Ok(m) if !m.is_dir() => {
            return Err(at(format!(
                "{section}.path: {} is not a directory",
                dir.display()
            )));
        }
        Ok(_) => {}
        Err(e) if section == "source" => {
            return Err(at(format!(
                "{section}.path: cannot read {}: {e}",
                dir.display()
            )));
        }
        Err(_) => {}
    }
    if section == "destination" {
        // The directory, or the nearest ancestor that exists (the run creates the rest).
        let existing = dir.ancestors().find(|a| a.exists()).unwrap_or(&dir);
        let probe = Ok(()).and_then(|_: ()| {
            let f = existing.join(format!(".cutover-write-test-{}", std::process::id()));
            std::fs::write(&f, b"")?;
            std::fs::remove_file(&f)
        });
        if let Err(e) = probe {
            return Err(at(format!(
                "{section}.path: {} is not writable ({}: {e})",
                dir.display(),
                existing.display()
            )));
        }
    }
    Ok(Some(dir))
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
