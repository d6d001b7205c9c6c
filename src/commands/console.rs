//! `cutover PROJECT` / `cutover tui`: the operator's console over the in-process engine, and
//! the headless run after a detach; `cutover watch`: the read-only console.

use std::time::Duration;

use cutover_engine::config::Project;
use cutover_engine::journal::Journal;

use super::journal::journal_checked;
use super::setup::{control_socket, open_store, operator};
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use crate::signals;

pub fn console_theme(choice: Option<&str>) -> Result<cutover::ui::theme::Theme> {
    Ok(cutover::ui::pick_theme(choice)?)
}

pub async fn console(project: Project, theme: Option<String>, start: bool) -> Result<ExitCode> {
    let theme = console_theme(theme.as_deref().or(project.theme.as_deref()))?;
    let store = open_store(&project)?;
    let (p, s) = (project.clone(), store.clone());
    let (mut handle, engine) = cutover_engine::engine::control::spawn_engine(project, store)?;
    super::setup::mirror_on_rerun(&engine);
    // The Emergency tab's backup (b): `cutover backup` then `--verify`, in the background.
    handle.backup = Some(cutover_engine::api::BackupSwitch::new(
        move |batch, operator| {
            tokio::spawn(cutover_engine::backup::backup_and_verify(
                p.clone(),
                s.clone(),
                batch.into_iter().collect(),
                operator,
            ));
        },
    ));
    let control = control_socket(&engine).await?;
    if start {
        handle.send(cutover_engine::api::Command::Start { batch: None });
    }
    // Listening already, so that after a detach no SIGTERM or SIGHUP slips through unheard
    // (the console handles these two itself meanwhile; SIGINT keeps its meaning until then).
    let early = signals::Interrupts::term_and_hup().ok();
    let outcome =
        match cutover::ui::run(handle.snapshots.clone(), Some(&handle), theme, operator()).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("cutover: the terminal failed: {e}");
                handle.send(cutover_engine::api::Command::Pause { batch: None });
                cutover::ui::Outcome::HungUp
            }
        };
    let mut interrupted = false;
    match outcome {
        cutover::ui::Outcome::Quit => {}
        cutover::ui::Outcome::Detached => {
            // The console's own SIGTERM/SIGHUP handling ended with it: from here on the three
            // signals pause every batch gracefully (the windows in flight are journalled).
            let mut signals = early.and_then(|s| s.with_interrupt().ok());
            println!(
                "cutover: detached from the console; migrating headless until done (Ctrl-C, SIGTERM or SIGHUP pauses every batch)"
            );
            let mut last = String::new();
            while engine.running_count() > 0 {
                let sig = async {
                    match signals.as_mut() {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    sig = sig => {
                        println!("cutover: {sig}: pausing every batch");
                        for b in engine.project.mailboxes.iter().map(|m| m.batch.clone()) {
                            engine.pause_batch(&b);
                        }
                        interrupted = true;
                        break;
                    }
                }
                let snap = handle.snapshots.borrow().clone();
                let t = snap.totals();
                let line = format!(
                    "cutover: {} mailbox(es) running; {}/{} messages copied",
                    engine.running_count(),
                    t.copied,
                    t.messages
                );
                if line != last {
                    println!("{line}");
                    last = line;
                }
            }
            if !interrupted {
                println!("cutover: done");
            }
        }
        cutover::ui::Outcome::HungUp => {
            // Paused by the UI on the way out: wait for the windows in flight to be journalled.
            while engine.running_count() > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // A quit with nothing running, or after the work paused: leave nothing half-written.
    while engine.running_count() > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    control.abort();
    let code = if interrupted {
        println!("cutover: paused; start again to resume");
        ExitCode::Stopped
    } else {
        ExitCode::Success
    };
    Ok(journal_checked(engine.sink().journal_fault(), code))
}

pub async fn watch(project: Project, theme: Option<String>) -> Result<ExitCode> {
    let theme = console_theme(theme.as_deref().or(project.theme.as_deref()))?;
    let store = Journal::open_project_read_only(&project).map_err(Error::NotStarted)?;
    let snaps = cutover_engine::engine::monitor::watch_journal(project, store);
    cutover::ui::run(snaps, None, theme, operator())
        .await
        .map_err(Error::Terminal)?;
    Ok(ExitCode::Success)
}
