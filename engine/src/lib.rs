//! cutover-engine: everything of a mailbox migration that is not terminal or command line.
//!
//! Layers, bottom up: [`config`] (the project file), [`journal`] (the durable state),
//! [`endpoint`] (IMAP, POP3, Microsoft Graph, Gmail API behind one trait), [`sync`] (mapping and
//! copying one folder), [`engine`] (mailboxes, budgets, events, control socket), and the
//! operations [`verify`], [`plan`], [`rollback`], [`failback`], [`assess`] (discovery,
//! complexity, risks) and [`checklist`] (items, auto checks, the gate); [`report`] writes the
//! reports; [`safe_text`] (server text made safe for a terminal) and [`csv_out`] (the one CSV
//! writer) serve every printer. Nothing here touches the terminal or parses a command line: the
//! CLI and the console (the `cutover` binary) drive it through [`api`].

pub mod assess;
pub mod checklist;
pub mod config;
pub mod csv_out;
pub mod endpoint;
pub mod engine;
pub mod failback;
pub mod issues;
pub mod journal;
pub mod local;
pub mod mail;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod safe_text;
pub mod sync;
pub mod verify;
