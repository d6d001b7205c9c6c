//! `cutover restore`: put back into a side what a backup holds and the side lacks (the engine
//! on a derived project, after a pre-pass that finds what the target already holds). A dry
//! run lists the counts per folder; restoring into the source asks first.

use tokio::sync::mpsc;

use cutover_engine::api::Side as ApiSide;
use cutover_engine::backup;
use cutover_engine::config::Project;
use cutover_engine::mail::fmt;
use cutover_engine::safe_text::terminal as safe;

use super::backup::api_side;
use super::confirm::confirm_typed;
use super::events::print_events;
use super::failback::AbortOnDrop;
use super::interrupt::stop_on_interrupt;
use super::journal::{begin_run, end_run, journal_checked};
use super::run::exit_for;
use super::setup::{control_socket, open_store, operator};
use crate::cli::Side;
use crate::error::{Error, Result};
use crate::exit::ExitCode;

pub async fn restore(
    project: Project,
    mailbox: String,
    folders: Vec<String>,
    dir: Option<std::path::PathBuf>,
    into: Side,
    dry_run: bool,
    yes: bool,
) -> Result<ExitCode> {
    let into = api_side(into);
    let Some(spec) = project
        .mailboxes
        .iter()
        .find(|m| m.source.user == mailbox || m.destination.user == mailbox || m.key() == mailbox)
        .cloned()
    else {
        return Err(Error::NotInProject(format!(
            "no mailbox {mailbox:?} in {} (a source or destination user, or SOURCE->DESTINATION)",
            project.file.display()
        )));
    };
    let project_store = open_store(&project)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let run = backup::restore_engine(&project, &spec, into, dir, &folders, Some(tx)).await?;
    let lock = control_socket(&run.engine).await?;
    let unlock = AbortOnDrop(lock);
    stop_on_interrupt(&run.engine);
    let stop = run.engine.stop_flag();
    let plan = tokio::select! {
        r = backup::plan(&run, true) => r?,
        _ = stop.stopped() => return Ok(ExitCode::Stopped),
    };
    println!(
        "{:<32} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "folder", "in backup", "on target", "done", "to restore", "bytes"
    );
    for f in &plan {
        println!(
            "{:<32} {:>10} {:>10} {:>10} {:>10} {:>12}",
            safe(&f.folder),
            f.in_backup,
            f.present,
            f.done,
            f.to_restore,
            fmt::bytes(f.bytes)
        );
    }
    let n: u64 = plan.iter().map(|f| f.to_restore).sum();
    println!(
        "restore of {} from {} into the {}: {n} message(s) to restore",
        safe(&spec.key()),
        safe(&run.dir.display().to_string()),
        into.as_str()
    );
    if dry_run {
        return Ok(ExitCode::Success);
    }
    if n == 0 {
        println!(
            "nothing to restore: the {} holds everything the backup has",
            into.as_str()
        );
        return Ok(ExitCode::Success);
    }
    if into == ApiSide::Source && !yes {
        confirm_typed(
            &spec.source.user,
            "restore writes to the source",
            "to restore these messages into the source",
            &stop,
        )
        .await?;
    }
    let run_id = begin_run(&project_store, "restore")?;
    let printer = tokio::spawn(print_events(rx));
    let done = async {
        backup::plan(&run, false).await?;
        backup::restore(&run, &project_store, &operator()).await
    }
    .await;
    drop(unlock);
    let journal_fault = run.engine.sink().journal_fault();
    drop(run);
    let _ = printer.await;
    let o = done?;
    println!(
        "restore of {}: {} message(s) written this run; {}",
        safe(&spec.key()),
        o.appended,
        match &o.result.failure {
            None if o.result.complete() => "complete".to_string(),
            None => format!(
                "incomplete: {} skipped, {} failed, {} pending (see issues)",
                o.result.totals.skipped, o.result.totals.failed, o.result.totals.pending
            ),
            Some((_, e)) => format!("failed: {}", safe(e)),
        }
    );
    let code = journal_checked(journal_fault, exit_for(&[o.result]));
    Ok(end_run(&project_store, run_id, code))
}
