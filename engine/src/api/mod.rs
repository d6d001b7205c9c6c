//! The contract between the engine and its drivers (the console, the CLI): the [`Command`]s
//! they send, the [`Snapshot`] they receive with its views, and an enum for every state and
//! severity that crosses (no state travels as a string; each enum's `as_str` and `Display`
//! give the word that is printed). A [`Handle`] on a running engine holds the two channels
//! and a [`StopSwitch`], not the engine.
//!
//! It depends on nothing else of the engine but the issue category table it re-exports
//! ([`crate::issues`]): the engine converts its journal rows and checklist items into these
//! views (`engine::views`), and its events and sink speak these states and severities.
//!
//! `states`: the enums; `views`: the snapshot and its views; `passes`: delta passes per batch
//! (lag, final-pass estimate); `fleet`: the workers on a PostgreSQL journal; `commands`: the commands and the
//! handle. Everything is re-exported here, so drivers name `cutover_engine::api::X`.

mod commands;
mod fleet;
mod passes;
mod states;
mod views;

/// What each issue category means for the operator (cause, fix, retry class): the console's
/// Issues tab shows it beside the selected issue.
pub use crate::issues::{Category, Retry, category};

pub use crate::directory::{AccessRight, MailboxType, RecipientKind};
/// The one formatter of bytes, percentages and durations, so that the console prints a figure
/// exactly as the CLI and the reports do.
pub use crate::mail::fmt as figures;
/// Bytes on an IMAP link and of protocol they carried (COMPRESS=DEFLATE shows the difference).
pub use crate::wire::WireBytes;

pub use commands::{BackupSwitch, Command, Handle, StopSwitch};
pub use fleet::{FleetView, WorkerView};
pub use passes::{Estimate, Lag, LagCheck, PassCounts, PassOutcome, PassView, SyncView};
pub use states::{
    BackupState, BatchState, CheckStatus, IssueState, ItemKind, MailboxState, NoteSection,
    RunState, Severity, Side,
};
pub use views::{
    BatchView, CheckView, Connections, HISTORY_SECS, IssueView, KindTotals, MailboxView, NoteView,
    Snapshot, Throughput, Totals,
};
