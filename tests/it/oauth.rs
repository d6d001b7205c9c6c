//! OAuth2 token flows against the fake Entra/Google token endpoints.

use crate::support;

use std::time::Duration;

use cutover_engine::config::{EndpointKind, OAuthFlow, OAuthProvider, OAuthSettings};
use cutover_engine::endpoint::oauth::TokenProvider;
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

// ---------------------------------------------------------------------------------------
// Certificates, device code, refresh rotation, Google service accounts.

use std::path::{Path, PathBuf};
use std::process::Command;

use cutover_engine::endpoint::EndpointError;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway RSA key and a self-signed certificate for it (as an admin makes one for an
/// app registration): (certificate file, key file).
fn app_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (format!("{name}.crt.pem"), format!("{name}.key.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=cutover test app",
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
    );
    (dir.join(cert), dir.join(key))
}

fn cert_settings(cloud: &FakeCloud, cert: &Path, key: Option<&Path>) -> OAuthSettings {
    OAuthSettings {
        client_secret: None,
        client_id: Some("app-cert".into()),
        certificate_file: Some(cert.to_path_buf()),
        private_key_file: key.map(Path::to_path_buf),
        ..entra(cloud, "unused")
    }
}

#[tokio::test]
async fn certificate_assertion_is_signed_with_the_registered_certificates_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = app_certificate(dir.path(), "app");
    let cloud = FakeCloud::start(Tokens::new(Duration::from_secs(3600)).with_certificate(
        "contoso",
        "app-cert",
        &std::fs::read(&cert).unwrap(),
    ));
    let imap = TokenProvider::new(
        &cert_settings(&cloud, &cert, Some(&key)),
        EndpointKind::Imap,
        "outlook.office365.com",
        "destination",
        reqwest::Client::new(),
    )
    .unwrap();
    let t = imap.token("ann@contoso.com").await.unwrap();
    let grant = cloud.tokens.issued.lock().unwrap()[t.expose_secret()].clone();
    assert_eq!(grant.resource, "https://outlook.office365.com");
    assert_eq!(grant.client_id, "app-cert");
    let req = cloud
        .tokens
        .requests
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        req["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!req.contains_key("client_secret"));
    // A refused token is dropped; the next assertion has a fresh jti (the fake refuses replays).
    imap.invalidate("ann@contoso.com").await;
    let t2 = imap.token("ann@contoso.com").await.unwrap();
    assert_ne!(t.expose_secret(), t2.expose_secret());
    assert_eq!(cloud.tokens.jtis.lock().unwrap().len(), 2);

    // The key and certificate in one PEM file (private_key_file omitted) work too.
    let both = dir.path().join("both.pem");
    let mut pem = std::fs::read(&cert).unwrap();
    pem.extend(std::fs::read(&key).unwrap());
    std::fs::write(&both, pem).unwrap();
    let one_file = TokenProvider::new(
        &cert_settings(&cloud, &both, None),
        EndpointKind::Graph,
        "graph.microsoft.com",
        "destination",
        reqwest::Client::new(),
    )
    .unwrap();
    one_file.token("ann@contoso.com").await.unwrap();
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_with_entras_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (registered, _) = app_certificate(dir.path(), "registered");
    let (other_cert, other_key) = app_certificate(dir.path(), "other");
    let cloud = FakeCloud::start(Tokens::new(Duration::from_secs(3600)).with_certificate(
        "contoso",
        "app-cert",
        &std::fs::read(&registered).unwrap(),
    ));
    // Another certificate altogether: not registered.
    let p = TokenProvider::new(
        &cert_settings(&cloud, &other_cert, Some(&other_key)),
        EndpointKind::Imap,
        "outlook.office365.com",
        "destination",
        reqwest::Client::new(),
    )
    .unwrap();
    let e = p.token("ann@contoso.com").await.unwrap_err().to_string();
    assert!(e.contains("AADSTS700027"), "{e}");
    // The registered certificate named, but the assertion signed with another key.
    let p = TokenProvider::new(
        &cert_settings(&cloud, &registered, Some(&other_key)),
        EndpointKind::Imap,
        "outlook.office365.com",
        "destination",
        reqwest::Client::new(),
    )
    .unwrap();
    let e = p.token("ann@contoso.com").await.unwrap_err().to_string();
    assert!(e.contains("invalid signature"), "{e}");
    assert_eq!(cloud.tokens.issued_count(), 0);
}

#[test]
fn an_unreadable_certificate_or_key_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a pem").unwrap();
    let cloud = FakeCloud::start(Tokens::new(Duration::from_secs(60)));
    let e = TokenProvider::new(
        &cert_settings(&cloud, &junk, None),
        EndpointKind::Imap,
        "",
        "source",
        reqwest::Client::new(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        e.contains("junk.pem") && e.contains("no PEM certificate"),
        "{e}"
    );
}

fn device_settings(cloud: &FakeCloud) -> OAuthSettings {
    OAuthSettings {
        flow: OAuthFlow::DeviceCode,
        client_secret: None,
        client_id: Some("app-pub".into()),
        ..entra(cloud, "unused")
    }
}

fn device_provider(cloud: &FakeCloud, file: &Path) -> TokenProvider {
    TokenProvider::with_token_file(
        &device_settings(cloud),
        EndpointKind::Imap,
        "outlook.office365.com",
        "destination",
        reqwest::Client::new(),
        Some(file.to_path_buf()),
    )
    .unwrap()
}

fn stored_refresh_tokens(file: &Path) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v["refresh_tokens"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// Run a device-code sign-in; `approve(user_code)` is called once the fake has answered
/// at least one poll with authorization_pending.
async fn sign_in(
    cloud: &FakeCloud,
    p: &TokenProvider,
    user: Option<&str>,
    approve_as: Option<&str>,
) -> (cutover_engine::endpoint::Result<PathBuf>, String) {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let login = {
        let p = p.clone();
        let user = user.map(str::to_string);
        tokio::spawn(async move {
            p.device_login(user.as_deref(), |c| {
                tx.send(c.user_code.clone()).unwrap();
            })
            .await
        })
    };
    let code = tokio::task::spawn_blocking(move || rx.recv().unwrap())
        .await
        .unwrap();
    if let Some(who) = approve_as {
        // Wait (bounded) until the fake has told the client to keep polling at least once.
        for _ in 0..600 {
            if cloud.tokens.device(&code).unwrap().polls >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(cloud.tokens.device(&code).unwrap().polls >= 1);
        assert!(cloud.tokens.approve_device(&code, who));
    }
    (login.await.unwrap(), code)
}

#[tokio::test]
async fn device_code_sign_in_keeps_the_refresh_token_and_runs_rotate_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.sqlite.oauth-tokens.json");
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_public_client("contoso", "app-pub")
            .with_user("ann@contoso.com"),
    );
    let p = device_provider(&cloud, &file);
    assert_eq!(
        p.scope(),
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "delegated IMAP asks for the IMAP permission"
    );
    let (r, code) = sign_in(&cloud, &p, Some("ann@contoso.com"), Some("ann@contoso.com")).await;
    assert_eq!(r.unwrap(), file);
    let session = cloud.tokens.device(&code).unwrap();
    assert!(session.redeemed);
    assert_eq!(session.slow_downs, 0, "the client kept to the interval");
    assert!(session.scope.contains("offline_access"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's only");
    }
    let first = stored_refresh_tokens(&file);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, "destination|app-pub|ann@contoso.com");
    assert!(
        cloud
            .tokens
            .refresh
            .lock()
            .unwrap()
            .contains_key(&first[0].1)
    );

    // A run (a new process: a new provider on the same file) refreshes, and keeps the
    // rotated refresh token: the old one no longer works at the fake.
    for round in 0..2 {
        let run = device_provider(&cloud, &file);
        let before = stored_refresh_tokens(&file)[0].1.clone();
        let t = run.token("ann@contoso.com").await.unwrap();
        let g = cloud.tokens.issued.lock().unwrap()[t.expose_secret()].clone();
        assert_eq!(g.subject.as_deref(), Some("ann@contoso.com"));
        assert_eq!(g.resource, "https://outlook.office.com");
        let after = stored_refresh_tokens(&file)[0].1.clone();
        assert_ne!(before, after, "round {round}: rotated");
        assert!(cloud.tokens.refresh_used.lock().unwrap().contains(&before));
        assert!(cloud.tokens.refresh.lock().unwrap().contains_key(&after));
    }
    // Someone without a sign-in of their own uses the side's shared one; there is none.
    let run = device_provider(&cloud, &file);
    let e = run.token("bob@contoso.com").await.unwrap_err().to_string();
    assert!(e.contains("cutover login"), "{e}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!e.contains(&stored_refresh_tokens(&file)[0].1) && text.contains("rt-"));
}

#[tokio::test]
async fn a_refresh_token_used_twice_is_refused_with_entras_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_public_client("contoso", "app-pub")
            .with_user("ops@contoso.com"),
    );
    let p = device_provider(&cloud, &file);
    sign_in(&cloud, &p, None, Some("ops@contoso.com"))
        .await
        .0
        .unwrap();
    let saved = std::fs::read(&file).unwrap();
    // A shared sign-in serves any mailbox.
    device_provider(&cloud, &file)
        .token("ann@contoso.com")
        .await
        .unwrap();
    // Restore the file as it was before the rotation: its refresh token was redeemed.
    std::fs::write(&file, saved).unwrap();
    let e = device_provider(&cloud, &file)
        .token("ann@contoso.com")
        .await
        .unwrap_err();
    assert!(matches!(e, EndpointError::Auth { .. }));
    assert!(e.to_string().contains("AADSTS70008"), "{e}");
}

