//! Time zones between iCalendar (IANA names, `TZID=Europe/Berlin`) and Graph (Windows zone
//! names, `"W. Europe Standard Time"`), and the UTC offsets both sides need: Graph reports an
//! occurrence's original start in UTC, an iCalendar RECURRENCE-ID is a local time.
//!
//! No crate keeps the Windows names with the rules (chrono-tz has the IANA database only),
//! so the common zones are embedded here with their current rules (CLDR's windowsZones
//! mapping; the European Union, North American, Australian and New Zealand daylight-saving
//! rules since 2007). A zone outside the table is refused by name, never guessed.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

/// When a zone keeps daylight-saving time (one hour ahead of its standard offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    None,
    /// Last Sunday of March to last Sunday of October, at 01:00 UTC.
    Eu,
    /// Second Sunday of March 02:00 to first Sunday of November 02:00, local.
    Us,
    /// First Sunday of October 02:00 to first Sunday of April 03:00, local.
    Au,
    /// Last Sunday of September 02:00 to first Sunday of April 03:00, local.
    Nz,
}

/// (IANA, Windows, standard offset in minutes, rule); the first row of a Windows name is the
/// IANA zone it reads back as.
const ZONES: &[(&str, &str, i64, Rule)] = &[
    ("UTC", "UTC", 0, Rule::None),
    ("Etc/UTC", "UTC", 0, Rule::None),
    ("Etc/GMT", "UTC", 0, Rule::None),
    ("Europe/London", "GMT Standard Time", 0, Rule::Eu),
    ("Europe/Dublin", "GMT Standard Time", 0, Rule::Eu),
    ("Europe/Lisbon", "GMT Standard Time", 0, Rule::Eu),
    (
        "Atlantic/Reykjavik",
        "Greenwich Standard Time",
        0,
        Rule::None,
    ),
    ("Europe/Berlin", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Amsterdam", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Vienna", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Rome", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Stockholm", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Zurich", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Oslo", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Luxembourg", "W. Europe Standard Time", 60, Rule::Eu),
    ("Europe/Paris", "Romance Standard Time", 60, Rule::Eu),
    ("Europe/Brussels", "Romance Standard Time", 60, Rule::Eu),
    ("Europe/Madrid", "Romance Standard Time", 60, Rule::Eu),
    ("Europe/Copenhagen", "Romance Standard Time", 60, Rule::Eu),
    (
        "Europe/Warsaw",
        "Central European Standard Time",
        60,
        Rule::Eu,
    ),
    (
        "Europe/Zagreb",
        "Central European Standard Time",
        60,
        Rule::Eu,
    ),
    (
        "Europe/Prague",
        "Central Europe Standard Time",
        60,
        Rule::Eu,
    ),
    (
        "Europe/Budapest",
        "Central Europe Standard Time",
        60,
        Rule::Eu,
    ),
    (
        "Europe/Belgrade",
        "Central Europe Standard Time",
        60,
        Rule::Eu,
    ),
    (
        "Europe/Bratislava",
        "Central Europe Standard Time",
        60,
        Rule::Eu,
    ),
    (
        "Africa/Lagos",
        "W. Central Africa Standard Time",
        60,
        Rule::None,
    ),
    ("Europe/Helsinki", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Kiev", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Kyiv", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Riga", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Tallinn", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Vilnius", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Sofia", "FLE Standard Time", 120, Rule::Eu),
    ("Europe/Athens", "GTB Standard Time", 120, Rule::Eu),
    ("Europe/Bucharest", "GTB Standard Time", 120, Rule::Eu),
    (
        "Africa/Johannesburg",
        "South Africa Standard Time",
        120,
        Rule::None,
    ),
    ("Europe/Istanbul", "Turkey Standard Time", 180, Rule::None),
    ("Europe/Moscow", "Russian Standard Time", 180, Rule::None),
    ("Africa/Nairobi", "E. Africa Standard Time", 180, Rule::None),
    ("Asia/Riyadh", "Arab Standard Time", 180, Rule::None),
    ("Asia/Dubai", "Arabian Standard Time", 240, Rule::None),
    ("Asia/Karachi", "Pakistan Standard Time", 300, Rule::None),
    ("Asia/Kolkata", "India Standard Time", 330, Rule::None),
    ("Asia/Calcutta", "India Standard Time", 330, Rule::None),
    ("Asia/Bangkok", "SE Asia Standard Time", 420, Rule::None),
    ("Asia/Jakarta", "SE Asia Standard Time", 420, Rule::None),
    ("Asia/Shanghai", "China Standard Time", 480, Rule::None),
    ("Asia/Hong_Kong", "China Standard Time", 480, Rule::None),
    ("Asia/Singapore", "Singapore Standard Time", 480, Rule::None),
    ("Asia/Taipei", "Taipei Standard Time", 480, Rule::None),
    (
        "Australia/Perth",
        "W. Australia Standard Time",
        480,
        Rule::None,
    ),
    ("Asia/Tokyo", "Tokyo Standard Time", 540, Rule::None),
    ("Asia/Seoul", "Korea Standard Time", 540, Rule::None),
    (
        "Australia/Brisbane",
        "E. Australia Standard Time",
        600,
        Rule::None,
    ),
    (
        "Australia/Sydney",
        "AUS Eastern Standard Time",
        600,
        Rule::Au,
    ),
    (
        "Australia/Melbourne",
        "AUS Eastern Standard Time",
        600,
        Rule::Au,
    ),
    (
        "Pacific/Auckland",
        "New Zealand Standard Time",
        720,
        Rule::Nz,
    ),
    (
        "America/Sao_Paulo",
        "E. South America Standard Time",
        -180,
        Rule::None,
    ),
    (
        "America/Argentina/Buenos_Aires",
        "Argentina Standard Time",
        -180,
        Rule::None,
    ),
    ("America/Halifax", "Atlantic Standard Time", -240, Rule::Us),
    ("America/New_York", "Eastern Standard Time", -300, Rule::Us),
    ("America/Toronto", "Eastern Standard Time", -300, Rule::Us),
    ("America/Detroit", "Eastern Standard Time", -300, Rule::Us),
    (
        "America/Bogota",
        "SA Pacific Standard Time",
        -300,
        Rule::None,
    ),
    ("America/Chicago", "Central Standard Time", -360, Rule::Us),
    ("America/Winnipeg", "Central Standard Time", -360, Rule::Us),
    (
        "America/Mexico_City",
        "Central Standard Time (Mexico)",
        -360,
        Rule::None,
    ),
    ("America/Denver", "Mountain Standard Time", -420, Rule::Us),
    ("America/Edmonton", "Mountain Standard Time", -420, Rule::Us),
    (
        "America/Phoenix",
        "US Mountain Standard Time",
        -420,
        Rule::None,
    ),
    (
        "America/Los_Angeles",
        "Pacific Standard Time",
        -480,
        Rule::Us,
    ),
    ("America/Vancouver", "Pacific Standard Time", -480, Rule::Us),
    ("America/Anchorage", "Alaskan Standard Time", -540, Rule::Us),
    (
        "Pacific/Honolulu",
        "Hawaiian Standard Time",
        -600,
        Rule::None,
    ),
];

fn row(zone: &str) -> Option<&'static (&'static str, &'static str, i64, Rule)> {
    ZONES
        .iter()
        .find(|z| z.0.eq_ignore_ascii_case(zone))
        .or_else(|| ZONES.iter().find(|z| z.1.eq_ignore_ascii_case(zone)))
}

