//! Discovery: list both sides' folders and map each source folder onto the destination (folder
//! rules, Gmail labels, reserved names). Shared by the engine (before copying), `cutover plan`,
//! `cutover verify` and the assessment.

use crate::api::ItemKind;
use crate::config::Project;
use crate::endpoint::{Folder, MailSession};
use crate::item::{collection_folder, collection_of, kind_of_folder};
use crate::sync::SyncError;
use crate::sync::mapping::{MapInput, Mapping, map_folders};

/// Both sides' folders, and where each source folder goes.
pub struct Discovery {
    pub mappings: Vec<Mapping>,
    /// The destination's folders as listed.
    pub destination: Vec<Folder>,
}

/// List both sides and map the source folders onto the destination.
pub async fn discover<S: MailSession, D: MailSession>(
    project: &Project,
    src: &mut S,
    dst: &mut D,
) -> Result<Discovery, SyncError> {
    // Both sides at once: one round trip, not two.
    let (listed, df) = tokio::join!(src.list_folders(), dst.list_folders());
    let (listed, df) = (listed?, df?);
    // Calendars and address books keep their collection's id (`calendar:ID`): they are
    // not mail folders, and no mail rule applies to them.
    let (items, mut sf): (Vec<Folder>, Vec<Folder>) = listed
        .into_iter()
        .partition(|f| collection_of(&f.wire_name).is_some());
    if !project.items.mail {
        // A project that moves calendars or contacts only leaves the mail where it is.
        sf.clear();
    }
    let delim = df
        .iter()
        .filter(|f| collection_of(&f.wire_name).is_none())
        .find_map(|f| f.delimiter)
        .unwrap_or('/');
    let mut mappings = map_folders(&MapInput {
        src: &sf,
        dst: &df,
        src_preset: project.source.preset,
        dst_delimiter: delim,
        rules: &project.folders,
    });
    // A Gmail source: labels and All Mail are planned so that each message is copied once.
    if let Some((g, _)) =
        crate::sync::gmail::detect(&project.source, &sf.iter().collect::<Vec<_>>())
    {
        crate::sync::gmail::adjust_mappings(&mut mappings, &g, &df, delim, &project.folders);
    }
    crate::sync::mapping::avoid_reserved(&mut mappings, project.destination.preset, delim);
    let only_one = |kind: ItemKind| {
        items
            .iter()
            .filter(|f| kind_of_folder(&f.wire_name) == kind)
            .count()
            == 1
    };
    let single = [only_one(ItemKind::Event), only_one(ItemKind::Contact)];
    let has = |w: &str| df.iter().any(|d| d.wire_name == w);
    let mapped: Vec<Mapping> = items
        .iter()
        .map(|f| {
            let kind = kind_of_folder(&f.wire_name);
            let what = if kind == ItemKind::Contact {
                "address book"
            } else {
                "calendar"
            };
            // Another person's collection the user subscribes to (Google's calendar list):
            // shown in the plan, never copied.
            if !f.selectable {
                return Mapping {
                    dst_wire: None,
                    dst_display: String::new(),
                    why: format!(
                        "a {what} of someone else the user subscribes to; listed, not copied"
                    ),
                    src: f.clone(),
                };
            }
            // A source's only calendar (address book) whose id the destination lacks lands
            // in the destination's default one, where the destination has one (Microsoft
            // 365's `contacts:default`): the user's contacts stay where the user looks.
            let default = collection_folder(kind, "default");
            let is_single = single[usize::from(kind == ItemKind::Contact)];
            if is_single && !has(&f.wire_name) && has(&default) {
                let shown = df
                    .iter()
                    .find(|d| d.wire_name == default)
                    .map(|d| d.display())
                    .unwrap_or_else(|| default.clone());
                return Mapping {
                    dst_wire: Some(default),
                    dst_display: shown,
                    why: format!(
                        "{} → the destination's default {what} (the source's only one)",
                        kind.plural()
                    ),
                    src: f.clone(),
                };
            }
            Mapping {
                dst_wire: Some(f.wire_name.clone()),
                dst_display: f.display(),
                why: format!(
                    "{} → the destination's {what} of the same id (created when missing)",
                    kind.plural()
                ),
                src: f.clone(),
            }
        })
        .collect();
    mappings.extend(mapped);
    Ok(Discovery {
        mappings,
        destination: df,
    })
}
