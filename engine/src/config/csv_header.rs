//! A CSV file the project names (the mailbox CSV, the recipients CSV): opened, its header
//! read and checked against the columns the docs define, errors naming file, line and column.

use std::collections::HashMap;
use std::path::Path;

use super::lines::ConfigError;

/// Open `file` (called `what` in errors) and map each header to its canonical name in `known`
/// (any case), refusing unknown columns and requiring `required`: the reader, positioned at
/// the first record, and each canonical column's index.
pub(super) fn open(
    file: &Path,
    what: &str,
    known: &[&'static str],
    required: &[&str],
) -> Result<(csv::Reader<std::fs::File>, HashMap<&'static str, usize>), ConfigError> {
    let err = |line: usize, column: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| err(0, 0, format!("cannot read the {what}: {e}")))?;
    let headers = rdr
        .headers()
        .map_err(|e| err(1, 1, format!("cannot read the CSV header: {e}")))?
        .clone();
    let mut col = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let canon = known
            .iter()
            .find(|c| c.eq_ignore_ascii_case(h))
            .ok_or_else(|| {
                err(
                    1,
                    i + 1,
                    format!(
                        "unknown column {h:?}; expected some of {}",
                        known.join(", ")
                    ),
                )
            })?;
        col.insert(*canon, i);
    }
    for r in required {
        if !col.contains_key(r) {
            return Err(err(1, 1, format!("missing required column {r}")));
        }
    }
    Ok((rdr, col))
}
