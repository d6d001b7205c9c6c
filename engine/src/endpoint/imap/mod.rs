//! IMAP endpoint on async-imap, tokio and rustls.
//!
//! async-imap's high-level API runs one command at a time and throws away APPENDUID, so the
//! APPEND path here speaks the protocol itself on the session's stream: pipelined APPENDs with
//! LITERAL+ where offered, synchronising literals otherwise, and the tagged replies matched by
//! tag so every message gets its own outcome and destination UID.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::imap_proto::{self, Response, ResponseCode, Status};
use async_imap::types::{Flag, NameAttribute, UnsolicitedResponse};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

use super::bounded::{self, Violation};
use super::guard::{Guard, GuardHandle};
use super::{
    AppendOutcome, Body, Capabilities, ConnectionBudget, EndpointError, Fingerprinted, Folder,
    FolderState, MailSession, Message, MessageIdentity, MessageMeta, MessageSink, Result,
    SpecialUse, fingerprint, uid_set,
};

/// A fetched message's bytes, left in async-imap's response buffer.
struct FetchBody(async_imap::types::Fetch);

impl AsRef<[u8]> for FetchBody {
    fn as_ref(&self) -> &[u8] {
        self.0.body().unwrap_or_default()
    }
}
use super::oauth::TokenProvider;
use crate::config::{self, AuthMethod, Credential, Security};

/// SASL initial responses for AUTHENTICATE (async-imap base64-encodes them). After the first
/// response any further challenge is an error report (XOAUTH2 sends a JSON one, e.g. Gmail's
/// `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`): it is kept for
/// the error message and answered with an empty response, so the server completes with a
/// tagged NO.
struct Sasl {
    first: Option<Vec<u8>>,
    error: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

impl Sasl {
    fn plain(user: &str, secret: &str) -> Sasl {
        Sasl {
            first: Some(format!("\0{user}\0{secret}").into_bytes()),
            error: Default::default(),
        }
    }
    fn xoauth2(user: &str, token: &str) -> Sasl {
        Sasl {
            first: Some(format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes()),
            error: Default::default(),
        }
    }
}

impl async_imap::Authenticator for Sasl {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first,
            None => {
                if let Ok(mut e) = self.error.lock() {
                    *e = Some(challenge.to_vec());
                }
                Vec::new()
            }
        }
    }
}

