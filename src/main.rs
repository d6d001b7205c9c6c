//! The `cutover` command line.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio::sync::mpsc;

use cutover_engine::config::{self, Project};
use cutover_engine::engine::{Engine, Event, Failure, MailboxResult, RunStats};
use cutover_engine::journal::Journal;

// Every line this binary prints goes through these four, which shadow the std macros of the
// same names: text from servers, mail and the journal (folder names, server replies inside
// error messages, socket replies) is shown with control and bidi characters escaped
// (`cutover_engine::safe_text::terminal`), so it can never drive the operator's terminal. A closed
// pipe (`cutover plan P | head`) drops the rest quietly instead of panicking.
macro_rules! println {
    () => { crate::say(&mut std::io::stdout().lock(), "", true) };
    ($($t:tt)*) => { crate::say(&mut std::io::stdout().lock(), &format!($($t)*), true) };
}
macro_rules! print {
    ($($t:tt)*) => { crate::say(&mut std::io::stdout().lock(), &format!($($t)*), false) };
}
macro_rules! eprintln {
    () => { crate::say(&mut std::io::stderr().lock(), "", true) };
    ($($t:tt)*) => { crate::say(&mut std::io::stderr().lock(), &format!($($t)*), true) };
}
// Unused today; here so an `eprint!` added later cannot bypass the escaping.
#[allow(unused_macros)]
macro_rules! eprint {
    ($($t:tt)*) => { crate::say(&mut std::io::stderr().lock(), &format!($($t)*), false) };
}

/// Write `text` (escaped for the terminal) and maybe a newline, ignoring a closed pipe.
fn say(w: &mut dyn std::io::Write, text: &str, newline: bool) {
    let mut text = cutover_engine::safe_text::terminal(text).into_owned();
    if newline {
        text.push('\n');
    }
    let _ = w.write_all(text.as_bytes());
}

/// Exit codes, documented in the README.
mod signals;

