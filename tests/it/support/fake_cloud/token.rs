//! Fake OAuth2 authorities: Microsoft Entra (`POST /{tenant}/oauth2/v2.0/token` and
//! `/devicecode`) and Google (`POST /google/token`), plus an RFC 7662 introspection endpoint
//! (`POST /introspect`) that a real Dovecot's `passdb oauth2` asks about the tokens presented
//! with AUTHENTICATE XOAUTH2.
//!
//! Grants, each checked as the service documents it and refused with the service's error body:
//! - Entra client credentials with a client secret, or with a certificate assertion (an RS256
//!   JWT whose `x5t`/`x5t#S256` names the registered certificate and whose signature verifies
//!   with that certificate's public key; `aud` = this token URL, `iss` = `sub` = client id,
//!   valid `nbf`/`exp`, a `jti` never seen before);
//! - Entra device code: `authorization_pending` until the test approves the code for a user,
//!   `slow_down` for a poll sooner than the interval (which then grows by 5 s), and
//!   `expired_token` after the code's lifetime; a refresh token when `offline_access` was asked;
//! - Entra refresh token, rotated: each refresh token works once and the answer carries its
//!   successor;
//! - Google jwt-bearer: the assertion's signature is verified with the service account's public
//!   key, `aud` must be this token URL, `exp - iat` at most one hour, `sub` a user of the domain,
//!   and every requested scope one the domain-wide delegation grants.
//!
//! It issues opaque tokens for one resource each, with a lifetime the test chooses, and the
//! other fakes accept only tokens it issued, for their resource, before they expire.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

/// A token the fake issued.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub tenant: String,
    /// The resource of the requested scope, e.g. `https://graph.microsoft.com`.
    pub resource: String,
    /// For delegated / domain-wide-delegation tokens, the mailbox they act for.
    pub subject: Option<String>,
    pub expires: Instant,
}

/// An app registration's certificate credential.
#[derive(Debug, Clone)]
pub struct CertApp {
    /// base64url SHA-1 and SHA-256 of the certificate (DER).
    pub x5t: String,
    pub x5t_s256: String,
    /// The certificate's public key (PEM).
    pub public_key_pem: Vec<u8>,
}

/// A Google service account with domain-wide delegation.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub public_key_pem: Vec<u8>,
    /// The scopes the Workspace admin granted it (Security > API controls > Domain-wide
    /// delegation).
    pub scopes: Vec<String>,
}

/// A device-code sign-in in progress.
#[derive(Debug, Clone)]
pub struct DeviceSession {
    pub tenant: String,
    pub client_id: String,
    pub scope: String,
    pub device_code: String,
    pub user_code: String,
    pub expires: Instant,
    pub interval: Duration,
    pub last_poll: Option<Instant>,
    pub polls: usize,
    pub slow_downs: usize,
    /// Set by the test: the user who signed in.
    pub approved_for: Option<String>,
    pub redeemed: bool,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub tenant: String,
    pub client_id: String,
    pub subject: String,
}

/// Accepted clients and issued tokens.
pub struct Tokens {
    /// (tenant, client_id) -> client secret.
    pub clients: HashMap<(String, String), String>,
    /// (tenant, client_id) -> certificate credential.
    pub cert_clients: HashMap<(String, String), CertApp>,
    /// (tenant, client_id) of apps that allow public client flows (device code).
    pub public_clients: HashSet<(String, String)>,
    /// The directory's users (Entra sign-ins, Google `sub`), lower case.
    pub users: HashSet<String>,
    /// client_email -> service account.
    pub service_accounts: HashMap<String, ServiceAccount>,
    /// Device-code interval and lifetime announced.
    pub device_interval: Duration,
    pub device_lifetime: Duration,
    pub devices: Mutex<Vec<DeviceSession>>,
    /// Live refresh tokens (rotated: each works once).
    pub refresh: Mutex<HashMap<String, RefreshGrant>>,
    /// Refresh tokens already used.
    pub refresh_used: Mutex<Vec<String>>,
    /// Assertion ids seen (a replayed `jti` is refused).
    pub jtis: Mutex<HashSet<String>>,
    /// token -> the scope it was requested with.
    pub scopes: Mutex<HashMap<String, String>>,
    /// Tokens revoked before their expiry.
    pub revoked: Mutex<HashSet<String>>,
    /// The next this-many introspections revoke the token asked about and answer inactive
    /// (a token revoked while cutover still holds it).
    pub revoke_next: AtomicUsize,
    /// The next this-many device-code polls get `slow_down`, however well timed.
    pub slow_down_next: AtomicUsize,
    /// (token, active) for every introspection request.
    pub introspections: Mutex<Vec<(String, bool)>>,
    /// Lifetime of the tokens issued (`expires_in`).
    pub lifetime: Duration,
    pub issued: Mutex<HashMap<String, Grant>>,
    /// Token requests received (accepted or not).
    pub requests: Mutex<Vec<HashMap<String, String>>>,
}

