//! The exit codes, one variant per code documented in docs/guide/commands.md ("Exit codes").
//! The numbers are part of the interface (scripts and the tests read them): they must not change.

/// How a command ended, as its exit code. Converted to the process's exit code once, in `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// 0: every selected mailbox completed (every message copied) / verify: all present exactly
    /// once.
    Success = 0,
    /// 1: an internal error.
    Internal = 1,
    /// 2: a command-line usage error.
    Usage = 2,
    /// 3: a project file or CSV error, or something the project does not define.
    Config = 3,
    /// 4: an authentication failure (every selected mailbox failed to log in), or the control
    /// socket refused this user.
    Auth = 4,
    /// 5: a connection failure (nothing reachable), or verify could not complete.
    Connection = 5,
    /// 6: partial completion: some mailbox failed, or messages were skipped with recorded
    /// reasons.
    Partial = 6,
    /// 7: a verification mismatch (a message missing, altered or duplicated on the
    /// destination), or a rollback found a UID holding other content.
    Mismatch = 7,
    /// 8: stopped by the operator (`cutover stop`, Ctrl-C, SIGTERM or SIGHUP).
    Stopped = 8,
    /// 9: the state journal cannot be opened or written.
    Journal = 9,
    /// 10: another cutover (console or run) is already running this project.
    AlreadyRunning = 10,
    /// 11: not started: a required checklist item is unmet.
    ChecklistUnmet = 11,
    /// 12: not started: not enough free space for the backup (`cutover backup`).
    NoSpace = 12,
}

impl ExitCode {
    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}