mod exit {
    pub const OK: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONFIG: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const CONNECTION: u8 = 5;
    pub const PARTIAL: u8 = 6;
    pub const MISMATCH: u8 = 7;
    pub const STOPPED: u8 = 8;
    pub const JOURNAL: u8 = 9;
    pub const BUSY: u8 = 10;
    pub const GATE: u8 = 11;
}

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "Mailbox migrations an operator can trust on cutover night",
    args_conflicts_with_subcommands = true,
    after_help = "`cutover PROJECT` opens the console (same as `cutover tui PROJECT`)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// The project file: opens the console.
    project: Option<PathBuf>,
    /// Console theme: a built-in name (default, light, high-contrast, mono) or a theme file.
    #[arg(long, global = true)]
    theme: Option<String>,
    /// Write logs as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// The operator's console over the live engine.
    Tui {
        project: PathBuf,
        /// Start every batch right away (otherwise start them from the Batches tab).
        #[arg(long)]
        start: bool,
    },
    /// A read-only console for a second operator: reads the journal, changes nothing.
    Watch { project: PathBuf },
    /// Migrate the selected batches headless, with progress per mailbox and folder.
    Run {
        project: PathBuf,
        /// Only these batches (repeatable); all when absent.
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Start even though required checklist items are unmet; the reason is journalled
        /// as an operator issue.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Discovery before migrating: capabilities, folders, sizes, largest and oversize
    /// messages, quota, complexity, risks, estimates; then the checklist's auto checks.
    Assess {
        project: PathBuf,
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Also write the report as CSV (one row per mailbox).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// Compare source and destination folder by folder (counts and content fingerprints).
    Verify {
        project: PathBuf,
        #[arg(long = "batch")]
        batches: Vec<String>,
    },
    /// Print the folder map per mailbox with messages and bytes to copy; copies nothing.
    Plan {
        project: PathBuf,
        #[arg(long = "batch")]
        batches: Vec<String>,
    },
    /// Check a project file and print what it defines; connects to nothing.
    Check { project: PathBuf },
    /// Remove from the destination exactly what cutover wrote for a batch or a mailbox (and
    /// the folders it created, once empty). Asks for the batch or mailbox name to be typed.
    Rollback {
        project: PathBuf,
        /// Roll back every mailbox of this batch.
        #[arg(long, conflicts_with = "mailbox", required_unless_present = "mailbox")]
        batch: Option<String>,
        /// Roll back one mailbox (its source or destination user, or its key).
        #[arg(long)]
        mailbox: Option<String>,
        /// List what would be removed, per mailbox and folder; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask (for scripts): the confirmation is taken as given.
        #[arg(long)]
        yes: bool,
    },
    /// Copy back to the source the mail that arrived on the destination after the migration
    /// (abandoning a cutover loses nothing). Byte-exact, journalled, idempotent.
    Failback {
        project: PathBuf,
        /// The mailbox (its source or destination user, or its key).
        #[arg(long)]
        mailbox: String,
        /// List what would be copied back, per folder; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Emergency stop of the engine running this project (console or `cutover run`), from
    /// any shell: every write halts within a second; the journal stays consistent.
    Stop {
        project: PathBuf,
        /// Stop only this batch.
        #[arg(long)]
        batch: Option<String>,
    },
    /// Sign in for an endpoint whose [oauth] uses flow = "device-code" (delegated): shows the
    /// verification URL and code, waits for the sign-in, and keeps the refresh token in a
    /// file next to the journal (mode 0600; never printed). Runs then refresh from it.
    Login {
        project: PathBuf,
        /// Which side to sign in for (default: the one with flow = "device-code").
        #[arg(long, value_enum)]
        side: Option<Side>,
        /// The mailbox this sign-in is for (default: one sign-in for every mailbox of the
        /// side, e.g. an account with FullAccess on them).
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Write a daily or final report from the journal; connects to nothing.
    Report {
        project: PathBuf,
        /// daily: progress since the last daily report; final: the project's closing report.
        #[arg(long, value_enum)]
        kind: ReportKind,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Side {
    Source,
    Destination,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportKind {
    Daily,
    Final,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Md,
    Html,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = match (cli.cmd, cli.project) {
        (Some(c), _) => c,
        (None, Some(project)) => Cmd::Tui {
            project,
            start: false,
        },
        (None, None) => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            return ExitCode::from(2);
        }
    };
    let project_path = match &cmd {
        Cmd::Run { project, .. }
        | Cmd::Assess { project, .. }
        | Cmd::Verify { project, .. }
        | Cmd::Plan { project, .. }
        | Cmd::Tui { project, .. }
        | Cmd::Watch { project }
        | Cmd::Check { project }
        | Cmd::Stop { project, .. }
        | Cmd::Rollback { project, .. }
        | Cmd::Failback { project, .. }
        | Cmd::Login { project, .. } => project.clone(),
        Cmd::Report { project, .. } => project.clone(),
    };
    let project = match config::load(&project_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cutover: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    // Everything written from here on is private to this user (and the operators group).
    cutover_engine::local::init(project.operators_group.as_ref());
    *log_guard() = init_logging(&project.log_dir, cli.log_json);
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
            eprintln!("cutover: cannot start the async runtime: {e}");
            flush_log();
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let theme = cli.theme;
    let code = rt.block_on(async move {
        match cmd {
            Cmd::Tui { start, .. } => console(project, theme, start).await,
            Cmd::Watch { .. } => watch(project, theme).await,
            Cmd::Check { .. } => check(&project),
            Cmd::Login { side, user, .. } => until_interrupted(login(&project, side, user)).await,
            Cmd::Stop { batch, .. } => stop(&project, batch.as_deref()).await,
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
            Cmd::Report {
                kind, format, out, ..
            } => report(&project, kind, format, out.as_deref()),
            Cmd::Run {
                batches,
                override_reason,
                ..
            } => run(project, batches, override_reason).await,
            Cmd::Assess { batches, csv, .. } => {
                until_interrupted(assess(project, batches, csv)).await
            }
            Cmd::Verify { batches, .. } => until_interrupted(verify(project, batches)).await,
            Cmd::Plan { batches, .. } => until_interrupted(plan(project, batches)).await,
        }
    });
    // Leave without waiting on a blocking thread (a prompt's stdin read, a name lookup) that
    // a stop left behind.
    rt.shutdown_timeout(Duration::from_millis(200));
    flush_log();
    ExitCode::from(code)
}

/// The log writer's guard, reachable from the stop backstop, which leaves with
/// `std::process::exit` (no destructor runs) and must write the log out first.
fn log_guard() -> std::sync::MutexGuard<'static, Option<tracing_appender::non_blocking::WorkerGuard>>
{
    static GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
        std::sync::Mutex::new(None);
    GUARD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Write out what the non-blocking log writer still holds (dropping its guard waits for
/// it); later log records are dropped.
fn flush_log() {
    let guard = log_guard().take();
    drop(guard);
}

/// How long a command may take to end after SIGINT, SIGTERM or SIGHUP stopped its writes
/// before the process leaves anyway (exit 8).
const STOP_BACKSTOP: Duration = Duration::from_millis(1500);

/// On the first SIGINT (Ctrl-C), SIGTERM or SIGHUP: `act` (stop the writes); the command then
/// ends by itself within a second with the journal consistent. Should it still run after
/// [`STOP_BACKSTOP`], the process exits 8 anyway: the journal survives that as it survives a
/// crash, and what was in flight is resolved at the next start.
fn on_interrupt(act: impl FnOnce(&'static str) + Send + 'static) {
    let mut signals = match signals::Interrupts::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "cutover: warning: cannot listen for signals ({e}): Ctrl-C, SIGTERM and SIGHUP end the process without stopping cleanly"
            );
            return;
        }
    };
    tokio::spawn(async move {
        let sig = signals.recv().await;
        tracing::warn!("{sig}: stopping all writes");
        act(sig);
        tokio::time::sleep(STOP_BACKSTOP).await;
        let why = format!(
            "still not stopped {} ms after the {sig}: leaving now (the journal is consistent; run again to resume)",
            STOP_BACKSTOP.as_millis()
        );
        eprintln!("cutover: {why}");
        tracing::warn!("{why}");
        // exit runs no destructor: the log's last records (the stop, the abandoned
        // mailboxes, this one) are written out first.
        flush_log();
        std::process::exit(exit::STOPPED.into());
    });
}

/// A command that writes no mail (plan, verify, assess, login): SIGINT, SIGTERM or SIGHUP
/// ends it at once, exit 8 (the journal is only written synchronously, never left half-done).
async fn until_interrupted(work: impl std::future::Future<Output = u8>) -> u8 {
    let mut signals = match signals::Interrupts::new() {
        Ok(s) => s,
        Err(_) => return work.await,
    };
    tokio::select! {
        code = work => code,
        sig = signals.recv() => {
            eprintln!("cutover: {sig}: stopped");
            exit::STOPPED
        }
    }
}

fn init_logging(dir: &Path, json: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    cutover_engine::local::create_private_dir_all(dir).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("cutover")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)
        .ok()?;
    cutover_engine::local::make_logs_private(dir);
    let (w, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("CUTOVER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // The IMAP library's trace is the raw wire: LOGIN and AUTHENTICATE lines with their
    // secrets, and message bodies. Never logged, whatever CUTOVER_LOG asks for.
    let filter = match "async_imap=off".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(w)
        .with_ansi(false);
    let r = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
    r.ok()?;
    Some(guard)
}

fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".into())
}

fn console_theme(choice: Option<&str>) -> Result<cutover::ui::theme::Theme, u8> {
    cutover::ui::pick_theme(choice).map_err(|e| {
        eprintln!("cutover: {e}");
        exit::CONFIG
    })
}

async fn console(project: Project, theme: Option<String>, start: bool) -> u8 {
    let theme = match console_theme(theme.as_deref().or(project.theme.as_deref())) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let store = match open_store(&project) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (handle, engine) = match cutover_engine::engine::control::spawn_engine(project, store) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::CONFIG;
        }
    };
    let control = match control_socket(&engine).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if start {
        handle.send(cutover_engine::engine::control::Command::Start { batch: None });
    }
    // Listening already, so that after a detach no SIGTERM or SIGHUP slips through unheard
    // (the console handles these two itself meanwhile; SIGINT keeps its meaning until then).
    let early = signals::Interrupts::term_and_hup().ok();
    let outcome =
        match cutover::ui::run(handle.snapshots.clone(), Some(&handle), theme, operator()).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("cutover: the terminal failed: {e}");
                handle.send(cutover_engine::engine::control::Command::Pause { batch: None });
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
        exit::STOPPED
    } else {
        exit::OK
    };
    journal_checked(engine.sink().journal_fault(), code)
}

async fn watch(project: Project, theme: Option<String>) -> u8 {
    let theme = match console_theme(theme.as_deref().or(project.theme.as_deref())) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let store = match Journal::open_read_only(&project.state_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "cutover: {e} (is the project started? `cutover watch` only reads an existing journal)"
            );
            return exit::JOURNAL;
        }
    };
    let snaps = cutover_engine::engine::control::watch_journal(project, store);
    match cutover::ui::run(snaps, None, theme, operator()).await {
        Ok(_) => exit::OK,
        Err(e) => {
            eprintln!("cutover: the terminal failed: {e}");
            exit::INTERNAL
        }
    }
}

/// Take the project's control socket (`cutover stop` reaches the engine through it); refuses
/// when another engine already runs this project.
async fn control_socket(engine: &Arc<Engine>) -> Result<tokio::task::JoinHandle<()>, u8> {
    match cutover_engine::engine::remote::bind(&engine.project.state_path).await {
        Ok(l) => Ok(cutover_engine::engine::remote::serve(l, engine.clone())),
        Err(e) => {
            eprintln!("cutover: {e}");
            Err(exit::BUSY)
        }
    }
}

async fn stop(project: &Project, batch: Option<&str>) -> u8 {
    if let Some(b) = batch
        && !project.mailboxes.iter().any(|m| m.batch == b)
    {
        eprintln!(
            "cutover: no batch \"{b}\" in {}; nothing stopped",
            project.file.display()
        );
        return exit::CONFIG;
    }
    match cutover_engine::engine::remote::request_stop(&project.state_path, &operator(), batch)
        .await
    {
        Ok(reply) => {
            let text = reply.strip_prefix("ok ").unwrap_or(&reply);
            println!("cutover: {text}");
            if reply.starts_with("ok") {
                exit::OK
            } else {
                exit::INTERNAL
            }
        }
        Err(e @ cutover_engine::engine::remote::RemoteError::Refused { .. }) => {
            eprintln!("cutover: {e}");
            exit::AUTH
        }
        Err(e) => {
            eprintln!("cutover: {e}; nothing to stop");
            exit::CONNECTION
        }
    }
}

/// Ask the operator to type `expected` (a destructive or source-writing action): refused
/// without a terminal (exit 2, `--yes` is the scripted way), anything else typed cancels, and
/// so does `stop` (a signal) while waiting.
async fn confirm_typed(
    expected: &str,
    why: &str,
    what: &str,
    stop: &cutover_engine::engine::StopFlag,
) -> Result<(), u8> {
    use std::io::Write as _;
    if !std::io::stdin().is_terminal() {
        eprintln!("cutover: {why}: run it in a terminal to confirm, or pass --yes");
        return Err(exit::USAGE);
    }
    print!("Type {expected:?} {what}: ");
    let _ = std::io::stdout().flush();
    let read = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    });
    let line = tokio::select! {
        r = read => r.ok().and_then(Result::ok),
        _ = stop.stopped() => None,
    };
    if line.is_none_or(|l| l.trim() != expected) {
        println!("cutover: not confirmed; nothing changed");
        return Err(exit::STOPPED);
    }
    Ok(())
}

