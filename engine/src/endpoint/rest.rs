//! The one HTTP client layer of the REST endpoints (Microsoft Graph, the Gmail API). Every
//! API request goes through [`Rest::send`], which
//!
//! - waits first for what the endpoint keeps on its own side ([`Policy::admit`]: Graph's
//!   per-mailbox windows and request slots, Gmail's per-user quota);
//! - sends the account's bearer token from the endpoint's [`TokenProvider`] (except to a
//!   URL that carries its own credential, such as a Graph upload session);
//! - on a 401, forgets the token, fetches a fresh one and sends the request once more; a
//!   second 401 is an authentication error ([`Policy::refused_twice`]);
//! - on an answer the endpoint calls throttling ([`Policy::judge`]: 429, 503 and what else
//!   the service uses for it), waits as its `Retry-After` asks, in delta-seconds or as an
//!   HTTP-date ([`super::retry_after`]), else backs off on its own ([`Policy::backoff`]),
//!   and sends again, up to [`Policy::max_retries`] times and never for a wait over
//!   [`MAX_RETRY_AFTER`] ([`Policy::gave_up`]);
//! - never sends again a request that creates something when the service failed it after it
//!   was sent: the judge fails it, and the engine resolves it as in doubt (by fingerprint);
//! - maps transport failures alike ([`Rest::transport_error`]): an untrusted certificate as
//!   TLS (not retried), a timeout, a refused connection, a lost one.
//!
//! Bodies are read with the bounds of [`super::bounded`]: by the judge where it needs them to
//! decide, else by the endpoint, with the cap of what it asked for.
//!
//! The OAuth2 token and device-code endpoints do not go through it: they are where its
//! tokens come from (no bearer token, no retry), see [`super::oauth`].

use std::future::Future;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::ExposeSecret;

use super::oauth::TokenProvider;
use super::retry_after::retry_after;
use super::{EndpointError, MAX_RETRY_AFTER, Result};

/// A service's error as its error body says it: a code (Graph's `error.code`, Google's
/// `reason`) and a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorText {
    pub code: String,
    pub message: String,
}

/// What an endpoint makes of an answer (other than a 401 to a request with a token).
pub enum Judged<T> {
    /// The answer to hand back: a success, or a failure the caller maps.
    Done(T),
    /// Throttled, or a transient server error: waited out and sent again.
    Throttled(ErrorText),
    /// Failed, and not to be sent again (a request that creates something, failed by the
    /// service after it was sent: whether it was stored is unknown).
    Failed(EndpointError),
}

/// The rules of one REST API for one request: its limits, how it says "throttled", how long
/// it is waited out, and the words of its errors.
pub trait Policy: Sync {
    /// Held from admission until the answer is judged (Graph: the mailbox's request slot).
    type Slot: Send;
    /// What a judged answer becomes for the caller.
    type Out: Send;

    /// Wait until the endpoint's own limits let this request through, and count it.
    fn admit(&self) -> impl Future<Output = Self::Slot> + Send;

    /// The error text of a 401 (the body read within the endpoint's bounds).
    fn refusal(&self, resp: Response) -> impl Future<Output = Result<ErrorText>> + Send;

    /// The error when a fresh token was refused too.
    fn refused_twice(&self, text: &ErrorText) -> EndpointError;

    /// Decide on an answer (the request was sent with `method`).
    fn judge(
        &self,
        method: &Method,
        status: StatusCode,
        resp: Response,
        slot: Self::Slot,
    ) -> impl Future<Output = Result<Judged<Self::Out>>> + Send;

    /// The wait before retry `attempt` (from 1) when the service did not say how long.
    fn backoff(&self, attempt: u32) -> Duration;

    /// Throttling answers waited out in a row before giving up.
    fn max_retries(&self) -> u32;

    /// A throttling answer came (retry `attempt`, to wait `wait`): note it (logs, the
    /// console's throttle state), whether it is waited out or not.
    fn throttled(&self, status: StatusCode, text: &ErrorText, wait: Duration, attempt: u32);

