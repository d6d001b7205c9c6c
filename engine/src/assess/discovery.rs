//! Discovery of one mailbox: log in on both sides, read the capabilities, the folder tree with
//! message counts and sizes (metadata only, never bodies), the largest messages, the messages
//! over the destination's size limit, the destination quota, and whether a folder can be
//! created there.

use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::any::{AnyConnector, AnySession};
use crate::endpoint::{MailSession, SpecialUse};
use crate::journal::Journal;

/// Largest messages kept per mailbox.
pub const TOP_N: usize = 5;

/// Capabilities worth reporting (present or absent).
pub const NOTABLE_CAPS: &[&str] = &[
    "UIDPLUS",
    "CONDSTORE",
    "QUOTA",
    "SPECIAL-USE",
    "APPENDLIMIT",
    "LITERAL+",
    "MOVE",
    "MULTIAPPEND",
    "LIST-EXTENDED",
];

/// A message worth naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub folder: String,
    pub uid: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct FolderAssessment {
    /// Source path, "/"-joined.
    pub folder: String,
    /// Destination path, None when not copied.
    pub dst: Option<String>,
    pub why: String,
    pub special: Option<SpecialUse>,
    pub messages: u64,
    pub bytes: u64,
    pub largest: u64,
}

#[derive(Debug, Clone, Default)]
pub struct MailboxAssessment {
    pub key: String,
    pub batch: String,
    pub src_caps: Vec<String>,
    pub dst_caps: Vec<String>,
    /// Why the source side could not be assessed (login refused, unreachable, ...).
    pub src_error: Option<String>,
    pub dst_error: Option<String>,
    /// Logged in, but the folders could not all be read (the listing or a folder failed).
    pub read_error: Option<String>,
    pub folders: Vec<FolderAssessment>,
    /// Largest messages of the folders to copy, largest first (at most [`TOP_N`]).
    pub largest: Vec<MessageRef>,
    /// Messages of the folders to copy over `size_limit`.
    pub oversize: Vec<MessageRef>,
    /// The destination's size limit: smallest of the file's/preset's and APPENDLIMIT.
    pub size_limit: Option<u64>,
    /// Destination storage quota (used, limit) in bytes, when the server reports one.
    pub quota: Option<(u64, u64)>,
    /// Already copied (journal), so not needed again on the destination.
    pub copied_bytes: u64,
    /// The probe folder on the destination: Ok, or the server's refusal.
    pub probe: Option<Result<(), String>>,
}

impl MailboxAssessment {
    pub fn logged_in(&self) -> bool {
        self.src_error.is_none() && self.dst_error.is_none()
    }
    /// Logged in and read completely: the figures are whole.
    pub fn complete(&self) -> bool {
        self.logged_in() && self.read_error.is_none()
    }
    fn copied_folders(&self) -> impl Iterator<Item = &FolderAssessment> {
        self.folders.iter().filter(|f| f.dst.is_some())
    }
    /// Messages in the folders that will be copied.
    pub fn messages(&self) -> u64 {
        self.copied_folders().map(|f| f.messages).sum()
    }
    /// Bytes in the folders that will be copied.
    pub fn bytes(&self) -> u64 {
        self.copied_folders().map(|f| f.bytes).sum()
    }
    pub fn largest_size(&self) -> u64 {
        self.largest.first().map_or(0, |m| m.size)
    }
    /// What the destination still has to take: folders to copy, less oversize messages (they
    /// are skipped) and less what the journal says is already copied.
    pub fn to_copy_bytes(&self) -> u64 {
        let over: u64 = self.oversize.iter().map(|m| m.size).sum();
        self.bytes()
            .saturating_sub(over)
            .saturating_sub(self.copied_bytes)
    }
}

