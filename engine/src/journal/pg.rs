//! The journal on PostgreSQL: the URL, the password, TLS (`sslmode`), and the connection.
//!
//! The client is tokio-postgres. Its connection (the socket) runs on the journal's own
//! thread, on a runtime of its own; the journal's calls, made from async code or not, wait
//! for their answers with a plain executor (`futures::executor::block_on`), which is
//! allowed inside a tokio runtime (the sync `postgres` crate's is not: it panics there).
//! The thread ends when the client is dropped or the connection is lost; a call after that
//! is an error of the journal (exit 9), never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::config::SslMode as PgSslMode;
use tokio_rustls::rustls;

use super::sql::SqlError;
use crate::config::PgTarget;

/// `sslmode`, as libpq reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What cannot be set up before connecting: a message that names the URL (without its
/// password) and says what to do.
fn setup(_target: &PgTarget, message: impl std::fmt::Display) -> SqlError {
    SqlError::Lost(message.to_string())
}

/// The URL split into tokio-postgres's configuration and libpq's `sslmode`/`sslrootcert`,
/// which tokio-postgres does not read (it knows only disable, prefer and require).
fn parse(
    target: &PgTarget,
) -> Result<(tokio_postgres::Config, SslMode, Option<PathBuf>), SqlError> {
    let (base, query) = match target.url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (target.url.as_str(), ""),
    };
    let mut mode = SslMode::Prefer;
    let mut root = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "sslmode" => {
                mode = match v {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(setup(
                            target,
                            format!(
                                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                            ),
                        ));
                    }
                }
            }
            "sslrootcert" => root = Some(PathBuf::from(v)),
            _ => kept.push(kv),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let config: tokio_postgres::Config = url.parse().map_err(|e| {
        setup(
            target,
            format!("not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE): {e}"),
        )
    })?;
    if config.get_dbname().is_none() {
        return Err(setup(
            target,
            "names no database: write postgres://USER@HOST:PORT/DATABASE",
        ));
    }
    Ok((config, mode, root))
}

/// The password, from the first of: the URL, `password_env`, `password_file`, `PGPASSWORD`,
/// `~/.pgpass` (or `PGPASSFILE`; only when it is private, as libpq requires). None: the
/// server may not ask for one (trust, peer, certificate).
fn password(
    target: &PgTarget,
    config: &tokio_postgres::Config,
) -> Result<Option<Vec<u8>>, SqlError> {
    if let Some(p) = config.get_password() {
        return Ok(Some(p.to_vec()));
    }
    if let Some(var) = &target.password_env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v.into_bytes())),
            _ => Err(setup(
                target,
                format!(
                    "[project.postgres] password_env names {var}, which is not set: export it before running cutover"
                ),
            )),
        };
    }
    if let Some(file) = &target.password_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            setup(
                target,
                format!(
                    "[project.postgres] password_file {}: {e}: create it with the password on its first line",
                    file.display()
                ),
            )
        })?;
        let line = text.lines().next().unwrap_or("").to_string();
        return Ok(Some(line.into_bytes()));
    }
    if let Ok(p) = std::env::var("PGPASSWORD")
        && !p.is_empty()
    {
        return Ok(Some(p.into_bytes()));
    }
    let file = match std::env::var_os("PGPASSFILE") {
        Some(f) => Some(PathBuf::from(f)),
        None => std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")),
    };
    Ok(file
        .and_then(|f| pgpass(&f, config))
        .map(String::into_bytes))
}

/// The password of a `.pgpass` line matching the connection (hostname:port:database:
/// username:password, `*` for any, `\:` and `\\` escaped), if the file is private.
fn pgpass(file: &Path, config: &tokio_postgres::Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            "{} ignored: it is readable by others (chmod 600 it, as libpq requires)",
            file.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or("").to_string();
    let user = config.get_user().unwrap_or("").to_string();
    pgpass_lookup(&text, [&host, &port, &db, &user])
}

fn pgpass_lookup(text: &str, want: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() == 5 && want.iter().zip(&fields).all(|(w, f)| f == "*" || f == w) {
            return Some(fields[4].clone());
        }
    }
    None
}

/// Accepts any certificate: `sslmode=require` or `prefer` without verification, as libpq.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

