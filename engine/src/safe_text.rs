//! Text from servers, mail and the journal made safe for a terminal.
//!
//! A folder name, a server's `NO` text or a Subject can carry escape sequences: OSC 52 writes
//! the operator's clipboard, `ESC[2J` clears the screen, OSC 0 retitles the window, a bidi
//! override reorders what is read. Every printer (the CLI's stdout and stderr, the Markdown,
//! HTML and CSV reports, the control socket's replies) passes such text through [`terminal`],
//! which shows those characters escaped and leaves everything else as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must never reach a terminal raw: C0 controls other than tab and newline, DEL,
/// C1 controls (U+0080–U+009F) and the bidi embedding, override and isolate controls
/// (U+202A–U+202E, U+2066–U+2069).
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x08'
            | '\x0b'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `s` with every [unsafe](is_unsafe) character shown escaped: `\x1b` for C0 controls and
/// DEL, `\u{9b}` / `\u{202e}` for C1 and bidi controls. Everything else, tab and newline
/// included, is untouched; text that needs nothing is returned borrowed.
pub fn terminal(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(is_unsafe) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if is_unsafe(c) {
            let n = u32::from(c);
            if n < 0x80 {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`terminal`] for an owned string: no copy when nothing needs escaping.
pub fn terminal_owned(s: String) -> String {
    match terminal(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_what_a_terminal_would_run() {
        assert_eq!(terminal("a\x1b]52;c;aGk=\x07b"), "a\\x1b]52;c;aGk=\\x07b");
        assert_eq!(terminal("\x1b[2J"), "\\x1b[2J");
        assert_eq!(terminal("x\u{9b}2J"), "x\\u{9b}2J");
        assert_eq!(terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(terminal("\u{2066}i\u{2069}"), "\\u{2066}i\\u{2069}");
        assert_eq!(terminal("del\x7f"), "del\\x7f");
        assert_eq!(terminal("nul\0cr\r"), "nul\\x00cr\\x0d");
        assert_eq!(terminal("\u{80}\u{9f}"), "\\u{80}\\u{9f}");
    }

    #[test]
    fn leaves_everything_else_alone_without_a_copy() {
        for s in [
            "",
            "Inbox/Archive 2019",
            "tab\tand\nnewline",
            "Entwürfe 草稿 📨 \u{a0}\u{200b}\u{202f}\u{2065}\u{206a}",
            "back\\slash \"quoted\" [x](y) `z` =1+2",
        ] {
            assert!(matches!(terminal(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(terminal(s), s);
        }
    }

    #[test]
    fn owned_variant_keeps_or_escapes() {
        assert_eq!(terminal_owned("plain".into()), "plain");
        assert_eq!(terminal_owned("\x1b".into()), "\\x1b");
    }

    proptest! {
        #[test]
        fn output_never_holds_an_unsafe_character(s in any::<String>()) {
            let t = terminal(&s);
            prop_assert!(!t.chars().any(is_unsafe), "{:?} -> {:?}", s, t);
        }

        #[test]
        fn unsafe_characters_in_any_text_come_out_escaped(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[ -~]{0,8}",
                    r"[\x00-\x1f\x7f-\x{9f}\x{202a}-\x{202e}\x{2066}-\x{2069}]",
                    r"[\x{a0}-\x{2fff}]{0,3}",
                ],
                0..12,
            )
        ) {
            let s: String = parts.concat();
            let t = terminal(&s);
            prop_assert!(!t.chars().any(is_unsafe));
            // Walk the input: each safe character is in the output as it is, each unsafe one
            // as its escape, in order, nothing dropped or added.
            let mut rest: &str = &t;
            for c in s.chars() {
                let n = u32::from(c);
                let want = if !is_unsafe(c) {
                    c.to_string()
                } else if n < 0x80 {
                    format!("\\x{n:02x}")
                } else {
                    format!("\\u{{{n:x}}}")
                };
                prop_assert!(rest.starts_with(&want), "{:?} at {:?}", want, rest);
                rest = &rest[want.len()..];
            }
            prop_assert!(rest.is_empty());
            let unsafe_count = s.chars().filter(|c| is_unsafe(*c)).count();
            prop_assert_eq!(matches!(t, Cow::Borrowed(_)), unsafe_count == 0);
        }
    }
}
