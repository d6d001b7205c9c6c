//! The network under the mail protocol endpoints (IMAP, POP3, and STARTTLS for IMAP): TCP
//! within the endpoint's timeout, TLS with the system's and webpki roots or the endpoint's
//! `ca_file`, deadlines, and I/O errors in the endpoint's terms.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

use super::bounded::Violation;
use super::types::{EndpointError, Result};
use crate::config;

/// A byte stream a session runs on: TCP, TLS over TCP, or the guard over either.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug> Io for T {}

/// TCP to the endpoint's host and port within its timeout (Nagle off: commands are small).
pub(crate) async fn tcp_connect(cfg: &config::Endpoint) -> Result<TcpStream> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = with_timeout(cfg.timeout, "connect", TcpStream::connect(&addr))
        .await?
        .map_err(|source| EndpointError::Connect { addr, source })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// TLS over `tcp` with the endpoint's connector (from [`tls_connector`]), the server name
/// checked against its host.
pub(crate) async fn tls_handshake<S>(
    tls: Option<&TlsConnector>,
    cfg: &config::Endpoint,
    tcp: S,
) -> Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let tls = tls.expect("TLS connector for a TLS endpoint");
    let name = ServerName::try_from(cfg.host.clone()).map_err(|e| EndpointError::Tls {
        host: cfg.host.clone(),
        message: format!("not a valid server name: {e}"),
    })?;
    with_timeout(cfg.timeout, "TLS handshake", tls.connect(name, tcp))
        .await?
        .map_err(|e| EndpointError::Tls {
            host: cfg.host.clone(),
            message: e.to_string(),
        })
}

pub(crate) fn tls_connector(cfg: &config::Endpoint) -> Result<TlsConnector> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tls_err = |message: String| EndpointError::Tls {
        host: cfg.host.clone(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| tls_err(format!("cannot read ca_file {}: {e}", ca.display())))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| tls_err(format!("ca_file {}: {e}", ca.display())))?;
            roots
                .add(cert)
                .map_err(|e| tls_err(format!("ca_file {}: {e}", ca.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_err(format!(
                "ca_file {} holds no PEM certificate",
                ca.display()
            )));
        }
    } else {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

pub(crate) async fn with_timeout<F: std::future::Future>(
    d: Duration,
    op: &str,
    f: F,
) -> Result<F::Output> {
    tokio::time::timeout(d, f)
        .await
        .map_err(|_| EndpointError::Timeout {
            op: op.to_string(),
            secs: d.as_secs(),
        })
}

/// `f` before `deadline` (set `t` earlier for phase `op`).
pub(crate) async fn before<F: std::future::Future>(
    deadline: tokio::time::Instant,
    t: Duration,
    op: &str,
    f: F,
) -> Result<F::Output> {
    tokio::time::timeout_at(deadline, f)
        .await
        .map_err(|_| EndpointError::Timeout {
            op: op.to_string(),
            secs: t.as_secs(),
        })
}

pub(crate) fn io_err(op: &str, e: std::io::Error) -> EndpointError {
    // The server sent more than cutover accepts: a refusal, not a network error to retry.
    if let Some(v) = Violation::of(&e) {
        return EndpointError::Protocol {
            op: op.into(),
            message: v.to_string(),
        };
    }
    if matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    ) {
        EndpointError::ConnectionLost { op: op.into() }
    } else {
        EndpointError::Io {
            op: op.into(),
            source: e,
        }
    }
}
