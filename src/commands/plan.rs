//! `cutover plan`: the folder map per mailbox with what is left to copy; copies nothing.

use cutover_engine::config::Project;

use super::setup::engine;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::out::human;

pub async fn plan(project: Project, batches: Vec<String>) -> Result<ExitCode> {
    let engine = engine(project, None)?;
    let mut code = ExitCode::Success;
    for spec in engine.selected(&batches) {
        println!("[{}] batch {}", spec.key(), spec.batch);
        match cutover_engine::plan::plan_mailbox(
            &engine.project,
            &engine.store,
            &engine.src,
            &engine.dst,
            &spec,
        )
        .await
        {
            Ok(folders) => {
                let (mut n, mut b, mut done) = (0, 0, 0);
                for f in folders {
                    match &f.dst {
                        Some(d) => {
                            println!(
                                "  {:<32} -> {:<32} {:>6} msgs {:>10}  copied {:>6}  ({})",
                                f.src,
                                d,
                                f.messages,
                                human(f.bytes),
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
                    "  total {n} message(s), {}; {} already copied, {} to copy",
                    human(b),
                    done,
                    n.saturating_sub(done)
                );
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
    Ok(code)
}
