//! The `cutover` binary's library half: the console ([`ui`]), exposed as a library so that the
//! rendering and key-handling tests can drive it. Everything else lives in `cutover-engine`.

pub mod ui;

/// The version and the commit it was built from (see `build.rs`): `--version`, the journal's
/// `runs` rows, the reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CUTOVER_COMMIT"), ")");