/// Checks the chain but not the name: `sslmode=verify-ca`.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        e: &CertificateDer<'_>,
        i: &[CertificateDer<'_>],
        n: &ServerName<'_>,
        o: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self.0.verify_server_cert(e, i, n, o, now) {
            // The name is checked last: the chain was good.
            Err(rustls::Error::InvalidCertificate(NotValidForName))
            | Err(rustls::Error::InvalidCertificate(NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn tls_config(
    target: &PgTarget,
    mode: SslMode,
    root: Option<&Path>,
) -> Result<rustls::ClientConfig, SqlError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(target, e))?;
    if matches!(mode, SslMode::Disable | SslMode::Prefer | SslMode::Require) {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(ca) => {
            let pem = std::fs::read(ca)
                .map_err(|e| setup(target, format!("sslrootcert {}: {e}", ca.display())))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| setup(target, format!("sslrootcert {}: {e}", ca.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| setup(target, format!("sslrootcert {}: {e}", ca.display())))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
    }
    if mode == SslMode::VerifyFull {
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    }
    let webpki =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| setup(target, e))?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
        .with_no_client_auth())
}

/// A connected client, its connection running on the journal's thread.
pub struct PgConn {
    pub(super) client: tokio_postgres::Client,
    /// Prepared statements by their (rewritten) text, as rusqlite's `prepare_cached`.
    pub(super) cache: Mutex<HashMap<String, tokio_postgres::Statement>>,
}

/// The client's configuration (password, TLS, timeouts, keepalives) and its TLS connector,
/// for the journal's connection and for a fleet listener's.
pub(super) fn configured(
    target: &PgTarget,
    application_name: &str,
) -> Result<
    (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    SqlError,
> {
    let (mut config, mode, root) = parse(target)?;
    if let Some(p) = password(target, &config)? {
        config.password(p);
    }
    config.ssl_mode(match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        _ => PgSslMode::Require,
    });
    config.connect_timeout(Duration::from_secs(10));
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    config.application_name(application_name);
    let tls =
        tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(target, mode, root.as_deref())?);
    Ok((config, tls))
}

/// Connect to the journal's database, on a thread of its own.
pub fn connect(target: &PgTarget) -> Result<PgConn, SqlError> {
    let (config, tls) = configured(target, "cutover")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let shown = target.display();
    std::thread::Builder::new()
        .name("journal-postgres".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(SqlError::Lost(format!("journal thread: {e}"))));
                    return;
                }
            };
            rt.block_on(async move {
                match config.connect(tls).await {
                    Ok((client, connection)) => {
                        let _ = tx.send(Ok(client));
                        if let Err(e) = connection.await {
                            tracing::warn!("state journal {shown}: connection lost: {e}");
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(SqlError::from(e)));
                    }
                }
            });
        })
        .map_err(|e| SqlError::Lost(format!("cannot start the journal's thread: {e}")))?;
    let client = rx
        .recv()
        .map_err(|_| SqlError::Lost("the journal's thread ended before connecting".into()))?
        .map_err(|e| hint(target, e))?;
    Ok(PgConn {
        client,
        cache: Mutex::new(HashMap::new()),
    })
}

/// A connection error with what to do about it.
pub(super) fn hint(target: &PgTarget, e: SqlError) -> SqlError {
    let text = e.to_string();
    let what = if text.contains("password") {
        "check the password ([project.postgres] password_env or password_file, PGPASSWORD, ~/.pgpass)"
    } else if text.contains("does not exist") {
        "create the database and role first (createdb -O USER DATABASE)"
    } else if text.contains("TLS") || text.contains("tls") || text.contains("certificate") {
        "check sslmode (disable, prefer, require, verify-ca, verify-full) and sslrootcert"
    } else {
        "check that the server runs and the URL's host and port"
    };
    let _ = target;
    SqlError::Lost(format!("{text}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matches_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:mig:no\ndb.example:*:cut:mig:pa\\:ss\n*:*:*:*:any\n";
        assert_eq!(
            pgpass_lookup(text, ["db.example", "5433", "cut", "mig"]).as_deref(),
            Some("pa:ss")
        );
        assert_eq!(
            pgpass_lookup(text, ["x", "1", "y", "z"]).as_deref(),
            Some("any")
        );
    }

    #[test]
    fn a_pgpass_readable_by_others_is_ignored_as_libpq_does() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pgpass");
        std::fs::write(&f, "db.example:5433:cut:mig:s3cret\n").unwrap();
        let config: tokio_postgres::Config = "postgres://mig@db.example:5433/cut".parse().unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(pgpass(&f, &config), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(pgpass(&f, &config).as_deref(), Some("s3cret"));
    }

    #[test]
    fn sslmode_is_read_from_the_url_and_a_bad_one_is_named() {
        let t = |url: &str| PgTarget {
            url: url.into(),
            password_env: None,
            password_file: None,
        };
        let (_, mode, _) = parse(&t("postgres://u@h:1/d?sslmode=verify-full")).unwrap();
        assert_eq!(mode, SslMode::VerifyFull);
        let e = parse(&t("postgres://u:pw@h:1/d?sslmode=sometimes"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sometimes") && !e.contains("pw"), "{e}");
        let e = parse(&t("postgres://u@h:1")).err().unwrap().to_string();
        assert!(e.contains("names no database"), "{e}");
    }
}
