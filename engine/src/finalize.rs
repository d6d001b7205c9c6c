//! The switch of `cutover finalize`: per mailbox of the batch, the destination folders'
//! UIDNEXT and the moment, journalled once (`Journal::mark_switch`). From then on fail-back
//! copies back what arrived on the destination at or above the mark and that cutover did not
//! write: the mail delivered there after the switch.

use crate::config::MailboxSpec;
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
