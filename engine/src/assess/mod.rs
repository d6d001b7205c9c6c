//! `cutover assess`: discovery before a migration. For every mailbox: log in on both sides,
//! read capabilities, the folder tree with message counts and sizes (metadata only, never
//! bodies), the largest messages, messages over the destination's size limit, the destination
//! quota; then the project's complexity, the concrete risks found and a duration estimate per
//! batch from the journal's measured throughput. Knows nothing of terminals: callers print.
//!
//! [`assess()`] runs it all: `discovery` (one mailbox), `complexity`, `risks` and `estimate`
//! (per batch), then journals the result (`rows`); `csv` writes it for a spreadsheet. The
//! children share what they need through `model`, `discovery` and `fmt`, never through this
//! module.

mod complexity;
mod csv;
mod discovery;
mod estimate;
mod model;
mod risks;
mod rows;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::{MailboxSpec, Project};
use crate::endpoint::any::AnyConnector;
use crate::journal::Journal;

use self::complexity::special_folders;
pub use self::complexity::{Classification, ClassifyInput, Complexity, classify};
pub use self::csv::{CSV_HEADER, write_csv};
pub use self::discovery::{
    FolderAssessment, MailboxAssessment, MessageRef, NOTABLE_CAPS, TOP_N, assess_mailbox,
};
pub use self::estimate::{BatchEstimate, estimate_text};
pub use self::model::{AssessError, Assessment};
pub use self::risks::{Risk, risks};
pub use self::rows::rows;

/// Run the discovery over the selected batches' mailboxes (all when none), classify,
/// list the risks, estimate durations, and journal it all.
pub async fn assess(
    project: &Project,
    store: &Journal,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    batches: &[String],
) -> Result<Assessment, AssessError> {
    let specs: Vec<MailboxSpec> = project
        .mailboxes
        .iter()
        .filter(|m| batches.is_empty() || batches.contains(&m.batch))
        .cloned()
        .collect();
    if specs.is_empty() {
        return Err(AssessError::NoMailbox(batches.join(", ")));
    }
    let slots = Arc::new(Semaphore::new(project.parallel_mailboxes.max(1)));
    let mut tasks = Vec::new();
    for spec in specs {
        let (p, st, s, d, slots) = (
            project.clone(),
            store.clone(),
            src_c.clone(),
            dst_c.clone(),
            slots.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            assess_mailbox(&p, &st, &s, &d, &spec).await
        }));
    }
    let mut mailboxes = Vec::new();
    for t in tasks {
        match t.await {
            Ok(a) => mailboxes.push(a),
            Err(e) => tracing::error!("internal error assessing a mailbox: {e}"),
        }
    }
    let classification = classify(&ClassifyInput {
        mailboxes: mailboxes.len(),
        bytes: mailboxes.iter().map(MailboxAssessment::bytes).sum(),
        oversize: mailboxes.iter().map(|a| a.oversize.len()).sum(),
        special_folders: mailboxes.iter().flat_map(special_folders).collect(),
        requirements: project.requirements.clone(),
    });
    let risks = risks(project, &mailboxes);
    let throughput = store.measured_throughput()?;
    let mut estimates: Vec<BatchEstimate> = Vec::new();
    for a in &mailboxes {
        let i = match estimates.iter().position(|e| e.batch == a.batch) {
            Some(i) => i,
            None => {
                estimates.push(BatchEstimate {
                    batch: a.batch.clone(),
                    mailboxes: 0,
                    bytes_to_copy: 0,
                    secs: None,
                });
                estimates.len() - 1
            }
        };
        estimates[i].mailboxes += 1;
        estimates[i].bytes_to_copy += a.to_copy_bytes();
    }
    if let Some((b, s, _)) = throughput {
        let rate = b as f64 / s;
        for e in &mut estimates {
            e.secs = Some(e.bytes_to_copy as f64 / rate);
        }
    }
    let a = Assessment {
        batches: batches.to_vec(),
        mailboxes,
        classification,
        risks,
        estimates,
        throughput,
    };
    store.save_assessment(&rows(&a))?;
    crate::recipients::journal_recipients(project, store)?;
    Ok(a)
}
