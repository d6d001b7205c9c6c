//! OAuth2 settings of an HTTP API endpoint (`[source.oauth]`, `[destination.oauth]`): the
//! provider, the flow, and where the secrets come from (the environment or files, never the
//! project file itself).

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;

use super::secrets::secret;

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
pub(super) struct RawOAuth {
    pub(super) provider: OAuthProvider,
    #[serde(default)]
    pub(super) flow: OAuthFlow,
    #[serde(default)]
    pub(super) tenant: Option<String>,
    #[serde(default)]
    pub(super) client_id: Option<String>,
    #[serde(default)]
    pub(super) client_secret_env: Option<String>,
    #[serde(default)]
    pub(super) client_secret_file: Option<String>,
    #[serde(default)]
    pub(super) certificate_file: Option<String>,
    #[serde(default)]
    pub(super) private_key_file: Option<String>,
    #[serde(default)]
    pub(super) service_account_file: Option<String>,
    #[serde(default)]
    pub(super) scope: Option<String>,
    #[serde(default)]
    pub(super) token_url: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) device_code_url: Option<Spanned<String>>,
}

pub(super) fn oauth_settings(
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
