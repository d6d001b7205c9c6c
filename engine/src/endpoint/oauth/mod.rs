//! OAuth2 access tokens for the endpoints that need them (Graph, Gmail API, IMAP XOAUTH2 on
//! Exchange Online and Gmail), on reqwest.
//!
//! One [`TokenProvider`] per endpoint side. It keeps one token per (account, scope): an
//! app-only Entra token serves every mailbox of the tenant, a Google domain-wide-delegation
//! token is per mailbox. Tokens are refreshed a few minutes before they expire, so a run of
//! many hours never sends an expired one.
//!
//! The flows:
//! - Entra client credentials, with a client secret or a certificate assertion (an RS256
//!   JWT signed with the certificate's private key, `x5t`/`x5t#S256` = its thumbprints).
//! - Entra device code (delegated): `cutover login` shows the verification URL and code and
//!   keeps the refresh token in the token file next to the journal (mode 0600); runs then use
//!   the refresh-token grant and keep the rotated refresh token.
//! - Google service account with domain-wide delegation: a JWT per mailbox (`sub` = the
//!   mailbox), exchanged with the jwt-bearer grant.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::bounded;
use super::{EndpointError, Result};
use crate::config::{EndpointKind, OAuthFlow, OAuthProvider, OAuthSettings};

/// When to refresh a token that lives `lifetime` (as the authority announced it, bounded so
/// that an absurd `expires_in` cannot overflow the clock).
fn refresh_time(lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(Duration::from_secs(24 * 3600));
    Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2)
}

/// Refresh this long before a token's announced expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Lifetime of the assertions cutover signs (Google allows at most one hour).
const ASSERTION_LIFETIME: u64 = 3600;

/// The delegated permission for IMAP on Exchange Online (device-code flow).
pub const DELEGATED_EXO_IMAP_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";

pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const CLIENT_ASSERTION_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OAuthSettings,
    scope: String,
    token_url: String,
    http: reqwest::Client,
    side: &'static str,
    /// Signing material, read once when the provider is made.
    credential: Credential,
    /// Where delegated refresh tokens are kept (device-code flow).
    token_file: Option<PathBuf>,
    /// (cache key) -> token and when to refresh it.
    cache: Mutex<HashMap<String, (SecretString, Instant)>>,
}

enum Credential {
    Secret(SecretString),
    /// Entra certificate credential.
    Certificate {
        key: EncodingKey,
        /// base64url SHA-1 of the certificate (DER).
        x5t: String,
        /// base64url SHA-256 of the certificate (DER).
        x5t_s256: String,
    },
    /// Google service account key.
    ServiceAccount {
        client_email: String,
        key_id: Option<String>,
        key: EncodingKey,
    },
    /// Delegated: the refresh tokens `cutover login` stored.
    Delegated,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// What the operator needs to sign in with the device-code flow.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    #[serde(default)]
    device_code: String,
    pub user_code: String,
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    #[serde(default = "default_device_expiry")]
    pub expires_in: u64,
    #[serde(default = "default_interval")]
    pub interval: u64,
    /// The service's own instructions ("To sign in, use a web browser to open ...").
    #[serde(default)]
    pub message: Option<String>,
}

fn default_device_expiry() -> u64 {
    900
}

fn default_interval() -> u64 {
    5
}

/// The scope an endpoint kind needs from a provider, unless the file overrides it.
pub fn default_scope(provider: OAuthProvider, kind: EndpointKind, host: &str) -> String {
    match (provider, kind) {
        (OAuthProvider::Entra, EndpointKind::Graph) => "https://graph.microsoft.com/.default",
        (OAuthProvider::Entra, _) if host.ends_with("office365.com") || host.is_empty() => {
            "https://outlook.office365.com/.default"
        }
        (OAuthProvider::Entra, _) => "https://outlook.office365.com/.default",
        (OAuthProvider::Google, EndpointKind::Gmail) => {
            "https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/gmail.labels https://www.googleapis.com/auth/gmail.insert"
        }
        (OAuthProvider::Google, _) => "https://mail.google.com/",
    }
    .to_string()
}