impl Tokens {
    pub fn new(lifetime: Duration) -> Tokens {
        Tokens {
            clients: HashMap::new(),
            cert_clients: HashMap::new(),
            public_clients: HashSet::new(),
            users: HashSet::new(),
            service_accounts: HashMap::new(),
            device_interval: Duration::from_secs(1),
            device_lifetime: Duration::from_secs(900),
            devices: Mutex::new(Vec::new()),
            refresh: Mutex::new(HashMap::new()),
            refresh_used: Mutex::new(Vec::new()),
            jtis: Mutex::new(HashSet::new()),
            scopes: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashSet::new()),
            revoke_next: AtomicUsize::new(0),
            slow_down_next: AtomicUsize::new(0),
            introspections: Mutex::new(Vec::new()),
            lifetime,
            issued: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Accept an app registration's certificate (PEM file with the certificate): the fake
    /// keeps its thumbprints and public key.
    pub fn with_certificate(mut self, tenant: &str, client_id: &str, cert_pem: &[u8]) -> Tokens {
        let der = rustls_pemfile::certs(&mut &cert_pem[..])
            .next()
            .expect("a PEM certificate")
            .expect("a readable PEM certificate");
        let (x5t, x5t_s256) = cutover_engine::endpoint::oauth::thumbprints(der.as_ref());
        let public_key_pem = public_key_of_cert(cert_pem);
        self.cert_clients.insert(
            (tenant.into(), client_id.into()),
            CertApp {
                x5t,
                x5t_s256,
                public_key_pem,
            },
        );
        self
    }

    /// An app registration that allows public client flows (device code).
    pub fn with_public_client(mut self, tenant: &str, client_id: &str) -> Tokens {
        self.public_clients
            .insert((tenant.into(), client_id.into()));
        self
    }

    /// A user of the directory (who can sign in; whom a service account may act for).
    pub fn with_user(mut self, user: &str) -> Tokens {
        self.users.insert(user.to_ascii_lowercase());
        self
    }

    /// A Google service account (its public key, PEM) with domain-wide delegation of `scopes`.
    pub fn with_service_account(
        mut self,
        client_email: &str,
        public_key_pem: &[u8],
        scopes: &[&str],
    ) -> Tokens {
        self.service_accounts.insert(
            client_email.into(),
            ServiceAccount {
                public_key_pem: public_key_pem.to_vec(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
        self
    }

    pub fn with_device_timing(mut self, interval: Duration, lifetime: Duration) -> Tokens {
        self.device_interval = interval;
        self.device_lifetime = lifetime;
        self
    }

    /// The test signs in: approve the device code shown as `user_code` for `user`. False when
    /// no such code is waiting.
    pub fn approve_device(&self, user_code: &str, user: &str) -> bool {
        let mut devices = self.devices.lock().unwrap();
        match devices
            .iter_mut()
            .find(|d| d.user_code == user_code && !d.redeemed)
        {
            Some(d) => {
                d.approved_for = Some(user.to_ascii_lowercase());
                true
            }
            None => false,
        }
    }

    /// The device sign-in behind `user_code`, as it stands.
    pub fn device(&self, user_code: &str) -> Option<DeviceSession> {
        self.devices
            .lock()
            .unwrap()
            .iter()
            .find(|d| d.user_code == user_code)
            .cloned()
    }

    /// Grants of the tokens issued for `subject`.
    pub fn grants_for(&self, subject: &str) -> Vec<Grant> {
        self.issued
            .lock()
            .unwrap()
            .values()
            .filter(|g| g.subject.as_deref() == Some(subject))
            .cloned()
            .collect()
    }

    /// Accept a client-credentials app registration.
    pub fn with_client(mut self, tenant: &str, client_id: &str, secret: &str) -> Tokens {
        self.clients
            .insert((tenant.into(), client_id.into()), secret.into());
        self
    }

    pub fn issued_count(&self) -> usize {
        self.issued.lock().unwrap().len()
    }

    /// Record a new token and return it.
    pub fn issue(&self, grant: Grant) -> String {
        let mut issued = self.issued.lock().unwrap();
        let token = format!("tok-{}-{}", issued.len() + 1, std::process::id());
        issued.insert(token.clone(), grant);
        token
    }

    /// The grant behind a request's `Authorization: Bearer` header, when it is one this fake
    /// issued for `resource` and has not expired; otherwise the 401 the service would send.
    #[allow(clippy::result_large_err)] // an axum Response, as the handlers return it
    pub fn check(&self, headers: &HeaderMap, resource: &str) -> Result<Grant, Response> {
        self.check_with(headers, |g| g.resource == resource)
    }

    /// [`Self::check`] with the grant's resource (for a Google token: the scopes it was
    /// requested with) judged by `fits`.
    #[allow(clippy::result_large_err)]
    pub fn check_with(
        &self,
        headers: &HeaderMap,
        fits: impl Fn(&Grant) -> bool,
    ) -> Result<Grant, Response> {
        let unauthorized = |code: &str, msg: &str| {
            (
                StatusCode::UNAUTHORIZED,
                [("WWW-Authenticate", "Bearer")],
                Json(json!({"error": {"code": code, "message": msg}})),
            )
                .into_response()
        };
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "Access token is empty.",
            ));
        };
        let issued = self.issued.lock().unwrap();
        let Some(g) = issued.get(token) else {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "IDX14100: JWT is not well formed.",
            ));
        };
        if self.revoked.lock().unwrap().contains(token) {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "The token has been revoked.",
            ));
        }
        if Instant::now() >= g.expires {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if !fits(g) {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "Invalid audience.",
            ));
        }
        Ok(g.clone())
    }
}

