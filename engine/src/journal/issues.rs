//! Issues as journalled: folded by what they are, counted, and acknowledged or resolved by
//! an operator.

use super::sql::params;

use super::db::{Journal, NOW, Result};

/// An issue as journalled.
#[derive(Debug, Clone, Default)]
pub struct IssueRow {
    pub id: i64,
    pub severity: String,
    pub category: String,
    pub mailbox: Option<String>,
    pub folder: Option<String>,
    pub uid: Option<u32>,
    pub message: String,
    pub count: u32,
    pub last_seen: String,
    /// "open", "acknowledged" or "resolved".
    pub state: String,
    pub first_seen: String,
    /// Who set the state, when, and their note.
    pub state_by: Option<String>,
    pub state_at: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Issue<'a> {
    pub severity: &'a str,
    pub category: &'a str,
    pub mailbox: Option<&'a str>,
    pub folder: Option<&'a str>,
    pub uid: Option<u32>,
    pub message: &'a str,
}

/// The columns `issue_row` reads, in its order.
const ISSUE_COLUMNS: &str = "id, severity, category, mailbox, folder, uid, message, count, \
    last_seen, state, first_seen, state_by, state_at, note";

fn issue_row(r: &super::sql::Row) -> super::sql::Result<IssueRow> {
    Ok(IssueRow {
        id: r.get(0)?,
        severity: r.get(1)?,
        category: r.get(2)?,
        mailbox: r.get(3)?,
        folder: r.get(4)?,
        uid: r.get(5)?,
        message: r.get(6)?,
        count: r.get(7)?,
        last_seen: r.get(8)?,
        state: r.get(9)?,
        first_seen: r.get(10)?,
        state_by: r.get(11)?,
        state_at: r.get(12)?,
        note: r.get(13)?,
    })
}

impl Journal {
    /// Record an issue; a repeat of the same issue folds into one record with a count. A
    /// resolved issue that happens again is open again (its note stays, to show what was tried).
    pub fn record_issue(&self, i: &Issue<'_>) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO issues(severity, category, mailbox, folder, uid, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(severity, category, ifnull(mailbox,''), ifnull(folder,''), ifnull(uid,-1), message)
                     DO UPDATE SET count = count + 1, last_seen = {NOW},
                       state = CASE WHEN state = 'resolved' THEN 'open' ELSE state END"
                ),
                params![i.severity, i.category, i.mailbox, i.folder, i.uid, i.message],
            )
            .map(drop)
        })
    }

    /// (severity, category, mailbox, folder, uid, message, count) of every issue, newest first.
    #[allow(clippy::type_complexity)]
    pub fn issues(
        &self,
    ) -> Result<
        Vec<(
            String,
            String,
            Option<String>,
            Option<String>,
            Option<u32>,
            String,
            u32,
        )>,
    > {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT severity, category, mailbox, folder, uid, message, count FROM issues ORDER BY last_seen DESC, id DESC",
            )?;
            st.query_map(params![], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect()
        })
    }

    /// The newest issues (at most `limit`), newest first.
    pub fn issue_rows(&self, limit: usize) -> Result<Vec<IssueRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ISSUE_COLUMNS} FROM issues ORDER BY last_seen DESC, id DESC LIMIT ?1"
            ))?;
            st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], issue_row)?
                .collect()
        })
    }

    /// Acknowledge or resolve an issue (or reopen it), recording who, when and their note
    /// (an absent note keeps the previous one).
    pub fn set_issue_state(
        &self,
        id: i64,
        state: &str,
        by: &str,
        note: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "UPDATE issues SET state = ?2, state_by = ?3, state_at = {NOW}, note = coalesce(?4, note)
                     WHERE id = ?1"
                ),
                params![id, state, by, note],
            )
            .map(drop)
        })
    }

    /// Open critical issues that concern a mailbox.
    pub fn open_critical_mailbox_issues(&self) -> Result<Vec<IssueRow>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                &format!(
                    "SELECT {ISSUE_COLUMNS} FROM issues
                     WHERE severity = 'critical' AND state = 'open' AND mailbox IS NOT NULL ORDER BY id"
                ),
            )?;
            st.query_map(params![], issue_row)?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::journal::db::both_backends! {
    fn issues_fold(s) {
        let i = Issue {
            severity: "warning",
            category: "oversize",
            mailbox: Some("a"),
            folder: Some("INBOX"),
            uid: Some(3),
            message: "too big",
        };
        s.record_issue(&i).unwrap();
        s.record_issue(&i).unwrap();
        let all = s.issues().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].6, 2);
        }
    }

    crate::journal::db::both_backends! {
    fn issue_states_record_who_when_and_a_note_and_a_repeat_reopens(s) {
        let i = Issue {
            severity: "error",
            category: "auth",
            mailbox: Some("bob->bob"),
            folder: None,
            uid: None,
            message: "login refused",
        };
        s.record_issue(&i).unwrap();
        let id = s.issue_rows(10).unwrap()[0].id;
        s.set_issue_state(id, "acknowledged", "maria", None)
            .unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!(r.state, "acknowledged");
        assert_eq!(r.state_by.as_deref(), Some("maria"));
        assert!(r.state_at.is_some() && r.note.is_none());
        // Acknowledged stays acknowledged when it happens again.
        s.record_issue(&i).unwrap();
        assert_eq!(s.issue_rows(10).unwrap()[0].state, "acknowledged");
        s.set_issue_state(id, "resolved", "joe", Some("password reset"))
            .unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!(
            (r.state.as_str(), r.state_by.as_deref(), r.note.as_deref()),
            ("resolved", Some("joe"), Some("password reset"))
        );
        assert!(r.first_seen <= r.last_seen);
        // Resolved, then it happens again: open again, note kept, counted.
        s.record_issue(&i).unwrap();
        let r = &s.issue_rows(10).unwrap()[0];
        assert_eq!((r.state.as_str(), r.count), ("open", 3));
        assert_eq!(r.note.as_deref(), Some("password reset"));
        }
    }
}
