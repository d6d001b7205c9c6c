//! The tenant's directory through Graph (for `cutover recipients` and `cutover assess`): one
//! JSON call on `/v1.0{path}` as the app (not as a mailbox), within the same REST layer
//! (token, 401 once, 429/503 with Retry-After), and paging with `@odata.nextLink`.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::connector::GraphConnector;
use super::wire::failure;
use crate::endpoint::bounded;
use crate::endpoint::types::{EndpointError, Result};

/// The account the directory's calls are counted and throttled under.
const DIRECTORY: &str = "directory";

impl GraphConnector {
    /// One directory call on `/v1.0{path}`: the status and the JSON answer when it succeeded
    /// or was a 404 (the caller decides what "not there" means), else the mapped error.
    pub async fn directory_call(
        &self,
        op: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/v1.0{path}", self.base)
        };
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let r = self
            .send(DIRECTORY, op, 0, true, || {
                let mut rb = self.http.request(method.clone(), &url);
                if let Some(b) = &bytes {
                    rb = rb
                        .header("Content-Type", "application/json")
                        .body(b.clone());
                }
                rb
            })
            .await?;
        let status = r.status;
        let body = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph directory answer")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.http_err(op, e)))?;
        if status == StatusCode::FORBIDDEN {
            return Err(EndpointError::Auth {
                user: format!("{} Graph app", self.side),
                message: format!(
                    "{op}: access denied by the directory; the app needs User.Read.All, Group.ReadWrite.All (Group.Read.All to read only), MailboxSettings.Read and Calendars.ReadWrite with admin consent"
                ),
            });
        }
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            return Err(failure("(directory)", op, status, &body));
        }
        let v = if body.is_empty() || !status.is_success() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| EndpointError::Protocol {
                op: op.into(),
                message: format!("unreadable JSON from the Graph directory: {e}"),
            })?
        };
        Ok((status, v))
    }

    /// Every item of a directory collection (`value`, following `@odata.nextLink`); `None`
    /// when the collection is not there (404).
    pub async fn directory_all(&self, op: &str, path: &str) -> Result<Option<Vec<Value>>> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(u) = next.take() {
            let (status, v) = self.directory_call(op, Method::GET, &u, None).await?;
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if let Some(items) = v["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            next = v["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(Some(out))
    }
}
