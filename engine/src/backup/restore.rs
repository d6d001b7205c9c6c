//! `cutover restore`: the same engine as a migration, on a derived project whose source is the
//! backup directory (a Maildir endpoint) and whose destination is the chosen side of the
//! project, with its own journal in the backup directory (`restore-<side>.sqlite`). A
//! pre-pass ([`plan`]) journals as copied every backed-up message whose content (fingerprint,
//! size first) the target folder already holds, so only what the target lacks is written,
//! nothing twice, and nothing already there is touched. Once a restore completes, its
//! journal is set aside at the next restore (kept as `restore-<side>.<time>.sqlite`), so a
//! later restore compares with the target afresh.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::run::outcome_of;
use super::types::{
    BackupError, default_dir, maildir_endpoint, side_credential, side_dav, side_endpoint,
    tree_credential,
};
use crate::api::Side;
use crate::config::{ChecklistSettings, MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::{EndpointError, MailSession};
use crate::engine::{Engine, Failure, MailboxResult};
use crate::events::{Event, RunStats};
use crate::journal::{Issue, Journal};

/// A restore set up: its engine (on the derived project) and the mailbox it restores.
pub struct RestoreRun {
    pub engine: Arc<Engine>,
    pub dir: PathBuf,
    pub into: Side,
    /// The project's key of the mailbox, and its entry in the derived project.
    pub key: String,
    pub spec: MailboxSpec,
}

/// One folder of a restore, as planned.
#[derive(Debug, Clone, Default)]
pub struct FolderPlan {
    pub folder: String,
    /// Messages in the backup's folder.
    pub in_backup: u64,
    /// Of them, already on the target (same content in the folder it maps to).
    pub present: u64,
    /// Restored by an interrupted run of this restore already.
    pub done: u64,
    /// What the target lacks and the restore writes.
    pub to_restore: u64,
    pub bytes: u64,
}

/// How a restore ended.
#[derive(Debug, Clone)]
pub struct RestoreOutcome {
    pub result: MailboxResult,
    /// Messages written this run.
    pub appended: u64,
}

fn journal_name(into: Side) -> String {
    format!("restore-{}.sqlite", into.as_str())
}

fn done_marker(dir: &Path, into: Side) -> PathBuf {
    dir.join(format!("restore-{}.done", into.as_str()))
}

/// A completed restore's journal is set aside, so this restore compares with the target
/// afresh; an interrupted one's is resumed.
fn set_aside_finished(dir: &Path, into: Side) -> Result<(), BackupError> {
    let marker = done_marker(dir, into);
    if !marker.exists() {
        return Ok(());
    }
    let io = |p: &Path, source| BackupError::Dir {
        dir: p.display().to_string(),
        source,
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let base = dir.join(journal_name(into));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", base.display()));
        if from.exists() {
            let to = dir.join(format!("restore-{}.{stamp}.sqlite{suffix}", into.as_str()));
            std::fs::rename(&from, &to).map_err(|e| io(&from, e))?;
        }
    }
    std::fs::remove_file(&marker).map_err(|e| io(&marker, e))
}

/// The derived project of a restore.
fn restore_project(
    project: &Project,
    spec: &MailboxSpec,
    into: Side,
    dir: &Path,
    tree: &str,
    exclude: Vec<regex::Regex>,
) -> Project {
    let to = side_endpoint(project, into).clone();
    let mut p = project.clone();
    p.source = maildir_endpoint(&to, dir);
    p.destination = to;
    p.state_path = dir.join(journal_name(into));
    p.postgres = None;
    p.mailboxes = vec![MailboxSpec {
        source: tree_credential(tree),
        destination: side_credential(spec, into).clone(),
        source_dav: None,
        destination_dav: side_dav(spec, into),
        ..spec.clone()
    }];
    p.folders.rename.clear();
    p.folders.exclude = exclude;
    p.checks.clear();
    p.checklist = ChecklistSettings::default();
    p
}

/// Set up the restore of one mailbox from `dir` (default `backups/<into>/` next to the
/// journal) into the `into` side; with `folders`, only those (named as displayed, "A/B").
pub async fn restore_engine(
    project: &Project,
    spec: &MailboxSpec,
    into: Side,
    dir: Option<PathBuf>,
    folders: &[String],
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Result<RestoreRun, BackupError> {
    let dir = dir.unwrap_or_else(|| default_dir(project, into));
    let other = match into {
        Side::Source => Side::Destination,
        Side::Destination => Side::Source,
    };
    // The tree is named after the mailbox's user on the side it was backed up from.
    let users = [
        side_credential(spec, into).user.clone(),
        side_credential(spec, other).user.clone(),
    ];
    let Some(tree) = users
        .iter()
        .find(|u| dir.join(u).join("cur").is_dir())
        .cloned()
    else {
        return Err(BackupError::NoBackup {
            mailbox: spec.key(),
            dir: dir.display().to_string(),
            tried: users
                .iter()
                .map(|u| dir.join(u).display().to_string())
                .collect::<Vec<_>>()
                .join(" nor "),
        });
    };
    set_aside_finished(&dir, into)?;
    let open = |exclude| -> Result<Arc<Engine>, BackupError> {
        let p = restore_project(project, spec, into, &dir, &tree, exclude);
        let store = Journal::open(&p.state_path, p.durability)?;
        Ok(Arc::new(Engine::new(p, store, events.clone())?))
    };
    let mut engine = open(project.folders.exclude.clone())?;
    if !folders.is_empty() {
        // Every other folder of the backup is left out.
        let mut s = engine.src.connect(&tree_credential(&tree)).await?;
        let listed = s.list_folders().await?;
        s.logout().await;
        let names: Vec<String> = listed
            .iter()
            .filter(|f| f.selectable)
            .map(|f| f.display())
            .collect();
        for f in folders {
            if !names.contains(f) {
                return Err(BackupError::NoFolder {
                    mailbox: spec.key(),
                    folder: f.clone(),
                    have: names.join(", "),
                });
            }
        }
        let mut exclude = project.folders.exclude.clone();
        for n in names.iter().filter(|n| !folders.contains(n)) {
            exclude.push(
                regex::Regex::new(&format!("^{}$", regex::escape(n)))
                    .expect("an escaped name is a valid expression"),
            );
        }
        drop(engine);
        engine = open(exclude)?;
    }
    let spec_derived = engine.project.mailboxes[0].clone();
    Ok(RestoreRun {
        engine,
        dir,
        into,
        key: spec.key(),
        spec: spec_derived,
    })
}

/// Plan the restore folder by folder; unless `dry_run`, journal what the target already
/// holds as copied (the pre-pass). Reads both sides; writes nothing to the target.
pub async fn plan(run: &RestoreRun, dry_run: bool) -> Result<Vec<FolderPlan>, BackupError> {
    let store = &run.engine.store;
    let spec = &run.spec;
    let mailbox_id = if dry_run {
        store.mailbox_id(&spec.key())?
    } else {
        Some(store.upsert_mailbox(
            &spec.key(),
            &spec.batch,
            &spec.source.user,
            &spec.destination.user,
        )?)
    };
    // The mailbox with its calendars and contacts, where the project moves them.
    let mut s = run.engine.src.connect_mailbox(spec).await?;
    let mut d = run.engine.dst.connect_mailbox(spec).await?;
    let found = discover(&run.engine.project, &mut s, &mut d).await?;
    let rows = match mailbox_id {
        Some(id) => store.folders_of(id)?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for m in &found.mappings {
        let Some(dst) = &m.dst_wire else { continue };
        let src = &m.src.wire_name;
        let st = s.examine(src).await?;
        let metas = s.fetch_meta(1).await?;
        let row = match (dry_run, mailbox_id) {
            (false, Some(id)) => Some(store.folder(id, src, dst)?),
            _ => rows
                .iter()
                .find(|r| &r.src_name == src && &r.dst_name == dst)
                .cloned(),
        };
        let renumbered = row
            .as_ref()
            .and_then(|r| r.src_uidvalidity)
            .is_some_and(|v| v != st.uidvalidity);
        let known = match &row {
            Some(r) if !renumbered => store.known_src_uids(r.id, st.uidvalidity)?,
            _ => HashSet::new(),
        };
        let done = match &row {
            Some(r) => store.folder_totals(r.id)?.copied,
            None => 0,
        };
        let candidates: Vec<_> = metas.iter().filter(|x| !known.contains(&x.uid)).collect();
        // What the target held before this restore first wrote there.
        let target = match d.examine(dst).await {
            Ok(t) => Some(t),
            Err(EndpointError::NoFolder { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let mut present: Vec<(u32, u64, String, u32)> = Vec::new();
        if let Some(t) = &target
            && !renumbered
            && !candidates.is_empty()
        {
            let start = match &row {
                Some(r) if r.dst_uidvalidity == Some(t.uidvalidity) => {
                    store.written_window(r.id)?.0
                }
                _ => None,
            };
            let tmetas: Vec<_> = d
                .fetch_meta(1)
                .await?
                .into_iter()
                .filter(|x| start.is_none_or(|s| x.uid < s))
                .collect();
            let tsizes: HashSet<u64> = tmetas.iter().map(|x| x.size).collect();
            let ssizes: HashSet<u64> = candidates.iter().map(|x| x.size).collect();
            let suids: Vec<u32> = candidates
                .iter()
                .filter(|x| tsizes.contains(&x.size))
                .map(|x| x.uid)
                .collect();
            let tuids: Vec<u32> = tmetas
                .iter()
                .filter(|x| ssizes.contains(&x.size))
                .map(|x| x.uid)
                .collect();
            if !suids.is_empty() && !tuids.is_empty() {
                let tfps = d.fetch_fingerprints(&tuids, 1).await?;
                RunStats::add(&run.engine.stats.bodies_fetched, tfps.len() as u64);
                let mut by_fp: HashMap<&str, Vec<u32>> = HashMap::new();
                for f in tfps.iter().rev() {
                    by_fp.entry(f.fingerprint.as_str()).or_default().push(f.uid);
                }
                let mut sfps = s.fetch_fingerprints(&suids, 1).await?;
                sfps.sort_by_key(|f| f.uid);
                for f in &sfps {
                    if let Some(u) = by_fp.get_mut(f.fingerprint.as_str()).and_then(Vec::pop) {
                        present.push((f.uid, f.size, f.fingerprint.clone(), u));
                    }
                }
            }
        }
        let present_uids: HashSet<u32> = present.iter().map(|p| p.0).collect();
        let rest: Vec<_> = candidates
            .iter()
            .filter(|x| !present_uids.contains(&x.uid))
            .collect();
        // Left by an interrupted run: still to copy, or written and not yet confirmed.
        let pending = match &row {
            Some(r) if !renumbered => {
                store.folder_totals(r.id)?.pending + store.in_doubt(r.id)?.len() as u64
            }
            _ => 0,
        };
        out.push(FolderPlan {
            folder: m.src.display(),
            in_backup: metas.len() as u64,
            present: present.len() as u64,
            done,
            to_restore: rest.len() as u64 + pending,
            bytes: rest.iter().map(|x| x.size).sum(),
        });
        if !dry_run && let Some(r) = &row {
            if r.src_uidvalidity.is_none() {
                store.set_src_uidvalidity(r.id, st.uidvalidity)?;
            }
            if let Some(t) = &target {
                if r.dst_uidvalidity.is_none() {
                    store.set_dst_uidvalidity(r.id, t.uidvalidity)?;
                    store.set_dst_start(r.id, t.uidnext)?;
                }
                if !present.is_empty() && r.dst_uidvalidity.is_none_or(|v| v == t.uidvalidity) {
                    store.mark_present(r.id, st.uidvalidity, &present, t.uidvalidity)?;
                }
            }
        }
    }
    s.logout().await;
    d.logout().await;
    Ok(out)
}

/// Run the restore (after [`plan`] without `dry_run`): journalled in the project's journal
/// (a `restore` row, and an operator issue when it writes to the source), exactly once and
/// resumable like a migration.
pub async fn restore(
    run: &RestoreRun,
    project_store: &Journal,
    operator: &str,
) -> Result<RestoreOutcome, BackupError> {
    let dir = run.dir.display().to_string();
    let row = project_store.begin_backup("restore", &run.key, run.into.as_str(), &dir)?;
    let message = format!(
        "restore of {} from {dir} into the {} started by {operator}",
        run.key,
        run.into.as_str()
    );
    tracing::warn!("{message}");
    project_store.record_issue(&Issue {
        severity: if run.into == Side::Source {
            "warning"
        } else {
            "info"
        },
        category: "operator",
        mailbox: Some(&run.key),
        folder: None,
        uid: None,
        message: &message,
    })?;
    let results = run.engine.run(&[]).await;
    let result = results.into_iter().next().unwrap_or_else(|| MailboxResult {
        key: run.spec.key(),
        batch: run.spec.batch.clone(),
        totals: Default::default(),
        failure: Some((Failure::Other, "not run (already running?)".into())),
    });
    let appended = RunStats::get(&run.engine.stats.appended);
    project_store.end_backup(
        row,
        appended,
        result.totals.copied_bytes,
        &outcome_of(&result),
    )?;
    if result.complete() {
        let followed = follow_in_project(run, project_store).await?;
        if followed > 0 {
            tracing::info!(
                "restore of {}: the project's journal follows {followed} restored message(s) it had migrated",
                run.key
            );
        }
        let marker = done_marker(&run.dir, run.into);
        std::fs::write(&marker, b"").map_err(|source| BackupError::Dir {
            dir: marker.display().to_string(),
            source,
        })?;
    }
    Ok(RestoreOutcome { result, appended })
}

/// After a restore, the project's journal follows the messages it knew that came back: a
/// message the migration copied whose source UID (restore into the source) or destination
/// UID (restore into the destination) is gone, and whose content was restored into that
/// folder, now points at its restored UID. So the next `cutover run` does not copy a restored
/// source message again, and the journal's checks and rollback find a restored destination
/// message. A folder renumbered since (deleted and recreated) is left to the migration's own
/// re-matching by fingerprint. Returns how many rows moved.
async fn follow_in_project(run: &RestoreRun, project_store: &Journal) -> Result<u64, BackupError> {
    let Some(project_id) = project_store.mailbox_id(&run.key)? else {
        return Ok(0);
    };
    let store = &run.engine.store;
    let Some(restore_id) = store.mailbox_id(&run.spec.key())? else {
        return Ok(0);
    };
    let project_folders = project_store.folders_of(project_id)?;
    let mut d = run.engine.dst.connect(&run.spec.destination).await?;
    let mut moved = 0;
    for f in store.folders_of(restore_id)? {
        let target = &f.dst_name;
        let restored: Vec<(u32, String)> = store
            .copied(f.id)?
            .into_iter()
            .filter_map(|c| Some((c.dst_uid?, c.fingerprint)))
            .collect();
        let pf = project_folders.iter().find(|p| match run.into {
            Side::Source => &p.src_name == target,
            Side::Destination => &p.dst_name == target,
        });
        let Some(pf) = pf else { continue };
        let st = match d.examine(target).await {
            Ok(st) => st,
            Err(EndpointError::NoFolder { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let validity_known = match run.into {
            Side::Source => pf.src_uidvalidity,
            Side::Destination => pf.dst_uidvalidity,
        };
        if validity_known != Some(st.uidvalidity) || restored.is_empty() {
            continue;
        }
        let now: HashSet<u32> = d.fetch_meta(1).await?.iter().map(|m| m.uid).collect();
        let copied = project_store.copied(pf.id)?;
        // UIDs the project's journal already points at: not restored copies of its rows.
        let claimed: HashSet<u32> = copied
            .iter()
            .filter_map(|c| match run.into {
                Side::Source => Some(c.src_uid),
                Side::Destination => c.dst_uid,
            })
            .collect();
        let mut by_fp: HashMap<&str, Vec<u32>> = HashMap::new();
        for (uid, fp) in restored.iter().rev() {
            if now.contains(uid) && !claimed.contains(uid) {
                by_fp.entry(fp.as_str()).or_default().push(*uid);
            }
        }
        let mut carried = Vec::new();
        let mut found = Vec::new();
        for c in &copied {
            let old = match run.into {
                Side::Source => Some(c.src_uid),
                Side::Destination => c.dst_uid,
            };
            if old.is_some_and(|u| now.contains(&u)) {
                continue;
            }
            if let Some(new) = by_fp.get_mut(c.fingerprint.as_str()).and_then(Vec::pop) {
                match run.into {
                    Side::Source => carried.push((c.id, new)),
                    Side::Destination => found.push((c.id, Some(new))),
                }
            }
        }
        for (id, uid) in &carried {
            project_store.carry_over(*id, st.uidvalidity, *uid)?;
        }
        if !found.is_empty() {
            project_store.mark_copied(&found, st.uidvalidity)?;
        }
        moved += (carried.len() + found.len()) as u64;
    }
    d.logout().await;
    Ok(moved)
}