/// Stop a writing command's engine on SIGINT, SIGTERM or SIGHUP (see [`on_interrupt`]).
fn stop_on_interrupt(engine: &Engine) {
    let stop = engine.stop_flag();
    on_interrupt(move |sig| {
        eprintln!("cutover: {sig}: stopping (the journal stays consistent; run again to resume)");
        stop.stop();
    });
}

async fn rollback(
    project: Project,
    batch: Option<String>,
    mailbox: Option<String>,
    dry_run: bool,
    yes: bool,
) -> u8 {
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
        (None, None) => return exit::USAGE,
    };
    if specs.is_empty() {
        eprintln!(
            "cutover: no mailbox matches {target:?} in {} (a batch name with --batch, a source or destination user with --mailbox)",
            project.file.display()
        );
        return exit::CONFIG;
    }
    let engine = match engine(project, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let plan = match cutover_engine::rollback::plan(&engine.store, &specs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::JOURNAL;
        }
    };
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
        return exit::OK;
    }
    stop_on_interrupt(&engine);
    if !yes
        && let Err(code) = confirm_typed(
            &target,
            "rollback needs a confirmation",
            "to remove these messages from the destination",
            &engine.stop_flag(),
        )
        .await
    {
        return code;
    }
    // The control socket doubles as the lock: no engine may write while we remove.
    let control = match control_socket(&engine).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let run_id = match begin_run(&engine.store, "rollback") {
        Ok(id) => id,
        Err(code) => {
            control.abort();
            return code;
        }
    };
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
        exit::STOPPED
    } else if partial {
        exit::PARTIAL
    } else if mismatch {
        exit::MISMATCH
    } else {
        exit::OK
    };
    let code = journal_checked(engine.sink().journal_fault(), code);
    let code = end_run(&engine.store, run_id, code);
    control.abort();
    let _ = control.await;
    code
}

