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
