//! `cutover recipients PROJECT` without `--script`: the recipients and what would be created,
//! and by what.

use std::fmt::Write;

use crate::api::RecipientKind;
use crate::config::Recipient;

use super::steps::steps;
use super::types::{Done, Outcome};

/// The plan as text: the recipients with members, aliases and access, then every step.
pub fn plan_text(source: &str, recipients: &[Recipient]) -> String {
    let mut o = String::new();
    if recipients.is_empty() {
        let _ = writeln!(o, "recipients: none listed in {source}");
        return o;
    }
    let counts: Vec<String> = RecipientKind::ALL
        .iter()
        .filter_map(|k| {
            let n = recipients.iter().filter(|r| r.kind == *k).count();
            (n > 0).then(|| format!("{n} {k}"))
        })
        .collect();
    let _ = writeln!(o, "recipients from {source}: {}", counts.join(", "));
    list(&mut o, recipients);
    let all = steps(recipients);
    let graph = all.iter().filter(|s| s.graph_can()).count();
    let _ = writeln!(
        o,
        "\n{} step(s); {graph} of them Microsoft Graph can do (`cutover recipients PROJECT` does them on a Graph destination), the others only the Exchange Online script (`--script FILE`):",
        all.len()
    );
    for s in &all {
        let _ = writeln!(
            o,
            "  {}{}",
            s.describe(),
            if s.graph_can() {
                " (Graph)"
            } else {
                " (script)"
            }
        );
    }
    o
}

/// The outcome of `cutover recipients` on the destination: one line per step, then totals.
pub fn outcome_text(api: &str, outcomes: &[Outcome]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\non the destination ({api}):");
    for x in outcomes {
        let _ = writeln!(
            o,
            "  {:<8} {}{}",
            x.done.word(),
            x.step,
            if x.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", crate::safe_text::terminal(&x.detail))
            }
        );
    }
    let n = |d: Done| outcomes.iter().filter(|x| x.done == d).count();
    let _ = writeln!(
        o,
        "{} created, {} already there, {} waiting, {} for the script",
        n(Done::Created),
        n(Done::Present),
        n(Done::Waiting),
        n(Done::Script)
    );
    o
}

/// The recipients, one block each: kind, address, name; members, aliases and access.
pub fn list(o: &mut String, recipients: &[Recipient]) {
    for r in recipients {
        let _ = writeln!(
            o,
            "  {:<12} {} ({})",
            r.kind.as_str(),
            r.address,
            crate::safe_text::terminal(&r.display_name)
        );
        if !r.members.is_empty() {
            let _ = writeln!(o, "    members: {}", r.members.join(", "));
        }
        if !r.owners.is_empty() {
            let _ = writeln!(o, "    owners: {}", r.owners.join(", "));
        }
        if !r.aliases.is_empty() {
            let _ = writeln!(o, "    aliases: {}", r.aliases.join(", "));
        }
        for g in &r.access {
            let _ = writeln!(o, "    access: {} has {}", g.user, g.right);
        }
    }
}
