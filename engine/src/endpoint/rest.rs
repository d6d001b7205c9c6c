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
use super::types::{EndpointError, MAX_RETRY_AFTER, Result};

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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use secrecy::SecretString;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::{EndpointKind, OAuthFlow, OAuthProvider, OAuthSettings};

    /// A scripted answer: status and Retry-After.
    type Answer = (u16, Option<&'static str>);
    /// A request as the server saw it: method and Authorization.
    type Seen = (String, Option<String>);

    /// A scripted HTTP/1.1 server: `/token` issues "t1", "t2", ...; every other request gets
    /// the next scripted answer (status, Retry-After), else 200.
    #[derive(Clone, Default)]
    struct Fake {
        answers: Arc<Mutex<VecDeque<Answer>>>,
        /// (method, Authorization) of every API request, in order.
        seen: Arc<Mutex<Vec<Seen>>>,
        tokens: Arc<Mutex<u32>>,
    }

    impl Fake {
        async fn start(answers: &[Answer]) -> (Fake, String) {
            let fake = Fake::default();
            fake.answers.lock().unwrap().extend(answers.iter().copied());
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let f = fake.clone();
            tokio::spawn(async move {
                loop {
                    let (sock, _) = listener.accept().await.unwrap();
                    tokio::spawn(f.clone().answer(sock));
                }
            });
            (fake, base)
        }

        async fn answer(self, mut sock: tokio::net::TcpStream) {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = sock.read(&mut chunk).await.unwrap();
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break p + 4;
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            };
            let len: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
            while buf.len() < head_end + len {
                let n = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut first = head.split_whitespace();
            let method = first.next().unwrap_or("").to_string();
            let path = first.next().unwrap_or("").to_string();
            let (status, retry_after, body) = if path == "/token" {
                let mut n = self.tokens.lock().unwrap();
                *n += 1;
                let token = format!(r#"{{"access_token":"t{n}","expires_in":3600}}"#);
                (200, None, token)
            } else {
                self.seen
                    .lock()
                    .unwrap()
                    .push((method, header("authorization")));
                let (status, retry_after) = self
                    .answers
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((200, None));
                (status, retry_after, format!("answer {status}"))
            };
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if let Some(r) = retry_after {
                out.push_str(&format!("Retry-After: {r}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            sock.write_all(out.as_bytes()).await.unwrap();
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        fn tokens(&self) -> u32 {
            *self.tokens.lock().unwrap()
        }
    }

    fn rest(base: &str) -> Rest {
        let http = reqwest::Client::new();
        let settings = OAuthSettings {
            provider: OAuthProvider::Entra,
            flow: OAuthFlow::ClientCredentials,
            tenant: None,
            client_id: Some("app".into()),
            client_secret: Some(SecretString::from("secret")),
            certificate_file: None,
            private_key_file: None,
            service_account_file: None,
            scope: Some("api".into()),
            token_url: Some(format!("{base}/token")),
            device_code_url: None,
        };
        let tokens = TokenProvider::new(
            &settings,
            EndpointKind::Graph,
            "h",
            "destination",
            http.clone(),
        )
        .unwrap();
        Rest::new(http, tokens, "h", base.to_string(), Duration::from_secs(5))
    }

    /// 429 and 503 are throttles, a 500 to a POST is in doubt; the rest is handed back.
    #[derive(Default)]
    struct Rules {
        max_retries: u32,
        /// (status, wait) of every throttle noted.
        noted: Mutex<Vec<(u16, Duration)>>,
    }

    impl Policy for Rules {
        type Slot = ();
        type Out = (StatusCode, String);

        async fn admit(&self) {}

        async fn refusal(&self, resp: Response) -> Result<ErrorText> {
            Ok(ErrorText {
                code: "401".into(),
                message: resp.text().await.unwrap_or_default(),
            })
        }

        fn refused_twice(&self, t: &ErrorText) -> EndpointError {
            EndpointError::Auth {
                user: "u".into(),
                message: t.message.clone(),
            }
        }

        async fn judge(
            &self,
            method: &Method,
            status: StatusCode,
            resp: Response,
            _: (),
        ) -> Result<Judged<(StatusCode, String)>> {
            Ok(match status.as_u16() {
                429 | 503 => Judged::Throttled(ErrorText::default()),
                500 if *method == Method::POST => Judged::Failed(EndpointError::ConnectionLost {
                    op: "in doubt".into(),
                }),
                _ => Judged::Done((status, resp.text().await.unwrap())),
            })
        }

        fn backoff(&self, attempt: u32) -> Duration {
            Duration::from_millis(attempt as u64)
        }

        fn max_retries(&self) -> u32 {
            self.max_retries
        }

        fn throttled(&self, status: StatusCode, _: &ErrorText, wait: Duration, _: u32) {
            self.noted.lock().unwrap().push((status.as_u16(), wait));
        }

        fn gave_up(&self, status: StatusCode, _: &ErrorText, wait: Duration) -> EndpointError {
            EndpointError::Throttled {
                op: "x".into(),
                message: status.to_string(),
                wait: Some(wait),
            }
        }
    }

    const CALL: Call<'static> = Call {
        account: "a@b",
        op: "op",
        auth: true,
    };

    fn auth(n: u32) -> Option<String> {
        Some(format!("Bearer t{n}"))
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_once_and_the_request_sent_once_more() {
        let (fake, base) = Fake::start(&[(401, None)]).await;
        let r = rest(&base);
        let rules = Rules::default();
        let (status, body) = r
            .send(&CALL, &rules, || r.http().get(format!("{base}/api")))
            .await
            .unwrap();
        assert_eq!((status.as_u16(), body.as_str()), (200, "answer 200"));
        let get = |n| ("GET".to_string(), auth(n));
        assert_eq!(
            fake.seen(),
            [get(1), get(2)],
            "the retry carries a fresh token"
        );
        assert_eq!(fake.tokens(), 2);

        // Refused twice: an authentication error, after one fresh token.
        let (fake, base) = Fake::start(&[(401, None), (401, None), (200, None)]).await;
        let r = rest(&base);
        let e = r
            .send(&CALL, &rules, || r.http().get(format!("{base}/api")))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, EndpointError::Auth { message, .. } if message == "answer 401"),
            "{e:?}"
        );
        assert_eq!(fake.seen().len(), 2);
        assert_eq!(fake.tokens(), 2);

        // A URL with its own credential: no token, and its 401 is the endpoint's to judge.
        let (fake, base) = Fake::start(&[(401, None)]).await;
        let r = rest(&base);
        let call = Call {
            auth: false,
            ..CALL
        };
        let (status, _) = r
            .send(&call, &rules, || r.http().put(format!("{base}/upload")))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(fake.seen(), [("PUT".to_string(), None)]);
        assert_eq!(fake.tokens(), 0);
    }

    #[tokio::test]
    async fn throttles_wait_as_retry_after_says_in_seconds_or_as_a_date_else_back_off() {
        let (fake, base) = Fake::start(&[
            (429, Some("0")),
            (503, Some("Fri, 31 Dec 1999 23:59:59 GMT")),
            (429, None),
            (429, Some("soon")),
        ])
        .await;
        let r = rest(&base);
        let rules = Rules {
            max_retries: 4,
            ..Rules::default()
        };
        let (status, _) = r
            .send(&CALL, &rules, || r.http().get(format!("{base}/api")))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fake.seen().len(), 5);
        let ms = Duration::from_millis;
        assert_eq!(
            *rules.noted.lock().unwrap(),
            [
                (429, Duration::ZERO),
                // A date already past: no wait.
                (503, Duration::ZERO),
                // No Retry-After, or one that is neither form: the endpoint's backoff.
                (429, ms(3)),
                (429, ms(4)),
            ]
        );
    }

    #[tokio::test]
    async fn throttles_are_given_up_after_the_retries_or_for_a_wait_past_the_cap() {
        let (fake, base) = Fake::start(&[(429, Some("0")); 10]).await;
        let r = rest(&base);
        let rules = Rules {
            max_retries: 3,
            ..Rules::default()
        };
        let e = r
            .send(&CALL, &rules, || r.http().get(format!("{base}/api")))
            .await
            .unwrap_err();
        assert!(matches!(e, EndpointError::Throttled { .. }), "{e:?}");
        assert_eq!(fake.seen().len(), 4, "one try and three retries");

        let (fake, base) = Fake::start(&[(503, Some("86400"))]).await;
        let r = rest(&base);
        let e = r
            .send(&CALL, &rules, || r.http().get(format!("{base}/api")))
            .await
            .unwrap_err();
        assert!(
            matches!(e, EndpointError::Throttled { wait: Some(w), .. } if w == Duration::from_secs(86_400)),
            "{e:?}"
        );
        assert_eq!(fake.seen().len(), 1, "not waited a day");
    }

    #[tokio::test]
    async fn a_request_failed_after_it_was_sent_is_not_sent_again() {
        let (fake, base) = Fake::start(&[(500, None)]).await;
        let r = rest(&base);
        let e = r
            .send(&CALL, &Rules::default(), || {
                r.http().post(format!("{base}/api")).body("x")
            })
            .await
            .unwrap_err();
        assert!(matches!(e, EndpointError::ConnectionLost { .. }), "{e:?}");
        assert_eq!(fake.seen().len(), 1);
    }

    #[tokio::test]
    async fn transport_errors_name_the_address_and_never_the_url_unless_allowed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let r = rest(&base);
        let e = r
            .send(&CALL, &Rules::default(), || {
                r.http().get(format!("{base}/secret-upload-url"))
            })
            .await
            .unwrap_err();
        // The token request fails first (same refused address): the token provider's error.
        assert!(matches!(e, EndpointError::Connect { .. }), "{e:?}");
        let call = Call {
            auth: false,
            ..CALL
        };
        let e = r
            .send(&call, &Rules::default(), || {
                r.http().get(format!("{base}/secret-upload-url"))
            })
            .await
            .unwrap_err();
        match &e {
            EndpointError::Connect { addr, .. } => assert_eq!(addr, &base),
            other => panic!("{other:?}"),
        }
        assert!(!e.to_string().contains("secret-upload-url"), "{e}");
        let e = r
            .clone()
            .with_urls_in_errors()
            .send(&call, &Rules::default(), || {
                r.http().get(format!("{base}/secret-upload-url"))
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("secret-upload-url"), "{e}");
    }
}
