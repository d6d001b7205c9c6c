//! Figures and text as the reports print them: percentages, bytes, durations, and HTML
//! escaping (for the HTML report and its SVG charts).

/// `n / d` as a percentage with two decimals, rounded down (99.996% never shows as 100.00%);
/// "n/a" when `d` is 0.
pub fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        return "n/a".into();
    }
    let hundredths = (u128::from(n) * 10_000) / u128::from(d);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// Bytes as a human figure (SI units, as the CLI prints them).
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

pub(crate) fn duration(secs: Option<i64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) => format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60),
    }
}

/// Escape text for HTML content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
