//! `cutover run`: migrate the selected batches headless, behind the checklist gate.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::mpsc;

use cutover_engine::api::{ItemKind, KindTotals, MailboxType};
use cutover_engine::config::Project;
use cutover_engine::engine::{Engine, Failure, MailboxResult};
use cutover_engine::events::RunStats;

use super::events::print_events;
use super::interrupt::on_interrupt;
use super::journal::{begin_run, end_run, journal_checked};
use super::setup::{control_socket, engine, operator};
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use cutover_engine::mail::fmt;

pub fn exit_for(results: &[MailboxResult]) -> ExitCode {
    let worst = |f: Failure| {
        results
            .iter()
            .any(|r| matches!(&r.failure, Some((x, _)) if *x == f))
    };
    // A mismatch outranks a stop: the brake it trips pauses the other mailboxes of its batch,
    // and the run must say data-loss incident (7), not stopped by the operator (8). A journal
    // that cannot be written (9) outranks everything else.
    if worst(Failure::Verification) {
        ExitCode::Mismatch
    } else if worst(Failure::Journal) {
        ExitCode::Journal
    } else if worst(Failure::Stopped) {
        ExitCode::Stopped
    } else if results.iter().all(|r| r.failure.is_some()) && worst(Failure::Auth) {
        ExitCode::Auth
    } else if results.iter().all(|r| r.failure.is_some()) && worst(Failure::Connection) {
        ExitCode::Connection
    } else if results.iter().all(MailboxResult::complete) {
        ExitCode::Success
    } else {
        ExitCode::Partial
    }
}

