//! The concrete risks an assessment finds: logins, oversize messages, quota, folder creation,
//! folder names, server capabilities.

use std::collections::BTreeMap;

use crate::config::Project;
use crate::endpoint::SpecialUse;

use super::complexity::{collisions, merges};
use super::discovery::MailboxAssessment;
use super::fmt::human;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    /// "critical", "warning" or "info".
    pub severity: &'static str,
    pub mailbox: Option<String>,
    pub message: String,
}

fn has_cap(caps: &[String], name: &str) -> bool {
    caps.iter().any(|c| {
        let up = c.to_ascii_uppercase();
        up == name || up.starts_with(&format!("{name}="))
    })
}

/// The concrete risks found, most severe first.
pub fn risks(project: &Project, mbs: &[MailboxAssessment]) -> Vec<Risk> {
    let mut out = Vec::new();
    let mut push = |severity, mailbox: Option<&str>, message: String| {
        out.push(Risk {
            severity,
            mailbox: mailbox.map(str::to_string),
            message,
        })
    };
    for a in mbs {
        let k = Some(a.key.as_str());
        if let Some(e) = &a.src_error {
            push("critical", k, format!("{}: cannot assess: {e}", a.key));
        }
        if let Some(e) = &a.dst_error {
            push("critical", k, format!("{}: cannot assess: {e}", a.key));
        }
        if let Some(e) = &a.read_error {
            push(
                "critical",
                k,
                format!("{}: logged in but could not read everything: {e}", a.key),
            );
        }
        if !a.complete() {
            continue;
        }
        let mut per_folder: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        for m in &a.oversize {
            let e = per_folder.entry(m.folder.as_str()).or_default();
            e.0 += 1;
            e.1 = e.1.max(m.size);
        }
        for (folder, (n, max)) in per_folder {
            push(
                "warning",
                k,
                format!(
                    "{n} message(s) over {} in {}/{folder} (largest {}): they will be skipped with a recorded reason",
                    human(a.size_limit.unwrap_or(0)),
                    a.key,
                    human(max)
                ),
            );
        }
        if let Some((used, limit)) = a.quota {
            let free = limit.saturating_sub(used);
            let need = a.to_copy_bytes();
            if need > free {
                push(
                    "critical",
                    k,
                    format!(
                        "destination quota too small for {}: needs {}, has {} free (limit {}, used {})",
                        a.key,
                        human(need),
                        human(free),
                        human(limit),
                        human(used)
                    ),
                );
            } else if limit > 0 && (used + need) * 10 > limit * 9 {
                push(
                    "warning",
                    k,
                    format!(
                        "destination quota of {} will be over 90% full after the copy ({} of {})",
                        a.key,
                        human(used + need),
                        human(limit)
                    ),
                );
            }
        }
        if let Some(Err(e)) = &a.probe {
            push(
                "critical",
                k,
                format!("{}: cannot create folders on the destination: {e}", a.key),
            );
        }
        for (x, y) in collisions(a) {
            push(
                "warning",
                k,
                format!(
                    "{}: folder names that collide after case folding: {x:?} and {y:?} (a case-insensitive destination merges them; add a [folders] rename rule)",
                    a.key
                ),
            );
        }
        for (d, srcs) in merges(a) {
            push(
                "warning",
                k,
                format!(
                    "{}: {} land in the same folder {d} (merged; add a [folders] rename rule to keep them apart)",
                    a.key,
                    srcs.join(", ")
                ),
            );
        }
        for f in &a.folders {
            if f.special == Some(SpecialUse::All)
                && f.dst.is_some()
                && f.why != crate::sync::gmail::ALL_MAIL_WHY
            {
                push(
                    "warning",
                    k,
                    format!(
                        "{}: {} is an \\All folder: its messages are copied again besides their folders",
                        a.key, f.folder
                    ),
                );
            }
        }
    }
    // Server capabilities, once per side (from the first mailbox that logged in).
    let caps = |side: fn(&MailboxAssessment) -> &Vec<String>| {
        mbs.iter().find(|a| a.logged_in()).map(|a| side(a).clone())
    };
    if let Some(sc) = caps(|a| &a.src_caps) {
        if !has_cap(&sc, "UIDPLUS") {
            push(
                "info",
                None,
                format!(
                    "source {} lacks UIDPLUS (no effect on reading; noted for fail-back)",
                    project.source.host
                ),
            );
        }
        if !has_cap(&sc, "SPECIAL-USE") {
            push(
                "info",
                None,
                format!(
                    "source {} lacks SPECIAL-USE: special folders are recognised by well-known names only",
                    project.source.host
                ),
            );
        }
    }
    if let Some(dc) = caps(|a| &a.dst_caps) {
        if !has_cap(&dc, "UIDPLUS") {
            push(
                "warning",
                None,
                format!(
                    "destination {} lacks UIDPLUS: destination UIDs are found by fingerprint after each APPEND (slower, heavier resume)",
                    project.destination.host
                ),
            );
        }
        if !has_cap(&dc, "LITERAL+") {
            push(
                "info",
                None,
                format!(
                    "destination {} lacks LITERAL+: every APPEND waits for a continuation (slower)",
                    project.destination.host
                ),
            );
        }
        if !has_cap(&dc, "QUOTA") {
            push(
                "info",
                None,
                format!(
                    "destination {} announces no QUOTA: free space cannot be checked",
                    project.destination.host
                ),
            );
        }
    }
    let rank = |s: &str| match s {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    };
    out.sort_by_key(|r| rank(r.severity));
    out
}
