//! The per-user quotas of Google's APIs on a `kind = "gmail"` endpoint, which Google changes
//! and raises per project on request: `gmail_units_per_minute` (Gmail API, each method's
//! documented cost in units; 6,000 for new projects at the time of writing) and
//! `calendar_requests_per_minute` (Calendar API, 600 requests per minute per user) and
//! `people_requests_per_minute` (People API, 90 by cutover's default). cutover
//! counts each call against them in a sliding window before sending it; the service's own
//! throttling answers are waited out besides.

use std::ops::RangeInclusive;

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

/// The quotas as the file has them (keys of `[source]` / `[destination]`).
#[derive(Debug, Default)]
pub(super) struct RawGoogleQuota {
    pub(super) gmail_units_per_minute: Option<Spanned<u32>>,
    pub(super) calendar_requests_per_minute: Option<Spanned<u32>>,
    pub(super) people_requests_per_minute: Option<Spanned<u32>>,
}

/// Google's per-user quotas as cutover keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoogleQuota {
    pub gmail_units_per_minute: u32,
    pub calendar_requests_per_minute: u32,
    pub people_requests_per_minute: u32,
}

impl Default for GoogleQuota {
    fn default() -> GoogleQuota {
        GoogleQuota {
            gmail_units_per_minute: DEFAULT_GMAIL_UNITS_PER_MINUTE,
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
                calendar_requests_per_minute: 600,
                people_requests_per_minute: 90
            }
        );
        let set = RawGoogleQuota {
            gmail_units_per_minute: Some(Spanned::new(3..5, 15_000)),
            calendar_requests_per_minute: Some(Spanned::new(7..9, 0)),
            people_requests_per_minute: None,
        };
        let (at, m) = google_quota("source", true, &set).unwrap_err();
        assert_eq!(at, 7);
        assert!(m.contains("source.calendar_requests_per_minute"), "{m}");
        let (at, m) = google_quota("source", false, &set).unwrap_err();
        assert_eq!(at, 3);
        assert!(m.contains("only a kind = \"gmail\""), "{m}");
    }
}
