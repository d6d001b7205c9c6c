//! The `cutover` command line.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio::sync::mpsc;

use cutover::config::{self, Project};
use cutover::engine::{Engine, Event, Failure, MailboxResult, RunStats};
use cutover::store::Store;

/// Exit codes, documented in the README.
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
    /// Emergency stop of the engine running this project (console or `cutover run`), from
    /// any shell: every write halts within a second; the journal stays consistent.
    Stop {
        project: PathBuf,
        /// Stop only this batch.
        #[arg(long)]
        batch: Option<String>,
    },
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
        | Cmd::Verify { project, .. }
        | Cmd::Plan { project, .. }
        | Cmd::Tui { project, .. }
        | Cmd::Watch { project }
        | Cmd::Check { project }
        | Cmd::Stop { project, .. }
        | Cmd::Rollback { project, .. } => project.clone(),
    };
    let project = match config::load(&project_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cutover: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let _guard = init_logging(&project.log_dir, cli.log_json);
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
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let theme = cli.theme;
    let code = rt.block_on(async move {
        match cmd {
            Cmd::Tui { start, .. } => console(project, theme, start).await,
            Cmd::Watch { .. } => watch(project, theme).await,
            Cmd::Check { .. } => check(&project),
            Cmd::Stop { batch, .. } => stop(&project, batch.as_deref()).await,
            Cmd::Rollback {
                batch,
                mailbox,
                dry_run,
                yes,
                ..
            } => rollback(project, batch, mailbox, dry_run, yes).await,
            Cmd::Run { batches, .. } => run(project, batches).await,
            Cmd::Verify { batches, .. } => verify(project, batches).await,
            Cmd::Plan { batches, .. } => plan(project, batches).await,
        }
    });
    ExitCode::from(code)
}

fn init_logging(dir: &Path, json: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    std::fs::create_dir_all(dir).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("cutover")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)
        .ok()?;
    let (w, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("CUTOVER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
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
    let handle = match cutover::engine::control::spawn(project, store) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cutover: {e}");
            return exit::CONFIG;
        }
    };
    let control = match control_socket(&handle.engine).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if start {
        handle.send(cutover::engine::control::Command::Start { batch: None });
    }
    let outcome =
        match cutover::ui::run(handle.snapshots.clone(), Some(&handle), theme, operator()).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("cutover: the terminal failed: {e}");
                handle.send(cutover::engine::control::Command::Pause { batch: None });
                cutover::ui::Outcome::HungUp
            }
        };
    let engine = handle.engine.clone();
    match outcome {
        cutover::ui::Outcome::Quit => {}
        cutover::ui::Outcome::Detached => {
            println!(
                "cutover: detached from the console; migrating headless until done (Ctrl-C pauses)"
            );
            let stop = engine.stop_flag();
            let e2 = engine.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    println!("cutover: interrupt: pausing every batch");
                    for b in e2.project.mailboxes.iter().map(|m| m.batch.clone()) {
                        e2.pause_batch(&b);
                    }
                    let _ = stop;
                }
            });
            let mut last = String::new();
            while engine.running_count() > 0 {
                tokio::time::sleep(Duration::from_secs(2)).await;
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
            println!("cutover: done");
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
    exit::OK
}

async fn watch(project: Project, theme: Option<String>) -> u8 {
    let theme = match console_theme(theme.as_deref().or(project.theme.as_deref())) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let store = match Store::open_read_only(&project.state_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "cutover: {e} (is the project started? `cutover watch` only reads an existing journal)"
            );
            return exit::JOURNAL;
        }
    };
    let snaps = cutover::engine::control::watch_journal(project, store);
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
    match cutover::engine::remote::bind(&engine.project.state_path).await {
        Ok(l) => Ok(cutover::engine::remote::serve(l, engine.clone())),
        Err(e) => {
            eprintln!("cutover: {e}");
            Err(exit::BUSY)
        }
    }
}

async fn stop(project: &Project, batch: Option<&str>) -> u8 {
    match cutover::engine::remote::request_stop(&project.state_path, &operator(), batch).await {
        Ok(reply) => {
            let text = reply.strip_prefix("ok ").unwrap_or(&reply);
            println!("cutover: {text}");
            if reply.starts_with("ok") {
                exit::OK
            } else {
                exit::INTERNAL
            }
        }
        Err(e) => {
            eprintln!("cutover: {e}; nothing to stop");
            exit::CONNECTION
        }
    }
}

