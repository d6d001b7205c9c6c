//! OAuth2 token flows against the fake Entra/Google token endpoints.

mod support;

use std::time::Duration;

use cutover::config::{EndpointKind, OAuthFlow, OAuthProvider, OAuthSettings};
use cutover::endpoint::oauth::TokenProvider;
use secrecy::{ExposeSecret, SecretString};
use support::fake_cloud::{FakeCloud, token::Tokens};

fn entra(cloud: &FakeCloud, secret: &str) -> OAuthSettings {
    OAuthSettings {
        provider: OAuthProvider::Entra,
        flow: OAuthFlow::ClientCredentials,
        tenant: Some("contoso".into()),
        client_id: Some("app-1".into()),
        client_secret: Some(SecretString::from(secret.to_string())),
        certificate_file: None,
        private_key_file: None,
        service_account_file: None,
        scope: None,
        token_url: Some(format!("{}/contoso/oauth2/v2.0/token", cloud.url())),
        device_code_url: None,
    }
}

#[tokio::test]
async fn client_credentials_token_is_cached_per_resource_and_refreshed_before_expiry() {
    // Tokens live 2 s: past half their life (the refresh margin is larger) a new one is fetched.
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(2)).with_client("contoso", "app-1", "s3cret"),
    );
    let http = reqwest::Client::new();
    let graph = TokenProvider::new(
        &entra(&cloud, "s3cret"),
        EndpointKind::Graph,
        "graph.microsoft.com",
        "destination",
        http.clone(),
    )
    .unwrap();
    let imap = TokenProvider::new(
        &entra(&cloud, "s3cret"),
        EndpointKind::Imap,
        "outlook.office365.com",
        "destination",
        http,
    )
    .unwrap();
    let t1 = graph.token("ann@contoso.com").await.unwrap();
    let t2 = graph.token("bob@contoso.com").await.unwrap();
    assert_eq!(
        t1.expose_secret(),
        t2.expose_secret(),
        "app-only token serves every mailbox"
    );
    let ti = imap.token("ann@contoso.com").await.unwrap();
    assert_ne!(
        t1.expose_secret(),
        ti.expose_secret(),
        "one token per resource"
    );
    let grants = cloud.tokens.issued.lock().unwrap().clone();
    assert_eq!(
        grants[t1.expose_secret()].resource,
        "https://graph.microsoft.com"
    );
    assert_eq!(
        grants[ti.expose_secret()].resource,
        "https://outlook.office365.com"
    );
    assert_eq!(cloud.tokens.issued_count(), 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t3 = graph.token("ann@contoso.com").await.unwrap();
    assert_ne!(
        t1.expose_secret(),
        t3.expose_secret(),
        "refreshed before expiry"
    );
    assert_eq!(cloud.tokens.issued_count(), 3);
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_auth_error_with_the_services_reason() {
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(60)).with_client("contoso", "app-1", "s3cret"),
    );
    let p = TokenProvider::new(
        &entra(&cloud, "wrong"),
        EndpointKind::Graph,
        "graph.microsoft.com",
        "destination",
        reqwest::Client::new(),
    )
    .unwrap();
    let e = p.token("ann@contoso.com").await.unwrap_err().to_string();
    assert!(e.contains("AADSTS7000215"), "{e}");
    assert!(e.contains("app-1"), "{e}");
    assert!(
        !e.contains("wrong"),
        "the secret must never be printed: {e}"
    );
}
