//! The log: `tracing` records to daily files in the project's `log_dir`, never to the terminal.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

/// The log writer's guard, reachable from the stop backstop, which leaves with
/// `std::process::exit` (no destructor runs) and must write the log out first.
pub fn log_guard() -> std::sync::MutexGuard<'static, Option<WorkerGuard>> {
    static GUARD: std::sync::Mutex<Option<WorkerGuard>> = std::sync::Mutex::new(None);
    GUARD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Write out what the non-blocking log writer still holds (dropping its guard waits for
/// it); later log records are dropped.
pub fn flush_log() {
    let guard = log_guard().take();
    drop(guard);
}

/// Today's log file in `dir` (a new file each day, named by the UTC date).
pub fn log_file(dir: &Path) -> std::path::PathBuf {
    dir.join(format!(
        "cutover.{}.log",
        chrono::Utc::now().format("%Y-%m-%d")
    ))
}

/// Set up the log in `dir`; the reason when it cannot be (then nothing is logged, and the
/// caller says so on stderr).
pub fn init_logging(dir: &Path, json: bool) -> Result<WorkerGuard, String> {
    use tracing_subscriber::EnvFilter;
    cutover_engine::local::create_private_dir_all(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("cutover")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))?;
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
    r.map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(guard)
}
