//! Local hygiene (issue 13): the control socket admits only its owner, root and the members
//! of `[project] operators_group`; the files cutover writes are private; the per-user
//! runtime directory and the lock are never reached through a planted link; `password_file`
//! is only a small regular file; `allow_plaintext` always warns.
//!
//! The tests run as root (CI): another local user is played with `setpriv` as uid/gid 65534
//! (`nobody`/`nogroup`).

use crate::support;

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

const NOBODY: u32 = 65534;

fn tmp() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("cutover-lh")
        .tempdir()
        .unwrap();
    // Traversable by the other local user, as a shared project directory would be: what
    // keeps them out must be cutover's own modes and checks.
    chmod(d.path(), 0o755);
    d
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

fn gid(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().gid()
}

/// `cutover ARGS` as uid/gid 65534 with no other groups.
fn as_nobody(args: &[&str], project: &Path) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(bin())
        .arg(args[0])
        .arg(project)
        .args(&args[1..])
        .env("USER", "second-operator")
        .output()
        .expect("run setpriv")
}

/// Whether uid/gid 65534 can read the journal (what `cutover watch` does: a read-only open).
fn nobody_reads_journal(journal: &Path) -> Result<String, String> {
    let o = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True); \
             print(c.execute('select count(*) from mailboxes').fetchone()[0])",
        ])
        .arg(journal)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).to_string())
    }
}

/// An IMAP "server" that accepts connections and never says a word: a `cutover run`
/// against it stays up (connecting, timing out, retrying) until it is stopped.
struct SilentServer {
    port: u16,
    listener: TcpListener,
}

impl SilentServer {
    fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        SilentServer {
            port: listener.local_addr().unwrap().port(),
            listener,
        }
    }

    /// Connections accepted so far (each kept open, silent).
    fn accepted(&self, held: &mut Vec<std::net::TcpStream>) -> usize {
        while let Ok((s, _)) = self.listener.accept() {
            held.push(s);
        }
        held.len()
    }
}

/// Both sides on `port` (2 s timeouts), one mailbox in batch "b" whose source logs in with
/// `source` (user u), its destination as u with password p.
fn hygiene_project(port: u16, source: toml::Table) -> ProjectBuilder {
    ProjectBuilder::new("hygiene")
        .source(project::imap(port))
        .set("source.timeout_secs", 2)
        .destination(project::imap(port))
        .set("destination.timeout_secs", 2)
        .mailbox(project::mailbox(
            Some("b"),
            source,
            project::login("u", "p"),
        ))
}

/// The project written to `dir/project.toml`, its mailbox logging in with passwords.
fn write_project(dir: &Path, port: u16) -> PathBuf {
    hygiene_project(port, project::login("u", "p")).write(dir)
}

