//! One module per command (or close family), and what they share: the journal's part in the
//! exit code, the engine and control socket set-up, signals, the typed confirmation and the
//! progress printer, each in its own sibling module.

pub mod access;
pub mod assess;
pub mod backup;
pub mod check;
pub mod checklist;
pub mod confirm;
pub mod console;
pub mod events;
pub mod failback;
pub mod finalize;
pub mod interrupt;
pub mod journal;
pub mod login;
pub mod manual;
pub mod plan;
pub mod recipients;
pub mod report;
pub mod restore;
pub mod rollback;
pub mod run;
pub mod setup;
pub mod stop;
pub mod sync;
pub mod verify;
