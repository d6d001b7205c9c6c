//! The fake Graph calendar's clock: the Windows zones it knows with their daylight rules
//! (its own table, independent of cutover's), and the expansion of a patternedRecurrence
//! into its occurrences' dates (walking period by period, not day by day as cutover does).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use serde_json::{Value, json};

/// (Windows name, standard offset in minutes, daylight rule: 0 none, 1 EU, 2 US).
pub(super) const ZONES: &[(&str, i64, u8)] = &[
    ("UTC", 0, 0),
    ("GMT Standard Time", 0, 1),
    ("W. Europe Standard Time", 60, 1),
    ("Romance Standard Time", 60, 1),
    ("Central Europe Standard Time", 60, 1),
    ("Central European Standard Time", 60, 1),
    ("FLE Standard Time", 120, 1),
    ("Tokyo Standard Time", 540, 0),
    ("China Standard Time", 480, 0),
    ("India Standard Time", 330, 0),
    ("Eastern Standard Time", -300, 2),
    ("Central Standard Time", -360, 2),
    ("Mountain Standard Time", -420, 2),
    ("Pacific Standard Time", -480, 2),
];

fn sunday(year: i32, month: u32, nth: i32) -> NaiveDate {
    if nth > 0 {
        return NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, nth as u8).unwrap();
    }
    let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap() - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

/// The UTC offset (minutes) in force at a UTC instant.
fn offset_at(zone: &str, utc: NaiveDateTime) -> Option<i64> {
    let &(_, std, rule) = ZONES.iter().find(|z| z.0 == zone)?;
    let y = utc.year();
    let dst = match rule {
        1 => {
            let (a, b) = (sunday(y, 3, -1), sunday(y, 10, -1));
            utc >= a.and_hms_opt(1, 0, 0)? && utc < b.and_hms_opt(1, 0, 0)?
        }
        2 => {
            let a = sunday(y, 3, 2).and_hms_opt(2, 0, 0)? - Duration::minutes(std);
            let b = sunday(y, 11, 1).and_hms_opt(2, 0, 0)? - Duration::minutes(std + 60);
            utc >= a && utc < b
        }
        _ => false,
    };
    Some(if dst { std + 60 } else { std })
}

pub(super) fn utc_of(local: NaiveDateTime, zone: &str) -> Option<NaiveDateTime> {
    // Daylight time first (the earlier of a repeated hour), else standard.
    let &(_, std, _) = ZONES.iter().find(|z| z.0 == zone)?;
    let dst = local - Duration::minutes(std + 60);
    if offset_at(zone, dst) == Some(std + 60) {
        return Some(dst);
    }
    Some(local - Duration::minutes(std))
}

pub(super) fn parse_t(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()
}

pub(super) fn fmt(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A dateTimeTimeZone as (local, zone).
pub(super) fn dtz(v: &Value) -> Option<(NaiveDateTime, String)> {
    Some((
        parse_t(v["dateTime"].as_str()?)?,
        v["timeZone"].as_str().unwrap_or("UTC").to_string(),
    ))
}

pub(super) fn utc_json(v: &Value) -> Value {
    match dtz(v).and_then(|(t, z)| utc_of(t, &z)) {
        Some(u) => json!({"dateTime": format!("{}.0000000", fmt(u)), "timeZone": "UTC"}),
        None => v.clone(),
    }
}

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

/// The dates of a month that fall on one of `days`.
fn month_days(y: i32, m: u32, days: &[Weekday]) -> Vec<NaiveDate> {
    (1..=31)
        .filter_map(|d| NaiveDate::from_ymd_opt(y, m, d))
        .filter(|d| days.contains(&d.weekday()))
        .collect()
}

fn pick(v: &[NaiveDate], index: &str) -> Option<NaiveDate> {
    match index {
        "first" => v.first().copied(),
        "second" => v.get(1).copied(),
        "third" => v.get(2).copied(),
        "fourth" => v.get(3).copied(),
        "last" => v.last().copied(),
        _ => None,
    }
}

/// The local start dates of a recurrence, walking period by period (a month, a week, a
/// year, a day at a time), at most `limit` of them and none after `until`.
pub(super) fn pattern_dates(rec: &Value, until: NaiveDate, limit: usize) -> Vec<NaiveDate> {
    let p = &rec["pattern"];
    let r = &rec["range"];
    let Some(start) = r["startDate"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return Vec::new();
    };
    let n = p["interval"].as_i64().unwrap_or(1).max(1);
    let end = match r["type"].as_str() {
        Some("endDate") => r["endDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|e| e.min(until)),
        _ => Some(until),
    }
    .unwrap_or(until);
    let count = match r["type"].as_str() {
        Some("numbered") => r["numberOfOccurrences"].as_u64().unwrap_or(0) as usize,
        _ => usize::MAX,
    }
    .min(limit);
    let days: Vec<Weekday> = p["daysOfWeek"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().and_then(weekday))
                .collect()
        })
        .unwrap_or_default();
    let index = p["index"].as_str().unwrap_or("first");
    let month = p["month"].as_u64().unwrap_or(1) as u32;
    let dom = p["dayOfMonth"].as_u64().unwrap_or(1) as u32;
    let mut out = Vec::new();
    let push = |d: NaiveDate, out: &mut Vec<NaiveDate>| {
        if d >= start && d <= end && out.len() < count {
            out.push(d);
        }
    };
    let ty = p["type"].as_str().unwrap_or("");
    for k in 0..2000i64 {
        if out.len() >= count {
            break;
        }
        match ty {
            "daily" => {
                let d = start + Duration::days(k * n);
                if d > end {
                    break;
                }
                push(d, &mut out);
            }
            "weekly" => {
                let fdw = p["firstDayOfWeek"]
                    .as_str()
                    .and_then(weekday)
                    .unwrap_or(Weekday::Sun);
                let back = (7 + start.weekday().num_days_from_monday() as i64
                    - fdw.num_days_from_monday() as i64)
                    % 7;
                let week = start - Duration::days(back) + Duration::weeks(k * n);
                if week > end {
                    break;
                }
                let mut ds: Vec<NaiveDate> = (0..7)
                    .map(|i| week + Duration::days(i))
                    .filter(|d| days.contains(&d.weekday()))
                    .collect();
                ds.sort();
                for d in ds {
                    push(d, &mut out);
                }
            }
            "absoluteMonthly" | "relativeMonthly" => {
                let m0 = start.year() as i64 * 12 + start.month0() as i64 + k * n;
                let (y, m) = ((m0 / 12) as i32, (m0 % 12) as u32 + 1);
                let Some(first) = NaiveDate::from_ymd_opt(y, m, 1) else {
                    break;
                };
                if first > end {
                    break;
                }
                let d = if ty == "absoluteMonthly" {
                    NaiveDate::from_ymd_opt(y, m, dom)
                } else {
                    pick(&month_days(y, m, &days), index)
                };
                if let Some(d) = d {
                    push(d, &mut out);
                }
            }
            "absoluteYearly" | "relativeYearly" => {
                let y = start.year() + (k * n) as i32;
                let Some(first) = NaiveDate::from_ymd_opt(y, 1, 1) else {
                    break;
                };
                if first > end {
                    break;
                }
                let d = if ty == "absoluteYearly" {
                    NaiveDate::from_ymd_opt(y, month, dom)
                } else {
                    pick(&month_days(y, month, &days), index)
                };
                if let Some(d) = d {
                    push(d, &mut out);
                }
            }
            _ => break,
        }
    }
    out
}
