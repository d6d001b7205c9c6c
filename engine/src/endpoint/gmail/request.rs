//! A session's calls: the API's URLs per user, one call through the REST layer within the
//! quota (its answer read within a cap), and the mapping of unexpected answers.

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use super::connector::GmailSession;
use super::quota::GmailCall;
use super::wire::error_of;
use crate::endpoint::bounded;
use crate::endpoint::rest::Call;
use crate::endpoint::types::{EndpointError, Result};

impl GmailSession {
    pub fn host(&self) -> &str {
        &self.c.cfg.host
    }

    pub(super) fn ctx(&self, op: &str) -> String {
        format!("{op} ({} mailbox {})", self.c.side, self.user)
    }

    /// `gmail/v1/users/{user}/<rest...>` (or under `upload/`) as a URL.
    pub(super) fn url(&self, upload: bool, rest: &[&str]) -> Url {
        let mut u = self.c.base.clone();
        {
            let mut p = u.path_segments_mut().expect("http(s) base URL");
            p.pop_if_empty();
            if upload {
                p.push("upload");
            }
            p.extend(["gmail", "v1", "users", &self.user]);
            p.extend(rest);
        }
        u
    }

    /// Send a request (rebuilt on each attempt) within the quota, with a fresh token once
    /// after a 401, waiting out throttling answers. Returns any other status with its body.
    pub(super) async fn call(
        &self,
        op: &str,
        units: u32,
        method: Method,
        url: Url,
        body: Option<(&str, &[u8])>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        self.call_capped(op, units, method, url, body, bounded::JSON_CAP)
            .await
    }

    /// [`Self::call`] with an answer of at most `cap` bytes (a raw message is larger than
    /// an API page).
    pub(super) async fn call_capped(
        &self,
        op: &str,
        units: u32,
        method: Method,
        url: Url,
        body: Option<(&str, &[u8])>,
        cap: usize,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let ctx = self.ctx(op);
        let policy = GmailCall {
            quota: &self.c.quota,
            user: &self.user,
            op,
            ctx: &ctx,
            units,
            cap,
            no_resend: units == super::types::units::MESSAGES_IMPORT,
        };
        let call = Call {
            account: &self.user,
            op: &ctx,
            auth: true,
        };
        self.c
            .rest
            .send(&call, &policy, || {
                let mut req = self.c.rest.http().request(method.clone(), url.clone());
                if let Some((ctype, bytes)) = body {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, ctype)
                        .body(bytes.to_vec());
                }
                req
            })
            .await
    }

    /// An unexpected status as an error naming the call and mailbox.
    pub(super) fn unexpected(&self, op: &str, status: StatusCode, body: &[u8]) -> EndpointError {
        let (reason, message) = error_of(body);
        if status == StatusCode::FORBIDDEN && reason.contains("insufficientPermissions")
            || message.contains("insufficient authentication scopes")
        {
            return EndpointError::No {
                op: self.ctx(op),
                message: format!(
                    "{status}: {message} (the token lacks a scope this call needs: {}; grant it in the domain-wide delegation and set [oauth] scope)",
                    if op.contains("delete") {
                        "https://mail.google.com/ for permanent deletion"
                    } else {
                        "the scopes are listed in docs/endpoints/gmail.md"
                    }
                ),
            };
        }
        if status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST {
            return EndpointError::No {
                op: self.ctx(op),
                message: format!("{status} {reason}: {message}"),
            };
        }
        EndpointError::Protocol {
            op: self.ctx(op),
            message: format!("unexpected answer {status} {reason}: {message}"),
        }
    }

    pub(super) fn parse<T: for<'de> Deserialize<'de>>(&self, op: &str, body: &[u8]) -> Result<T> {
        serde_json::from_slice(body).map_err(|e| EndpointError::Protocol {
            op: self.ctx(op),
            message: format!("unreadable answer from the Gmail API: {e}"),
        })
    }
}
