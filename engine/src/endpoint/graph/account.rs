//! Is a destination user ready to receive mail? (`cutover access`): the directory's user (exists,
//! enabled, licences) and whether Exchange has a mailbox for it, read without writing anything.
//!
//! - `GET /users/{upn}?$select=id,accountEnabled,assignedLicenses,userPrincipalName`: 404
//!   (`Request_ResourceNotFound`, or `ErrorInvalidUser` on mailbox routes) means no such user.
//!   Needs `User.Read.All` for app-only tokens; a 403 there is said as such and the mailbox
//!   check still runs.
//! - `GET /users/{upn}/mailboxSettings`: 404 `MailboxNotEnabledForRESTAPI` (or
//!   `ResourceNotFound` naming the mailbox) means the user has no Exchange Online mailbox yet
//!   (unlicensed, or provisioning not finished); its `userPurpose` tells a shared or resource
//!   mailbox.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::connector::GraphConnector;
use super::wire::{enc, error_text};
use crate::endpoint::bounded;
use crate::endpoint::types::{EndpointError, Result};

/// What the directory and Exchange say of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphAccount {
    /// The directory knows the user (None: the app may not read users).
    pub exists: Option<bool>,
    pub enabled: Option<bool>,
    /// Licences assigned (None when unreadable).
    pub licences: Option<usize>,
    /// Exchange has a mailbox for the user.
    pub mailbox: bool,
    /// `mailboxSettings.userPurpose` (user, shared, room, equipment, ...).
    pub purpose: Option<String>,
    /// Why the mailbox is missing or unreadable, in the service's words.
    pub reason: Option<String>,
}

impl GraphConnector {
    /// One GET for mailbox `upn`: (status, error code, JSON) with 2xx and 4xx answered, not
    /// mapped to errors; throttling and token refusal are handled as in every call.
    async fn probe(&self, upn: &str, op: &str, url: &str) -> Result<(StatusCode, String, Value)> {
        let r = self
            .send(upn, op, 0, true, || self.http.request(Method::GET, url))
            .await?;
        let status = r.status;
        let body = bounded::http_body(r.resp, bounded::JSON_CAP, "a Graph API answer")
            .await
            .map_err(|e| e.into_endpoint(op, |e| self.http_err(op, e)))?;
        if status.is_server_error() {
            let (code, message) = error_text(&body);
            return Err(EndpointError::No {
                op: op.into(),
                message: format!("HTTP {} {code}: {message} (mailbox {upn})", status.as_u16()),
            });
        }
        let (code, message) = error_text(&body);
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let code = if code.is_empty() { message } else { code };
        Ok((status, code, v))
    }

    /// The directory's user and its mailbox (see the module notes).
    pub async fn account(&self, upn: &str) -> Result<GraphAccount> {
        let mut a = GraphAccount::default();
        let user = format!(
            "{}/v1.0/users/{}?$select=id,accountEnabled,assignedLicenses,userPrincipalName",
            self.base,
            enc(upn)
        );
        let (status, code, v) = self.probe(upn, "read user", &user).await?;
        match status.as_u16() {
            200..=299 => {
                a.exists = Some(true);
                a.enabled = v["accountEnabled"].as_bool();
                a.licences = v["assignedLicenses"].as_array().map(Vec::len);
            }
            404 => {
                a.exists = Some(false);
                a.reason = Some(format!("no such user in the directory ({code})"));
                return Ok(a);
            }
            // No User.Read.All: the mailbox check alone decides.
            _ => {}
        }
        let settings = format!("{}/v1.0/users/{}/mailboxSettings", self.base, enc(upn));
        let (status, code, v) = self.probe(upn, "read mailbox settings", &settings).await?;
        match status.as_u16() {
            200..=299 => {
                a.mailbox = true;
                a.purpose = v["userPurpose"].as_str().map(str::to_string);
            }
            404 if code == "ErrorInvalidUser" || a.exists == Some(false) => {
                a.exists = Some(false);
                a.reason = Some(format!("no such user ({code})"));
            }
            404 => {
                a.reason = Some(format!(
                    "the user has no Exchange Online mailbox ({code}): assign a licence with Exchange Online, or wait for provisioning to finish"
                ));
            }
            // Without MailboxSettings.Read the settings are not readable: not a verdict on the
            // mailbox, which opening it (as a run does) decides.
            403 => {
                a.mailbox = true;
            }
            s => {
                a.reason = Some(format!("HTTP {s} {code} reading the mailbox"));
            }
        }
        Ok(a)
    }
}
