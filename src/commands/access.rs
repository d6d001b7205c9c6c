//! `cutover access`: can each destination mailbox receive what will be copied? One line per
//! mailbox, read-only unless `--probe`; journalled for the checklist's `access` item.

use cutover_engine::access::{AccessError, Readiness, check};
use cutover_engine::config::Project;
use cutover_engine::journal::Journal;
use cutover_engine::safe_text::terminal_owned;

use crate::error::{Error, Result};
use crate::exit::ExitCode;

pub async fn access(project: Project, batches: Vec<String>, probe: bool) -> Result<ExitCode> {
    let store = Journal::open_project(&project)?;
    let results = match check(&project, &store, &batches, probe).await {
        Ok(r) => r,
        Err(AccessError::Endpoint(e)) => return Err(e.into()),
        Err(AccessError::Journal(e)) => return Err(e.into()),
        Err(AccessError::Selection(m)) => return Err(Error::NotInProject(m)),
    };
    println!("{:<40} {:<16} detail", "mailbox", "readiness");
    for r in &results {
        println!(
            "{:<40} {:<16} {}",
            terminal_owned(r.key.clone()),
            r.readiness.word(),
            terminal_owned(r.detail.clone())
        );
    }
    let ready = results
        .iter()
        .filter(|r| r.readiness == Readiness::Ready)
        .count();
    let unreachable = results
        .iter()
        .filter(|r| r.readiness == Readiness::Unreachable)
        .count();
    let pct = 100.0 * (results.len() - ready) as f64 / results.len() as f64;
    println!(
        "{ready} of {} mailbox(es) ready; {pct:.1}% with an access issue{} (the check cannot see a user's own sign-in with MFA, nor their mail clients)",
        results.len(),
        if probe { "; probed" } else { "" }
    );
    Ok(if ready == results.len() {
        ExitCode::Success
    } else if unreachable == results.len() {
        ExitCode::Connection
    } else {
        ExitCode::Partial
    })
}
