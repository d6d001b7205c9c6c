//! `cutover rollback`: remove from the destination exactly what cutover wrote.

use cutover_engine::config::{self, Project};

use super::confirm::confirm_typed;
use super::interrupt::stop_on_interrupt;
use super::journal::{begin_run, end_run, journal_checked};
use super::setup::{control_socket, engine, operator};
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use crate::out::human;

pub async fn rollback(
    project: Project,
    batch: Option<String>,
    mailbox: Option<String>,
    dry_run: bool,
    yes: bool,
) -> Result<ExitCode> {
    let (target, specs): (String, Vec<config::MailboxSpec>) = match (&batch, &mailbox) {
        (Some(b), _) => (
            b.clone(),
            project
                .mailboxes
                .iter()
                .filter(|m| &m.batch == b)
                .cloned()
                .collect(),
        ),
        (None, Some(u)) => (
            u.clone(),
            project
                .mailboxes
                .iter()
                .filter(|m| &m.source.user == u || &m.destination.user == u || &m.key() == u)
                .cloned()
                .collect(),
        ),
        // clap requires one of the two.
        (None, None) => return Ok(ExitCode::Usage),
    };
    if specs.is_empty() {
        return Err(Error::NotInProject(format!(
            "no mailbox matches {target:?} in {} (a batch name with --batch, a source or destination user with --mailbox)",
            project.file.display()
        )));
    }
    let engine = engine(project, None)?;
    let plan = cutover_engine::rollback::plan(&engine.store, &specs)?;
    println!(
        "{:<40} {:<30} {:>9} {:>12} {:>9}  folder",
        "mailbox", "destination folder", "messages", "bytes", "in doubt"
    );
    let (mut msgs, mut bytes) = (0, 0);
    for m in &plan {
        if m.folders.is_empty() {
            println!("{:<40} (nothing written by cutover)", m.key);
        }
        for f in &m.folders {
            println!(
                "{:<40} {:<30} {:>9} {:>12} {:>9}  {}",
                m.key,
                f.dst,
                f.messages,
                human(f.bytes),
                f.in_doubt,
                if f.created {
                    "created by cutover: deleted once empty"
                } else {
                    "existed before: kept"
                }
            );
        }
        msgs += m.messages();
        bytes += m.bytes();
    }
    println!(
        "rollback of {target}: {} mailbox(es), up to {msgs} message(s) ({}) written by cutover would be removed from the destination; nothing else is touched, the source never",
        plan.len(),
        human(bytes)
    );
    if dry_run {
        return Ok(ExitCode::Success);
    }
    stop_on_interrupt(&engine);
    if !yes {
        confirm_typed(
            &target,
            "rollback needs a confirmation",
            "to remove these messages from the destination",
            &engine.stop_flag(),
        )
        .await?;
    }
    // The control socket doubles as the lock: no engine may write while we remove.
    let control = control_socket(&engine).await?;
    let run_id = begin_run(&engine.store, "rollback").inspect_err(|_| control.abort())?;
    let who = operator();
    let (mut partial, mut mismatch) = (false, false);
    let halt = cutover_engine::engine::Halt {
        emergency: engine.stop_flag(),
        ..Default::default()
    };
    for spec in &specs {
        // `cutover stop` or a signal: what is removed so far stays journalled; a stalled
        // server is abandoned after Halt::CUT.
        let Some(o) = halt
            .or_cut(cutover_engine::rollback::rollback_mailbox(
                &engine.dst,
                &engine.store,
                engine.sink(),
                spec,
                &who,
                &halt,
            ))
            .await
        else {
            engine.sink().abandoned(&spec.key(), None);
            println!(
                "[{}] STOPPED: run the rollback again to finish it",
                spec.key()
            );
            break;
        };
        match &o.error {
            None => println!(
                "[{}] rolled back: {} removed, {} already gone, {} left alone (content differs), {} folder(s) deleted, {} kept",
                o.key, o.removed, o.already_gone, o.mismatched, o.folders_deleted, o.folders_kept
            ),
            Some(e) => {
                println!("[{}] INTERRUPTED after {} removed: {e}", o.key, o.removed);
                partial = true;
            }
        }
        mismatch |= o.mismatched > 0;
        if halt.is_emergency() {
            break;
        }
    }
    let code = if halt.is_emergency() {
        ExitCode::Stopped
    } else if partial {
        ExitCode::Partial
    } else if mismatch {
        ExitCode::Mismatch
    } else {
        ExitCode::Success
    };
    let code = journal_checked(engine.sink().journal_fault(), code);
    let code = end_run(&engine.store, run_id, code);
    control.abort();
    let _ = control.await;
    Ok(code)
}