/// Stops a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn failback(project: Project, mailbox: String, dry_run: bool, yes: bool) -> u8 {
    let Some(spec) = project
        .mailboxes
        .iter()
        .find(|m| m.source.user == mailbox || m.destination.user == mailbox || m.key() == mailbox)
        .cloned()
    else {
        eprintln!(
            "cutover: no mailbox {mailbox:?} in {} (a source or destination user, or SOURCE->DESTINATION)",
            project.file.display()
        );
        return exit::CONFIG;
    };
    let store = match open_store(&project) {
        Ok(s) => s,
        Err(c) => return c,
    };
    // The fail-back engine (the project reversed) holds the control socket: no other engine
    // may work on this project meanwhile, and `cutover stop` halts its writes.
    let (tx, rx) = mpsc::unbounded_channel();
    let fb = match cutover_engine::failback::engine(&project, store, Some(tx)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::CONFIG;
        }
    };
    let lock = match control_socket(&fb).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let _unlock = AbortOnDrop(lock);
    stop_on_interrupt(&fb);
    let stop = fb.stop_flag();
    // Plan first (reads only), then ask.
    let planned = tokio::select! {
        r = cutover_engine::failback::failback(&fb, &spec, true) => r,
        _ = stop.stopped() => return exit::STOPPED,
    };
    let plan = match planned {
        Ok(p) => p,
        Err(e) if e.is_journal() => return journal_failed(exit::CONNECTION, &e.to_string()),
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::CONNECTION;
        }
    };
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
                human(f.bytes),
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
    let skipped = plan.folders.iter().filter(|f| f.skipped.is_some()).count();
    if skipped > 0 {
        println!(
            "fail-back of {}: {skipped} folder(s) skipped (reasons above)",
            spec.key()
        );
    }
    let ok = if skipped > 0 { exit::PARTIAL } else { exit::OK };
    if dry_run || n == 0 {
        return ok;
    }
    if !yes
        && let Err(code) = confirm_typed(
            &spec.source.user,
            "fail-back writes to the source",
            "to copy these messages to the source",
            &stop,
        )
        .await
    {
        return code;
    }
    let printer = tokio::spawn(print_events(rx));
    let halt = cutover_engine::engine::Halt {
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
            exit::STOPPED
        }
        Some(Err(e)) if stop.is_stopped() => {
            eprintln!(
                "cutover: fail-back of {} stopped: {e}; run it again to finish it",
                spec.key()
            );
            exit::STOPPED
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
                exit::PARTIAL
            }
        }
        Some(Err(e)) if e.is_journal() => journal_failed(
            exit::PARTIAL,
            &format!("fail-back of {} failed: {e}", spec.key()),
        ),
        Some(Err(e)) => {
            eprintln!("cutover: fail-back of {} failed: {e}", spec.key());
            exit::PARTIAL
        }
    };
    journal_checked(journal_fault, code)
}

/// The exit code once a journal write that failed is accounted for: the failure said on
/// stderr, and 9, which only a verification mismatch (7, a data-loss incident) outranks.
fn journal_failed(code: u8, what: &str) -> u8 {
    eprintln!("cutover: {what}");
    if code == exit::MISMATCH {
        code
    } else {
        exit::JOURNAL
    }
}

/// The exit code once the journal failures the engine kept (where they could not be
/// returned: an issue, a console command, a detached task) are accounted for.
fn journal_checked(fault: Option<String>, code: u8) -> u8 {
    match fault {
        Some(e) => journal_failed(
            code,
            &format!("the state journal could not be written: {e}"),
        ),
        None => code,
    }
}

/// Record that a command ends (the `runs` table); a failure makes the exit code 9.
fn end_run(store: &Journal, run: i64, code: u8) -> u8 {
    match store.end_run(run, &format!("exit {code}")) {
        Ok(()) => code,
        Err(e) => journal_failed(code, &format!("cannot record the end of this run: {e}")),
    }
}

/// Record that a command starts (the `runs` table); a failure ends it with exit 9.
fn begin_run(store: &Journal, command: &str) -> Result<i64, u8> {
    store.begin_run(command).map_err(|e| {
        eprintln!("cutover: cannot record the start of this run: {e}");
        exit::JOURNAL
    })
}

fn open_store(project: &Project) -> Result<Journal, u8> {
    Journal::open(&project.state_path, project.durability).map_err(|e| {
        eprintln!("cutover: {e}");
        exit::JOURNAL
    })
}

