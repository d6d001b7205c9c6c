//! `cutover plan`: the folder map per mailbox with what is to copy, copying nothing.

use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::MailSession;
use crate::endpoint::any::AnyConnector;
use crate::journal::Journal;
use crate::sync::SyncError;

#[derive(Debug, Clone)]
pub struct PlannedFolder {
    pub src: String,
    /// None when excluded.
    pub dst: Option<String>,
    pub why: String,
    pub messages: u64,
    pub bytes: u64,
    /// Already in the journal as copied.
    pub copied: u64,
}

pub async fn plan_mailbox(
    project: &Project,
    store: &Journal,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
) -> Result<Vec<PlannedFolder>, SyncError> {
    let mut s = src_c.connect_mailbox(spec).await?;
    let mut d = dst_c.connect_mailbox(spec).await?;
    let maps = discover(project, &mut s, &mut d).await?.mappings;
    let journal = match store.mailbox_id(&spec.key())? {
        Some(id) => store.folders_of(id)?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for m in maps {
        let (mut messages, mut bytes) = (0, 0);
        if m.src.selectable {
            s.examine(&m.src.wire_name).await?;
            let metas = s.fetch_meta(1).await?;
            messages = metas.len() as u64;
            bytes = metas.iter().map(|m| m.size).sum();
        }
        let copied = match journal.iter().find(|f| f.src_name == m.src.wire_name) {
            Some(f) => store.folder_totals(f.id)?.copied,
            None => 0,
        };
        out.push(PlannedFolder {
            src: m.src.display(),
            dst: m.dst_wire.as_ref().map(|_| m.dst_display.clone()),
            why: m.why,
            messages,
            bytes,
            copied,
        });
    }
    s.logout().await;
    d.logout().await;
    Ok(out)
}
