//! How the engine's journal rows and checklist items become the contract's views
//! ([`crate::api`]): the journal's words read into the api's enums here, and nowhere else.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::{CheckStatus, CheckView, IssueState, IssueView, PassOutcome, PassView, Severity};
use crate::checklist::{ItemStatus, Status};
use crate::config::CheckKind;
use crate::journal::{IssueRow, SyncPassRow};

impl From<IssueRow> for IssueView {
    fn from(r: IssueRow) -> IssueView {
        IssueView {
            id: r.id,
            severity: Severity::from(r.severity.as_str()),
            category: r.category,
            mailbox: r.mailbox,
            folder: r.folder,
            uid: r.uid,
            message: r.message,
            count: r.count,
            last_seen: r.last_seen,
            state: IssueState::from(r.state.as_str()),
            first_seen: r.first_seen,
            state_by: r.state_by,
            state_at: r.state_at,
            note: r.note,
        }
    }
}

impl From<Status> for CheckStatus {
    fn from(s: Status) -> CheckStatus {
        match s {
            Status::Pass => CheckStatus::Pass,
            Status::Fail => CheckStatus::Fail,
            Status::Pending => CheckStatus::Pending,
            Status::Overridden => CheckStatus::Overridden,
            Status::NotApplicable => CheckStatus::NotApplicable,
        }
    }
}

impl From<ItemStatus> for CheckView {
    fn from(c: ItemStatus) -> CheckView {
        let tickable = c.kind == CheckKind::Manual
            || crate::config::TICKABLE_AUTO_CHECKS.contains(&c.id.as_str());
        CheckView {
            id: c.id,
            section: c.section,
            title: c.title,
            required: c.required,
            done: c.done,
            by: c.by,
            at: c.at,
            note: c.note,
            auto: c.kind == CheckKind::Auto,
            tickable,
            status: c.status.into(),
            reason: c.reason,
        }
    }
}

/// A journalled delta pass as the view of `batch` shows it. The journal's outcome is
/// `running`, `complete` (the console's passes), `exit 0` (a `cutover sync` that exited 0)
/// or anything else: incomplete.
pub fn pass_view(r: SyncPassRow, batch: &str) -> PassView {
    PassView {
        started: DateTime::parse_from_rfc3339(&r.started_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        duration: r
            .duration_ms
            .map(|ms| Duration::from_millis(ms.max(0) as u64)),
        counts: r.counts,
        outcome: match r.outcome.as_str() {
            "running" => PassOutcome::Running,
            "complete" | "exit 0" => PassOutcome::Complete,
            _ => PassOutcome::Incomplete,
        },
        shared: r.batches != batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_statuses_keep_their_words() {
        for s in [
            Status::Pass,
            Status::Fail,
            Status::Pending,
            Status::Overridden,
            Status::NotApplicable,
        ] {
            assert_eq!(CheckStatus::from(s).as_str(), s.word());
            assert_eq!(CheckStatus::from(s).met(), s.met());
        }
    }
}
