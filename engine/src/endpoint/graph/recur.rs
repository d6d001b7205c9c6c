//! The occurrences of a Graph patternedRecurrence (daily, weekly, absolute and relative
//! monthly and yearly; numbered, endDate and noEnd ranges), so that a series read from Graph
//! tells which of its occurrences were cancelled: those of the pattern that `/instances` no
//! longer lists.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use serde_json::Value;

use super::zones::to_utc;

fn weekday(d: &str) -> Option<Weekday> {
    Some(match d {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn months(a: NaiveDate, b: NaiveDate) -> i64 {
    (b.year() as i64 - a.year() as i64) * 12 + b.month() as i64 - a.month() as i64
}

/// Whether `d` is the `index`-th (first..fourth, last) of the days of its month that fall on
/// one of `days`.
fn relative(d: NaiveDate, days: &[Weekday], index: &str) -> bool {
    if !days.contains(&d.weekday()) {
        return false;
    }
    let first = d.with_day(1).unwrap_or(d);
    let matching: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|x| x.month() == d.month())
        .filter(|x| days.contains(&x.weekday()))
        .collect();
    let pick = match index {
        "second" => matching.get(1),
        "third" => matching.get(2),
        "fourth" => matching.get(3),
        "last" => matching.last(),
        _ => matching.first(),
    };
    pick == Some(&d)
}

/// Whether the pattern has an occurrence on `d` (the series starting on `s`).
fn matches(p: &Value, s: NaiveDate, d: NaiveDate) -> bool {
    let n = p["interval"].as_i64().unwrap_or(1).max(1);
    let days: Vec<Weekday> = p["daysOfWeek"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().and_then(weekday))
                .collect()
        })
        .unwrap_or_default();
    let index = p["index"].as_str().unwrap_or("first");
    let month = p["month"].as_u64().unwrap_or(0) as u32;
    let dom = p["dayOfMonth"].as_u64().unwrap_or(0) as u32;
    match p["type"].as_str().unwrap_or("") {
        "daily" => (d - s).num_days() % n == 0,
        "weekly" => {
            let fdw = p["firstDayOfWeek"]
                .as_str()
                .and_then(weekday)
                .unwrap_or(Weekday::Sun);
            let week_start = |x: NaiveDate| {
                let back = (7 + x.weekday().num_days_from_monday() as i64
                    - fdw.num_days_from_monday() as i64)
                    % 7;
                x - Duration::days(back)
            };
            days.contains(&d.weekday()) && ((week_start(d) - week_start(s)).num_days() / 7) % n == 0
        }
        "absoluteMonthly" => d.day() == dom && months(s, d) % n == 0,
        "relativeMonthly" => relative(d, &days, index) && months(s, d) % n == 0,
        "absoluteYearly" => {
            d.month() == month && d.day() == dom && (d.year() - s.year()) as i64 % n == 0
        }
        "relativeYearly" => {
            d.month() == month && relative(d, &days, index) && (d.year() - s.year()) as i64 % n == 0
        }
        _ => false,
    }
}

/// The UTC starts of the occurrences of `recurrence` for a series whose first occurrence
/// starts at `first` (local time in `zone`), up to `until` (UTC).
pub(super) fn occurrences(
    recurrence: &Value,
    first: NaiveDateTime,
    zone: &str,
    until: NaiveDateTime,
) -> Vec<NaiveDateTime> {
    let p = &recurrence["pattern"];
    let r = &recurrence["range"];
    let s = r["startDate"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(first.date());
    let end = match r["type"].as_str() {
        Some("endDate") => r["endDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        _ => None,
    };
    let count = match r["type"].as_str() {
        Some("numbered") => r["numberOfOccurrences"].as_u64(),
        _ => None,
    };
    let mut out = Vec::new();
    let mut d = s;
    // At most ten years of days, whatever the range says.
    for _ in 0..3700 {
        if end.is_some_and(|e| d > e) || count.is_some_and(|c| out.len() as u64 >= c) {
            break;
        }
        if matches(p, s, d) {
            let local = d.and_time(first.time());
            let Some(utc) = to_utc(local, zone) else {
                break;
            };
            if utc > until {
                break;
            }
            out.push(utc);
        }
        d += Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
    }

    #[test]
    fn patterns_expand() {
        let first_tue = json!({"pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "first"},
            "range": {"type": "numbered", "startDate": "2026-01-06", "numberOfOccurrences": 3}});
        let o = occurrences(
            &first_tue,
            t("20260106T100000"),
            "Europe/Berlin",
            t("20300101T000000"),
        );
        assert_eq!(
            o,
            vec![
                t("20260106T090000"),
                t("20260203T090000"),
                t("20260303T090000")
            ]
        );
        let weekly = json!({"pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-03-19"}});
        let o = occurrences(
            &weekly,
            t("20260302T090000"),
            "America/New_York",
            t("20300101T000000"),
        );
        assert_eq!(
            o,
            vec![
                t("20260302T140000"),
                t("20260305T140000"),
                t("20260316T130000"),
                t("20260319T130000")
            ]
        );
        let yearly = json!({"pattern": {"type": "absoluteYearly", "interval": 1, "month": 10, "dayOfMonth": 3},
            "range": {"type": "noEnd", "startDate": "2026-10-03"}});
        assert_eq!(
            occurrences(&yearly, t("20261003T000000"), "UTC", t("20290101T000000")).len(),
            3
        );
    }
}
