//! Why a command ended early. A handler returns `Result<ExitCode, Error>`: `Ok` with the code its
//! outcome earned (complete, partial, mismatch, stopped, ...), or with `?` one of these errors.
//! [`Error::exit_code`] is the one place an error's exit code is chosen, and `main` says the
//! error once, through [`Error::report`].
//!
//! The engine's error types are named here only: handlers do not match on them.

use std::path::PathBuf;

use cutover::ui::theme::ThemeError;
use cutover_engine::assess::AssessError;
use cutover_engine::backup::BackupError;
use cutover_engine::config::ConfigError;
use cutover_engine::endpoint::EndpointError;
use cutover_engine::engine::remote::RemoteError;
use cutover_engine::failback::FailbackError;
use cutover_engine::journal::JournalError;
use cutover_engine::report::ReportError;

use crate::exit::ExitCode;

/// What a handler returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project file or its mailbox CSV does not load (the message names file, line and
    /// column).
    #[error(transparent)]
    Project(#[from] ConfigError),
    /// The command names what the project does not define (a batch, a mailbox), or asks for
    /// what it does not configure (a device-code sign-in).
    #[error("{0}")]
    NotInProject(String),
    /// An endpoint of the project cannot be set up (its TLS roots, its OAuth2 credential).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The console theme asked for does not load.
    #[error(transparent)]
    Theme(#[from] ThemeError),
    /// The command line asks for what cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// The journal cannot be opened, read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// `cutover watch` without a journal to read.
    #[error("{0} (is the project started? `cutover watch` only reads an existing journal)")]
    NotStarted(#[source] JournalError),
    /// The run's start could not be recorded in the journal (the `runs` table).
    #[error("cannot record the start of this run: {0}")]
    RunNotRecorded(#[source] JournalError),
    /// `cutover report` before anything ran.
    #[error("no journal at {} yet: nothing has run, so there is nothing to report", .0.display())]
    NothingToReport(PathBuf),
    /// The report's figures could not be read from the journal.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The report went out, but the journal could not record it: two lines.
    #[error(
        "{0}\ncutover: the report was written but could not be recorded in the journal; the next daily report will cover this period again"
    )]
    ReportNotRecorded(#[source] JournalError),
    /// Another engine holds the project's control socket.
    #[error(transparent)]
    AlreadyRunning(RemoteError),
    /// `cutover stop`: the control socket refused this user.
    #[error(transparent)]
    StopRefused(RemoteError),
    /// `cutover stop`: no engine answers.
    #[error("{0}; nothing to stop")]
    NothingToStop(RemoteError),
    /// `cutover login`: the sign-in failed.
    #[error(transparent)]
    SignIn(EndpointError),
    /// The fail-back engine (the project reversed) cannot be set up.
    #[error(transparent)]
    FailbackSetup(FailbackError),
    /// The fail-back could not be planned (a server, or the journal).
    #[error(transparent)]
    FailbackPlan(FailbackError),
    /// A backup, its verification or a restore could not be set up or run.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// The assessment could not be journalled, or its CSV written.
    #[error(transparent)]
    Assess(#[from] AssessError),
    /// `cutover watch`: the terminal failed.
    #[error("the terminal failed: {0}")]
    Terminal(#[source] std::io::Error),
    /// Anything else that should not happen (the async runtime, writing the report).
    #[error("{0}")]
    Internal(String),
    /// SIGINT, SIGTERM or SIGHUP ended a command that writes no mail.
    #[error("{0}: stopped")]
    Interrupted(&'static str),
    /// The operator did not type the confirmation (said on stdout).
    #[error("not confirmed; nothing changed")]
    NotConfirmed,
    /// Not started: required checklist items are unmet (one line each, listed on stderr).
    #[error(
        "not started: {} required checklist item(s) unmet:\n{}\nRun `cutover assess PROJECT` for the auto checks, tick manual items in the console (Checklist tab), \
         or start anyway with --override \"REASON\" (journalled as an operator issue).",
        .0.len(),
        .0.join("\n")
    )]
    ChecklistUnmet(Vec<String>),
    /// `cutover finalize`: the DNS does not send mail to the destination yet.
    #[error(
        "not finalized: {0}\nChange the DNS and run finalize again (the report above says when a change will have propagated), \
         or go on anyway with --force-dns \"REASON\" (journalled as an operator issue)."
    )]
    DnsNotReady(String),
}

impl Error {
    /// The exit code this error ends the command with (docs/guide/commands.md).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Internal(_) | Error::Terminal(_) => ExitCode::Internal,
            Error::Assess(AssessError::Csv { .. }) => ExitCode::Internal,
            Error::Assess(AssessError::NoMailbox(_)) => ExitCode::Config,
            Error::Assess(_) => ExitCode::Journal,
            Error::Backup(BackupError::NoSpace { .. }) => ExitCode::NoSpace,
            Error::Backup(e) if e.is_journal() => ExitCode::Journal,
            Error::Backup(e) if e.is_config() => ExitCode::Config,
            Error::Backup(BackupError::Dir { .. }) => ExitCode::Internal,
            Error::Backup(_) => ExitCode::Connection,
            Error::Usage(_) => ExitCode::Usage,
            Error::Project(_)
            | Error::NotInProject(_)
            | Error::Endpoint(_)
            | Error::Theme(_)
            | Error::FailbackSetup(_) => ExitCode::Config,
            Error::StopRefused(_) | Error::SignIn(_) => ExitCode::Auth,
            Error::NothingToStop(_) => ExitCode::Connection,
            Error::FailbackPlan(e) if !e.is_journal() => ExitCode::Connection,
            Error::Interrupted(_) | Error::NotConfirmed => ExitCode::Stopped,
            Error::Journal(_)
            | Error::NotStarted(_)
            | Error::RunNotRecorded(_)
            | Error::NothingToReport(_)
            | Error::Report(_)
            | Error::ReportNotRecorded(_)
            | Error::FailbackPlan(_) => ExitCode::Journal,
            Error::AlreadyRunning(_) => ExitCode::AlreadyRunning,
            Error::ChecklistUnmet(_) | Error::DnsNotReady(_) => ExitCode::ChecklistUnmet,
        }
    }

    /// Say the error (`cutover: ...` on stderr; a declined confirmation on stdout, where its
    /// prompt was) and give its exit code.
    pub fn report(&self) -> ExitCode {
        match self {
            Error::NotConfirmed => println!("cutover: {self}"),
            _ => eprintln!("cutover: {self}"),
        }
        self.exit_code()
    }
}
