//! `cutover stop`: the emergency stop, through the control socket of the engine running the
//! project.

use cutover_engine::config::Project;

use super::setup::operator;
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
        Err(e @ cutover_engine::engine::remote::RemoteError::Refused { .. }) => {
            Err(Error::StopRefused(e))
        }
        Err(e) => Err(Error::NothingToStop(e)),
    }
}
