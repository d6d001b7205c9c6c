//! OAuth2 access tokens for the endpoints that need them (Graph, Gmail API, IMAP XOAUTH2 on
//! Exchange Online and Gmail), on reqwest.
//!
//! One [`TokenProvider`] per endpoint side. It keeps one token per (account, scope): an
//! app-only Entra token serves every mailbox of the tenant, a Google domain-wide-delegation
//! token is per mailbox. Tokens are refreshed a few minutes before they expire, so a run of
//! many hours never sends an expired one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{EndpointError, Result};
use crate::config::{EndpointKind, OAuthFlow, OAuthProvider, OAuthSettings};

/// Refresh this long before a token's announced expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

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
    /// (account or "" for app-only) -> token and when to refresh it.
    cache: Mutex<HashMap<String, (SecretString, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
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

impl TokenProvider {
    pub fn new(
        settings: &OAuthSettings,
        kind: EndpointKind,
        host: &str,
        side: &'static str,
        http: reqwest::Client,
    ) -> Result<TokenProvider> {
        let scope = settings
            .scope
            .clone()
            .unwrap_or_else(|| default_scope(settings.provider, kind, host));
        let token_url = match (&settings.token_url, settings.provider) {
            (Some(u), _) => u.clone(),
            (None, OAuthProvider::Entra) => format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                settings.tenant.as_deref().unwrap_or("common")
            ),
            (None, OAuthProvider::Google) => "https://oauth2.googleapis.com/token".to_string(),
        };
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                scope,
                token_url,
                http,
                side,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn scope(&self) -> &str {
        &self.inner.scope
    }

    /// A valid access token to act on `account`'s mailbox, from the cache while it has more
    /// than a few minutes left.
    pub async fn token(&self, account: &str) -> Result<SecretString> {
        let key = match self.inner.settings.flow {
            OAuthFlow::ClientCredentials
                if self.inner.settings.provider == OAuthProvider::Entra =>
            {
                String::new()
            }
            _ => account.to_string(),
        };
        let mut cache = self.inner.cache.lock().await;
        if let Some((t, refresh_at)) = cache.get(&key)
            && Instant::now() < *refresh_at
        {
            return Ok(t.clone());
        }
        let (token, lifetime) = self.fetch(account).await?;
        let refresh_at = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
        cache.insert(key, (token.clone(), refresh_at));
        Ok(token)
    }

    /// Forget a token the service refused (revoked, or expired early): the next call fetches
    /// a new one.
    pub async fn invalidate(&self, account: &str) {
        let mut cache = self.inner.cache.lock().await;
        cache.remove(account);
        cache.remove("");
    }

    async fn fetch(&self, account: &str) -> Result<(SecretString, Duration)> {
        let s = &self.inner.settings;
        let auth_err = |message: String| EndpointError::Auth {
            user: format!(
                "{} app {}",
                self.inner.side,
                s.client_id.as_deref().unwrap_or("?")
            ),
            message,
        };
        let mut form: Vec<(&str, String)> = vec![("scope", self.inner.scope.clone())];
        match (s.provider, s.flow) {
            (OAuthProvider::Entra, OAuthFlow::ClientCredentials) => {
                form.push(("grant_type", "client_credentials".into()));
                form.push(("client_id", s.client_id.clone().unwrap_or_default()));
                match &s.client_secret {
                    Some(secret) => {
                        form.push(("client_secret", secret.expose_secret().to_string()))
                    }
                    None => {
                        return Err(auth_err(
                            "certificate assertion is not available in this build; set client_secret_env".into(),
                        ));
                    }
                }
            }
            (provider, flow) => {
                return Err(auth_err(format!(
                    "{provider:?} {flow:?} is not available in this build (account {account})"
                )));
            }
        }
        let resp = self
            .inner
            .http
            .post(&self.inner.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| EndpointError::Connect {
                addr: self.inner.token_url.clone(),
                source: std::io::Error::other(e),
            })?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| EndpointError::ConnectionLost {
                op: format!("token request to {}: {e}", self.inner.token_url),
            })?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<TokenError>(&body)
                .map(|e| format!("{}: {}", e.error, e.error_description.unwrap_or_default()))
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
            return Err(auth_err(format!(
                "token endpoint {} answered {status}: {detail}",
                self.inner.token_url
            )));
        }
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            auth_err(format!(
                "token endpoint {} sent an unreadable answer: {e}",
                self.inner.token_url
            ))
        })?;
        Ok((
            SecretString::from(t.access_token),
            Duration::from_secs(t.expires_in.unwrap_or(3600)),
        ))
    }
}
