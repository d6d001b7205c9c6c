//! An assessment as the journal keeps it.

use crate::journal::{
    AssessedFolderRow, AssessedMailboxRow, AssessedMessageRow, AssessmentRows, RiskRow,
};

use super::model::Assessment;

/// The journal rows of an assessment.
pub fn rows(a: &Assessment) -> AssessmentRows {
    let mut r = AssessmentRows {
        batches: if a.batches.is_empty() {
            "(all)".into()
        } else {
            a.batches.join(",")
        },
        complexity: a.classification.complexity.word().into(),
        factors: a
            .classification
            .factors
            .iter()
            .map(|(f, c)| format!("{f} [{}]", c.word()))
            .collect::<Vec<_>>()
            .join("; "),
        ..Default::default()
    };
    for m in &a.mailboxes {
        r.mailboxes.push(AssessedMailboxRow {
            mailbox: m.key.clone(),
            batch: m.batch.clone(),
            src_caps: m.src_caps.join(" "),
            dst_caps: m.dst_caps.join(" "),
            src_error: m.src_error.clone(),
            dst_error: m.dst_error.clone(),
            read_error: m.read_error.clone(),
            folders: m.folders.len() as u64,
            messages: m.messages(),
            bytes: m.bytes(),
            to_copy_bytes: m.to_copy_bytes(),
            largest: m.largest_size(),
            oversize: m.oversize.len() as u64,
            size_limit: m.size_limit,
            quota_used: m.quota.map(|q| q.0),
            quota_limit: m.quota.map(|q| q.1),
            probe: m.probe.as_ref().map(|p| match p {
                Ok(()) => "ok".to_string(),
                Err(e) => e.clone(),
            }),
        });
        for f in &m.folders {
            r.folders.push(AssessedFolderRow {
                mailbox: m.key.clone(),
                folder: f.folder.clone(),
                dst_folder: f.dst.clone(),
                special: f.special.map(|s| s.name().to_string()),
                messages: f.messages,
                bytes: f.bytes,
                largest: f.largest,
            });
        }
        for (kind, list) in [("largest", &m.largest), ("oversize", &m.oversize)] {
            for x in list {
                r.messages.push(AssessedMessageRow {
                    mailbox: m.key.clone(),
                    folder: x.folder.clone(),
                    uid: x.uid,
                    size: x.size,
                    kind: kind.into(),
                });
            }
        }
    }
    for k in &a.risks {
        r.risks.push(RiskRow {
            severity: k.severity.into(),
            mailbox: k.mailbox.clone(),
            message: k.message.clone(),
        });
    }
    r
}
