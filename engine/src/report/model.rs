//! The report model: what a report shows, as `gather` reads it from the journal and every
//! renderer takes it.

use crate::journal::{
    AccessRow, BackupRow, IssueRow, JournalError, NoteRow, RiskRow, SkipRow, Totals,
    VerificationRow,
};

use crate::mail::fmt::bytes;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Progress since the last daily report.
    Daily,
    /// The project's closing report.
    Final,
    /// Progress over the seven days before the report, risks, timeline, resources.
    Weekly,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::Final => "final",
            Kind::Weekly => "weekly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Csv => "csv",
        }
    }
}

/// One mailbox's figures, all from the journal.
#[derive(Debug, Clone, Default)]
pub struct MailboxFigures {
    pub key: String,
    pub batch: String,
    /// User, shared, room or equipment (the project's word, else the journal's).
    pub mailbox_type: crate::api::MailboxType,
    pub src_user: String,
    pub dst_user: String,
    /// The journal's state; "not started" when the journal has never seen the mailbox.
    pub state: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_error: Option<String>,
    pub folders: u64,
    pub totals: Totals,
    /// Messages (and bytes) that vanished from the source before they could be copied.
    pub expunged: u64,
    pub expunged_bytes: u64,
    pub skips: Vec<SkipRow>,
    /// Copied (messages, bytes) in the report's window (daily: since the last report).
    pub copied_in_window: (u64, u64),
    /// Gmail source: sightings of a message in a further label or in All Mail, not copied
    /// again (neither copied nor skipped: the message was copied once, from another folder).
    pub gmail_duplicates: u64,
    /// Source folders listed but not copied (refused, opened but not enumerated, or never
    /// opened), as people read them (modified UTF-7 decoded); their messages are in no total,
    /// so the mailbox is not all migrated.
    pub folders_not_copied: Vec<String>,
    /// The mailbox's newest `cutover verify` (None: never verified).
    pub verification: Option<VerificationRow>,
}

impl MailboxFigures {
    /// Its newest verification as cells: when, method, scope, outcome ("proof", or why not).
    pub(crate) fn verification_cells(&self) -> [String; 4] {
        let Some(v) = &self.verification else {
            return ["-".into(), "-".into(), "-".into(), "never verified".into()];
        };
        let method = match v.method.as_str() {
            "" => "fingerprint (before content verification)".to_string(),
            m => m.to_string(),
        };
        let scope = match (v.scope.as_str(), v.sample_percent, v.sample_seed) {
            ("sample", Some(p), Some(s)) => format!("sample {p}% of the mailboxes, seed {s}"),
            ("" | "full", ..) => "every mailbox selected".to_string(),
            (other, ..) => other.to_string(),
        };
        let outcome = match self.unproven() {
            None => format!(
                "passed: proof of zero data loss ({} items compared)",
                v.items_checked.unwrap_or_default()
            ),
            Some(why) if v.ok => format!("passed; no proof: {why}"),
            Some(_) => format!("FAILED: {}", v.summary),
        };
        [v.at.clone(), method, scope, outcome]
    }

    /// Why the mailbox has no proof of zero data loss (None: its newest verification is a
    /// passing full content verification made after its last copy finished).
    pub fn unproven(&self) -> Option<String> {
        let Some(v) = &self.verification else {
            return Some("never verified".into());
        };
        if !v.ok {
            return Some(format!("verification failed on {}", v.at));
        }
        if v.scope == "sample" {
            return Some(format!(
                "only in a sample ({}% of the mailboxes, seed {}) on {}: a sample is no proof",
                v.sample_percent.unwrap_or_default(),
                v.sample_seed.unwrap_or_default(),
                v.at
            ));
        }
        if v.method != "content" {
            return Some(format!(
                "verified by fingerprint only (presence, not content) on {}",
                v.at
            ));
        }
        if !v.full_content_pass() {
            return Some(format!("no full content verification (newest on {})", v.at));
        }
        if let Some(f) = &self.finished_at
            && f.as_str() > v.at.as_str()
        {
            return Some(format!(
                "verified on {}, before its last copy finished ({f})",
                v.at
            ));
        }
        None
    }

    /// Messages that are on the source as far as the journal knows.
    pub fn on_source(&self) -> u64 {
        self.totals.messages.saturating_sub(self.expunged)
    }

    /// Whether the journal knows the mailbox's folders (false: it failed before listing, or
    /// never started, so its size on the source is unknown).
    pub fn listed(&self) -> bool {
        self.folders > 0
    }

    /// Bytes on the source as a cell: "-" when the mailbox was never listed.
    pub(crate) fn source_bytes_cell(&self) -> String {
        if self.listed() {
            bytes(self.totals.bytes.saturating_sub(self.expunged_bytes))
        } else {
            "-".into()
        }
    }

    /// Messages on the source as a cell: "-" when the mailbox was never listed.
    pub(crate) fn on_source_cell(&self) -> String {
        if self.listed() {
            self.on_source().to_string()
        } else {
            "-".into()
        }
    }

