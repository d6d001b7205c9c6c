//! Printing. Every line this binary prints goes through these four macros, which shadow the std
//! macros of the same names: text from servers, mail and the journal (folder names, server replies inside
//! error messages, socket replies) is shown with control and bidi characters escaped
//! (`cutover_engine::safe_text::terminal`), so it can never drive the operator's terminal. A
//! closed pipe (`cutover plan P | head`) drops the rest quietly instead of panicking.
//!
//! `main.rs` declares this module first, with `#[macro_use]`, so every other module sees them.

macro_rules! println {
    () => { $crate::out::say(&mut std::io::stdout().lock(), "", true) };
    ($($t:tt)*) => { $crate::out::say(&mut std::io::stdout().lock(), &format!($($t)*), true) };
}
macro_rules! print {
    ($($t:tt)*) => { $crate::out::say(&mut std::io::stdout().lock(), &format!($($t)*), false) };
}
macro_rules! eprintln {
    () => { $crate::out::say(&mut std::io::stderr().lock(), "", true) };
    ($($t:tt)*) => { $crate::out::say(&mut std::io::stderr().lock(), &format!($($t)*), true) };
}
// Unused today; here so an `eprint!` added later cannot bypass the escaping.
#[allow(unused_macros)]
macro_rules! eprint {
    ($($t:tt)*) => { $crate::out::say(&mut std::io::stderr().lock(), &format!($($t)*), false) };
}

/// Write `text` (escaped for the terminal) and maybe a newline, ignoring a closed pipe.
pub fn say(w: &mut dyn std::io::Write, text: &str, newline: bool) {
    let mut text = cutover_engine::safe_text::terminal(text).into_owned();
    if newline {
        text.push('\n');
    }
    let _ = w.write_all(text.as_bytes());
}

/// A byte count as printed (SI units).
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}
