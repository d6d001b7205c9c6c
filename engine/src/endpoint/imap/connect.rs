//! Connecting and logging in: TCP, TLS or STARTTLS, the greeting, LOGIN, AUTHENTICATE PLAIN
//! or XOAUTH2 (a refused token is replaced once), then the server's capabilities.

use std::sync::Arc;

use async_imap::imap_proto::{Response, Status};
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite, BufStream};
use tokio_rustls::TlsConnector;

use super::errors::{clean_no, map_err, throttle_of};
use super::session::ImapSession;
use crate::config::{self, AuthMethod, Credential, Security};
use crate::endpoint::bounded;
use crate::endpoint::budget::ConnectionBudget;
use crate::endpoint::compress::{Compressible, WireBytes, WireCounter};
use crate::endpoint::guard::Guard;
use crate::endpoint::net::{Io, io_err, tcp_connect, tls_connector, tls_handshake, with_timeout};
use crate::endpoint::oauth::TokenProvider;
use crate::endpoint::types::{Capabilities, EndpointError, Result};

/// SASL initial responses for AUTHENTICATE (async-imap base64-encodes them). After the first
/// response any further challenge is an error report (XOAUTH2 sends a JSON one, e.g. Gmail's
/// `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`): it is kept for
/// the error message and answered with an empty response, so the server completes with a
/// tagged NO.
struct Sasl {
    first: Option<Vec<u8>>,
    error: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

impl Sasl {
    fn plain(user: &str, secret: &str) -> Sasl {
        Sasl {
            first: Some(format!("\0{user}\0{secret}").into_bytes()),
            error: Default::default(),
        }
    }
    fn xoauth2(user: &str, token: &str) -> Sasl {
        Sasl {
            first: Some(format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes()),
            error: Default::default(),
        }
    }
}

impl async_imap::Authenticator for Sasl {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first,
            None => {
                if let Ok(mut e) = self.error.lock() {
                    *e = Some(challenge.to_vec());
                }
                Vec::new()
            }
        }
    }
}

