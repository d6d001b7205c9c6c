//! `cutover recipients PROJECT` without `--script`: the recipients and what would be created,
//! and by what.

use std::fmt::Write;

use crate::api::RecipientKind;
use crate::config::Recipient;

use super::steps::{Action, steps};

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
    let _ = writeln!(
        o,
        "\n{} step(s), all in the Exchange Online script (cutover recipients PROJECT --script FILE):",
        all.len()
    );
    for s in &all {
        let _ = writeln!(
            o,
            "  {}{}",
            s.describe(),
            if s.graph_can() {
                " (Graph could do this; this version leaves it to the script)"
            } else {
                ""
            }
        );
    }
    let creates = all
        .iter()
        .filter(|s| matches!(s.action, Action::Create { .. }))
        .count();
    let _ = writeln!(
        o,
        "\nnothing is created by this command; run the script in PowerShell 7 after Connect-ExchangeOnline ({creates} recipient(s) to create), then tick the checklist item `recipients`."
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
        if !r.aliases.is_empty() {
            let _ = writeln!(o, "    aliases: {}", r.aliases.join(", "));
        }
        for g in &r.access {
            let _ = writeln!(o, "    access: {} has {}", g.user, g.right);
        }
    }
}
