//! The fleet's stop and pause (issue 20 item 3): with a PostgreSQL journal, every engine
//! working it follows the fleet commands (`journal::fleet`): a stop from `cutover stop` or
//! any console, on any machine, trips this engine's emergency stop (the path of the control
//! socket's stop), a pause pauses its batches. Heard through the journal's listener
//! (`journal::listen`, LISTEN/NOTIFY on a connection of its own); after a lost connection
//! the commands issued meanwhile are read from the journal, so none is missed. Commands
//! issued before this engine started are not applied: starting is resuming, as with one
//! engine (docs/procedures/emergency-stop.md).

use std::collections::HashSet;
use std::sync::Arc;

use super::state::Engine;
use crate::events::Severity;
use crate::journal::{FleetCommand, FleetSignal, Journal, JournalError, fleet_channel, listen};

/// This machine's name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// This process as the origin of a fleet command (host:pid).
pub fn origin() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// Issue a fleet command (`stop`, `pause`) for every engine on the project's PostgreSQL
/// journal: journalled and notified. None with a SQLite journal (one engine: nothing to tell).
pub fn broadcast(
    engine: &Engine,
    kind: &str,
    batch: Option<&str>,
    by: &str,
) -> Option<Result<FleetCommand, JournalError>> {
    if !engine.store.is_postgres() {
        return None;
    }
    let channel = fleet_channel(&engine.project.name);
    let sent = engine
        .store
        .issue_fleet_command(&channel, kind, batch, by, &origin());
    if let Err(e) = &sent {
        engine.sink().issue(
            Severity::Critical,
            "operator",
            None,
            None,
            None,
            &format!(
                "the {kind} could not be sent to the other engines of the fleet: {e}; stop them with `cutover stop` from a shell"
            ),
        );
    }
    Some(sent)
}

/// `cutover stop` on a PostgreSQL journal: issue a stop for every engine of the project (its
/// number), and how many engines listen now.
pub fn stop_fleet(
    store: &Journal,
    project: &str,
    batch: Option<&str>,
    by: &str,
) -> Result<(i64, i64), JournalError> {
    let cmd = store.issue_fleet_command(&fleet_channel(project), "stop", batch, by, &origin())?;
    let listening = store.fleet_listeners()?.unwrap_or(0);
    Ok((cmd.id, listening))
}

/// [`follow`] on a thread of its own until the returned guard is dropped. A stop is then
/// applied as soon as it is heard, however busy the engine's runtime is (its workers call the
/// journal synchronously: on a loaded machine a task could wait there for a few hundred
/// milliseconds, and a stop must take effect within a second). Where no thread or runtime can
/// be had, it is followed on the engine's runtime as a task, and said. Call it within a Tokio
/// runtime.
pub fn follow_apart(engine: Arc<Engine>) -> Following {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let apart = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))
        .and_then(|rt| {
            let engine = engine.clone();
            std::thread::Builder::new()
                .name("fleet-follow".into())
                .spawn(move || {
                    rt.block_on(async move {
                        tokio::select! {
                            () = follow(engine) => {}
                            _ = rx => {}
                        }
                    })
                })
                .map_err(|e| format!("no thread: {e}"))
        });
    match apart {
        Ok(thread) => Following {
            end: Some(tx),
            thread: Some(thread),
            task: None,
        },
        Err(why) => {
            let msg = format!(
                "fleet commands are followed on the engine's own runtime ({why}): under load a stop from another machine may take longer to apply"
            );
            tracing::warn!("{msg}");
            engine
                .sink()
                .issue(Severity::Warning, "operator", None, None, None, &msg);
            Following {
                end: None,
                thread: None,
                task: Some(tokio::spawn(follow(engine)).abort_handle()),
            }
        }
    }
}

/// Ends what [`follow_apart`] started when dropped, and waits for its thread: once dropped,
/// nothing of it acts on the engine or its journal any more.
pub struct Following {
    end: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    task: Option<tokio::task::AbortHandle>,
}

