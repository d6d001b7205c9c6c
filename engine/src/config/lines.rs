//! Byte offsets to (line, column), in time linear in the file once, logarithmic per lookup:
//! a project file with 20,000 mailboxes locates each of them without rescanning the text.

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
}
