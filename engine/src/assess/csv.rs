//! The CSV of `cutover assess --csv`, one row per mailbox.

use super::model::{AssessError, Assessment};

/// The CSV columns of `cutover assess --csv`, one row per mailbox.
pub const CSV_HEADER: &[&str] = &[
    "batch",
    "mailbox",
    "login",
    "read_error",
    "folders",
    "messages",
    "bytes",
    "to_copy_bytes",
    "largest_bytes",
    "oversize_messages",
    "size_limit_bytes",
    "quota_used_bytes",
    "quota_limit_bytes",
    "quota_free_bytes",
    "source_capabilities",
    "destination_capabilities",
    "risks",
    "mailbox_type",
];

/// Written by the one CSV writer ([`crate::csv_out`]): formulas neutralised, controls escaped.
pub fn write_csv(path: &std::path::Path, a: &Assessment) -> Result<(), AssessError> {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows = a.mailboxes.iter().map(|m| {
        let login = match (&m.src_error, &m.dst_error) {
            (None, None) => "ok".to_string(),
            (s, d) => [s.as_deref(), d.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
        };
        let risks = a
            .risks
            .iter()
            .filter(|r| r.mailbox.as_deref() == Some(m.key.as_str()))
            .map(|r| format!("{}: {}", r.severity, r.message))
            .collect::<Vec<_>>()
            .join(" | ");
        [
            m.batch.clone(),
            m.key.clone(),
            login,
            m.read_error.clone().unwrap_or_default(),
            m.folders.len().to_string(),
            m.messages().to_string(),
            m.bytes().to_string(),
            m.to_copy_bytes().to_string(),
            m.largest_size().to_string(),
            m.oversize.len().to_string(),
            opt(m.size_limit),
            opt(m.quota.map(|q| q.0)),
            opt(m.quota.map(|q| q.1)),
            opt(m.quota.map(|q| q.1.saturating_sub(q.0))),
            m.src_caps.join(" "),
            m.dst_caps.join(" "),
            risks,
            m.mailbox_type.as_str().to_string(),
        ]
    });
    crate::csv_out::to_file(path, CSV_HEADER, rows).map_err(|e| AssessError::Csv {
        path: e.path,
        message: e.message,
    })
}
