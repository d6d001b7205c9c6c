//! What the commands set up: the journal, the engine, the control socket (which doubles as the
//! lock: one engine per project), and who the operator is.

use std::sync::Arc;

use tokio::sync::mpsc;

use cutover_engine::config::Project;
use cutover_engine::engine::Engine;
use cutover_engine::events::Event;
use cutover_engine::journal::Journal;

use crate::error::{Error, Result};

pub fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".into())
}

/// Take the project's control socket (`cutover stop` reaches the engine through it); refuses
/// when another engine already runs this project.
pub async fn control_socket(engine: &Arc<Engine>) -> Result<tokio::task::JoinHandle<()>> {
    let l = cutover_engine::engine::remote::bind(&engine.project.state_path)
        .await
        .map_err(Error::AlreadyRunning)?;
    Ok(cutover_engine::engine::remote::serve(l, engine.clone()))
}

pub fn open_store(project: &Project) -> Result<Journal> {
    Ok(Journal::open_project(project)?)
}

/// A migration's re-run (`cutover run`, the console) mirrors what users did on the source
/// since the last pass where both sides speak IMAP: flag changes carried, a moved message
/// moved on the destination (never copied a second time), deletions reported (see
/// docs/procedures/coexistence.md). Elsewhere a re-run copies new mail only.
pub fn mirror_on_rerun(engine: &Engine) {
    let imap =
        |e: &cutover_engine::config::Endpoint| e.kind == cutover_engine::config::EndpointKind::Imap;
    engine.set_delta(imap(&engine.project.source) && imap(&engine.project.destination));
}

pub fn engine(
    project: Project,
    events: Option<mpsc::UnboundedSender<Event>>,
) -> Result<Arc<Engine>> {
    let store = open_store(&project)?;
    Ok(Arc::new(Engine::new(project, store, events)?))
}
