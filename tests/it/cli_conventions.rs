//! Command-line conventions: `--version` with the commit, recorded in the journal for each
//! run; shell completions and manual pages generated from the CLI definition; the log file
//! named when a run starts, and a warning (not silence) when no log can be written.

use std::process::Command;

use crate::support;

use support::*;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cutover-cli")
        .tempdir()
        .unwrap()
}

fn cutover(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run cutover")
}

/// Whether `commit` is HEAD of the checkout under test or one of its ancestors (a commit made
/// while the tests ran moves HEAD past the binary's); None when this is no git checkout.
fn in_checkout_history(commit: &str) -> Option<bool> {
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !head.status.success() {
        return None;
    }
    let out = Command::new("git")
        .args(["merge-base", "--is-ancestor", commit, "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    Some(out.status.success())
}

fn version_of_binary() -> String {
    let v = cutover(&["--version"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let line = stdout(&v).trim().to_string();
    let re = regex::Regex::new(r"^cutover \d+\.\d+\.\d+ \((commit [0-9a-f]{12}|unknown commit)\)$")
        .unwrap();
    assert!(re.is_match(&line), "{line:?}");
    line.trim_start_matches("cutover ").to_string()
}

#[test]
fn version_names_the_commit_and_every_run_records_it() {
    let version = version_of_binary();
    if let Some(c) = version
        .split("commit ")
        .nth(1)
        .map(|c| c.trim_end_matches(')'))
        && let Some(known) = in_checkout_history(c)
    {
        assert!(
            known,
            "--version {version:?} names a commit of this checkout"
        );
    }
    let root = tmp();
    let users = [("vera", "vera-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &["--no-gmail"]);
    src.seed("vera", 3, 61, &["--no-tricky"]);
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&[MailboxLine {
            batch: "b",
            user: "vera",
            pass: "vera-pw",
        }])
        .create();
    let run = p.cutover(&["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    // The run names its log file, and that file is where the run logged.
    let said = stdout(&run);
    let log = said
        .lines()
        .next()
        .and_then(|l| l.split("; log ").nth(1))
        .unwrap_or_else(|| panic!("the first line names the log: {said}"));
    let logged = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{log}: {e}"));
    assert!(logged.contains("vera"), "{logged}");
    let a = p.cutover(&["assess"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    let db = rusqlite::Connection::open(p.dir.path().join("state.sqlite")).unwrap();
    let rows: Vec<(String, Option<String>)> = db
        .prepare("SELECT command, version FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            ("run".to_string(), Some(version.clone())),
            ("assess".to_string(), Some(version.clone())),
        ]
    );
    let report = p.cutover(&["report", "--kind", "final"]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    assert!(
        stdout(&report).contains(&format!(
            "Commands ran with cutover {version}: 2 runs, from "
        )),
        "{}",
        text(&report)
    );
}

#[test]
fn completions_load_in_bash_and_name_every_command() {
    let bash = cutover(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0), "{}", text(&bash));
    let dir = tmp();
    let script = dir.path().join("cutover.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    // A real bash loads it and registers the completion function.
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; complete -p cutover; COMP_WORDS=(cutover ba); COMP_CWORD=1; _cutover cutover ba cutover; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&loaded.stdout);
    assert!(
        loaded.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(out.contains("-F _cutover cutover"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap_or("")
            .split(' ')
            .any(|w| w == "backup"),
        "{out}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = cutover(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", text(&o));
        for cmd in ["run", "rollback", "restore", "completions"] {
            assert!(stdout(&o).contains(cmd), "{shell} names {cmd}");
        }
    }
    let bad = cutover(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2), "a usage error: {}", text(&bad));
}

#[test]
fn man_pages_cover_every_command() {
    let page = cutover(&["man"]);
    assert_eq!(page.status.code(), Some(0), "{}", text(&page));
    let roff = stdout(&page);
    assert!(roff.contains(".TH cutover 1"), "{roff}");
    let dir = tmp();
    let out = cutover(&["man", "--dir", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for cmd in [
        "run",
        "assess",
        "verify",
        "plan",
        "check",
        "rollback",
        "failback",
        "finalize",
        "backup",
        "restore",
        "stop",
        "login",
        "report",
        "tui",
        "watch",
        "completions",
        "man",
    ] {
        assert!(roff.contains(cmd), "the page lists {cmd}");
        let p = dir.path().join(format!("cutover-{cmd}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.contains(&format!(".TH cutover-{cmd} 1")), "{text}");
        assert!(text.contains(".SH SYNOPSIS"), "{text}");
    }
}

#[test]
fn a_log_that_cannot_be_written_is_a_warning_not_silence() {
    let dir = tmp();
    // The log directory's place is taken by a file.
    std::fs::write(dir.path().join("not-a-dir"), b"x").unwrap();
    let p = ProjectBuilder::new("no-log")
        .source(project::imap(1))
        .destination(project::imap(2))
        .mailbox(project::mailbox(
            None,
            project::login("u", "pw"),
            project::login("u", "pw"),
        ))
        .set(
            "project.log_dir",
            dir.path().join("not-a-dir/logs").display().to_string(),
        )
        .create();
    let check = p.cutover(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("cutover: warning: no log file for this command: cannot create")
            && err.contains("not-a-dir/logs"),
        "{err}"
    );
}
