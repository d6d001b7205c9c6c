//! The typed confirmation of a destructive or source-writing action.

use std::io::IsTerminal;

use crate::error::{Error, Result};

/// Ask the operator to type `expected` (a destructive or source-writing action): refused
/// without a terminal (exit 2, `--yes` is the scripted way), anything else typed cancels, and
/// so does `stop` (a signal) while waiting.
pub async fn confirm_typed(
    expected: &str,
    why: &str,
    what: &str,
    stop: &cutover_engine::engine::StopFlag,
) -> Result<()> {
    use std::io::Write as _;
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{why}: run it in a terminal to confirm, or pass --yes"
        )));
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
        return Err(Error::NotConfirmed);
    }
    Ok(())
}
