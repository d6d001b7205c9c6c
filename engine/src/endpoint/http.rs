//! The HTTP client of the API endpoints (Graph, Gmail) and of every OAuth2 token and
//! device-code request: one builder, so that each of them honours the endpoint's `ca_file`,
//! and one reading of a TLS failure, so that an untrusted certificate is said as such (and not
//! retried as a network error). The API requests themselves go through the REST layer
//! ([`super::rest`]).

use std::path::Path;
use std::time::Duration;

use tokio_rustls::rustls;

use super::types::{EndpointError, Result};
use crate::config;

/// A client for the endpoint `cfg` (its API and its token endpoints), with this timeout per
/// request. With `ca_file`, the certificates in that file are trusted in addition to the
/// system's roots: the same client also reaches the identity provider, whose certificate a
/// private CA did not sign. Certificates are always verified.
pub fn client(cfg: &config::Endpoint, side: &str, timeout: Duration) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder().timeout(timeout);
    if let Some(ca) = &cfg.ca_file {
        b = b.tls_certs_merge(load_ca(ca, &cfg.host)?);
    }
    b.build().map_err(|e| EndpointError::Protocol {
        op: format!("{side} HTTP client"),
        message: match &cfg.ca_file {
            Some(ca) => format!("{e} (with ca_file {})", ca.display()),
            None => e.to_string(),
        },
    })
}

/// The PEM certificates of a `ca_file`, or a TLS error naming the file.
fn load_ca(path: &Path, host: &str) -> Result<Vec<reqwest::Certificate>> {
    let err = |message: String| EndpointError::Tls {
        host: host.to_string(),
        message,
    };
    let pem = std::fs::read(path)
        .map_err(|e| err(format!("cannot read ca_file {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| err(format!("ca_file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(format!(
            "ca_file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// When `e` is a failed TLS handshake with `host` (above all a certificate that is not
/// trusted): that, as a TLS error, which is not retried. None for any other failure.
pub fn tls_failure(host: &str, e: &reqwest::Error) -> Option<EndpointError> {
    let r = rustls_error(e)?;
    let hint = match r {
        rustls::Error::InvalidCertificate(_) => {
            " (a server with a certificate from a private CA needs ca_file set to that CA)"
        }
        _ => "",
    };
    Some(EndpointError::Tls {
        host: host.to_string(),
        message: format!("{r}{hint}"),
    })
}

/// The rustls error somewhere in `e`'s chain of causes (I/O errors carry it inside, nested:
/// an I/O error's `source` skips the error it wraps, so the walk goes through `get_ref`).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if let Some(r) = x.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = match x
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => x.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(ca: Option<&Path>) -> config::Endpoint {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let ca_line = ca
            .map(|c| format!("ca_file = {:?}\n", c.display().to_string()))
            .unwrap_or_default();
        std::fs::write(
            &file,
            format!(
                "[project]\nname = \"t\"\nstate = \"s.sqlite\"\n\n\
                 [source]\nkind = \"imap\"\nhost = \"localhost\"\n{ca_line}\n\
                 [destination]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
                 [[mailbox]]\nbatch = \"b\"\nsource = {{ user = \"a\", password = \"x\" }}\ndestination = {{ user = \"a\", password = \"x\" }}\n"
            ),
        )
        .unwrap();
        config::load(&file).unwrap().source
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-ca.pem");
        let e = client(&endpoint(Some(&missing)), "source", Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read ca_file") && e.contains("no-such-ca.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client(&endpoint(Some(&empty)), "source", Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        assert!(client(&endpoint(None), "source", Duration::from_secs(5)).is_ok());
    }
}
