//! Mailbox readiness (`cutover access`): before a batch, can each destination mailbox receive
//! what will be copied? Per mailbox, without writing anything: the destination account exists
//! and is enabled, has a mailbox (Graph: the directory's user, its licences and Exchange's
//! `mailboxSettings`), the migration's sign-in to it works (IMAP: the mailbox's own
//! destination credentials; Graph and Gmail: the app's token for it), and its quota has room
//! for what the last assessment found left to copy. `--probe` also places a test message in
//! the destination INBOX, reads it back and removes it (IMAP destinations; elsewhere the result
//! says there was no probe), and says so in the journal. Each result is journalled (`access_checks`) for the checklist's `access`
//! item and the reports.
//!
//! What it cannot see: a user's own sign-in with MFA or conditional access, their mail
//! clients and profiles, and licences that only take effect later.

use std::collections::HashMap;

use chrono::Utc;

use crate::config::{MailboxSpec, Project};
use crate::endpoint::any::{AnyConnector, AnySession};
use crate::endpoint::{AppendOutcome, Body, EndpointError, MailSession, Message};
use crate::journal::{Journal, JournalError};
use crate::mail::fmt::bytes as fmt_bytes;

/// The outcome of one mailbox's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The destination has no such account.
    NoAccount,
    /// The account exists but is disabled (blocked sign-in).
    Disabled,
    /// The account exists without a mailbox (not licensed, or not provisioned yet).
    NoMailbox,
    /// The migration's sign-in to the mailbox was refused.
    SignInRefused,
    /// The quota has less room than what is left to copy.
    NoRoom,
    /// The destination could not be reached.
    Unreachable,
    /// The probe (test message placed, read back, removed) failed.
    ProbeFailed,
}

impl Readiness {
    pub fn word(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::NoAccount => "no-account",
            Readiness::Disabled => "disabled",
            Readiness::NoMailbox => "no-mailbox",
            Readiness::SignInRefused => "sign-in-refused",
            Readiness::NoRoom => "no-room",
            Readiness::Unreachable => "unreachable",
            Readiness::ProbeFailed => "probe-failed",
        }
    }
}

/// One mailbox's result.
#[derive(Debug, Clone)]
pub struct AccessResult {
    pub key: String,
    /// The destination account.
    pub user: String,
    pub readiness: Readiness,
    /// What was found, in words (and what to do when not ready).
    pub detail: String,
    pub probed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Selection(String),
}

/// Check the destination of every mailbox of `batches` (all when empty), one after another,
/// and journal each result.
pub async fn check(
    project: &Project,
    store: &Journal,
    batches: &[String],
    probe: bool,
) -> Result<Vec<AccessResult>, AccessError> {
    let specs: Vec<&MailboxSpec> = project
        .mailboxes
        .iter()
        .filter(|m| batches.is_empty() || batches.contains(&m.batch))
        .collect();
    if specs.is_empty() {
        return Err(AccessError::Selection(format!(
            "no mailbox in batch(es) {}",
            batches.join(", ")
        )));
    }
    let dst = AnyConnector::new(&project.destination, "destination", store, project.items)?;
    // What is left to copy per mailbox, from the last assessment.
    let left: HashMap<String, u64> = store
        .latest_assessed_mailboxes()?
        .into_iter()
        .map(|m| (m.mailbox, m.to_copy_bytes))
        .collect();
    let mut out = Vec::new();
    for spec in specs {
        let r = check_one(&dst, spec, left.get(&spec.key()).copied(), probe).await;
        store.record_access(
            &r.key,
            r.readiness == Readiness::Ready,
            r.readiness.word(),
            &r.detail,
            r.probed,
        )?;
        out.push(r);
    }
    Ok(out)
}

