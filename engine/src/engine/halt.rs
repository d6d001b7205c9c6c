//! The emergency stop itself, as every way of asking for it trips it: the control socket
//! (`remote`), the console (`control`) and the fleet's commands (`fleet`).

use super::state::Engine;
use crate::events::Severity;

/// Trip the emergency stop (all batches, or one) and log who did it and what was in flight.
/// Returns the line the operator reads.
pub fn emergency_stop(engine: &Engine, operator: &str, batch: Option<&str>, from: &str) -> String {
    let running = engine.running_keys();
    let affected: Vec<&String> = match batch {
        Some(b) => {
            engine.stop_batch(b);
            running
                .iter()
                .filter(|k| engine.batch_of(k) == Some(b))
                .collect()
        }
        None => {
            engine.stop_flag().stop();
            running.iter().collect()
        }
    };
    let scope = match batch {
        Some(b) => format!("batch {b}"),
        None => "all batches".to_string(),
    };
    let list = affected
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let msg = format!(
        "emergency stop of {scope} by {operator} (from {from}): writes halted; {} mailbox(es) were running{}{}; {} source and {} destination connection(s) in use. The journal is consistent; start again to resume.",
        affected.len(),
        if list.is_empty() { "" } else { ": " },
        list,
        engine.src.in_use(),
        engine.dst.in_use()
    );
    engine
        .sink()
        .issue(Severity::Critical, "operator", None, None, None, &msg);
    format!("ok {msg}")
}
