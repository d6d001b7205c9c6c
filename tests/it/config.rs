//! Project-file loading: every invalid file under tests/invalid_configs fails with exit code 3,
//! naming the file, line and column and what was expected; valid files load.

use crate::support;

use std::path::Path;
use std::process::Command;

fn check(path: &Path) -> std::process::Output {
    Command::new(support::bin())
        .arg("check")
        .arg(path)
        .env_remove("CUTOVER_TEST_SURELY_UNSET")
        .output()
        .unwrap()
}

#[test]
fn every_invalid_config_fails_with_a_located_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        n += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no '# expect:' line",
            path.display()
        );
        let out = check(&path);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{}: {err}", path.display());
        for e in expects {
            assert!(
                err.contains(e),
                "{}: expected {e:?} in {err:?}",
                path.display()
            );
        }
        if let Some(at) = text.lines().find_map(|l| l.strip_prefix("# at: ")) {
            assert!(
                err.contains(&format!("{at}: ")),
                "{}: expected location {at} in {err:?}",
                path.display()
            );
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(n >= 15, "only {n} invalid configs");
}

#[test]
fn valid_configs_and_the_sample_project_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = check(&root.join("tests/valid_configs/with_csv.toml"));
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("mailboxes 3 in batches pilot, wave-1"), "{so}");
    // The preset sets Exchange Online's port and size limit.
    assert!(so.contains("outlook.office365.com:993"), "{so}");
    let out = check(&root.join("sample-project.toml"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn secrets_never_reach_the_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = check(&root.join("tests/valid_configs/with_csv.toml"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [
        "alice-secret",
        "pw,with,commas",
        "carol-secret",
        "alice-dst",
    ] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

/// Every sample project under examples/ loads (`cutover check`), with the secrets it names in
/// `*_env` keys set to placeholders: a documented example that does not load is a bug.
#[test]
fn every_example_project_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        n += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        // Checked from a copy, so that the logs it opens are not written into examples/.
        let scratch = tempfile::tempdir().unwrap();
        let copy = scratch.path().join(path.file_name().unwrap());
        std::fs::write(&copy, &text).unwrap();
        let mut cmd = Command::new(support::bin());
        cmd.arg("check").arg(&copy);
        for var in text
            .split('"')
            .collect::<Vec<_>>()
            .windows(2)
            .filter_map(|w| {
                w[0].trim_end()
                    .trim_end_matches('=')
                    .trim_end()
                    .ends_with("_env")
                    .then_some(w[1])
            })
        {
            cmd.env(var, "placeholder-secret");
        }
        let out = cmd.output().unwrap();
        let so = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {so}{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        // An HTTP API endpoint is shown by its URL, not as a host, port and TLS mode.
        if text.contains("kind = \"graph\"") {
            assert!(so.contains("Graph https://graph.microsoft.com "), "{so}");
        }
        if text.contains("kind = \"gmail\"") {
            assert!(so.contains("Gmail https://gmail.googleapis.com "), "{so}");
        }
        assert!(!so.contains("googleapis.com:993") && !so.contains("graph.microsoft.com:993"));
    }
    assert!(n >= 1, "no example projects");
}

/// A number too large for what it sizes (a semaphore of 2^64 permits panicked `plan`) is a
/// located configuration error for every command, not a crash.
#[test]
fn out_of_range_numbers_are_config_errors_for_every_command() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/invalid_configs/max_connections_overflow.toml");
    for cmd in ["check", "plan", "run", "verify"] {
        let out = Command::new(support::bin())
            .arg(cmd)
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{cmd}: {err}");
        assert!(
            err.contains("max_connections_overflow.toml:12:19: source.max_connections: 18446744073709551615 is out of range"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// 20,000 mailboxes in the project file and 20,000 more in its CSV load, each located by its
/// own line. Loading is linear (line starts are indexed once, see `config::lines`); the
/// release binary loads this in well under a second (`bench/config-load.sh`). The bound
/// here is only a tripwire for a return of the per-mailbox rescan, which took 50 s for the
/// inline half on a debug build.
#[test]
fn twenty_thousand_mailboxes_load_inline_and_from_csv() {
    use std::fmt::Write;
    use support::project::{login, mailbox};
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let endpoint = toml::toml! {
        kind = "imap"
        host = "127.0.0.1"
        security = "none"
    };
    let mut b = support::ProjectBuilder::new("big")
        .set("project.state", "s.sqlite")
        .set("project.mailboxes_csv", "m.csv")
        .source(endpoint.clone())
        .destination(endpoint);
    for i in 0..n {
        b = b.mailbox(mailbox(
            Some(&format!("b{}", i % 10)),
            login(&format!("u{i}"), "p"),
            login(&format!("u{i}@d"), "p"),
        ));
    }
    let t = b.to_toml();
    // The last inline mailbox again: the duplicate error must name its line.
    let last = n - 1;
    let with_dup = b
        .mailbox(mailbox(
            None,
            login(&format!("u{last}"), "p"),
            login(&format!("u{last}@d"), "p"),
        ))
        .to_toml();
    let dup_line = with_dup
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[mailbox]]")
        .last()
        .unwrap()
        .0
        + 1;
    let mut csv = String::from("EmailAddress,UserName,Password,DestinationPassword,Batch\n");
    for i in 0..n {
        writeln!(csv, "c{i}@d,c{i},p,p,c{}", i % 10).unwrap();
    }
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    let project = dir.path().join("big.toml");
    std::fs::write(&project, &t).unwrap();
    let started = std::time::Instant::now();
    let out = check(&project);
    let took = started.elapsed();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("mailboxes 40000 in batches"), "{so}");
    assert!(
        took < std::time::Duration::from_secs(30),
        "loading 40,000 mailboxes took {took:?}"
    );
    std::fs::write(&project, &with_dup).unwrap();
    let out = check(&project);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "big.toml:{dup_line}:1: mailbox u{0}->u{0}@d is listed twice",
            n - 1
        )),
        "{err}"
    );
}