/// The XOAUTH2 error challenge (JSON) in words for the operator.
fn xoauth2_error(challenge: &[u8]) -> String {
    let v: serde_json::Value = match serde_json::from_slice(challenge) {
        Ok(v) => v,
        Err(_) => {
            return format!(
                "the server refused the token ({})",
                String::from_utf8_lossy(challenge)
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
    };
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let status = field("status");
    let scope = field("scope");
    let what = match status.as_str() {
        "401" => "the access token is invalid, expired or revoked",
        "400" => {
            "the access token was refused (wrong scope, or the account is not the one it was issued for)"
        }
        "403" => {
            "the account may not use IMAP with this token (IMAP disabled, or the app lacks the permission)"
        }
        _ => "the server refused the token",
    };
    let mut out = format!("XOAUTH2 status {status}: {what}");
    if !scope.is_empty() {
        out.push_str(&format!("; the server wants scope {scope}"));
    }
    out
}

/// Opens sessions on one endpoint, never more than its `max_connections` at once.
#[derive(Clone)]
pub struct ImapConnector {
    cfg: config::Endpoint,
    tls: Option<TlsConnector>,
    /// OAuth2 tokens for XOAUTH2, when the endpoint has an `[oauth]` table.
    tokens: Option<TokenProvider>,
    budget: ConnectionBudget,
    /// Bytes on the wire and bytes of protocol, all sessions.
    wire: WireCounter,
    /// "source" or "destination", for messages.
    pub side: &'static str,
}

impl ImapConnector {
    pub fn new(cfg: &config::Endpoint, side: &'static str) -> Result<Self> {
        let tls = match cfg.security {
            Security::None => None,
            _ => Some(tls_connector(cfg)?),
        };
        Ok(ImapConnector {
            cfg: cfg.clone(),
            tls,
            tokens: None,
            budget: ConnectionBudget::new(cfg.max_connections),
            wire: WireCounter::default(),
            side,
        })
    }

    /// A connector for one side of a project whose journal is at `state_path`: with an
    /// `[oauth]` table, every login is AUTHENTICATE XOAUTH2 with a token from one provider
    /// (delegated refresh tokens in the token file next to the journal).
    pub fn for_project(
        cfg: &config::Endpoint,
        side: &'static str,
        state_path: &std::path::Path,
    ) -> Result<Self> {
        let mut c = Self::new(cfg, side)?;
        c.tokens = TokenProvider::for_endpoint(cfg, side, state_path)?;
        Ok(c)
    }

    /// Log in with tokens from this provider (XOAUTH2).
    pub fn with_tokens(mut self, tokens: TokenProvider) -> Self {
        self.tokens = Some(tokens);
        self
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    /// The endpoint as the fleet's connection slots name it.
    fn slot_key(&self) -> String {
        format!("imap:{}:{}", self.cfg.host, self.cfg.port)
    }

    /// Connections open right now.
    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    /// What this endpoint's sessions sent and received, on the wire and as protocol.
    pub fn wire(&self) -> WireBytes {
        self.wire.get()
    }

    /// Wait for a free connection slot, then connect and log in.
    pub async fn connect(&self, cred: &Credential) -> Result<ImapSession> {
        let permit = self.budget.acquire_slot(&self.slot_key()).await;
        let Some(tokens) = &self.tokens else {
            return self.connect_with(permit, cred, self.cfg.auth).await;
        };
        // XOAUTH2 with a token for this mailbox; a refused token (revoked, or expired
        // early) is dropped and the login tried once more with a fresh one.
        let with_token = |token: secrecy::SecretString| Credential {
            user: cred.user.clone(),
            password: token,
        };
        let first = with_token(tokens.token(&cred.user).await?);
        match self.connect_with(permit, &first, AuthMethod::Xoauth2).await {
            Err(EndpointError::Auth { .. }) => {
                tokens.invalidate(&cred.user).await;
                let again = with_token(tokens.token(&cred.user).await?);
                let permit = self.budget.acquire_slot(&self.slot_key()).await;
                self.connect_with(permit, &again, AuthMethod::Xoauth2).await
            }
            other => other,
        }
    }

    async fn connect_with(
        &self,
        permit: crate::endpoint::budget::Permit,
        cred: &Credential,
        auth: AuthMethod,
    ) -> Result<ImapSession> {
        let timeout = self.cfg.timeout;
        let addr = format!("{}:{}", self.cfg.host, self.cfg.port);
        let tcp = tcp_connect(&self.cfg).await?;
        let host = self.cfg.host.clone();
        let stream: Box<dyn Io> = match self.cfg.security {
            Security::None => Box::new(tcp),
            Security::Tls => Box::new(self.handshake(tcp).await?),
            Security::Starttls => {
                let mut tcp = BufStream::new(tcp);
                crate::endpoint::starttls::imap(&mut tcp, timeout, &addr).await?;
                Box::new(self.handshake(tcp.into_inner()).await?)
            }
        };
        // Under the guard, so that it lexes uncompressed bytes: the COMPRESS=DEFLATE switch
        // and the count of bytes on the wire.
        let (stream, deflate) = Compressible::new(stream, &self.wire);
        let stream: Box<dyn Io> = Box::new(stream);
        // Every byte from the server passes the guard: lines, literals and read-ahead bounded.
        let (guard, guard_handle) = Guard::new(stream);
        let stream: Box<dyn Io> = Box::new(guard);
        let mut client = async_imap::Client::new(BufStream::new(stream));
        if self.cfg.security != Security::Starttls {
            let greeting = with_timeout(timeout, "greeting", client.read_response())
                .await?
                .map_err(|e| io_err("greeting", e))?;
            match greeting.as_ref().map(|g| g.parsed()) {
                Some(Response::Data {
                    status: Status::Ok | Status::PreAuth,
                    ..
                }) => {}
                Some(Response::Data {
                    status: Status::Bye,
                    outcome,
                }) => {
                    let info = outcome.information.as_deref().unwrap_or("");
                    if let Some(wait) = throttle_of(info) {
                        return Err(EndpointError::Throttled {
                            op: "greeting".into(),
                            message: format!("server {addr} said BYE: {info}"),
                            wait,
                        });
                    }
                    return Err(EndpointError::Protocol {
                        op: "greeting".into(),
                        message: format!(
                            "server {addr} said BYE: {}",
                            outcome.information.as_deref().unwrap_or("")
                        ),
                    });
                }
                _ => {
                    return Err(EndpointError::Protocol {
                        op: "greeting".into(),
                        message: format!("{addr} did not greet like an IMAP server"),
                    });
                }
            }
        }
        let secret = cred.password.expose_secret();
        let sasl_error: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Default::default();
        // LOGIN's tagged OK usually carries the capabilities after login (Dovecot's does):
        // then no CAPABILITY command follows, one round trip less per connection.
        let login = async {
            match auth {
                AuthMethod::Login => client.login_with_capabilities(&cred.user, secret).await,
                AuthMethod::Plain => client
                    .authenticate("PLAIN", Sasl::plain(&cred.user, secret))
                    .await
                    .map(|s| (s, None)),
                AuthMethod::Xoauth2 => {
                    let mut sasl = Sasl::xoauth2(&cred.user, secret);
                    sasl.error = sasl_error.clone();
                    client
                        .authenticate("XOAUTH2", sasl)
                        .await
                        .map(|s| (s, None))
                }
            }
        };
        let challenge = || sasl_error.lock().ok().and_then(|mut e| e.take());
        let (session, announced) = with_timeout(timeout, "login", login)
            .await?
            .map_err(|(e, _)| match e {
                async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => {
                    match throttle_of(&m) {
                        Some(wait) => EndpointError::Throttled {
                            op: "login".into(),
                            message: clean_no(&m),
                            wait,
                        },
                        None => EndpointError::Auth {
                            user: cred.user.clone(),
                            message: match challenge() {
                                Some(c) => format!("{} ({})", clean_no(&m), xoauth2_error(&c)),
                                // Exchange Online answers a refused token with a bare NO.
                                None if auth == AuthMethod::Xoauth2 => format!(
                                    "{} (the OAuth2 token was refused: check the app's IMAP permission and its access to this mailbox; on Exchange Online New-ServicePrincipal and Add-MailboxPermission)",
                                    clean_no(&m)
                                ),
                                None => clean_no(&m),
                            },
                        },
                    }
                }
                // A server that drops the connection after its XOAUTH2 error challenge
                // still refused the login.
                other => match challenge() {
                    Some(c) => EndpointError::Auth {
                        user: cred.user.clone(),
                        message: xoauth2_error(&c),
                    },
                    None => map_err("login", other),
                },
            })?;
        let mut s = ImapSession {
            s: session,
            opened: String::new(),
            caps: Capabilities::default(),
            timeout,
            tag: 0,
            keywords: None,
            host,
            guard: guard_handle,
            message_cap: bounded::message_cap(self.cfg.max_message_size),
            cap_origin: bounded::message_cap_origin(self.cfg.max_message_size, self.side),
            exists: None,
            modseq: None,
            condstore_on: false,
            sent: Default::default(),
            answered_at: tokio::time::Instant::now(),
            answered: Default::default(),
            reported: 0,
            streaming: None,
            _permit: permit,
        };
        s.caps = match announced {
            Some(caps) => super::capabilities::capabilities_of(&caps),
            None => s.read_capabilities().await?,
        };
        if self.cfg.wants_compression() {
            s.compress(&deflate).await?;
        }
        if let Some(limit) = self.cfg.max_message_size {
            s.caps.append_limit = Some(s.caps.append_limit.map_or(limit, |l| l.min(limit)));
        }
        Ok(s)
    }

    async fn handshake<S>(&self, tcp: S) -> Result<tokio_rustls::client::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tls_handshake(self.tls.as_ref(), &self.cfg, tcp).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_initial_responses() {
        use async_imap::Authenticator;
        let mut x = Sasl::xoauth2("a@b.c", "tok");
        assert_eq!(
            x.process(b""),
            b"user=a@b.c\x01auth=Bearer tok\x01\x01".to_vec()
        );
        // The error challenge that follows a refused token gets an empty answer.
        assert_eq!(x.process(b"{\"status\":\"401\"}"), Vec::<u8>::new());
        assert_eq!(
            x.error.lock().unwrap().as_deref(),
            Some(&b"{\"status\":\"401\"}"[..]),
            "the error challenge is kept for the message"
        );
        let mut p = Sasl::plain("u", "p");
        assert_eq!(p.process(b""), b"\0u\0p".to_vec());
    }

    #[test]
    fn gmail_xoauth2_error_challenge_reads_as_words() {
        // What Gmail sends (base64-decoded) after a token it does not accept.
        let m = xoauth2_error(
            br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
        );
        assert!(m.contains("status 400"), "{m}");
        assert!(m.contains("https://mail.google.com/"), "{m}");
        let m = xoauth2_error(br#"{"status":"401","schemes":"bearer"}"#);
        assert!(m.contains("expired or revoked"), "{m}");
        assert!(xoauth2_error(b"garbage").contains("garbage"));
    }
}