/// The file next to the state journal where delegated refresh tokens are kept
/// (`state.sqlite` -> `state.sqlite.oauth-tokens.json`, mode 0600).
pub fn token_file_for(state_path: &Path) -> PathBuf {
    let mut name = state_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "state".into());
    name.push(".oauth-tokens.json");
    state_path.with_file_name(name)
}

/// The account a delegated refresh token belongs to in the token file: the mailbox given to
/// `cutover login --user`, or "*" for one sign-in that serves every mailbox of the side.
fn refresh_key(side: &str, client_id: &str, user: Option<&str>) -> String {
    format!(
        "{side}|{client_id}|{}",
        user.map(|u| u.to_ascii_lowercase())
            .unwrap_or_else(|| "*".into())
    )
}

/// Serialises writers of token files within this process (source and destination share one).
static TOKEN_FILE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(serde::Serialize, Deserialize, Default)]
struct TokenFile {
    #[serde(default)]
    refresh_tokens: std::collections::BTreeMap<String, String>,
}

fn read_token_file(path: &Path) -> std::io::Result<TokenFile> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a cutover token file: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(e) => Err(e),
    }
}

/// Journal one refresh token (re-reading the file first, so that entries written meanwhile
/// are kept), atomically and readable by the owner only.
fn store_refresh_token(path: &Path, key: &str, token: &str) -> std::io::Result<()> {
    let _guard = TOKEN_FILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = read_token_file(path)?;
    file.refresh_tokens
        .insert(key.to_string(), token.to_string());
    let body = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    // An unpredictable temporary name, created exclusively and never through a link: a
    // name planted in advance (a symbolic link to elsewhere) makes the write fail, not go
    // there.
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".{}.tmp", random_id()));
    let tmp = path.with_file_name(tmp_name);
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        let written = f.write_all(&body).and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_id() -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// base64url (no padding) SHA-1 and SHA-256 thumbprints of a certificate's DER bytes, as the
/// JWT headers `x5t` and `x5t#S256` carry them.
pub fn thumbprints(cert_der: &[u8]) -> (String, String) {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
    (
        URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, cert_der)),
        URL_SAFE_NO_PAD.encode(digest(&SHA256, cert_der)),
    )
}

fn load_credential(s: &OAuthSettings) -> std::result::Result<Credential, String> {
    match (s.provider, s.flow) {
        (OAuthProvider::Entra, OAuthFlow::ClientCredentials) => {
            if let Some(secret) = &s.client_secret {
                return Ok(Credential::Secret(secret.clone()));
            }
            let Some(cert_file) = &s.certificate_file else {
                return Err(
                    "client-credentials needs client_secret_env, client_secret_file or certificate_file"
                        .into(),
                );
            };
            let pem = std::fs::read(cert_file).map_err(|e| {
                format!("cannot read certificate_file {}: {e}", cert_file.display())
            })?;
            let der = rustls_pemfile::certs(&mut pem.as_slice())
                .next()
                .ok_or_else(|| {
                    format!(
                        "certificate_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        cert_file.display()
                    )
                })?
                .map_err(|e| format!("certificate_file {}: {e}", cert_file.display()))?;
            let key_file = s.private_key_file.as_ref().unwrap_or(cert_file);
            let key_pem = std::fs::read(key_file).map_err(|e| {
                format!("cannot read private_key_file {}: {e}", key_file.display())
            })?;
            let key = rsa_key_in(&key_pem).map_err(|e| {
                format!(
                    "private_key_file {}: not an unencrypted RSA private key in PEM ({e})",
                    key_file.display()
                )
            })?;
            let (x5t, x5t_s256) = thumbprints(der.as_ref());
            Ok(Credential::Certificate { key, x5t, x5t_s256 })
        }
        (OAuthProvider::Entra, OAuthFlow::DeviceCode) => Ok(Credential::Delegated),
        (OAuthProvider::Google, OAuthFlow::DeviceCode) => Err(
            "Google's device flow does not grant the mail scopes; use flow = \"service-account\" with domain-wide delegation".into(),
        ),
        (OAuthProvider::Google, _) => {
            let Some(file) = &s.service_account_file else {
                return Err("Google app-only access needs service_account_file (a key with domain-wide delegation)".into());
            };
            let text = std::fs::read(file)
                .map_err(|e| format!("cannot read service_account_file {}: {e}", file.display()))?;
            let k: ServiceAccountKey = serde_json::from_slice(&text).map_err(|e| {
                format!(
                    "service_account_file {} is not a service account key (JSON with client_email and private_key): {e}",
                    file.display()
                )
            })?;
            let key = rsa_key_in(k.private_key.as_bytes()).map_err(|e| {
                format!(
                    "service_account_file {}: private_key is not an RSA key in PEM ({e})",
                    file.display()
                )
            })?;
            Ok(Credential::ServiceAccount {
                client_email: k.client_email,
                key_id: k.private_key_id,
                key,
            })
        }
        (OAuthProvider::Entra, OAuthFlow::ServiceAccount) => Err(
            "flow \"service-account\" is Google's; Entra uses client-credentials or device-code"
                .into(),
        ),
    }
}

