//! The concrete risks an assessment finds: logins, oversize messages, quota, folder creation,
//! folder names, server capabilities.

use std::collections::BTreeMap;

use crate::api::ItemKind;
use crate::config::Project;
use crate::endpoint::SpecialUse;

use super::complexity::{collisions, merges};
use super::discovery::{MailboxAssessment, MessageRef};
use crate::mail::fmt::bytes;

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
        let mut per_folder: BTreeMap<(&str, ItemKind), (usize, u64)> = BTreeMap::new();
        for m in &a.oversize {
            let e = per_folder.entry((m.folder.as_str(), m.kind)).or_default();
            e.0 += 1;
            e.1 = e.1.max(m.size);
        }
        let mut attached: BTreeMap<&str, Vec<&(MessageRef, String, u64)>> = BTreeMap::new();
        for b in &a.big_attachments {
            attached.entry(b.0.folder.as_str()).or_default().push(b);
        }
        for (folder, events) in attached {
            let largest = events
                .iter()
                .max_by_key(|b| b.2)
                .map(|b| (b.1.as_str(), b.2));
            let (name, size) = largest.unwrap_or(("", 0));
            push(
                "warning",
                k,
                format!(
                    "{} event(s) in {}/{folder} carry an attachment over the {} the destination takes per event attachment (largest: {name}, {}): they will be skipped with a recorded reason",
                    events.len(),
                    a.key,
                    bytes(a.attachment_limit.unwrap_or(0)),
                    bytes(size)
                ),
            );
        }
        for ((folder, kind), (n, max)) in per_folder {
            // An event or a contact over the limit does not carry over: say which kind.
            let what = match kind {
                ItemKind::Mail => "message(s)",
                ItemKind::Event => "event(s)",
                ItemKind::Contact => "contact(s)",
            };
            push(
                "warning",
                k,
                format!(
                    "{n} {what} over {} in {}/{folder} (largest {}): they will be skipped with a recorded reason",
                    bytes(a.limit_for(kind).unwrap_or(0)),
                    a.key,
                    bytes(max)
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
                        bytes(need),
                        bytes(free),
                        bytes(limit),
                        bytes(used)
                    ),
                );
            } else if limit > 0 && (used + need) * 10 > limit * 9 {
                push(
                    "warning",
                    k,
                    format!(
                        "destination quota of {} will be over 90% full after the copy ({} of {})",
                        a.key,
                        bytes(used + need),
                        bytes(limit)
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
    // IMAP's capabilities, where the side speaks IMAP (Graph, Gmail API, POP3 and Maildir
    // have none of these to lack).
    let imap = |e: &crate::config::Endpoint| e.kind == crate::config::EndpointKind::Imap;
    if imap(&project.source)
        && let Some(sc) = caps(|a| &a.src_caps)
    {
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
    if imap(&project.destination)
        && let Some(dc) = caps(|a| &a.dst_caps)
    {
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

#[cfg(test)]
mod tests {
    use super::super::discovery::{FolderAssessment, MessageRef};
    use super::*;

    fn project(dir: &std::path::Path) -> Project {
        let file = dir.join("p.toml");
        std::fs::write(
            &file,
            "[project]\nname = \"t\"\nstate = \"state.sqlite\"\n\n\
             [source]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
             [destination]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
             [[mailbox]]\nbatch = \"b\"\nsource = { user = \"a\", password = \"x\" }\ndestination = { user = \"a\", password = \"x\" }\n",
        )
        .unwrap();
        crate::config::load(&file).unwrap()
    }

    #[test]
    fn events_over_the_collections_limit_are_named_as_events() {
        let dir = tempfile::tempdir().unwrap();
        let folder = |name: &str, kind, messages| FolderAssessment {
            folder: name.into(),
            dst: Some(name.into()),
            kind,
            messages,
            bytes: messages * 100,
            ..Default::default()
        };
        let over = |folder: &str, kind, size| MessageRef {
            folder: folder.into(),
            kind,
            uid: 1,
            size,
        };
        let a = MailboxAssessment {
            key: "a->a".into(),
            folders: vec![
                folder("INBOX", ItemKind::Mail, 3),
                folder("calendar:work", ItemKind::Event, 4),
                folder("calendar:home", ItemKind::Event, 1),
                folder("contacts:default", ItemKind::Contact, 2),
            ],
            size_limit: Some(10_000_000),
            item_limit: Some(1_000),
            oversize: vec![
                over("INBOX", ItemKind::Mail, 20_000_000),
                over("calendar:work", ItemKind::Event, 5_000),
            ],
            probe: Some(Ok(())),
            ..Default::default()
        };
        assert!(a.mixed());
        assert_eq!(
            a.by_kind(),
            vec![
                (ItemKind::Mail, 3, 300),
                (ItemKind::Event, 5, 500),
                (ItemKind::Contact, 2, 200)
            ]
        );
        let r = risks(&project(dir.path()), &[a]);
        let texts: Vec<&str> = r.iter().map(|r| r.message.as_str()).collect();
        assert!(
            texts.contains(
                &"1 event(s) over 1.0 kB in a->a/calendar:work (largest 5.0 kB): they will be skipped with a recorded reason"
            ),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("1 message(s) over 10.0 MB in a->a/INBOX")),
            "{texts:?}"
        );
    }
}