/// The Windows name of an IANA zone (a Windows name is returned as itself).
pub fn windows_zone(zone: &str) -> Option<&'static str> {
    row(zone).map(|z| z.1)
}

/// The IANA name of a Windows zone (an IANA name in the table is returned as itself).
pub fn iana_zone(zone: &str) -> Option<&'static str> {
    row(zone).map(|z| z.0)
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or(NaiveDate::MIN)
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .unwrap_or(NaiveDate::MIN);
    let mut d = next - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

fn at(d: NaiveDate, h: u32) -> NaiveDateTime {
    d.and_hms_opt(h, 0, 0).unwrap_or_default()
}

/// Whether this UTC instant is in daylight-saving time under `rule` (standard offset `std`).
fn is_dst(rule: Rule, std: i64, utc: NaiveDateTime) -> bool {
    let y = utc.year();
    let std_d = Duration::minutes(std);
    let dst_d = Duration::minutes(std + 60);
    match rule {
        Rule::None => false,
        Rule::Eu => utc >= at(last_sunday(y, 3), 1) && utc < at(last_sunday(y, 10), 1),
        Rule::Us => {
            utc >= at(nth_sunday(y, 3, 2), 2) - std_d && utc < at(nth_sunday(y, 11, 1), 2) - dst_d
        }
        Rule::Au => {
            utc < at(nth_sunday(y, 4, 1), 3) - dst_d || utc >= at(nth_sunday(y, 10, 1), 2) - std_d
        }
        Rule::Nz => {
            utc < at(nth_sunday(y, 4, 1), 3) - dst_d || utc >= at(last_sunday(y, 9), 2) - std_d
        }
    }
}

/// The UTC time of a local time in a zone (IANA or Windows name); None for an unknown zone.
/// A local time that occurs twice (autumn) is the first; one that does not exist (spring)
/// is read with the standard offset.
pub fn to_utc(local: NaiveDateTime, zone: &str) -> Option<NaiveDateTime> {
    let &(_, _, std, rule) = row(zone)?;
    let dst = local - Duration::minutes(std + 60);
    if rule != Rule::None && is_dst(rule, std, dst) {
        return Some(dst);
    }
    Some(local - Duration::minutes(std))
}

/// The local time in a zone of a UTC time; None for an unknown zone.
pub fn from_utc(utc: NaiveDateTime, zone: &str) -> Option<NaiveDateTime> {
    let &(_, _, std, rule) = row(zone)?;
    let off = if is_dst(rule, std, utc) {
        std + 60
    } else {
        std
    };
    Some(utc + Duration::minutes(off))
}