pub fn router(tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(entra_devicecode))
        .route("/google/token", post(google_token))
        .route("/introspect", post(introspect))
        .with_state(tokens)
}

/// The public key (PEM) in a certificate, through openssl (as an admin would extract it).
pub fn public_key_of_cert(cert_pem: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["x509", "-pubkey", "-noout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl");
    child.stdin.take().unwrap().write_all(cert_pem).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl x509 -pubkey failed");
    out.stdout
}

/// This request's own URL, as a client must name it in an assertion's `aud`.
fn own_url(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}{path}")
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn entra_token(
    State(t): State<Arc<Tokens>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    t.requests.lock().unwrap().push(form.clone());
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match get("grant_type") {
        "client_credentials" if form.contains_key("client_assertion") => {
            return entra_assertion(&t, &tenant, &headers, &form);
        }
        "client_credentials" => {}
        "urn:ietf:params:oauth:grant-type:device_code" => {
            return entra_device_poll(&t, &tenant, &form);
        }
        "refresh_token" => return entra_refresh(&t, &tenant, &form),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            );
        }
    }
    let client_id = get("client_id");
    let Some(secret) = t.clients.get(&(tenant.clone(), client_id.to_string())) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    if get("client_secret") != secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let Some(resource) = get("scope").strip_suffix("/.default") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    };
    issue_json(
        &t,
        Grant {
            client_id: client_id.to_string(),
            tenant,
            resource: resource.to_string(),
            subject: None,
            expires: Instant::now() + t.lifetime,
        },
        get("scope"),
        None,
    )
}