impl Drop for Following {
    fn drop(&mut self) {
        drop(self.end.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the fleet follower's thread panicked");
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Follow the fleet's commands for as long as the future is polled (with a SQLite journal,
/// it ends at once).
async fn follow(engine: Arc<Engine>) {
    let Some(target) = engine.store.postgres_target().cloned() else {
        return;
    };
    let warn = |msg: String| {
        tracing::warn!("{msg}");
        engine
            .sink()
            .issue(Severity::Warning, "operator", None, None, None, &msg);
    };
    // Commands up to here were issued before this engine started.
    let floor = match engine.store.last_fleet_command() {
        Ok(id) => id,
        Err(e) => {
            warn(format!(
                "fleet commands cannot be read ({e}): a `cutover stop` from another machine will not reach this engine; stop it here"
            ));
            return;
        }
    };
    let channel = fleet_channel(&engine.project.name);
    let mut rx = match listen(&target, &channel) {
        Ok(rx) => rx,
        Err(e) => {
            warn(format!(
                "cannot listen for fleet commands ({e}): a `cutover stop` from another machine will not reach this engine; stop it here"
            ));
            return;
        }
    };
    let me = origin();
    let mut applied: HashSet<i64> = HashSet::new();
    let mut lost = false;
    while let Some(signal) = rx.recv().await {
        match signal {
            FleetSignal::Listening => {
                // Whatever was issued while not listening (or before the first LISTEN).
                match engine.store.fleet_commands_after(floor) {
                    Ok(cmds) => {
                        for c in cmds {
                            if applied.insert(c.id) {
                                apply(&engine, &c, &me);
                            }
                        }
                    }
                    Err(e) => warn(format!("fleet commands cannot be read: {e}")),
                }
                if lost {
                    tracing::info!("listening for fleet commands again on {channel}");
                    lost = false;
                }
            }
            FleetSignal::Notified(p) => match FleetCommand::from_payload(&p) {
                Some(c) if c.id > floor => {
                    if applied.insert(c.id) {
                        apply(&engine, &c, &me);
                    }
                }
                Some(_) => {}
                None => tracing::warn!("fleet channel {channel}: not a fleet command: {p:?}"),
            },
            FleetSignal::Lost(why) => {
                if !lost {
                    warn(format!(
                        "the fleet listener lost its connection ({why}); reconnecting (commands issued meanwhile are read when it is back)"
                    ));
                }
                lost = true;
            }
        }
    }
}

/// Carry out one fleet command here (not one this process issued: it acted on it already).
/// The batches a fleet command names: one, or every batch of the project.
fn batches_of(engine: &Engine, batch: Option<&str>) -> Vec<String> {
    let mut batches: Vec<String> = match batch {
        Some(b) => vec![b.to_string()],
        None => engine
            .project
            .mailboxes
            .iter()
            .map(|m| m.batch.clone())
            .collect(),
    };
    batches.sort_unstable();
    batches.dedup();
    batches
}

fn apply(engine: &Engine, c: &FleetCommand, me: &str) {
    if c.origin == me {
        return;
    }
    let from = format!("fleet command #{} from {}", c.id, c.origin);
    tracing::info!(id = c.id, kind = %c.kind, by = %c.by, origin = %c.origin, "fleet command");
    match c.kind.as_str() {
        "stop" => {
            super::halt::emergency_stop(engine, &c.by, c.batch.as_deref(), &from);
        }
        // A start resumes what a pause held (a stop ends the workers: start them again).
        kind @ ("pause" | "start") => {
            let batches = batches_of(engine, c.batch.as_deref());
            for b in &batches {
                if kind == "pause" {
                    engine.pause_batch(b);
                } else {
                    engine.pause_flag(b).clear();
                }
            }
            engine.sink().issue(
                Severity::Info,
                "operator",
                None,
                None,
                None,
                &format!("{kind} of {} by {} ({from})", batches.join(", "), c.by),
            );
        }
        other => tracing::warn!("fleet command #{} of an unknown kind {other:?}", c.id),
    }
}
