//! The per-mailbox statistics CSV, in the style of Exchange migration user statistics.

use super::kinds::{csv_cells, csv_columns};
use super::model::Report;

/// Per-mailbox statistics, one row per mailbox (Exchange migration user statistics style).
pub const CSV_COLUMNS: [&str; 15] = [
    "Identity",
    "Batch",
    "Status",
    "SourceUser",
    "DestinationUser",
    "TotalItemsInSourceMailboxCount",
    "SyncedItemCount",
    "SkippedItemCount",
    "FailedItemCount",
    "PendingItemCount",
    "TotalBytesInSourceMailbox",
    "BytesTransferred",
    "StartTimestamp",
    "CompletionTimestamp",
    "LastError",
];

/// Written by the one CSV writer ([`crate::csv_out`]): RFC 4180 quoting, CRLF line ends,
/// formulas neutralised, controls escaped.
/// A report with events or contacts adds, per kind, `<Kind>ItemCount` and
/// `<Kind>SyncedItemCount` columns (Mail, Event, Contact) after these.
pub fn csv(r: &Report) -> String {
    let extra = csv_columns(r);
    let rows = r.mailboxes.iter().map(|m| {
        let mut row = vec![
            m.dst_user.clone(),
            m.batch.clone(),
            m.state.clone(),
            m.src_user.clone(),
            m.dst_user.clone(),
            if m.listed() {
                m.on_source().to_string()
            } else {
                String::new()
            },
            m.totals.copied.to_string(),
            m.totals.skipped.to_string(),
            m.totals.failed.to_string(),
            m.totals.pending.to_string(),
            if m.listed() {
                m.totals.bytes.saturating_sub(m.expunged_bytes).to_string()
            } else {
                String::new()
            },
            m.totals.copied_bytes.to_string(),
            m.started_at.clone().unwrap_or_default(),
            m.finished_at.clone().unwrap_or_default(),
            m.last_error.clone().unwrap_or_default(),
        ];
        if !extra.is_empty() {
            row.extend(csv_cells(&m.totals));
        }
        row
    });
    let mut header: Vec<&str> = CSV_COLUMNS.to_vec();
    header.extend(extra.iter().map(String::as_str));
    crate::csv_out::to_string(&header, rows)
}
