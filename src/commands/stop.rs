//! `cutover stop`: the emergency stop, through the control socket of the engine running the
//! project, or with a PostgreSQL journal of every engine of the fleet (a fleet command:
//! journalled, NOTIFY; see engine/src/engine/fleet.rs).

use cutover_engine::config::Project;
use cutover_engine::engine::remote::RemoteError;

use super::setup::{open_store, operator};
use crate::error::{Error, Result};
use crate::exit::ExitCode;

pub async fn stop(project: &Project, batch: Option<&str>) -> Result<ExitCode> {
    if let Some(b) = batch
        && !project.mailboxes.iter().any(|m| m.batch == b)
    {
        return Err(Error::NotInProject(format!(
            "no batch \"{b}\" in {}; nothing stopped",
            project.file.display()
        )));
    }
    if project.postgres.is_some() {
        return fleet_stop(project, batch);
    }
    match cutover_engine::engine::remote::request_stop(&project.state_path, &operator(), batch)
        .await
    {
        Ok(reply) => {
            let text = reply.strip_prefix("ok ").unwrap_or(&reply);
            println!("cutover: {text}");
            if reply.starts_with("ok") {
                Ok(ExitCode::Success)
            } else {
                Ok(ExitCode::Internal)
            }
        }
        Err(e @ RemoteError::Refused { .. }) => Err(Error::StopRefused(e)),
        Err(e) => Err(Error::NothingToStop(e)),
    }
}

/// The stop as a fleet command: every engine listening on the journal's channel halts its
/// writes as it hears it (within milliseconds of this command's commit); one that is
/// reconnecting reads it when it listens again.
fn fleet_stop(project: &Project, batch: Option<&str>) -> Result<ExitCode> {
    let store = open_store(project)?;
    let by = operator();
    let (id, listening) =
        cutover_engine::engine::fleet::stop_fleet(&store, &project.name, batch, &by)?;
    if listening == 0 {
        return Err(Error::NothingToStop(RemoteError::NoListener {
            journal: project.journal_name(),
            id,
        }));
    }
    let scope = match batch {
        Some(b) => format!("batch {b}"),
        None => "all batches".to_string(),
    };
    println!(
        "cutover: emergency stop of {scope} by {by} sent to the fleet (fleet command #{id}): {listening} engine(s) listening on {} halt their writes; the journal stays consistent; start again to resume.",
        project.journal_name()
    );
    Ok(ExitCode::Success)
}
