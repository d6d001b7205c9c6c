//! Journalling a verification with its method and scope (table `verifications`), and marking
//! the items it found damaged for the next run to copy again.

use crate::journal::{Journal, JournalError, VerificationScope};

use super::check::MailboxCheck;
use super::sample::Sample;

/// Journal one mailbox's verification: its outcome, summary, method, scope (`full`, or
/// `sample` with the share and seed) and the items whose content was compared.
pub fn record(
    store: &Journal,
    batch: &str,
    m: &MailboxCheck,
    ok: bool,
    summary: &str,
    sample: Option<&Sample>,
) -> Result<(), JournalError> {
    let how = VerificationScope {
        method: m.method.as_str().into(),
        scope: if sample.is_some() { "sample" } else { "full" }.into(),
        sample_percent: sample.map(|s| s.percent),
        sample_seed: sample.map(|s| s.seed),
        items_checked: m.folders.iter().map(|f| f.content_checked).sum(),
    };
    store.record_verification_scoped(&m.key, batch, ok, summary, &how)
}

/// Mark each damaged item of `m` in the journal (`damaged`): the next run removes that copy
/// and copies the message again.
pub fn mark_damaged(store: &Journal, m: &MailboxCheck) -> Result<(), JournalError> {
    for d in m.folders.iter().flat_map(|f| &f.damaged) {
        store.mark_damaged(&m.key, &d.src_wire, d.src_uid, d.dst_uid, &d.what)?;
    }
    Ok(())
}