fn notable(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = raw
        .iter()
        .filter(|c| {
            let up = c.to_ascii_uppercase();
            NOTABLE_CAPS
                .iter()
                .any(|n| up == *n || up.starts_with(&format!("{n}=")))
        })
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Assess one mailbox; never fails: what could not be read is recorded in the result.
pub async fn assess_mailbox(
    project: &Project,
    store: &Journal,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
) -> MailboxAssessment {
    let mut a = MailboxAssessment {
        key: spec.key(),
        batch: spec.batch.clone(),
        ..Default::default()
    };
    if let Ok(Some(id)) = store.mailbox_id(&a.key) {
        a.copied_bytes = store
            .mailbox_totals(id)
            .map(|t| t.copied_bytes)
            .unwrap_or(0);
    }
    let src = src_c
        .connect_mailbox(spec)
        .await
        .map_err(|e| format!("source {}: {e}", spec.source.user));
    let dst = dst_c
        .connect_mailbox(spec)
        .await
        .map_err(|e| format!("destination {}: {e}", spec.destination.user));
    let (mut s, mut d) = match (src, dst) {
        (Ok(s), Ok(d)) => (s, d),
        (s, d) => {
            if let Ok(s) = &s {
                a.src_caps = notable(&s.capabilities().raw);
            }
            if let Ok(d) = &d {
                a.dst_caps = notable(&d.capabilities().raw);
            }
            a.src_error = s.as_ref().err().cloned();
            a.dst_error = d.as_ref().err().cloned();
            if let Ok(s) = s {
                s.logout().await;
            }
            if let Ok(d) = d {
                d.logout().await;
            }
            return a;
        }
    };
    a.src_caps = notable(&s.capabilities().raw);
    a.dst_caps = notable(&d.capabilities().raw);
    a.size_limit = match (
        project.destination.max_message_size,
        d.capabilities().append_limit,
    ) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    if let Err(e) = read_mailbox(project, &mut a, &mut s, &mut d).await {
        a.read_error = Some(e);
    }
    s.logout().await;
    d.logout().await;
    a
}

async fn read_mailbox(
    project: &Project,
    a: &mut MailboxAssessment,
    s: &mut AnySession,
    d: &mut AnySession,
) -> Result<(), String> {
    let disc = discover(project, s, d)
        .await
        .map_err(|e| format!("listing folders: {e}"))?;
    let mut all: Vec<MessageRef> = Vec::new();
    for m in &disc.mappings {
        // A non-selectable folder holds no messages (its children are listed themselves).
        if !m.src.selectable {
            continue;
        }
        let mut f = FolderAssessment {
            folder: m.src.display(),
            dst: m.dst_wire.as_ref().map(|_| m.dst_display.clone()),
            why: m.why.clone(),
            special: m.src.special,
            ..Default::default()
        };
        {
            s.examine(&m.src.wire_name)
                .await
                .map_err(|e| format!("folder {}: {e}", f.folder))?;
            let metas = s
                .fetch_meta(1)
                .await
                .map_err(|e| format!("folder {}: {e}", f.folder))?;
            f.messages = metas.len() as u64;
            f.bytes = metas.iter().map(|m| m.size).sum();
            f.largest = metas.iter().map(|m| m.size).max().unwrap_or(0);
            if f.dst.is_some() {
                for meta in &metas {
                    let r = MessageRef {
                        folder: f.folder.clone(),
                        uid: meta.uid,
                        size: meta.size,
                    };
                    if a.size_limit.is_some_and(|l| meta.size > l) {
                        a.oversize.push(r.clone());
                    }
                    all.push(r);
                }
                // Keep memory flat on huge mailboxes: only the top few matter.
                if all.len() > 4096 {
                    top_n(&mut all);
                }
            }
        }
        a.folders.push(f);
    }
    top_n(&mut all);
    a.largest = all;
    // INBOX first, then by name: easier to read than the server's LIST order.
    a.folders.sort_by(|x, y| {
        (x.folder != "INBOX")
            .cmp(&(y.folder != "INBOX"))
            .then_with(|| x.folder.cmp(&y.folder))
    });
    // Destination quota of the root holding INBOX.
    match d.storage_quota("INBOX").await {
        Ok(q) => a.quota = q,
        Err(e) => {
            tracing::warn!(mailbox = %a.key, "GETQUOTAROOT failed: {e}");
        }
    }
    // Probe: can a folder be created (and removed) on the destination?
    let probe = format!("cutover-probe-{}", std::process::id());
    a.probe = Some(match d.create_folder(&probe).await {
        Ok(_) => match d.delete_folder(&probe).await {
            Ok(()) => Ok(()),
            Err(e) => Err(format!(
                "probe folder {probe} was created but could not be deleted ({e}); delete it by hand"
            )),
        },
        Err(e) => Err(e.to_string()),
    });
    Ok(())
}

fn top_n(v: &mut Vec<MessageRef>) {
    v.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| a.folder.cmp(&b.folder))
            .then(a.uid.cmp(&b.uid))
    });
    v.truncate(TOP_N);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_copy_leaves_out_oversize_and_copied() {
        let a = MailboxAssessment {
            folders: vec![FolderAssessment {
                folder: "INBOX".into(),
                dst: Some("INBOX".into()),
                bytes: 1000,
                ..Default::default()
            }],
            oversize: vec![MessageRef {
                folder: "INBOX".into(),
                uid: 1,
                size: 300,
            }],
            copied_bytes: 200,
            ..Default::default()
        };
        assert_eq!(a.to_copy_bytes(), 500);
    }
}
