//! The `cutover` binary's library half: the console ([`ui`]), exposed as a library so that the
//! rendering and key-handling tests can drive it. Everything else lives in `cutover-engine`.

pub mod ui;
