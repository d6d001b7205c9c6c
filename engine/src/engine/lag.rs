//! The lag check of a batch (the console's `l`): how far the source has moved since cutover
//! last looked, at the cost of one EXAMINE (IMAP, with its HIGHESTMODSEQ where the server
//! has CONDSTORE) or STATUS per folder the journal knows; no message is read, nothing is
//! written. What it finds is kept for the snapshot ([`crate::api::LagCheck`]) and said as an
//! issue.

use std::sync::Arc;

use chrono::Utc;

use super::state::Engine;
use crate::api::LagCheck;
use crate::config::MailboxSpec;
use crate::endpoint::{EndpointError, MailSession};
use crate::events::Severity;

/// [`crate::api::Command::MeasureLag`], in the background.
pub(super) fn measure(e: &Arc<Engine>, batch: String) {
    let e = e.clone();
    tokio::spawn(async move {
        let mut check = LagCheck {
            at: Utc::now(),
            ..Default::default()
        };
        for spec in e.selected(std::slice::from_ref(&batch)) {
            match look(&e, &spec).await {
                Ok((new, changed, folders)) => {
                    check.new_messages += new;
                    check.changed_folders += changed;
                    check.folders += folders;
                }
                Err(err) => {
                    check.unchecked += 1;
                    e.sink().issue(
                        Severity::Warning,
                        "source",
                        Some(&spec.key()),
                        None,
                        None,
                        &format!("lag check: cannot look at the source: {err}"),
                    );
                }
            }
        }
        e.sync.set_checked(&batch, check);
        e.sink().issue(
            Severity::Info,
            "operator",
            None,
            None,
            None,
            &format!(
                "lag check of batch {batch}: at most {} new message(s); {} of {} folder(s) changed since the last pass{}",
                check.new_messages,
                check.changed_folders,
                check.folders,
                match check.unchecked {
                    0 => String::new(),
                    n => format!("; {n} mailbox(es) not checked (see their issues)"),
                }
            ),
        );
    });
}

/// One mailbox: (new messages at most, folders changed, folders looked at).
async fn look(e: &Engine, spec: &MailboxSpec) -> Result<(u64, u64, u64), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let Some(id) = e.store.mailbox_id(&spec.key()).map_err(|x| err(&x))? else {
        // Never copied: everything is behind, and the Batches tab counts it as not copied.
        return Ok((0, 0, 0));
    };
    let folders: Vec<_> = e
        .store
        .folders_of(id)
        .map_err(|x| err(&x))?
        .into_iter()
        // Mail folders opened by a copy (calendars and address books are not looked at).
        .filter(|f| f.src_uidvalidity.is_some())
        .filter(|f| !f.src_name.starts_with("calendar:") && !f.src_name.starts_with("contacts:"))
        .collect();
    let mut s = e.src.connect(&spec.source).await.map_err(|x| err(&x))?;
    let (mut new, mut changed) = (0u64, 0u64);
    for f in &folders {
        let looked = match s.as_imap_mut() {
            Some(imap) => imap.examine_modseq(&f.src_name).await,
            None => s.status(&f.src_name).await.map(|st| (st, None)),
        };
        let (st, modseq) = match looked {
            Ok(v) => v,
            // Deleted or renamed on the source since: its messages moved or went.
            Err(EndpointError::NoFolder { .. }) => {
                changed += 1;
                continue;
            }
            Err(x) => {
                s.logout().await;
                return Err(err(&x));
            }
        };
        if Some(st.uidvalidity) != f.src_uidvalidity {
            changed += 1;
            continue;
        }
        let arrived = u64::from(st.uidnext.saturating_sub(f.src_high.saturating_add(1)));
        new += arrived;
        let known = e.store.src_modseq(f.id).map_err(|x| err(&x))?;
        let moved = match (modseq, known) {
            (Some(m), Some(k)) => m > k,
            _ => arrived > 0,
        };
        if moved {
            changed += 1;
        }
    }
    s.logout().await;
    Ok((new, changed, folders.len() as u64))
}
