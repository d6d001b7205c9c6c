//! Gmail's words mapped to cutover's: its error bodies, label ids as IMAP flags, its
//! millisecond dates, and journal errors named by the call.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use super::types::ErrorBody;
use crate::endpoint::types::EndpointError;

/// Google's error reason and message from an error body.
pub(super) fn error_of(body: &[u8]) -> (String, String) {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => (
            e.error
                .errors
                .first()
                .map(|r| r.reason.clone())
                .unwrap_or_default(),
            e.error.message,
        ),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(300).collect(),
        ),
    }
}

pub(super) fn store_err(op: &str) -> impl Fn(crate::journal::JournalError) -> EndpointError + '_ {
    move |source| EndpointError::Journal {
        op: op.into(),
        source,
    }
}

/// IMAP flags from a message's label ids.
pub(super) fn flags_of(labels: &[String]) -> Vec<String> {
    let mut f = Vec::new();
    if !labels.iter().any(|l| l == "UNREAD") {
        f.push("\\Seen".to_string());
    }
    if labels.iter().any(|l| l == "STARRED") {
        f.push("\\Flagged".to_string());
    }
    if labels.iter().any(|l| l == "DRAFT") {
        f.push("\\Draft".to_string());
    }
    f
}

pub(super) fn date_of(ms: Option<i64>) -> Option<DateTime<FixedOffset>> {
    let d = Utc.timestamp_millis_opt(ms?).single()?;
    Some(d.fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_from_labels() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(flags_of(&l(&["INBOX", "UNREAD"])), Vec::<String>::new());
        assert_eq!(
            flags_of(&l(&["INBOX", "STARRED"])),
            l(&["\\Seen", "\\Flagged"])
        );
        assert_eq!(flags_of(&l(&["DRAFT", "UNREAD"])), l(&["\\Draft"]));
    }
}