#[tokio::test]
async fn slow_down_makes_the_client_poll_less_often() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_public_client("contoso", "app-pub")
            .with_user("ann@contoso.com"),
    );
    cloud
        .tokens
        .slow_down_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let p = device_provider(&cloud, &dir.path().join("t.json"));
    let (r, code) = sign_in(&cloud, &p, None, Some("ann@contoso.com")).await;
    r.unwrap();
    // The fake answers slow_down again to any poll sooner than the grown interval.
    assert_eq!(cloud.tokens.device(&code).unwrap().slow_downs, 1);
}

#[tokio::test]
async fn an_unapproved_device_code_expires_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_public_client("contoso", "app-pub")
            .with_device_timing(Duration::from_secs(1), Duration::from_secs(3)),
    );
    let file = dir.path().join("t.json");
    let p = device_provider(&cloud, &file);
    let (r, code) = sign_in(&cloud, &p, None, None).await;
    let e = r.unwrap_err().to_string();
    assert!(e.contains("expired"), "{e}");
    assert!(cloud.tokens.device(&code).unwrap().polls >= 1);
    assert!(!file.exists(), "nothing stored");
}

#[tokio::test]
async fn device_code_for_a_confidential_app_is_refused_with_entras_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600)).with_client("contoso", "app-pub", "s3cret"),
    );
    let p = device_provider(&cloud, &dir.path().join("t.json"));
    let e = p
        .device_login(None, |_| panic!("no code is shown"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("AADSTS7000218"), "{e}");
}