fn engine(
    project: Project,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Result<Arc<Engine>, u8> {
    let store = open_store(&project)?;
    Engine::new(project, store, events)
        .map(Arc::new)
        .map_err(|e| {
            eprintln!("cutover: {e}");
            exit::CONFIG
        })
}

/// `cutover login`: the device-code sign-in for one side.
async fn login(project: &Project, side: Option<Side>, user: Option<String>) -> u8 {
    use config::OAuthFlow;
    let device = |e: &config::Endpoint| {
        e.oauth
            .as_ref()
            .is_some_and(|o| o.flow == OAuthFlow::DeviceCode)
    };
    let (name, ep): (&'static str, &config::Endpoint) = match side {
        Some(Side::Source) => ("source", &project.source),
        Some(Side::Destination) => ("destination", &project.destination),
        None => match (device(&project.source), device(&project.destination)) {
            (true, false) => ("source", &project.source),
            (false, true) => ("destination", &project.destination),
            (true, true) => {
                eprintln!(
                    "cutover: both sides use flow = \"device-code\": name one with --side source or --side destination"
                );
                return exit::USAGE;
            }
            (false, false) => {
                eprintln!(
                    "cutover: no side of {} uses [oauth] flow = \"device-code\"; `cutover login` is only for that flow",
                    project.file.display()
                );
                return exit::CONFIG;
            }
        },
    };
    if !device(ep) {
        eprintln!(
            "cutover: the {name} side has no [{name}.oauth] with flow = \"device-code\"; `cutover login` is only for that flow"
        );
        return exit::CONFIG;
    }
    let provider = match cutover_engine::endpoint::oauth::TokenProvider::for_endpoint(
        ep,
        name,
        &project.state_path,
    ) {
        Ok(Some(p)) => p,
        Ok(None) => return exit::CONFIG,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::CONFIG;
        }
    };
    let who = user.as_deref().unwrap_or("every mailbox of this side");
    let shown = provider
        .device_login(user.as_deref(), |code| {
            println!("Sign in for the {name} side ({who}):");
            println!("  open   {}", code.verification_uri);
            println!("  enter  {}", code.user_code);
            println!(
                "  the code is valid for {} minute(s); waiting for the sign-in ...",
                code.expires_in.div_ceil(60)
            );
        })
        .await;
    match shown {
        Ok(path) => {
            println!(
                "signed in: the refresh token is kept in {} (mode 0600); runs renew their access tokens from it",
                path.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("cutover: {e}");
            exit::AUTH
        }
    }
}

fn check(project: &Project) -> u8 {
    println!("project  {}", project.name);
    println!("journal  {}", project.state_path.display());
    for (side, e) in [
        ("source", &project.source),
        ("destination", &project.destination),
    ] {
        if e.kind.is_api() {
            println!(
                "{side:<11} {:?} {} preset={:?} max_connections={}{}",
                e.kind,
                e.api_url,
                e.preset,
                e.max_connections,
                if e.kind == config::EndpointKind::Graph && side == "destination" {
                    format!(" graph_import={:?}", e.graph_import).to_lowercase()
                } else {
                    String::new()
                }
            );
        } else {
            println!(
                "{side:<11} {:?} {}:{} security={:?} preset={:?} max_connections={}",
                e.kind, e.host, e.port, e.security, e.preset, e.max_connections
            );
        }
        if let Some(o) = &e.oauth {
            let credential = match (o.flow, &o.client_secret, &o.certificate_file) {
                (config::OAuthFlow::DeviceCode, ..) => format!(
                    "sign-ins in {}",
                    cutover_engine::endpoint::oauth::token_file_for(&project.state_path).display()
                ),
                (config::OAuthFlow::ClientCredentials, Some(_), _) => "client secret".into(),
                (config::OAuthFlow::ClientCredentials, None, Some(c)) => {
                    format!("certificate {}", c.display())
                }
                _ => o
                    .service_account_file
                    .as_ref()
                    .map(|f| format!("service account key {}", f.display()))
                    .unwrap_or_default(),
            };
            println!(
                "{:<11} oauth {:?} {:?} client {} ({credential})",
                "",
                o.provider,
                o.flow,
                o.client_id.as_deref().unwrap_or("-"),
            );
        }
    }
    let mut batches: Vec<&str> = project.mailboxes.iter().map(|m| m.batch.as_str()).collect();
    batches.sort();
    batches.dedup();
    println!(
        "mailboxes {} in batches {}",
        project.mailboxes.len(),
        batches.join(", ")
    );
    if project.checks.is_empty() {
        println!(
            "checklist none: nothing gates a start (add [checklist] defaults = true or [[check]] items)"
        );
    } else {
        println!(
            "checklist {} item(s), {} required ({} verified by the engine)",
            project.checks.len(),
            project.checks.iter().filter(|c| c.required).count(),
            project
                .checks
                .iter()
                .filter(|c| c.kind == config::CheckKind::Auto)
                .count()
        );
    }
    exit::OK
}

/// A report from the journal alone. The journal is read through a read-only connection; the
/// report run itself is then recorded (the next daily report starts from it).
fn report(project: &Project, kind: ReportKind, format: ReportFormat, out: Option<&Path>) -> u8 {
    use cutover_engine::report::{self, Format, Kind};
    let kind = match kind {
        ReportKind::Daily => Kind::Daily,
        ReportKind::Final => Kind::Final,
    };
    let format = match format {
        ReportFormat::Md => Format::Md,
        ReportFormat::Html => Format::Html,
        ReportFormat::Csv => Format::Csv,
    };
    if !project.state_path.exists() {
        eprintln!(
            "cutover: no journal at {} yet: nothing has run, so there is nothing to report",
            project.state_path.display()
        );
        return exit::JOURNAL;
    }
    // Bring a journal written by an older cutover up to date (columns, the reports table);
    // this changes no figure. A journal that cannot be written (a read-only copy) is read as is.
    if let Err(e) = Journal::open(&project.state_path, project.durability) {
        eprintln!("cutover: {e} (reading it as it is)");
    }
    let store = match Journal::open_read_only(&project.state_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::JOURNAL;
        }
    };
    let since = match kind {
        Kind::Daily => match store.last_report("daily") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cutover: {e}");
                return exit::JOURNAL;
            }
        },
        Kind::Final => None,
    };
    // The window ends now: what is journalled from here on belongs to the next daily report.
    let until = report::journal_now();
    let rep = match report::gather(project, &store, kind, since, &until) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::JOURNAL;
        }
    };
    drop(store);
    let text = report::render(&rep, format);
    let written = match out {
        Some(path) => std::fs::write(path, text.as_bytes())
            .and_then(|()| cutover_engine::local::make_private(path))
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            use std::io::Write;
            let mut so = std::io::stdout().lock();
            so.write_all(text.as_bytes())
                .and_then(|()| so.flush())
                .map_err(|e| format!("cannot write the report to stdout: {e}"))
        }
    };
    if let Err(e) = written {
        eprintln!("cutover: {e}");
        return exit::INTERNAL;
    }
    match open_store(project).and_then(|s| {
        s.record_report(kind.as_str(), format.as_str(), &until)
            .map_err(|e| {
                eprintln!("cutover: {e}");
                exit::JOURNAL
            })
    }) {
        Ok(()) => exit::OK,
        Err(_) => {
            eprintln!(
                "cutover: the report was written but could not be recorded in the journal; the next daily report will cover this period again"
            );
            exit::JOURNAL
        }
    }
}

fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

/// Print engine events as plain lines (rate-limited progress per folder).
async fn print_events(mut rx: mpsc::UnboundedReceiver<Event>) {
    let tty = std::io::stdout().is_terminal();
    let every = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let mut last: HashMap<(String, String), Instant> = HashMap::new();
    let mut planned: HashMap<(String, String), (u64, u64)> = HashMap::new();
    while let Some(e) = rx.recv().await {
        match e {
            Event::MailboxStarted { mailbox, batch } => {
                println!("[{mailbox}] started (batch {batch})");
            }
            Event::FolderStarted {
                mailbox,
                folder,
                dst,
                to_copy,
                bytes,
            } => {
                if to_copy > 0 {
                    println!(
                        "[{mailbox}] {folder} -> {}: {to_copy} message(s) to copy, {}",
                        cutover_engine::endpoint::imap::decode_mutf7(&dst),
                        human(bytes)
                    );
                }
                planned.insert((mailbox, folder), (to_copy, bytes));
            }
            Event::Progress {
                mailbox,
                folder,
                copied,
                bytes,
            } => {
                let k = (mailbox, folder);
                let now = Instant::now();
                if last.get(&k).is_none_or(|t| now.duration_since(*t) >= every) {
                    let (n, b) = planned.get(&k).copied().unwrap_or_default();
                    println!(
                        "[{}] {}: {copied}/{n} copied, {} of {}",
                        k.0,
                        k.1,
                        human(bytes),
                        human(b)
                    );
                    last.insert(k, now);
                }
            }
            Event::FolderDone {
                mailbox,
                folder,
                totals,
                appended,
                unchanged,
            } => {
                if unchanged {
                    println!(
                        "[{mailbox}] {folder}: unchanged ({} in journal)",
                        totals.copied
                    );
                } else {
                    println!(
                        "[{mailbox}] {folder}: done, {appended} appended now; {}/{} copied, {} skipped, {} failed",
                        totals.copied, totals.messages, totals.skipped, totals.failed
                    );
                }
            }
            Event::MailboxPlanned { .. } => {}
            Event::MailboxDone {
                mailbox,
                totals,
                error,
                ..
            } => match error {
                None => println!(
                    "[{mailbox}] finished: {}/{} messages, {} of {}; {} skipped, {} failed",
                    totals.copied,
                    totals.messages,
                    human(totals.copied_bytes),
                    human(totals.bytes),
                    totals.skipped,
                    totals.failed
                ),
                Some(err) => println!("[{mailbox}] FAILED: {err}"),
            },
            Event::RollbackProgress { .. } | Event::RollbackDone { .. } => {}
            Event::Issue {
                severity,
                category,
                mailbox,
                folder,
                uid,
                message,
            } => {
                let place = [mailbox, folder, uid.map(|u| format!("UID {u}"))]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" / ");
                eprintln!(
                    "{} [{category}] {place}: {message}",
                    severity.as_str().to_uppercase()
                );
            }
        }
    }
}

fn exit_for(results: &[MailboxResult]) -> u8 {
    let worst = |f: Failure| {
        results
            .iter()
            .any(|r| matches!(&r.failure, Some((x, _)) if *x == f))
    };
    // A mismatch outranks a stop: the brake it trips pauses the other mailboxes of its batch,
    // and the run must say data-loss incident (7), not stopped by the operator (8). A journal
    // that cannot be written (9) outranks everything else.
    if worst(Failure::Verification) {
        exit::MISMATCH
    } else if worst(Failure::Journal) {
        exit::JOURNAL
    } else if worst(Failure::Stopped) {
        exit::STOPPED
    } else if results.iter().all(|r| r.failure.is_some()) && worst(Failure::Auth) {
        exit::AUTH
    } else if results.iter().all(|r| r.failure.is_some()) && worst(Failure::Connection) {
        exit::CONNECTION
    } else if results.iter().all(MailboxResult::complete) {
        exit::OK
    } else {
        exit::PARTIAL
    }
}