async fn rollback(
    project: Project,
    batch: Option<String>,
    mailbox: Option<String>,
    dry_run: bool,
    yes: bool,
) -> u8 {
    use std::io::Write as _;
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
    let plan = match cutover::rollback::plan(&engine.store, &specs) {
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
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "cutover: rollback needs a confirmation: run it in a terminal, or pass --yes"
            );
            return exit::USAGE;
        }
        print!("Type {target:?} to remove these messages from the destination: ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_err() || line.trim() != target {
            println!("cutover: not confirmed; nothing changed");
            return exit::STOPPED;
        }
    }
    // The control socket doubles as the lock: no engine may write while we remove.
    let control = match control_socket(&engine).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let run_id = engine.store.begin_run("rollback").ok();
    let who = operator();
    let mut code = exit::OK;
    for spec in &specs {
        let o = cutover::rollback::rollback_mailbox(
            &engine.dst,
            &engine.store,
            engine.sink(),
            spec,
            &who,
        )
        .await;
        match &o.error {
            None => println!(
                "[{}] rolled back: {} removed, {} already gone, {} left alone (content differs), {} folder(s) deleted, {} kept",
                o.key, o.removed, o.already_gone, o.mismatched, o.folders_deleted, o.folders_kept
            ),
            Some(e) => {
                println!("[{}] INTERRUPTED after {} removed: {e}", o.key, o.removed);
                code = exit::PARTIAL;
            }
        }
        if o.mismatched > 0 && code == exit::OK {
            code = exit::MISMATCH;
        }
    }
    if let Some(id) = run_id {
        let _ = engine.store.end_run(id, &format!("exit {code}"));
    }
    control.abort();
    let _ = control.await;
    code
}

fn open_store(project: &Project) -> Result<Store, u8> {
    Store::open(&project.state_path, project.durability).map_err(|e| {
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

fn check(project: &Project) -> u8 {
    println!("project  {}", project.name);
    println!("journal  {}", project.state_path.display());
    for (side, e) in [
        ("source", &project.source),
        ("destination", &project.destination),
    ] {
        println!(
            "{side:<11} {:?} {}:{} security={:?} preset={:?} max_connections={}",
            e.kind, e.host, e.port, e.security, e.preset, e.max_connections
        );
    }
    let mut batches: Vec<&str> = project.mailboxes.iter().map(|m| m.batch.as_str()).collect();
    batches.sort();
    batches.dedup();
    println!(
        "mailboxes {} in batches {}",
        project.mailboxes.len(),
        batches.join(", ")
    );
    exit::OK
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
                        cutover::endpoint::imap::decode_mutf7(&dst),
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
    // and the run must say data-loss incident (7), not stopped by the operator (8).
    if worst(Failure::Verification) {
        exit::MISMATCH
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

async fn run(project: Project, batches: Vec<String>) -> u8 {
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
    let control = match control_socket(&engine).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let run_id = engine.store.begin_run("run").ok();
    println!(
        "cutover: {} — {} mailbox(es); journal {}",
        engine.project.name,
        selected.len(),
        engine.project.state_path.display()
    );
    let printer = tokio::spawn(print_events(rx));
    let stop = engine.stop_flag();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "cutover: interrupt: stopping all writes (the journal stays consistent; run again to resume)"
            );
            stop.stop();
        }
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
    let code = exit_for(&results);
    if let Some(id) = run_id {
        let _ = store.end_run(id, &format!("exit {code}"));
    }
    code
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
            cutover::verify::verify_mailbox(&engine.project, &engine.src, &engine.dst, &spec).await
        }));
    }
    let mut all_ok = true;
    let mut any_error = false;
    for t in tasks {
        let Ok(m) = t.await else {
            any_error = true;
            continue;
        };
        println!("[{}]", m.key);
        if let Some(e) = &m.error {
            println!("  ERROR: {e}");
            any_error = true;
            continue;
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
    if any_error {
        exit::CONNECTION
    } else if all_ok {
        println!("verify: every source message is on the destination exactly once");
        exit::OK
    } else {
        println!("verify: MISMATCH (see above)");
        exit::MISMATCH
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
        match cutover::plan::plan_mailbox(
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
            Err(e) => {
                println!("  ERROR: {e}");
                code = exit::CONNECTION;
            }
        }
    }
    code
}
