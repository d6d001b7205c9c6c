//! `[batch.NAME]`: a batch's planned dates (optional), which the weekly report sets the
//! progress against: `start` (the day its copy is planned to begin) and `planned` (the day it
//! is planned to be done), both "YYYY-MM-DD".

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::lines::ConfigError;
use super::mailboxes::MailboxSpec;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBatch {
    #[serde(default)]
    start: Option<Spanned<String>>,
    #[serde(default)]
    planned: Option<Spanned<String>>,
}

/// A batch's planned dates, as the project file gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchDates {
    pub start: Option<NaiveDate>,
    /// The day the batch is planned to be done.
    pub planned: Option<NaiveDate>,
}

/// Validate `[batch.NAME]` tables: dates, their order, and that the batch has mailboxes.
pub(super) fn batch_dates(
    path: &Path,
    text: &str,
    raw: &BTreeMap<String, Spanned<RawBatch>>,
    mailboxes: &[MailboxSpec],
) -> Result<BTreeMap<String, BatchDates>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, b) in raw {
        let at = b.span().start;
        if !mailboxes.iter().any(|m| &m.batch == name) {
            return Err(ConfigError::at(
                path,
                text,
                at,
                format!("[batch.{name}]: no mailbox is in batch {name:?} (check the name)"),
            ));
        }
        let date = |key: &str,
                    v: &Option<Spanned<String>>|
         -> Result<Option<NaiveDate>, ConfigError> {
            let Some(v) = v else { return Ok(None) };
            NaiveDate::parse_from_str(v.get_ref().trim(), "%Y-%m-%d")
                .map(Some)
                .map_err(|e| {
                    ConfigError::at(
                        path,
                        text,
                        v.span().start,
                        format!(
                            "batch.{name}.{key}: {:?} is not a date ({e}); expected e.g. \"2026-11-23\"",
                            v.get_ref()
                        ),
                    )
                })
        };
        let b = b.get_ref();
        let dates = BatchDates {
            start: date("start", &b.start)?,
            planned: date("planned", &b.planned)?,
        };
        if let (Some(s), Some(p)) = (dates.start, dates.planned)
            && p < s
        {
            return Err(ConfigError::at(
                path,
                text,
                at,
                format!("[batch.{name}]: planned ({p}) is before start ({s})"),
            ));
        }
        out.insert(name.clone(), dates);
    }
    Ok(out)
}
