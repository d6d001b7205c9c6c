//! The device-code sign-in of `cutover login` (RFC 8628 as Entra implements it): the code
//! and where to enter it shown to the operator, the token endpoint polled until the sign-in,
//! and the refresh token kept in the token file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::credential::Credential;
use super::provider::TokenProvider;
use super::token_file::store_refresh_token;
use super::types::{DeviceCode, GRANT_DEVICE_CODE, refresh_time};
use crate::endpoint::types::Result;

impl TokenProvider {
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
