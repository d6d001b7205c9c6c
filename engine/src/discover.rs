//! Discovery: list both sides' folders and map each source folder onto the destination (folder
//! rules, Gmail labels, reserved names). Shared by the engine (before copying), `cutover plan`,
//! `cutover verify` and the assessment.

use crate::config::Project;
use crate::endpoint::{Folder, MailSession};
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
    let sf = src.list_folders().await?;
    let df = dst.list_folders().await?;
    let delim = df.iter().find_map(|f| f.delimiter).unwrap_or('/');
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
    Ok(Discovery {
        mappings,
        destination: df,
    })
}
