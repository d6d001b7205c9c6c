//! The journal's part in every command's exit code: the run recorded at its start and end, and
//! journal failures kept by the engine accounted for (exit 9).

use cutover_engine::journal::Journal;

use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// The exit code once a journal write that failed is accounted for: the failure said on
/// stderr, and 9, which only a verification mismatch (7, a data-loss incident) outranks.
pub fn journal_failed(code: ExitCode, what: &str) -> ExitCode {
    eprintln!("cutover: {what}");
    if code == ExitCode::Mismatch {
        code
    } else {
        ExitCode::Journal
    }
}

/// The exit code once the journal failures the engine kept (where they could not be
/// returned: an issue, a console command, a detached task) are accounted for.
pub fn journal_checked(fault: Option<String>, code: ExitCode) -> ExitCode {
    match fault {
        Some(e) => journal_failed(
            code,
            &format!("the state journal could not be written: {e}"),
        ),
        None => code,
    }
}

/// Record that a command ends (the `runs` table); a failure makes the exit code 9.
pub fn end_run(store: &Journal, run: i64, code: ExitCode) -> ExitCode {
    match store.end_run(run, &format!("exit {}", code.code())) {
        Ok(()) => code,
        Err(e) => journal_failed(code, &format!("cannot record the end of this run: {e}")),
    }
}

/// Record that a command starts (the `runs` table); a failure ends it with exit 9.
pub fn begin_run(store: &Journal, command: &str) -> Result<i64> {
    store
        .begin_run(command, cutover::VERSION)
        .map_err(Error::RunNotRecorded)
}
