//! cutover: mailbox migrations an operator can trust on cutover night.
//!
//! Layers, bottom up: [`config`] (the project file), [`store`] (the durable journal),
//! [`endpoint`] (IMAP today; Graph, Gmail, POP3 behind the same trait), [`sync`] (mapping and
//! copying one folder), [`engine`] (mailboxes, budgets, events, control socket), [`verify`],
//! [`plan`], [`rollback`], [`failback`], [`assess`] (discovery, complexity, risks) and
//! [`checklist`] (items, auto checks, the gate).
//! Nothing here touches the terminal: the CLI and the console observe engine events.

pub mod assess;
pub mod checklist;
pub mod config;
pub mod endpoint;
pub mod engine;
pub mod failback;
pub mod issues;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod signals;
pub mod store;
pub mod sync;
pub mod ui;
pub mod verify;
