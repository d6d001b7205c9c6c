//! `cutover verify`: source and destination compared folder by folder, by content by
//! default; `--sample N%` verifies a reproducible random share of the mailboxes.

use std::collections::BTreeMap;
use std::sync::Arc;

use cutover_engine::api::ItemKind;
use cutover_engine::config::Project;
use cutover_engine::engine::Engine;
use cutover_engine::verify::{Method, Sample};

use super::journal::journal_failed;
use super::setup::engine;
use crate::error::Result;
use crate::exit::ExitCode;

/// How to verify: the whole selection or a sample of it, content or stamped fingerprints.
#[derive(Debug, Clone, Default)]
pub struct How {
    pub sample: Option<Sample>,
    pub fingerprint_only: bool,
}

pub async fn verify(project: Project, batches: Vec<String>, how: How) -> Result<ExitCode> {
    let engine = engine(project, None)?;
    Ok(verify_with(&engine, &batches, &how).await)
}

/// Verify the selected batches' mailboxes on an engine set up already (`cutover finalize`
/// verifies with the engine of its final pass), print and journal the comparison (with its
/// method and scope), and mark each damaged item in the journal for the next run to copy
/// again.
pub async fn verify_with(engine: &Arc<Engine>, batches: &[String], how: &How) -> ExitCode {
    let method = if how.fingerprint_only {
        Method::Fingerprint
    } else {
        Method::Content
    };
    let mut specs = engine.selected(batches);
    if let Some(sample) = &how.sample {
        let keys: Vec<String> = specs.iter().map(|s| s.key()).collect();
        let chosen = sample.choose(&keys);
        println!(
            "verify: {} (draw the same sample again with --sample {}% --seed {}); a sample is no proof for the mailboxes left out",
            sample.describe(chosen.len(), keys.len()),
            sample.percent,
            sample.seed
        );
        specs.retain(|s| chosen.contains(&s.key()));
    }
    let mut tasks = Vec::new();
    for spec in specs {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            cutover_engine::verify::verify_mailbox(
                &engine.project,
                &engine.src,
                &engine.dst,
                &spec,
                method,
            )
            .await
        }));
    }
    let mut all_ok = true;
    // Per kind of item over every mailbox: (source items, missing + duplicated).
    let mut seen: BTreeMap<ItemKind, (u64, u64)> = BTreeMap::new();
    let mut any_error = false;
    // The comparison is still printed when its record cannot be written; the exit code is 9.
    let mut unrecorded = None;
    for t in tasks {
        let Ok(m) = t.await else {
            any_error = true;
            continue;
        };
        println!("[{}]", m.key);
        let batch = engine
            .project
            .mailboxes
            .iter()
            .find(|s| s.key() == m.key)
            .map(|s| s.batch.clone())
            .unwrap_or_default();
        if let Some(e) = &m.error {
            println!("  ERROR: {e}");
            if let Err(e) = cutover_engine::verify::record(
                &engine.store,
                &batch,
                &m,
                false,
                &format!("could not complete: {e}"),
                how.sample.as_ref(),
            ) {
                unrecorded.get_or_insert(e);
            }
            any_error = true;
            continue;
        }
        if let Err(e) = cutover_engine::verify::record(
            &engine.store,
            &batch,
            &m,
            m.ok(),
            &m.summary(),
            how.sample.as_ref(),
        ) {
            unrecorded.get_or_insert(e);
        }
        // Each damaged item: marked for the next run, which removes that copy and copies the
        // message again.
        if let Err(e) = cutover_engine::verify::mark_damaged(&engine.store, &m) {
            unrecorded.get_or_insert(e);
        }
        for f in &m.folders {
            println!(
                "  {:<32} -> {:<32} source {:>6}  destination {:>6}  missing {:>4}  duplicated {:>4}  not-from-source {:>4}  flags≠ {:>3}  date≠ {:>3}  content-compared {:>6}  damaged {:>4}  {}",
                f.src_folder,
                f.dst_folder,
                f.src_messages,
                f.dst_messages,
                f.missing,
                f.duplicated,
                f.extra,
                f.flag_differences,
                f.date_differences,
                f.content_checked,
                f.damaged.len(),
                if f.ok() { "OK" } else { "MISMATCH" }
            );
            for d in &f.damaged {
                println!(
                    "    DAMAGED {} -> {}: source UID {}, destination item {}{}: {} (the next `cutover run` copies it again)",
                    d.src_folder,
                    d.dst_folder,
                    d.src_uid,
                    d.dst_uid,
                    d.message_id
                        .as_deref()
                        .map(|i| format!(", Message-ID <{i}>"))
                        .unwrap_or_default(),
                    d.what
                );
            }
        }
        if m.method == Method::Fingerprint {
            println!(
                "  content not compared (--fingerprint-only): the stamped fingerprints prove presence only"
            );
        }
        // A mailbox with calendars or address books: the comparison per kind of item.
        let kinds = m.by_kind();
        if kinds.keys().any(|k| *k != ItemKind::Mail) {
            for (k, t) in &kinds {
                println!(
                    "  {:<10} source {:>6}  destination {:>6}  missing {:>4}  duplicated {:>4}  {}",
                    k.plural(),
                    t.src_messages,
                    t.dst_messages,
                    t.missing,
                    t.duplicated,
                    if t.ok() { "OK" } else { "MISMATCH" }
                );
            }
        }
        for (k, t) in kinds {
            let e = seen.entry(k).or_insert((0, 0));
            e.0 += t.src_messages;
            e.1 += t.missing + t.duplicated + t.damaged.len() as u64;
        }
        all_ok &= m.ok();
    }
    let code = if any_error {
        ExitCode::Connection
    } else if all_ok {
        if seen.keys().any(|k| *k != ItemKind::Mail) {
            let kinds: Vec<String> = seen
                .iter()
                .map(|(k, (n, _))| format!("{n} {}", k.plural()))
                .collect();
            println!(
                "verify: every source item is on the destination exactly once ({})",
                kinds.join(", ")
            );
        } else {
            println!("verify: every source message is on the destination exactly once");
        }
        println!(
            "verify: {} ({})",
            if method == Method::Content {
                "content read back and compared with the source, all equal"
            } else {
                "stamped fingerprints only on Graph destinations: presence, not content"
            },
            match &how.sample {
                Some(s) => format!(
                    "{}% sample, seed {}: no proof for the mailboxes left out",
                    s.percent, s.seed
                ),
                None => "every selected mailbox".into(),
            }
        );
        ExitCode::Success
    } else {
        println!("verify: MISMATCH (see above)");
        ExitCode::Mismatch
    };
    match unrecorded {
        Some(e) => journal_failed(code, &format!("cannot record the verification: {e}")),
        None => code,
    }
}
