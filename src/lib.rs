//! cutover: mailbox migrations an operator can trust on cutover night.
//!
//! Layers, bottom up: [`config`] (the project file), [`store`] (the durable journal),
//! [`endpoint`] (IMAP today; Graph, Gmail, POP3 behind the same trait), [`sync`] (mapping and
//! copying one folder), [`engine`] (mailboxes, budgets, events, control socket), [`verify`],
//! [`plan`], [`rollback`], [`failback`], [`assess`] (discovery, complexity, risks) and
//! [`checklist`] (items, auto checks, the gate); [`safe_text`] (server text made safe for a
//! terminal) and [`csv_out`] (the one CSV writer) for every printer.
//! Nothing here touches the terminal: the CLI and the console observe engine events.

pub mod assess;
pub mod checklist;
pub mod config;
pub mod csv_out;
pub mod endpoint;
pub mod engine;
pub mod failback;
pub mod issues;
pub mod local;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod safe_text;
pub mod signals;
pub mod store;
pub mod sync;
pub mod ui;
pub mod verify;
