//! `cutover plan`: the folder map per mailbox (calendars and address books included) with what
//! is to copy, copying nothing.

use crate::api::ItemKind;
use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::MailSession;
use crate::endpoint::any::AnyConnector;
use crate::item::folder::kind_of_folder;
use crate::journal::Journal;
use crate::sync::SyncError;

#[derive(Debug, Clone)]
pub struct PlannedFolder {
    pub src: String,
    /// None when excluded.
    pub dst: Option<String>,
    pub why: String,
    /// What the folder holds: mail, or a calendar's events, or an address book's contacts.
    pub kind: ItemKind,
    /// Items (messages, events or contacts, as `kind` says) and their bytes on the source.
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
            kind: kind_of_folder(&m.src.wire_name),
            messages,
            bytes,
            copied,
        });
    }
    s.logout().await;
    d.logout().await;
    Ok(out)
}

/// A mailbox's plan summed per kind of item (folders that are copied only): (kind, items,
/// bytes, already copied), in the order of [`ItemKind::ALL`], kinds without a folder left out.
pub fn per_kind(folders: &[PlannedFolder]) -> Vec<(ItemKind, u64, u64, u64)> {
    ItemKind::ALL
        .iter()
        .filter_map(|k| {
            let fs: Vec<&PlannedFolder> = folders
                .iter()
                .filter(|f| f.kind == *k && f.dst.is_some())
                .collect();
            (!fs.is_empty()).then(|| {
                (
                    *k,
                    fs.iter().map(|f| f.messages).sum(),
                    fs.iter().map(|f| f.bytes).sum(),
                    fs.iter().map(|f| f.copied).sum(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(src: &str, kind: ItemKind, n: u64, copied: bool) -> PlannedFolder {
        PlannedFolder {
            src: src.into(),
            dst: copied.then(|| src.to_string()),
            why: String::new(),
            kind,
            messages: n,
            bytes: n * 10,
            copied: n / 2,
        }
    }

    #[test]
    fn per_kind_sums_copied_folders_only() {
        let fs = [
            f("INBOX", ItemKind::Mail, 4, true),
            f("Trash", ItemKind::Mail, 100, false),
            f("calendar:a", ItemKind::Event, 6, true),
            f("calendar:b", ItemKind::Event, 2, true),
        ];
        assert_eq!(
            per_kind(&fs),
            vec![(ItemKind::Mail, 4, 40, 2), (ItemKind::Event, 8, 80, 4)]
        );
    }
}
