//! How a mailbox's migration ended ([`MailboxResult`], [`Failure`]), and how a copy error
//! is classed: its failure (the command's exit code) and its issue category.

use crate::endpoint::EndpointError;
use crate::journal::Totals;
use crate::sync::SyncError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Auth,
    Connection,
    Verification,
    Stopped,
    /// The journal could not be read or written (exit 9).
    Journal,
    Other,
}

#[derive(Debug, Clone)]
pub struct MailboxResult {
    pub key: String,
    pub batch: String,
    pub totals: Totals,
    /// None when the mailbox completed.
    pub failure: Option<(Failure, String)>,
}

impl MailboxResult {
    pub fn complete(&self) -> bool {
        self.failure.is_none()
            && self.totals.skipped == 0
            && self.totals.failed == 0
            && self.totals.pending == 0
    }
}

pub(super) fn failure_of(e: &SyncError) -> Failure {
    match e {
        SyncError::Endpoint(EndpointError::Auth { .. }) => Failure::Auth,
        SyncError::Endpoint(EndpointError::Tls { .. }) => Failure::Connection,
        SyncError::Endpoint(e) if e.is_transient() => Failure::Connection,
        SyncError::Stopped => Failure::Stopped,
        SyncError::Verification(_) => Failure::Verification,
        e if e.is_journal() => Failure::Journal,
        _ => Failure::Other,
    }
}

pub(super) fn category_of(e: &SyncError) -> &'static str {
    match e {
        SyncError::Endpoint(EndpointError::Auth { .. }) => "auth",
        SyncError::Endpoint(EndpointError::OverQuota { .. }) => "quota",
        SyncError::Endpoint(EndpointError::Throttled { .. }) => "throttling",
        SyncError::ErrorBudget { .. } => "refused",
        SyncError::Endpoint(EndpointError::Tls { .. }) => "network",
        SyncError::Endpoint(e) if e.is_transient() => "network",
        e if e.is_journal() => "journal",
        SyncError::Stopped => "operator",
        SyncError::Verification(_) => "verification",
        SyncError::Blocked(_) => "operator",
        _ => "server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalError;

    #[test]
    fn a_journal_failure_is_its_own_failure_never_retried() {
        let store = || JournalError::Store {
            path: "/srv/j.sqlite".into(),
            source: rusqlite::Error::InvalidQuery.into(),
        };
        for e in [
            SyncError::Journal(store()),
            SyncError::Endpoint(EndpointError::Journal {
                op: "UIDL".into(),
                source: store(),
            }),
        ] {
            assert!(e.is_journal() && !e.is_transient(), "{e}");
            assert_eq!(failure_of(&e), Failure::Journal, "{e}");
            assert_eq!(category_of(&e), "journal");
            assert!(e.to_string().contains("/srv/j.sqlite"), "{e}");
        }
        let other = SyncError::Refused("no".into());
        assert!(!other.is_journal());
        assert_eq!(failure_of(&other), Failure::Other);
    }
}
