//! IMAP endpoint on async-imap, tokio and rustls.
//!
//! async-imap's high-level API runs one command at a time and throws away APPENDUID, so the
//! APPEND path here speaks the protocol itself on the session's stream: pipelined APPENDs with
//! LITERAL+ where offered, synchronising literals otherwise, and the tagged replies matched by
//! tag so every message gets its own outcome and destination UID.
//!
//! By concern: `connect` (TCP, TLS or STARTTLS, greeting, login), `session` (the state
//! between commands), `capabilities` (CAPABILITY, quota), `folders` (LIST, CREATE, RENAME,
//! DELETE, quoting), `select` (EXAMINE, SELECT, STATUS), `fetch` (listings, messages,
//! fingerprints), `pipelined` (EXAMINE or STATUS with a listing in one round trip), `bodies` (the copy's
//! message reads, the next UID FETCH on the wire before the last one's answer is read), `append` (APPEND, UID EXPUNGE), `delta` (what a delta pass needs: CONDSTORE flag listings,
//! UID STORE of flags, UID MOVE), `errors` (NO/BAD, throttling), and
//! `mail_session` puts the session behind the endpoint trait. Folder names are modified
//! UTF-7 ([`crate::mail::utf7`]).

/// The session's next response within `deadline` (`wait` names the wait in a timeout's
/// error, `op` the command in a lost connection's); a closed connection is an error. A macro:
/// async-imap's response type cannot be named outside it.
macro_rules! next_response {
    ($session:expr, $deadline:expr, $wait:expr, $op:expr) => {{
        let t = $session.timeout;
        crate::endpoint::net::before($deadline, t, $wait, $session.s.read_response())
            .await?
            .map_err(|e| crate::endpoint::net::io_err($op, e))?
            .ok_or(crate::endpoint::types::EndpointError::ConnectionLost { op: $op.into() })?
    }};
}

mod append;
mod bodies;
mod capabilities;
mod connect;
mod delta;
mod errors;
mod fetch;
mod folders;
mod mail_session;
mod multiappend;
mod pipelined;
mod select;
mod session;

pub use connect::ImapConnector;
pub use errors::throttle_of;
pub use fetch::flag_name;
pub use folders::unquote;
pub use session::ImapSession;
