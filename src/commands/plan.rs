//! `cutover plan`: the folder map per mailbox with what is left to copy; copies nothing.

use cutover_engine::api::{ItemKind, MailboxType};
use cutover_engine::config::Project;

use super::setup::engine;
use crate::error::Result;
use crate::exit::ExitCode;
use cutover_engine::mail::fmt;

pub async fn plan(project: Project, batches: Vec<String>) -> Result<ExitCode> {
    let engine = engine(project, None)?;
    let mut code = ExitCode::Success;
    let selected = engine.selected(&batches);
    for spec in &selected {
        match spec.mailbox_type {
            MailboxType::User => println!("[{}] batch {}", spec.key(), spec.batch),
            t => println!("[{}] batch {}, {t} mailbox", spec.key(), spec.batch),
        }
        match cutover_engine::plan::plan_mailbox(
            &engine.project,
            &engine.store,
            &engine.src,
            &engine.dst,
            spec,
        )
        .await
        {
            Ok(folders) => {
                // A mail-only mailbox prints as it always has; calendars and address books
                // name their kind on their row and in the totals.
                let kinds = cutover_engine::plan::per_kind(&folders);
                let mixed = kinds.iter().any(|k| k.0 != ItemKind::Mail);
                let (mut n, mut b, mut done) = (0, 0, 0);
                for f in folders {
                    let unit = match (f.kind, mixed) {
                        (ItemKind::Mail, false) => "msgs".to_string(),
                        (ItemKind::Mail, true) => format!("{:<8}", "msgs"),
                        (k, _) => format!("{:<8}", k.plural()),
                    };
                    match &f.dst {
                        Some(d) => {
                            println!(
                                "  {:<32} -> {:<32} {:>6} {unit} {:>10}  copied {:>6}  ({})",
                                f.src,
                                d,
                                f.messages,
                                fmt::bytes(f.bytes),
                                f.copied,
                                f.why
                            );
                            n += f.messages;
                            b += f.bytes;
                            done += f.copied;
                        }
                        None => println!("  {:<32}    not copied: {}", f.src, f.why),
                    }
                }
                println!(
                    "  total {n} {}, {}; {} already copied, {} to copy",
                    if mixed { "item(s)" } else { "message(s)" },
                    fmt::bytes(b),
                    done,
                    n.saturating_sub(done)
                );
                if mixed {
                    for (k, n, b, done) in kinds {
                        println!(
                            "    {n} {}, {}; {done} already copied, {} to copy",
                            k.plural(),
                            fmt::bytes(b),
                            n.saturating_sub(done)
                        );
                    }
                }
            }
            Err(e) if e.is_journal() => {
                println!("  ERROR: {e}");
                code = ExitCode::Journal;
            }
            Err(e) => {
                println!("  ERROR: {e}");
                if code != ExitCode::Journal {
                    code = ExitCode::Connection;
                }
            }
        }
    }
    if selected.iter().any(|s| s.mailbox_type != MailboxType::User) {
        println!(
            "{} mailbox(es): {}",
            selected.len(),
            MailboxType::summary(selected.iter().map(|s| s.mailbox_type))
        );
    }
    Ok(code)
}
