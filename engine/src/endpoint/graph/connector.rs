//! The Graph connector of one endpoint side (its HTTP client and tokens through the REST
//! layer, its journal, its per-mailbox limiters) and the session it opens on one mailbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use tokio::sync::Semaphore;

use super::throttle::{GraphCall, Limits, MailboxLimiter, Reply, Window};
use super::types::{CalSel, ContactSel, Selected, Xport};
use crate::config::{self, Credential, EndpointKind, Items};
use crate::endpoint::budget::ConnectionBudget;
use crate::endpoint::oauth::TokenProvider;
use crate::endpoint::rest::{Call, Rest};
use crate::endpoint::types::{Capabilities, EndpointError, Folder, Result};
use crate::journal::Journal;

#[derive(Clone)]
pub struct GraphConnector {
    pub(super) cfg: config::Endpoint,
    pub side: &'static str,
    /// The client requests are built with (the REST layer's).
    pub(super) http: reqwest::Client,
    /// Token, 401, throttling and transport errors: the shared REST layer.
    pub(super) rest: Rest,
    pub(super) store: Journal,
    pub(super) base: String,
    pub(super) limits: Limits,
    /// What the project moves: contact folders are listed when it asks for contacts.
    pub(super) items: Items,
    mailboxes: Arc<Mutex<HashMap<String, Arc<MailboxLimiter>>>>,
    sessions: ConnectionBudget,
}

pub struct GraphSession {
    pub(super) c: Arc<GraphConnector>,
    _permit: crate::endpoint::budget::Permit,
    pub(super) upn: String,
    pub(super) caps: Capabilities,
    /// (folder, Graph id), as last listed.
    pub(super) folders: Option<Vec<(Folder, String)>>,
    pub(super) selected: Option<Selected>,
    /// The address book opened (exclusive with `selected`).
    pub(super) contacts: Option<ContactSel>,
    /// The calendar opened (exclusive with `selected` and `contacts`).
    pub(super) calendar: Option<CalSel>,
    /// The export-import path's state (`graph_import = "export-import"`).
    pub(super) xport: Xport,
    /// What a delta pass should say once (a delta token Graph rejected).
    pub(super) notice: Option<String>,
}

impl GraphConnector {
    pub fn new(
        cfg: &config::Endpoint,
        items: Items,
        side: &'static str,
        store: &Journal,
    ) -> Result<Self> {
        let Some(oauth) = &cfg.oauth else {
            return Err(EndpointError::Auth {
                user: format!("{side} Graph endpoint"),
                message: "kind = \"graph\" needs an [oauth] table".into(),
            });
        };
        let http = crate::endpoint::http::client(cfg, side, cfg.timeout)?;
        let tokens = TokenProvider::new(oauth, EndpointKind::Graph, &cfg.host, side, http.clone())?;
        let base = cfg.api_url.trim_end_matches('/').to_string();
        // Never a URL in an error: an attachment upload URL carries its own credential.
        let rest = Rest::new(http.clone(), tokens, &cfg.host, base.clone(), cfg.timeout);
        Ok(GraphConnector {
            cfg: cfg.clone(),
            side,
            http,
            rest,
            store: store.clone(),
            base,
            limits: Limits::new(&cfg.graph_limits),
            items,
            mailboxes: Arc::new(Mutex::new(HashMap::new())),
            sessions: ConnectionBudget::new(cfg.max_connections),
        })
    }

    pub fn config(&self) -> &config::Endpoint {
        &self.cfg
    }

    pub fn max_connections(&self) -> usize {
        self.cfg.max_connections
    }

    pub fn in_use(&self) -> usize {
        self.sessions.in_use()
    }

    /// Mailboxes held back in the last minute (a 429/503/504 from the service, or a local
    /// limit), with why: "upn: reason".
    pub fn throttled_accounts(&self) -> Vec<String> {
        let now = Instant::now();
        let map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = map
            .iter()
            .filter_map(|(upn, l)| {
                let w = l.window.lock().unwrap_or_else(|e| e.into_inner());
                let (t, why) = w.last_throttle.as_ref()?;
                (now.duration_since(*t) < Duration::from_secs(60)).then(|| format!("{upn}: {why}"))
            })
            .collect();
        out.sort();
        out
    }

    fn limiter(&self, upn: &str) -> Arc<MailboxLimiter> {
        let mut map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(upn.to_ascii_lowercase())
            .or_insert_with(|| {
                Arc::new(MailboxLimiter {
                    permits: Arc::new(Semaphore::new(self.limits.service.concurrent)),
                    window: Mutex::new(Window::default()),
                })
            })
            .clone()
    }

    /// A session for one mailbox (its user principal name). Checks that the app can read it.
    pub async fn connect(&self, cred: &Credential) -> Result<GraphSession> {
        let permit = self
            .sessions
            .acquire_slot(&format!("graph:{}", self.side))
            .await;
        let s = GraphSession {
            c: Arc::new(self.clone()),
            _permit: permit,
            upn: cred.user.clone(),
            caps: Capabilities {
                append_limit: self.cfg.max_message_size,
                attachment_limit: Some(super::types::ATTACH_MAX as u64),
                // PR_MESSAGE_SIZE is Exchange's storage size, not the MIME's length.
                inexact_sizes: true,
                // The 0x… fingerprint property cutover sets on each import.
                stamped_fingerprints: true,
                raw: vec!["GRAPH".into()],
                ..Capabilities::default()
            },
            folders: None,
            selected: None,
            contacts: None,
            calendar: None,
            xport: Xport::default(),
            notice: None,
        };
        s.get_json("open mailbox", &s.url("/mailFolders/inbox?$select=id"))
            .await
            .map_err(|e| match e {
                EndpointError::No { message, .. } => EndpointError::Auth {
                    user: cred.user.clone(),
                    message: format!("the mailbox cannot be opened through Graph: {message}"),
                },
                e => e,
            })?;
        Ok(s)
    }

    /// Send one request for mailbox `upn` through the REST layer, within the mailbox's
    /// limits, retrying throttled answers as the service asks and a refused token once.
    /// `upload` is the bytes the request carries (for the upload window); `auth` false for
    /// upload-session URLs. Every request asks for immutable ids.
    pub(super) async fn send<F>(
        &self,
        upn: &str,
        op: &str,
        upload: u64,
        auth: bool,
        mk: F,
    ) -> Result<Reply>
    where
        F: Fn() -> RequestBuilder,
    {
        let policy = GraphCall {
            limiter: self.limiter(upn),
            limits: &self.limits,
            side: self.side,
            upn,
            op,
            upload,
        };
        let call = Call {
            account: upn,
            op,
            auth,
        };
        self.rest
            .send(&call, &policy, || {
                mk().header("Prefer", "IdType=\"ImmutableId\"")
            })
            .await
    }

    /// A transport failure (of a request or of reading its answer) as an endpoint error.
    pub(super) fn http_err(&self, op: &str, e: reqwest::Error) -> EndpointError {
        self.rest.transport_error(op, e)
    }
}
