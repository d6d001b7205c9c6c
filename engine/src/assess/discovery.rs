//! Discovery of one mailbox: log in on both sides, read the capabilities, the folder tree with
//! message counts and sizes (metadata only, never bodies), the largest messages, the messages
//! over the destination's size limit, the destination quota, and whether a folder can be
//! created there.

use crate::api::ItemKind;
use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::any::{AnyConnector, AnySession};
use crate::endpoint::{MailSession, SpecialUse};
use crate::item::folder::kind_of_folder;
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
    /// A message, an event or a contact.
    pub kind: ItemKind,
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
    /// Mail, or a calendar's events, or an address book's contacts; `messages` counts these.
    pub kind: ItemKind,
    pub messages: u64,
    pub bytes: u64,
    pub largest: u64,
}

#[derive(Debug, Clone, Default)]
pub struct MailboxAssessment {
    pub key: String,
    pub batch: String,
    /// User, shared, room or equipment, as the project file says.
    pub mailbox_type: crate::api::MailboxType,
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
    /// The size limit the destination's calendars and address books impose on an event or a
    /// contact, as the copy applies it (a Graph destination: its `max_message_size`; CalDAV
    /// and CardDAV state none); read only when the mailbox has such folders to copy.
    pub item_limit: Option<u64>,
    /// Events of the folders to copy with an attachment over the destination's per-attachment
    /// limit (`attachment_limit`, Microsoft 365: 3 MB): the event, the attachment's name and
    /// size. They are refused by the copy with that reason.
    pub big_attachments: Vec<(MessageRef, String, u64)>,
    /// The destination's per-attachment limit for events, when it has one.
    pub attachment_limit: Option<u64>,
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
    /// Items and bytes of the folders to copy, per kind (kinds without a folder left out).
    pub fn by_kind(&self) -> Vec<(ItemKind, u64, u64)> {
        ItemKind::ALL
            .iter()
            .filter_map(|k| {
                let fs: Vec<&FolderAssessment> =
                    self.copied_folders().filter(|f| f.kind == *k).collect();
                (!fs.is_empty()).then(|| {
                    (
                        *k,
                        fs.iter().map(|f| f.messages).sum(),
                        fs.iter().map(|f| f.bytes).sum(),
                    )
                })
            })
            .collect()
    }
    /// Some folder to copy is a calendar or an address book.
    pub fn mixed(&self) -> bool {
        self.by_kind().iter().any(|k| k.0 != ItemKind::Mail)
    }
    /// The size limit that applies to items of `kind`.
    pub fn limit_for(&self, kind: ItemKind) -> Option<u64> {
        match kind {
            ItemKind::Mail => self.size_limit,
            _ => self.item_limit,
        }
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
        mailbox_type: spec.mailbox_type,
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

/// Of these events (UIDs in the examined folder), those with an inline attachment over
/// `limit`: (UID, event size, the largest such attachment's name and size).
async fn over_limit_attachments(
    s: &mut AnySession,
    uids: &[u32],
    limit: u64,
) -> Result<Vec<(u32, u64, String, u64)>, crate::endpoint::EndpointError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let (sink, mut rx) = crate::endpoint::MessageSink::new(4);
    let reading = async move {
        let mut out = Vec::new();
        while let Some((m, _permit)) = rx.recv().await {
            let text = String::from_utf8_lossy(m.body.bytes()).into_owned();
            if let Some((name, size)) = crate::item::content::inline_attachments(&text)
                .into_iter()
                .filter(|a| a.1 > limit)
                .max_by_key(|a| a.1)
            {
                out.push((m.uid, m.body.len() as u64, name, size));
            }
        }
        out
    };
    let fetching = async move {
        let r = s.fetch_messages(uids, &sink).await;
        drop(sink);
        r
    };
    let (fetched, out) = tokio::join!(fetching, reading);
    fetched?;
    Ok(out)
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
    // The limit the destination's collections impose, as the copy sees it: their side of the
    // session answers once one of them is opened (a collection not created yet still tells).
    if let Some(dst) = disc
        .mappings
        .iter()
        .filter(|m| kind_of_folder(&m.src.wire_name) != ItemKind::Mail)
        .find_map(|m| m.dst_wire.as_ref())
    {
        let _ = d.examine(dst).await;
        a.item_limit = d.capabilities().append_limit;
        a.attachment_limit = d.capabilities().attachment_limit;
    }
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
            kind: kind_of_folder(&m.src.wire_name),
            ..Default::default()
        };
        let limit = a.limit_for(f.kind);
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
                        kind: f.kind,
                        uid: meta.uid,
                        size: meta.size,
                    };
                    if limit.is_some_and(|l| meta.size > l) {
                        a.oversize.push(r.clone());
                    }
                    all.push(r);
                }
                // Keep memory flat on huge mailboxes: only the top few matter.
                if all.len() > 4096 {
                    top_n(&mut all);
                }
                if f.kind == ItemKind::Event
                    && let Some(l) = a.attachment_limit
                {
                    // Only an event bigger than the limit can carry a bigger attachment: read
                    // those (few) and measure their attachments.
                    let big: Vec<u32> =
                        metas.iter().filter(|m| m.size > l).map(|m| m.uid).collect();
                    for (uid, size, name, att) in over_limit_attachments(s, &big, l)
                        .await
                        .map_err(|e| format!("folder {}: {e}", f.folder))?
                    {
                        let r = MessageRef {
                            folder: f.folder.clone(),
                            kind: f.kind,
                            uid,
                            size,
                        };
                        a.big_attachments.push((r, name, att));
                    }
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
                kind: ItemKind::Mail,
                uid: 1,
                size: 300,
            }],
            copied_bytes: 200,
            ..Default::default()
        };
        assert_eq!(a.to_copy_bytes(), 500);
    }
}