fn issue_json(t: &Tokens, grant: Grant, scope: &str, refresh: Option<String>) -> Response {
    let token = t.issue(grant);
    t.scopes
        .lock()
        .unwrap()
        .insert(token.clone(), scope.to_string());
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": t.lifetime.as_secs(),
        "ext_expires_in": t.lifetime.as_secs(),
        "access_token": token,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Json(body).into_response()
}

/// The resource of a scope list ("https://outlook.office.com/IMAP.AccessAsUser.All
/// offline_access" -> "https://outlook.office.com"; "https://x/.default" -> "https://x").
fn resource_of(scope: &str) -> String {
    let first = scope.split(' ').find(|s| s.contains("://")).unwrap_or("");
    match first
        .find("://")
        .and_then(|i| first[i + 3..].find('/').map(|j| i + 3 + j))
    {
        Some(end) => first[..end].to_string(),
        None => first.to_string(),
    }
}

/// Client credentials with a certificate assertion.
fn entra_assertion(
    t: &Tokens,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let invalid = |status: StatusCode, msg: &str| oauth_error(status, "invalid_client", msg);
    let client_id = get("client_id");
    if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
        );
    }
    let Some(app) = t
        .cert_clients
        .get(&(tenant.to_string(), client_id.to_string()))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    let assertion = get("client_assertion");
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return invalid(
            StatusCode::BAD_REQUEST,
            "AADSTS50027: JWT token is invalid or malformed.",
        );
    };
    if header.alg != jsonwebtoken::Algorithm::RS256 && header.alg != jsonwebtoken::Algorithm::PS256
    {
        return invalid(
            StatusCode::BAD_REQUEST,
            "AADSTS5002738: Invalid JWT token. The signing algorithm is not supported.",
        );
    }
    let named = header.x5t.as_deref() == Some(app.x5t.as_str())
        || header.x5t_s256.as_deref() == Some(app.x5t_s256.as_str());
    if !named {
        return invalid(
            StatusCode::UNAUTHORIZED,
            "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.",
        );
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&app.public_key_pem).expect("RSA public key");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[own_url(headers, &format!("/{tenant}/oauth2/v2.0/token"))]);
    v.set_issuer(&[client_id]);
    v.sub = Some(client_id.to_string());
    v.validate_nbf = true;
    v.leeway = 5;
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let claims = match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &v) {
        Ok(d) => d.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind as K;
            let msg = match e.kind() {
                K::InvalidSignature => {
                    "AADSTS700027: Client assertion contains an invalid signature.".to_string()
                }
                K::ExpiredSignature | K::ImmatureSignature => {
                    "AADSTS700024: Client assertion is not within its valid time range.".to_string()
                }
                K::InvalidAudience => {
                    "AADSTS700212: The audience of the client assertion is not this token endpoint."
                        .to_string()
                }
                other => format!("AADSTS50027: JWT token is invalid or malformed ({other:?})."),
            };
            return invalid(StatusCode::UNAUTHORIZED, &msg);
        }
    };
    let Some(jti) = claims.get("jti").and_then(|j| j.as_str()) else {
        return invalid(
            StatusCode::UNAUTHORIZED,
            "AADSTS50027: JWT token is invalid or malformed (no jti).",
        );
    };
    if !t.jtis.lock().unwrap().insert(jti.to_string()) {
        return invalid(
            StatusCode::UNAUTHORIZED,
            "AADSTS700025: The client assertion was already used (jti replayed).",
        );
    }
    let Some(resource) = get("scope").strip_suffix("/.default") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    };
    issue_json(
        t,
        Grant {
            client_id: client_id.to_string(),
            tenant: tenant.to_string(),
            resource: resource.to_string(),
            subject: None,
            expires: Instant::now() + t.lifetime,
        },
        get("scope"),
        None,
    )
}

