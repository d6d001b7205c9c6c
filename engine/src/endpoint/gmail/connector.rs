//! The Gmail connector of one endpoint side (its HTTP client and tokens through the REST
//! layer, its journal, the users' quota) and the session it opens on one mailbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use tokio::sync::OwnedSemaphorePermit;

use super::quota::Quota;
use super::types::{Current, Label, MAX_IMPORT_BYTES, Meta};
use crate::config::{self, Credential, EndpointKind};
use crate::endpoint::budget::ConnectionBudget;
use crate::endpoint::oauth::TokenProvider;
use crate::endpoint::rest::Rest;
use crate::endpoint::types::{Capabilities, EndpointError, Result};
use crate::journal::Journal;

#[derive(Clone)]
pub struct GmailConnector {
    pub(super) cfg: config::Endpoint,
    /// Token, 401, throttling and transport errors: the shared REST layer (and its client,
    /// which requests are built with).
    pub(super) rest: Rest,
    pub(super) store: Journal,
    pub(super) base: Url,
    pub(super) quota: Quota,
    budget: ConnectionBudget,
    pub side: &'static str,
}

pub struct GmailSession {
    pub(super) c: Arc<GmailConnector>,
    pub(super) user: String,
    pub(super) caps: Capabilities,
    pub(super) labels: Vec<Label>,
    pub(super) current: Option<Current>,
    pub(super) meta: HashMap<String, Meta>,
    pub(super) no_keywords: Vec<String>,
    _permit: OwnedSemaphorePermit,
}

impl GmailConnector {
    pub fn new(cfg: &config::Endpoint, side: &'static str, store: &Journal) -> Result<Self> {
        let oauth = cfg.oauth.as_ref().ok_or_else(|| EndpointError::Protocol {
            op: format!("{side} endpoint"),
            message: "kind = \"gmail\" needs an [oauth] table".into(),
        })?;
        let http =
            crate::endpoint::http::client(cfg, side, cfg.timeout.max(Duration::from_secs(30)))?;
        let tokens = TokenProvider::new(oauth, EndpointKind::Gmail, &cfg.host, side, http.clone())?;
        let base = Url::parse(&format!("{}/", cfg.api_url.trim_end_matches('/'))).map_err(|e| {
            EndpointError::Protocol {
                op: format!("{side} endpoint"),
                message: format!("api_url {:?} is not a URL: {e}", cfg.api_url),
            }
        })?;
        // Gmail's URLs carry no credential: a transport error names the call's URL.
        let rest =
            Rest::new(http, tokens, &cfg.host, base.to_string(), cfg.timeout).with_urls_in_errors();
        Ok(GmailConnector {
            cfg: cfg.clone(),
            rest,
            store: store.clone(),
            base,
            quota: Quota::default(),
            budget: ConnectionBudget::new(cfg.max_connections),
            side,
        })
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }

    /// A session on `cred.user`'s mailbox (the label list is read to check access).
    pub async fn connect(&self, cred: &Credential) -> Result<GmailSession> {
        let permit = self.budget.acquire().await;
        let limit = self
            .cfg
            .max_message_size
            .map_or(MAX_IMPORT_BYTES, |m| m.min(MAX_IMPORT_BYTES));
        let mut s = GmailSession {
            c: Arc::new(self.clone()),
            user: cred.user.clone(),
            caps: Capabilities {
                append_limit: Some(limit),
                inexact_sizes: true,
                raw: vec!["GMAIL-API".into()],
                ..Capabilities::default()
            },
            labels: Vec::new(),
            current: None,
            meta: HashMap::new(),
            no_keywords: Vec::new(),
            _permit: permit,
        };
        s.load_labels().await.map_err(|e| match e {
            EndpointError::No { message, .. } | EndpointError::NoFolder { folder: message, .. } => {
                EndpointError::Auth {
                    user: cred.user.clone(),
                    message: format!(
                        "the Gmail API refused access to this mailbox: {message} (is the user in the Workspace domain, and the service account's domain-wide delegation granted the scopes?)"
                    ),
                }
            }
            e => e,
        })?;
        Ok(s)
    }
}
