//! The journal's SQL is written once, in SQLite's dialect; this rewrites it for PostgreSQL.
//!
//! The differences it handles, outside string literals and comments: `?N` and `?` become
//! `$N`; SQLite's timestamp expression (`strftime('%Y-%m-%dT%H:%M:%fZ','now')`) becomes the
//! same text from PostgreSQL's clock; `INSERT OR IGNORE` becomes `INSERT … ON CONFLICT DO
//! NOTHING`; `INTEGER PRIMARY KEY` an identity column; the types `INTEGER` and `REAL`
//! become `BIGINT` and `DOUBLE PRECISION`; `ifnull` becomes `coalesce`, `instr` `strpos`,
//! `rowid` `ctid`; the two-argument scalar `max(a, b)` and `min(a, b)` become `greatest` and
//! `least`; `a IS b` (NULL-safe) becomes `IS NOT DISTINCT FROM`; `BEGIN IMMEDIATE` becomes
//! `BEGIN`. What is left (`julianday`, `sum` over a
//! comparison) is provided by functions the journal creates in the database (`schema.rs`).
//! A new schema step written in the existing style needs no change here.

/// SQLite's timestamp of now, the text every journal timestamp has.
pub(super) const SQLITE_NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";
/// The same text from PostgreSQL (the statement's time, as in SQLite, not the transaction's).
pub(super) const PG_NOW: &str =
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    /// A string literal, comment, quoted identifier or whitespace, copied as it is.
    Verbatim(String),
    /// `?` or `?N` (N is 0 for a bare `?`).
    Param(usize),
    Punct(char),
}

