//! The HTML report's charts, as inline SVG: throughput per hour and progress per batch.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::escape::html_escape;
use crate::mail::fmt::{self, percent};

/// The hours from the first to the last with a copy, quiet hours as zero, so the chart's
/// x axis is time (at most 14 days of hours; beyond that only the hours with copies).
pub fn fill_hours(hours: &[(String, u64, u64)]) -> Vec<(String, u64, u64)> {
    let parse = |h: &str| {
        chrono::NaiveDateTime::parse_from_str(&format!("{h}:00:00"), "%Y-%m-%dT%H:%M:%S").ok()
    };
    let (Some(first), Some(last)) = (
        hours.first().and_then(|h| parse(&h.0)),
        hours.last().and_then(|h| parse(&h.0)),
    ) else {
        return hours.to_vec();
    };
    let span = (last - first).num_hours();
    if !(0..=24 * 14).contains(&span) {
        return hours.to_vec();
    }
    let have: HashMap<&str, (u64, u64)> = hours
        .iter()
        .map(|(h, n, b)| (h.as_str(), (*n, *b)))
        .collect();
    (0..=span)
        .map(|i| {
            let h = (first + chrono::Duration::hours(i))
                .format("%Y-%m-%dT%H")
                .to_string();
            let (n, b) = have.get(h.as_str()).copied().unwrap_or_default();
            (h, n, b)
        })
        .collect()
}

/// Bar chart of messages copied per hour (inline SVG).
pub fn throughput_svg(hours: &[(String, u64, u64)]) -> String {
    let hours = &fill_hours(hours)[..];
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 60.0, 40.0, 20.0);
    let max = hours.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let n = hours.len().max(1) as f64;
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    // Bars at most 48 px wide, so one hour is not a wall of colour.
    let bar = (plot_w / n).min(48.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"messages copied per hour\">\n"
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#444\"/><line x1=\"{left}\" y1=\"{0}\" x2=\"{}\" y2=\"{0}\" stroke=\"#444\"/>",
        top + plot_h,
        w - 10.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{max}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top + 4.0,
        left - 4.0,
        top + plot_h
    );
    for (i, (hour, msgs, bytes)) in hours.iter().enumerate() {
        let bh = plot_h * (*msgs as f64) / (max as f64);
        let x = left + bar * i as f64 + 1.0;
        let y = top + plot_h - bh;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#2f6fb3\"><title>{}:00 UTC: {msgs} messages, {}</title></rect>",
            (bar - 2.0).max(1.0),
            html_escape(hour),
            html_escape(&fmt::bytes(*bytes))
        );
    }
    if let (Some(first), Some(last)) = (hours.first(), hours.last()) {
        let _ = writeln!(
            s,
            "<text x=\"{left}\" y=\"{}\" font-size=\"11\">{}:00</text><text x=\"{}\" y=\"{0}\" font-size=\"11\" text-anchor=\"end\">{}:00</text>",
            h - bottom + 16.0,
            html_escape(&first.0),
            w - 10.0,
            html_escape(&last.0)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">messages copied per hour (UTC)</text>",
        left + plot_w / 2.0,
        h - 6.0
    );
    s.push_str("</svg>\n");
    s
}

/// One progress bar per batch: copied / on the source (inline SVG).
/// Rows: (batch, copied, on the source, mailboxes never listed).
pub fn batches_svg(rows: &[(String, u64, u64, usize)]) -> String {
    let (w, row_h, label_w) = (720.0_f64, 28.0_f64, 160.0_f64);
    let h = row_h * rows.len().max(1) as f64 + 8.0;
    let bar_w = w - label_w - 320.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"progress per batch\">\n"
    );
    for (i, (name, copied, on_source, unlisted)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let frac = if *on_source == 0 {
            0.0
        } else {
            (*copied as f64 / *on_source as f64).min(1.0)
        };
        let _ = writeln!(
            s,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{}</text><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{bar_w}\" height=\"18\" fill=\"#e3e3e3\" stroke=\"#999\"/><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"18\" fill=\"#2e8b3a\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{copied} / {on_source} ({}){}</text>",
            y + 13.0,
            html_escape(name),
            bar_w * frac,
            label_w + bar_w + 6.0,
            y + 13.0,
            percent(*copied, *on_source),
            if *unlisted > 0 {
                format!(", {unlisted} mailbox(es) not listed")
            } else {
                String::new()
            }
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Bar chart of items copied per day (inline SVG): (day, items, bytes), a bar per day.
pub fn days_svg(days: &[(String, u64, u64)]) -> String {
    let (w, h, left, bottom, top) = (720.0_f64, 200.0_f64, 60.0, 40.0, 20.0);
    let max = days.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let n = days.len().max(1) as f64;
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    let slot = plot_w / n;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"items copied per day\">\n"
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#444\"/><line x1=\"{left}\" y1=\"{0}\" x2=\"{}\" y2=\"{0}\" stroke=\"#444\"/>",
        top + plot_h,
        w - 10.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{max}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top + 4.0,
        left - 4.0,
        top + plot_h
    );
    for (i, (day, items, bytes)) in days.iter().enumerate() {
        let bh = plot_h * (*items as f64) / (max as f64);
        let x = left + slot * i as f64 + slot * 0.15;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#7a4fb3\"><title>{}: {items} items, {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            top + plot_h - bh,
            slot * 0.7,
            html_escape(day),
            html_escape(&fmt::bytes(*bytes)),
            x + slot * 0.35,
            h - bottom + 16.0,
            html_escape(day.get(5..).unwrap_or(day))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">items copied per day (UTC)</text>",
        left + plot_w / 2.0,
        h - 6.0
    );
    s.push_str("</svg>\n");
    s
}
