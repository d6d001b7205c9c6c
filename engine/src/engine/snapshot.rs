//! TODO(merge): remove. The snapshot and its views are the contract's ([`crate::api`]); this
//! is their old path (callers: src/ui, tests/it).

pub use crate::api::{
    BatchView, CheckView, Connections, HISTORY_SECS, IssueView, MailboxView, RunState, Snapshot,
    Throughput,
};