/// A Google service account key file (as the console downloads it) whose token_uri is the
/// fake's; returns (key file, public key PEM).
fn service_account(dir: &Path, cloud: &FakeCloud, name: &str) -> (PathBuf, Vec<u8>) {
    let key = format!("{name}.pem");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key,
        ],
    );
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(["pkey", "-in", &key, "-pubout"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "cutover-test",
        "private_key_id": format!("{name}-kid"),
        "private_key": std::fs::read_to_string(dir.join(&key)).unwrap(),
        "client_email": "migrator@cutover-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": format!("{}/google/token", cloud.url()),
    });
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    (file, out.stdout)
}

fn google_settings(key_file: &Path) -> OAuthSettings {
    OAuthSettings {
        provider: OAuthProvider::Google,
        flow: OAuthFlow::ServiceAccount,
        tenant: None,
        client_id: None,
        client_secret: None,
        certificate_file: None,
        private_key_file: None,
        service_account_file: Some(key_file.to_path_buf()),
        scope: None,
        token_url: None,
        device_code_url: None,
    }
}

const SA: &str = "migrator@cutover-test.iam.gserviceaccount.com";

#[tokio::test]
async fn google_service_account_gets_one_token_per_mailbox_with_sub_set() {
    let dir = tempfile::tempdir().unwrap();
    // The fake needs the public key before it starts; the key file needs the fake's URL:
    // start a first fake to learn nothing but make the key, then the real one.
    let probe = FakeCloud::start(Tokens::new(Duration::from_secs(1)));
    let (_, public) = service_account(dir.path(), &probe, "sa");
    drop(probe);
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_service_account(SA, &public, &["https://mail.google.com/"])
            .with_user("ann@example.com")
            .with_user("bob@example.com"),
    );
    let key_file = rewrite_token_uri(dir.path(), "sa", &cloud);
    let p = TokenProvider::new(
        &google_settings(&key_file),
        EndpointKind::Imap,
        "imap.gmail.com",
        "source",
        reqwest::Client::new(),
    )
    .unwrap();
    assert_eq!(p.scope(), "https://mail.google.com/");
    assert_eq!(p.token_url(), format!("{}/google/token", cloud.url()));
    let ann = p.token("ann@example.com").await.unwrap();
    let bob = p.token("bob@example.com").await.unwrap();
    assert_ne!(
        ann.expose_secret(),
        bob.expose_secret(),
        "one token per mailbox"
    );
    let again = p.token("ann@example.com").await.unwrap();
    assert_eq!(
        ann.expose_secret(),
        again.expose_secret(),
        "cached per mailbox"
    );
    assert_eq!(cloud.tokens.issued_count(), 2);
    let issued = cloud.tokens.issued.lock().unwrap().clone();
    assert_eq!(
        issued[ann.expose_secret()].subject.as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(
        issued[bob.expose_secret()].subject.as_deref(),
        Some("bob@example.com")
    );
    assert_eq!(
        issued[ann.expose_secret()].resource,
        "https://mail.google.com/"
    );
    let req = cloud.tokens.requests.lock().unwrap()[0].clone();
    assert_eq!(
        req["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );

    // A mailbox outside the domain, and a scope the delegation does not grant.
    let e = p
        .token("eve@elsewhere.example")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("Invalid email or User ID"), "{e}");
    assert!(e.contains(SA) && e.contains("eve@elsewhere.example"), "{e}");
    let gmail_api = TokenProvider::new(
        &google_settings(&key_file),
        EndpointKind::Gmail,
        "gmail.googleapis.com",
        "destination",
        reqwest::Client::new(),
    )
    .unwrap();
    let e = gmail_api
        .token("ann@example.com")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unauthorized_client"), "{e}");
}

/// Write the key file `name.json` again with this fake's token_uri.
fn rewrite_token_uri(dir: &Path, name: &str, cloud: &FakeCloud) -> PathBuf {
    let file = dir.join(format!("{name}.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["token_uri"] = serde_json::json!(format!("{}/google/token", cloud.url()));
    std::fs::write(&file, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    file
}

#[tokio::test]
async fn a_service_account_key_that_is_not_the_registered_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let probe = FakeCloud::start(Tokens::new(Duration::from_secs(1)));
    let (_, registered) = service_account(dir.path(), &probe, "real");
    service_account(dir.path(), &probe, "stolen");
    drop(probe);
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_service_account(SA, &registered, &["https://mail.google.com/"])
            .with_user("ann@example.com"),
    );
    let key_file = rewrite_token_uri(dir.path(), "stolen", &cloud);
    let p = TokenProvider::new(
        &google_settings(&key_file),
        EndpointKind::Imap,
        "imap.gmail.com",
        "source",
        reqwest::Client::new(),
    )
    .unwrap();
    let e = p.token("ann@example.com").await.unwrap_err().to_string();
    assert!(e.contains("Invalid JWT Signature"), "{e}");
    assert_eq!(cloud.tokens.issued_count(), 0);
}

// ---------------------------------------------------------------------------------------
// End to end: `cutover run` logging in with AUTHENTICATE XOAUTH2 on a real Dovecot whose
// passdb oauth2 asks the fake's introspection endpoint about every token.

use support::{
    Dovecot, MailboxLine, ProjectBuilder, ProjectDir, all_issues, assert_same_mail, project, text,
};

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-oauth")
        .tempdir()
        .unwrap()
}

/// A destination Dovecot that takes only tokens (XOAUTH2) the fake vouches for, with `scope`.
fn token_dovecot(root: &Path, cloud: &FakeCloud, users: &[(&str, &str)], scope: &str) -> Dovecot {
    Dovecot::start(
        root,
        "dst",
        users,
        &[
            "--no-gmail",
            "--oauth2",
            &format!("{}/introspect", cloud.url()),
            "--oauth2-scope",
            scope,
        ],
    )
}

/// The project with the destination logging in by token (`oauth`: its `[destination.oauth]`):
/// the destination credentials carry no password at all.
fn token_project(
    src: &Dovecot,
    dst: &Dovecot,
    users: &[(&str, &str)],
    oauth: toml::Table,
) -> ProjectDir {
    users
        .iter()
        .fold(ProjectBuilder::imap(src, dst), |b, (u, pw)| {
            b.mailbox(project::mailbox(
                Some("pilot"),
                project::login(u, pw),
                project::user(u),
            ))
        })
        .set("destination.auth", "xoauth2")
        .set("destination.oauth", oauth)
        .create()
}

fn dovecot_log(d: &Dovecot) -> String {
    std::fs::read_to_string(d.dir.join("log/dovecot.log")).unwrap_or_default()
}

#[test]
fn run_with_a_google_service_account_logs_in_by_xoauth2_per_mailbox_and_copies_the_mail() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let probe = FakeCloud::start(Tokens::new(Duration::from_secs(1)));
    let (_, public) = service_account(root.path(), &probe, "sa");
    drop(probe);
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_service_account(SA, &public, &["https://mail.google.com/"])
            .with_user("alice")
            .with_user("bob"),
    );
    let key_file = rewrite_token_uri(root.path(), "sa", &cloud);
    let src = Dovecot::start(root.path(), "src", &users, &["--no-gmail"]);
    let dst = token_dovecot(root.path(), &cloud, &users, "https://mail.google.com/");
    src.seed("alice", 40, 11, &[]);
    src.seed("bob", 25, 12, &[]);
    let p = token_project(
        &src,
        &dst,
        &users,
        toml::toml! {
            provider = "google"
            flow = "service-account"
            service_account_file = (key_file.display().to_string())
        },
    );

    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    for (u, pw) in users {
        let s = src.dump(u, pw);
        assert!(s.total() > 0);
        assert_same_mail(&s, &dst.dump(u, pw), |f| f.to_string());
        // Each mailbox logged in with a token for itself, which Dovecot had checked.
        let grants = cloud.tokens.grants_for(u);
        assert!(!grants.is_empty(), "no token for {u}");
        assert!(
            grants
                .iter()
                .all(|g| g.resource == "https://mail.google.com/")
        );
    }
    let intro = cloud.tokens.introspections.lock().unwrap().clone();
    assert!(!intro.is_empty() && intro.iter().all(|(_, active)| *active));
    let log = dovecot_log(&dst);
    assert!(log.contains("method=XOAUTH2"), "Dovecot saw XOAUTH2 logins");
    let out = text(&run);
    for t in cloud.tokens.issued.lock().unwrap().keys() {
        assert!(!out.contains(t.as_str()), "a token was printed");
    }

    // Tokens that Dovecot's authority no longer vouches for: one fresh try, then a clear
    // authentication error with the server's XOAUTH2 reason; nothing else is written.
    let before = dst.message_count("alice") + dst.message_count("bob");
    let issued = cloud.tokens.issued_count();
    cloud
        .tokens
        .revoke_next
        .store(1000, std::sync::atomic::Ordering::SeqCst);
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(4), "{}", text(&run));
    let out = text(&run);
    assert!(out.contains("XOAUTH2 status 401"), "{out}");
    assert!(
        cloud.tokens.issued_count() >= issued + 4,
        "each mailbox got a token, and a fresh one after the refusal"
    );
    assert_eq!(
        dst.message_count("alice") + dst.message_count("bob"),
        before
    );
}

