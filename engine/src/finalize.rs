//! The switch of `cutover finalize`: per mailbox of the batch, the destination folders'
//! UIDNEXT and the moment, journalled once (`Journal::mark_switch`). From then on fail-back
//! copies back what arrived on the destination at or above the mark and that cutover did not
//! write: the mail delivered there after the switch.

use crate::config::{MailboxSpec, Project};
use crate::dns::DnsReport;
use crate::endpoint::any::AnyConnector;
use crate::endpoint::{EndpointError, MailSession};
use crate::journal::{Journal, JournalError};

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(
        "{0} was never migrated by this project (nothing in the journal): run `cutover run` first"
    )]
    NeverMigrated(String),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl SwitchError {
    /// The journal could not be read or written (exit 9).
    pub fn is_journal(&self) -> bool {
        match self {
            SwitchError::Journal(_) => true,
            SwitchError::Endpoint(e) => e.is_journal(),
            SwitchError::NeverMigrated(_) => false,
        }
    }
}

/// The switch as marked for one mailbox.
#[derive(Debug, Clone)]
pub struct Switch {
    pub key: String,
    /// The moment (UTC, RFC 3339), the first one marked when finalize ran more than once.
    pub at: String,
    /// Destination folders marked this time (those already marked keep their mark).
    pub folders: usize,
}

/// Mark the switch of one mailbox: its destination folders' UIDNEXT now, and the moment.
/// Reads only from the destination (STATUS), through the engine's destination connector.
pub async fn mark_switch(
    store: &Journal,
    dst_connector: &AnyConnector,
    spec: &MailboxSpec,
) -> Result<Switch, SwitchError> {
    let key = spec.key();
    let id = store
        .mailbox_id(&key)?
        .ok_or_else(|| SwitchError::NeverMigrated(key.clone()))?;
    let mut dst = dst_connector.connect(&spec.destination).await?;
    let mut marks = Vec::new();
    for f in store.folders_of(id)? {
        match dst.status(&f.dst_name).await {
            Ok(st) => marks.push((f.id, st.uidnext)),
            // Not on the destination (yet): the forward copy creates it later, and its
            // window then starts at its first opening, which is after the switch.
            Err(EndpointError::NoFolder { .. }) => {}
            Err(e) => {
                dst.logout().await;
                return Err(e.into());
            }
        }
    }
    dst.logout().await;
    let at = store.mark_switch(id, &marks)?;
    Ok(Switch {
        key,
        at,
        folders: marks.len(),
    })
}

/// Mark the switch of each of `specs` (a first mark is kept; a mailbox the journal does not
/// know yet is skipped: it is marked after the final pass copied it). The marks made, in
/// order, or the first failure with the mailbox's key.
pub async fn mark_switches(
    store: &Journal,
    dst_connector: &AnyConnector,
    specs: &[MailboxSpec],
) -> Result<Vec<Switch>, (String, SwitchError)> {
    let mut marks = Vec::new();
    for spec in specs {
        match mark_switch(store, dst_connector, spec).await {
            Ok(s) => marks.push(s),
            Err(SwitchError::NeverMigrated(_)) => {}
            Err(e) => return Err((spec.key(), e)),
        }
    }
    Ok(marks)
}

/// The DNS step of finalize: the domain's records asked of its authoritative servers, and
/// why finalize must not go ahead (no `[dns] domain`, or MX not at the destination), if so.
pub async fn dns_gate(project: &Project) -> (Option<DnsReport>, Option<String>) {
    let Some(report) = crate::dns::check(&project.dns).await else {
        let why = format!(
            "no [dns] domain in {}: cutover cannot check that MX points at the destination",
            project.file.display()
        );
        return (None, Some(why));
    };
    let why = (!report.mx_ok()).then(|| match report.records.iter().find(|r| r.kind == "mx") {
        Some(r) => format!("MX does not point at the destination: {}", r.line()),
        None => format!(
            "no MX host is expected for {}: set [dns] mx (or a destination preset that implies it)",
            report.domain
        ),
    });
    (Some(report), why)
}

/// The line journalled for the DNS report of a batch's finalize.
pub fn dns_line(batch: &str, report: &DnsReport) -> String {
    let lines: Vec<String> = report.records.iter().map(|r| r.line()).collect();
    format!(
        "finalize of batch {batch}: DNS of {}: {}",
        report.domain,
        lines.join("; ")
    )
}