    /// Seconds from the first start to the last finish, when both are journalled.
    pub fn duration_secs(&self) -> Option<i64> {
        let s = parse_ts(self.started_at.as_deref()?)?;
        let f = parse_ts(self.finished_at.as_deref()?)?;
        Some((f - s).num_seconds().max(0))
    }
}

/// A checklist item with its tick.
#[derive(Debug, Clone, Default)]
pub struct CheckLine {
    pub id: String,
    pub section: String,
    pub title: String,
    pub required: bool,
    pub done: bool,
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<String>,
}

/// Everything a report shows, gathered from the journal.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: Kind,
    pub project: String,
    /// The end of the report's window (exclusive), when the figures were read.
    pub generated_at: String,
    /// Daily: the previous daily report's time (None: since the beginning).
    pub since: Option<String>,
    pub batches: Vec<String>,
    pub mailboxes: Vec<MailboxFigures>,
    /// (hour "YYYY-MM-DDTHH", messages, bytes) copied, in the report's window.
    pub hours: Vec<(String, u64, u64)>,
    /// Every issue, newest first.
    pub issues: Vec<IssueRow>,
    pub checks: Vec<CheckLine>,
    /// Every backup and restore (`cutover backup`, `cutover restore`), oldest first.
    pub backups: Vec<BackupRow>,
    /// The versions of cutover that ran commands on the project: (version, runs, first and
    /// last start), oldest first.
    pub versions: Vec<(String, u64, String, String)>,
    /// Shared/resource mailboxes, lists and groups as journalled (`[recipients]`).
    pub recipients: Vec<crate::journal::RecipientRow>,
    /// What `cutover recipients` created through a directory API (and rollback removed).
    pub recipient_changes: Vec<crate::journal::RecipientChange>,
    /// Each mailbox's latest readiness check (`cutover access`), by mailbox key.
    pub access: Vec<AccessRow>,
    /// The operator's newest lessons and recommendations notes.
    pub notes: Vec<NoteRow>,
    /// What only the weekly report shows (None for the others).
    pub week: Option<Week>,
    /// The project's folder rules as counts (exclusions, renames): for the suggestions.
    pub folder_rules: (usize, usize),
}

/// What the weekly report adds: the week's runs, the newest assessment's risks and the
/// batches' planned dates.
#[derive(Debug, Clone, Default)]
pub struct Week {
    /// The window's first day (00:00 UTC, six days before the day of `generated_at`).
    pub start: String,
    /// Runs overlapping the window: (command, start, end if journalled, items and bytes
    /// copied while it ran inside the window).
    pub runs: Vec<(String, String, Option<String>, u64, u64)>,
    /// The newest assessment's time and risks (None: never assessed).
    pub risks: Option<(String, Vec<RiskRow>)>,
    /// Per batch of the report (in its order), its planned dates from the project file.
    pub batch_dates: Vec<(String, crate::config::BatchDates)>,
}

/// One mailbox's newest backup of one side, and its newest restore into that side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupLine {
    pub mailbox: String,
    pub side: String,
    pub dir: String,
    pub finished_at: String,
    /// "yes (at)" or "no".
    pub verified: String,
    pub messages: u64,
    pub bytes: u64,
    pub outcome: String,
    /// "N restored at T (outcome)", or "" when never restored.
    pub restore: String,
}

impl Report {
    /// A row per mailbox and side backed up (mailboxes in the report's order).
    pub fn backup_lines(&self) -> Vec<BackupLine> {
        let mut out = Vec::new();
        let mut keys: Vec<&str> = self.mailboxes.iter().map(|m| m.key.as_str()).collect();
        for b in &self.backups {
            if !keys.contains(&b.mailbox.as_str()) {
                keys.push(&b.mailbox);
            }
        }
        for k in keys {
            for side in ["source", "destination"] {
                let newest = |kind: &str| {
                    self.backups
                        .iter()
                        .rev()
                        .find(|b| b.kind == kind && b.mailbox == k && b.side == side)
                };
                let Some(b) = newest("backup") else { continue };
                out.push(BackupLine {
                    mailbox: k.to_string(),
                    side: side.into(),
                    dir: b.dir.clone(),
                    finished_at: b.finished_at.clone().unwrap_or_else(|| "-".into()),
                    verified: match &b.verified_at {
                        Some(at) => format!("yes ({at})"),
                        None => "no".into(),
                    },
                    messages: b.messages,
                    bytes: b.bytes,
                    outcome: b.outcome.clone(),
                    restore: newest("restore")
                        .map(|r| {
                            format!(
                                "{} restored at {} ({})",
                                r.messages,
                                r.finished_at.as_deref().unwrap_or(&r.started_at),
                                r.outcome
                            )
                        })
                        .unwrap_or_default(),
                });
            }
        }
        out
    }
}

fn parse_ts(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ").ok()
}
