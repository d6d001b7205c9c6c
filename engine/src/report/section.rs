//! A report section as data (heading, paragraphs, an optional figure, a table, a list), which
//! the Markdown and HTML writers render alike: the weekly report's sections and the lessons
//! and recommendations are built once, in `weekly` and `lessons`.

/// One section; empty parts are not rendered.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
    /// An inline SVG figure, in the HTML only (the Markdown has the table beside it).
    pub figure: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub items: Vec<String>,
    /// Paragraphs after the table and the list.
    pub after: Vec<String>,
}

impl Section {
    pub(crate) fn new(heading: impl Into<String>) -> Section {
        Section {
            heading: heading.into(),
            ..Default::default()
        }
    }

    pub(crate) fn columns(mut self, cols: &[&str]) -> Section {
        self.columns = cols.iter().map(|c| c.to_string()).collect();
        self
    }
}
