//! The final report's recipients section: the shared/resource mailboxes, lists and groups
//! journalled from `[recipients]`, with members, aliases, access and state, and what cutover
//! cannot verify. Nothing when the project lists none, so other reports render as before.

use super::model::Report;

pub(crate) const RECIPIENT_COLUMNS: [&str; 7] = [
    "type", "address", "name", "members", "aliases", "access", "state",
];

/// What the state means and what is not verified.
pub(crate) const RECIPIENTS_NOTE: &str = "Listed from the recipients CSV. cutover creates none of them itself: the Exchange Online script (`cutover recipients PROJECT --script FILE`) does, and the checklist item `recipients` is ticked once it has run. Whether each recipient, member, alias and right exists on the destination is not verified by cutover.";

/// A row of cells per journalled recipient (lists comma-separated).
pub(crate) fn recipient_rows(r: &Report) -> Vec<[String; 7]> {
    let list = |s: &str| s.split(';').collect::<Vec<_>>().join(", ");
    r.recipients
        .iter()
        .map(|x| {
            [
                x.kind.clone(),
                x.address.clone(),
                x.display_name.clone(),
                list(&x.members),
                list(&x.aliases),
                x.access
                    .split(';')
                    .filter(|a| !a.is_empty())
                    .map(|a| match a.rsplit_once(':') {
                        Some((u, right)) => format!("{u} {right}"),
                        None => a.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                x.state.clone(),
            ]
        })
        .collect()
}
