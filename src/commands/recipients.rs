//! `cutover recipients`: the shared/resource mailboxes, lists and groups of `[recipients]`,
//! journalled; the plan of what the destination needs, or (`--script FILE`) the Exchange Online
//! PowerShell 7 script that creates it.

use std::path::Path;

use cutover_engine::config::{EndpointKind, Preset, Project};
use cutover_engine::journal::Journal;
use cutover_engine::recipients::{journal_recipients, plan_text, script, steps};

use crate::error::{Error, Result};
use crate::exit::ExitCode;

pub fn recipients(project: &Project, script_path: Option<&Path>) -> Result<ExitCode> {
    let Some(file) = &project.recipients.file else {
        return Err(Error::NotInProject(
            "the project lists no recipients: add [recipients] csv = \"FILE\" (see docs/procedures/shared-mailboxes.md)"
                .into(),
        ));
    };
    let store = Journal::open_project(project)?;
    journal_recipients(project, &store)?;
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let d = &project.destination;
    let microsoft =
        d.kind == EndpointKind::Graph || matches!(d.preset, Preset::M365 | Preset::Exchange);
    if !microsoft {
        eprintln!(
            "cutover: note: the destination is not Microsoft 365 / Exchange; the script is for Exchange Online (creating Google groups through the Directory API is not supported yet)"
        );
    }
    let list = &project.recipients.list;
    match script_path {
        None => print!(
            "{}",
            cutover_engine::safe_text::terminal_owned(plan_text(&name, list))
        ),
        Some(path) => {
            let text = script(&project.name, &name, list);
            std::fs::write(path, text.as_bytes())
                .and_then(|()| cutover_engine::local::make_private(path))
                .map_err(|e| {
                    Error::Internal(format!("cannot write the script {}: {e}", path.display()))
                })?;
            println!(
                "script written to {}: {} recipient(s), {} step(s); run it with pwsh after Connect-ExchangeOnline, then `cutover checklist {} --tick recipients`",
                path.display(),
                list.len(),
                steps(list).len(),
                project.file.display()
            );
        }
    }
    Ok(ExitCode::Success)
}
