//! The commit the binary was built from, for `cutover --version`, the journal's `runs` rows
//! and the reports: `CUTOVER_COMMIT` from the environment (packagers), else `git rev-parse`
//! of HEAD (uncommitted changes are not marked), else "unknown commit" (a source tarball).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=CUTOVER_COMMIT");
    let commit = std::env::var("CUTOVER_COMMIT").ok().or_else(|| {
        // Rebuilt when HEAD moves (a commit, a checkout).
        if let Some(path) = git(&["rev-parse", "--git-path", "HEAD"]) {
            println!("cargo:rerun-if-changed={path}");
        }
        // ... and when its branch moves: the loose ref, or the packed refs once `git gc`
        // packed it (only files that exist: a missing one would rerun this on every build).
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            for p in [r.as_str(), "packed-refs"] {
                if let Some(path) = git(&["rev-parse", "--git-path", p])
                    && std::path::Path::new(&path).exists()
                {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
        }
        git(&["rev-parse", "--short=12", "HEAD"]).map(|hash| format!("commit {hash}"))
    });
    println!(
        "cargo:rustc-env=CUTOVER_COMMIT={}",
        commit.unwrap_or_else(|| "unknown commit".into())
    );
}