/// Where the value of `key` starts in a project file, "LINE:COLUMN" as cutover's errors
/// name places (the first line `key = ...`).
fn value_at(file: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let prefix = format!("{key} = ");
    let line = text
        .lines()
        .position(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {key} in\n{text}"));
    format!("{}:{}", line + 1, prefix.len() + 1)
}

fn spawn_run(project: &Path, env: &[(&str, &Path)]) -> Child {
    let mut c = Command::new(bin());
    c.arg("run")
        .arg(project)
        .env_remove("XDG_RUNTIME_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn wait_for(p: &Path, run: &mut Child) {
    let end = Instant::now() + Duration::from_secs(30);
    while !p.exists() {
        if let Some(st) = run.try_wait().unwrap() {
            panic!("the run ended ({st}) before {} appeared", p.display());
        }
        assert!(Instant::now() < end, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for the run to end (bounded), with its output.
fn finish(mut run: Child) -> Output {
    let end = Instant::now() + Duration::from_secs(60);
    while run.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            run.kill().unwrap();
            panic!("the run did not end after the stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    run.wait_with_output().unwrap()
}

fn journal_issues(journal: &Path) -> Vec<String> {
    all_issues(&read_journal(journal))
        .into_iter()
        .map(|i| i.message)
        .collect()
}

#[test]
fn the_control_socket_refuses_a_user_who_is_not_owner_root_or_operator() {
    let server = SilentServer::start();
    let dir = tmp();
    let project = write_project(dir.path(), server.port);
    let journal = dir.path().join("state.sqlite");
    let socket = dir.path().join("state.sqlite.ctl");
    let mut run = spawn_run(&project, &[]);
    wait_for(&socket, &mut run);
    assert_eq!(mode(&socket), 0o600, "the socket is the owner's only");

    // The socket's mode keeps the other user out...
    let o = as_nobody(&["stop"], &project);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        text(&o).contains("refused: permission denied"),
        "{}",
        text(&o)
    );
    // ... and so does the credential check when the mode does not (a socket made
    // world-writable, or a system that ignores socket modes).
    chmod(&socket, 0o666);
    let o = as_nobody(&["stop"], &project);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("refused: uid {NOBODY} is not the owner")),
        "{}",
        text(&o)
    );
    assert!(
        run.try_wait().unwrap().is_none(),
        "a refused stop stopped the run"
    );
    // The refusal is on record for the operator.
    assert!(
        journal_issues(&journal)
            .iter()
            .any(|m| m.contains(&format!("control socket: refused a request: uid {NOBODY}"))),
        "{:?}",
        journal_issues(&journal)
    );
    // Nor can that user read the journal.
    let read = nobody_reads_journal(&journal);
    assert!(read.is_err(), "another user read the journal: {read:?}");

    // The owner can.
    let o = Command::new(bin())
        .arg("stop")
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = finish(run);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
}

#[test]
fn a_member_of_the_operators_group_may_stop_and_read_the_run() {
    let server = SilentServer::start();
    let dir = tmp();
    let project = hygiene_project(server.port, project::login("u", "p"))
        .set("project.operators_group", "nogroup")
        .write(dir.path());
    let journal = dir.path().join("state.sqlite");
    let socket = dir.path().join("state.sqlite.ctl");
    let mut run = spawn_run(&project, &[]);
    wait_for(&socket, &mut run);
    // Shared with the group, nobody else.
    assert_eq!(mode(&socket), 0o660);
    assert_eq!(gid(&socket), NOBODY);
    assert_eq!(mode(&journal), 0o660);
    assert_eq!(gid(&journal), NOBODY);
    let read = nobody_reads_journal(&journal);
    assert_eq!(read.as_deref(), Ok("1"), "the operator reads the journal");

    let o = as_nobody(&["stop"], &project);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("emergency stop of all batches by second-operator"),
        "{}",
        text(&o)
    );
    let out = finish(run);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
}

#[test]
fn files_cutover_writes_are_private_to_the_owner_and_the_operators_group() {
    let root = tempfile::tempdir().unwrap();
    let users = [("erin", "erin-pw")];
    let src = Dovecot::start(root.path(), "src", &users, &[]);
    let dst = Dovecot::start(root.path(), "dst", &users, &[]);
    src.seed("erin", 5, 7, &["--no-tricky"]);
    let mb = [MailboxLine {
        batch: "b",
        user: "erin",
        pass: "erin-pw",
    }];

    // Without a group: the owner's only.
    let p = ProjectBuilder::imap(&src, &dst).mailboxes(&mb).create();
    let d = p.dir.path();
    let o = p.cutover(&["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let journal = d.join("state.sqlite");
    assert_eq!(mode(&journal), 0o600);
    for side in ["state.sqlite-wal", "state.sqlite-shm"] {
        if d.join(side).exists() {
            assert_eq!(mode(&d.join(side)), 0o600, "{side}");
        }
    }
    assert_eq!(mode(&d.join("state.sqlite.ctl.lock")), 0o600);
    assert!(
        !d.join("state.sqlite.ctl").exists(),
        "the socket is removed"
    );
    let logs = d.join("cutover-logs");
    assert_eq!(mode(&logs), 0o700);
    let log_files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!log_files.is_empty());
    for f in &log_files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // A report written over an existing, world-readable file ends up private too.
    let report = d.join("final.md");
    std::fs::write(&report, "old").unwrap();
    chmod(&report, 0o644);
    let o = p.cutover(&[
        "report",
        "--kind",
        "final",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(mode(&report), 0o600);
    // A journal left world-readable (an older cutover) is tightened at the next open.
    chmod(&journal, 0o644);
    let o = p.cutover(&["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(mode(&journal), 0o600);

    // With an operators group: shared with that group, still nobody else.
    let p = ProjectBuilder::imap(&src, &dst)
        .mailboxes(&mb)
        .set("project.operators_group", "nogroup")
        .create();
    let d = p.dir.path();
    let o = p.cutover(&["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for f in [
        d.join("state.sqlite"),
        d.join("state.sqlite.ctl.lock"),
        d.join("cutover-logs"),
    ] {
        let want = if f.is_dir() { 0o770 } else { 0o660 };
        assert_eq!(mode(&f), want, "{}", f.display());
        assert_eq!(gid(&f), NOBODY, "{}", f.display());
    }
}

#[test]
fn a_long_journal_path_uses_a_checked_per_user_directory() {
    let server = SilentServer::start();
    let dir = tmp();
    let deep = dir.path().join("d".repeat(110));
    std::fs::create_dir(&deep).unwrap();
    let project = write_project(&deep, server.port);
    let tmpdir = dir.path().join("t");
    std::fs::create_dir(&tmpdir).unwrap();
    let me = cutover_engine::local::euid();
    let runtime = tmpdir.join(format!("cutover-{me}"));
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let run_once = || {
        Command::new(bin())
            .arg("run")
            .arg(&project)
            .env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", &tmpdir)
            .output()
            .unwrap()
    };

    // Planted as a link to elsewhere: refused, nothing created there.
    std::os::unix::fs::symlink(&elsewhere, &runtime).unwrap();
    let o = run_once();
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("is a symbolic link; refusing to use it"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // Planted as another user's directory: refused.
    std::fs::remove_file(&runtime).unwrap();
    std::fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(NOBODY), Some(NOBODY)).unwrap();
    let o = run_once();
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("belongs to uid {NOBODY}")),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_dir(&runtime).unwrap().count(), 0);
    std::fs::remove_dir(&runtime).unwrap();

    // Left to cutover: created private, the socket in it, and `cutover stop` finds it.
    let mut run = spawn_run(&project, &[("TMPDIR", &tmpdir)]);
    wait_for(&runtime, &mut run);
    let end = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_dir(&runtime)
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".ctl"))
    {
        assert!(Instant::now() < end, "no socket in {}", runtime.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(mode(&runtime), 0o700);
    let o = Command::new(bin())
        .arg("stop")
        .arg(&project)
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = finish(run);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
}

#[test]
fn the_lock_is_never_created_through_a_planted_link() {
    let server = SilentServer::start();
    let dir = tmp();
    let project = write_project(dir.path(), server.port);
    let victim = dir.path().join("victim");
    std::os::unix::fs::symlink(&victim, dir.path().join("state.sqlite.ctl.lock")).unwrap();
    let o = Command::new(bin())
        .arg("run")
        .arg(&project)
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("symbolic links"), "{}", text(&o));
    assert!(!victim.exists(), "the lock was created through the link");
}

/// `cutover run` on a project whose source password comes from `password_file = FILE`:
/// refused at load (exit 3, located), promptly, having connected to nothing.
fn refused_password_file(file: &Path, expect: &str) {
    let server = SilentServer::start();
    let dir = tmp();
    let file = file.display().to_string();
    let project = hygiene_project(
        server.port,
        toml::toml! {
            user = "u"
            password_file = (file.as_str())
        },
    )
    .write(dir.path());
    let started = Instant::now();
    let mut child = Command::new(bin())
        .arg("run")
        .arg(&project)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("cutover hung on password_file {file}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    // Located at the source credential's password_file value.
    let at = value_at(&project, "password_file");
    assert!(
        err.contains(&format!(
            "project.toml:{at}: [[mailbox]] source: password_file: "
        )),
        "{err}"
    );
    assert!(err.contains(expect), "{err}");
    assert!(
        !err.contains("root:"),
        "file contents reached the output: {err}"
    );
    assert_eq!(
        server.accepted(&mut Vec::new()),
        0,
        "cutover connected to the server"
    );
}

#[test]
fn password_file_is_a_small_regular_file_named_directly() {
    let dir = tmp();
    // A link to /etc/shadow: its text would otherwise be sent as the password.
    let link = dir.path().join("pw-link");
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    refused_password_file(&link, "is a symbolic link");
    refused_password_file(Path::new("/dev/zero"), "/dev/zero is a device");
    let fifo = dir.path().join("pw-fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    refused_password_file(&fifo, "is a FIFO");
    let big = dir.path().join("pw-big");
    std::fs::write(&big, vec![b'x'; 100 * 1024]).unwrap();
    refused_password_file(&big, "is larger than 64 KiB");
    let lines = dir.path().join("pw-lines");
    std::fs::write(&lines, "secret\nA1 LOGOUT\n").unwrap();
    refused_password_file(&lines, "a password cannot contain a line break");

    // The same file through the mailbox CSV: located at its row and column.
    let server = SilentServer::start();
    let p = ProjectBuilder::new("x")
        .set("project.state", "s.sqlite")
        .set("project.mailboxes_csv", "m.csv")
        .source(project::imap(server.port))
        .destination(project::imap(server.port))
        .write_to(&dir.path().join("csv-project.toml"));
    std::fs::write(
        dir.path().join("m.csv"),
        format!(
            "EmailAddress,UserName,Password,DestinationPassword,PasswordFile\n\
             a@x,a,pa,pa,\nb@x,b,,pb,{}\n",
            link.display()
        ),
    )
    .unwrap();
    let o = Command::new(bin()).arg("run").arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("m.csv:3:5: source credential for b: password_file: "),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("is a symbolic link"), "{}", text(&o));
    assert_eq!(server.accepted(&mut Vec::new()), 0);

    // A one-line file with its newline still works.
    let good = dir.path().join("pw-good");
    std::fs::write(&good, "p\n").unwrap();
    chmod(&good, 0o600);
    let server = SilentServer::start();
    let good = good.display().to_string();
    let project = hygiene_project(
        server.port,
        toml::toml! {
            user = "u"
            password_file = (good.as_str())
        },
    )
    .write(dir.path());
    let o = Command::new(bin())
        .arg("check")
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn allow_plaintext_always_warns_for_a_remote_host() {
    let dir = tmp();
    let p = dir.path().join("p.toml");
    let check = |(source, destination): (toml::Table, toml::Table)| {
        ProjectBuilder::new("x")
            .set("project.state", "s.sqlite")
            .source(source)
            .destination(destination)
            .mailbox(project::mailbox(
                None,
                project::login("a", "p"),
                project::login("a@x.com", "p"),
            ))
            .write_to(&p);
        Command::new(bin())
            .arg("check")
            .arg(&p)
            .env("SECRET_FOR_TEST", "s")
            .output()
            .unwrap()
    };
    let imap = |host: &str| {
        (
            toml::toml! {
                kind = "imap"
                host = (host)
                security = "none"
                allow_plaintext = true
            },
            toml::toml! {
                kind = "imap"
                host = "127.0.0.1"
                security = "none"
            },
        )
    };
    let o = check(imap("mail.example.com"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cutover: warning: source: allow_plaintext = true with security = \"none\": passwords and mail travel in clear text to mail.example.com"),
        "{err}"
    );
    // Loopback is plaintext anyway (the tests' servers): nothing to warn about.
    let o = check(imap("127.0.0.1"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("allow_plaintext"), "{}", text(&o));

    // An HTTP API endpoint over http:// to a remote host: refused, or allowed with a warning.
    let graph = |allow: bool| {
        (
            toml::toml! {
                kind = "imap"
                host = "127.0.0.1"
                security = "none"
            },
            toml::toml! {
                kind = "graph"
                api_url = "http://graph.example.com"
                allow_plaintext = (allow)

                [oauth]
                provider = "entra"
                tenant = "t"
                client_id = "c"
                client_secret_env = "SECRET_FOR_TEST"
                token_url = "http://login.example.com/t/oauth2/v2.0/token"
            },
        )
    };
    let o = check(graph(false));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // Located at the destination's api_url value.
    assert!(
        text(&o).contains(&format!(
            "p.toml:{}: destination.api_url: http:// sends",
            value_at(&p, "api_url")
        )),
        "{}",
        text(&o)
    );
    let o = check(graph(true));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for key in ["destination.api_url", "destination.oauth.token_url"] {
        assert!(
            err.contains(&format!("cutover: warning: {key} = \"http://"))
                && err.contains("allow_plaintext = true sends the client secret"),
            "{key}: {err}"
        );
    }
}
