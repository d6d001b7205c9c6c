//! One module per console tab: each draws its tab from the app state.

pub mod batches;
pub mod checklist;
pub mod emergency;
pub mod fleet;
pub mod issues;
