//! `cutover sync`: delta passes while users still work on the source (one, or one every
//! `--every` until `--until` or a stop), each journalled with its duration and counts.

use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use tokio::sync::mpsc;

use cutover_engine::api::PassCounts;
use cutover_engine::config::Project;
use cutover_engine::events::RunStats;

use super::events::print_events;
use super::interrupt::on_interrupt;
use super::journal::{begin_run, end_run, journal_checked};
use super::run::{exit_for, gate};
use super::setup::{control_socket, engine};
use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// Run one journalled delta pass (its `sync_passes` row, and the counters before it started),
/// record its end, and print its line headed `head` (with the bodies downloaded when
/// `fetched_too`) and the failed mailboxes; its exit code, a failure to record `what` folded in.
pub async fn run_pass(
    engine: &std::sync::Arc<cutover_engine::engine::Engine>,
    batches: &[String],
    (pass_id, before): (i64, PassCounts),
    head: &str,
    fetched_too: bool,
    what: &str,
) -> ExitCode {
    let started = Instant::now();
    let fetched = RunStats::get(&engine.stats.bodies_fetched);
    let results = engine.run(batches).await;
    let fetched = RunStats::get(&engine.stats.bodies_fetched) - fetched;
    let took = started.elapsed();
    let c = engine.stats.pass_counts().since(before);
    let mut code = exit_for(&results);
    if let Err(e) = engine.store.end_sync_pass(
        pass_id,
        took.as_millis() as u64,
        c,
        &format!("exit {}", code.code()),
    ) {
        code = journal_checked(Some(format!("cannot record {what}: {e}")), code);
    }
    println!(
        "{head}: {:.1} s; {}, {} flag change(s), {} move(s), {} deleted on the source ({} removed from the destination); {}{}",
        took.as_secs_f64(),
        c.new_and_changed(),
        c.flag_changes,
        c.moves,
        c.deletions,
        c.removed,
        if fetched_too {
            format!("{fetched} message bodies downloaded; ")
        } else {
            String::new()
        },
        match code {
            ExitCode::Success => "complete".to_string(),
            other => format!("exit {}", other.code()),
        }
    );
    for r in results.iter().filter(|r| r.failure.is_some()) {
        if let Some((_, e)) = &r.failure {
            println!("    {}: {e}", cutover_engine::safe_text::terminal(&r.key));
        }
    }
    code
}

pub async fn sync(
    project: Project,
    batches: Vec<String>,
    every: Option<Duration>,
    until: Option<DateTime<Local>>,
    override_reason: Option<String>,
) -> Result<ExitCode> {
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = engine(project, Some(tx))?;
    engine.set_delta(true);
    let selected = engine.selected(&batches);
    if selected.is_empty() {
        return Err(Error::NotInProject(format!(
            "no mailbox in batch(es) {}",
            batches.join(", ")
        )));
    }
    gate(&engine, &batches, override_reason.as_deref())?;
    let control = control_socket(&engine).await?;
    let run_id = begin_run(&engine.store, "sync").inspect_err(|_| control.abort())?;
    println!(
        "cutover: {} — delta pass(es) over {} mailbox(es); journal {}",
        engine.project.name,
        selected.len(),
        engine.project.journal_name()
    );
    let printer = tokio::spawn(print_events(rx));
    let stop = engine.stop_flag();
    let on_signal = stop.clone();
    on_interrupt(move |sig| {
        eprintln!(
            "cutover: {sig}: stopping all writes (the journal stays consistent; run again to resume)"
        );
        on_signal.stop();
    });
    let label = if batches.is_empty() {
        "all".to_string()
    } else {
        batches.join(",")
    };
    let mut code = ExitCode::Success;
    let mut worst: Option<ExitCode> = None;
    let mut pass = 0u64;
    loop {
        pass += 1;
        let before = engine.stats.pass_counts();
        let pass_id = match engine.store.begin_sync_pass(&label) {
            Ok(id) => id,
            Err(e) => {
                code = journal_checked(Some(format!("cannot record a delta pass: {e}")), code);
                break;
            }
        };
        let started = Instant::now();
        code = run_pass(
            &engine,
            &batches,
            (pass_id, before),
            &format!("pass {pass}"),
            true,
            "a delta pass",
        )
        .await;
        if matches!(code, ExitCode::Mismatch | ExitCode::Journal) {
            worst = Some(code);
        }
        let Some(every) = every else { break };
        if stop.is_stopped()
            || matches!(
                code,
                ExitCode::Stopped | ExitCode::Mismatch | ExitCode::Journal
            )
        {
            break;
        }
        let next = started + every;
        let next_at = Local::now() + (next.saturating_duration_since(Instant::now()));
        if until.is_some_and(|u| next_at > u) {
            println!("next pass would start after --until: done");
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop.stopped() => { code = ExitCode::Stopped; break; }
        }
    }
    let code = worst.unwrap_or(code);
    let store = engine.store.clone();
    control.abort();
    let _ = control.await;
    let journal_fault = engine.sink().journal_fault();
    drop(engine);
    let _ = printer.await;
    let code = journal_checked(journal_fault, code);
    Ok(end_run(&store, run_id, code))
}
