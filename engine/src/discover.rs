//! Discovery: list both sides' folders and map each source folder onto the destination (folder
//! rules, Gmail labels, reserved names). Shared by the engine (before copying), `cutover plan`,
//! `cutover verify` and the assessment.

use crate::api::ItemKind;
use crate::config::Project;
use crate::endpoint::{Folder, MailSession};
use crate::item::{collection_of, kind_of_folder};
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
    let listed = src.list_folders().await?;
    let df = dst.list_folders().await?;
    // Calendars and address books keep their collection's id (`calendar:ID`): they are
    // not mail folders, and no mail rule applies to them.
    let (items, sf): (Vec<Folder>, Vec<Folder>) = listed
        .into_iter()
        .partition(|f| collection_of(&f.wire_name).is_some());
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
    mappings.extend(items.into_iter().map(|f| {
        let kind = kind_of_folder(&f.wire_name);
        Mapping {
            dst_wire: Some(f.wire_name.clone()),
            dst_display: f.display(),
            why: format!(
                "{} → the destination's {} of the same id (created when missing)",
                kind.plural(),
                if kind == ItemKind::Contact {
                    "address book"
                } else {
                    "calendar"
                }
            ),
            src: f,
        }
    }));
    Ok(Discovery {
        mappings,
        destination: df,
    })
}
