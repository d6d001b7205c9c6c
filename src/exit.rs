//! Exit codes, documented in docs/guide/commands.md ("Exit codes"): they must not change.

pub const OK: u8 = 0;
pub const INTERNAL: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 3;
pub const AUTH: u8 = 4;
pub const CONNECTION: u8 = 5;
pub const PARTIAL: u8 = 6;
pub const MISMATCH: u8 = 7;
pub const STOPPED: u8 = 8;
pub const JOURNAL: u8 = 9;
pub const BUSY: u8 = 10;
pub const GATE: u8 = 11;
