//! Any bytes as a project file: `config::load` returns a project or a located error, never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

fuzz_target!(|data: &[u8]| {
    let path = dir().path().join("project.toml");
    std::fs::write(&path, data).expect("write the input");
    let _ = cutover_engine::config::load(&path);
});
