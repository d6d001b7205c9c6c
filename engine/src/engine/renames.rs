//! A folder renamed on the source, renamed on the destination (issue 19): instead of each of
//! its messages being moved into a new destination folder (the old one left empty), the
//! destination folder itself is renamed and the journal's folder row takes the new names.
//!
//! "The same folder under a new name" is decided without trusting a name: a folder the
//! journal knows that the source no longer lists, and exactly one newly listed folder with
//! the same UIDVALIDITY (Dovecot keeps it across RENAME; so do most servers), whose UIDs
//! within what the journal enumerated are all journal rows of the old folder with the same
//! sizes, and whose first few copied messages have the journalled fingerprints (BLAKE3 of
//! the bytes). Anything less (a server that renumbers on rename, another endpoint kind, a
//! destination folder of the new name already there) leaves the delta pass's fallback: the
//! messages are found by fingerprint and moved, never copied twice. Messages the user
//! deleted or moved out while renaming are then the delta pass's usual business.
//!
//! Crash safety: the journal row takes the new names with the old destination name kept in
//! `renamed_from` before the RENAME is sent, and loses it after; a run killed in between
//! finds `renamed_from` and looks at the destination (old name still there: RENAME again;
//! new name there: done).

use std::collections::HashMap;

use super::state::Engine;
use crate::api::{ItemKind, Severity};
use crate::endpoint::{Folder, MailSession};
use crate::item::folder::kind_of_folder;
use crate::journal::{FolderRow, folder_state, state};
use crate::sync::SyncError;
use crate::sync::mapping::Mapping;

/// How many copied messages' fingerprints are compared before a rename is believed.
const PROBES: usize = 5;

fn listed(list: &[Folder], wire: &str) -> bool {
    list.iter().any(|f| f.wire_name == wire)
}

/// The destination's listing after a RENAME: the old entry under its new name.
fn renamed_in(list: &mut [Folder], from: &str, to: &str) {
    if let Some(f) = list.iter_mut().find(|f| f.wire_name == from) {
        f.wire_name = to.to_string();
    }
}

impl Engine {
    /// Finish renames a killed run left under way, then follow the folders renamed on the
    /// source since the last pass (see the module). `dst_listed` is the destination's
    /// listing, kept up to date.
    pub(super) async fn follow_renames(
        &self,
        key: &str,
        mailbox_id: i64,
        maps: &[Mapping],
        dst_listed: &mut [Folder],
        s: &mut impl MailSession,
        d: &mut impl MailSession,
    ) -> Result<(), SyncError> {
        for (row, old) in self.store.folder_renames_under_way(mailbox_id)? {
            if listed(dst_listed, &old) && !listed(dst_listed, &row.dst_name) {
                d.rename_folder(&old, &row.dst_name).await?;
                renamed_in(dst_listed, &old, &row.dst_name);
            }
            self.store.end_folder_rename(row.id)?;
        }
        let rows = self.store.folders_of(mailbox_id)?;
        let on_source = |w: &str| maps.iter().any(|m| m.src.wire_name == w);
        let mut gone: Vec<(FolderRow, u32)> = Vec::new();
        for r in &rows {
            let Some(v) = r.src_uidvalidity else { continue };
            if on_source(&r.src_name)
                || kind_of_folder(&r.src_name) != ItemKind::Mail
                || !listed(dst_listed, &r.dst_name)
                || self.store.folder_state_of(r.id)?.as_deref() == Some(folder_state::GONE)
            {
                continue;
            }
            gone.push((r.clone(), v));
        }
        let fresh: Vec<(&Mapping, &String)> = maps
            .iter()
            .filter_map(|m| Some((m, m.dst_wire.as_ref()?)))
            .filter(|(m, dst)| {
                kind_of_folder(&m.src.wire_name) == ItemKind::Mail
                    && !rows.iter().any(|r| r.src_name == m.src.wire_name)
                    && !listed(dst_listed, dst)
            })
            .collect();
        if gone.is_empty() || fresh.is_empty() {
            return Ok(());
        }
        let wires: Vec<String> = fresh.iter().map(|(m, _)| m.src.wire_name.clone()).collect();
        let status = s.statuses(&wires, false).await?;
        for (row, v) in gone {
            let same: Vec<&(&Mapping, &String)> = fresh
                .iter()
                .filter(|(m, _)| {
                    status
                        .get(&m.src.wire_name)
                        .is_some_and(|x| x.0.uidvalidity == v)
                })
                .collect();
            let [(m, new_dst)] = same.as_slice() else {
                continue;
            };
            if !self.same_folder(&row, v, &m.src.wire_name, s).await? {
                continue;
            }
            let (new_src, new_dst) = (m.src.wire_name.as_str(), new_dst.as_str());
            self.store
                .begin_folder_rename(row.id, new_src, new_dst, &row.dst_name)?;
            match d.rename_folder(&row.dst_name, new_dst).await {
                Ok(()) => {
                    self.store.end_folder_rename(row.id)?;
                    renamed_in(dst_listed, &row.dst_name, new_dst);
                    let (from, to) = (
                        crate::mail::utf7::decode_mutf7(&row.src_name),
                        m.src.display(),
                    );
                    self.sink.issue(
                        Severity::Info,
                        "source",
                        Some(key),
                        Some(&to),
                        None,
                        &format!(
                            "source folder {from} was renamed {to}: its destination folder renamed {} (nothing moved or copied again)",
                            m.dst_display
                        ),
                    );
                }
                // Whether it was renamed is not known: the journal says under way, and the
                // next attempt looks.
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => {
                    self.store
                        .undo_folder_rename(row.id, &row.src_name, &row.dst_name)?;
                    tracing::info!(mailbox = %key, folder = %row.dst_name,
                        "the destination did not rename the folder ({e}); its messages are moved instead");
                }
            }
        }
        Ok(())
    }

    /// Whether source folder `wire` is the journal's folder `row` under a new name: every
    /// UID up to what the journal enumerated is one of its rows with the same size, and the
    /// first copied ones present have their journalled fingerprints.
    async fn same_folder(
        &self,
        row: &FolderRow,
        validity: u32,
        wire: &str,
        s: &mut impl MailSession,
    ) -> Result<bool, SyncError> {
        let st = s.examine(wire).await?;
        if st.uidvalidity != validity {
            return Ok(false);
        }
        let listing: HashMap<u32, u64> = s
            .fetch_meta(1)
            .await?
            .into_iter()
            .map(|m| (m.uid, m.size))
            .collect();
        let journal = self.store.folder_src_sizes(row.id, validity)?;
        let known = listing
            .iter()
            .filter(|(u, _)| **u <= row.src_high)
            .all(|(u, size)| journal.get(u) == Some(size));
        if !known {
            return Ok(false);
        }
        let probes: Vec<_> = self
            .store
            .delta_rows(row.id, Some(validity), &[state::COPIED])?
            .into_iter()
            .filter(|c| listing.get(&c.src_uid) == Some(&c.size) && !c.fingerprint.is_empty())
            .take(PROBES)
            .collect();
        if probes.is_empty() {
            return Ok(false);
        }
        let uids: Vec<u32> = probes.iter().map(|p| p.src_uid).collect();
        let got: HashMap<u32, String> = s
            .fetch_fingerprints(&uids, 0)
            .await?
            .into_iter()
            .map(|f| (f.uid, f.fingerprint))
            .collect();
        Ok(probes
            .iter()
            .all(|p| got.get(&p.src_uid) == Some(&p.fingerprint)))
    }
}
