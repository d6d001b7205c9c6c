//! What the OAuth2 modules share: the grant and assertion type names, the token endpoint's
//! answers, the device-code answer, default scopes, and when a token is refreshed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::config::{EndpointKind, OAuthProvider};

/// When to refresh a token that lives `lifetime` (as the authority announced it, bounded so
/// that an absurd `expires_in` cannot overflow the clock).
pub(super) fn refresh_time(lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(Duration::from_secs(24 * 3600));
    Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2)
}

/// Refresh this long before a token's announced expiry.
pub(super) const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Lifetime of the assertions cutover signs (Google allows at most one hour).
pub(super) const ASSERTION_LIFETIME: u64 = 3600;

/// The delegated permission for IMAP on Exchange Online (device-code flow).
pub const DELEGATED_EXO_IMAP_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";

pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const CLIENT_ASSERTION_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Deserialize)]
pub(super) struct TokenResponse {
    pub(super) access_token: String,
    #[serde(default)]
    pub(super) expires_in: Option<u64>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TokenError {
    pub(super) error: String,
    #[serde(default)]
    pub(super) error_description: Option<String>,
}

/// What the operator needs to sign in with the device-code flow.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    #[serde(default)]
    pub(super) device_code: String,
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

pub(super) fn default_device_expiry() -> u64 {
    900
}

pub(super) fn default_interval() -> u64 {
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
        (OAuthProvider::Google, EndpointKind::Gmail) => crate::config::permissions::GMAIL_SCOPE,
        (OAuthProvider::Google, _) => "https://mail.google.com/",
    }
    .to_string()
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn random_id() -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
