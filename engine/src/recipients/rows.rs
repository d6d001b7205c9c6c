//! The recipients as journal rows.

use crate::config::Recipient;
use crate::journal::RecipientRow;

/// The journal's rows for these recipients (lists `;`-separated, access `user:Right`).
pub fn rows(file: &str, recipients: &[Recipient]) -> Vec<RecipientRow> {
    recipients
        .iter()
        .map(|r| RecipientRow {
            address: r.address.clone(),
            kind: r.kind.as_str().into(),
            display_name: r.display_name.clone(),
            members: r.members.join(";"),
            aliases: r.aliases.join(";"),
            access: r
                .access
                .iter()
                .map(|g| format!("{}:{}", g.user, g.right))
                .collect::<Vec<_>>()
                .join(";"),
            owners: r.owners.join(";"),
            // A recipient found through a directory API (line 0) is named by its source.
            origin: if r.line == 0 {
                file.to_string()
            } else {
                format!("{file}:{}", r.line)
            },
            ..Default::default()
        })
        .collect()
}
