//! Hostile input, generated (proptest): folder names through the mapping and modified UTF-7
//! round-trip exactly; random and mutated project files and CSVs never panic the loader and
//! are refused with an error that names the file, line and column.

use std::path::{Path, PathBuf};

use cutover_engine::config::{self, FolderRules, Preset};
use cutover_engine::endpoint::Folder;
use cutover_engine::mail::utf7::{decode_mutf7, encode_mutf7};
use cutover_engine::sync::mapping::{MapInput, map_folders};
use proptest::prelude::*;

/// Characters folder names are made of: ASCII (with the separators and '&'), accented Latin,
/// CJK, and characters outside the BMP (UTF-16 surrogate pairs in modified UTF-7).
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range(' ', '~'),
        1 => Just('&'),
        1 => Just('-'),
        1 => proptest::char::range('\u{a0}', '\u{17f}'),
        1 => proptest::char::range('\u{4e00}', '\u{4e80}'),
        1 => proptest::char::range('\u{1f600}', '\u{1f64f}'),
    ]
}

fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(name_char(), 1..12).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn modified_utf7_round_trips_and_is_printable_ascii(s in name()) {
        let wire = encode_mutf7(&s);
        prop_assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)), "{wire:?}");
        prop_assert_eq!(decode_mutf7(&wire), s);
    }

    #[test]
    fn folder_paths_map_level_for_level_through_separators_and_utf7(
        path in proptest::collection::vec(name(), 1..5),
        src_slash in any::<bool>(),
        dst_slash in any::<bool>(),
    ) {
        let (sd, dd) = (
            if src_slash { '/' } else { '.' },
            if dst_slash { '/' } else { '.' },
        );
        // A source name cannot contain the source separator; INBOX is normalised on purpose.
        let path: Vec<String> = path
            .into_iter()
            .map(|c| c.replace(sd, "x"))
            .filter(|c| !c.trim().is_empty())
            .collect();
        prop_assume!(!path.is_empty() && !path[0].eq_ignore_ascii_case("inbox"));
        let src = Folder {
            wire_name: path.iter().map(|c| encode_mutf7(c)).collect::<Vec<_>>().join(&sd.to_string()),
            path: path.clone(),
            delimiter: Some(sd),
            special: None,
            selectable: true,
        };
        let rules = FolderRules { separator_substitute: '_', ..Default::default() };
        let maps = map_folders(&MapInput {
            src: std::slice::from_ref(&src),
            dst: &[],
            src_preset: Preset::Generic,
            dst_delimiter: dd,
            rules: &rules,
        });
        prop_assert_eq!(maps.len(), 1);
        let m = &maps[0];
        // Well-known names ("Sent", "Trash" ...) may be routed to a special-use folder; with
        // no destination folder of that role they keep their name, like every other.
        let wire = m.dst_wire.clone().expect("mapped");
        prop_assert!(wire.is_ascii());
        let back: Vec<String> = wire.split(dd).map(decode_mutf7).collect();
        let want: Vec<String> = path.iter().map(|c| c.replace(dd, "_")).collect();
        prop_assert_eq!(&back, &want, "wire {:?}", wire);
        prop_assert_eq!(m.dst_display.clone(), want.join("/"));
    }
}

/// A copy of tests/valid_configs (a project with a CSV) in a temporary directory.
fn valid_project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valid_configs");
    for f in ["with_csv.toml", "users.csv", "carol.secret"] {
        std::fs::copy(from.join(f), dir.path().join(f)).unwrap();
    }
    let p = dir.path().join("with_csv.toml");
    (dir, p)
}

/// Random edits of a text: delete, insert or replace a few bytes, duplicate a line.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Replace(usize, u8),
    DupLine(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"\"",
        b"'",
        b"=",
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b"\n",
        b"#",
        b"\\",
        b"\r",
        b"\0",
        b"\xff",
        b"[[mailbox]]\n",
        b"port = 99999999999\n",
        b"x = ",
        b"\"\"\"",
        b"\xc3",
    ];
    let edit = prop_oneof![
        (any::<usize>(), 1..20usize).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), proptest::sample::select(tokens))
            .prop_map(|(a, t)| Edit::Insert(a, t.to_vec())),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(a, b)| Edit::Insert(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
        any::<usize>().prop_map(Edit::DupLine),
    ];
    proptest::collection::vec(edit, 1..5)
}

fn apply(mut t: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = t.len().max(1);
        match e {
            Edit::Delete(a, n) => {
                let a = a % len;
                let b = (a + n).min(t.len());
                if a < b {
                    t.drain(a..b);
                }
            }
            Edit::Insert(a, bytes) => {
                let a = a % (t.len() + 1);
                t.splice(a..a, bytes.iter().copied());
            }
            Edit::Replace(a, b) => {
                if !t.is_empty() {
                    let a = a % t.len();
                    t[a] = *b;
                }
            }
            Edit::DupLine(a) => {
                let lines: Vec<&[u8]> = t.split(|b| *b == b'\n').collect();
                let i = a % lines.len();
                let mut out = Vec::new();
                for (j, l) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    if j == i {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                    }
                }
                t = out;
            }
        }
    }
    t
}

/// Errors without a line are about the file as a whole or a file it refers to.
fn whole_file_error(msg: &str) -> bool {
    msg.contains("no mailboxes")
}

fn check_error(e: &config::ConfigError, expect_file: &Path) -> Result<(), TestCaseError> {
    let shown = e.to_string();
    prop_assert!(!e.message.is_empty());
    if e.file == expect_file {
        prop_assert!(
            e.line >= 1 || whole_file_error(&e.message),
            "no line in {shown:?}"
        );
        if e.line >= 1 {
            prop_assert!(e.column >= 1, "no column in {shown:?}");
            prop_assert!(
                shown.starts_with(&format!("{}:{}:{}: ", e.file.display(), e.line, e.column)),
                "{shown:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_as_a_project_file_are_refused_with_a_location(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        let (_d, p) = valid_project();
        std::fs::write(&p, &bytes).unwrap();
        match config::load(&p) {
            Ok(_) => {}
            Err(e) => check_error(&e, &p)?,
        }
    }

    #[test]
    fn mutated_project_files_never_panic_and_errors_have_a_location(ed in edits()) {
        let (_d, p) = valid_project();
        let t = apply(std::fs::read(&p).unwrap(), &ed);
        std::fs::write(&p, &t).unwrap();
        if let Err(e) = config::load(&p) {
            check_error(&e, &p)?;
        }
    }

    #[test]
    fn mutated_csvs_never_panic_and_errors_name_the_csv_line_and_column(ed in edits()) {
        let (d, p) = valid_project();
        let csv = d.path().join("users.csv");
        let t = apply(std::fs::read(&csv).unwrap(), &ed);
        std::fs::write(&csv, &t).unwrap();
        if let Err(e) = config::load(&p) {
            check_error(&e, &csv)?;
            check_error(&e, &p)?;
        }
    }
}