async fn run(project: Project, batches: Vec<String>, override_reason: Option<String>) -> u8 {
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = match engine(project, Some(tx)) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let selected = engine.selected(&batches);
    if selected.is_empty() {
        eprintln!("cutover: no mailbox in batch(es) {}", batches.join(", "));
        return exit::CONFIG;
    }
    if let Err(code) = gate(&engine, &batches, override_reason.as_deref()) {
        return code;
    }
    let control = match control_socket(&engine).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let run_id = match begin_run(&engine.store, "run") {
        Ok(id) => id,
        Err(code) => {
            control.abort();
            return code;
        }
    };
    println!(
        "cutover: {} — {} mailbox(es); journal {}",
        engine.project.name,
        selected.len(),
        engine.project.state_path.display()
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
    let results = engine.run(&batches).await;
    let elapsed = started.elapsed();
    let appended = RunStats::get(&engine.stats.appended);
    let fetched = RunStats::get(&engine.stats.bodies_fetched);
    let fetched_bytes = RunStats::get(&engine.stats.bytes_fetched);
    // The engine (and its event sender) must go before the printer can finish.
    let store = engine.store.clone();
    control.abort();
    let _ = control.await;
    // Journal failures kept by the engine, read before it goes.
    let journal_fault = engine.sink().journal_fault();
    drop(engine);
    let _ = printer.await;
    let (mut msgs, mut bytes) = (0, 0);
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
        println!(
            "{:<40} {:>10} {:>12} {:>8} {:>7}  {result}",
            r.key,
            format!("{}/{}", r.totals.copied, r.totals.messages),
            human(r.totals.copied_bytes),
            r.totals.skipped,
            r.totals.failed
        );
    }
    println!(
        "{} message(s), {} in the journal as copied; this run took {:.1} s",
        msgs,
        human(bytes),
        elapsed.as_secs_f64()
    );
    println!(
        "this run: {appended} appended, {fetched} message bodies downloaded ({})",
        human(fetched_bytes)
    );
    let code = journal_checked(journal_fault, exit_for(&results));
    end_run(&store, run_id, code)
}