/// The RSA private key among the PEM blocks of a file (which may also hold the certificate),
/// PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
fn rsa_key_in(pem: &[u8]) -> std::result::Result<EncodingKey, String> {
    use base64::engine::general_purpose::STANDARD;
    use rustls_pemfile::Item;
    for item in rustls_pemfile::read_all(&mut &pem[..]) {
        let (label, der): (&str, &[u8]) = match &item {
            Ok(Item::Pkcs8Key(k)) => ("PRIVATE KEY", k.secret_pkcs8_der()),
            Ok(Item::Pkcs1Key(k)) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
            Ok(_) => continue,
            Err(e) => return Err(e.to_string()),
        };
        let b64 = STANDARD.encode(der);
        let mut block = format!("-----BEGIN {label}-----\n");
        for line in b64.as_bytes().chunks(64) {
            block.push_str(std::str::from_utf8(line).unwrap_or_default());
            block.push('\n');
        }
        block.push_str(&format!("-----END {label}-----\n"));
        return EncodingKey::from_rsa_pem(block.as_bytes()).map_err(|e| e.to_string());
    }
    Err("no PRIVATE KEY or RSA PRIVATE KEY block".into())
}

/// The token URL of a Google service account key file, if it names one.
fn key_token_uri(s: &OAuthSettings) -> Option<String> {
    let text = std::fs::read(s.service_account_file.as_ref()?).ok()?;
    serde_json::from_slice::<ServiceAccountKey>(&text)
        .ok()?
        .token_uri
}

impl TokenProvider {
    /// A provider without a token file: the device-code flow is not available through it
    /// (use [`TokenProvider::with_token_file`]).
    pub fn new(
        settings: &OAuthSettings,
        kind: EndpointKind,
        host: &str,
        side: &'static str,
        http: reqwest::Client,
    ) -> Result<TokenProvider> {
        Self::with_token_file(settings, kind, host, side, http, None)
    }

