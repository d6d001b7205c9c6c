//! `cutover backup`: every selected mailbox of a side into a Maildir tree per mailbox (the
//! engine on a derived project), refused when the disk lacks the space; `--verify` checks a
//! backup against its manifest and the live side.

use tokio::sync::mpsc;

use cutover_engine::api::Side as ApiSide;
use cutover_engine::backup::{self, BackupRun};
use cutover_engine::config::Project;
use cutover_engine::journal::Journal;
use cutover_engine::mail::fmt;
use cutover_engine::safe_text::terminal as safe;

use super::events::print_events;
use super::failback::AbortOnDrop;
use super::interrupt::{stop_on_interrupt, until_interrupted};
use super::journal::{begin_run, end_run, journal_checked};
use super::run::exit_for;
use super::setup::{control_socket, open_store};
use crate::cli::Side;
use crate::error::Result;
use crate::exit::ExitCode;

pub fn api_side(side: Side) -> ApiSide {
    match side {
        Side::Source => ApiSide::Source,
        Side::Destination => ApiSide::Destination,
    }
}

pub async fn backup(
    project: Project,
    batches: Vec<String>,
    side: Side,
    dir: Option<std::path::PathBuf>,
    verify: bool,
) -> Result<ExitCode> {
    let side = api_side(side);
    let project_store = open_store(&project)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let run = backup::backup_engine(&project, side, dir, &batches, (!verify).then_some(tx))?;
    // One backup (or verification) of a directory at a time.
    let lock = control_socket(&run.engine).await?;
    let unlock = AbortOnDrop(lock);
    if verify {
        return until_interrupted(verify_backup(&run, &project_store)).await;
    }
    let space = backup::check_space(&run, &project_store).await?;
    println!(
        "cutover: backup of {} mailbox(es) of the {} into {} ({} free, {} needed)",
        run.mailboxes.len(),
        side.as_str(),
        safe(&run.dir.display().to_string()),
        fmt::bytes(space.free),
        fmt::bytes(space.needed)
    );
    let run_id = begin_run(&project_store, "backup")?;
    let printer = tokio::spawn(print_events(rx));
    stop_on_interrupt(&run.engine);
    let done = backup::backup(&run, &project_store).await;
    drop(unlock);
    let journal_fault = run.engine.sink().journal_fault();
    let dir = run.dir.clone();
    drop(run);
    let _ = printer.await;
    let done = done?;
    println!();
    println!(
        "{:<40} {:>10} {:>12} {:>8}  result",
        "mailbox", "messages", "bytes", "folders"
    );
    for b in &done {
        let result = match &b.result.failure {
            None if b.result.complete() => "complete".to_string(),
            None => "incomplete (see issues)".to_string(),
            Some((_, e)) => format!("failed: {e}"),
        };
        println!(
            "{:<40} {:>10} {:>12} {:>8}  {}",
            safe(&b.key),
            format!("{}/{}", b.result.totals.copied, b.result.totals.messages),
            fmt::bytes(b.result.totals.copied_bytes),
            b.summary.as_ref().map_or(0, |s| s.folders.len()),
            safe(&result)
        );
    }
    println!(
        "backup in {}; verify it with `cutover backup PROJECT --verify`",
        safe(&dir.display().to_string())
    );
    let results: Vec<_> = done.into_iter().map(|b| b.result).collect();
    let code = journal_checked(journal_fault, exit_for(&results));
    Ok(end_run(&project_store, run_id, code))
}

async fn verify_backup(run: &BackupRun, project_store: &Journal) -> Result<ExitCode> {
    let out = backup::verify(run, project_store).await?;
    let mut code = ExitCode::Success;
    for v in &out {
        for n in &v.notes {
            println!("{}: note: {}", safe(&v.key), safe(n));
        }
        for p in &v.problems {
            println!("{}: {}", safe(&v.key), safe(p));
        }
        if let Some(e) = &v.error {
            println!("{}: not verified: {}", safe(&v.key), safe(e));
            if code == ExitCode::Success {
                code = ExitCode::Connection;
            }
        }
        if v.verified {
            println!(
                "{}: {} file(s) match the manifest and the {}: verified",
                safe(&v.key),
                v.files,
                run.side.as_str()
            );
        } else if !v.problems.is_empty() {
            println!(
                "{}: NOT verified: {} problem(s)",
                safe(&v.key),
                v.problems.len()
            );
            code = ExitCode::Mismatch;
        }
    }
    Ok(code)
}
