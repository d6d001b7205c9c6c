//! The signing material of a provider, read once: an Entra client secret or certificate
//! (RSA key and the certificate's thumbprints for the assertion's `x5t`/`x5t#S256`), a Google
//! service account key, or nothing for the delegated (device-code) flow.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use secrecy::SecretString;
use serde::Deserialize;

use crate::config::{OAuthFlow, OAuthProvider, OAuthSettings};

pub(super) enum Credential {
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
pub(super) struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
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

pub(super) fn load_credential(s: &OAuthSettings) -> std::result::Result<Credential, String> {
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
pub(super) fn rsa_key_in(pem: &[u8]) -> std::result::Result<EncodingKey, String> {
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
pub(super) fn key_token_uri(s: &OAuthSettings) -> Option<String> {
    let text = std::fs::read(s.service_account_file.as_ref()?).ok()?;
    serde_json::from_slice::<ServiceAccountKey>(&text)
        .ok()?
        .token_uri
}
