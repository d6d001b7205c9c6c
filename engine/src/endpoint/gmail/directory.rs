//! The Workspace directory through the Admin SDK Directory API (for `cutover recipients` and
//! `cutover assess`): the service account acts for a Workspace administrator
//! (`[recipients] google_admin`) with the directory scopes; one JSON call through the REST
//! layer (token, 401 once, 429/503 with Retry-After), and paging with `nextPageToken`.

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::connector::GmailConnector;
use super::quota::GmailCall;
use super::wire::error_of;
use crate::config::{self, Items};
use crate::endpoint::bounded;
use crate::endpoint::rest::Call;
use crate::endpoint::types::{EndpointError, Result};
use crate::journal::Journal;

/// The scopes the directory calls need (domain-wide delegation must grant them).
pub const DIRECTORY_SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.directory.group";

/// The Admin SDK's own URL (`api_url` replaces it when the file overrides the Gmail API's).
const ADMIN_API: &str = "https://admin.googleapis.com/";

/// A connector on the directory: the side's service account with [`DIRECTORY_SCOPES`].
pub struct GoogleDirectory {
    c: GmailConnector,
    /// The side's Gmail connector with its own scopes (Gmail settings: delegates).
    mail: Box<GmailConnector>,
    base: Url,
    /// The administrator the service account acts for.
    admin: String,
}

impl GoogleDirectory {
    pub fn new(
        cfg: &config::Endpoint,
        side: &'static str,
        store: &Journal,
        admin: &str,
    ) -> Result<GoogleDirectory> {
        let mail = Box::new(GmailConnector::with_items(
            cfg,
            side,
            store,
            Items::default(),
        )?);
        let mut cfg = cfg.clone();
        if let Some(o) = cfg.oauth.as_mut() {
            o.scope = Some(DIRECTORY_SCOPES.into());
        }
        let c = GmailConnector::with_items(&cfg, side, store, Items::default())?;
        let base = if cfg.api_url.trim_end_matches('/') == "https://gmail.googleapis.com" {
            Url::parse(ADMIN_API).expect("a URL")
        } else {
            c.base.clone()
        };
        Ok(GoogleDirectory {
            c,
            mail,
            base,
            admin: admin.to_string(),
        })
    }

    /// `admin/directory/v1/<segments>` with `query`.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut u = self.base.clone();
        {
            let mut p = u.path_segments_mut().expect("http(s) base URL");
            p.pop_if_empty();
            p.extend(["admin", "directory", "v1"]);
            p.extend(segments);
        }
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    /// One call: the status and JSON answer when it succeeded or was a 404 (or a 409 for a
    /// create: already there), else the error naming the call.
    pub async fn call(
        &self,
        op: &str,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let url = self.url(segments, query);
        let ctx = format!("{op} (Google directory as {})", self.admin);
        let policy = GmailCall {
            quota: &self.c.quota,
            user: &self.admin,
            op,
            ctx: &ctx,
            units: 1,
            cap: bounded::JSON_CAP,
            // A create failed by a server error is resolved by looking, not sent again.
            no_resend: true,
        };
        let call = Call {
            account: &self.admin,
            op: &ctx,
            auth: true,
        };
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let (status, answer) = self
            .c
            .rest
            .send(&call, &policy, || {
                let mut req = self.c.rest.http().request(method.clone(), url.clone());
                if let Some(b) = &bytes {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone());
                }
                req
            })
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND || status == StatusCode::CONFLICT
        {
            let v = if answer.is_empty() || !status.is_success() {
                Value::Null
            } else {
                serde_json::from_slice(&answer).map_err(|e| EndpointError::Protocol {
                    op: ctx.clone(),
                    message: format!("unreadable answer from the Directory API: {e}"),
                })?
            };
            return Ok((status, v));
        }
        let (reason, message) = error_of(&answer);
        Err(
            if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
                EndpointError::Auth {
                    user: self.admin.clone(),
                    message: format!(
                        "{ctx}: {status} {reason}: {message} (the service account's domain-wide delegation must grant {DIRECTORY_SCOPES}, and [recipients] google_admin must be a Workspace administrator)"
                    ),
                }
            } else {
                EndpointError::Protocol {
                    op: ctx,
                    message: format!("unexpected answer {status} {reason}: {message}"),
                }
            },
        )
    }

    /// Every item under `field` of a paged list (`nextPageToken`); `None` on a 404.
    pub async fn all(
        &self,
        op: &str,
        segments: &[&str],
        query: &[(&str, &str)],
        field: &str,
    ) -> Result<Option<Vec<Value>>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let (status, v) = self.call(op, Method::GET, segments, &q, None).await?;
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if let Some(items) = v[field].as_array() {
                out.extend(items.iter().cloned());
            }
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(Some(out)),
            }
        }
    }
    /// The user's accepted Gmail delegates (`GET gmail/v1/users/{user}/settings/delegates`,
    /// the service account acting as that user with the side's Gmail scopes): `Ok(Err(why))`
    /// when Gmail refuses (no mailbox, delegation not granted), for a note.
    pub async fn delegates(&self, user: &str) -> Result<std::result::Result<Vec<String>, String>> {
        let mut url = self.mail.base.clone();
        {
            let mut p = url.path_segments_mut().expect("http(s) base URL");
            p.pop_if_empty();
            p.extend(["gmail", "v1", "users", user, "settings", "delegates"]);
        }
        let ctx = format!("list Gmail delegates of {user}");
        let policy = GmailCall {
            quota: &self.mail.quota,
            user,
            op: "list delegates",
            ctx: &ctx,
            units: 1,
            cap: bounded::JSON_CAP,
            no_resend: false,
        };
        let call = Call {
            account: user,
            op: &ctx,
            auth: true,
        };
        let sent = self
            .mail
            .rest
            .send(&call, &policy, || self.mail.rest.http().get(url.clone()))
            .await;
        let (status, answer) = match sent {
            Ok(a) => a,
            Err(e @ EndpointError::Auth { .. }) => return Ok(Err(e.to_string())),
            Err(e) => return Err(e),
        };
        if !status.is_success() {
            let (reason, message) = error_of(&answer);
            return Ok(Err(format!("{status} {reason}: {message}")));
        }
        let v: Value = serde_json::from_slice(&answer).map_err(|e| EndpointError::Protocol {
            op: ctx.clone(),
            message: format!("unreadable answer from the Gmail API: {e}"),
        })?;
        Ok(Ok(v["delegates"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|d| d["verificationStatus"].as_str() == Some("accepted"))
                    .filter_map(|d| d["delegateEmail"].as_str())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()))
    }
}
