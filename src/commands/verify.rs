//! `cutover verify`: source and destination compared folder by folder.

use std::collections::BTreeMap;
use std::sync::Arc;

use cutover_engine::api::ItemKind;
use cutover_engine::config::Project;
use cutover_engine::engine::Engine;

use super::journal::journal_failed;
use super::setup::engine;
use crate::error::Result;
use crate::exit::ExitCode;

pub async fn verify(project: Project, batches: Vec<String>) -> Result<ExitCode> {
    let engine = engine(project, None)?;
    Ok(verify_with(&engine, &batches).await)
}

/// Verify the selected batches' mailboxes on an engine set up already (`cutover finalize`
/// verifies with the engine of its final pass), print and journal the comparison.
pub async fn verify_with(engine: &Arc<Engine>, batches: &[String]) -> ExitCode {
    let mut tasks = Vec::new();
    for spec in engine.selected(batches) {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            cutover_engine::verify::verify_mailbox(&engine.project, &engine.src, &engine.dst, &spec)
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
            if let Err(e) = engine
                .store
                .record_verification(&m.key, &batch, false, &m.summary())
            {
                unrecorded.get_or_insert(e);
            }
            any_error = true;
            continue;
        }
        if let Err(e) = engine
            .store
            .record_verification(&m.key, &batch, m.ok(), &m.summary())
        {
            unrecorded.get_or_insert(e);
        }
        for f in &m.folders {
            println!(
                "  {:<32} -> {:<32} source {:>6}  destination {:>6}  missing {:>4}  duplicated {:>4}  not-from-source {:>4}  flags≠ {:>3}  date≠ {:>3}  {}",
                f.src_folder,
                f.dst_folder,
                f.src_messages,
                f.dst_messages,
                f.missing,
                f.duplicated,
                f.extra,
                f.flag_differences,
                f.date_differences,
                if f.ok() { "OK" } else { "MISMATCH" }
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
            e.1 += t.missing + t.duplicated;
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
