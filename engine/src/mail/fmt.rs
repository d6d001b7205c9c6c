//! The one formatter of figures for people: byte counts, percentages and durations. The
//! engine's messages, the reports, the CLI and the console all print them through here, so a
//! figure reads the same wherever it shows.
//!
//! Bytes come in two unit systems, each kept where it was used before: SI ("1.2 MB") for
//! amounts of mail (reports, the CLI, the console, assessment), IEC ("35.0 MiB") for limits
//! and caps, the units the project file's `max_message_size` is usually written in.

/// Bytes in SI units ("1.2 MB"): amounts of mail, as reports, the CLI and the console print
/// them.
pub fn bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().si().to_string()
}

/// Bytes in IEC units ("35.0 MiB"): limits and caps.
pub fn bytes_iec(n: u64) -> String {
    bytesize::ByteSize(n).display().iec().to_string()
}

/// An exact byte count with its IEC figure, for limits in error messages:
/// "400000000 bytes (381.5 MiB)".
pub fn bytes_exact(n: u64) -> String {
    format!("{n} bytes ({})", bytesize::ByteSize(n).display().iec())
}

/// `n / d` as a percentage with two decimals, rounded down (99.996% never shows as 100.00%);
/// "n/a" when `d` is 0.
pub fn percent(n: u64, d: u64) -> String {
    if d == 0 {
        return "n/a".into();
    }
    let hundredths = (u128::from(n) * 10_000) / u128::from(d);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// Seconds as a clock, "hh:mm:ss" (a negative span shows as zero).
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Seconds as "h:mm:ss" (hours not padded), "-" when unknown.
pub fn duration(secs: Option<i64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) => format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60),
    }
}

/// Seconds in words, rounded up to the minute past one minute: "45 s", "3 min", "2 h 5 min".
pub fn duration_words(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{} h {} min", s / 3600, (s % 3600).div_ceil(60))
    }
}

/// `30s`, `15m`, `2h`, `1h30m`, `1d`: a duration of at least one second.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{s:?} is not a duration (write 30s, 15m, 2h or 1h30m)");
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    if !num.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        use std::time::Duration;
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        for bad in ["", "15", "m", "0m", "15x", "-1m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    /// The exact strings the callers printed before the formatter was shared.
    #[test]
    fn byte_figures_are_what_bytesize_printed() {
        for n in [
            0,
            1,
            999,
            1000,
            1023,
            1024,
            1_500_000,
            35 * 1024 * 1024,
            400_000_000,
        ] {
            assert_eq!(bytes(n), bytesize::ByteSize(n).display().si().to_string());
            assert_eq!(bytes_iec(n), format!("{}", bytesize::ByteSize(n)));
        }
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(bytes_iec(35 * 1024 * 1024), "35.0 MiB");
        assert_eq!(bytes_exact(400_000_000), "400000000 bytes (381.5 MiB)");
    }

    #[test]
    fn percentages_round_down_and_handle_zero() {
        assert_eq!(percent(9999, 10000), "99.99%");
        assert_eq!(percent(99_999, 100_000), "99.99%");
        assert_eq!(percent(1, 3), "33.33%");
        assert_eq!(percent(5, 5), "100.00%");
        assert_eq!(percent(1, 0), "n/a");
        assert_eq!(percent(u64::MAX, u64::MAX), "100.00%");
    }

    #[test]
    fn durations() {
        assert_eq!(hms(3725), "01:02:05");
        assert_eq!(hms(-4), "00:00:00");
        assert_eq!(duration(Some(3725)), "1:02:05");
        assert_eq!(duration(None), "-");
        assert_eq!(duration_words(45.0), "45 s");
        assert_eq!(duration_words(121.0), "3 min");
        assert_eq!(duration_words(7500.0), "2 h 5 min");
    }
}
