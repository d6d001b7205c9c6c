//! The recipients as journal rows, and journalling them.

use crate::config::{Project, Recipient};
use crate::journal::{Journal, JournalError, RecipientRow};

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
            origin: format!("{file}:{}", r.line),
            ..Default::default()
        })
        .collect()
}

/// Journal the project's recipients as now listed (nothing when it has no `[recipients]`).
pub fn journal_recipients(project: &Project, store: &Journal) -> Result<(), JournalError> {
    let Some(file) = &project.recipients.file else {
        return Ok(());
    };
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    store.save_recipients(&rows(&name, &project.recipients.list))
}
