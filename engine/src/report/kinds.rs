//! The reports' figures per kind of item (mail, events, contacts): only when some mailbox
//! holds events or contacts, so a mail-only report renders exactly as before.

use crate::api::{ItemKind, KindTotals, MailboxType};
use crate::mail::fmt::bytes;

use super::metrics::sum_totals;
use super::model::Report;

/// Some mailbox of the report has events or contacts in the journal.
pub(crate) fn mixed(r: &Report) -> bool {
    r.mailboxes.iter().any(|m| m.totals.mixed())
}

/// "4 copied of 5 on the source (12.0 KB); 1 skipped, 0 failed, 0 pending".
fn figures(t: &KindTotals) -> String {
    format!(
        "{} copied of {} on the source ({}); {} skipped, {} failed, {} pending",
        t.copied,
        t.items.saturating_sub(t.expunged),
        bytes(t.copied_bytes),
        t.skipped.saturating_sub(t.expunged),
        t.failed,
        t.pending
    )
}

/// The summary's rows per mailbox type and per kind of item, (label, value): none for a
/// mail-only report of user mailboxes.
pub(crate) fn summary_rows(r: &Report) -> Vec<(String, String)> {
    let mut out = type_rows(r);
    if mixed(r) {
        out.extend(
            sum_totals(r)
                .by_kind
                .iter()
                .map(|(k, t)| (k.plural().to_string(), figures(t))),
        );
    }
    out
}

/// A row per mailbox type ("shared mailboxes": "1: 1 done, 0 failed, 0 not started") when
/// some mailbox is not a user mailbox; none otherwise.
fn type_rows(r: &Report) -> Vec<(String, String)> {
    if r.mailboxes
        .iter()
        .all(|m| m.mailbox_type == MailboxType::User)
    {
        return Vec::new();
    }
    MailboxType::ALL
        .iter()
        .filter_map(|t| {
            let of: Vec<_> = r
                .mailboxes
                .iter()
                .filter(|m| m.mailbox_type == *t)
                .collect();
            let n = |st: &str| of.iter().filter(|m| m.state == st).count();
            (!of.is_empty()).then(|| {
                (
                    format!("{t} mailboxes"),
                    format!(
                        "{}: {} done, {} failed, {} not started",
                        of.len(),
                        n("done"),
                        n("failed"),
                        n("not started")
                    ),
                )
            })
        })
        .collect()
}

/// One row of the per-mailbox table by kind.
pub(crate) struct KindRow {
    pub mailbox: String,
    pub kind: ItemKind,
    pub on_source: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    /// Not counting those that vanished from the source.
    pub skipped: u64,
    pub failed: u64,
    pub pending: u64,
}

pub(crate) const KIND_COLUMNS: [&str; 8] = [
    "mailbox",
    "kind",
    "on source",
    "copied",
    "bytes copied",
    "skipped",
    "failed",
    "pending",
];

/// A row per kind for each mailbox with events or contacts (mail-only mailboxes are in the
/// per-mailbox table already); none for a mail-only report.
pub(crate) fn mailbox_rows(r: &Report) -> Vec<KindRow> {
    r.mailboxes
        .iter()
        .filter(|m| m.totals.mixed())
        .flat_map(|m| {
            m.totals.by_kind.iter().map(|(k, t)| KindRow {
                mailbox: m.key.clone(),
                kind: *k,
                on_source: t.items.saturating_sub(t.expunged),
                copied: t.copied,
                copied_bytes: t.copied_bytes,
                skipped: t.skipped.saturating_sub(t.expunged),
                failed: t.failed,
                pending: t.pending,
            })
        })
        .collect()
}

/// The CSV's extra columns when the report is mixed: per kind, items on the source and synced.
pub(crate) fn csv_columns(r: &Report) -> Vec<String> {
    if !mixed(r) {
        return Vec::new();
    }
    ["Mail", "Event", "Contact"]
        .iter()
        .flat_map(|k| [format!("{k}ItemCount"), format!("{k}SyncedItemCount")])
        .collect()
}

/// A mailbox's cells for [`csv_columns`].
pub(crate) fn csv_cells(t: &crate::journal::Totals) -> Vec<String> {
    ItemKind::ALL
        .iter()
        .flat_map(|k| {
            let x = t.by_kind.get(k).copied().unwrap_or_default();
            [
                x.items.saturating_sub(x.expunged).to_string(),
                x.copied.to_string(),
            ]
        })
        .collect()
}
