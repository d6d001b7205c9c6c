//! Errors with locations: a [`ConfigError`] names the file, the line and column, the key and
//! what was expected, so an operator can fix the file without reading code. Byte offsets become
//! (line, column) through a [`LineIndex`], in time linear in the file once, logarithmic per
//! lookup: a project file with 20,000 mailboxes locates each of them without rescanning the text.

use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration mistake, located in its file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl ConfigError {
    pub(super) fn at(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = LineIndex::new(text).line_col(text, offset);
        ConfigError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
    pub(super) fn whole(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

/// The file's text, or an error naming the line and column of the first byte that is not
/// UTF-8.
pub(crate) fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        ConfigError {
            file: path.to_path_buf(),
            line,
            column,
            message: format!(
                "not UTF-8 text (byte 0x{:02x}); save the file as UTF-8",
                e.as_bytes()[valid.len()]
            ),
        }
    })
}

pub(super) fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start);
    ConfigError::at(path, text, offset, e.message().trim_end().to_string())
}

/// Where each line of a text starts.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of byte `offset` of `text` (the text the
    /// index was built from); an offset past the end is the end.
    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward (quadratic when called per entry) definition the index replaces.
    fn scan(text: &str, offset: usize) -> (usize, usize) {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    #[test]
    fn agrees_with_a_scan_at_every_offset() {
        let text = "ab\ncd\n\né€x\n\nlast";
        let idx = LineIndex::new(text);
        for offset in (0..=text.len() + 3).filter(|o| *o > text.len() || text.is_char_boundary(*o))
        {
            assert_eq!(idx.line_col(text, offset), scan(text, offset), "{offset}");
        }
        assert_eq!(idx.line_col("", 0), (1, 1));
    }

    #[test]
    fn the_index_is_built_once_per_text() {
        // One entry per line start: lookups binary-search it instead of rescanning the text.
        let text = "x\n".repeat(20_000);
        let idx = LineIndex::new(&text);
        assert_eq!(idx.starts.len(), 20_001);
        assert_eq!(idx.line_col(&text, text.len() - 2), (20_000, 1));
    }

    #[test]
    fn line_and_column_are_one_based() {
        let idx = LineIndex::new("ab\ncd");
        assert_eq!(idx.line_col("ab\ncd", 0), (1, 1));
        assert_eq!(idx.line_col("ab\ncd", 4), (2, 2));
    }
}
