//! A session's JSON requests: its URLs (v1.0 and beta, per mailbox), one call with Graph's
//! request size limit and error mapping, and paging through a collection.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::connector::GraphSession;
use super::wire::{enc, failure};
use crate::endpoint::bounded;
use crate::endpoint::types::{EndpointError, Result};

impl GraphSession {
    pub fn host(&self) -> &str {
        &self.c.cfg.host
    }

    pub(super) fn url(&self, rest: &str) -> String {
        format!("{}/v1.0/users/{}{rest}", self.c.base, enc(&self.upn))
    }

    pub(super) fn beta(&self, rest: &str) -> String {
        format!("{}/beta/users/{}{rest}", self.c.base, enc(&self.upn))
    }

    pub(super) fn store_err(&self, source: crate::journal::JournalError) -> EndpointError {
        EndpointError::Journal {
            op: format!("journal for {}", self.upn),
            source,
        }
    }

    /// A JSON request; the reply when it succeeded, else the mapped error.
    pub(super) async fn call(
        &self,
        op: &str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let len = bytes.as_ref().map_or(0, |b| b.len() as u64);
        if len > self.c.limits.max_request {
            return Err(EndpointError::No {
                op: op.into(),
                message: format!("request of {len} bytes is over Graph's 4 MB limit"),
            });
        }
        let r = self
            .c
            .send(&self.upn, op, len, true, || {
                let mut rb = self.c.http.request(method.clone(), url);
                if let Some(b) = &bytes {
                    rb = rb
                        .header("Content-Type", "application/json")
                        .body(b.clone());
                }
                rb
            })
            .await?;
        let status = r.status;
        let body = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.c.http_err(op, e)))?;
        if !status.is_success() {
            return Err(failure(&self.upn, op, status, &body));
        }
        let v = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| EndpointError::Protocol {
                op: op.into(),
                message: format!("unreadable JSON from Graph for {}: {e}", self.upn),
            })?
        };
        Ok((status, v))
    }

    pub(super) async fn get_json(&self, op: &str, url: &str) -> Result<Value> {
        self.call(op, Method::GET, url, None).await.map(|r| r.1)
    }

    /// Every page of a collection.
    pub(super) async fn get_all(&self, op: &str, url: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(url.to_string());
        while let Some(u) = next.take() {
            let v = self.get_json(op, &u).await?;
            if let Some(items) = v["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            next = v["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(out)
    }
}