/// The checklist gate: refuse to start while a required item is unmet, unless overridden.
fn gate(engine: &Engine, batches: &[String], override_reason: Option<&str>) -> Result<(), u8> {
    let journal = |e: cutover_engine::journal::JournalError| {
        eprintln!("cutover: {e}");
        exit::JOURNAL
    };
    let blockers = cutover_engine::checklist::blockers(&engine.project, &engine.store, batches)
        .map_err(journal)?;
    if blockers.is_empty() {
        return Ok(());
    }
    match override_reason.map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            eprintln!(
                "cutover: not started: {} required checklist item(s) unmet:",
                blockers.len()
            );
            for b in &blockers {
                eprintln!("  {:<20} {:<8} {}", b.id, b.status.word(), b.reason);
            }
            eprintln!(
                "Run `cutover assess PROJECT` for the auto checks, tick manual items in the console (Checklist tab), \
                 or start anyway with --override \"REASON\" (journalled as an operator issue)."
            );
            Err(exit::GATE)
        }
        Some(reason) => {
            let msg = cutover_engine::checklist::override_items(
                &engine.store,
                &blockers,
                &operator(),
                reason,
            )
            .map_err(journal)?;
            engine.sink().issue(
                cutover_engine::engine::Severity::Warning,
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

async fn assess(project: Project, batches: Vec<String>, csv: Option<PathBuf>) -> u8 {
    // A closed pipe (`cutover assess P | head`) ends the report quietly, never a panic.
    macro_rules! out {
        ($($t:tt)*) => { println!($($t)*) };
    }
    use cutover_engine::assess::{estimate_text, human};
    let engine = match engine(project, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let run_id = match begin_run(&engine.store, "assess") {
        Ok(id) => id,
        Err(code) => return code,
    };
    let a = match cutover_engine::assess::assess(
        &engine.project,
        &engine.store,
        &engine.src,
        &engine.dst,
        &batches,
    )
    .await
    {
        Ok(a) => a,
        Err(cutover_engine::assess::AssessError::NoMailbox(b)) => {
            eprintln!("cutover: no mailbox in batch(es) {b}");
            return exit::CONFIG;
        }
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::JOURNAL;
        }
    };
    out!(
        "{:<32} {:<10} {:>7} {:>8} {:>10} {:>10} {:>8} {:>22}  login",
        "mailbox",
        "batch",
        "folders",
        "messages",
        "size",
        "largest",
        "oversize",
        "destination quota"
    );
    for m in &a.mailboxes {
        let quota = match m.quota {
            Some((u, l)) => format!("{} / {}", human(u), human(l)),
            None if m.logged_in() => "none reported".into(),
            None => "-".into(),
        };
        let login = match (&m.src_error, &m.dst_error) {
            (None, None) => "ok".to_string(),
            (s, d) => format!(
                "FAILED: {}",
                [s.as_deref(), d.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        out!(
            "{:<32} {:<10} {:>7} {:>8} {:>10} {:>10} {:>8} {:>22}  {login}",
            m.key,
            m.batch,
            m.folders.len(),
            m.messages(),
            human(m.bytes()),
            human(m.largest_size()),
            m.oversize.len(),
            quota
        );
    }
    for m in a.mailboxes.iter().filter(|m| m.logged_in()) {
        out!();
        if let Some(e) = &m.read_error {
            out!("[{}] INCOMPLETE: {e}", m.key);
        }
        out!(
            "[{}] source: {}",
            m.key,
            if m.src_caps.is_empty() {
                "-".into()
            } else {
                m.src_caps.join(" ")
            }
        );
        out!(
            "[{}] destination: {}; size limit {}",
            m.key,
            m.dst_caps.join(" "),
            m.size_limit.map_or("none".into(), human)
        );
        for f in &m.folders {
            match &f.dst {
                Some(d) => out!(
                    "  {:<32} -> {:<32} {:>7} msgs {:>10}  largest {:>10}",
                    f.folder,
                    d,
                    f.messages,
                    human(f.bytes),
                    human(f.largest)
                ),
                None => out!(
                    "  {:<32}    not copied: {} ({} msgs, {})",
                    f.folder,
                    f.why,
                    f.messages,
                    human(f.bytes)
                ),
            }
        }
        for (i, x) in m.largest.iter().enumerate() {
            out!(
                "  largest #{}: {} in {} (UID {})",
                i + 1,
                human(x.size),
                x.folder,
                x.uid
            );
        }
    }
    out!();
    out!(
        "complexity: {}",
        a.classification.complexity.word().to_uppercase()
    );
    for (f, c) in &a.classification.factors {
        out!("  {:<7} {f}", c.word());
    }
    out!();
    if a.risks.is_empty() {
        out!("risks: none found");
    } else {
        out!("risks:");
        for r in &a.risks {
            out!("  {:<8} {}", r.severity.to_uppercase(), r.message);
        }
    }
    out!();
    for e in &a.estimates {
        out!(
            "batch {}: {} mailbox(es), {} to copy; {}",
            e.batch,
            e.mailboxes,
            human(e.bytes_to_copy),
            estimate_text(e, a.throughput)
        );
    }
    if let Err(e) =
        cutover_engine::checklist::run_auto_checks(&engine.project, &engine.store, Some(&a), None)
            .await
    {
        eprintln!("cutover: {e}");
        return exit::JOURNAL;
    }
    out!();
    match cutover_engine::checklist::evaluate(&engine.project, &engine.store, &batches) {
        Ok(items) if items.is_empty() => out!(
            "checklist: none defined (no gate). Add [checklist] defaults = true or [[check]] items."
        ),
        Ok(items) => {
            out!("checklist:");
            for i in &items {
                out!(
                    "  {:<20} {:<10} {:<8} {:<6} {}",
                    i.id,
                    i.status.word(),
                    if i.required { "required" } else { "optional" },
                    i.kind.word(),
                    i.reason
                );
            }
        }
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::JOURNAL;
        }
    }
    if let Some(path) = csv {
        match cutover_engine::assess::write_csv(&path, &a) {
            Ok(()) => {
                let _ = cutover_engine::local::make_private(&path);
                out!("CSV written to {}", path.display())
            }
            Err(e) => {
                eprintln!("cutover: {e}");
                return exit::INTERNAL;
            }
        }
    }
    let failed: Vec<_> = a.mailboxes.iter().filter(|m| !m.complete()).collect();
    let code = if failed.is_empty() {
        exit::OK
    } else if failed.len() == a.mailboxes.len()
        && failed.iter().all(|m| {
            [&m.src_error, &m.dst_error]
                .iter()
                .any(|e| e.as_ref().is_some_and(|e| e.contains("refused")))
        })
    {
        exit::AUTH
    } else {
        exit::PARTIAL
    };
    end_run(&engine.store, run_id, code)
}

async fn verify(project: Project, batches: Vec<String>) -> u8 {
    let engine = match engine(project, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut tasks = Vec::new();
    for spec in engine.selected(&batches) {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            cutover_engine::verify::verify_mailbox(&engine.project, &engine.src, &engine.dst, &spec)
                .await
        }));
    }
    let mut all_ok = true;
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
            if let Err(e) = engine.store.record_verification(
                &m.key,
                &batch,
                false,
                &format!("could not complete: {e}"),
            ) {
                unrecorded.get_or_insert(e);
            }
            any_error = true;
            continue;
        }
        if let Err(e) = engine.store.record_verification(
            &m.key,
            &batch,
            m.ok(),
            &if m.ok() {
                "every source message on the destination exactly once".to_string()
            } else {
                let bad: Vec<String> = m
                    .folders
                    .iter()
                    .filter(|f| !f.ok())
                    .map(|f| {
                        format!(
                            "{}: {} missing, {} duplicated",
                            f.src_folder, f.missing, f.duplicated
                        )
                    })
                    .collect();
                format!("mismatch in {}", bad.join("; "))
            },
        ) {
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
        all_ok &= m.ok();
    }
    let code = if any_error {
        exit::CONNECTION
    } else if all_ok {
        println!("verify: every source message is on the destination exactly once");
        exit::OK
    } else {
        println!("verify: MISMATCH (see above)");
        exit::MISMATCH
    };
    match unrecorded {
        Some(e) => journal_failed(code, &format!("cannot record the verification: {e}")),
        None => code,
    }
}

async fn plan(project: Project, batches: Vec<String>) -> u8 {
    let engine = match engine(project, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut code = exit::OK;
    for spec in engine.selected(&batches) {
        println!("[{}] batch {}", spec.key(), spec.batch);
        match cutover_engine::plan::plan_mailbox(
            &engine.project,
            &engine.store,
            &engine.src,
            &engine.dst,
            &spec,
        )
        .await
        {
            Ok(folders) => {
                let (mut n, mut b, mut done) = (0, 0, 0);
                for f in folders {
                    match &f.dst {
                        Some(d) => {
                            println!(
                                "  {:<32} -> {:<32} {:>6} msgs {:>10}  copied {:>6}  ({})",
                                f.src,
                                d,
                                f.messages,
                                human(f.bytes),
                                f.copied,
                                f.why
                            );
                            n += f.messages;
                            b += f.bytes;
                            done += f.copied;
                        }
                        None => println!("  {:<32}    not copied: {}", f.src, f.why),
                    }
                }
                println!(
                    "  total {n} message(s), {}; {} already copied, {} to copy",
                    human(b),
                    done,
                    n.saturating_sub(done)
                );
            }
            Err(e) if e.is_journal() => {
                println!("  ERROR: {e}");
                code = exit::JOURNAL;
            }
            Err(e) => {
                println!("  ERROR: {e}");
                if code != exit::JOURNAL {
                    code = exit::CONNECTION;
                }
            }
        }
    }
    code
}
