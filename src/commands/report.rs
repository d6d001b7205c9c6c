//! `cutover report`: a daily, weekly or final report from the journal alone, or
//! (`--note`) the operator's lessons learned or recommendations, journalled.

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
        ReportKind::Weekly => Kind::Weekly,
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
        Kind::Final | Kind::Weekly => None,
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

/// `cutover report PROJECT --note SECTION TEXT`: journal the operator's note (lessons or
/// recommendations) with who wrote it and when; the weekly and final reports show the newest.
pub fn report_note(project: &Project, note: &[String]) -> Result<ExitCode> {
    let [section, text] = note else {
        return Err(Error::Usage("--note takes SECTION and TEXT".into()));
    };
    let sections = cutover_engine::report::NOTE_SECTIONS;
    if !sections.contains(&section.as_str()) {
        return Err(Error::Usage(format!(
            "--note {section:?}: the section is one of {}",
            sections.join(", ")
        )));
    }
    let text = if text == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Error::Usage(format!("cannot read the note from stdin: {e}")))?;
        s
    } else {
        text.clone()
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Usage(format!("--note {section}: the note is empty")));
    }
    if !project.state_path.exists() {
        return Err(Error::NothingToReport(project.state_path.clone()));
    }
    let who = super::setup::operator();
    Journal::open_project(project)?.record_note(section, text, &who)?;
    println!(
        "cutover: {section} note journalled ({} line(s), by {})",
        text.lines().count(),
        cutover_engine::safe_text::terminal(&who)
    );
    Ok(ExitCode::Success)
}