/// The XOAUTH2 error challenge (JSON) in words for the operator.
fn xoauth2_error(challenge: &[u8]) -> String {
    let v: serde_json::Value = match serde_json::from_slice(challenge) {
        Ok(v) => v,
        Err(_) => {
            return format!(
                "the server refused the token ({})",
                String::from_utf8_lossy(challenge)
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
    };
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let status = field("status");
    let scope = field("scope");
    let what = match status.as_str() {
        "401" => "the access token is invalid, expired or revoked",
        "400" => {
            "the access token was refused (wrong scope, or the account is not the one it was issued for)"
        }
        "403" => {
            "the account may not use IMAP with this token (IMAP disabled, or the app lacks the permission)"
        }
        _ => "the server refused the token",
    };
    let mut out = format!("XOAUTH2 status {status}: {what}");
    if !scope.is_empty() {
        out.push_str(&format!("; the server wants scope {scope}"));
    }
    out
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug> Io for T {}
type Stream = BufStream<Box<dyn Io>>;

/// Messages per UID FETCH of bodies.
const FETCH_CHUNK_MSGS: usize = 500;
/// FETCH responses beyond the UIDs asked for that a UID FETCH may bring (unsolicited flag
/// updates of other messages); more is a protocol error.
const FETCH_SLACK: usize = 1000;

/// Drop the unsolicited responses the client queued (`next` takes one): the highest EXISTS
/// among them, if any.
fn drained_exists(mut next: impl FnMut() -> Option<UnsolicitedResponse>) -> Option<u32> {
    let mut exists = None;
    while let Some(r) = next() {
        if let UnsolicitedResponse::Exists(n) = r {
            exists = exists.max(Some(n));
        }
    }
    exists
}

/// The count of a streamed listing (`UID FETCH n:*`): its cap follows EXISTS as the server
/// updates it meanwhile (new mail, our own APPENDs).
struct Listing {
    n: usize,
    exists: u32,
}

impl Listing {
    fn new(exists: u32) -> Listing {
        Listing { n: 0, exists }
    }

    /// One more response; refused once there are more than the folder can hold.
    fn one_more(
        &mut self,
        op: &str,
        unsolicited: impl FnMut() -> Option<UnsolicitedResponse>,
    ) -> Result<()> {
        if let Some(e) = drained_exists(unsolicited) {
            self.exists = self.exists.max(e);
        }
        self.n += 1;
        let cap = bounded::listing_cap(self.exists);
        if self.n > cap {
            return Err(too_many(op, cap, Some(self.exists)));
        }
        Ok(())
    }
}

/// A server that sent more FETCH responses than the folder can hold.
fn too_many(op: &str, cap: usize, exists: Option<u32>) -> EndpointError {
    let why = match exists {
        Some(e) => format!(" for a folder of {e} messages (EXISTS)"),
        None => " for the messages asked for".to_string(),
    };
    EndpointError::Protocol {
        op: op.into(),
        message: format!("the server sent more than {cap} FETCH responses{why}; stopped reading"),
    }
}

/// The Gmail labels of a FETCH answer, decoded (Gmail writes non-ASCII label names in
/// modified UTF-7, as folder names); a label longer than [`bounded::MAX_LABEL`] is a protocol
/// error for the message.
fn labels_of(f: &async_imap::types::Fetch, uid: u32, folder: &str) -> Result<Option<Vec<String>>> {
    let Some(ls) = f.gmail_labels() else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ls.len());
    for l in ls {
        if l.len() > bounded::MAX_LABEL {
            return Err(EndpointError::Protocol {
                op: "UID FETCH (identities)".into(),
                message: format!(
                    "the server gave UID {uid} in {folder} a label of {} bytes, more than the {} accepted",
                    l.len(),
                    bounded::MAX_LABEL
                ),
            });
        }
        out.push(decode_mutf7(&unquote(l)));
    }
    Ok(Some(out))
}

/// Opens sessions on one endpoint, never more than its `max_connections` at once.
#[derive(Clone)]
pub struct ImapConnector {
    cfg: config::Endpoint,
    tls: Option<TlsConnector>,
    /// OAuth2 tokens for XOAUTH2, when the endpoint has an `[oauth]` table.
    tokens: Option<TokenProvider>,
    budget: ConnectionBudget,
    /// "source" or "destination", for messages.
    pub side: &'static str,
}

impl ImapConnector {
    pub fn new(cfg: &config::Endpoint, side: &'static str) -> Result<Self> {
        let tls = match cfg.security {
            Security::None => None,
            _ => Some(tls_connector(cfg)?),
        };
        Ok(ImapConnector {
            cfg: cfg.clone(),
            tls,
            tokens: None,
            budget: ConnectionBudget::new(cfg.max_connections),
            side,
        })
    }

    /// A connector for one side of a project whose journal is at `state_path`: with an
    /// `[oauth]` table, every login is AUTHENTICATE XOAUTH2 with a token from one provider
    /// (delegated refresh tokens in the token file next to the journal).
    pub fn for_project(
        cfg: &config::Endpoint,
        side: &'static str,
        state_path: &std::path::Path,
    ) -> Result<Self> {
        let mut c = Self::new(cfg, side)?;
        c.tokens = TokenProvider::for_endpoint(cfg, side, state_path)?;
        Ok(c)
    }

    /// Log in with tokens from this provider (XOAUTH2).
    pub fn with_tokens(mut self, tokens: TokenProvider) -> Self {
        self.tokens = Some(tokens);
        self
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    /// Connections open right now.
    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    /// Wait for a free connection slot, then connect and log in.
    pub async fn connect(&self, cred: &Credential) -> Result<ImapSession> {
        let permit = self.budget.acquire().await;
        let Some(tokens) = &self.tokens else {
            return self.connect_with(permit, cred, self.cfg.auth).await;
        };
        // XOAUTH2 with a token for this mailbox; a refused token (revoked, or expired
        // early) is dropped and the login tried once more with a fresh one.
        let with_token = |token: secrecy::SecretString| Credential {
            user: cred.user.clone(),
            password: token,
        };
        let first = with_token(tokens.token(&cred.user).await?);
        match self.connect_with(permit, &first, AuthMethod::Xoauth2).await {
            Err(EndpointError::Auth { .. }) => {
                tokens.invalidate(&cred.user).await;
                let again = with_token(tokens.token(&cred.user).await?);
                let permit = self.budget.acquire().await;
                self.connect_with(permit, &again, AuthMethod::Xoauth2).await
            }
            other => other,
        }
    }

    async fn connect_with(
        &self,
        permit: OwnedSemaphorePermit,
        cred: &Credential,
        auth: AuthMethod,
    ) -> Result<ImapSession> {
        let timeout = self.cfg.timeout;
        let addr = format!("{}:{}", self.cfg.host, self.cfg.port);
        let tcp = tcp_connect(&self.cfg).await?;
        let host = self.cfg.host.clone();
        let stream: Box<dyn Io> = match self.cfg.security {
            Security::None => Box::new(tcp),
            Security::Tls => Box::new(self.handshake(tcp).await?),
            Security::Starttls => {
                let mut tcp = BufStream::new(tcp);
                super::starttls::imap(&mut tcp, timeout, &addr).await?;
                Box::new(self.handshake(tcp.into_inner()).await?)
            }
        };
        // Every byte from the server passes the guard: lines, literals and read-ahead bounded.
        let (guard, guard_handle) = Guard::new(stream);
        let stream: Box<dyn Io> = Box::new(guard);
        let mut client = async_imap::Client::new(BufStream::new(stream));
        if self.cfg.security != Security::Starttls {
            let greeting = with_timeout(timeout, "greeting", client.read_response())
                .await?
                .map_err(|e| io_err("greeting", e))?;
            match greeting.as_ref().map(|g| g.parsed()) {
                Some(Response::Data {
                    status: Status::Ok | Status::PreAuth,
                    ..
                }) => {}
                Some(Response::Data {
                    status: Status::Bye,
                    outcome,
                }) => {
                    let info = outcome.information.as_deref().unwrap_or("");
                    if let Some(wait) = throttle_of(info) {
                        return Err(EndpointError::Throttled {
                            op: "greeting".into(),
                            message: format!("server {addr} said BYE: {info}"),
                            wait,
                        });
                    }
                    return Err(EndpointError::Protocol {
                        op: "greeting".into(),
                        message: format!(
                            "server {addr} said BYE: {}",
                            outcome.information.as_deref().unwrap_or("")
                        ),
                    });
                }
                _ => {
                    return Err(EndpointError::Protocol {
                        op: "greeting".into(),
                        message: format!("{addr} did not greet like an IMAP server"),
                    });
                }
            }
        }
        let secret = cred.password.expose_secret();
        let sasl_error: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Default::default();
        let login = async {
            match auth {
                AuthMethod::Login => client.login(&cred.user, secret).await,
                AuthMethod::Plain => {
                    client
                        .authenticate("PLAIN", Sasl::plain(&cred.user, secret))
                        .await
                }
                AuthMethod::Xoauth2 => {
                    let mut sasl = Sasl::xoauth2(&cred.user, secret);
                    sasl.error = sasl_error.clone();
                    client.authenticate("XOAUTH2", sasl).await
                }
            }
        };
        let challenge = || sasl_error.lock().ok().and_then(|mut e| e.take());
        let session = with_timeout(timeout, "login", login)
            .await?
            .map_err(|(e, _)| match e {
                async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => {
                    match throttle_of(&m) {
                        Some(wait) => EndpointError::Throttled {
                            op: "login".into(),
                            message: clean_no(&m),
                            wait,
                        },
                        None => EndpointError::Auth {
                            user: cred.user.clone(),
                            message: match challenge() {
                                Some(c) => format!("{} ({})", clean_no(&m), xoauth2_error(&c)),
                                // Exchange Online answers a refused token with a bare NO.
                                None if auth == AuthMethod::Xoauth2 => format!(
                                    "{} (the OAuth2 token was refused: check the app's IMAP permission and its access to this mailbox; on Exchange Online New-ServicePrincipal and Add-MailboxPermission)",
                                    clean_no(&m)
                                ),
                                None => clean_no(&m),
                            },
                        },
                    }
                }
                // A server that drops the connection after its XOAUTH2 error challenge
                // still refused the login.
                other => match challenge() {
                    Some(c) => EndpointError::Auth {
                        user: cred.user.clone(),
                        message: xoauth2_error(&c),
                    },
                    None => map_err("login", other),
                },
            })?;
        let mut s = ImapSession {
            s: session,
            opened: String::new(),
            caps: Capabilities::default(),
            timeout,
            tag: 0,
            keywords: None,
            host,
            guard: guard_handle,
            message_cap: bounded::message_cap(self.cfg.max_message_size),
            cap_origin: bounded::message_cap_origin(self.cfg.max_message_size, self.side),
            exists: None,
            _permit: permit,
        };
        s.caps = s.read_capabilities().await?;
        if let Some(limit) = self.cfg.max_message_size {
            s.caps.append_limit = Some(s.caps.append_limit.map_or(limit, |l| l.min(limit)));
        }
        Ok(s)
    }

    async fn handshake<S>(&self, tcp: S) -> Result<tokio_rustls::client::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tls_handshake(self.tls.as_ref(), &self.cfg, tcp).await
    }
}

/// TCP to the endpoint's host and port within its timeout (Nagle off: commands are small).
pub(crate) async fn tcp_connect(cfg: &config::Endpoint) -> Result<TcpStream> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = with_timeout(cfg.timeout, "connect", TcpStream::connect(&addr))
        .await?
        .map_err(|source| EndpointError::Connect { addr, source })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// TLS over `tcp` with the endpoint's connector (from [`tls_connector`]), the server name
/// checked against its host.
pub(crate) async fn tls_handshake<S>(
    tls: Option<&TlsConnector>,
    cfg: &config::Endpoint,
    tcp: S,
) -> Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let tls = tls.expect("TLS connector for a TLS endpoint");
    let name = ServerName::try_from(cfg.host.clone()).map_err(|e| EndpointError::Tls {
        host: cfg.host.clone(),
        message: format!("not a valid server name: {e}"),
    })?;
    with_timeout(cfg.timeout, "TLS handshake", tls.connect(name, tcp))
        .await?
        .map_err(|e| EndpointError::Tls {
            host: cfg.host.clone(),
            message: e.to_string(),
        })
}

pub(crate) fn tls_connector(cfg: &config::Endpoint) -> Result<TlsConnector> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tls_err = |message: String| EndpointError::Tls {
        host: cfg.host.clone(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| tls_err(format!("cannot read ca_file {}: {e}", ca.display())))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| tls_err(format!("ca_file {}: {e}", ca.display())))?;
            roots
                .add(cert)
                .map_err(|e| tls_err(format!("ca_file {}: {e}", ca.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_err(format!(
                "ca_file {} holds no PEM certificate",
                ca.display()
            )));
        }
    } else {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

pub(crate) async fn with_timeout<F: std::future::Future>(
    d: Duration,
    op: &str,
    f: F,
) -> Result<F::Output> {
    tokio::time::timeout(d, f)
        .await
        .map_err(|_| EndpointError::Timeout {
            op: op.to_string(),
            secs: d.as_secs(),
        })
}

/// `f` before `deadline` (set `t` earlier for phase `op`).
async fn before<F: std::future::Future>(
    deadline: tokio::time::Instant,
    t: Duration,
    op: &str,
    f: F,
) -> Result<F::Output> {
    tokio::time::timeout_at(deadline, f)
        .await
        .map_err(|_| EndpointError::Timeout {
            op: op.to_string(),
            secs: t.as_secs(),
        })
}

pub(crate) fn io_err(op: &str, e: std::io::Error) -> EndpointError {
    // The server sent more than cutover accepts: a refusal, not a network error to retry.
    if let Some(v) = Violation::of(&e) {
        return EndpointError::Protocol {
            op: op.into(),
            message: v.to_string(),
        };
    }
    if matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    ) {
        EndpointError::ConnectionLost { op: op.into() }
    } else {
        EndpointError::Io {
            op: op.into(),
            source: e,
        }
    }
}

/// async-imap formats NO/BAD as `code: Some(..), info: Some("..")`; keep the server's words.
fn clean_no(m: &str) -> String {
    match m.find("info: Some(\"") {
        Some(i) => m[i + 12..].trim_end_matches("\")").to_string(),
        None => m.to_string(),
    }
}

fn map_err(op: &str, e: async_imap::error::Error) -> EndpointError {
    use async_imap::error::Error as E;
    match e {
        E::Io(e) => io_err(op, e),
        E::ConnectionLost => EndpointError::ConnectionLost { op: op.into() },
        E::No(m) => classify_no(op, &m, None),
        E::Bad(m) => EndpointError::Protocol {
            op: op.into(),
            message: format!("server said BAD: {}", clean_no(&m)),
        },
        other => EndpointError::Protocol {
            op: op.into(),
            message: other.to_string(),
        },
    }
}

/// Longest wait a throttling server may impose before a retry (a garbled number must not park
/// a worker for hours).
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(600);

/// A throttling signal in a server's NO or BYE text: `Some(wait)` when the server says it is
/// throttling this client, with the wait it suggested (None when it named none).
/// Exchange / Microsoft 365: "Request is throttled. Suggested Backoff Time: 52345 milliseconds";
/// Gmail: "[THROTTLED]", "Account exceeded command or bandwidth limits".
pub fn throttle_of(text: &str) -> Option<Option<Duration>> {
    let up = text.to_ascii_uppercase();
    const SUGGESTED: &str = "SUGGESTED BACKOFF TIME";
    if !(up.contains("THROTTL")
        || up.contains("BANDWIDTH LIMIT")
        || up.contains("COMMAND OR BANDWIDTH")
        || up.contains(SUGGESTED))
    {
        return None;
    }
    let wait = up.find(SUGGESTED).and_then(|i| {
        let rest = up[i + SUGGESTED.len()..].trim_start_matches([':', ' ', '=']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits.parse().ok()?;
        let unit = rest[digits.len()..].trim_start();
        let d = if unit.starts_with("SEC") || (unit.starts_with('S') && !unit.starts_with("MS")) {
            Duration::from_secs(n)
        } else {
            // Exchange says milliseconds; a bare number is taken as milliseconds too.
            Duration::from_millis(n)
        };
        Some(d.min(MAX_THROTTLE_WAIT))
    });
    Some(wait)
}

fn classify_no(op: &str, text: &str, folder: Option<&str>) -> EndpointError {
    let up = text.to_ascii_uppercase();
    if let Some(wait) = throttle_of(text) {
        EndpointError::Throttled {
            op: op.into(),
            message: clean_no(text),
            wait,
        }
    } else if up.contains("OVERQUOTA") || up.contains("QUOTA EXCEEDED") {
        EndpointError::OverQuota {
            op: op.into(),
            message: clean_no(text),
        }
    } else if up.contains("TRYCREATE") || up.contains("NONEXISTENT") || up.contains("DOESN'T EXIST")
    {
        EndpointError::NoFolder {
            op: op.into(),
            folder: folder.unwrap_or("?").to_string(),
            server: Some(clean_no(text)),
        }
    } else {
        EndpointError::No {
            op: op.into(),
            message: clean_no(text),
        }
    }
}

/// A refusal of a command on one folder (EXAMINE, SELECT, STATUS): the folder is named (as
/// people read it) and the server's words kept; a plain NO counts as "no such folder", as
/// most servers give no response code for it, and the caller decides from a fresh LIST.
fn folder_err(op: &str, folder: &str, e: async_imap::error::Error) -> EndpointError {
    match map_err(op, e) {
        EndpointError::No { op, message } => EndpointError::NoFolder {
            op,
            folder: decode_mutf7(folder),
            server: Some(message),
        },
        EndpointError::NoFolder { op, server, .. } => EndpointError::NoFolder {
            op,
            folder: decode_mutf7(folder),
            server,
        },
        e => e,
    }
}

/// An IMAP string for a folder name: quoted, with `\` and `"` escaped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub fn flag_name(f: &Flag<'_>) -> Option<String> {
    Some(match f {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent | Flag::MayCreate => return None,
        Flag::Custom(c) => c.to_string(),
    })
}

pub struct ImapSession {
    s: async_imap::Session<Stream>,
    /// The folder opened last (EXAMINE or SELECT), as people read it, for error texts.
    opened: String,
    caps: Capabilities,
    timeout: Duration,
    tag: u64,
    keywords: Option<Vec<String>>,
    host: String,
    /// Limits and read-ahead reservations of the guarded stream under the client.
    guard: GuardHandle,
    /// The largest message read (see [`bounded::message_cap`]), and where it comes from.
    message_cap: u64,
    cap_origin: String,
    /// EXISTS of the last EXAMINE or SELECT: how many FETCH responses a listing may bring.
    exists: Option<u32>,
    _permit: OwnedSemaphorePermit,
}

impl ImapSession {
    async fn read_capabilities(&mut self) -> Result<Capabilities> {
        let caps = with_timeout(self.timeout, "CAPABILITY", self.s.capabilities())
            .await?
            .map_err(|e| map_err("CAPABILITY", e))?;
        let mut c = Capabilities::default();
        for cap in caps.iter() {
            let name = match cap {
                async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
                async_imap::types::Capability::Atom(a) => a.clone(),
            };
            let up = name.to_ascii_uppercase();
            match up.as_str() {
                "UIDPLUS" => c.uidplus = true,
                "LITERAL+" => c.literal_plus = true,
                "LITERAL-" => c.literal_minus = true,
                "SPECIAL-USE" => c.special_use = true,
                "MULTIAPPEND" => c.multiappend = true,
                _ => {
                    if let Some(v) = up.strip_prefix("APPENDLIMIT=") {
                        c.append_limit = v.parse().ok();
                    }
                }
            }
            c.raw.push(name);
        }
        Ok(c)
    }

    /// Before a command: drop what earlier ones left behind (unsolicited responses the client
    /// queued, reservations of consumed literals) and go back to the metadata limits.
    fn settle(&mut self) {
        let rx = &self.s.unsolicited_responses;
        if let Some(e) = drained_exists(|| rx.try_recv().ok()) {
            self.exists = Some(self.exists.unwrap_or(0).max(e));
        }
        self.guard.release();
        self.guard.metadata();
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("c{}", self.tag)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Storage quota of the root that holds `folder` (GETQUOTAROOT): (used, limit) in bytes.
    /// None when the server announces no QUOTA or sets no storage limit.
    pub async fn storage_quota(&mut self, folder: &str) -> Result<Option<(u64, u64)>> {
        if !self.caps.raw.iter().any(|c| {
            c.eq_ignore_ascii_case("QUOTA") || c.to_ascii_uppercase().starts_with("QUOTA=")
        }) {
            return Ok(None);
        }
        let (_, quotas) = with_timeout(self.timeout, "GETQUOTAROOT", self.s.get_quota_root(folder))
            .await?
            .map_err(|e| map_err("GETQUOTAROOT", e))?;
        let mut out: Option<(u64, u64)> = None;
        for q in &quotas {
            for r in &q.resources {
                if r.name == async_imap::types::QuotaResourceName::Storage && r.limit > 0 {
                    // KiB as the server counts them; a lie near u64::MAX saturates.
                    let (used, limit) =
                        (r.usage.saturating_mul(1024), r.limit.saturating_mul(1024));
                    // Several roots: the tightest one decides.
                    if out.is_none_or(|(u, l)| limit.saturating_sub(used) < l.saturating_sub(u)) {
                        out = Some((used, limit));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A folder's state as the server announced it. UIDVALIDITY must be there and non-zero
/// (RFC 3501 2.3.1.1): the journal keys every message by it, and 0 is what a missing one
/// would read as. async-imap ends EXAMINE/SELECT/STATUS without an error when the
/// connection closes before the tagged answer, so a missing UIDVALIDITY is first of all a
/// connection lost mid-answer: retried on a new connection (seen with Dovecot under load).
/// UIDVALIDITY 0 is a server fault, never retried.
fn state_of(op: &str, folder: &str, mb: &async_imap::types::Mailbox) -> Result<FolderState> {
    let uidvalidity = match mb.uid_validity {
        Some(v) if v != 0 => v,
        Some(_) => {
            return Err(EndpointError::Protocol {
                op: format!("{op} {}", decode_mutf7(folder)),
                message: "the server gave UIDVALIDITY 0 for the folder; cutover cannot tell its \
                          messages apart across sessions without one (a server fault: report it \
                          to the server's operator)"
                    .into(),
            });
        }
        None => {
            return Err(EndpointError::ConnectionLost {
                op: format!(
                    "{op} {} (its answer ended without the folder's UIDVALIDITY)",
                    decode_mutf7(folder)
                ),
            });
        }
    };
    Ok(FolderState {
        uidvalidity,
        uidnext: mb.uid_next.unwrap_or(0),
        exists: mb.exists,
    })
}

/// Whether an answer to a body FETCH carries the message's bytes. A flag update for a
/// message (`* n FETCH (UID u FLAGS (...))`, which a server may send at any time) does not
/// and is no answer: false. An answer with the message's size or date but not its bytes is
/// a protocol error, never an empty message.
fn has_body(f: &async_imap::types::Fetch, uid: u32, folder: &str) -> Result<bool> {
    if f.body().is_some() {
        return Ok(true);
    }
    if f.size.is_some() || f.internal_date().is_some() {
        return Err(EndpointError::Protocol {
            op: format!("UID FETCH in {folder}"),
            message: format!(
                "the server answered for UID {uid} without the message's bytes; nothing is \
                 copied from this folder until it sends them"
            ),
        });
    }
    Ok(false)
}

/// The UIDs a body FETCH answered with their bytes, and those it only sent a flag update
/// for. A UID that got a flag update but never its bytes by the end of the command was
/// answered without them: a protocol error, not a message gone from the source (which is
/// what a UID never answered at all means).
#[derive(Default)]
struct Answers {
    with_body: std::collections::HashSet<u32>,
    flags_only: Vec<u32>,
}

impl Answers {
    fn body(&mut self, uid: u32) {
        self.with_body.insert(uid);
    }

    fn flag_update(&mut self, uid: u32) {
        self.flags_only.push(uid);
    }

    fn check(&self, folder: &str) -> Result<()> {
        match self.flags_only.iter().find(|u| !self.with_body.contains(u)) {
            None => Ok(()),
            Some(uid) => Err(EndpointError::Protocol {
                op: format!("UID FETCH in {folder}"),
                message: format!(
                    "the server answered for UID {uid} with its flags but never its bytes; \
                     nothing is copied from this folder until it sends them"
                ),
            }),
        }
    }
}

/// The UID of an answer to a UID FETCH. Every answer carrying message data must have one
/// (RFC 3501 6.4.8), a number from 1 to 2^32-1; the parser drops one it cannot read
/// (negative, too large) as if absent. Such an answer is a protocol error naming the folder
/// and the message, never a message silently passed over. `None`: an unsolicited flag
/// update without data, which is not an answer and is ignored.
fn uid_of(f: &async_imap::types::Fetch, folder: &str) -> Result<Option<u32>> {
    match f.uid {
        Some(uid) if uid > 0 => Ok(Some(uid)),
        None if f.size.is_none() && f.body().is_none() && f.header().is_none() => Ok(None),
        uid => Err(EndpointError::Protocol {
            op: format!("UID FETCH in {folder}"),
            message: format!(
                "the server answered for message {} with {}; nothing is copied from this \
                 folder until the server sends valid UIDs (1 to 4294967295)",
                f.message,
                match uid {
                    Some(_) => "UID 0",
                    None => "no valid UID (missing, negative or above 4294967295)",
                }
            ),
        }),
    }
}

/// The value of an IMAP quoted string as the parser hands it over: imap-proto returns the
/// bytes between the quotes with their `\"` and `\\` escapes still in, and async-imap
/// quotes names again when it sends them; without this a folder named `Say "hi"` came back
/// as `Say \"hi\"`, was refused at EXAMINE and silently left uncopied.
///
/// (A name sent as a literal is not escaped, and the parser does not say which form it
/// read; servers send literals only for names they cannot quote: 8-bit or CR/LF. Text that
/// cannot be the inside of a quoted string, a `\` followed by anything but `\` or `"`,
/// is kept as it came: Gmail's flag-form labels `\Inbox`, `\Important`, or a literal.)
pub fn unquote(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('\\') || !is_quoted_inside(raw) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether every `\` in `raw` escapes a `\` or a `"` (and no `"` stands unescaped), as in
/// the inside of an IMAP quoted string.
fn is_quoted_inside(raw: &str) -> bool {
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if !matches!(chars.next(), Some('\\' | '"')) => return false,
            '"' => return false,
            _ => {}
        }
    }
    true
}

fn folder_of(name: &async_imap::types::Name) -> Folder {
    let delimiter = name.delimiter().and_then(|d| unquote(d).chars().next());
    let wire = unquote(name.name()).into_owned();
    let path: Vec<String> = match delimiter {
        Some(d) => wire.split(d).map(decode_mutf7).collect(),
        None => vec![decode_mutf7(&wire)],
    };
    let mut special = None;
    let mut selectable = true;
    for a in name.attributes() {
        match a {
            NameAttribute::NoSelect => selectable = false,
            NameAttribute::All => special = Some(SpecialUse::All),
            NameAttribute::Archive => special = Some(SpecialUse::Archive),
            NameAttribute::Drafts => special = Some(SpecialUse::Drafts),
            NameAttribute::Flagged => special = Some(SpecialUse::Flagged),
            NameAttribute::Junk => special = Some(SpecialUse::Junk),
            NameAttribute::Sent => special = Some(SpecialUse::Sent),
            NameAttribute::Trash => special = Some(SpecialUse::Trash),
            NameAttribute::Extension(e) if e.eq_ignore_ascii_case("\\NonExistent") => {
                selectable = false
            }
            _ => {}
        }
    }
    Folder {
        wire_name: wire,
        path,
        delimiter,
        special,
        selectable,
    }
}

/// Modified UTF-7 (RFC 3501 5.1.3) to Unicode; a name that is not valid mUTF-7 stays as is.
pub fn decode_mutf7(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    try_decode_mutf7(s).unwrap_or_else(|| s.to_string())
}

/// Strict decoder (a server may send a raw `&`, which must not panic).
fn try_decode_mutf7(s: &str) -> Option<String> {
    fn b64(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('-')?;
        let chunk = &after.as_bytes()[..end];
        if chunk.is_empty() {
            out.push('&');
        } else {
            let (mut acc, mut bits, mut units) = (0u32, 0u32, Vec::new());
            for &c in chunk {
                acc = (acc << 6) | b64(c)?;
                bits += 6;
                if bits >= 16 {
                    bits -= 16;
                    units.push(((acc >> bits) & 0xFFFF) as u16);
                }
            }
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Unicode to modified UTF-7 (RFC 3501 5.1.3): printable ASCII (0x20-0x7e) stands for
/// itself, `&` is `&-`, everything else (DEL and other controls included, which a crate we
/// used before left raw) goes in `&...-` runs of modified BASE64 over UTF-16.
pub fn encode_mutf7(s: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(units: &mut Vec<u16>, out: &mut String) {
        if units.is_empty() {
            return;
        }
        out.push('&');
        let (mut acc, mut bits) = (0u32, 0u32);
        for u in units.drain(..) {
            acc = (acc << 16) | u32::from(u);
            bits += 16;
            while bits >= 6 {
                bits -= 6;
                out.push(B64[((acc >> bits) & 63) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(B64[((acc << (6 - bits)) & 63) as usize] as char);
        }
        out.push('-');
    }
    let mut out = String::with_capacity(s.len());
    let mut units: Vec<u16> = Vec::new();
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut units, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    out
}

fn imap_date(d: &chrono::DateTime<chrono::FixedOffset>) -> String {
    d.format("%d-%b-%Y %H:%M:%S %z").to_string()
}

impl MailSession for ImapSession {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        let pattern = if self.caps.special_use
            && self
                .caps
                .raw
                .iter()
                .any(|c| c.eq_ignore_ascii_case("LIST-EXTENDED"))
        {
            "\"*\" RETURN (SPECIAL-USE)"
        } else {
            "\"*\""
        };
        self.settle();
        let t = self.timeout;
        let s = &mut self.s;
        with_timeout(t, "LIST", async {
            let mut stream = s
                .list(Some(""), Some(pattern))
                .await
                .map_err(|e| map_err("LIST", e))?;
            let mut out = Vec::new();
            // What the listing keeps, in estimated bytes: a name may be a 64 KiB line or a
            // 1 MiB literal, and each of its levels is a string of its own.
            let mut kept = 0usize;
            while let Some(name) = stream.try_next().await.map_err(|e| map_err("LIST", e))? {
                if out.len() == bounded::MAX_FOLDERS {
                    return Err(EndpointError::Protocol {
                        op: "LIST".into(),
                        message: format!(
                            "the server listed more than {} folders; stopped reading",
                            bounded::MAX_FOLDERS
                        ),
                    });
                }
                let f = folder_of(&name);
                kept = kept.saturating_add(bounded::folder_cost(&f));
                if kept > bounded::FOLDER_LIST_BUDGET {
                    return Err(EndpointError::Protocol {
                        op: "LIST".into(),
                        message: format!(
                            "the folder names the server listed take more than {} in memory (after {} folders); stopped reading",
                            bounded::human(bounded::FOLDER_LIST_BUDGET as u64),
                            out.len()
                        ),
                    });
                }
                out.push(f);
            }
            Ok(out)
        })
        .await?
    }

    async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        self.settle();
        self.exists = None;
        let mb = with_timeout(self.timeout, "EXAMINE", self.s.examine(folder))
            .await?
            .map_err(|e| folder_err("EXAMINE", folder, e))?;
        self.opened = decode_mutf7(folder);
        self.exists = Some(mb.exists);
        state_of("EXAMINE", folder, &mb)
    }

    async fn open_for_append(&mut self, folder: &str) -> Result<FolderState> {
        self.settle();
        self.exists = None;
        let mb = with_timeout(self.timeout, "SELECT", self.s.select(folder))
            .await?
            .map_err(|e| folder_err("SELECT", folder, e))?;
        self.opened = decode_mutf7(folder);
        let any = mb
            .permanent_flags
            .iter()
            .any(|f| matches!(f, Flag::MayCreate));
        self.keywords = if any || mb.permanent_flags.is_empty() {
            None
        } else {
            Some(
                mb.permanent_flags
                    .iter()
                    .filter_map(|f| match f {
                        Flag::Custom(c) => Some(c.to_string()),
                        _ => None,
                    })
                    .collect(),
            )
        };
        self.exists = Some(mb.exists);
        state_of("SELECT", folder, &mb)
    }

    /// STATUS spoken here rather than through async-imap, which matches the answer's name
    /// against the asked one without undoing the answer's quoting: for a folder named with
    /// `"` or `\` it dropped the answer and reported no UIDVALIDITY.
    async fn status(&mut self, folder: &str) -> Result<FolderState> {
        use imap_proto::{MailboxDatum, StatusAttribute};
        let t = self.timeout;
        let tag = self.next_tag();
        let line = format!(
            "{tag} STATUS {} (UIDNEXT UIDVALIDITY MESSAGES)\r\n",
            quote(folder)
        );
        let w = self.s.get_mut();
        w.write_all(line.as_bytes())
            .await
            .map_err(|e| io_err("STATUS", e))?;
        w.flush().await.map_err(|e| io_err("STATUS", e))?;
        let mut mb = async_imap::types::Mailbox::default();
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let r = before(deadline, t, "STATUS", self.s.read_response())
                .await?
                .map_err(|e| io_err("STATUS", e))?
                .ok_or(EndpointError::ConnectionLost {
                    op: "STATUS".into(),
                })?;
            match r.parsed() {
                Response::MailboxData(MailboxDatum::Status { mailbox, status })
                    if unquote(mailbox) == folder =>
                {
                    for a in status {
                        match a {
                            StatusAttribute::UidNext(n) => mb.uid_next = Some(*n),
                            StatusAttribute::UidValidity(v) => mb.uid_validity = Some(*v),
                            StatusAttribute::Messages(n) => mb.exists = *n,
                            _ => {}
                        }
                    }
                }
                Response::Done {
                    tag: rt,
                    status,
                    outcome,
                } if rt.0 == tag => {
                    // In async-imap's words, so the NO is read as everywhere else.
                    let text = format!("outcome: {outcome:?}");
                    match status {
                        Status::Ok => break,
                        Status::No => {
                            return Err(folder_err(
                                "STATUS",
                                folder,
                                async_imap::error::Error::No(text),
                            ));
                        }
                        _ => {
                            return Err(folder_err(
                                "STATUS",
                                folder,
                                async_imap::error::Error::Bad(text),
                            ));
                        }
                    }
                }
                // The server closes the connection: no answer is coming, so do not wait for
                // the deadline (as the APPEND loop does).
                Response::Data {
                    status: Status::Bye,
                    outcome,
                } => {
                    let info = outcome.information.as_deref().unwrap_or("");
                    return Err(match throttle_of(info) {
                        Some(wait) => EndpointError::Throttled {
                            op: "STATUS".into(),
                            message: format!("server said BYE: {info}"),
                            wait,
                        },
                        None => EndpointError::ConnectionLost {
                            op: format!("STATUS (server said BYE: {info})"),
                        },
                    });
                }
                _ => {}
            }
        }
        state_of("STATUS", folder, &mb)
    }

    async fn create_folder(&mut self, folder: &str) -> Result<bool> {
        match with_timeout(self.timeout, "CREATE", self.s.create(folder)).await? {
            Ok(()) => Ok(true),
            // Already there (a race with another worker, or made by the user): fine.
            Err(async_imap::error::Error::No(m))
                if m.to_ascii_uppercase().contains("ALREADYEXISTS")
                    || m.to_ascii_lowercase().contains("already exists") =>
            {
                Ok(false)
            }
            Err(e) => Err(map_err(&format!("CREATE {folder}"), e)),
        }
    }

    async fn fetch_meta(&mut self, from_uid: u32) -> Result<Vec<MessageMeta>> {
        self.settle();
        let t = self.timeout;
        let from = from_uid.max(1);
        let mut listing = Listing::new(self.exists.unwrap_or(0));
        let unsolicited = self.s.unsolicited_responses.clone();
        let opened = self.opened.clone();
        let s = &mut self.s;
        // Streamed: each response is reduced to its UID and size as it comes, and a server
        // that sends more responses than the folder holds (plus slack) is refused.
        let mut out: Vec<MessageMeta> = with_timeout(t * 4, "UID FETCH (metadata)", async {
            let mut stream = s
                .uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE)")
                .await
                .map_err(|e| map_err("UID FETCH", e))?;
            let mut out = Vec::new();
            while let Some(f) = stream
                .try_next()
                .await
                .map_err(|e| map_err("UID FETCH", e))?
            {
                listing.one_more("UID FETCH (metadata)", || unsolicited.try_recv().ok())?;
                // "n:*" always returns the last message, even when its UID is below n.
                if let Some(uid) = uid_of(&f, &opened)?.filter(|u| *u >= from) {
                    out.push(MessageMeta {
                        uid,
                        size: f.size.unwrap_or(0) as u64,
                    });
                }
            }
            Ok(out)
        })
        .await??;
        self.exists = Some(listing.exists);
        // In place: a stable sort would take half the listing again.
        out.sort_unstable_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    /// UID, size and Message-ID header of each message (one small header field, not the
    /// body); with Gmail's X-GM-EXT-1 also X-GM-MSGID and X-GM-LABELS.
    async fn fetch_identities(&mut self, from_uid: u32) -> Result<Vec<MessageIdentity>> {
        self.settle();
        let t = self.timeout;
        let from = from_uid.max(1);
        let gm = self
            .caps
            .raw
            .iter()
            .any(|c| c.eq_ignore_ascii_case("X-GM-EXT-1"));
        let items = if gm {
            "(UID RFC822.SIZE X-GM-MSGID X-GM-LABELS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        } else {
            "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        };
        let mut listing = Listing::new(self.exists.unwrap_or(0));
        let unsolicited = self.s.unsolicited_responses.clone();
        let opened = self.opened.clone();
        let s = &mut self.s;
        let mut out: Vec<MessageIdentity> = with_timeout(t * 4, "UID FETCH (identities)", async {
            let mut stream = s
                .uid_fetch(format!("{from}:*"), items)
                .await
                .map_err(|e| map_err("UID FETCH", e))?;
            let mut out = Vec::new();
            // What the listing keeps, in estimated bytes (see bounded::identity_budget).
            let mut kept = 0usize;
            while let Some(f) = stream
                .try_next()
                .await
                .map_err(|e| map_err("UID FETCH", e))?
            {
                listing.one_more("UID FETCH (identities)", || unsolicited.try_recv().ok())?;
                // "n:*" always returns the last message, even when its UID is below n.
                let Some(uid) = uid_of(&f, &opened)?.filter(|u| *u >= from) else {
                    continue;
                };
                let m = MessageIdentity {
                    uid,
                    size: f.size.unwrap_or(0) as u64,
                    // A Message-ID longer than a header line may be is no identity.
                    message_id: f
                        .header()
                        .and_then(crate::sync::message_id)
                        .filter(|m| !m.trim().is_empty() && m.len() <= 998),
                    // Gmail's own items only when they were asked for (X-GM-EXT-1).
                    provider_id: f.gmail_msg_id().filter(|_| gm).map(|id| id.to_string()),
                    labels: if gm { labels_of(&f, uid, &opened)? } else { None },
                };
                kept = kept.saturating_add(bounded::identity_cost(&m));
                let budget = bounded::identity_budget(listing.exists);
                if kept > budget {
                    return Err(EndpointError::Protocol {
                        op: "UID FETCH (identities)".into(),
                        message: format!(
                            "the identities (Message-IDs, labels) the server listed in {opened} take more than {} in memory (after {} messages); stopped reading",
                            bounded::human(budget as u64),
                            out.len()
                        ),
                    });
                }
                out.push(m);
            }
            Ok(out)
        })
        .await??;
        self.exists = Some(listing.exists);
        // In place: a stable sort would take half the listing again.
        out.sort_unstable_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    async fn fetch_messages(&mut self, uids: &[u32], sink: &MessageSink) -> Result<()> {
        self.settle();
        self.guard.messages(self.message_cap, &self.cap_origin);
        let unsolicited = self.s.unsolicited_responses.clone();
        let t = self.timeout;
        for chunk in uids.chunks(FETCH_CHUNK_MSGS) {
            let set = uid_set(chunk);
            let cap = chunk.len() + FETCH_SLACK;
            let mut stream = with_timeout(
                t,
                "UID FETCH",
                self.s
                    .uid_fetch(&set, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
            )
            .await?
            .map_err(|e| map_err("UID FETCH", e))?;
            let mut n = 0;
            let mut answers = Answers::default();
            loop {
                let next = self
                    .guard
                    .within(t, "UID FETCH (reading a message)", stream.try_next())
                    .await?
                    .map_err(|e| map_err("UID FETCH", e))?;
                let Some(f) = next else { break };
                n += 1;
                if n > cap {
                    return Err(too_many("UID FETCH", cap, None));
                }
                if let Some(e) = drained_exists(|| unsolicited.try_recv().ok()) {
                    self.exists = Some(self.exists.unwrap_or(0).max(e));
                }
                // What the guard reserved while reading this message travels with it.
                let reserved = self.guard.take();
                let Some(uid) = uid_of(&f, &self.opened)? else {
                    continue;
                };
                if !has_body(&f, uid, &self.opened)? {
                    answers.flag_update(uid);
                    continue;
                }
                answers.body(uid);
                let msg = Message {
                    uid,
                    flags: f.flags().filter_map(|fl| flag_name(&fl)).collect(),
                    internal_date: f.internal_date(),
                    body: Body::new(FetchBody(f)),
                };
                if !sink.send_reserved(msg, reserved).await {
                    // The consumer stopped (emergency stop, or a destination failure). Do not
                    // download the rest of the chunk: the session is mid-FETCH and is dropped.
                    return Err(EndpointError::Protocol {
                        op: "UID FETCH".into(),
                        message: "abandoned: the copy stopped".into(),
                    });
                }
            }
            answers.check(&self.opened)?;
        }
        self.guard.metadata();
        Ok(())
    }

    async fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> Result<Vec<Fingerprinted>> {
        self.settle();
        let sets: Vec<(String, usize)> = if uids.is_empty() {
            let cap = bounded::listing_cap(self.exists.unwrap_or(0));
            vec![(format!("{}:*", from_uid.max(1)), cap)]
        } else {
            let mut sets = Vec::new();
            for c in uids.chunks(FETCH_CHUNK_MSGS) {
                sets.push((uid_set(c), c.len() + FETCH_SLACK));
            }
            sets
        };
        self.guard.messages(self.message_cap, &self.cap_origin);
        let unsolicited = self.s.unsolicited_responses.clone();
        let mut out = Vec::new();
        let t = self.timeout;
        for (set, cap) in sets {
            let mut stream = with_timeout(
                t,
                "UID FETCH",
                self.s
                    .uid_fetch(&set, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
            )
            .await?
            .map_err(|e| map_err("UID FETCH", e))?;
            let mut n = 0;
            let mut answers = Answers::default();
            while let Some(f) = self
                .guard
                .within(t, "UID FETCH (reading a message)", stream.try_next())
                .await?
                .map_err(|e| map_err("UID FETCH", e))?
            {
                n += 1;
                if n > cap {
                    return Err(too_many("UID FETCH", cap, None));
                }
                if let Some(e) = drained_exists(|| unsolicited.try_recv().ok()) {
                    self.exists = Some(self.exists.unwrap_or(0).max(e));
                }
                let Some(uid) = uid_of(&f, &self.opened)? else {
                    continue;
                };
                if !has_body(&f, uid, &self.opened)? {
                    answers.flag_update(uid);
                    continue;
                }
                answers.body(uid);
                if uids.is_empty() && uid < from_uid {
                    continue;
                }
                let body = f.body().unwrap_or_default();
                out.push(Fingerprinted {
                    uid,
                    size: body.len() as u64,
                    fingerprint: fingerprint(body),
                    flags: f.flags().filter_map(|fl| flag_name(&fl)).collect(),
                    internal_date: f.internal_date(),
                });
                // Hashed: the bytes and their reservation go.
                drop(f);
                self.guard.release();
            }
            answers.check(&self.opened)?;
        }
        self.guard.metadata();
        out.sort_by_key(|f| f.uid);
        out.dedup_by_key(|f| f.uid);
        Ok(out)
    }

    async fn append(&mut self, folder: &str, msgs: &[Message]) -> Result<Vec<AppendOutcome>> {
        self.settle();
        let mbox = quote(folder);
        let t = self.timeout;
        let mut tags: Vec<String> = Vec::with_capacity(msgs.len());
        let mut outcomes: HashMap<String, AppendOutcome> = HashMap::new();
        // EXISTS the server reported meanwhile: with the messages stored, the selected
        // folder's new size (a later listing's cap).
        let mut reported = 0u32;
        // A BYE or an I/O error loses the connection; a NO for the folder or the account
        // (quota, no such folder) is per message but ends this window after its replies.
        for m in msgs {
            let tag = self.next_tag();
            let flags: Vec<&str> = m
                .flags
                .iter()
                .map(String::as_str)
                .filter(|f| {
                    f.starts_with('\\')
                        || self
                            .keywords
                            .as_ref()
                            .is_none_or(|k| k.iter().any(|x| x.eq_ignore_ascii_case(f)))
                })
                .collect();
            let date = m
                .internal_date
                .map(|d| format!(" \"{}\"", imap_date(&d)))
                .unwrap_or_default();
            let len = m.body.len();
            let non_sync = self.caps.literal_plus || (self.caps.literal_minus && len <= 4096);
            let line = format!(
                "{tag} APPEND {mbox} ({}){date} {{{len}{}}}\r\n",
                flags.join(" "),
                if non_sync { "+" } else { "" }
            );
            let w = self.s.get_mut();
            w.write_all(line.as_bytes())
                .await
                .map_err(|e| io_err("APPEND", e))?;
            if !non_sync {
                w.flush().await.map_err(|e| io_err("APPEND", e))?;
                // Wait for the continuation; a tagged reply to this very command means the
                // server refused it before the literal (too big, no such folder ...).
                let mut refused = false;
                // One deadline for the answer, untagged lines included.
                let deadline = tokio::time::Instant::now() + t;
                loop {
                    let r = before(deadline, t, "APPEND (continuation)", self.s.read_response())
                        .await?
                        .map_err(|e| io_err("APPEND", e))?
                        .ok_or(EndpointError::ConnectionLost {
                            op: "APPEND".into(),
                        })?;
                    match r.parsed() {
                        Response::Continue(_) => break,
                        Response::Done {
                            tag: rt,
                            status,
                            outcome,
                        } => {
                            let o = done_outcome(status, outcome, folder);
                            let mine = rt.0 == tag;
                            outcomes.insert(rt.0.clone(), o);
                            if mine {
                                refused = true;
                                break;
                            }
                        }
                        Response::MailboxData(imap_proto::MailboxDatum::Exists(n)) => {
                            reported = reported.max(*n);
                        }
                        _ => {}
                    }
                }
                tags.push(tag);
                if refused {
                    continue;
                }
            } else {
                tags.push(tag);
            }
            let w = self.s.get_mut();
            w.write_all(m.body.bytes())
                .await
                .map_err(|e| io_err("APPEND", e))?;
            w.write_all(b"\r\n")
                .await
                .map_err(|e| io_err("APPEND", e))?;
        }
        self.s
            .get_mut()
            .flush()
            .await
            .map_err(|e| io_err("APPEND", e))?;
        // Each tagged reply within the timeout of the one before: untagged lines do not
        // extend it.
        let mut deadline = tokio::time::Instant::now() + t;
        while tags.iter().any(|t| !outcomes.contains_key(t)) {
            let r = before(deadline, t, "APPEND (reply)", self.s.read_response())
                .await?
                .map_err(|e| io_err("APPEND", e))?
                .ok_or(EndpointError::ConnectionLost {
                    op: "APPEND".into(),
                })?;
            if let Response::MailboxData(imap_proto::MailboxDatum::Exists(n)) = r.parsed() {
                reported = reported.max(*n);
            } else if let Response::Done {
                tag,
                status,
                outcome,
            } = r.parsed()
            {
                let o = done_outcome(status, outcome, folder);
                outcomes.insert(tag.0.clone(), o);
                deadline = tokio::time::Instant::now() + t;
            } else if let Response::Data {
                status: Status::Bye,
                outcome,
            } = r.parsed()
            {
                // The server closes the connection: the outcomes of the APPENDs not answered
                // yet are unknown (in doubt), and a new connection is worth a try.
                let info = outcome.information.as_deref().unwrap_or("");
                return Err(match throttle_of(info) {
                    Some(wait) => EndpointError::Throttled {
                        op: "APPEND".into(),
                        message: format!("server said BYE: {info}"),
                        wait,
                    },
                    None => EndpointError::ConnectionLost {
                        op: format!("APPEND (server said BYE: {info})"),
                    },
                });
            }
        }
        let stored = outcomes
            .values()
            .filter(|o| matches!(o, AppendOutcome::Stored { .. }))
            .count() as u32;
        if let Some(e) = self.exists {
            self.exists = Some(e.saturating_add(stored).max(reported));
        }
        Ok(tags
            .iter()
            .map(|t| outcomes.remove(t).expect("every tag answered"))
            .collect())
    }

    async fn expunge_uids(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        if !self.caps.uidplus {
            return Err(EndpointError::Protocol {
                op: "UID EXPUNGE".into(),
                message: "the server lacks UIDPLUS, so cutover cannot remove only its own messages (a plain EXPUNGE would also remove any other message marked \\Deleted); remove them by hand or use a server with UIDPLUS".into(),
            });
        }
        let t = self.timeout;
        for chunk in uids.chunks(FETCH_CHUNK_MSGS) {
            let set = uid_set(chunk);
            with_timeout(t, "UID STORE", async {
                let st = self.s.uid_store(&set, "+FLAGS.SILENT (\\Deleted)").await?;
                st.try_collect::<Vec<_>>().await
            })
            .await?
            .map_err(|e| map_err("UID STORE", e))?;
            with_timeout(t, "UID EXPUNGE", async {
                let st = self.s.uid_expunge(&set).await?;
                st.try_collect::<Vec<_>>().await
            })
            .await?
            .map_err(|e| map_err("UID EXPUNGE", e))?;
        }
        Ok(())
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        with_timeout(self.timeout, "RENAME", self.s.rename(from, to))
            .await?
            .map_err(|e| map_err(&format!("RENAME {from} {to}"), e))
    }

    async fn delete_folder(&mut self, folder: &str) -> Result<()> {
        // Some servers refuse to delete the selected folder: leave it by examining INBOX
        // (never CLOSE, which would expunge messages others marked deleted).
        let _ = with_timeout(self.timeout, "EXAMINE", self.s.examine("INBOX")).await;
        with_timeout(self.timeout, "DELETE", self.s.delete(folder))
            .await?
            .map_err(|e| map_err(&format!("DELETE {folder}"), e))
    }

    fn permanent_keywords(&self) -> Option<&[String]> {
        self.keywords.as_deref()
    }

    async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.s.logout()).await;
    }
}

/// The outcome of one tagged APPEND reply. NO for the message itself (too big, refused
/// content) is a per-message refusal; NO for the folder or the account is an error for all.
fn done_outcome(status: &Status, outcome: &imap_proto::Outcome<'_>, folder: &str) -> AppendOutcome {
    match done_result(status, outcome, folder) {
        Ok(o) => o,
        Err(error) => AppendOutcome::Failed { error },
    }
}

fn done_result(
    status: &Status,
    outcome: &imap_proto::Outcome<'_>,
    folder: &str,
) -> Result<AppendOutcome> {
    let info = outcome.information.as_deref().unwrap_or("").to_string();
    match status {
        Status::Ok => {
            if let Some(ResponseCode::AppendUid(validity, uids)) = &outcome.code {
                let uid = uids.first().map(|u| match u {
                    imap_proto::rfc4315::UidSetMember::Uid(u) => *u,
                    imap_proto::rfc4315::UidSetMember::UidRange(r) => *r.start(),
                });
                Ok(AppendOutcome::Stored {
                    uidvalidity: Some(*validity),
                    uid,
                })
            } else {
                Ok(AppendOutcome::Stored {
                    uidvalidity: None,
                    uid: None,
                })
            }
        }
        _ => {
            let code = match &outcome.code {
                Some(ResponseCode::TryCreate) => "TRYCREATE ".to_string(),
                _ => String::new(),
            };
            let text = format!("{code}{info}");
            let up = text.to_ascii_uppercase();
            if up.contains("TOOBIG") || up.contains("TOO BIG") || up.contains("TOO LARGE") {
                return Ok(AppendOutcome::Refused {
                    reason: format!("destination refused it as too large: {info}"),
                });
            }
            match classify_no("APPEND", &text, Some(folder)) {
                EndpointError::No { message, .. } if matches!(status, Status::No) => {
                    // A NO without a folder or quota reason concerns this message (e.g. a NUL
                    // byte or a malformed header the server will not store).
                    Ok(AppendOutcome::Refused {
                        reason: format!("destination refused the message: {message}"),
                    })
                }
                EndpointError::No { message, .. } => Err(EndpointError::Protocol {
                    op: "APPEND".into(),
                    message: format!("server said BAD: {message}"),
                }),
                e => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_initial_responses() {
        use async_imap::Authenticator;
        let mut x = Sasl::xoauth2("a@b.c", "tok");
        assert_eq!(
            x.process(b""),
            b"user=a@b.c\x01auth=Bearer tok\x01\x01".to_vec()
        );
        // The error challenge that follows a refused token gets an empty answer.
        assert_eq!(x.process(b"{\"status\":\"401\"}"), Vec::<u8>::new());
        assert_eq!(
            x.error.lock().unwrap().as_deref(),
            Some(&b"{\"status\":\"401\"}"[..]),
            "the error challenge is kept for the message"
        );
        let mut p = Sasl::plain("u", "p");
        assert_eq!(p.process(b""), b"\0u\0p".to_vec());
    }

    #[test]
    fn gmail_xoauth2_error_challenge_reads_as_words() {
        // What Gmail sends (base64-decoded) after a token it does not accept.
        let m = xoauth2_error(
            br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
        );
        assert!(m.contains("status 400"), "{m}");
        assert!(m.contains("https://mail.google.com/"), "{m}");
        let m = xoauth2_error(br#"{"status":"401","schemes":"bearer"}"#);
        assert!(m.contains("expired or revoked"), "{m}");
        assert!(xoauth2_error(b"garbage").contains("garbage"));
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        // What the parser hands over for `"a\"b\\c"` is the inside with its escapes.
        for name in [
            "a\"b\\c",
            "Say \"hi\"",
            "C:\\temp",
            "\\",
            "\"",
            "plain",
            " x ",
        ] {
            let wire = quote(name);
            assert_eq!(unquote(&wire[1..wire.len() - 1]), name);
        }
        // Not the inside of a quoted string: kept as it came (Gmail's flag-form labels, a
        // name sent as a literal).
        for raw in ["\\Inbox", "\\Important", "C:\\temp", "a\\", "x\"y"] {
            assert_eq!(unquote(raw), raw);
        }
    }

    #[test]
    fn a_raw_ampersand_from_a_server_is_kept_not_a_panic() {
        assert_eq!(decode_mutf7("R&D Team-x"), "R&D Team-x");
        assert_eq!(decode_mutf7("A&B"), "A&B");
        assert_eq!(decode_mutf7("Kunden &- Partner"), "Kunden & Partner");
        assert_eq!(decode_mutf7("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(decode_mutf7("&ZeVnLIqe-"), "日本語");
    }

    #[test]
    fn mutf7_round_trip() {
        for s in ["Entwürfe", "Kunden & Partner", "日本語", "plain"] {
            assert_eq!(decode_mutf7(&encode_mutf7(s)), s);
        }
        assert_eq!(encode_mutf7("Kunden & Partner"), "Kunden &- Partner");
        // RFC 3501's own example, and DEL (not printable: encoded, never raw).
        assert_eq!(
            encode_mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode_mutf7("a\u{7f}b"), "a&AH8-b");
        assert_eq!(decode_mutf7("a&AH8-b"), "a\u{7f}b");
    }

    #[test]
    fn throttling_texts_are_recognised_with_their_suggested_wait() {
        let ms = Duration::from_millis;
        assert_eq!(
            throttle_of("Request is throttled. Suggested Backoff Time: 52345 milliseconds"),
            Some(Some(ms(52345)))
        );
        assert_eq!(
            throttle_of(
                "code: None, info: Some(\"Request is throttled. Suggested Backoff Time: 299 milliseconds\")"
            ),
            Some(Some(ms(299)))
        );
        assert_eq!(
            throttle_of("request is throttled. suggested backoff time: 3 seconds"),
            Some(Some(Duration::from_secs(3)))
        );
        // A garbled or huge number is capped.
        assert_eq!(
            throttle_of("Suggested Backoff Time: 99999999999 milliseconds"),
            Some(Some(MAX_THROTTLE_WAIT))
        );
        // Gmail names no wait.
        assert_eq!(
            throttle_of("[THROTTLED] Account exceeded command or bandwidth limits. (Failure)"),
            Some(None)
        );
        assert_eq!(
            throttle_of("[ALERT] Account exceeded command or bandwidth limits."),
            Some(None)
        );
        assert_eq!(
            throttle_of("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            None
        );
        assert_eq!(throttle_of("Authentication failed."), None);
        assert!(matches!(
            classify_no("APPEND", "Request is throttled. Suggested Backoff Time: 10 milliseconds", None),
            EndpointError::Throttled { wait: Some(w), .. } if w == ms(10)
        ));
        assert!(matches!(
            classify_no("APPEND", "[OVERQUOTA] Quota exceeded", None),
            EndpointError::OverQuota { .. }
        ));
    }

    #[test]
    fn no_text_is_cleaned() {
        assert_eq!(
            clean_no("code: None, info: Some(\"[OVERQUOTA] Quota exceeded\")"),
            "[OVERQUOTA] Quota exceeded"
        );
    }
}
