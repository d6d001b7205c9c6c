//! One mailbox's migration: started within the limits, connected and discovered, its
//! destination folders created, its folder jobs planned (Gmail's pre-pass, what a fail-back
//! wrote) and run by the workers, its outcome journalled.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::outcome::{Failure, MailboxResult, category_of, failure_of};
use super::state::{Engine, lock};
use super::workers::FOLDER_ATTEMPTS;
use crate::api::MailboxState;
use crate::config::MailboxSpec;
use crate::discover::{Discovery, discover};
use crate::endpoint::any::AnySession;
use crate::endpoint::{Folder, MailSession};
use crate::events::{Event, Severity};
use crate::journal::{JournalError, Totals};
use crate::sync::mapping::Mapping;
use crate::sync::{FolderJob, SyncError};

impl Engine {
    /// Start one mailbox in the background (no-op when it already runs). Clears its batch's
    /// pause, since starting is the operator's resume.
    pub fn start_mailbox(
        self: &Arc<Self>,
        spec: MailboxSpec,
    ) -> Option<tokio::task::JoinHandle<MailboxResult>> {
        if !lock(&self.running).insert(spec.key()) {
            return None;
        }
        self.pause_flag(&spec.batch).clear();
        self.batch_stop_flag(&spec.batch).clear();
        self.mailbox_pause_flag(&spec.key()).clear();
        let engine = self.clone();
        Some(tokio::spawn(async move {
            // Semaphores that are never closed: acquiring cannot fail.
            let batch_slot = engine
                .batch_slots(&spec.batch)
                .sem
                .acquire_owned()
                .await
                .ok();
            let slot = engine.slots.sem.clone().acquire_owned().await.ok();
            let key = spec.key();
            // On a PostgreSQL journal: never a mailbox another cutover is writing.
            let r = match engine.lease_for_start(&key).await {
                Ok(lease) => {
                    let r = engine.clone().migrate_mailbox(spec).await;
                    drop(lease);
                    r
                }
                Err(holder) => engine.leased_elsewhere(&spec, &holder),
            };
            drop(slot);
            drop(batch_slot);
            lock(&engine.running).remove(&key);
            r
        }))
    }

