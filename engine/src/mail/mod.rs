//! What every layer shares about mail, with no dependency on any other module of the crate:
//! modified UTF-7 folder names both ways ([`utf7`]), the Message-ID header ([`message_id`]),
//! the content fingerprint that identifies a message across endpoints ([`fingerprint`]), what a
//! message says once a service has rewritten its MIME ([`content`]),
//! IMAP UID sets ([`uidset`]) and the one formatter of byte counts, percentages and
//! durations for people ([`fmt`]).

pub mod content;
pub mod fingerprint;
pub mod fmt;
pub mod message_id;
pub mod uidset;
pub mod utf7;
