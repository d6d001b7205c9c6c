//! The `cutover` command line: parse it, load the project, set up the log, run the command and
//! exit with its code. The commands themselves are in `commands/`.

use std::time::Duration;

use clap::Parser;

use cutover_engine::config;

#[macro_use]
mod out;

mod cli;
mod commands;
mod error;
mod exit;
mod logging;
mod signals;

use cli::{Cli, Cmd};
use commands::assess::assess;
use commands::backup::backup;
use commands::check::check;
use commands::console::{console, watch};
use commands::failback::failback;
use commands::interrupt::until_interrupted;
use commands::login::login;
use commands::plan::plan;
use commands::report::{report, report_note};
use commands::restore::restore;
use commands::rollback::rollback;
use commands::run::run;
use commands::stop::stop;
use commands::sync::sync;
use commands::verify::verify;
use error::Error;
use exit::ExitCode;
use logging::{flush_log, init_logging, log_guard};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cmd = match (cli.cmd, cli.project) {
        (Some(c), _) => c,
        (None, Some(project)) => Cmd::Tui {
            project,
            start: false,
        },
        (None, None) => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            return ExitCode::Usage.into();
        }
    };
    let project_path = match &cmd {
        Cmd::Run { project, .. }
        | Cmd::Sync { project, .. }
        | Cmd::Finalize { project, .. }
        | Cmd::Assess { project, .. }
        | Cmd::Verify { project, .. }
        | Cmd::Plan { project, .. }
        | Cmd::Recipients { project, .. }
        | Cmd::Access { project, .. }
        | Cmd::Tui { project, .. }
        | Cmd::Watch { project }
        | Cmd::Check { project }
        | Cmd::Checklist { project, .. }
        | Cmd::Stop { project, .. }
        | Cmd::Rollback { project, .. }
        | Cmd::Failback { project, .. }
        | Cmd::Backup { project, .. }
        | Cmd::Restore { project, .. }
        | Cmd::Login { project, .. } => project.clone(),
        Cmd::Report { project, .. } => project.clone(),
        // What needs no project: generated from the command-line definition.
        Cmd::Completions { shell } => {
            return commands::manual::completions(*shell)
                .unwrap_or_else(|e| e.report())
                .into();
        }
        Cmd::Man { dir } => {
            return commands::manual::man(dir.as_deref())
                .unwrap_or_else(|e| e.report())
                .into();
        }
    };
    let project = match config::load(&project_path) {
        Ok(p) => p,
        Err(e) => return Error::from(e).report().into(),
    };
    // Everything written from here on is private to this user (and the operators group).
    cutover_engine::local::init(project.operators_group.as_ref());
    *log_guard() = match init_logging(&project.log_dir, cli.log_json) {
        Ok(g) => Some(g),
        Err(why) => {
            // Not fatal (the journal still records everything), but never silent.
            eprintln!("cutover: warning: no log file for this command: {why}");
            None
        }
    };
    // Load warnings (a password file readable by others) go to stderr and to the log; the
    // console shows stderr before it takes the screen.
    for w in &project.warnings {
        eprintln!("cutover: warning: {w}");
        tracing::warn!("{w}");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let code = Error::Internal(format!("cannot start the async runtime: {e}")).report();
            flush_log();
            return code.into();
        }
    };
    let theme = cli.theme;
    let code = rt.block_on(async move {
        let done = match cmd {
            Cmd::Tui { start, .. } => console(project, theme, start).await,
            Cmd::Watch { .. } => watch(project, theme).await,
            Cmd::Check { .. } => Ok(check(&project)),
            Cmd::Checklist {
                batches,
                tick,
                note,
                untick,
                ..
            } => {
                use commands::checklist::{Mark, checklist};
                let mark = match (tick, untick) {
                    (Some(id), _) => Some(Mark::Tick { id, note }),
                    (None, Some(id)) => Some(Mark::Untick(id)),
                    (None, None) => None,
                };
                checklist(&project, &batches, mark)
            }
            Cmd::Login { side, user, .. } => until_interrupted(login(&project, side, user)).await,
            Cmd::Stop { batch, .. } => stop(&project, batch.as_deref()).await,
            Cmd::Rollback {
                recipients: true,
                dry_run,
                yes,
                ..
            } => commands::recipients::rollback_recipients(project, dry_run, yes).await,
            Cmd::Rollback {
                batch,
                mailbox,
                dry_run,
                yes,
                ..
            } => rollback(project, batch, mailbox, dry_run, yes).await,
            Cmd::Failback {
                mailbox,
                dry_run,
                yes,
                ..
            } => failback(project, mailbox, dry_run, yes).await,
            Cmd::Backup {
                batches,
                side,
                dir,
                verify,
                ..
            } => backup(project, batches, side, dir, verify).await,
            Cmd::Restore {
                mailbox,
                folders,
                dir,
                into,
                dry_run,
                yes,
                ..
            } => restore(project, mailbox, folders, dir, into, dry_run, yes).await,
            Cmd::Report {
                kind,
                format,
                out,
                note,
                ..
            } => match (note, kind) {
                (Some(note), _) => report_note(&project, &note),
                (None, Some(kind)) => report(&project, kind, format, out.as_deref()),
                (None, None) => Err(Error::Usage("cutover report needs --kind or --note".into())),
            },
            Cmd::Run {
                batches,
                override_reason,
                ..
            } => run(project, batches, override_reason).await,
            Cmd::Sync {
                batches,
                every,
                until,
                override_reason,
                ..
            } => sync(project, batches, every, until, override_reason).await,
            Cmd::Finalize {
                batch,
                yes,
                force_dns,
                override_reason,
                ..
            } => {
                commands::finalize::finalize(project, batch, yes, force_dns, override_reason).await
            }
            Cmd::Assess { batches, csv, .. } => {
                until_interrupted(assess(project, batches, csv)).await
            }
            Cmd::Verify {
                batches,
                sample,
                seed,
                fingerprint_only,
                ..
            } => {
                let how = commands::verify::How {
                    sample: sample.map(|percent| cutover_engine::verify::Sample {
                        percent,
                        seed: seed.unwrap_or_else(cutover_engine::verify::new_seed),
                    }),
                    fingerprint_only,
                };
                until_interrupted(verify(project, batches, how)).await
            }
            Cmd::Plan { batches, .. } => until_interrupted(plan(project, batches)).await,
            Cmd::Access { batches, probe, .. } => {
                until_interrupted(commands::access::access(project, batches, probe)).await
            }
            Cmd::Recipients { script, check, .. } => {
                use commands::recipients::Mode;
                let mode = match (&script, check) {
                    (Some(p), _) => Mode::Script(p),
                    (None, true) => Mode::Check,
                    (None, false) => Mode::Create,
                };
                until_interrupted(commands::recipients::recipients(&project, mode)).await
            }
            // Answered before the project is loaded; the same if ever reached here.
            Cmd::Completions { shell } => commands::manual::completions(shell),
            Cmd::Man { dir } => commands::manual::man(dir.as_deref()),
        };
        // The one place an error is said and turned into its exit code.
        done.unwrap_or_else(|e| e.report())
    });
    // Leave without waiting on a blocking thread (a prompt's stdin read, a name lookup) that
    // a stop left behind.
    rt.shutdown_timeout(Duration::from_millis(200));
    flush_log();
    code.into()
}