    /// Migrate the selected mailboxes, several at once, and wait for all of them.
    pub async fn run(self: &Arc<Self>, batches: &[String]) -> Vec<MailboxResult> {
        let mut tasks = Vec::new();
        for spec in self.selected(batches) {
            if let Some(t) = self.start_mailbox(spec) {
                tasks.push(t);
            }
        }
        let mut out = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => out.push(r),
                Err(e) => out.push(MailboxResult {
                    key: "?".into(),
                    batch: "?".into(),
                    totals: Totals::default(),
                    failure: Some((Failure::Other, format!("internal error: {e}"))),
                }),
            }
        }
        out
    }

    async fn migrate_mailbox(self: Arc<Self>, spec: MailboxSpec) -> MailboxResult {
        let key = spec.key();
        let result = |totals, failure| MailboxResult {
            key: key.clone(),
            batch: spec.batch.clone(),
            totals,
            failure,
        };
        let mailbox_id = match self.store.upsert_mailbox(
            &key,
            &spec.batch,
            &spec.source.user,
            &spec.destination.user,
        ) {
            Ok(id) => id,
            Err(e) => return result(Totals::default(), self.journal_failure(None, e)),
        };
        if let Err(e) = self
            .store
            .set_mailbox_type(mailbox_id, spec.mailbox_type.as_str())
        {
            return result(Totals::default(), self.journal_failure(None, e));
        }
        match self.store.mailbox_state(&key) {
            Ok(Some((_, state, _))) if state == MailboxState::RollingBack.as_str() => {
                let msg = "a rollback of this mailbox was interrupted; finish it first (cutover rollback PROJECT --mailbox USER), then migrate again".to_string();
                self.sink
                    .issue(Severity::Error, "operator", Some(&key), None, None, &msg);
                return result(Totals::default(), Some((Failure::Other, msg)));
            }
            Ok(_) => {}
            Err(e) => return result(Totals::default(), self.journal_failure(None, e)),
        }
        if let Err(e) =
            self.store
                .set_mailbox_state(mailbox_id, MailboxState::Running.as_str(), None)
        {
            return result(Totals::default(), self.journal_failure(None, e));
        }
        self.sink.send(Event::MailboxStarted {
            mailbox: key.clone(),
            batch: spec.batch.clone(),
        });
        // An emergency stop ends the mailbox within `Halt::CUT` even when a command waits on a
        // stalled server (listing, EXAMINE, a metadata FETCH...).
        let outcome = match self
            .emergency_halt(&spec.batch)
            .or_cut(self.migrate_mailbox_inner(&spec, mailbox_id))
            .await
        {
            Some(r) => r,
            None => {
                self.sink.abandoned(&key, None);
                Err(SyncError::Stopped)
            }
        };
        let mut totals_err = None;
        let totals = self.store.mailbox_totals(mailbox_id).unwrap_or_else(|e| {
            totals_err = Some(e);
            Totals::default()
        });
        let mut failure = outcome.err().map(|e| {
            if e.is_journal() {
                self.sink.note_journal_fault(&e.to_string());
            }
            self.sink.issue(
                if matches!(e, SyncError::Verification(_)) {
                    Severity::Critical
                } else {
                    Severity::Error
                },
                category_of(&e),
                Some(&key),
                None,
                None,
                &e.to_string(),
            );
            (failure_of(&e), e.to_string())
        });
        if let Some(e) = totals_err {
            failure = self.journal_failure(failure, e);
        }
        let state = match &failure {
            None => MailboxState::Done,
            Some((Failure::Stopped, _)) if !self.is_batch_stopped(&spec.batch) => {
                MailboxState::Paused
            }
            Some((Failure::Stopped, _)) => MailboxState::Stopped,
            Some(_) => MailboxState::Failed,
        };
        if let Err(e) = self.store.set_mailbox_state(
            mailbox_id,
            state.as_str(),
            failure.as_ref().map(|f| f.1.as_str()),
        ) {
            failure = self.journal_failure(failure, e);
        }
        self.sink.send(Event::MailboxDone {
            mailbox: key.clone(),
            totals: totals.clone(),
            state,
            error: failure.as_ref().map(|f| f.1.clone()),
        });
        result(totals, failure)
    }

    async fn migrate_mailbox_inner(
        self: &Arc<Self>,
        spec: &MailboxSpec,
        mailbox_id: i64,
    ) -> Result<(), SyncError> {
        let key = spec.key();
        // A connection dropped while logging in or listing costs a retry, like one dropped
        // during a folder copy.
        let mut attempt = 0;
        // No folder of the mailbox opened yet: every folder is to copy, so the other folder
        // workers connect while this pair reads the folders' states, and the folders go
        // largest first by bytes. (A mailbox whose folders are all empty is past that after
        // its first run.)
        let first_pass = self
            .store
            .folders_of(mailbox_id)?
            .iter()
            .all(|f| f.src_uidvalidity.is_none());
        let mut ahead = Vec::new();
        // The destination's missing folders when created during the first pass's listing,
        // with the answers.
        let mut early_created = None;
        let (s, d, discovery, gmail_filters, seen, sizes) = loop {
            attempt += 1;
            let r = async {
                let (mut s, mut d) = self.connect_pair(spec).await?;
                let found = discover(&self.project, &mut s, &mut d).await?;
                // Not for a Gmail source: its pre-pass below can take minutes (connections
                // opened ahead would sit idle meanwhile) and its labels' sizes count every
                // message once per label.
                let listed: Vec<&Folder> = found.mappings.iter().map(|m| &m.src).collect();
                let gmail = crate::sync::gmail::detect(&self.project.source, &listed).is_some();
                let first_pass = first_pass && !gmail;
                if first_pass && ahead.is_empty() {
                    let folders = found.mappings.iter().filter(|m| m.dst_wire.is_some());
                    ahead = self.connect_ahead(spec, folders.count());
                }
                // The folders' states are a shortcut, never needed: after a failed attempt
                // (a server that dropped the connection on the pipelined STATUS) the retry
                // goes without them, each folder opened as usual.
                let seen = if attempt == 1 {
                    folder_statuses(&found, &mut s, &mut d).await?
                } else {
                    Default::default()
                };
                // A first pass takes the folders largest first by their bytes (one round
                // trip where the source can tell them; messages counted otherwise).
                let sizes = if first_pass && attempt == 1 {
                    let srcs: Vec<String> = found
                        .mappings
                        .iter()
                        .filter(|m| m.dst_wire.is_some())
                        .map(|m| m.src.wire_name.clone())
                        .collect();
                    // Meanwhile the destination creates its missing folders (a first pass
                    // follows no renames, so they are known now): one round trip, not two.
                    let missing = missing_folders(&found.mappings, &found.destination);
                    let create = async {
                        if missing.is_empty() || self.is_batch_stopped(&spec.batch) {
                            return Ok(None);
                        }
                        d.create_folders(&missing).await.map(Some)
                    };
                    let (bytes, made) = tokio::join!(s.folder_bytes(&srcs), create);
                    if let Some(answers) = made? {
                        early_created = Some((missing, answers));
                    }
                    // Only an order: a source that fails it (a refused or flooded listing)
                    // is connected again, and the folders go by their messages.
                    match bytes {
                        Ok(sizes) => sizes,
                        Err(e) => {
                            tracing::info!(mailbox = %key, "folder sizes not read ({e}); the folders go by their messages");
                            s = self.src.connect_mailbox(spec).await?;
                            Default::default()
                        }
                    }
                } else {
                    Default::default()
                };
                // A Gmail source: which folder copies each message (empty for others).
                let gmail = self
                    .gmail_prepass(&key, mailbox_id, &found.mappings, &mut s)
                    .await?;
                Ok::<_, SyncError>((s, d, found, gmail, seen, sizes))
            }
            .await;
            match r {
                Ok(v) => break v,
                Err(e) if e.is_transient() && attempt < FOLDER_ATTEMPTS => {
                    if self.is_batch_stopped(&spec.batch) {
                        return Err(SyncError::Stopped);
                    }
                    self.retry_pause(&e, &key, None, attempt).await;
                }
                Err(e) => return Err(e),
            }
        };
        let Discovery {
            mappings: maps,
            destination: mut dst_existing,
        } = discovery;
        let (mut s, mut d) = (s, d);
        let copied_before = self.store.mailbox_totals(mailbox_id)?.copied > 0;
        let unfinished = !self.store.unfinished_delta(mailbox_id)?.is_empty();
        // A delta pass follows folders renamed on the source before anything counts them
        // as gone (and finishes a rename a killed run left under way).
        if self.is_delta(&spec.batch) && copied_before && !unfinished {
            self.follow_renames(&key, mailbox_id, &maps, &mut dst_existing, &mut s, &mut d)
                .await?;
        }
        self.report_vanished_folders(&key, mailbox_id, &maps)?;
        for m in maps
            .iter()
            .filter(|m| m.why.contains(crate::sync::mapping::RESERVED_NOTE))
        {
            self.sink.issue(
                Severity::Info,
                "config",
                Some(&key),
                Some(&m.src.display()),
                None,
                &format!(
                    "source folder {} is copied to {}: {}",
                    m.src.display(),
                    m.dst_display,
                    m.why
                ),
            );
        }
        self.sink.send(Event::MailboxPlanned {
            mailbox: key.clone(),
            folders: maps.iter().filter(|m| m.dst_wire.is_some()).count(),
        });
        let mut jobs = VecDeque::new();
        let mut refused: Option<SyncError> = None;
        // The destination folders missing, created all at once (one round trip where the
        // destination pipelines them); each answer is looked at below, folder by folder.
        let missing_on_dst = |dst: &str| is_missing(&dst_existing, dst);
        let missing = missing_folders(&maps, &dst_existing);
        let mut created = std::collections::HashMap::new();
        match early_created {
            Some((asked, answers)) if asked == missing => {
                created.extend(asked.into_iter().map(|(w, _)| w).zip(answers));
            }
            _ if !missing.is_empty() => {
                if self.is_batch_stopped(&spec.batch) {
                    return Err(SyncError::Stopped);
                }
                let answers = d.create_folders(&missing).await?;
                created.extend(missing.into_iter().map(|(w, _)| w).zip(answers));
            }
            _ => {}
        }
        for m in &maps {
            let Some(dst) = &m.dst_wire else {
                tracing::info!(mailbox = %key, folder = %m.src.display(), "not copied: {}", m.why);
                continue;
            };
            let row = self.store.folder(mailbox_id, &m.src.wire_name, dst)?;
            // A folder listed \NonExistent or \Noselect (Dovecot lists the special folders
            // it creates on first use that way) holds nothing yet: it is created, so that an
            // empty source folder is there on the destination too.
            if missing_on_dst(dst) {
                match created.remove(dst).unwrap_or(Ok(false)) {
                    Ok(true) => self.store.mark_folder_created(row.id)?,
                    Ok(false) => {}
                    Err(e) if e.is_transient() => return Err(e.into()),
                    Err(e) => {
                        // One folder the destination will not create is that folder not
                        // copied, not the whole mailbox: the others go on, and the mailbox
                        // ends failed with this folder named.
                        self.store
                            .set_folder_state(row.id, crate::journal::folder_state::REFUSED)?;
                        let e = SyncError::Refused(format!(
                            "the destination refused to create folder {} (for source folder \
                             {}): {e}; nothing copied into it (rename it with a folder rule \
                             or create it on the destination, then run again)",
                            m.dst_display,
                            m.src.display()
                        ));
                        self.sink.issue(
                            Severity::Error,
                            "destination",
                            Some(&key),
                            Some(&m.src.display()),
                            None,
                            &e.to_string(),
                        );
                        refused.get_or_insert(e);
                        continue;
                    }
                }
            }
            let filter = crate::sync::gmail::merge_filter(
                self.failback_written(&key, &m.src.wire_name)?,
                gmail_filters.get(&m.src.wire_name),
            );
            jobs.push_back(FolderJob {
                mailbox: key.clone(),
                row,
                src: m.src.wire_name.clone(),
                src_display: m.src.display(),
                dst: dst.clone(),
                filter,
                max_failed: self.project.max_failed_messages,
                seen: crate::sync::Seen {
                    src: seen.0.get(&m.src.wire_name).copied(),
                    dst: seen.1.get(dst).map(|(st, _)| *st),
                },
            });
        }
        // A delta pass (once something of the mailbox was copied: before that there is
        // nothing to mirror, only to copy); or a plain run after an interrupted one, which
        // settles its moves and removals first (else a moved message would be copied again).
        if (self.is_delta(&spec.batch) && copied_before) || unfinished {
            let changed = self
                .delta_prepass(spec, mailbox_id, &jobs, &mut s, &mut d)
                .await?;
            // The delta pass may have written to the destination: its folders' states read
            // before are stale, so each is opened again.
            if changed || unfinished {
                for j in jobs.iter_mut() {
                    j.seen.dst = None;
                }
            }
        }
        // Folders unchanged on both sides since the last pass are passed here, without
        // opening them (and without connecting a folder worker for them).
        let halt = self.halt_of(spec);
        let ctx = crate::sync::Ctx {
            store: &self.store,
            sink: &self.sink,
            stop: &halt,
            stats: &self.stats,
        };
        let mut rest = Vec::new();
        for job in jobs {
            if !crate::sync::pass_unchanged(&ctx, &job)? {
                // What is left of the folder to copy: on a first pass its bytes where the
                // source told them, else its messages not yet copied as far as its STATUS
                // tells (one measure for all the folders of a mailbox).
                let left = if sizes.is_empty() {
                    let copied = self.store.folder_totals(job.row.id)?.copied;
                    job.seen.src.map_or(u64::MAX, |(st, _)| {
                        u64::from(st.exists).saturating_sub(copied)
                    })
                } else {
                    sizes.get(&job.src).copied().unwrap_or(u64::MAX)
                };
                rest.push((left, job));
            }
        }
        // Largest first: the folder that takes longest starts at once, the small ones fill
        // in beside it, and a large one is split across the connections that run out of
        // folders (`sync::split`) instead of finishing alone after all the others. By bytes
        // where known: a few large attachments take longer than many short messages.
        rest.sort_by_key(|(left, _)| std::cmp::Reverse(*left));
        let rest: VecDeque<FolderJob> = rest.into_iter().map(|(_, j)| j).collect();
        let copied = self.run_jobs(spec, rest, Some((s, d)), ahead).await;
        match refused {
            Some(e) if copied.is_ok() => Err(e),
            _ => copied,
        }
    }

    /// A delta pass (`cutover sync`): mirror what users did on the source since the last
    /// pass before new mail is copied (see `sync::delta`), as far as both endpoints can:
    /// what one cannot do is left out and said once per mailbox.
    async fn delta_prepass(
        &self,
        spec: &MailboxSpec,
        mailbox_id: i64,
        jobs: &VecDeque<FolderJob>,
        s: &mut AnySession,
        d: &mut AnySession,
    ) -> Result<bool, SyncError> {
        let key = spec.key();
        let key = key.as_str();
        let halt = self.halt_of(spec);
        let ctx = crate::sync::Ctx {
            store: &self.store,
            sink: &self.sink,
            stop: &halt,
            stats: &self.stats,
        };
        if !self.is_delta(&spec.batch) {
            crate::sync::delta::resume_unfinished(&ctx, key, mailbox_id, d).await?;
            return Ok(true);
        }
        let jobs: Vec<FolderJob> = jobs.iter().cloned().collect();
        crate::sync::delta::delta_pass(
            &ctx,
            key,
            mailbox_id,
            &jobs,
            self.project.sync.deletions,
            s,
            d,
        )
        .await
    }

    /// What stops, pauses or brakes this mailbox's work.
    fn halt_of(&self, spec: &MailboxSpec) -> crate::events::Halt {
        crate::events::Halt {
            emergency: self.stop.clone(),
            batch_stop: self.batch_stop_flag(&spec.batch),
            pause: self.pause_flag(&spec.batch),
            mailbox_pause: self.mailbox_pause_flag(&spec.key()),
        }
    }

    /// A Gmail-shaped source: decide which folder copies each message (see `sync::gmail`);
    /// the filters per source folder. Empty for any other source.
    async fn gmail_prepass(
        &self,
        key: &str,
        mailbox_id: i64,
        maps: &[crate::sync::mapping::Mapping],
        s: &mut AnySession,
    ) -> Result<HashMap<String, Arc<crate::sync::UidFilter>>, SyncError> {
        let listed: Vec<&Folder> = maps.iter().map(|m| &m.src).collect();
        let Some((g, detected)) = crate::sync::gmail::detect(&self.project.source, &listed) else {
            return Ok(HashMap::new());
        };
        if detected {
            self.sink.issue(
                Severity::Info,
                "gmail",
                Some(key),
                None,
                None,
                "the source lists Gmail's [Gmail]/All Mail: read as Gmail (each message copied once: multi_label = first-label, Spam and Trash left out); set [source.gmail] to choose",
            );
        }
        let plan = crate::sync::gmail::prepass(
            &self.store,
            &self.sink,
            &self.stats,
            key,
            mailbox_id,
            maps,
            &g,
            s,
        )
        .await?;
        Ok(plan.filters)
    }

    /// Source messages a fail-back wrote into this source folder: never copied forward again.
    fn failback_written(
        &self,
        key: &str,
        src_wire: &str,
    ) -> Result<Option<Arc<crate::sync::UidFilter>>, SyncError> {
        let Some(id) = self.store.mailbox_id(&failback_journal_key(key))? else {
            return Ok(None);
        };
        let Some(f) = self
            .store
            .folders_of(id)?
            .into_iter()
            .find(|f| f.dst_name == src_wire)
        else {
            return Ok(None);
        };
        if !self.store.in_doubt(f.id)?.is_empty() {
            return Err(SyncError::Blocked(format!(
                "a fail-back into source folder {} was interrupted (APPENDs in doubt); run `cutover failback` for this mailbox again before migrating it forward",
                crate::mail::utf7::decode_mutf7(src_wire)
            )));
        }
        let (_, _, exclude) = self.store.written_window(f.id)?;
        Ok(Some(Arc::new(crate::sync::UidFilter {
            min_uid: 0,
            exclude,
            ..Default::default()
        })))
    }

    /// Folders in the journal that the source no longer lists (deleted or renamed since an
    /// earlier run): a warning each; what was copied stays on the destination, and messages
    /// not copied yet cannot be any more (skipped, with the reason).
    fn report_vanished_folders(
        &self,
        key: &str,
        mailbox_id: i64,
        maps: &[Mapping],
    ) -> Result<(), JournalError> {
        for row in self.store.folders_of(mailbox_id)? {
            if maps.iter().any(|m| m.src.wire_name == row.src_name) {
                continue;
            }
            let name = crate::mail::utf7::decode_mutf7(&row.src_name);
            // Gone from the source: not a folder left uncopied (the warning below says so).
            self.store
                .set_folder_state(row.id, crate::journal::folder_state::GONE)?;
            let mut lost = 0;
            if let Some(v) = row.src_uidvalidity {
                for p in &self.store.pending(row.id, v)? {
                    self.store.mark_skipped(
                        p.id,
                        crate::journal::state::SKIPPED,
                        "the source folder was deleted or renamed before it could be copied",
                    )?;
                    lost += 1;
                }
            }
            let copied = self.store.folder_totals(row.id)?.copied;
            self.sink.issue(
                Severity::Warning,
                "source",
                Some(key),
                Some(&name),
                None,
                &format!(
                    "source folder {name} is no longer on the source (deleted or renamed since an earlier run): its {copied} copied message(s) stay on the destination{}",
                    if lost > 0 {
                        format!("; {lost} message(s) not copied yet are skipped")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        Ok(())
    }
}

/// The journal key of a mailbox's fail-back (kept apart from its forward rows): the engine
/// never copies forward what a fail-back wrote (`cutover failback`).
pub fn failback_journal_key(forward_key: &str) -> String {
    format!("failback:{forward_key}")
}

/// Whether destination folder `dst` is missing among those listed (`existing`).
fn is_missing(existing: &[Folder], dst: &str) -> bool {
    !existing.iter().any(|e| {
        (e.wire_name == *dst && e.selectable)
            || (e.wire_name.eq_ignore_ascii_case("INBOX") && dst.eq_ignore_ascii_case("INBOX"))
    })
}

/// The destination folders `maps` copy into that are missing there (wire name, as shown),
/// each once.
fn missing_folders(
    maps: &[crate::sync::mapping::Mapping],
    existing: &[Folder],
) -> Vec<(String, String)> {
    let mut missing: Vec<(String, String)> = Vec::new();
    for m in maps {
        if let Some(dst) = &m.dst_wire
            && is_missing(existing, dst)
            && !missing.iter().any(|(w, _)| w == dst)
        {
            missing.push((dst.clone(), m.dst_display.clone()));
        }
    }
    missing
}

/// The state of every folder to copy, on both sides at once, each side in one round trip
/// (see [`MailSession::statuses`]): the source's with its change marker, the destination's
/// of the folders it lists as selectable.
async fn folder_statuses(
    found: &Discovery,
    s: &mut AnySession,
    d: &mut AnySession,
) -> Result<(crate::endpoint::Statuses, crate::endpoint::Statuses), SyncError> {
    let copied = || found.mappings.iter().filter(|m| m.dst_wire.is_some());
    let srcs: Vec<String> = copied().map(|m| m.src.wire_name.clone()).collect();
    let dsts: Vec<String> = copied()
        .filter_map(|m| m.dst_wire.clone())
        .filter(|w| {
            found
                .destination
                .iter()
                .any(|e| e.wire_name == *w && e.selectable)
        })
        .collect();
    let (a, b) = tokio::join!(s.statuses(&srcs, true), d.statuses(&dsts, false));
    Ok((a?, b?))
}
