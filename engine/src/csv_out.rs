//! The one CSV writer for every CSV cutover writes (`cutover report --format csv`,
//! `cutover assess --csv`): RFC 4180 quoting, CRLF line ends, and every cell made harmless for
//! the spreadsheet it will be opened in and for the terminal it may be printed on.
//!
//! - A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so
//!   a spreadsheet shows it as text instead of running it as a formula (a plain number such as
//!   `-5` or `+1.5` is left as it is).
//! - Control and bidi characters are shown escaped ([`crate::safe_text::terminal`]).

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use crate::safe_text;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CsvError {
    pub path: String,
    pub message: String,
}

/// One cell as it is written: escaped for the terminal, then neutralised for spreadsheets.
pub fn cell(raw: &str) -> Cow<'_, str> {
    const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
    let s = safe_text::terminal(raw);
    if raw.starts_with(FORMULA) && !plain_number(raw) {
        Cow::Owned(format!("'{s}"))
    } else {
        s
    }
}

/// `-12`, `+3.5`: a number a spreadsheet reads as a number and nothing else.
fn plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Rows into any writer; every cell goes through [`cell`].
pub struct CsvWriter<W: Write> {
    w: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W) -> CsvWriter<W> {
        let w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .flexible(false)
            .from_writer(out);
        CsvWriter { w }
    }

    pub fn row<I, S>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.w.write_record(
            cells
                .into_iter()
                .map(|c| cell(c.as_ref()).into_owned().into_bytes()),
        )
    }

    /// Flush and give the writer back.
    pub fn finish(self) -> Result<W, String> {
        self.w.into_inner().map_err(|e| e.error().to_string())
    }
}

/// A whole CSV document (header, then rows) as text.
pub fn to_string<R, S>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut w = CsvWriter::new(Vec::new());
    // Writing into memory cannot fail; a failure would only lose rows, never panic.
    let _ = w.row(header);
    for r in rows {
        let _ = w.row(r);
    }
    let bytes = w.finish().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A whole CSV document (header, then rows) written to `path`.
pub fn to_file<R, S>(
    path: &Path,
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> Result<(), CsvError>
where
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let err = |message: String| CsvError {
        path: path.display().to_string(),
        message,
    };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut w = CsvWriter::new(std::io::BufWriter::new(file));
    w.row(header).map_err(|e| err(e.to_string()))?;
    for r in rows {
        w.row(r).map_err(|e| err(e.to_string()))?;
    }
    let mut out = w.finish().map_err(err)?;
    out.flush().map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rows: &[&[&str]]) -> String {
        to_string(&["a", "b"], rows.iter().map(|r| r.iter().copied()))
    }

    #[test]
    fn formulas_get_a_leading_apostrophe() {
        for (raw, want) in [
            ("=cmd|'/C calc'!A0", "'=cmd|'/C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3+cmd|x!A1", "'-2+3+cmd|x!A1"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ] {
            assert_eq!(cell(raw), want, "{raw:?}");
        }
        // A leading tab or CR is a formula prefix too (the CR is also shown escaped).
        assert_eq!(cell("\t=1+2"), "'\t=1+2");
        assert_eq!(cell("\r=1+2"), "'\\x0d=1+2");
        assert_eq!(cell("\x1b=1"), "\\x1b=1");
    }

    #[test]
    fn numbers_and_plain_text_stay_as_they_are() {
        for s in [
            "-5",
            "+1.5",
            "42",
            "0.25",
            "alice@example.com",
            "a-b",
            "",
            "IMAP4rev1",
        ] {
            assert_eq!(cell(s), s);
            assert!(matches!(cell(s), Cow::Borrowed(_)));
        }
        for s in ["-", "+", "-.5", "-1.", "-1e5", "--1", "-1,2"] {
            assert!(cell(s).starts_with('\''), "{s:?}");
        }
    }

    #[test]
    fn rfc4180_quoting_crlf_and_escapes() {
        let d = doc(&[
            &["plain", "a,b"],
            &["say \"no\"", "line\nbreak"],
            &["\x1b]52;c;aGk=\x07", "x\u{202e}y\u{9b}"],
        ]);
        assert_eq!(
            d,
            "a,b\r\nplain,\"a,b\"\r\n\"say \"\"no\"\"\",\"line\nbreak\"\r\n\
             \\x1b]52;c;aGk=\\x07,x\\u{202e}y\\u{9b}\r\n"
        );
        // Read back with the csv crate: the same cells.
        let mut r = csv::ReaderBuilder::new().from_reader(d.as_bytes());
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|x| x.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(rows[1], ["say \"no\"", "line\nbreak"]);
    }

    #[test]
    fn files_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        to_file(&p, &["h"], [["=1+1"], ["ok"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "h\r\n'=1+1\r\nok\r\n");
        let bad = dir.path().join("no/such/dir.csv");
        let e = to_file(&bad, &["h"], [["x"]]).unwrap_err();
        assert!(e.to_string().starts_with(&bad.display().to_string()), "{e}");
    }
}
