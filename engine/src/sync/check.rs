//! The cheap check that closes a folder: what the journal says was written is on the
//! destination, with the recorded size (metadata only; `verify` compares contents).

use std::collections::HashMap;

use crate::endpoint::MailSession;
use crate::events::Severity;
use crate::journal::{self, Journal};

use super::types::SyncError;

/// After a folder was copied: every destination UID the journal recorded for this folder
/// exists with the recorded size. A mismatch is a critical issue naming the UIDs, and fails
/// the folder (the engine's brake then pauses what the project's `brake` says). On a pass over
/// an unchanged folder (`after_copy` false) the same check only warns.
pub(super) async fn check_destination<D: MailSession>(
    store: &Journal,
    folder_id: i64,
    dst_validity: u32,
    dst: &mut D,
    issue: &impl Fn(Severity, &str, Option<u32>, &str),
    after_copy: bool,
) -> Result<(), SyncError> {
    let want = written(store, folder_id, dst_validity)?;
    let Some(min) = lowest(&want) else {
        return Ok(());
    };
    // Re-select so the server reports what it holds now.
    let metas = dst.fetch_meta(min).await?;
    judge(&want, &metas, dst, issue, after_copy)
}

/// What the journal says was written to the folder under `dst_validity`, with its UIDs.
pub(super) fn written(
    store: &Journal,
    folder_id: i64,
    dst_validity: u32,
) -> Result<Vec<journal::CopiedRow>, SyncError> {
    Ok(store
        .copied(folder_id)?
        .into_iter()
        .filter(|c| c.dst_uidvalidity == Some(dst_validity) && c.dst_uid.is_some_and(|u| u > 0))
        .collect())
}

/// The lowest destination UID of `want`: where the check's listing starts (None: nothing
/// to check).
pub(super) fn lowest(want: &[journal::CopiedRow]) -> Option<u32> {
    want.iter().filter_map(|c| c.dst_uid).min()
}

/// [`check_destination`]'s verdict on a listing of the destination folder from
/// [`lowest`] on.
pub(super) fn judge<D: MailSession>(
    want: &[journal::CopiedRow],
    metas: &[crate::endpoint::MessageMeta],
    dst: &D,
    issue: &impl Fn(Severity, &str, Option<u32>, &str),
    after_copy: bool,
) -> Result<(), SyncError> {
    let sev = if after_copy {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let have: HashMap<u32, u64> = metas.iter().map(|m| (m.uid, m.size)).collect();
    // Where listed sizes are estimates, presence is checked here and content by `verify`.
    let exact = !dst.capabilities().inexact_sizes;
    let mut bad = 0;
    for c in want {
        let uid = c.dst_uid.unwrap_or(0);
        match have.get(&uid) {
            Some(_) if !exact => {}
            Some(&size) if size == c.size => {}
            Some(&size) => {
                bad += 1;
                issue(
                    sev.clone(),
                    "verification",
                    Some(c.src_uid),
                    &format!(
                        "destination UID {uid} has {size} bytes, the source message {} bytes",
                        c.size
                    ),
                );
            }
            None => {
                bad += 1;
                issue(
                    sev.clone(),
                    "verification",
                    Some(c.src_uid),
                    &format!("destination UID {uid} recorded as written is not on the destination"),
                );
            }
        }
    }
    if bad > 0 && !after_copy {
        issue(
            Severity::Warning,
            "verification",
            None,
            &format!(
                "{bad} message(s) cutover wrote earlier are no longer on the destination as written (deleted or changed there since?); not re-sent. If nobody should have touched them, treat this as a data-loss incident"
            ),
        );
    } else if bad > 0 {
        return Err(SyncError::Verification(format!(
            "{bad} message(s) recorded as copied are missing or altered on the destination"
        )));
    }
    Ok(())
}
