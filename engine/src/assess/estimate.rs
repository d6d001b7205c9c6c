//! Duration estimates per batch, from the throughput the journal measured in earlier runs.

use super::fmt::human;

#[derive(Debug, Clone)]
pub struct BatchEstimate {
    pub batch: String,
    pub mailboxes: usize,
    pub bytes_to_copy: u64,
    /// Seconds, from measured throughput; None: no measurement yet.
    pub secs: Option<f64>,
}

/// "estimate: about 3 min at 12.5 MB/s measured over 2 earlier run(s)", "estimate: no
/// measurement yet (run a pilot batch first)", or "nothing left to copy".
pub fn estimate_text(e: &BatchEstimate, throughput: Option<(u64, f64, u32)>) -> String {
    if e.bytes_to_copy == 0 {
        return "nothing left to copy".into();
    }
    match (e.secs, throughput) {
        (Some(s), Some((b, secs, n))) => format!(
            "estimate: about {} at {}/s measured over {n} earlier run(s)",
            duration_words(s),
            human((b as f64 / secs) as u64)
        ),
        _ => "estimate: no measurement yet (run a pilot batch first)".into(),
    }
}

fn duration_words(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{} h {} min", s / 3600, (s % 3600).div_ceil(60))
    }
}