#[test]
fn device_code_login_then_run_with_refreshed_tokens_and_one_retry_after_a_revoked_token() {
    let root = tmp();
    let users = [("alice", "alice-pw"), ("bob", "bob-pw")];
    let cloud = FakeCloud::start(
        Tokens::new(Duration::from_secs(3600))
            .with_public_client("contoso", "app-pub")
            .with_user("alice")
            .with_user("bob"),
    );
    let src = Dovecot::start(root.path(), "src", &users, &["--no-gmail"]);
    let dst = token_dovecot(
        root.path(),
        &cloud,
        &users,
        "https://outlook.office.com/IMAP.AccessAsUser.All",
    );
    src.seed("alice", 30, 21, &[]);
    src.seed("bob", 20, 22, &[]);
    let p = token_project(
        &src,
        &dst,
        &users,
        toml::toml! {
            provider = "entra"
            flow = "device-code"
            tenant = "contoso"
            client_id = "app-pub"
            token_url = (format!("{}/contoso/oauth2/v2.0/token", cloud.url()))
        },
    );

    // A run before anyone signed in says what to do.
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(4), "{}", text(&run));
    assert!(text(&run).contains("cutover login"), "{}", text(&run));

    // alice signs in for her own mailbox; an operator (signed in as bob) for the rest.
    let mut logins = Vec::new();
    for (args, who) in [
        (vec!["--user", "alice"], "alice"),
        (vec!["--side", "destination"], "bob"),
    ] {
        let mut child = Command::new(support::bin())
            .arg("login")
            .arg(&p.path)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let mut shown = String::new();
        let code = loop {
            let line = lines.next().expect("login printed the code").unwrap();
            shown.push_str(&line);
            shown.push('\n');
            if let Some(c) = line.trim().strip_prefix("enter") {
                break c.trim().to_string();
            }
        };
        assert!(
            shown.contains("https://microsoft.com/devicelogin"),
            "{shown}"
        );
        // Sign in once the fake has told cutover to keep polling.
        for _ in 0..600 {
            if cloud.tokens.device(&code).unwrap().polls >= 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(cloud.tokens.approve_device(&code, who));
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let status = child.wait().unwrap();
        assert!(status.success(), "login failed: {shown}{}", rest.join("\n"));
        shown.push_str(&rest.join("\n"));
        logins.push(shown);
    }
    let file = cutover_engine::endpoint::oauth::token_file_for(&p.dir.path().join("state.sqlite"));
    let after_login = stored_refresh_tokens(&file);
    assert_eq!(after_login.len(), 2, "{after_login:?}");
    for (_, rt) in &after_login {
        assert!(
            logins.iter().all(|l| !l.contains(rt.as_str())),
            "the refresh token is never printed"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The first token Dovecot asks about is revoked meanwhile: cutover drops it, refreshes
    // and logs in again.
    cloud
        .tokens
        .revoke_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(cloud.tokens.revoked.lock().unwrap().len(), 1);
    for (u, pw) in users {
        assert_same_mail(&src.dump(u, pw), &dst.dump(u, pw), |f| f.to_string());
        assert!(
            cloud
                .tokens
                .grants_for(u)
                .iter()
                .all(|g| g.resource == "https://outlook.office.com")
        );
    }
    // Both refresh tokens were used and rotated; the file holds the live successors.
    let after_run = stored_refresh_tokens(&file);
    let live = cloud.tokens.refresh.lock().unwrap().clone();
    for ((k1, old), (k2, new)) in after_login.iter().zip(&after_run) {
        assert_eq!(k1, k2);
        assert_ne!(old, new, "{k1} rotated");
        assert!(
            live.contains_key(new),
            "{k1}: the kept token is the live one"
        );
    }
    assert!(
        after_run
            .iter()
            .any(|(k, _)| k == "destination|app-pub|alice")
    );
    assert!(after_run.iter().any(|(k, _)| k == "destination|app-pub|*"));
}

// ---------------------------------------------------------------------------------------
// Presets.

/// A project with these `[source]` and `[destination]` tables, loaded.
fn load_project(
    dir: &Path,
    source: toml::Table,
    destination: toml::Table,
) -> Result<cutover_engine::config::Project, String> {
    let p = ProjectBuilder::new("t")
        .set("project.state", "s.sqlite")
        .source(source)
        .destination(destination)
        .mailbox(project::mailbox(
            None,
            project::login("a", "x"),
            project::user("a@contoso.com"),
        ))
        .write_to(&dir.join("p.toml"));
    cutover_engine::config::load(&p).map_err(|e| e.to_string())
}

#[test]
fn presets_name_the_services_imap_host_and_limits() {
    use cutover_engine::config::{Preset, Security};
    let dir = tempfile::tempdir().unwrap();
    let p = load_project(
        dir.path(),
        toml::toml! {
            kind = "imap"
            preset = "gmail"
            auth = "xoauth2"

            [oauth]
            provider = "google"
            flow = "service-account"
            service_account_file = "sa.json"
        },
        toml::toml! {
            kind = "imap"
            preset = "m365"

            [oauth]
            provider = "entra"
            tenant = "contoso"
            client_id = "app"
            certificate_file = "app.pem"
        },
    )
    .unwrap();
    assert_eq!(
        (p.source.host.as_str(), p.source.port, p.source.security),
        ("imap.gmail.com", 993, Security::Tls)
    );
    assert_eq!(
        p.source.max_message_size, None,
        "Gmail's APPENDLIMIT decides"
    );
    assert_eq!(
        (
            p.destination.host.as_str(),
            p.destination.port,
            p.destination.security
        ),
        ("outlook.office365.com", 993, Security::Tls)
    );
    assert_eq!(p.destination.preset, Preset::M365);
    assert_eq!(p.destination.max_message_size, Some(35 * 1024 * 1024));
    assert_eq!(
        p.destination.oauth.as_ref().unwrap().private_key_file,
        Some(dir.path().join("app.pem")),
        "key and certificate in one file by default"
    );
    // Exchange Server on premises has no public name: the host stays required.
    let e = load_project(
        dir.path(),
        toml::toml! {
            kind = "imap"
            preset = "exchange"
        },
        toml::toml! {
            kind = "imap"
            host = "h"
        },
    )
    .unwrap_err();
    assert!(e.contains("source.host: missing"), "{e}");
    // Google has no device-code flow for mail.
    let e = load_project(
        dir.path(),
        toml::toml! {
            kind = "imap"
            preset = "gmail"

            [oauth]
            provider = "google"
            flow = "device-code"
        },
        toml::toml! {
            kind = "imap"
            host = "h"
        },
    )
    .unwrap_err();
    assert!(e.contains("service-account"), "{e}");
}

#[test]
fn a_files_folder_lands_beside_exchange_onlines_reserved_one_with_a_notice() {
    let root = tmp();
    let users = [("alice", "alice-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &["--no-gmail"]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("alice", 12, 31, &[]);
    // Messages in a root "Files" folder and below it.
    for f in ["Files", "Files/Scans"] {
        src.doveadm(&["mailbox", "create", "-u", "alice", f]);
        src.doveadm(&["copy", "-u", "alice", f, "mailbox", "INBOX", "ALL"]);
    }
    let lines = [MailboxLine {
        batch: "pilot",
        user: "alice",
        pass: "alice-pw",
    }];
    // The destination behaves as Exchange Online for naming (preset m365).
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&lines)
        .set("destination.preset", "m365")
        .create();
    let plan = p.cutover(&["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        support::stdout(&plan).contains("Files (migrated)"),
        "{}",
        text(&plan)
    );
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let s = src.dump("alice", "alice-pw");
    let d = dst.dump("alice", "alice-pw");
    assert!(!s.folders["Files"].is_empty() && !s.folders["Files/Scans"].is_empty());
    assert!(!d.folders.contains_key("Files") && !d.folders.contains_key("Files/Scans"));
    assert_same_mail(&s, &d, |f| match f.strip_prefix("Files") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("Files (migrated){rest}"),
        _ => f.to_string(),
    });
    let notices: Vec<(String, String)> = all_issues(&p.journal())
        .into_iter()
        .filter(|i| i.category == "config")
        .map(|i| (i.severity, i.message))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices
            .iter()
            .all(|(sev, m)| sev == "info" && m.contains("reserved on Exchange Online")),
        "{notices:?}"
    );
}
