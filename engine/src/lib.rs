//! cutover-engine: everything of a mailbox migration that is not terminal or command line.
//!
//! [`api`] is the contract: the commands the CLI and the console (the `cutover` binary) send,
//! the snapshots they receive, an enum for every state and severity. The rest, bottom up:
//! [`config`] (the project file), [`journal`] (the durable state), [`endpoint`] (IMAP, POP3,
//! Microsoft Graph, Gmail API behind one trait), [`events`] (what the engine and the
//! operations report, and their stop flags), [`sync`] (mapping and copying one folder),
//! [`discover`] (both sides' folders mapped), the operations [`verify`], [`plan`],
//! [`rollback`], [`assess`] (discovery, complexity, risks), [`backup`] (backup, verify,
//! restore: the engine on a derived project) and [`checklist`] (items, auto
//! checks, the gate), the [`engine`] (mailboxes, budgets, the console's controller, the
//! control socket) and [`failback`] (the engine run the other way); [`report`] writes the
//! reports; [`mail`] (modified UTF-7, Message-ID, fingerprints, UID sets, the one formatter),
//! [`local`] (private files, the operators group), [`issues`] (what each issue category
//! means), [`safe_text`] (server text made safe for a terminal) and [`csv_out`] (the one CSV
//! writer) serve every layer and printer. Nothing here touches the terminal or parses a
//! command line.

pub mod access;
pub mod api;
pub mod assess;
pub mod backup;
pub mod checklist;
pub mod config;
pub mod csv_out;
pub mod directory;
pub mod discover;
pub mod dns;
pub mod endpoint;
pub mod engine;
pub mod events;
pub mod failback;
pub mod finalize;
pub mod issues;
pub mod item;
pub mod journal;
pub mod local;
pub mod mail;
pub mod plan;
pub mod recipients;
pub mod report;
pub mod rollback;
pub mod safe_text;
pub mod sync;
pub mod verify;
pub mod wire;
mod words;
