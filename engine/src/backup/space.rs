//! Free space before a backup: the file system of the backup directory against the size of
//! what is still to be copied (the latest assessment's size of each mailbox, or a size pass
//! over the side where there is none, less what the backup already holds) plus 10%.

use std::path::Path;

use super::types::BackupError;
use crate::endpoint::MailSession;
use crate::engine::Engine;
use crate::journal::Journal;
use crate::mail::fmt::bytes_exact;

/// What the check found.
#[derive(Debug, Clone, Default)]
pub struct Space {
    pub free: u64,
    pub needed: u64,
    /// Where the size came from ("the assessed size of 3 mailbox(es)", ...).
    pub basis: String,
}

/// Bytes available to this user on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> Result<u64, BackupError> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(|e| BackupError::Dir {
        dir: dir.display().to_string(),
        source: std::io::Error::from(e),
    })?;
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// The size of a mailbox on the engine's source side, from its listing (the figures assess
/// reads): every selectable folder's message sizes.
async fn size_pass(engine: &Engine, spec: &crate::config::MailboxSpec) -> Result<u64, BackupError> {
    let mut s = engine.src.connect(&spec.source).await?;
    let mut total = 0;
    for f in s.list_folders().await?.iter().filter(|f| f.selectable) {
        if engine
            .project
            .folders
            .exclude
            .iter()
            .any(|re| re.is_match(&f.display()))
        {
            continue;
        }
        match s.examine(&f.wire_name).await {
            Ok(_) => total += s.fetch_meta(1).await?.iter().map(|m| m.size).sum::<u64>(),
            Err(crate::endpoint::EndpointError::NoFolder { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    s.logout().await;
    Ok(total)
}

/// Refuse when the free space of `dir` is below what is left to copy plus 10%. `keys` pairs
/// each mailbox's key in the project with its spec in the backup's (derived) project;
/// `assessed` is used when the side is the source.
pub async fn check(
    engine: &Engine,
    project_store: &Journal,
    keys: &[(String, crate::config::MailboxSpec)],
    use_assessment: bool,
    dir: &Path,
) -> Result<Space, BackupError> {
    let assessed = if use_assessment {
        project_store.latest_assessed_mailboxes()?
    } else {
        Vec::new()
    };
    let (mut size, mut from_assessment, mut listed) = (0u64, 0, 0);
    for (key, spec) in keys {
        let full = match assessed
            .iter()
            .find(|a| &a.mailbox == key && a.read_error.is_none())
        {
            Some(a) => {
                from_assessment += 1;
                a.bytes
            }
            None => {
                listed += 1;
                size_pass(engine, spec).await?
            }
        };
        let have = match engine.store.mailbox_id(&spec.key())? {
            Some(id) => engine.store.mailbox_totals(id)?.copied_bytes,
            None => 0,
        };
        size += full.saturating_sub(have);
    }
    let needed = size.saturating_add(size / 10);
    let free = free_bytes(dir)?;
    let basis = match (from_assessment, listed) {
        (a, 0) => format!(
            "the latest assessment's size of {a} mailbox(es), less what the backup already holds"
        ),
        (0, l) => format!("the listed size of {l} mailbox(es), less what the backup already holds"),
        (a, l) => format!(
            "the assessed size of {a} and the listed size of {l} mailbox(es), less what the backup already holds"
        ),
    };
    if free < needed {
        return Err(BackupError::NoSpace {
            dir: dir.display().to_string(),
            free: bytes_exact(free),
            needed: bytes_exact(needed),
            basis,
        });
    }
    Ok(Space {
        free,
        needed,
        basis,
    })
}
