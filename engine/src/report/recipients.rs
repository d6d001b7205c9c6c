//! The final report's recipients section: the shared/resource mailboxes, lists and groups
//! journalled (from the `[recipients]` CSV, the source's directory and the project's shared
//! mailboxes), with members, aliases, access and state, what cutover created through a
//! directory API, and what cannot be verified. Nothing when none is journalled, so other
//! reports render as before.

use crate::api::AccessRight;

use super::model::Report;

pub(crate) const RECIPIENT_COLUMNS: [&str; 8] = [
    "type",
    "address",
    "name",
    "members",
    "aliases",
    "access",
    "state",
    "not verifiable",
];

/// What the states mean, what cutover created, and what it cannot verify.
pub(crate) fn recipients_note(r: &Report) -> String {
    let created = |what: &str| {
        r.recipient_changes
            .iter()
            .filter(|c| c.what == what && c.state == "created")
            .count()
    };
    let removed = r
        .recipient_changes
        .iter()
        .filter(|c| c.state == "removed")
        .count();
    let mut note = String::from(
        "State: listed (not checked yet), created (by cutover through the destination's API), present (found by `cutover recipients --check`), missing or differs (--check found it absent or not as listed). ",
    );
    if !r.recipient_changes.is_empty() {
        note.push_str(&format!(
            "cutover created {} group(s), {} member(s), {} owner(s) and {} calendar permission(s) through the directory API; {} change(s) since removed by rollback. ",
            created("group"),
            created("member"),
            created("owner"),
            created("calendar"),
            removed
        ));
    }
    note.push_str("The rest is the Exchange Online script's (`cutover recipients PROJECT --script FILE`). FullAccess, SendAs and SendOnBehalf cannot be read through Graph: cutover does not verify them (column \"not verifiable\").");
    note
}

/// A row of cells per journalled recipient (lists comma-separated).
pub(crate) fn recipient_rows(r: &Report) -> Vec<[String; 8]> {
    let list = |s: &str| s.split(';').collect::<Vec<_>>().join(", ");
    r.recipients
        .iter()
        .map(|x| {
            let grants: Vec<(&str, &str)> = x
                .access
                .split(';')
                .filter(|a| !a.is_empty())
                .map(|a| a.rsplit_once(':').unwrap_or((a, "")))
                .collect();
            let unverifiable = grants
                .iter()
                .filter(|(_, right)| {
                    AccessRight::parse_any(right).is_none_or(|r| {
                        !matches!(
                            r,
                            AccessRight::CalendarReviewer
                                | AccessRight::CalendarEditor
                                | AccessRight::CalendarDelegate
                        )
                    })
                })
                .map(|(u, right)| format!("{u} {right}"))
                .collect::<Vec<_>>()
                .join(", ");
            [
                x.kind.clone(),
                x.address.clone(),
                x.display_name.clone(),
                list(&x.members),
                list(&x.aliases),
                grants
                    .iter()
                    .map(|(u, right)| format!("{u} {right}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                x.state.clone(),
                unverifiable,
            ]
        })
        .collect()
}
