//! `cutover failback`: copy back to the source the mail that arrived on the destination after
//! the migration.

use tokio::sync::mpsc;

use cutover_engine::config::Project;

use super::confirm::confirm_typed;
use super::events::print_events;
use super::interrupt::stop_on_interrupt;
use super::journal::{journal_checked, journal_failed};
use super::setup::{control_socket, open_store};
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use cutover_engine::mail::fmt;

/// Stops a background task when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn failback(
    project: Project,
    mailbox: String,
    dry_run: bool,
    yes: bool,
) -> Result<ExitCode> {
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
    let store = open_store(&project)?;
    // The fail-back engine (the project reversed) holds the control socket: no other engine
    // may work on this project meanwhile, and `cutover stop` halts its writes.
    let (tx, rx) = mpsc::unbounded_channel();
    let fb = cutover_engine::failback::engine(&project, store, Some(tx))
        .map_err(Error::FailbackSetup)?;
    let lock = control_socket(&fb).await?;
    let _unlock = AbortOnDrop(lock);
    stop_on_interrupt(&fb);
    let stop = fb.stop_flag();
    // Plan first (reads only), then ask.
    let planned = tokio::select! {
        r = cutover_engine::failback::failback(&fb, &spec, true) => r,
        // Said by the signal handler.
        _ = stop.stopped() => return Ok(ExitCode::Stopped),
    };
    let plan = planned.map_err(Error::FailbackPlan)?;
    println!(
        "{:<30} {:<30} {:>9} {:>12} {:>9}",
        "destination folder", "source folder", "to copy", "bytes", "done"
    );
    let mut n = 0;
    for f in &plan.folders {
        match &f.skipped {
            None => println!(
                "{:<30} {:<30} {:>9} {:>12} {:>9}",
                f.from,
                f.to,
                f.to_copy,
                fmt::bytes(f.bytes),
                f.done
            ),
            Some(why) => println!("{:<30} {:<30} skipped: {why}", f.from, f.to),
        }
        n += f.to_copy;
    }
    println!(
        "fail-back of {}: {n} message(s) arrived on the destination after the migration and are not on the source yet",
        spec.key()
    );
    let before: u64 = plan.folders.iter().map(|f| f.before_switch).sum();
    if let Some(at) = &plan.switched_at {
        println!(
            "fail-back of {}: switched at {at} (cutover finalize): only what arrived after the switch is copied back; {before} message(s) that arrived on the destination before it are not",
            spec.key()
        );
    }
    let skipped = plan.folders.iter().filter(|f| f.skipped.is_some()).count();
    if skipped > 0 {
        println!(
            "fail-back of {}: {skipped} folder(s) skipped (reasons above)",
            spec.key()
        );
    }
    let ok = if skipped > 0 {
        ExitCode::Partial
    } else {
        ExitCode::Success
    };
    if dry_run || n == 0 {
        return Ok(ok);
    }
    if !yes {
        confirm_typed(
            &spec.source.user,
            "fail-back writes to the source",
            "to copy these messages to the source",
            &stop,
        )
        .await?;
    }
    let printer = tokio::spawn(print_events(rx));
    let halt = cutover_engine::events::Halt {
        emergency: stop.clone(),
        ..Default::default()
    };
    let r = halt
        .or_cut(cutover_engine::failback::failback(&fb, &spec, false))
        .await;
    drop(_unlock);
    let journal_fault = fb.sink().journal_fault();
    drop(fb);
    let _ = printer.await;
    let code = match r {
        None => {
            eprintln!(
                "cutover: fail-back of {} stopped (a server did not answer in time); run it again to finish it",
                spec.key()
            );
            ExitCode::Stopped
        }
        Some(Err(e)) if stop.is_stopped() => {
            eprintln!(
                "cutover: fail-back of {} stopped: {e}; run it again to finish it",
                spec.key()
            );
            ExitCode::Stopped
        }
        Some(Ok(o)) => {
            println!(
                "fail-back of {}: {} message(s) on the source in all, {} appended this run, {} skipped, {} failed",
                spec.key(),
                o.totals.copied,
                o.appended,
                o.totals.skipped,
                o.totals.failed
            );
            if o.totals.skipped + o.totals.failed + o.totals.pending == 0 {
                ok
            } else {
                ExitCode::Partial
            }
        }
        Some(Err(e)) if e.is_journal() => journal_failed(
            ExitCode::Partial,
            &format!("fail-back of {} failed: {e}", spec.key()),
        ),
        Some(Err(e)) => {
            eprintln!("cutover: fail-back of {} failed: {e}", spec.key());
            ExitCode::Partial
        }
    };
    Ok(journal_checked(journal_fault, code))
}
