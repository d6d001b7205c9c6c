//! Any bytes as the mailbox CSV of a valid project: a project or a located error, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn project() -> &'static (tempfile::TempDir, PathBuf) {
    static P: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/valid_configs");
        for f in ["with_csv.toml", "users.csv", "carol.secret"] {
            std::fs::copy(from.join(f), dir.path().join(f)).expect("copy the valid project");
        }
        let p = dir.path().join("with_csv.toml");
        (dir, p)
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, path) = project();
    std::fs::write(dir.path().join("users.csv"), data).expect("write the input");
    let _ = cutover_engine::config::load(path);
});