pub async fn run(
    project: Project,
    batches: Vec<String>,
    override_reason: Option<String>,
) -> Result<ExitCode> {
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = engine(project, Some(tx))?;
    super::setup::mirror_on_rerun(&engine);
    let selected = engine.selected(&batches);
    if selected.is_empty() {
        return Err(Error::NotInProject(format!(
            "no mailbox in batch(es) {}",
            batches.join(", ")
        )));
    }
    // Each mailbox's type, for the summary: shared and resource mailboxes are marked and
    // counted apart from the users'.
    let types: BTreeMap<String, MailboxType> =
        selected.iter().map(|s| (s.key(), s.mailbox_type)).collect();
    gate(&engine, &batches, override_reason.as_deref())?;
    // With a PostgreSQL journal, several workers share the run (mailbox leases): the first on
    // this machine takes the control socket, the others work without it.
    let fleet = engine.project.postgres.is_some();
    let control = match control_socket(&engine).await {
        Ok(c) => c,
        // Without the socket it still follows the fleet's stop and pause (LISTEN/NOTIFY).
        Err(Error::AlreadyRunning(_)) if fleet => {
            let engine = engine.clone();
            tokio::spawn(async move {
                let _fleet = cutover_engine::engine::fleet::follow_apart(engine);
                std::future::pending::<()>().await
            })
        }
        Err(e) => return Err(e),
    };
    let run_id = begin_run(&engine.store, "run").inspect_err(|_| control.abort())?;
    println!(
        "cutover: {} — {} mailbox(es); journal {}; log {}",
        engine.project.name,
        selected.len(),
        engine.project.journal_name(),
        crate::logging::log_file(&engine.project.log_dir).display()
    );
    let printer = tokio::spawn(print_events(rx));
    let stop = engine.stop_flag();
    on_interrupt(move |sig| {
        eprintln!(
            "cutover: {sig}: stopping all writes (the journal stays consistent; run again to resume)"
        );
        stop.stop();
    });
    let started = Instant::now();
    let results = if fleet {
        engine.run_fleet(&batches).await
    } else {
        engine.run(&batches).await
    };
    let elapsed = started.elapsed();
    let appended = RunStats::get(&engine.stats.appended);
    let fetched = RunStats::get(&engine.stats.bodies_fetched);
    let fetched_bytes = RunStats::get(&engine.stats.bytes_fetched);
    // What a re-run mirrored of the users' work on the source, when any.
    let st = &engine.stats;
    let mirrored: Vec<String> = [
        (RunStats::get(&st.flag_changes), "flag change(s)"),
        (RunStats::get(&st.moves), "move(s)"),
        (RunStats::get(&st.deletions), "deleted on the source"),
        (RunStats::get(&st.removed), "removed from the destination"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let wire = wire_line(&[
        ("source", engine.src.wire()),
        ("destination", engine.dst.wire()),
    ]);
    // The engine (and its event sender) must go before the printer can finish.
    let store = engine.store.clone();
    control.abort();
    let _ = control.await;
    // Journal failures kept by the engine, read before it goes.
    let journal_fault = engine.sink().journal_fault();
    drop(engine);
    let _ = printer.await;
    let (mut msgs, mut bytes) = (0, 0);
    let mut by_kind: BTreeMap<ItemKind, KindTotals> = BTreeMap::new();
    println!();
    println!(
        "{:<40} {:>10} {:>12} {:>8} {:>7}  result",
        "mailbox", "messages", "bytes", "skipped", "failed"
    );
    for r in &results {
        msgs += r.totals.copied;
        bytes += r.totals.copied_bytes;
        let result = match &r.failure {
            None if r.complete() => "complete".to_string(),
            None => "incomplete (see issues)".to_string(),
            Some((_, e)) => format!("failed: {e}"),
        };
        let name = match types.get(&r.key) {
            Some(t) if *t != MailboxType::User => format!("{} [{t}]", r.key),
            _ => r.key.clone(),
        };
        println!(
            "{:<40} {:>10} {:>12} {:>8} {:>7}  {result}",
            name,
            format!("{}/{}", r.totals.copied, r.totals.messages),
            fmt::bytes(r.totals.copied_bytes),
            r.totals.skipped,
            r.totals.failed
        );
        // A mailbox with calendars or address books: its counts per kind, under its row.
        if r.totals.by_kind.keys().any(|k| *k != ItemKind::Mail) {
            println!("    {}", per_kind(&r.totals.by_kind));
        }
        for (k, t) in &r.totals.by_kind {
            by_kind.entry(*k).or_default().add(t);
        }
    }
    println!(
        "{} message(s), {} in the journal as copied; this run took {:.1} s",
        msgs,
        fmt::bytes(bytes),
        elapsed.as_secs_f64()
    );
    if by_kind.keys().any(|k| *k != ItemKind::Mail) {
        println!("by kind: {}", per_kind(&by_kind));
    }
    if types.values().any(|t| *t != MailboxType::User) {
        let done = |t: MailboxType| {
            results
                .iter()
                .filter(|r| types.get(&r.key) == Some(&t) && r.complete())
                .count()
        };
        let line: Vec<String> = MailboxType::ALL
            .iter()
            .map(|t| (*t, types.values().filter(|x| *x == t).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {}/{n} complete", done(t)))
            .collect();
        println!("by type: {}", line.join(", "));
    }
    println!(
        "this run: {appended} appended, {fetched} message bodies downloaded ({}){}",
        fmt::bytes(fetched_bytes),
        if mirrored.is_empty() {
            String::new()
        } else {
            format!("; {}", mirrored.join(", "))
        }
    );
    if let Some(w) = wire {
        println!("{w}");
    }
    if std::env::var_os("CUTOVER_JOURNAL_COST").is_some() {
        // bench/journal-cost.py reads this line (docs/guide/postgres.md).
        let c = store.cost();
        eprintln!(
            "journal cost: statements={} commits={} commit_us={} us={} rows_written={}",
            c.statements, c.commits, c.commit_micros, c.micros, c.rows_written
        );
    }
    let code = journal_checked(journal_fault, exit_for(&results));
    Ok(end_run(&store, run_id, code))
}

/// "on the wire: source 1.2 MB for 4.8 MB of IMAP (COMPRESS=DEFLATE, 4.0x); destination ...":
/// what crossed each IMAP link in this run, measured under TLS, against what it carried.
pub fn wire_line(sides: &[(&str, Option<cutover_engine::api::WireBytes>)]) -> Option<String> {
    let parts: Vec<String> = sides
        .iter()
        .filter_map(|(side, w)| w.map(|w| (side, w)))
        .map(|(side, w)| {
            let wire = w.wire_in + w.wire_out;
            if w.compressed_sessions > 0 {
                format!(
                    "{side} {} for {} of IMAP (COMPRESS=DEFLATE, {:.1}x)",
                    fmt::bytes(wire),
                    fmt::bytes(w.plain_in + w.plain_out),
                    w.ratio()
                )
            } else {
                format!("{side} {} (uncompressed)", fmt::bytes(wire))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| format!("on the wire: {}", parts.join("; ")))
}

/// "12/12 messages, 3/4 events (1 skipped, 0 failed)": copied of known, per kind.
pub fn per_kind(kinds: &BTreeMap<ItemKind, KindTotals>) -> String {
    kinds
        .iter()
        .map(|(k, t)| {
            let mut s = format!("{}/{} {}", t.copied, t.items, k.plural());
            if t.skipped + t.failed > 0 {
                s.push_str(&format!(" ({} skipped, {} failed)", t.skipped, t.failed));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The checklist gate: refuse to start while a required item is unmet, unless overridden.
pub fn gate(engine: &Engine, batches: &[String], override_reason: Option<&str>) -> Result<()> {
    let blockers = cutover_engine::checklist::blockers(&engine.project, &engine.store, batches)?;
    if blockers.is_empty() {
        return Ok(());
    }
    match override_reason.map(str::trim).filter(|r| !r.is_empty()) {
        None => Err(Error::ChecklistUnmet(
            blockers
                .iter()
                .map(|b| format!("  {:<20} {:<8} {}", b.id, b.status.word(), b.reason))
                .collect(),
        )),
        Some(reason) => {
            let msg = cutover_engine::checklist::override_items(
                &engine.store,
                &blockers,
                &operator(),
                reason,
            )?;
            engine.sink().issue(
                cutover_engine::api::Severity::Warning,
                "operator",
                None,
                None,
                None,
                &msg,
            );
            eprintln!("cutover: {msg}");
            Ok(())
        }
    }
}