async fn entra_devicecode(
    State(t): State<Arc<Tokens>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let client_id = get("client_id");
    let key = (tenant.clone(), client_id.to_string());
    if !t.public_clients.contains(&key) {
        if t.clients.contains_key(&key) || t.cert_clients.contains_key(&key) {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    }
    if get("scope").is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        );
    }
    let mut devices = t.devices.lock().unwrap();
    let n = devices.len() + 1;
    let user_code = format!("FAKE{n:05}");
    let device_code = format!("DAQABAAEAAAD-{n}-{}", std::process::id());
    devices.push(DeviceSession {
        tenant,
        client_id: client_id.to_string(),
        scope: get("scope").to_string(),
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        expires: Instant::now() + t.device_lifetime,
        interval: t.device_interval,
        last_poll: None,
        polls: 0,
        slow_downs: 0,
        approved_for: None,
        redeemed: false,
    });
    Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": t.device_lifetime.as_secs(),
        "interval": t.device_interval.as_secs(),
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

fn entra_device_poll(t: &Tokens, tenant: &str, form: &HashMap<String, String>) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let now = Instant::now();
    let (subject, scope, client_id) = {
        let mut devices = t.devices.lock().unwrap();
        let Some(d) = devices
            .iter_mut()
            .find(|d| d.device_code == get("device_code") && d.tenant == tenant)
        else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "bad_verification_code",
                "AADSTS70000: The provided value for the input parameter 'device_code' is not valid.",
            );
        };
        if d.client_id != get("client_id") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "AADSTS70000: The device code was issued to another client.",
            );
        }
        d.polls += 1;
        if now >= d.expires || d.redeemed {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "expired_token",
                "AADSTS70019: Verification code expired.",
            );
        }
        // A poll sooner than the interval (small tolerance for timer jitter) is told to slow
        // down, and the interval grows by 5 s (RFC 8628 3.5).
        let early = d
            .last_poll
            .is_some_and(|last| now.duration_since(last) + Duration::from_millis(200) < d.interval);
        d.last_poll = Some(now);
        let forced = t
            .slow_down_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if early || forced {
            d.slow_downs += 1;
            d.interval += Duration::from_secs(5);
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "slow_down",
                "AADSTS70016: Polling too fast; slow down.",
            );
        }
        let Some(user) = d.approved_for.clone() else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                "AADSTS70016: OAuth 2.0 device flow error. Authorization is still pending. Continue polling.",
            );
        };
        d.redeemed = true;
        (user, d.scope.clone(), d.client_id.clone())
    };
    delegated_tokens(t, tenant, &client_id, &subject, &scope)
}

/// An access token for a signed-in user, and a refresh token when `offline_access` was asked.
fn delegated_tokens(
    t: &Tokens,
    tenant: &str,
    client_id: &str,
    subject: &str,
    scope: &str,
) -> Response {
    let refresh = scope.split(' ').any(|s| s == "offline_access").then(|| {
        let mut r = t.refresh.lock().unwrap();
        let token = format!(
            "rt-{}-{}",
            r.len() + t.refresh_used.lock().unwrap().len() + 1,
            std::process::id()
        );
        r.insert(
            token.clone(),
            RefreshGrant {
                tenant: tenant.to_string(),
                client_id: client_id.to_string(),
                subject: subject.to_string(),
            },
        );
        token
    });
    issue_json(
        t,
        Grant {
            client_id: client_id.to_string(),
            tenant: tenant.to_string(),
            resource: resource_of(scope),
            subject: Some(subject.to_string()),
            expires: Instant::now() + t.lifetime,
        },
        scope,
        refresh,
    )
}

fn entra_refresh(t: &Tokens, tenant: &str, form: &HashMap<String, String>) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let rt = get("refresh_token");
    let grant = t.refresh.lock().unwrap().remove(rt);
    let Some(grant) = grant else {
        let used = t.refresh_used.lock().unwrap().iter().any(|u| u == rt);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            if used {
                "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity or was already redeemed. Send a new interactive authorization request for this user and resource."
            } else {
                "AADSTS9002313: Invalid request. Request is malformed or invalid (refresh_token)."
            },
        );
    };
    t.refresh_used.lock().unwrap().push(rt.to_string());
    if grant.tenant != tenant || grant.client_id != get("client_id") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "AADSTS700005: Provided refresh token is for another client or tenant.",
        );
    }
    let scope = get("scope");
    delegated_tokens(t, tenant, &grant.client_id, &grant.subject, scope)
}

