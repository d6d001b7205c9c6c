//! Fake Microsoft Entra token endpoint (`POST /{tenant}/oauth2/v2.0/token`): the
//! client-credentials grant with a client secret. It issues opaque tokens for one resource
//! each, with a lifetime the test chooses, and the other fakes accept only tokens it issued,
//! for their resource, before they expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

/// A token the fake issued.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub tenant: String,
    /// The resource of the requested scope, e.g. `https://graph.microsoft.com`.
    pub resource: String,
    /// For delegated / domain-wide-delegation tokens, the mailbox they act for.
    pub subject: Option<String>,
    pub expires: Instant,
}

/// Accepted clients and issued tokens.
pub struct Tokens {
    /// (tenant, client_id) -> client secret.
    pub clients: HashMap<(String, String), String>,
    /// Lifetime of the tokens issued (`expires_in`).
    pub lifetime: Duration,
    pub issued: Mutex<HashMap<String, Grant>>,
    /// Token requests received (accepted or not).
    pub requests: Mutex<Vec<HashMap<String, String>>>,
}

impl Tokens {
    pub fn new(lifetime: Duration) -> Tokens {
        Tokens {
            clients: HashMap::new(),
            lifetime,
            issued: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Accept a client-credentials app registration.
    pub fn with_client(mut self, tenant: &str, client_id: &str, secret: &str) -> Tokens {
        self.clients
            .insert((tenant.into(), client_id.into()), secret.into());
        self
    }

    pub fn issued_count(&self) -> usize {
        self.issued.lock().unwrap().len()
    }

    /// Record a new token and return it.
    pub fn issue(&self, grant: Grant) -> String {
        let mut issued = self.issued.lock().unwrap();
        let token = format!("tok-{}-{}", issued.len() + 1, std::process::id());
        issued.insert(token.clone(), grant);
        token
    }

    /// The grant behind a request's `Authorization: Bearer` header, when it is one this fake
    /// issued for `resource` and has not expired; otherwise the 401 the service would send.
    #[allow(clippy::result_large_err)] // an axum Response, as the handlers return it
    pub fn check(&self, headers: &HeaderMap, resource: &str) -> Result<Grant, Response> {
        let unauthorized = |code: &str, msg: &str| {
            (
                StatusCode::UNAUTHORIZED,
                [("WWW-Authenticate", "Bearer")],
                Json(json!({"error": {"code": code, "message": msg}})),
            )
                .into_response()
        };
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "Access token is empty.",
            ));
        };
        let issued = self.issued.lock().unwrap();
        let Some(g) = issued.get(token) else {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "IDX14100: JWT is not well formed.",
            ));
        };
        if Instant::now() >= g.expires {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if g.resource != resource {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                "Invalid audience.",
            ));
        }
        Ok(g.clone())
    }
}

pub fn router(tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
        .with_state(tokens)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn entra_token(
    State(t): State<Arc<Tokens>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    t.requests.lock().unwrap().push(form.clone());
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    let client_id = get("client_id");
    let Some(secret) = t.clients.get(&(tenant.clone(), client_id.to_string())) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    if get("client_secret") != secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let Some(resource) = get("scope").strip_suffix("/.default") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    };
    let token = t.issue(Grant {
        client_id: client_id.to_string(),
        tenant,
        resource: resource.to_string(),
        subject: None,
        expires: Instant::now() + t.lifetime,
    });
    Json(json!({
        "token_type": "Bearer",
        "expires_in": t.lifetime.as_secs(),
        "ext_expires_in": t.lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}
