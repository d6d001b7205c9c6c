//! OAuth2 access tokens for the endpoints that need them (Graph, Gmail API, IMAP XOAUTH2 on
//! Exchange Online and Gmail), on reqwest.
//!
//! One [`TokenProvider`] per endpoint side. It keeps one token per (account, scope): an
//! app-only Entra token serves every mailbox of the tenant, a Google domain-wide-delegation
//! token is per mailbox. Tokens are refreshed a few minutes before they expire, so a run of
//! many hours never sends an expired one; the REST layer ([`crate::endpoint::rest`]) forgets
//! a token the service refused and asks for a fresh one once.
//!
//! The flows:
//! - Entra client credentials, with a client secret or a certificate assertion (an RS256
//!   JWT signed with the certificate's private key, `x5t`/`x5t#S256` = its thumbprints).
//! - Entra device code (delegated): `cutover login` shows the verification URL and code and
//!   keeps the refresh token in the token file next to the journal (mode 0600); runs then use
//!   the refresh-token grant and keep the rotated refresh token.
//! - Google service account with domain-wide delegation: a JWT per mailbox (`sub` = the
//!   mailbox), exchanged with the jwt-bearer grant.
//!
//! The token endpoints are not called through the REST layer: they are where its tokens come
//! from (no bearer token, and a refusal is an answer to report, not to retry).
//!
//! The modules, by concern:
//! - `provider`: the provider, its cache and its errors;
//! - `credential`: client secrets, certificates and service account keys, read once;
//! - `grant`: the token requests of each flow (client credentials, JWT assertions, refresh);
//! - `device_code`: the device-code sign-in of `cutover login`;
//! - `token_file`: the refresh tokens kept next to the journal;
//! - `types`: what they share (grant names, the endpoint's answers, default scopes).

mod credential;
mod device_code;
mod grant;
mod provider;
mod token_file;
mod types;

pub use credential::thumbprints;
pub use provider::TokenProvider;
pub use token_file::token_file_for;
pub use types::{
    CLIENT_ASSERTION_JWT, DELEGATED_EXO_IMAP_SCOPE, DeviceCode, GRANT_DEVICE_CODE,
    GRANT_JWT_BEARER, default_scope,
};
