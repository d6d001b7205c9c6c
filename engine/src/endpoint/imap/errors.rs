//! The server's refusals in the endpoint's terms: NO and BAD texts cleaned of async-imap's
//! formatting, throttling (with the wait the server suggested), over quota, no such folder.

use std::time::Duration;

use crate::endpoint::net::io_err;
use crate::endpoint::types::EndpointError;
use crate::mail::utf7::decode_mutf7;

/// async-imap formats NO/BAD as `code: Some(..), info: Some("..")`; keep the server's words.
pub(super) fn clean_no(m: &str) -> String {
    match m.find("info: Some(\"") {
        Some(i) => m[i + 12..].trim_end_matches("\")").to_string(),
        None => m.to_string(),
    }
}

pub(super) fn map_err(op: &str, e: async_imap::error::Error) -> EndpointError {
    use async_imap::error::Error as E;
    match e {
        E::Io(e) => io_err(op, e),
        E::ConnectionLost => EndpointError::ConnectionLost { op: op.into() },
        E::No(m) => classify_no(op, &m, None),
        E::Bad(m) => EndpointError::Protocol {
            op: op.into(),
            message: format!("server said BAD: {}", clean_no(&m)),
        },
        other => EndpointError::Protocol {
            op: op.into(),
            message: other.to_string(),
        },
    }
}

/// Longest wait a throttling server may impose before a retry (a garbled number must not park
/// a worker for hours).
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(600);

/// A throttling signal in a server's NO or BYE text: `Some(wait)` when the server says it is
/// throttling this client, with the wait it suggested (None when it named none).
/// Exchange / Microsoft 365: "Request is throttled. Suggested Backoff Time: 52345 milliseconds";
/// Gmail: `[THROTTLED]`, "Account exceeded command or bandwidth limits".
pub fn throttle_of(text: &str) -> Option<Option<Duration>> {
    let up = text.to_ascii_uppercase();
    const SUGGESTED: &str = "SUGGESTED BACKOFF TIME";
    if !(up.contains("THROTTL")
        || up.contains("BANDWIDTH LIMIT")
        || up.contains("COMMAND OR BANDWIDTH")
        || up.contains(SUGGESTED))
    {
        return None;
    }
    let wait = up.find(SUGGESTED).and_then(|i| {
        let rest = up[i + SUGGESTED.len()..].trim_start_matches([':', ' ', '=']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits.parse().ok()?;
        let unit = rest[digits.len()..].trim_start();
        let d = if unit.starts_with("SEC") || (unit.starts_with('S') && !unit.starts_with("MS")) {
            Duration::from_secs(n)
        } else {
            // Exchange says milliseconds; a bare number is taken as milliseconds too.
            Duration::from_millis(n)
        };
        Some(d.min(MAX_THROTTLE_WAIT))
    });
    Some(wait)
}

pub(super) fn classify_no(op: &str, text: &str, folder: Option<&str>) -> EndpointError {
    let up = text.to_ascii_uppercase();
    if let Some(wait) = throttle_of(text) {
        EndpointError::Throttled {
            op: op.into(),
            message: clean_no(text),
            wait,
        }
    } else if up.contains("OVERQUOTA") || up.contains("QUOTA EXCEEDED") {
        EndpointError::OverQuota {
            op: op.into(),
            message: clean_no(text),
        }
    } else if up.contains("TRYCREATE") || up.contains("NONEXISTENT") || up.contains("DOESN'T EXIST")
    {
        EndpointError::NoFolder {
            op: op.into(),
            folder: folder.unwrap_or("?").to_string(),
            server: Some(clean_no(text)),
        }
    } else {
        EndpointError::No {
            op: op.into(),
            message: clean_no(text),
        }
    }
}

/// A refusal of a command on one folder (EXAMINE, SELECT, STATUS): the folder is named (as
/// people read it) and the server's words kept; a plain NO counts as "no such folder", as
/// most servers give no response code for it, and the caller decides from a fresh LIST.
pub(super) fn folder_err(op: &str, folder: &str, e: async_imap::error::Error) -> EndpointError {
    match map_err(op, e) {
        EndpointError::No { op, message } => EndpointError::NoFolder {
            op,
            folder: decode_mutf7(folder),
            server: Some(message),
        },
        EndpointError::NoFolder { op, server, .. } => EndpointError::NoFolder {
            op,
            folder: decode_mutf7(folder),
            server,
        },
        e => e,
    }
}

/// [`bye_during`] when `r` is a BYE; any other response passes.
pub(super) fn unless_bye(
    r: &async_imap::imap_proto::Response<'_>,
    op: &str,
) -> Result<(), EndpointError> {
    match r {
        async_imap::imap_proto::Response::Data {
            status: async_imap::imap_proto::Status::Bye,
            outcome,
        } => Err(bye_during(op, outcome.information.as_deref().unwrap_or(""))),
        _ => Ok(()),
    }
}

/// A BYE while `op`'s answer is awaited: the server closes the connection, so no answer is
/// coming; throttling when its text says how long to wait, else a lost connection.
pub(super) fn bye_during(op: &str, info: &str) -> EndpointError {
    match throttle_of(info) {
        Some(wait) => EndpointError::Throttled {
            op: op.into(),
            message: format!("server said BYE: {info}"),
            wait,
        },
        None => EndpointError::ConnectionLost {
            op: format!("{op} (server said BYE: {info})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_texts_are_recognised_with_their_suggested_wait() {
        let ms = Duration::from_millis;
        assert_eq!(
            throttle_of("Request is throttled. Suggested Backoff Time: 52345 milliseconds"),
            Some(Some(ms(52345)))
        );
        assert_eq!(
            throttle_of(
                "code: None, info: Some(\"Request is throttled. Suggested Backoff Time: 299 milliseconds\")"
            ),
            Some(Some(ms(299)))
        );
        assert_eq!(
            throttle_of("request is throttled. suggested backoff time: 3 seconds"),
            Some(Some(Duration::from_secs(3)))
        );
        // A garbled or huge number is capped.
        assert_eq!(
            throttle_of("Suggested Backoff Time: 99999999999 milliseconds"),
            Some(Some(MAX_THROTTLE_WAIT))
        );
        // Gmail names no wait.
        assert_eq!(
            throttle_of("[THROTTLED] Account exceeded command or bandwidth limits. (Failure)"),
            Some(None)
        );
        assert_eq!(
            throttle_of("[ALERT] Account exceeded command or bandwidth limits."),
            Some(None)
        );
        assert_eq!(
            throttle_of("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            None
        );
        assert_eq!(throttle_of("Authentication failed."), None);
        assert!(matches!(
            classify_no("APPEND", "Request is throttled. Suggested Backoff Time: 10 milliseconds", None),
            EndpointError::Throttled { wait: Some(w), .. } if w == ms(10)
        ));
        assert!(matches!(
            classify_no("APPEND", "[OVERQUOTA] Quota exceeded", None),
            EndpointError::OverQuota { .. }
        ));
    }

    #[test]
    fn no_text_is_cleaned() {
        assert_eq!(
            clean_no("code: None, info: Some(\"[OVERQUOTA] Quota exceeded\")"),
            "[OVERQUOTA] Quota exceeded"
        );
    }
}
