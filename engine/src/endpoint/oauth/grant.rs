//! Fetching an access token from the token endpoint: client credentials with a secret or a
//! signed certificate assertion (Entra), a signed JWT per mailbox with the jwt-bearer grant
//! (Google service accounts), or the refresh-token grant of a delegated sign-in (keeping the
//! rotated refresh token); and the form POST every token request shares.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use secrecy::{ExposeSecret, SecretString};

use super::credential::Credential;
use super::provider::TokenProvider;
use super::token_file::store_refresh_token;
use super::types::{
    ASSERTION_LIFETIME, CLIENT_ASSERTION_JWT, GRANT_JWT_BEARER, TokenError, TokenResponse,
    now_secs, random_id,
};
use crate::endpoint::types::{EndpointError, Result};
use crate::endpoint::{bounded, http};

impl TokenProvider {
    pub(super) async fn fetch(&self, account: &str, key: &str) -> Result<(SecretString, Duration)> {
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
    pub(super) async fn post(
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
    pub(super) async fn post_raw(
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
    pub(super) async fn post_form(
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
                http::tls_failure(host, &e).unwrap_or_else(|| EndpointError::Connect {
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
}