    /// A provider for one side of a project; `token_file` (see [`token_file_for`]) holds the
    /// refresh tokens of the device-code flow.
    pub fn with_token_file(
        settings: &OAuthSettings,
        kind: EndpointKind,
        host: &str,
        side: &'static str,
        http: reqwest::Client,
        token_file: Option<PathBuf>,
    ) -> Result<TokenProvider> {
        let scope = settings.scope.clone().unwrap_or_else(|| {
            match (settings.provider, settings.flow, kind) {
                // Delegated IMAP on Exchange Online asks for the IMAP permission by name.
                (OAuthProvider::Entra, OAuthFlow::DeviceCode, EndpointKind::Imap) => {
                    DELEGATED_EXO_IMAP_SCOPE.to_string()
                }
                _ => default_scope(settings.provider, kind, host),
            }
        });
        let token_url = match (&settings.token_url, settings.provider) {
            (Some(u), _) => u.clone(),
            (None, OAuthProvider::Entra) => format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                settings.tenant.as_deref().unwrap_or("common")
            ),
            (None, OAuthProvider::Google) => key_token_uri(settings)
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_string()),
        };
        let credential = load_credential(settings).map_err(|message| EndpointError::Auth {
            user: format!(
                "{side} app {}",
                settings.client_id.as_deref().unwrap_or("(no client_id)")
            ),
            message,
        })?;
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                scope,
                token_url,
                http,
                side,
                credential,
                token_file,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The provider for an endpoint of a project whose journal is at `state_path`.
    pub fn for_endpoint(
        cfg: &crate::config::Endpoint,
        side: &'static str,
        state_path: &Path,
    ) -> Result<Option<TokenProvider>> {
        let Some(settings) = &cfg.oauth else {
            return Ok(None);
        };
        let http = super::http::client(cfg, side, cfg.timeout)?;
        Self::with_token_file(
            settings,
            cfg.kind,
            &cfg.host,
            side,
            http,
            Some(token_file_for(state_path)),
        )
        .map(Some)
    }

    pub fn scope(&self) -> &str {
        &self.inner.scope
    }

    pub fn token_url(&self) -> &str {
        &self.inner.token_url
    }

    /// Whether tokens are per mailbox (each account gets its own from the service).
    fn cache_key(&self, account: &str) -> String {
        match &self.inner.credential {
            Credential::Secret(_) | Credential::Certificate { .. } => String::new(),
            Credential::ServiceAccount { .. } => account.to_ascii_lowercase(),
            // The sign-in that serves this account: its own, else the side's shared one.
            Credential::Delegated => {
                let own = self.refresh_key(Some(account));
                match self.stored_refresh_token(&own) {
                    Ok(Some(_)) => own,
                    _ => self.refresh_key(None),
                }
            }
        }
    }

    fn refresh_key(&self, user: Option<&str>) -> String {
        refresh_key(
            self.inner.side,
            self.inner.settings.client_id.as_deref().unwrap_or(""),
            user,
        )
    }

    fn stored_refresh_token(&self, key: &str) -> std::io::Result<Option<String>> {
        let Some(path) = &self.inner.token_file else {
            return Ok(None);
        };
        Ok(read_token_file(path)?.refresh_tokens.get(key).cloned())
    }

    /// A valid access token to act on `account`'s mailbox, from the cache while it has more
    /// than a few minutes left.
    pub async fn token(&self, account: &str) -> Result<SecretString> {
        let key = self.cache_key(account);
        let mut cache = self.inner.cache.lock().await;
        if let Some((t, refresh_at)) = cache.get(&key)
            && Instant::now() < *refresh_at
        {
            return Ok(t.clone());
        }
        let (token, lifetime) = self.fetch(account, &key).await?;
        let refresh_at = refresh_time(lifetime);
        cache.insert(key, (token.clone(), refresh_at));
        Ok(token)
    }

    /// Forget a token the service refused (revoked, or expired early): the next call fetches
    /// a new one.
    pub async fn invalidate(&self, account: &str) {
        let key = self.cache_key(account);
        let mut cache = self.inner.cache.lock().await;
        cache.remove(&key);
    }

    fn who(&self, account: &str) -> String {
        let s = &self.inner.settings;
        match &self.inner.credential {
            Credential::ServiceAccount { client_email, .. } => {
                format!(
                    "{} service account {client_email} for {account}",
                    self.inner.side
                )
            }
            Credential::Delegated => format!(
                "{} app {} signed in for {account}",
                self.inner.side,
                s.client_id.as_deref().unwrap_or("?")
            ),
            _ => format!(
                "{} app {}",
                self.inner.side,
                s.client_id.as_deref().unwrap_or("?")
            ),
        }
    }

    fn auth_err(&self, account: &str, message: String) -> EndpointError {
        EndpointError::Auth {
            user: self.who(account),
            message,
        }
    }

    fn sign(
        &self,
        header: &Header,
        claims: &serde_json::Value,
        key: &EncodingKey,
    ) -> Result<String> {
        jsonwebtoken::encode(header, claims, key).map_err(|e| EndpointError::Auth {
            user: format!("{} app", self.inner.side),
            message: format!("cannot sign the token request: {e}"),
        })
    }

    fn delegated_scope(&self) -> String {
        if self.inner.scope.split(' ').any(|s| s == "offline_access") {
            self.inner.scope.clone()
        } else {
            format!("{} offline_access", self.inner.scope)
        }
    }

    async fn fetch(&self, account: &str, key: &str) -> Result<(SecretString, Duration)> {
        let s = &self.inner.settings;
        let client_id = s.client_id.clone().unwrap_or_default();
        let mut form: Vec<(&str, String)> = Vec::new();
        let mut rotate: Option<String> = None;
        match &self.inner.credential {
            Credential::Secret(secret) => {
                form.push(("grant_type", "client_credentials".into()));
                form.push(("client_id", client_id));
                form.push(("client_secret", secret.expose_secret().to_string()));
                form.push(("scope", self.inner.scope.clone()));
            }
            Credential::Certificate { key, x5t, x5t_s256 } => {
                let mut header = Header::new(Algorithm::RS256);
                header.x5t = Some(x5t.clone());
                header.x5t_s256 = Some(x5t_s256.clone());
                let now = now_secs();
                let claims = serde_json::json!({
                    "aud": self.inner.token_url,
                    "iss": client_id,
                    "sub": client_id,
                    "jti": random_id(),
                    "nbf": now,
                    "iat": now,
                    "exp": now + 600,
                });
                let assertion = self.sign(&header, &claims, key)?;
                form.push(("grant_type", "client_credentials".into()));
                form.push(("client_id", client_id));
                form.push(("client_assertion_type", CLIENT_ASSERTION_JWT.into()));
                form.push(("client_assertion", assertion));
                form.push(("scope", self.inner.scope.clone()));
            }
            Credential::ServiceAccount {
                client_email,
                key_id,
                key: sk,
            } => {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = key_id.clone();
                let now = now_secs();
                let claims = serde_json::json!({
                    "iss": client_email,
                    "sub": account,
                    "scope": self.inner.scope,
                    "aud": self.inner.token_url,
                    "iat": now,
                    "exp": now + ASSERTION_LIFETIME,
                });
                form.push(("grant_type", GRANT_JWT_BEARER.into()));
                form.push(("assertion", self.sign(&header, &claims, sk)?));
            }
            Credential::Delegated => {
                let stored = self.stored_refresh_token(key).map_err(|e| {
                    self.auth_err(account, format!("cannot read the token file: {e}"))
                })?;
                let Some(refresh) = stored else {
                    return Err(self.auth_err(
                        account,
                        format!(
                            "nobody has signed in yet: run `cutover login <project> --side {}` (or with --user {account})",
                            self.inner.side
                        ),
                    ));
                };
                form.push(("grant_type", "refresh_token".into()));
                form.push(("client_id", client_id));
                form.push(("refresh_token", refresh));
                form.push(("scope", self.delegated_scope()));
                rotate = Some(key.to_string());
            }
        }
        let t = self.post(account, &self.inner.token_url, &form).await?;
        if let (Some(key), Some(new_refresh)) = (rotate, &t.refresh_token)
            && let Some(path) = &self.inner.token_file
        {
            store_refresh_token(path, &key, new_refresh).map_err(|e| {
                self.auth_err(
                    account,
                    format!(
                        "cannot keep the rotated refresh token in {}: {e}",
                        path.display()
                    ),
                )
            })?;
        }
        Ok((
            SecretString::from(t.access_token),
            Duration::from_secs(t.expires_in.unwrap_or(3600)),
        ))
    }

    /// POST a form to a token endpoint; the service's error (`error`, `error_description`)
    /// becomes an Auth error.
    async fn post(
        &self,
        account: &str,
        url: &str,
        form: &[(&str, String)],
    ) -> Result<TokenResponse> {
        match self.post_raw(url, form).await? {
            Ok(t) => Ok(t),
            Err((status, detail)) => Err(self.auth_err(
                account,
                format!("token endpoint {url} answered {status}: {detail}"),
            )),
        }
    }

    /// The token, or (HTTP status, "error: description") as the service sent them.
    async fn post_raw(
        &self,
        url: &str,
        form: &[(&str, String)],
    ) -> Result<std::result::Result<TokenResponse, (reqwest::StatusCode, String)>> {
        let body = match self.post_form(url, form, "token request").await? {
            Ok(body) => body,
            Err(refused) => return Ok(Err(refused)),
        };
        serde_json::from_slice(&body)
            .map(Ok)
            .map_err(|e| EndpointError::Auth {
                user: format!("{} app", self.inner.side),
                message: format!("token endpoint {url} sent an unreadable answer: {e}"),
            })
    }

    /// POST a form to an authority: the answer's body, or (HTTP status, "error: description")
    /// as the service sent them when it refused. `what` names the request in errors.
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, String)],
        what: &str,
    ) -> Result<std::result::Result<Vec<u8>, (reqwest::StatusCode, String)>> {
        let resp = self
            .inner
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| {
                let host = e.url().and_then(|u| u.host_str()).unwrap_or(url);
                super::http::tls_failure(host, &e).unwrap_or_else(|| EndpointError::Connect {
                    addr: url.to_string(),
                    source: std::io::Error::other(e),
                })
            })?;
        let status = resp.status();
        let body = bounded::http_body(resp, bounded::TOKEN_CAP, "a token endpoint answer")
            .await
            .map_err(|e| {
                e.into_endpoint(&format!("{what} to {url}"), |e| {
                    EndpointError::ConnectionLost {
                        op: format!("{what} to {url}: {e}"),
                    }
                })
            })?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<TokenError>(&body)
                .map(|e| format!("{}: {}", e.error, e.error_description.unwrap_or_default()))
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
            return Ok(Err((status, detail)));
        }
        Ok(Ok(body))
    }

    /// The device authorization endpoint: the override, else next to the token endpoint
    /// (`.../oauth2/v2.0/token` -> `.../oauth2/v2.0/devicecode`).
    pub fn device_code_url(&self) -> String {
        if let Some(u) = &self.inner.settings.device_code_url {
            return u.clone();
        }
        match self.inner.token_url.strip_suffix("/token") {
            Some(base) => format!("{base}/devicecode"),
            None => format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/devicecode",
                self.inner.settings.tenant.as_deref().unwrap_or("common")
            ),
        }
    }

    /// The device-code sign-in (RFC 8628 as Entra implements it): ask for a code, let `show`
    /// tell the operator where to enter it, poll the token endpoint at the interval the
    /// service asks for (slower after `slow_down`) until the operator has signed in, and keep
    /// the refresh token in the token file, for `user` (None: every mailbox of the side).
    /// Returns the token file's path. Nothing secret is shown.
    pub async fn device_login(
        &self,
        user: Option<&str>,
        show: impl FnOnce(&DeviceCode),
    ) -> Result<PathBuf> {
        let who = user.unwrap_or("every mailbox");
        if !matches!(self.inner.credential, Credential::Delegated) {
            return Err(self.auth_err(
                who,
                "`cutover login` is for flow = \"device-code\"; this side's [oauth] uses another flow".into(),
            ));
        }
        let Some(path) = self.inner.token_file.clone() else {
            return Err(self.auth_err(who, "no token file to keep the sign-in in".into()));
        };
        let client_id = self.inner.settings.client_id.clone().unwrap_or_default();
        let url = self.device_code_url();
        let form = [
            ("client_id", client_id.clone()),
            ("scope", self.delegated_scope()),
        ];
        let body = match self.post_form(&url, &form, "device code request").await? {
            Ok(body) => body,
            Err((status, detail)) => {
                return Err(self.auth_err(
                    who,
                    format!("device authorization endpoint {url} answered {status}: {detail}"),
                ));
            }
        };
        let code: DeviceCode = serde_json::from_slice(&body).map_err(|e| {
            self.auth_err(
                who,
                format!("device authorization endpoint {url} sent an unreadable answer: {e}"),
            )
        })?;
        show(&code);
        let deadline = Instant::now() + Duration::from_secs(code.expires_in.min(24 * 3600));
        let mut interval = Duration::from_secs(code.interval);
        let form = [
            ("grant_type", GRANT_DEVICE_CODE.to_string()),
            ("client_id", client_id),
            ("device_code", code.device_code.clone()),
        ];
        loop {
            if Instant::now() + interval > deadline {
                return Err(self.auth_err(
                    who,
                    "the code expired before anyone signed in; run `cutover login` again".into(),
                ));
            }
            tokio::time::sleep(interval).await;
            match self.post_raw(&self.inner.token_url, &form).await? {
                Ok(t) => {
                    let Some(refresh) = t.refresh_token else {
                        return Err(self.auth_err(
                            who,
                            "signed in, but the service sent no refresh token (the scope needs offline_access)".into(),
                        ));
                    };
                    store_refresh_token(&path, &self.refresh_key(user), &refresh).map_err(|e| {
                        self.auth_err(
                            who,
                            format!("cannot write the token file {}: {e}", path.display()),
                        )
                    })?;
                    // The access token that came with it serves right away.
                    let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
                    let refresh_at = refresh_time(lifetime);
                    self.inner.cache.lock().await.insert(
                        self.refresh_key(user),
                        (SecretString::from(t.access_token), refresh_at),
                    );
                    return Ok(path);
                }
                Err((status, detail)) => {
                    let error = detail.split(':').next().unwrap_or("").trim();
                    match error {
                        "authorization_pending" => {}
                        "slow_down" => interval += Duration::from_secs(5),
                        "expired_token" => {
                            return Err(self.auth_err(
                                who,
                                "the code expired before anyone signed in; run `cutover login` again".into(),
                            ));
                        }
                        "authorization_declined" | "access_denied" => {
                            return Err(
                                self.auth_err(who, format!("the sign-in was declined ({detail})"))
                            );
                        }
                        _ => {
                            return Err(self.auth_err(
                                who,
                                format!(
                                    "token endpoint {} answered {status}: {detail}",
                                    self.inner.token_url
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_sits_next_to_the_journal() {
        assert_eq!(
            token_file_for(Path::new("/p/state.sqlite")),
            PathBuf::from("/p/state.sqlite.oauth-tokens.json")
        );
    }

    #[test]
    fn refresh_keys_separate_sides_and_users() {
        assert_eq!(
            refresh_key("destination", "app", Some("Ann@X.com")),
            "destination|app|ann@x.com"
        );
        assert_eq!(refresh_key("source", "app", None), "source|app|*");
    }

    #[cfg(unix)]
    #[test]
    fn the_token_file_is_private_and_keeps_other_entries() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        store_refresh_token(&p, "a", "1").unwrap();
        store_refresh_token(&p, "b", "2").unwrap();
        store_refresh_token(&p, "a", "3").unwrap();
        let f = read_token_file(&p).unwrap();
        assert_eq!(f.refresh_tokens["a"], "3");
        assert_eq!(f.refresh_tokens["b"], "2");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // The temporaries were renamed away, each under its own unpredictable name.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("t.json")]);
        // The old fixed name (`t.tmp<pid>`), planted as a link, is not followed.
        let planted = dir.path().join(format!("t.tmp{}", std::process::id()));
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        store_refresh_token(&p, "c", "4").unwrap();
        assert!(!victim.exists());
        assert_eq!(read_token_file(&p).unwrap().refresh_tokens["c"], "4");
    }
}
