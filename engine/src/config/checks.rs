//! Value checks of the project file beyond types: numeric ranges (nothing the file says can
//! overflow or panic later: a semaphore of 2^64 permits, a timeout past the end of time) and
//! the URLs cutover sends secrets and mail to.

use std::fmt::Display;
use std::net::IpAddr;
use std::ops::RangeInclusive;

/// `max_connections` of an endpoint.
pub const MAX_CONNECTIONS: RangeInclusive<usize> = 1..=1000;
/// `[project] parallel_mailboxes` (and the console's live setting).
pub const PARALLEL_MAILBOXES: RangeInclusive<usize> = 1..=1000;
/// `[project] folder_workers`.
pub const FOLDER_WORKERS: RangeInclusive<usize> = 1..=64;
/// `[project] split_folder_messages` (0: never split).
pub const SPLIT_FOLDER_MESSAGES: RangeInclusive<usize> = 0..=10_000_000;
/// `[project] max_failed_messages`.
pub const MAX_FAILED_MESSAGES: RangeInclusive<usize> = 1..=1_000_000;
/// `timeout_secs` of an endpoint (a day).
pub const TIMEOUT_SECS: RangeInclusive<u64> = 1..=86_400;
/// `max_message_size` of an endpoint, in bytes (1 KiB to 2 GiB).
pub const MAX_MESSAGE_SIZE: RangeInclusive<u64> = 1024..=2 * 1024 * 1024 * 1024;
/// `port` of an endpoint.
pub const PORT: RangeInclusive<u16> = 1..=u16::MAX;

/// `value` within `range`, or the message saying the range.
pub(super) fn in_range<T: PartialOrd + Display>(
    key: &str,
    value: &T,
    range: &RangeInclusive<T>,
) -> Result<(), String> {
    if range.contains(value) {
        Ok(())
    } else {
        Err(format!(
            "{key}: {value} is out of range: expected {} to {}",
            range.start(),
            range.end()
        ))
    }
}

/// An endpoint URL key (`api_url`, `token_url`, `device_code_url`): `https://`, or `http://`
/// to a loopback host (the tests' fakes), or `http://` anywhere when the section sets
/// `allow_plaintext` (then `Ok(Some(warning))`).
pub(super) fn endpoint_url(
    key: &str,
    url: &str,
    allow_plaintext: bool,
) -> Result<Option<String>, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("{key}: {url:?} is not a URL ({e}); expected e.g. \"https://graph.microsoft.com\"")
    })?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(None),
        "http" if !host.is_empty() => {
            if is_loopback(&host) {
                Ok(None)
            } else if allow_plaintext {
                Ok(Some(format!(
                    "{key} = {url:?}: allow_plaintext = true sends the client secret, tokens and mail in clear text to {host}"
                )))
            } else {
                Err(format!(
                    "{key}: http:// sends the client secret, tokens and mail in clear text to {host}; use https:// \
                     (http:// is allowed only for loopback hosts unless the section sets allow_plaintext = true)"
                ))
            }
        }
        _ if host.is_empty() => Err(format!("{key}: {url:?} names no host")),
        other => Err(format!("{key}: {other}:// is not supported; use https://")),
    }
}

pub(super) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            endpoint_url("k", "https://graph.microsoft.com", false),
            Ok(None)
        );
        assert_eq!(
            endpoint_url("k", "http://127.0.0.1:8080/x", false),
            Ok(None)
        );
        assert_eq!(endpoint_url("k", "http://[::1]:8080", false), Ok(None));
        assert_eq!(endpoint_url("k", "http://localhost", false), Ok(None));
        let e = endpoint_url("k", "http://login.example.com/token", false).unwrap_err();
        assert!(e.contains("clear text to login.example.com"), "{e}");
        let w = endpoint_url("k", "http://login.example.com/token", true).unwrap();
        assert!(w.unwrap().contains("allow_plaintext"));
        assert!(endpoint_url("k", "ftp://x.example", true).is_err());
        assert!(endpoint_url("k", "graph.microsoft.com", false).is_err());
        assert!(endpoint_url("k", "file:///etc/passwd", true).is_err());
    }

    #[test]
    fn ranges() {
        assert!(in_range("max_connections", &8, &MAX_CONNECTIONS).is_ok());
        let e = in_range("max_connections", &usize::MAX, &MAX_CONNECTIONS).unwrap_err();
        assert_eq!(
            e,
            "max_connections: 18446744073709551615 is out of range: expected 1 to 1000"
        );
        assert!(in_range("port", &0, &PORT).is_err());
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("mail.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }
}
