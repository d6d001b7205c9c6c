//! The per-user quotas of Google's APIs on a `kind = "gmail"` endpoint, which Google changes
//! and raises per project on request: `gmail_units_per_minute` (Gmail API, each method's
//! documented cost in units; 6,000 for new projects at the time of writing) and
//! `calendar_requests_per_minute` (Calendar API, 600 requests per minute per user) and
//! `people_requests_per_minute` (People API, 90 by cutover's default). `gmail_quota_window`
//! is the window the Gmail units are counted over: Google's minute unless a test with a
//! scaled clock shortens it (`"6s"`: `gmail_units_per_minute` units per 6 s). cutover
//! counts each call against them in a sliding window before sending it; the service's own
//! throttling answers are waited out besides.

use std::ops::RangeInclusive;
use std::time::Duration;

use toml::Spanned;

use super::checks;

/// Gmail API units per user per minute when the file does not say.
pub const DEFAULT_GMAIL_UNITS_PER_MINUTE: u32 = 6_000;
/// Calendar API requests per user per minute when the file does not say.
pub const DEFAULT_CALENDAR_REQUESTS_PER_MINUTE: u32 = 600;
/// People API requests per user per minute when the file does not say.
pub const DEFAULT_PEOPLE_REQUESTS_PER_MINUTE: u32 = 90;

const GMAIL_UNITS: RangeInclusive<u32> = 250..=1_000_000;
const CALENDAR_REQUESTS: RangeInclusive<u32> = 1..=100_000;
const GMAIL_WINDOW: RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(3600);

/// The quotas as the file has them (keys of `[source]` / `[destination]`).
#[derive(Debug, Default)]
pub(super) struct RawGoogleQuota {
    pub(super) gmail_units_per_minute: Option<Spanned<u32>>,
    pub(super) gmail_quota_window: Option<Spanned<String>>,
    pub(super) calendar_requests_per_minute: Option<Spanned<u32>>,
    pub(super) people_requests_per_minute: Option<Spanned<u32>>,
}

/// Google's per-user quotas as cutover keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoogleQuota {
    pub gmail_units_per_minute: u32,
    /// The window `gmail_units_per_minute` is counted over (a minute).
    pub gmail_quota_window: Duration,
    pub calendar_requests_per_minute: u32,
    pub people_requests_per_minute: u32,
}

impl Default for GoogleQuota {
    fn default() -> GoogleQuota {
        GoogleQuota {
            gmail_units_per_minute: DEFAULT_GMAIL_UNITS_PER_MINUTE,
            gmail_quota_window: Duration::from_secs(60),
            calendar_requests_per_minute: DEFAULT_CALENDAR_REQUESTS_PER_MINUTE,
            people_requests_per_minute: DEFAULT_PEOPLE_REQUESTS_PER_MINUTE,
        }
    }
}

/// Validate the keys of one side: only a Gmail endpoint takes them, each in its range.
/// Err((offset, message)) names the key.
pub(super) fn google_quota(
    section: &str,
    gmail: bool,
    raw: &RawGoogleQuota,
) -> Result<GoogleQuota, (usize, String)> {
    let mut q = GoogleQuota::default();
    for (key, v, range, slot) in [
        (
            "gmail_units_per_minute",
            &raw.gmail_units_per_minute,
            &GMAIL_UNITS,
            &mut q.gmail_units_per_minute,
        ),
        (
            "calendar_requests_per_minute",
            &raw.calendar_requests_per_minute,
            &CALENDAR_REQUESTS,
            &mut q.calendar_requests_per_minute,
        ),
        (
            "people_requests_per_minute",
            &raw.people_requests_per_minute,
            &CALENDAR_REQUESTS,
            &mut q.people_requests_per_minute,
        ),
    ] {
        let Some(v) = v else { continue };
        let at = v.span().start;
        if !gmail {
            return Err((
                at,
                format!("{section}.{key}: only a kind = \"gmail\" endpoint has Google's quotas"),
            ));
        }
        checks::in_range(&format!("{section}.{key}"), v.get_ref(), range).map_err(|m| (at, m))?;
        *slot = *v.get_ref();
    }
    if let Some(v) = &raw.gmail_quota_window {
        let at = v.span().start;
        let key = format!("{section}.gmail_quota_window");
        if !gmail {
            return Err((
                at,
                format!("{key}: only a kind = \"gmail\" endpoint has Google's quotas"),
            ));
        }
        let d = crate::mail::fmt::parse_duration(v.get_ref())
            .map_err(|e| (at, format!("{key}: {e}")))?;
        if !GMAIL_WINDOW.contains(&d) {
            return Err((
                at,
                format!(
                    "{key}: {:?} is out of range: expected 1s to 1h",
                    v.get_ref()
                ),
            ));
        }
        q.gmail_quota_window = d;
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ranges_and_kind() {
        let none = RawGoogleQuota::default();
        assert_eq!(
            google_quota("destination", true, &none).unwrap(),
            GoogleQuota {
                gmail_units_per_minute: 6_000,
                gmail_quota_window: Duration::from_secs(60),
                calendar_requests_per_minute: 600,
                people_requests_per_minute: 90
            }
        );
        let set = RawGoogleQuota {
            gmail_units_per_minute: Some(Spanned::new(3..5, 15_000)),
            gmail_quota_window: None,
            calendar_requests_per_minute: Some(Spanned::new(7..9, 0)),
            people_requests_per_minute: None,
        };
        let (at, m) = google_quota("source", true, &set).unwrap_err();
        assert_eq!(at, 7);
        assert!(m.contains("source.calendar_requests_per_minute"), "{m}");
        let (at, m) = google_quota("source", false, &set).unwrap_err();
        assert_eq!(at, 3);
        assert!(m.contains("only a kind = \"gmail\""), "{m}");
        let window = |w: &str| RawGoogleQuota {
            gmail_quota_window: Some(Spanned::new(11..13, w.to_string())),
            ..RawGoogleQuota::default()
        };
        let q = google_quota("destination", true, &window("6s")).unwrap();
        assert_eq!(q.gmail_quota_window, Duration::from_secs(6));
        let (at, m) = google_quota("destination", true, &window("2h")).unwrap_err();
        assert_eq!(at, 11);
        assert!(m.contains("destination.gmail_quota_window"), "{m}");
        assert!(google_quota("destination", true, &window("soon")).is_err());
    }
}