fn tokens(sql: &str) -> Vec<Tok> {
    let cs: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '\'' || c == '"' {
            let mut j = i + 1;
            loop {
                if j >= cs.len() {
                    break;
                }
                if cs[j] == c {
                    if j + 1 < cs.len() && cs[j + 1] == c {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let end = (j + 1).min(cs.len());
            out.push(Tok::Verbatim(cs[i..end].iter().collect()));
            i = end;
        } else if c == '-' && cs.get(i + 1) == Some(&'-') {
            let mut j = i;
            while j < cs.len() && cs[j] != '\n' {
                j += 1;
            }
            out.push(Tok::Verbatim(cs[i..j].iter().collect()));
            i = j;
        } else if c.is_whitespace() {
            let mut j = i;
            while j < cs.len() && cs[j].is_whitespace() {
                j += 1;
            }
            out.push(Tok::Verbatim(cs[i..j].iter().collect()));
            i = j;
        } else if c == '?' {
            let mut j = i + 1;
            while j < cs.len() && cs[j].is_ascii_digit() {
                j += 1;
            }
            let n: String = cs[i + 1..j].iter().collect();
            out.push(Tok::Param(n.parse().unwrap_or(0)));
            i = j;
        } else if c.is_alphanumeric() || c == '_' || c == '.' && i > 0 && is_word(cs[i - 1]) {
            let mut j = i;
            while j < cs.len() && (is_word(cs[j]) || cs[j] == '.') {
                j += 1;
            }
            out.push(Tok::Word(cs[i..j].iter().collect()));
            i = j;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
}

/// The index of the next token after `i` that is not whitespace or a comment.
fn next_sig(ts: &[Tok], i: usize) -> Option<usize> {
    (i + 1..ts.len()).find(
        |&j| !matches!(&ts[j], Tok::Verbatim(v) if v.trim().is_empty() || v.starts_with("--")),
    )
}

/// The number of top-level arguments of the call whose `(` is at `open`.
fn top_level_args(ts: &[Tok], open: usize) -> usize {
    let mut depth = 0;
    let mut args = 1;
    for t in &ts[open..] {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Tok::Punct(',') if depth == 1 => args += 1,
            _ => {}
        }
    }
    args
}

/// Whether the operand at `j` after `IS` is a value (a parameter or a column) rather than
/// `NULL`, `NOT`, `TRUE`, `FALSE`, `DISTINCT` or `UNKNOWN`.
fn null_safe_operand(ts: &[Tok], j: Option<usize>) -> bool {
    match j.map(|j| &ts[j]) {
        Some(Tok::Param(_)) => true,
        Some(Tok::Word(w)) => !["null", "not", "true", "false", "distinct", "unknown"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k)),
        _ => false,
    }
}

/// Words that are SQL, not columns, in an upsert's `DO UPDATE SET` (see [`to_postgres`]).
const KEYWORDS: &[&str] = &[
    "case", "when", "then", "else", "end", "and", "or", "not", "null", "is", "in", "true", "false",
    "distinct", "from", "like", "between", "at", "time", "zone", "where", "set",
];

/// One statement (or several separated by `;`) in PostgreSQL's dialect.
pub fn to_postgres(sql: &str) -> String {
    let sql = sql.replace(SQLITE_NOW, PG_NOW);
    let ts = tokens(&sql);
    let mut out = String::with_capacity(sql.len() + 32);
    let mut bare = 0;
    let mut ignore = false;
    // In `INSERT INTO t … ON CONFLICT … DO UPDATE SET`: SQLite reads a bare column there
    // as the existing row's, PostgreSQL calls it ambiguous (the row or `excluded`): it is
    // qualified with the table's name, except the columns assigned.
    let mut table: Option<String> = None;
    let mut upsert = false;
    let mut depth = 0i32;
    let mut assigning = false;
    let mut i = 0;
    while i < ts.len() {
        match &ts[i] {
            Tok::Param(n) => {
                let n = if *n == 0 {
                    bare += 1;
                    bare
                } else {
                    *n
                };
                out.push_str(&format!("${n}"));
            }
            Tok::Punct(';') => {
                if ignore {
                    out.push_str(" ON CONFLICT DO NOTHING");
                    ignore = false;
                }
                (table, upsert) = (None, false);
                out.push(';');
            }
            Tok::Punct(c) => {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if upsert && depth == 0 => assigning = true,
                    _ => {}
                }
                out.push(*c);
            }
            Tok::Verbatim(v) => out.push_str(v),
            Tok::Word(w) => {
                let lower = w.to_ascii_lowercase();
                let next = next_sig(&ts, i);
                let next_tok = next.map(|j| &ts[j]);
                if lower == "into" && table.is_none() {
                    if let Some(Tok::Word(t)) = next_tok {
                        table = Some(t.clone());
                    }
                } else if lower == "set" && table.is_some() {
                    let mut words = (0..i).rev().filter_map(|j| match &ts[j] {
                        Tok::Word(w) => Some(w.as_str()),
                        _ => None,
                    });
                    if words
                        .next()
                        .is_some_and(|w| w.eq_ignore_ascii_case("update"))
                        && words.next().is_some_and(|w| w.eq_ignore_ascii_case("do"))
                    {
                        (upsert, depth, assigning) = (true, 0, true);
                        out.push_str(w);
                        i += 1;
                        continue;
                    }
                }
                if upsert {
                    let column = !w.contains('.')
                        && !w.starts_with(|c: char| c.is_ascii_digit())
                        && next_tok != Some(&Tok::Punct('('))
                        && !KEYWORDS.contains(&lower.as_str());
                    if column && assigning {
                        assigning = false;
                    } else if column && let Some(t) = &table {
                        out.push_str(&format!("{t}.{w}"));
                        i += 1;
                        continue;
                    }
                }
                match lower.as_str() {
                    "insert" if is(next_tok, "or") => {
                        let j = next.expect("checked");
                        let k = next_sig(&ts, j);
                        if is(k.map(|k| &ts[k]), "ignore") {
                            out.push_str(w);
                            ignore = true;
                            i = k.expect("checked") + 1;
                            continue;
                        }
                        out.push_str(w);
                    }
                    "begin" if is(next_tok, "immediate") => {
                        out.push_str(w);
                        i = next.expect("checked") + 1;
                        continue;
                    }
                    "integer" => {
                        let k = next.and_then(|j| next_sig(&ts, j));
                        if is(next_tok, "primary") && is(k.map(|k| &ts[k]), "key") {
                            out.push_str("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                            i = k.expect("checked") + 1;
                            continue;
                        }
                        out.push_str("BIGINT");
                    }
                    "real" => out.push_str("DOUBLE PRECISION"),
                    "ifnull" if next_tok == Some(&Tok::Punct('(')) => out.push_str("coalesce"),
                    "instr" if next_tok == Some(&Tok::Punct('(')) => out.push_str("strpos"),
                    "rowid" => out.push_str("ctid"),
                    // SQLite's `a IS b` / `a IS NOT b` compare with NULL equal to NULL.
                    "is" if null_safe_operand(&ts, next) => out.push_str("IS NOT DISTINCT FROM"),
                    "is" if is(next_tok, "not")
                        && null_safe_operand(&ts, next.and_then(|j| next_sig(&ts, j))) =>
                    {
                        out.push_str("IS DISTINCT FROM");
                        i = next.expect("checked") + 1;
                        continue;
                    }
                    "max" | "min" if next_tok == Some(&Tok::Punct('(')) => {
                        let scalar = top_level_args(&ts, next.expect("checked")) > 1;
                        out.push_str(match (scalar, lower.as_str()) {
                            (true, "max") => "greatest",
                            (true, _) => "least",
                            _ => w.as_str(),
                        });
                    }
                    _ => out.push_str(w),
                }
            }
        }
        i += 1;
    }
    if ignore {
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push_str(" ON CONFLICT DO NOTHING");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_functions_are_rewritten_outside_literals() {
        assert_eq!(
            to_postgres("SELECT ifnull(a, '?1 max(x, y)') FROM t WHERE b = ?2 AND c = ? AND d = ?"),
            "SELECT coalesce(a, '?1 max(x, y)') FROM t WHERE b = $2 AND c = $1 AND d = $2"
        );
        assert_eq!(
            to_postgres("UPDATE f SET h = max(h, ?2), l = min(l, (SELECT max(x) FROM y))"),
            "UPDATE f SET h = greatest(h, $2), l = least(l, (SELECT max(x) FROM y))"
        );
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO t(a) VALUES (?1)\n  "),
            "INSERT INTO t(a) VALUES ($1) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            to_postgres(&format!(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, -- it's\n n INTEGER, r REAL, at TEXT DEFAULT ({SQLITE_NOW}))"
            )),
            format!(
                "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, -- it's\n n BIGINT, r DOUBLE PRECISION, at TEXT DEFAULT ({PG_NOW}))"
            )
        );
        assert_eq!(
            to_postgres("BEGIN IMMEDIATE; INSERT OR IGNORE INTO m(k) VALUES ('a'); COMMIT;"),
            "BEGIN; INSERT INTO m(k) VALUES ('a') ON CONFLICT DO NOTHING; COMMIT;"
        );
        assert_eq!(
            to_postgres("WHERE a IS ?2 AND b IS NOT c AND d IS NULL AND e IS NOT NULL"),
            "WHERE a IS NOT DISTINCT FROM $2 AND b IS DISTINCT FROM c AND d IS NULL AND e IS NOT NULL"
        );
        assert_eq!(
            to_postgres(
                "INSERT INTO issues(a, n) VALUES (?1, ?2) ON CONFLICT(a, coalesce(b, '')) DO UPDATE SET n = n + 1, \
                 note = coalesce(excluded.note, note), s = CASE WHEN s = 'x' THEN 'y' ELSE s END"
            ),
            "INSERT INTO issues(a, n) VALUES ($1, $2) ON CONFLICT(a, coalesce(b, '')) DO UPDATE SET n = issues.n + 1, \
                 note = coalesce(excluded.note, issues.note), s = CASE WHEN issues.s = 'x' THEN 'y' ELSE issues.s END"
        );
        assert_eq!(
            to_postgres("SELECT x FROM a ORDER BY rowid"),
            "SELECT x FROM a ORDER BY ctid"
        );
    }
}
