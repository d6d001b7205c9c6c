//! Recipients the destination must have: shared, room and equipment mailboxes, distribution
//! lists and groups, their members, aliases and who has which access (`[recipients] csv`).
//!
//! `steps` turns the list into ordered, idempotent steps; `plan` prints them (what would be
//! created, and by what); `script` writes them as an Exchange Online PowerShell 7 script for
//! what Microsoft Graph cannot create; `rows` journals the list. A directory API (Graph,
//! Google) would add its own executor of the same steps.

mod plan;
mod rows;
mod script;
mod steps;

pub use plan::{list, plan_text};
pub use rows::{journal_recipients, rows};
pub use script::{powershell_quote, script};
pub use steps::{Action, Step, steps};
