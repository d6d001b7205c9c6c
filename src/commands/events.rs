//! The headless progress printer: engine events as plain lines.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use cutover_engine::api::ItemKind;
use cutover_engine::events::Event;

use cutover_engine::mail::fmt;

/// Print engine events as plain lines (rate-limited progress per folder).
pub async fn print_events(mut rx: mpsc::UnboundedReceiver<Event>) {
    let tty = std::io::stdout().is_terminal();
    let every = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let mut last: HashMap<(String, String), Instant> = HashMap::new();
    let mut planned: HashMap<(String, String), (u64, u64)> = HashMap::new();
    while let Some(e) = rx.recv().await {
        match e {
            Event::MailboxStarted { mailbox, batch } => {
                println!("[{mailbox}] started (batch {batch})");
            }
            Event::FolderStarted {
                mailbox,
                folder,
                dst,
                kind,
                to_copy,
                bytes,
            } => {
                if to_copy > 0 {
                    println!(
                        "[{mailbox}] {folder} -> {}: {to_copy} {} to copy, {}",
                        cutover_engine::mail::utf7::decode_mutf7(&dst),
                        match kind {
                            ItemKind::Mail => "message(s)",
                            k => k.plural(),
                        },
                        fmt::bytes(bytes)
                    );
                }
                planned.insert((mailbox, folder), (to_copy, bytes));
            }
            Event::Progress {
                mailbox,
                folder,
                copied,
                bytes,
            } => {
                let k = (mailbox, folder);
                let now = Instant::now();
                if last.get(&k).is_none_or(|t| now.duration_since(*t) >= every) {
                    let (n, b) = planned.get(&k).copied().unwrap_or_default();
                    println!(
                        "[{}] {}: {copied}/{n} copied, {} of {}",
                        k.0,
                        k.1,
                        fmt::bytes(bytes),
                        fmt::bytes(b)
                    );
                    last.insert(k, now);
                }
            }
            Event::FolderDone {
                mailbox,
                folder,
                totals,
                appended,
                unchanged,
            } => {
                if unchanged {
                    println!(
                        "[{mailbox}] {folder}: unchanged ({} in journal)",
                        totals.copied
                    );
                } else {
                    println!(
                        "[{mailbox}] {folder}: done, {appended} appended now; {}/{} copied, {} skipped, {} failed",
                        totals.copied, totals.messages, totals.skipped, totals.failed
                    );
                }
            }
            Event::MailboxPlanned { .. } => {}
            Event::MailboxDone {
                mailbox,
                totals,
                error,
                ..
            } => match error {
                None => println!(
                    "[{mailbox}] finished: {}/{} {}, {} of {}; {} skipped, {} failed",
                    totals.copied,
                    totals.messages,
                    // With calendars or address books: items, then each kind.
                    if totals.mixed() {
                        format!(
                            "items ({})",
                            totals
                                .by_kind
                                .iter()
                                .map(|(k, t)| format!("{}/{} {}", t.copied, t.items, k.plural()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        "messages".to_string()
                    },
                    fmt::bytes(totals.copied_bytes),
                    fmt::bytes(totals.bytes),
                    totals.skipped,
                    totals.failed
                ),
                Some(err) => println!("[{mailbox}] FAILED: {err}"),
            },
            Event::RollbackProgress { .. } | Event::RollbackDone { .. } => {}
            Event::Issue {
                severity,
                category,
                mailbox,
                folder,
                uid,
                message,
            } => {
                let place = [mailbox, folder, uid.map(|u| format!("UID {u}"))]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" / ");
                eprintln!(
                    "{} [{category}] {place}: {message}",
                    severity.as_str().to_uppercase()
                );
            }
        }
    }
}
