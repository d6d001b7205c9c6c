//! `cutover report`: a daily or final report from the journal alone.

use std::path::Path;

use cutover_engine::config::Project;
use cutover_engine::journal::Journal;

use crate::cli::{ReportFormat, ReportKind};
use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// A report from the journal alone. The journal is read through a read-only connection; the
/// report run itself is then recorded (the next daily report starts from it).
pub fn report(
    project: &Project,
    kind: ReportKind,
    format: ReportFormat,
    out: Option<&Path>,
) -> Result<ExitCode> {
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
    if project.postgres.is_none() && !project.state_path.exists() {
        return Err(Error::NothingToReport(project.state_path.clone()));
    }
    // Bring a journal written by an older cutover up to date (columns, the reports table);
    // this changes no figure. A journal that cannot be written (a read-only copy) is read as is.
    if let Err(e) = Journal::open_project(project) {
        eprintln!("cutover: {e} (reading it as it is)");
    }
    let store = Journal::open_project_read_only(project)?;
    let since = match kind {
        Kind::Daily => store.last_report("daily")?,
        Kind::Final => None,
    };
    // The window ends now: what is journalled from here on belongs to the next daily report.
    let until = report::journal_now();
    let rep = report::gather(project, &store, kind, since, &until)?;
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
    written.map_err(Error::Internal)?;
    Journal::open_project(project)
        .and_then(|s| s.record_report(kind.as_str(), format.as_str(), &until))
        .map_err(Error::ReportNotRecorded)?;
    Ok(ExitCode::Success)
}
