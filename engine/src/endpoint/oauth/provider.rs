//! [`TokenProvider`]: one per endpoint side, with its settings, scope, token URL and
//! credential; it keeps one token per (account, scope) and refreshes it before it expires.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use jsonwebtoken::{EncodingKey, Header};
use secrecy::SecretString;
use tokio::sync::Mutex;

use super::credential::{Credential, key_token_uri, load_credential};
use super::token_file::{read_token_file, refresh_key, token_file_for};
use super::types::{DELEGATED_EXO_IMAP_SCOPE, default_scope, refresh_time};
use crate::config::{EndpointKind, OAuthFlow, OAuthProvider, OAuthSettings};
use crate::endpoint::types::{EndpointError, Result};

#[derive(Clone)]
pub struct TokenProvider {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) settings: OAuthSettings,
    pub(super) scope: String,
    pub(super) token_url: String,
    pub(super) http: reqwest::Client,
    pub(super) side: &'static str,
    /// Signing material, read once when the provider is made.
    pub(super) credential: Credential,
    /// Where delegated refresh tokens are kept (device-code flow).
    pub(super) token_file: Option<PathBuf>,
    /// (cache key) -> token and when to refresh it.
    pub(super) cache: Mutex<HashMap<String, (SecretString, Instant)>>,
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
        let http = crate::endpoint::http::client(cfg, side, cfg.timeout)?;
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
    pub(super) fn cache_key(&self, account: &str) -> String {
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

    pub(super) fn refresh_key(&self, user: Option<&str>) -> String {
        refresh_key(
            self.inner.side,
            self.inner.settings.client_id.as_deref().unwrap_or(""),
            user,
        )
    }

    pub(super) fn stored_refresh_token(&self, key: &str) -> std::io::Result<Option<String>> {
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

    pub(super) fn who(&self, account: &str) -> String {
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

    pub(super) fn auth_err(&self, account: &str, message: String) -> EndpointError {
        EndpointError::Auth {
            user: self.who(account),
            message,
        }
    }

    pub(super) fn sign(
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

    pub(super) fn delegated_scope(&self) -> String {
        if self.inner.scope.split(' ').any(|s| s == "offline_access") {
            self.inner.scope.clone()
        } else {
            format!("{} offline_access", self.inner.scope)
        }
    }
}