fn offset(min: i64) -> String {
    let sign = if min < 0 { '-' } else { '+' };
    format!("{sign}{:02}{:02}", min.abs() / 60, min.abs() % 60)
}

/// A VTIMEZONE component for a zone of the table (RFC 5545 §3.6.5), its current rules.
pub fn vtimezone(zone: &str) -> Option<String> {
    let &(iana, _, std, rule) = row(zone)?;
    let (s, d) = (offset(std), offset(std + 60));
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{iana}\r\n");
    let part = |name: &str, from: &str, to: &str, start: &str, rrule: &str| {
        format!(
            "BEGIN:{name}\r\nTZOFFSETFROM:{from}\r\nTZOFFSETTO:{to}\r\nDTSTART:{start}\r\nRRULE:{rrule}\r\nEND:{name}\r\n"
        )
    };
    // The local times of the changes, in the offset before them.
    let eu = |h: i64| format!("19700101T{:02}0000", h);
    match rule {
        Rule::None => out.push_str(&format!(
            "BEGIN:STANDARD\r\nTZOFFSETFROM:{s}\r\nTZOFFSETTO:{s}\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\n"
        )),
        Rule::Eu => {
            out.push_str(&part(
                "DAYLIGHT",
                &s,
                &d,
                &eu(1 + std / 60),
                "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            ));
            out.push_str(&part(
                "STANDARD",
                &d,
                &s,
                &eu(2 + std / 60),
                "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
            ));
        }
        Rule::Us => {
            out.push_str(&part(
                "DAYLIGHT",
                &s,
                &d,
                "19700308T020000",
                "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
            ));
            out.push_str(&part(
                "STANDARD",
                &d,
                &s,
                "19701101T020000",
                "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
            ));
        }
        Rule::Au | Rule::Nz => {
            let (m, by) = if rule == Rule::Au {
                ("19701004T020000", "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU")
            } else {
                ("19700927T020000", "FREQ=YEARLY;BYMONTH=9;BYDAY=-1SU")
            };
            out.push_str(&part("DAYLIGHT", &s, &d, m, by));
            out.push_str(&part(
                "STANDARD",
                &d,
                &s,
                "19700405T030000",
                "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU",
            ));
        }
    }
    out.push_str("END:VTIMEZONE\r\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
    }

    #[test]
    fn names_map_both_ways() {
        assert_eq!(
            windows_zone("Europe/Berlin"),
            Some("W. Europe Standard Time")
        );
        assert_eq!(iana_zone("Eastern Standard Time"), Some("America/New_York"));
        assert_eq!(iana_zone("Tokyo Standard Time"), Some("Asia/Tokyo"));
        assert_eq!(windows_zone("Mars/Olympus"), None);
    }

    #[test]
    fn offsets_follow_the_rules() {
        // Berlin: winter +1, summer +2, changes at 01:00 UTC on 2026-03-29 and 2026-10-25.
        assert_eq!(
            to_utc(t("20260105T090000"), "Europe/Berlin"),
            Some(t("20260105T080000"))
        );
        assert_eq!(
            to_utc(t("20260707T090000"), "Europe/Berlin"),
            Some(t("20260707T070000"))
        );
        assert_eq!(
            to_utc(t("20260329T013000"), "Europe/Berlin"),
            Some(t("20260329T003000"))
        );
        assert_eq!(
            to_utc(t("20260329T040000"), "Europe/Berlin"),
            Some(t("20260329T020000"))
        );
        // New York: DST from 2026-03-08 02:00 to 2026-11-01 02:00.
        assert_eq!(
            to_utc(t("20260302T090000"), "America/New_York"),
            Some(t("20260302T140000"))
        );
        assert_eq!(
            to_utc(t("20260309T090000"), "America/New_York"),
            Some(t("20260309T130000"))
        );
        assert_eq!(
            to_utc(t("20261101T003000"), "America/New_York"),
            Some(t("20261101T043000"))
        );
        assert_eq!(
            to_utc(t("20261101T030000"), "America/New_York"),
            Some(t("20261101T080000"))
        );
        assert_eq!(
            to_utc(t("20260512T093000"), "Asia/Tokyo"),
            Some(t("20260512T003000"))
        );
        // Sydney: summer in January.
        assert_eq!(
            to_utc(t("20260115T100000"), "Australia/Sydney"),
            Some(t("20260114T230000"))
        );
        for (l, z) in [
            ("20260309T090000", "America/New_York"),
            ("20260707T090000", "W. Europe Standard Time"),
            ("20260115T100000", "AUS Eastern Standard Time"),
        ] {
            assert_eq!(from_utc(to_utc(t(l), z).unwrap(), z), Some(t(l)));
        }
        assert!(
            vtimezone("Europe/Berlin")
                .unwrap()
                .contains("TZOFFSETTO:+0200")
        );
    }
}
