//! Lessons learned and recommendations: the operator's notes (`cutover report --note`, the
//! console's Reports tab), journalled with who and when, and until they are written the
//! suggestions cutover derives from what it saw: throttling that dominated, folders that
//! needed mapping rules or were refused, oversize items skipped, issues by kind, mailboxes
//! without proof of zero data loss or without an access check.

use std::collections::BTreeMap;

use super::metrics::metrics;
use super::model::Report;
use super::section::Section;
use super::weekly::throttling;

/// The two note sections, as the journal and `--note` name them.
pub const NOTE_SECTIONS: [&str; 2] = ["lessons", "recommendations"];

/// Suggested (lessons, recommendations) from the journal.
pub fn suggestions(r: &Report) -> (Vec<String>, Vec<String>) {
    let (mut lessons, mut recs) = (Vec::new(), Vec::new());
    // Issues by kind: rows and occurrences per category.
    let mut by: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for i in &r.issues {
        let e = by.entry(i.category.as_str()).or_default();
        e.0 += 1;
        e.1 += u64::from(i.count);
    }
    let (throttled, throttled_mbs, waited) = throttling(r, None);
    if throttled > 0 {
        let top = by.iter().max_by_key(|(_, (_, occ))| *occ).map(|(c, _)| *c);
        let dominated = top == Some("throttling");
        lessons.push(format!(
            "Throttling{}: {throttled} throttling answer(s) on {} mailbox(es), servers asked for {:.1} s of waits.",
            if dominated { " dominated the issues" } else { "" },
            throttled_mbs.len(),
            waited as f64 / 1000.0
        ));
        recs.push(
            "Lower parallel_mailboxes (or the endpoint's max_connections) and run large batches outside business hours.".into(),
        );
    }
    let refused: Vec<String> = r
        .mailboxes
        .iter()
        .filter(|m| !m.folders_not_copied.is_empty())
        .map(|m| format!("{} ({})", m.folders_not_copied.join(", "), m.key))
        .collect();
    let (excluded, renamed) = r.folder_rules;
    if excluded + renamed > 0 {
        lessons.push(format!(
            "The folders needed mapping rules: {renamed} rename rule(s) and {excluded} exclusion(s) in [folders]."
        ));
    }
    if !refused.is_empty() {
        lessons.push(format!(
            "Folders listed on the source were not copied: {}.",
            refused.join("; ")
        ));
        recs.push(
            "Add [folders] rename rules for the folder names the destination refuses, and run those mailboxes again before the next wave.".into(),
        );
    }
    // Oversize items: the `oversize` issues (one per item the destination could not take).
    let mut oversize = 0u64;
    let mut oversize_mbs: Vec<&str> = Vec::new();
    for i in r.issues.iter().filter(|i| i.category == "oversize") {
        oversize += 1;
        if let Some(m) = i.mailbox.as_deref()
            && !oversize_mbs.contains(&m)
        {
            oversize_mbs.push(m);
        }
    }
    if oversize > 0 {
        lessons.push(format!(
            "{oversize} oversize item(s) were skipped (over the destination's size limit): {}.",
            oversize_mbs.join(", ")
        ));
        recs.push(
            "Tell the owners of oversize items before the cutover (or raise the destination's limit), so they keep them by other means.".into(),
        );
    }
    if !by.is_empty() {
        lessons.push(format!(
            "Issues by kind: {}.",
            by.iter()
                .map(|(c, (n, occ))| format!("{c} {n} ({occ} occurrence(s))"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if by.contains_key("auth") {
        recs.push(
            "Check every mailbox's credentials with cutover assess before each wave: logins were refused.".into(),
        );
    }
    let m = metrics(r);
    if !m.unproven.is_empty() {
        recs.push(format!(
            "Run a full content verification (cutover verify PROJECT) of the {} mailbox(es) without proof of zero data loss before closing the project.",
            m.unproven.len()
        ));
    }
    if m.access_checked < m.mailboxes {
        recs.push(format!(
            "Check the users' access to their new mailboxes (cutover access PROJECT): {} of {} mailbox(es) never checked.",
            m.mailboxes - m.access_checked,
            m.mailboxes
        ));
    }
    (lessons, recs)
}

/// The "Lessons learned" and "Recommendations" sections.
pub(crate) fn sections(r: &Report) -> Vec<Section> {
    let (lessons, recs) = suggestions(r);
    [
        ("lessons", "Lessons learned", lessons),
        ("recommendations", "Recommendations", recs),
    ]
    .into_iter()
    .map(|(key, heading, suggested)| {
        let mut s = Section::new(heading);
        match r.notes.iter().find(|n| n.section == key) {
            Some(n) => {
                s.paragraphs
                    .push(format!("Written by {} on {}:", n.by, n.at));
                s.items = n
                    .text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| l.trim_start_matches("- ").to_string())
                    .collect();
            }
            None => {
                s.paragraphs.push(format!(
                    "Not written yet (cutover report PROJECT --note {key} TEXT, or {} in the console's Issues tab). Suggestions from the journal, for the operator to keep or edit:", if key == "lessons" { "L" } else { "M" }
                ));
                if suggested.is_empty() {
                    s.items.push("suggestion: none; nothing in the journal calls for one.".into());
                }
                s.items
                    .extend(suggested.into_iter().map(|x| format!("suggestion: {x}")));
            }
        }
        s
    })
    .collect()
}

/// The suggestions of each section ([`crate::api::NoteSection::ALL`] order), one a line, from
/// a final report of the journal as it is now: what the console's editor pre-fills. It
/// gathers a whole report, so the engine computes it off its loop.
pub fn suggestion_texts(
    project: &crate::config::Project,
    store: &crate::journal::Journal,
) -> Result<[String; 2], super::model::ReportError> {
    let now = super::gather::journal_now();
    let r = super::gather::gather(project, store, super::model::Kind::Final, None, &now)?;
    let (lessons, recs) = suggestions(&r);
    Ok([lessons.join("\n"), recs.join("\n")])
}
