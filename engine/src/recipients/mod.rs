//! Recipients the destination must have: shared, room and equipment mailboxes, distribution
//! lists and groups, their members, aliases and who has which access.
//!
//! `gather` collects them (the `[recipients]` CSV, the source's directory through `discover`,
//! the project's shared mailboxes) and journals them (`rows`); `steps` turns them into
//! ordered, idempotent steps; `apply` carries out those the destination's directory API can
//! (Graph: Microsoft 365 groups, members, calendar permissions; Google: groups, members), with
//! `lookup` to look before creating; `undo` removes what it created (rollback); `check` reads
//! the destination back; `plan` prints the plan; `script` writes the Exchange Online
//! PowerShell 7 script for the rest.

mod apply;
mod check;
mod discover;
mod gather;
mod lookup;
mod plan;
mod rows;
mod script;
mod steps;
mod types;
mod undo;

pub use apply::{Target, create};
pub use check::check;
pub use discover::{address_map, from_google, from_graph, mailbox_address};
pub use gather::{Gathered, can_discover, gather, gather_listed, journal_recipients};
pub use plan::{list, outcome_text, plan_text};
pub use rows::rows;
pub use script::{powershell_quote, script};
pub use steps::{Action, Step, steps};
pub use types::{Checked, Discovered, Done, Found, Outcome, RecipientsError};
pub use undo::undo;