/// Google's token endpoint: the jwt-bearer grant of a service account.
async fn google_token(
    State(t): State<Arc<Tokens>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    t.requests.lock().unwrap().push(form.clone());
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let grant_err = |status: StatusCode, error: &str, msg: &str| oauth_error(status, error, msg);
    if get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return grant_err(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", get("grant_type")),
        );
    }
    let assertion = get("assertion");
    let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(assertion)
    else {
        return grant_err(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT.");
    };
    let iss = unverified.claims["iss"].as_str().unwrap_or("").to_string();
    let Some(sa) = t.service_accounts.get(&iss) else {
        return grant_err(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid grant: account not found",
        );
    };
    if unverified.header.alg != jsonwebtoken::Algorithm::RS256 {
        return grant_err(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        );
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&sa.public_key_pem).expect("RSA public key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[own_url(&headers, "/google/token")]);
    v.set_issuer(&[iss.as_str()]);
    v.leeway = 5;
    v.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &v) {
        Ok(d) => d.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind as K;
            let msg = match e.kind() {
                K::InvalidSignature => "Invalid JWT Signature.".to_string(),
                K::ExpiredSignature | K::ImmatureSignature => "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".to_string(),
                K::InvalidAudience => "Invalid JWT: audience is not the token endpoint.".to_string(),
                other => format!("Invalid JWT: {other:?}"),
            };
            return grant_err(StatusCode::BAD_REQUEST, "invalid_grant", &msg);
        }
    };
    let iat = claims["iat"].as_u64().unwrap_or(0);
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if exp <= iat || exp - iat > 3600 || iat > now_unix() + 5 {
        return grant_err(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let scope = claims["scope"].as_str().unwrap_or("").to_string();
    if scope.is_empty()
        || !scope
            .split(' ')
            .all(|s| sa.scopes.iter().any(|granted| granted == s))
    {
        return grant_err(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
    }
    let subject = match claims.get("sub").and_then(|s| s.as_str()) {
        Some(sub) if t.users.contains(&sub.to_ascii_lowercase()) => Some(sub.to_string()),
        Some(_) => {
            return grant_err(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid email or User ID",
            );
        }
        // Without `sub` the token is the service account's own, for no mailbox.
        None => None,
    };
    let token = t.issue(Grant {
        client_id: iss,
        tenant: "google".into(),
        resource: scope.clone(),
        subject,
        expires: Instant::now() + t.lifetime,
    });
    t.scopes.lock().unwrap().insert(token.clone(), scope);
    Json(json!({
        "access_token": token,
        "expires_in": t.lifetime.as_secs(),
        "token_type": "Bearer",
    }))
    .into_response()
}

/// RFC 7662 token introspection, as Dovecot's `passdb oauth2` (introspection_mode = post)
/// asks it: `token=...`. Active only for a token this fake issued, unexpired and not revoked;
/// `email` is the mailbox it acts for and `scope` what it was requested with.
async fn introspect(
    State(t): State<Arc<Tokens>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form.get("token").cloned().unwrap_or_default();
    let grant = t.issued.lock().unwrap().get(&token).cloned();
    let revoke = grant.is_some()
        && t.revoke_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if revoke {
        t.revoked.lock().unwrap().insert(token.clone());
    }
    let active = grant.as_ref().is_some_and(|g| Instant::now() < g.expires)
        && !t.revoked.lock().unwrap().contains(&token);
    t.introspections
        .lock()
        .unwrap()
        .push((token.clone(), active));
    let Some(g) = grant.filter(|_| active) else {
        return Json(json!({"active": false})).into_response();
    };
    let scope = t
        .scopes
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_default();
    let mut body = json!({
        "active": true,
        "client_id": g.client_id,
        "scope": scope,
        "exp": now_unix() + g.expires.saturating_duration_since(Instant::now()).as_secs(),
    });
    if let Some(sub) = &g.subject {
        body["email"] = json!(sub);
    }
    Json(body).into_response()
}
