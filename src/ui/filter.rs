//! The `/` filter of the Issues tab: which issues it keeps.

use cutover_engine::api::{IssueState, IssueView};

/// Does an issue match the `/` filter? Words are ANDed, case-insensitive: `sev:WORD`
/// (or `severity:`), `cat:WORD` (or `category:`) and `state:WORD` match the start of that
/// field (`sev:err`, `state:open`); `state:unresolved` matches open and acknowledged issues;
/// any other word must appear in the severity, category, mailbox, folder, UID or message.
pub fn matches(i: &IssueView, filter: &str) -> bool {
    filter.split_whitespace().all(|word| {
        let w = word.to_lowercase();
        let field = |v: &str, p: &str| v.to_lowercase().starts_with(p);
        if let Some(v) = w
            .strip_prefix("sev:")
            .or_else(|| w.strip_prefix("severity:"))
        {
            field(i.severity.as_str(), v)
        } else if let Some(v) = w
            .strip_prefix("cat:")
            .or_else(|| w.strip_prefix("category:"))
        {
            field(&i.category, v)
        } else if let Some(v) = w.strip_prefix("state:") {
            if v == "unresolved" {
                i.state != IssueState::Resolved
            } else {
                field(i.state.as_str(), v)
            }
        } else {
            let uid = i.uid.map(|u| u.to_string()).unwrap_or_default();
            [
                i.severity.as_str(),
                i.category.as_str(),
                i.message.as_str(),
                i.mailbox.as_deref().unwrap_or(""),
                i.folder.as_deref().unwrap_or(""),
                uid.as_str(),
            ]
            .iter()
            .any(|s| s.to_lowercase().contains(&w))
        }
    })
}
