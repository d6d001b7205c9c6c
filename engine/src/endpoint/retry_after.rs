//! The `Retry-After` header of a throttled (429) or unavailable (503) HTTP answer, in both of
//! its forms (RFC 9110 10.2.3): delta-seconds (`Retry-After: 120`) and an HTTP-date
//! (`Retry-After: Fri, 31 Dec 1999 23:59:59 GMT`). The one reading of it, for every REST
//! endpoint through the REST layer ([`super::rest`]), which keeps the cap
//! ([`super::MAX_RETRY_AFTER`]).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How long the answer with these headers asks the client to wait, when it says so in a form
/// this reads; None without the header or with one that is neither form (the caller then
/// backs off on its own).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse(headers.get(RETRY_AFTER)?.to_str().ok()?, Utc::now())
}

/// The wait a `Retry-After` value asks for, as of `now`. A date already past asks for no
/// wait at all.
pub fn parse(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = http_date(v)?;
    // A date in the past (or a clock behind the server's) means: now.
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// An HTTP-date (RFC 9110 5.6.7): IMF-fixdate, which senders must use, and the two obsolete
/// forms recipients must still read (RFC 850 and asctime), all in GMT.
fn http_date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc2822(v) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; asctime: "Sun Nov  6 08:49:37 1994".
    let naive = NaiveDateTime::parse_from_str(v, "%A, %d-%b-%y %H:%M:%S GMT")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%a %b %e %H:%M:%S %Y"))
        .ok()?;
    Some(naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(1999, 12, 31, 23, 0, 0).unwrap()
    }

    #[test]
    fn delta_seconds_are_read_as_they_are() {
        assert_eq!(parse("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now()), Some(Duration::ZERO));
        // Beyond the callers' cap: read as said, the caller refuses to wait that long.
        assert_eq!(parse("86400", now()), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn an_http_date_is_the_time_left_until_it() {
        assert_eq!(
            parse("Fri, 31 Dec 1999 23:59:59 GMT", now()),
            Some(Duration::from_secs(59 * 60 + 59))
        );
        // The obsolete forms a recipient must still accept.
        assert_eq!(
            parse("Friday, 31-Dec-99 23:30:00 GMT", now()),
            Some(Duration::from_secs(30 * 60))
        );
        assert_eq!(
            parse("Fri Dec 31 23:00:10 1999", now()),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse("Sat Jan  1 00:00:00 2000", now()),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn a_date_in_the_past_means_no_wait() {
        assert_eq!(
            parse("Thu, 30 Dec 1999 23:59:59 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse("Fri, 31 Dec 1999 23:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_is_no_answer() {
        for v in [
            "",
            "soon",
            "-5",
            "1.5",
            "12 s",
            "Fri, 31 Dec 1999 25:61:00 GMT",
            "Fri, 32 Dec 1999 23:59:59 GMT",
            "31/12/1999",
            "99999999999999999999999",
        ] {
            assert_eq!(parse(v, now()), None, "{v:?}");
        }
    }

    #[test]
    fn the_header_is_read_from_an_answer() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let soon = (Utc::now() + chrono::Duration::seconds(90))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        h.insert(RETRY_AFTER, soon.parse().unwrap());
        let w = retry_after(&h).unwrap();
        assert!(
            w > Duration::from_secs(80) && w <= Duration::from_secs(90),
            "{w:?}"
        );
        h.insert(
            RETRY_AFTER,
            "Mon, 01 Jan 2001 00:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
