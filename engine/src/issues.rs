//! What each issue category means for the operator: a one-line cause, a fix and a retry class.
//! One table, used by the reports and the console's Issues tab.

/// Whether running again can clear an issue by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Running again (or waiting) is expected to succeed.
    Transient,
    /// Running again gives the same result: the item is skipped or refused for good.
    Permanent,
    /// Nothing changes until the operator does something (credentials, quota, settings).
    NeedsOperator,
}

impl Retry {
    pub fn as_str(self) -> &'static str {
        match self {
            Retry::Transient => "transient",
            Retry::Permanent => "permanent",
            Retry::NeedsOperator => "needs the operator",
        }
    }
}

/// One row of the category table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub name: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
    pub retry: Retry,
}

const fn c(name: &'static str, cause: &'static str, fix: &'static str, retry: Retry) -> Category {
    Category {
        name,
        cause,
        fix,
        retry,
    }
}

/// Every category the engine raises, with its cause, fix and retry class.
pub const CATEGORIES: &[Category] = &[
    c(
        "auth",
        "a server refused the login (wrong password, locked or disabled account, IMAP or app passwords not allowed)",
        "correct the credential in the project file or CSV (or enable IMAP for the account), then retry the mailbox",
        Retry::NeedsOperator,
    ),
    c(
        "network",
        "a connection dropped, timed out or could not be opened",
        "cutover reconnects with backoff by itself; if it persists check the host, port, firewall and TLS settings",
        Retry::Transient,
    ),
    c(
        "throttling",
        "a server slowed down or refused work because of its rate limits",
        "lower parallel_mailboxes or max_connections, or run the batch outside business hours",
        Retry::Transient,
    ),
    c(
        "quota",
        "the destination mailbox is full",
        "raise the destination quota (or archive) and retry the mailbox",
        Retry::NeedsOperator,
    ),
    c(
        "oversize",
        "a message is larger than the destination accepts (max_message_size, preset or APPENDLIMIT)",
        "tell the user, or raise the destination's limit and max_message_size, then run again",
        Retry::Permanent,
    ),
    c(
        "fidelity",
        "a message could not be copied exactly as it is on the source (flags, date or content)",
        "check the message on both sides; report the server's reply with the issue",
        Retry::NeedsOperator,
    ),
    c(
        "verification",
        "a message recorded as copied is missing or different on the destination",
        "run cutover verify for the mailbox; find out who changed the destination, then run again",
        Retry::NeedsOperator,
    ),
    c(
        "config",
        "the project file or a setting does not fit the servers",
        "correct the project file; cutover check validates it",
        Retry::NeedsOperator,
    ),
    c(
        "operator",
        "an operator action (emergency stop, pause, settings change)",
        "none needed; start again to resume after a stop",
        Retry::NeedsOperator,
    ),
    c(
        "source",
        "the source changed during the migration (folder deleted or renamed, UIDVALIDITY changed, messages expunged)",
        "usually nothing: cutover matches by fingerprint; check with the user if folders vanished",
        Retry::Transient,
    ),
    c(
        "destination",
        "the destination changed under cutover (UIDVALIDITY changed, folder recreated)",
        "find out who changed the destination; cutover re-identifies messages by fingerprint on the next run",
        Retry::Transient,
    ),
    c(
        "refused",
        "the destination refused one message (NO for that APPEND)",
        "read the server's reply in the message; fix the cause on the destination or accept the loss",
        Retry::Permanent,
    ),
    c(
        "journal",
        "the state journal could not be read or written (disk full, permissions)",
        "free disk space or fix permissions on the journal's directory, then run again",
        Retry::NeedsOperator,
    ),
    c(
        "server",
        "a server answered with an error cutover cannot handle by itself",
        "read the server's reply in the message; retry the mailbox once the server is healthy",
        Retry::NeedsOperator,
    ),
    c(
        "resume",
        "an interrupted run left appends in doubt; they were resolved against the destination",
        "none needed: nothing is lost or duplicated",
        Retry::Transient,
    ),
];

const UNKNOWN: Category = c(
    "other",
    "an issue of a kind this version does not describe",
    "read the message; retry the mailbox",
    Retry::NeedsOperator,
);

/// The table row for a category name (a generic row for an unknown name).
pub fn category(name: &str) -> &'static Category {
    CATEGORIES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or(&UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_the_engine_raises_is_described() {
        for name in [
            "auth",
            "network",
            "throttling",
            "quota",
            "oversize",
            "fidelity",
            "verification",
            "config",
            "operator",
            "source",
            "destination",
            "refused",
            "journal",
            "server",
            "resume",
        ] {
            let c = category(name);
            assert_eq!(c.name, name);
            assert!(!c.cause.is_empty() && !c.fix.is_empty());
        }
        assert_eq!(category("nonsense").name, "other");
        assert_eq!(category("auth").retry, Retry::NeedsOperator);
        assert_eq!(category("network").retry, Retry::Transient);
        assert_eq!(category("oversize").retry, Retry::Permanent);
    }

    #[test]
    fn no_category_twice() {
        for (i, a) in CATEGORIES.iter().enumerate() {
            assert!(CATEGORIES[i + 1..].iter().all(|b| b.name != a.name));
        }
    }
}
