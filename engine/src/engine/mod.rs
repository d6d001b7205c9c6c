//! The migration engine: runs mailboxes within each endpoint's connection budget, and within
//! a mailbox several folders at once. It knows nothing of terminals: observers get events
//! ([`crate::events`]) and, through [`control`], snapshots ([`crate::api`]).
//!
//! `state`: the engine and what the operator moves; `fleet_worker`: a worker of a fleet on a
//! PostgreSQL journal (mailbox leases); `mailbox`: one mailbox's migration;
//! `workers`: its folder workers; `passes` and `schedule`: the console's delta passes and
//! finalize; `lag`: its lag check; `outcome`: how it ended; [`control`] and [`monitor`]:
//! commands in, snapshots out; `views`: journal rows into the api's views; [`remote`]: the
//! control socket; [`fleet`]: the fleet's stop and pause on a PostgreSQL journal;
//! `fleet_view`: its workers in the snapshot; `halt`: the emergency stop all of them trip;
//! `lease_guard`: the mailbox lease any other engine holds on a PostgreSQL journal;
//! `renames`: a folder renamed on the source renamed on the destination.

pub mod control;
pub mod fleet;
mod fleet_view;
mod fleet_worker;
mod halt;
mod lag;
mod lease_guard;
mod mailbox;
pub mod monitor;
mod outcome;
mod passes;
pub mod remote;
mod renames;
mod schedule;
mod state;
mod views;
mod workers;

pub use mailbox::failback_journal_key;
pub use outcome::{Failure, MailboxResult};
pub use state::Engine;
