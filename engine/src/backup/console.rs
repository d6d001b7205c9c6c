//! The console's backup: `cutover backup` then `--verify`, in the background, the outcome
//! an operator issue.

use super::run::{backup, backup_engine, check_space};
use super::types::BackupError;
use crate::api::Side;
use crate::config::Project;
use crate::journal::Journal;

/// The console's backup ([`crate::api::Command::Backup`]): the source of the batches (all
/// when none) backed up into the default directory, then verified; the outcome is an
/// operator issue in the project's journal (the Batches tab shows each mailbox's state).
pub async fn backup_and_verify(
    project: Project,
    store: Journal,
    batches: Vec<String>,
    operator: String,
) {
    let what = if batches.is_empty() {
        "every batch".to_string()
    } else {
        format!("batch {}", batches.join(", "))
    };
    let outcome = async {
        let run = backup_engine(&project, Side::Source, None, &batches, None)?;
        // One backup of a directory at a time (the lock `cutover backup` takes too).
        let _lock = crate::engine::remote::bind(&run.engine.project.state_path)
            .await
            .map_err(|e| BackupError::Busy(e.to_string()))?;
        check_space(&run, &store).await?;
        let done = backup(&run, &store).await?;
        let checked = super::verify::verify(&run, &store).await?;
        Ok::<_, BackupError>((run.dir.clone(), done, checked))
    }
    .await;
    let (severity, message) = match outcome {
        Ok((dir, done, checked)) => {
            let complete = done.iter().filter(|b| b.result.complete()).count();
            let verified = checked.iter().filter(|v| v.verified).count();
            let problems: Vec<String> = checked
                .iter()
                .flat_map(|v| v.problems.iter().map(move |p| format!("{}: {p}", v.key)))
                .take(3)
                .collect();
            let text = format!(
                "backup of {what} (source) by {operator} into {}: {complete} of {} mailbox(es) complete, {verified} verified{}",
                dir.display(),
                done.len(),
                if problems.is_empty() {
                    String::new()
                } else {
                    format!("; {}", problems.join("; "))
                }
            );
            if verified == done.len() {
                ("info", text)
            } else {
                ("warning", text)
            }
        }
        Err(e) => (
            "error",
            format!("backup of {what} (source) by {operator} failed: {e}"),
        ),
    };
    tracing::info!("{message}");
    if let Err(e) = store.record_issue(&crate::journal::Issue {
        severity,
        category: "operator",
        mailbox: None,
        folder: None,
        uid: None,
        message: &message,
    }) {
        tracing::error!("cannot journal the backup's outcome ({message}): {e}");
    }
}
