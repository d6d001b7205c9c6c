//! `[source.graph_limits]` / `[destination.graph_limits]`: the limits Exchange Online applies to
//! Graph per app and mailbox, which cutover keeps on its own side so that a mailbox runs at
//! its ceiling without being throttled. The defaults are Microsoft's published figures (4
//! requests at once, 10,000 requests per 10 minutes, 150 MB uploaded per 5 minutes); the table
//! is there for when Microsoft changes them or a tenant has other limits.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::checks;

/// The table as the file has it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGraphLimits {
    #[serde(default)]
    concurrent: Option<Spanned<usize>>,
    #[serde(default)]
    requests: Option<Spanned<u32>>,
    #[serde(default)]
    requests_window: Option<Spanned<String>>,
    #[serde(default)]
    upload: Option<Spanned<String>>,
    #[serde(default)]
    upload_window: Option<Spanned<String>>,
}

/// Exchange Online's per app-and-mailbox limits on Graph, as cutover keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphLimits {
    /// Requests in flight at once.
    pub concurrent: usize,
    /// Requests per `requests_window`.
    pub requests: u32,
    pub requests_window: Duration,
    /// Request bytes per `upload_window`.
    pub upload_bytes: u64,
    pub upload_window: Duration,
}

impl Default for GraphLimits {
    fn default() -> GraphLimits {
        GraphLimits {
            concurrent: 4,
            requests: 10_000,
            requests_window: Duration::from_secs(600),
            upload_bytes: 150 * 1024 * 1024,
            upload_window: Duration::from_secs(300),
        }
    }
}

const CONCURRENT: RangeInclusive<usize> = 1..=64;
const REQUESTS: RangeInclusive<u32> = 1..=10_000_000;
const UPLOAD: RangeInclusive<u64> = 64 * 1024..=100 * 1024 * 1024 * 1024;
const WINDOW: RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(86_400);

/// Validate the table of one side (only a Graph endpoint takes it). Err((offset, message))
/// names the key.
pub(super) fn graph_limits(
    section: &str,
    graph: bool,
    raw: Option<&Spanned<RawGraphLimits>>,
) -> Result<GraphLimits, (usize, String)> {
    let mut l = GraphLimits::default();
    let Some(raw) = raw else { return Ok(l) };
    if !graph {
        return Err((
            raw.span().start,
            format!("{section}.graph_limits: only a kind = \"graph\" endpoint has Graph's limits"),
        ));
    }
    let raw = raw.get_ref();
    let key = |k: &str| format!("{section}.graph_limits.{k}");
    if let Some(v) = &raw.concurrent {
        checks::in_range(&key("concurrent"), v.get_ref(), &CONCURRENT)
            .map_err(|m| (v.span().start, m))?;
        l.concurrent = *v.get_ref();
    }
    if let Some(v) = &raw.requests {
        checks::in_range(&key("requests"), v.get_ref(), &REQUESTS)
            .map_err(|m| (v.span().start, m))?;
        l.requests = *v.get_ref();
    }
    if let Some(v) = &raw.upload {
        let at = v.span().start;
        let size = v
            .get_ref()
            .parse::<bytesize::ByteSize>()
            .map_err(|e| {
                (
                    at,
                    format!(
                        "{}: expected a size such as \"150 MiB\": {e}",
                        key("upload")
                    ),
                )
            })?
            .as_u64();
        if !UPLOAD.contains(&size) {
            return Err((
                at,
                format!(
                    "{}: {:?} is out of range: expected 64 KiB to 100 GiB",
                    key("upload"),
                    v.get_ref()
                ),
            ));
        }
        l.upload_bytes = size;
    }
    for (name, v, slot) in [
        (
            "requests_window",
            &raw.requests_window,
            &mut l.requests_window,
        ),
        ("upload_window", &raw.upload_window, &mut l.upload_window),
    ] {
        let Some(v) = v else { continue };
        let at = v.span().start;
        let d = crate::mail::fmt::parse_duration(v.get_ref())
            .map_err(|e| (at, format!("{}: {e}", key(name))))?;
        if !WINDOW.contains(&d) {
            return Err((
                at,
                format!(
                    "{}: {:?} is out of range: expected 1s to 1d",
                    key(name),
                    v.get_ref()
                ),
            ));
        }
        *slot = d;
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Spanned<RawGraphLimits> {
        #[derive(Deserialize)]
        struct T {
            graph_limits: Spanned<RawGraphLimits>,
        }
        toml::from_str::<T>(text).unwrap().graph_limits
    }

    #[test]
    fn defaults_are_microsofts_and_the_table_overrides_them() {
        assert_eq!(
            graph_limits("destination", true, None).unwrap(),
            GraphLimits::default()
        );
        let r = raw(
            "[graph_limits]\nconcurrent = 2\nrequests = 500\nrequests_window = \"1m\"\nupload = \"2 MiB\"\nupload_window = \"3s\"\n",
        );
        let l = graph_limits("destination", true, Some(&r)).unwrap();
        assert_eq!(
            l,
            GraphLimits {
                concurrent: 2,
                requests: 500,
                requests_window: Duration::from_secs(60),
                upload_bytes: 2 * 1024 * 1024,
                upload_window: Duration::from_secs(3),
            }
        );
    }

    #[test]
    fn bad_values_and_other_kinds_are_refused_by_key() {
        let r = raw("[graph_limits]\nupload_window = \"soon\"\n");
        let (_, m) = graph_limits("destination", true, Some(&r)).unwrap_err();
        assert!(m.contains("destination.graph_limits.upload_window"), "{m}");
        let r = raw("[graph_limits]\nconcurrent = 0\n");
        let (_, m) = graph_limits("source", true, Some(&r)).unwrap_err();
        assert!(m.contains("source.graph_limits.concurrent"), "{m}");
        let r = raw("[graph_limits]\nupload = \"1 KiB\"\n");
        let (_, m) = graph_limits("destination", true, Some(&r)).unwrap_err();
        assert!(m.contains("out of range"), "{m}");
        let r = raw("[graph_limits]\nconcurrent = 2\n");
        let (_, m) = graph_limits("destination", false, Some(&r)).unwrap_err();
        assert!(m.contains("only a kind = \"graph\""), "{m}");
    }
}
