//! Every state and severity that crosses the contract, each an enum whose `as_str` and
//! `Display` give the word that is printed (no state travels as a string).

use std::fmt;

use crate::words::words;

/// What an item is. Mail, calendars and contacts share one journal and one copy loop: a
/// calendar or an address book is a folder of the mailbox (named `calendar:ID` or
/// `contacts:ID`), an event (a series with its exceptions, as one CalDAV resource holds it) or a
/// contact is an item in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ItemKind {
    #[default]
    Mail,
    Event,
    Contact,
}

words!(ItemKind {
    Mail => "mail",
    Event => "event",
    Contact => "contact",
});

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Mail, ItemKind::Event, ItemKind::Contact];

    /// The plural for people ("messages", "events", "contacts").
    pub const fn plural(&self) -> &'static str {
        match *self {
            ItemKind::Mail => "messages",
            ItemKind::Event => "events",
            ItemKind::Contact => "contacts",
        }
    }
}

/// A section of the operator's notes for the weekly and final reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoteSection {
    #[default]
    Lessons,
    Recommendations,
}

words!(NoteSection {
    Lessons => "lessons",
    Recommendations => "recommendations",
});

impl NoteSection {
    pub const ALL: [NoteSection; 2] = [NoteSection::Lessons, NoteSection::Recommendations];

    /// The report's heading for it.
    pub const fn title(&self) -> &'static str {
        match *self {
            NoteSection::Lessons => "Lessons learned",
            NoteSection::Recommendations => "Recommendations",
        }
    }
}

/// How serious an issue is, least to most severe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

words!(Severity {
    Info => "info",
    Warning => "warning",
    Error => "error",
    Critical => "critical",
});

/// A word from the journal or a fixture; one this version does not know reads as an error.
impl From<&str> for Severity {
    fn from(word: &str) -> Severity {
        Severity::parse(word).unwrap_or(Severity::Error)
    }
}

/// Where an issue stands: every issue starts open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueState {
    #[default]
    Open,
    Acknowledged,
    Resolved,
}

words!(IssueState {
    Open => "open",
    Acknowledged => "acknowledged",
    Resolved => "resolved",
});

/// A word from the journal or a fixture; one this version does not know reads as open (the
/// journal's default).
impl From<&str> for IssueState {
    fn from(word: &str) -> IssueState {
        IssueState::parse(word).unwrap_or(IssueState::Open)
    }
}

/// A mailbox's state: as the journal keeps it, and `interrupted` for what an earlier process
/// left running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailboxState {
    /// Never started (the journal's default).
    #[default]
    New,
    Running,
    /// Running when an earlier process ended: the next start resumes it.
    Interrupted,
    Done,
    /// Paused gracefully (by the operator, a signal or the brake).
    Paused,
    /// Emergency stop.
    Stopped,
    Failed,
    /// A rollback works on it (or was interrupted: roll back again to finish).
    RollingBack,
    RolledBack,
}

words!(MailboxState {
    New => "new",
    Running => "running",
    Interrupted => "interrupted",
    Done => "done",
    Paused => "paused",
    Stopped => "stopped",
    Failed => "failed",
    RollingBack => "rolling back",
    RolledBack => "rolled back",
});

/// A word from the journal or a fixture; one this version does not know reads as new (the
/// journal's default).
impl From<&str> for MailboxState {
    fn from(word: &str) -> MailboxState {
        MailboxState::parse(word).unwrap_or(MailboxState::New)
    }
}

/// A batch's state as a whole, from its mailboxes' ([`BatchView::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchState {
    #[default]
    NotStarted,
    Running,
    /// Running, and a pause was asked: the windows in flight finish.
    Pausing,
    Done,
    Failed,
    Stopped,
    Paused,
}

words!(BatchState {
    NotStarted => "not started",
    Running => "running",
    Pausing => "pausing",
    Done => "done",
    Failed => "failed",
    Stopped => "stopped",
    Paused => "paused",
});

/// A checklist item's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckStatus {
    Pass,
    Fail,
    #[default]
    Pending,
    Overridden,
    NotApplicable,
}

words!(CheckStatus {
    Pass => "pass",
    Fail => "fail",
    Pending => "pending",
    Overridden => "overridden",
    NotApplicable => "n/a",
});

impl CheckStatus {
    /// Met for the gate: a start is not refused for this item.
    pub fn met(self) -> bool {
        matches!(
            self,
            CheckStatus::Pass | CheckStatus::Overridden | CheckStatus::NotApplicable
        )
    }
}

/// A word from a fixture; one this version does not know reads as pending (as the checklist
/// reads it).
impl From<&str> for CheckStatus {
    fn from(word: &str) -> CheckStatus {
        CheckStatus::parse(word).unwrap_or(CheckStatus::Pending)
    }
}

/// The two ends of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

words!(Side {
    Source => "source",
    Destination => "destination",
});

/// A mailbox's newest backup of the source (`cutover backup`), as the journal has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackupState {
    /// Never backed up.
    #[default]
    None,
    /// Under way (or killed before it ended: run it again).
    Running,
    /// Ended incomplete or failed.
    Failed,
    /// Complete, not verified yet (`cutover backup --verify`).
    Unverified,
    /// Complete and verified: what the checklist's `backup` item asks for.
    Verified,
}

words!(BackupState {
    None => "none",
    Running => "running",
    Failed => "failed",
    Unverified => "unverified",
    Verified => "verified",
});

/// The engine as a whole, for the console's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunState {
    /// Nothing running, nothing stopped.
    #[default]
    Idle,
    Running,
    /// A pause was asked; windows in flight finish.
    Pausing,
    /// Emergency stop tripped.
    Stopped,
}

impl RunState {
    pub fn word(self) -> &'static str {
        match self {
            RunState::Idle => "IDLE",
            RunState::Running => "RUNNING",
            RunState::Pausing => "PAUSING",
            RunState::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_word() {
        for s in [
            MailboxState::New,
            MailboxState::Running,
            MailboxState::Interrupted,
            MailboxState::Done,
            MailboxState::Paused,
            MailboxState::Stopped,
            MailboxState::Failed,
            MailboxState::RollingBack,
            MailboxState::RolledBack,
        ] {
            assert_eq!(MailboxState::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        for s in [
            Severity::Info,
            Severity::Warning,
            Severity::Error,
            Severity::Critical,
        ] {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for s in [
            IssueState::Open,
            IssueState::Acknowledged,
            IssueState::Resolved,
        ] {
            assert_eq!(IssueState::parse(s.as_str()), Some(s));
        }
        for s in [
            BackupState::None,
            BackupState::Running,
            BackupState::Failed,
            BackupState::Unverified,
            BackupState::Verified,
        ] {
            assert_eq!(BackupState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CheckStatus::NotApplicable.as_str(), "n/a");
        assert_eq!(BatchState::NotStarted.as_str(), "not started");
        assert_eq!(format!("[{:<8}]", MailboxState::Done), "[done    ]");
        assert_eq!(Severity::from("nonsense"), Severity::Error);
        assert!(CheckStatus::Overridden.met() && !CheckStatus::Fail.met());
    }
}