    /// The error when a throttle is not waited out (too many in a row, or a wait longer than
    /// [`MAX_RETRY_AFTER`]).
    fn gave_up(&self, status: StatusCode, text: &ErrorText, wait: Duration) -> EndpointError;
}

/// One request as the layer needs to know it.
pub struct Call<'a> {
    /// The mailbox the token is for.
    pub account: &'a str,
    /// The operation, as transport errors name it.
    pub op: &'a str,
    /// Send the bearer token (false for a URL that carries its own credential).
    pub auth: bool,
}

/// The HTTP client and token source of one REST endpoint side.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    tokens: TokenProvider,
    /// Named by TLS errors.
    host: String,
    /// Named by connection errors.
    addr: String,
    /// The timeout a timeout error names.
    timeout_secs: u64,
    /// Whether transport errors may show the request's URL: never by default (a Graph upload
    /// URL carries its own credential).
    urls_in_errors: bool,
}

impl Rest {
    pub fn new(
        http: reqwest::Client,
        tokens: TokenProvider,
        host: &str,
        addr: String,
        timeout: Duration,
    ) -> Rest {
        Rest {
            http,
            tokens,
            host: host.to_string(),
            addr,
            timeout_secs: timeout.as_secs(),
            urls_in_errors: false,
        }
    }

    /// Let transport errors show the request's URL (for an API whose URLs carry no
    /// credential, where the URL names the call).
    pub fn with_urls_in_errors(mut self) -> Rest {
        self.urls_in_errors = true;
        self
    }

    /// The client requests are built with.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Send the request `build` makes (made again for each attempt) under `policy`: the
    /// judged answer, or the error of a transport failure, a token refused twice, a throttle
    /// not waited out, or a request that must not be sent again.
    pub async fn send<P, F>(&self, call: &Call<'_>, policy: &P, build: F) -> Result<P::Out>
    where
        P: Policy,
        F: Fn() -> RequestBuilder,
    {
        let mut refused = false;
        let mut throttled = 0u32;
        loop {
            let slot = policy.admit().await;
            let mut req = build();
            if call.auth {
                let token = self.tokens.token(call.account).await?;
                req = req.bearer_auth(token.expose_secret());
            }
            let request = req.build().map_err(|e| self.transport_error(call.op, e))?;
            let method = request.method().clone();
            let resp = self
                .http
                .execute(request)
                .await
                .map_err(|e| self.transport_error(call.op, e))?;
            let status = resp.status();
            let asked = retry_after(resp.headers());
            if call.auth && status == StatusCode::UNAUTHORIZED {
                let text = policy.refusal(resp).await?;
                drop(slot);
                // Revoked, or expired early: the next token is a fresh one.
                self.tokens.invalidate(call.account).await;
                if refused {
                    return Err(policy.refused_twice(&text));
                }
                refused = true;
                continue;
            }
            let text = match policy.judge(&method, status, resp, slot).await? {
                Judged::Done(out) => return Ok(out),
                Judged::Failed(e) => return Err(e),
                Judged::Throttled(text) => text,
            };
            throttled += 1;
            let wait = asked.unwrap_or_else(|| policy.backoff(throttled));
            policy.throttled(status, &text, wait, throttled);
            if throttled > policy.max_retries() || wait > MAX_RETRY_AFTER {
                return Err(policy.gave_up(status, &text, wait));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// A failed request or body read as the endpoint error it is: an untrusted certificate
    /// (TLS, not retried), a timeout, a connection that could not be made, else a lost one.
    pub fn transport_error(&self, op: &str, e: reqwest::Error) -> EndpointError {
        let e = if self.urls_in_errors {
            e
        } else {
            e.without_url()
        };
        if let Some(tls) = super::http::tls_failure(&self.host, &e) {
            tls
        } else if e.is_timeout() {
            EndpointError::Timeout {
                op: op.to_string(),
                secs: self.timeout_secs,
            }
        } else if e.is_connect() {
            EndpointError::Connect {
                addr: self.addr.clone(),
                source: std::io::Error::other(e),
            }
        } else {
            EndpointError::ConnectionLost {
                op: format!("{op}: {e}"),
            }
        }
    }
}
