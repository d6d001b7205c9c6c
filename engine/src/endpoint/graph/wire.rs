//! Graph's words on the wire: percent-encoding, its error bodies and what they map to, its
//! dates, and the small JSON bodies cutover sends and reads back.

use chrono::{DateTime, FixedOffset, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::types::FINGERPRINT_PROP;
use crate::endpoint::types::{EndpointError, Result};

/// Graph's error body, `{"error":{"code":..,"message":..}}`.
pub(super) fn error_text(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = v["error"]["code"].as_str().unwrap_or("").to_string();
    let message = v["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    (code, message)
}

/// Percent-encode a query value or a path segment.
pub(super) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Map a failed answer to an error (404 is `No`; callers turn it into NoFolder where it is
/// a folder).
pub(super) fn failure(upn: &str, op: &str, status: StatusCode, body: &[u8]) -> EndpointError {
    let (code, message) = error_text(body);
    let text = format!("HTTP {} {code}: {message} (mailbox {upn})", status.as_u16());
    match status.as_u16() {
        403 if op.contains("contact") => EndpointError::Auth {
            user: upn.to_string(),
            message: format!(
                "{op}: access denied ({code}: {message}); the app needs Contacts.ReadWrite (Contacts.Read on a source) with admin consent, and the mailbox must be in its scope"
            ),
        },
        403 if ["calendar", "event", "occurrence"]
            .iter()
            .any(|w| op.contains(w)) =>
        {
            EndpointError::Auth {
                user: upn.to_string(),
                message: format!(
                    "{op}: access denied ({code}: {message}); the app needs Calendars.ReadWrite (Calendars.Read on a source) with admin consent, and the mailbox must be in its scope"
                ),
            }
        }
        403 => EndpointError::Auth {
            user: upn.to_string(),
            message: format!(
                "{op}: access denied ({code}: {message}); the app needs Mail.ReadWrite (and Mail-Advanced.ReadWrite.All for importMime) with admin consent, and the mailbox must be in its scope"
            ),
        },
        507 => EndpointError::OverQuota {
            op: op.to_string(),
            message: text,
        },
        _ if code.to_ascii_lowercase().contains("quota") => EndpointError::OverQuota {
            op: op.to_string(),
            message: text,
        },
        400..=499 => EndpointError::No {
            op: op.to_string(),
            message: text,
        },
        _ => EndpointError::Protocol {
            op: op.to_string(),
            message: text,
        },
    }
}

pub(super) fn parse_date(v: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

pub(super) fn graph_time(d: &DateTime<FixedOffset>) -> String {
    d.with_timezone(&Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The PATCH that completes an imported message.
pub(super) fn completion(fp: &str, seen: bool, flagged: bool) -> Value {
    json!({
        "isRead": seen,
        "flag": {"flagStatus": if flagged { "flagged" } else { "notFlagged" }},
        "singleValueExtendedProperties": [{"id": FINGERPRINT_PROP, "value": fp}],
    })
}

pub(super) fn created_id(op: &str, body: &[u8]) -> Result<String> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| EndpointError::Protocol {
            op: op.into(),
            message: "Graph's answer has no message id".into(),
        })
}

/// Where the header block ends (after its blank line), or the whole message.
pub(super) fn find_header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(raw.len())
}

pub(super) fn read_only(op: &str) -> EndpointError {
    EndpointError::Protocol {
        op: op.into(),
        message: "the source is never modified (Graph source is read-only)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_map_to_endpoint_errors() {
        let body = br#"{"error":{"code":"ErrorQuotaExceeded","message":"full"}}"#;
        assert!(matches!(
            failure("a@b", "x", StatusCode::BAD_REQUEST, body),
            EndpointError::OverQuota { .. }
        ));
        assert!(matches!(
            failure("a@b", "x", StatusCode::INSUFFICIENT_STORAGE, b"{}"),
            EndpointError::OverQuota { .. }
        ));
        let e = failure(
            "a@b",
            "x",
            StatusCode::BAD_REQUEST,
            br#"{"error":{"code":"ErrorInvalidMime","message":"bad"}}"#,
        );
        assert!(e.to_string().contains("ErrorInvalidMime"), "{e}");
        let denied = br#"{"error":{"code":"ErrorAccessDenied","message":"no"}}"#;
        let e = failure("a@b", "list contact folders", StatusCode::FORBIDDEN, denied);
        assert!(e.to_string().contains("Contacts.ReadWrite"), "{e}");
        let e = failure("a@b", "list folders", StatusCode::FORBIDDEN, denied);
        assert!(e.to_string().contains("Mail.ReadWrite"), "{e}");
        assert_eq!(enc("a b/c'"), "a%20b%2Fc%27");
        assert_eq!(find_header_end(b"A: b\r\n\r\nbody"), 8);
    }
}
