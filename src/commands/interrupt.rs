//! SIGINT, SIGTERM and SIGHUP in the commands: a writing command stops its writes (with a
//! backstop), a command that writes no mail ends at once.

use std::time::Duration;

use cutover_engine::engine::Engine;

use crate::error::{Error, Result};
use crate::exit::ExitCode;
use crate::logging::flush_log;
use crate::signals;

/// How long a command may take to end after SIGINT, SIGTERM or SIGHUP stopped its writes
/// before the process leaves anyway (exit 8).
pub const STOP_BACKSTOP: Duration = Duration::from_millis(1500);

/// On the first SIGINT (Ctrl-C), SIGTERM or SIGHUP: `act` (stop the writes); the command then
/// ends by itself within a second with the journal consistent. Should it still run after
/// [`STOP_BACKSTOP`], the process exits 8 anyway: the journal survives that as it survives a
/// crash, and what was in flight is resolved at the next start.
pub fn on_interrupt(act: impl FnOnce(&'static str) + Send + 'static) {
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
        std::process::exit(ExitCode::Stopped.code().into());
    });
}

/// A command that writes no mail (plan, verify, assess, login): SIGINT, SIGTERM or SIGHUP
/// ends it at once, exit 8 (the journal is only written synchronously, never left half-done).
pub async fn until_interrupted(
    work: impl std::future::Future<Output = Result<ExitCode>>,
) -> Result<ExitCode> {
    let mut signals = match signals::Interrupts::new() {
        Ok(s) => s,
        Err(_) => return work.await,
    };
    tokio::select! {
        code = work => code,
        sig = signals.recv() => Err(Error::Interrupted(sig)),
    }
}

/// Stop a writing command's engine on SIGINT, SIGTERM or SIGHUP (see [`on_interrupt`]).
pub fn stop_on_interrupt(engine: &Engine) {
    let stop = engine.stop_flag();
    on_interrupt(move |sig| {
        eprintln!("cutover: {sig}: stopping (the journal stays consistent; run again to resume)");
        stop.stop();
    });
}
