//! The Gmail connector of one endpoint side (its HTTP client and tokens through the REST
//! layer, its journal, the users' quota) and the session it opens on one mailbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::quota::Quota;
use super::types::{Current, Label, MAX_IMPORT_BYTES, Meta};
use crate::config::{self, Credential, EndpointKind, Items};
use crate::endpoint::budget::ConnectionBudget;
use crate::endpoint::oauth::TokenProvider;
use crate::endpoint::rest::Rest;
use crate::endpoint::types::{Capabilities, EndpointError, Result};
use crate::journal::Journal;

/// The Gmail API's own URL (the default `api_url`).
const GMAIL_API: &str = "https://gmail.googleapis.com";
/// The Calendar API's (`/calendar/v3/...`).
const CALENDAR_API: &str = "https://www.googleapis.com/";
/// The People API's (`/v1/...`).
const PEOPLE_API: &str = "https://people.googleapis.com/";

/// Where the Calendar and People APIs are and their per-user quotas.
pub(super) struct ItemApis {
    /// The Calendar API's base URL (`https://www.googleapis.com`, or `api_url` when the file
    /// overrides it: one server then answers every API) and its per-user request quota.
    pub(super) cal_base: Url,
    pub(super) cal_quota: Quota,
    /// The People API's base URL (`https://people.googleapis.com`, or `api_url` when the file
    /// overrides it) and its per-user request quota.
    pub(super) people_base: Url,
    pub(super) people_quota: Quota,
}

#[derive(Clone)]
pub struct GmailConnector {
    pub(super) cfg: config::Endpoint,
    /// Token, 401, throttling and transport errors: the shared REST layer (and its client,
    /// which requests are built with).
    pub(super) rest: Rest,
    pub(super) store: Journal,
    pub(super) base: Url,
    pub(super) quota: Quota,
    /// What the project moves: calendars are reached when it asks for them.
    pub(super) items: Items,
    /// The Calendar and People APIs' URLs and quotas.
    pub(super) apis: Arc<ItemApis>,
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
    /// What the session knows of the mailbox's history (a source in a delta pass).
    pub(super) history: super::types::HistoryState,
    _permit: crate::endpoint::budget::Permit,
}

impl GmailConnector {
    pub fn new(cfg: &config::Endpoint, side: &'static str, store: &Journal) -> Result<Self> {
        Self::with_items(cfg, side, store, Items::default())
    }

    /// A connector that also reaches the users' calendars when `items` asks for them (the
    /// token then asks for the Calendar scopes too, unless `[oauth] scope` says otherwise).
    pub fn with_items(
        cfg: &config::Endpoint,
        side: &'static str,
        store: &Journal,
        items: Items,
    ) -> Result<Self> {
        let mut oauth = cfg.oauth.clone().ok_or_else(|| EndpointError::Protocol {
            op: format!("{side} endpoint"),
            message: "kind = \"gmail\" needs an [oauth] table".into(),
        })?;
        if oauth.scope.is_none() && items.any_dav() {
            let scopes = config::permissions::needed(
                EndpointKind::Gmail,
                side == "source",
                &items,
                config::GraphImport::default(),
            );
            oauth.scope = Some(scopes.join(" "));
        }
        let oauth = &oauth;
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
        let (cal_base, people_base) = if cfg.api_url == GMAIL_API {
            (
                Url::parse(CALENDAR_API).expect("a URL"),
                Url::parse(PEOPLE_API).expect("a URL"),
            )
        } else {
            (base.clone(), base.clone())
        };
        Ok(GmailConnector {
            cfg: cfg.clone(),
            rest,
            store: store.clone(),
            base,
            items,
            apis: Arc::new(ItemApis {
                cal_base,
                cal_quota: Quota::new(cfg.google_quota.calendar_requests_per_minute),
                people_base,
                people_quota: Quota::new(cfg.google_quota.people_requests_per_minute),
            }),
            quota: Quota::with_window(
                cfg.google_quota.gmail_units_per_minute,
                cfg.google_quota.gmail_quota_window,
            ),
            budget: ConnectionBudget::new(cfg.max_connections),
            side,
        })
    }

    /// What the project moves on this side.
    pub fn items(&self) -> Items {
        self.items
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
        let permit = self
            .budget
            .acquire_slot(&format!("gmail:{}", self.side))
            .await;
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
            history: Default::default(),
            _permit: permit,
        };
        if !self.items.mail {
            // Calendars only: the Gmail API is not called (its scopes may not be granted).
            return Ok(s);
        }
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