async fn check_one(
    dst: &AnyConnector,
    spec: &MailboxSpec,
    left: Option<u64>,
    probe: bool,
) -> AccessResult {
    let mut r = AccessResult {
        key: spec.key(),
        user: spec.destination.user.clone(),
        readiness: Readiness::Ready,
        detail: String::new(),
        probed: false,
    };
    let mut notes: Vec<String> = Vec::new();
    if let AnyConnector::Graph(g) = dst {
        match g.account(&r.user).await {
            Ok(a) => {
                let not_ready = if a.exists == Some(false) {
                    Some(Readiness::NoAccount)
                } else if a.enabled == Some(false)
                    && spec.mailbox_type == crate::api::MailboxType::User
                {
                    // Shared and resource mailboxes have disabled accounts by design.
                    Some(Readiness::Disabled)
                } else if !a.mailbox {
                    Some(Readiness::NoMailbox)
                } else {
                    None
                };
                if let Some(n) = not_ready {
                    r.readiness = n;
                    r.detail = a.reason.unwrap_or_else(|| match n {
                        Readiness::Disabled => {
                            "the account is disabled (sign-in blocked): enable it before the batch"
                                .into()
                        }
                        _ => n.word().into(),
                    });
                    return r;
                }
                if a.licences == Some(0) && spec.mailbox_type == crate::api::MailboxType::User {
                    notes.push(
                        "no licence assigned: a user mailbox without one is disabled after the grace period"
                            .into(),
                    );
                }
                if let Some(p) = a.purpose {
                    notes.push(format!("mailbox type {p}"));
                }
            }
            Err(e) => return unreached(r, e),
        }
    }
    let mut s = match dst.connect_mailbox(spec).await {
        Ok(s) => s,
        Err(e) => return unreached(r, e),
    };
    match s.storage_quota("INBOX").await {
        Ok(Some((used, limit))) => {
            let room = limit.saturating_sub(used);
            notes.push(format!(
                "quota {} of {} used",
                fmt_bytes(used),
                fmt_bytes(limit)
            ));
            if let Some(left) = left.filter(|l| *l > room) {
                r.readiness = Readiness::NoRoom;
                notes.push(format!(
                    "{} left to copy (last assessment) but {} free: raise the quota or clean up",
                    fmt_bytes(left),
                    fmt_bytes(room)
                ));
            }
        }
        Ok(None) => {}
        Err(e) => notes.push(format!("quota unreadable: {e}")),
    }
    if probe && r.readiness == Readiness::Ready && !matches!(s, AnySession::Imap(_)) {
        notes.push("no probe: it is available for IMAP destinations only".into());
    } else if probe && r.readiness == Readiness::Ready {
        match probe_inbox(&mut s).await {
            Ok(uid) => {
                r.probed = true;
                notes.push(format!(
                    "probe: a test message stored in INBOX (UID {uid}), read back and removed"
                ));
            }
            Err(e) => {
                r.probed = true;
                r.readiness = Readiness::ProbeFailed;
                notes.push(format!("probe failed: {e}"));
            }
        }
    }
    s.logout().await;
    r.detail = if notes.is_empty() {
        "signed in; the mailbox opens".into()
    } else {
        format!("signed in; {}", notes.join("; "))
    };
    r
}

fn unreached(mut r: AccessResult, e: EndpointError) -> AccessResult {
    r.readiness = match &e {
        // Graph opening the mailbox of a user who has none.
        EndpointError::Auth { message, .. } if message.contains("MailboxNotEnabledForRESTAPI") => {
            Readiness::NoMailbox
        }
        EndpointError::Auth { .. } => Readiness::SignInRefused,
        _ => Readiness::Unreachable,
    };
    r.detail = e.to_string();
    r
}

/// Place a test message in INBOX, read it back (same bytes) and remove exactly it.
async fn probe_inbox(s: &mut AnySession) -> Result<u32, String> {
    let now = Utc::now();
    let body = format!(
        "From: cutover <cutover-probe@invalid>\r\nSubject: cutover access probe {}\r\n\
         Date: {}\r\nMessage-ID: <cutover-probe-{}@invalid>\r\n\r\n\
         A test message placed by `cutover access --probe`; removed at once.\r\n",
        now.to_rfc3339(),
        now.to_rfc2822(),
        now.timestamp_nanos_opt().unwrap_or_default()
    );
    let text = |e: EndpointError| e.to_string();
    let opened = s.open_for_append("INBOX").await.map_err(text)?;
    let msg = Message {
        uid: 0,
        flags: vec!["\\Seen".into()],
        internal_date: None,
        body: Body::new(body.clone().into_bytes()),
    };
    let out = s.append("INBOX", &[msg]).await.map_err(text)?;
    let uid = match out.into_iter().next() {
        Some(AppendOutcome::Stored {
            uid: Some(uid),
            uidvalidity,
        }) if uidvalidity.is_none_or(|v| v == opened.uidvalidity) => uid,
        Some(AppendOutcome::Stored { uid: Some(uid), .. }) => {
            return Err(format!(
                "stored as UID {uid} of another UIDVALIDITY than INBOX's: not removed, remove the \"cutover access probe\" message by hand"
            ));
        }
        Some(AppendOutcome::Stored { uid: None, .. }) => {
            return Err(
                "stored, but the server gave no UID (no UIDPLUS): remove the \"cutover access probe\" message by hand"
                    .into(),
            );
        }
        Some(AppendOutcome::Refused { reason } | AppendOutcome::Kept { reason }) => {
            return Err(reason);
        }
        Some(AppendOutcome::Failed { error }) => return Err(error.to_string()),
        None => return Err("no answer to the test APPEND".into()),
    };
    let read = s.fetch_fingerprints(&[uid], 0).await.map_err(text)?;
    let want = crate::mail::fingerprint::fingerprint(body.as_bytes());
    let same = read.iter().any(|f| f.uid == uid && f.fingerprint == want);
    s.expunge_uids(&[uid]).await.map_err(text)?;
    if !same {
        return Err(format!(
            "the test message (UID {uid}) did not read back as written"
        ));
    }
    Ok(uid)
}
