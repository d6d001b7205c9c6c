//! Test support: throwaway Dovecot servers on 127.0.0.1, seeded with realistic mail, the real
//! `cutover` binary, and an independent view (Python imaplib) of what a server holds.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub mod dav;
pub mod fake_cloud;
pub mod fault_proxy;
pub mod postgres;
pub mod project;
pub mod tls_front;

pub use cutover_engine::journal::{IssueRow, Journal};
pub use project::ProjectBuilder;

pub fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cutover"))
}

/// A running throwaway Dovecot (stopped and removed on drop).
pub struct Dovecot {
    pub dir: PathBuf,
    pub port: u16,
    pub tls_port: u16,
    pub ca: PathBuf,
    /// The POP3 port, when started with `--pop3-port`.
    pub pop3_port: Option<u16>,
}

fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        .to_string()
}

impl Dovecot {
    /// Start an instance under `root/name` with the given users (user, password) and extra
    /// dovecot-instance.sh options.
    pub fn start(root: &Path, name: &str, users: &[(&str, &str)], opts: &[&str]) -> Dovecot {
        let dir = root.join(name);
        let mut cmd = Command::new(support_dir().join("dovecot-instance.sh"));
        cmd.args(["start", name, "auto"]).arg(&dir);
        for (u, p) in users {
            cmd.args(["--user", &format!("{u}:{p}")]);
        }
        cmd.args(opts);
        let out = cmd.output().expect("run dovecot-instance.sh");
        assert!(
            out.status.success(),
            "dovecot-instance.sh start failed (is dovecot-imapd installed? run ./test.sh): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Dovecot {
            port: field(&line, "port").parse().unwrap(),
            tls_port: field(&line, "tls_port").parse().unwrap(),
            ca: PathBuf::from(field(&line, "ca")),
            pop3_port: line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("pop3_port=")?.parse().ok()),
            dir,
        }
    }

    /// Seed `n` deterministic messages for `user` (tricky ones included unless told otherwise).
    pub fn seed(&self, user: &str, n: usize, seed: u64, extra: &[&str]) {
        let out = Command::new("python3")
            .arg(support_dir().join("seed-maildir.py"))
            .arg("--instance")
            .arg(&self.dir)
            .args([
                "--user",
                user,
                "-n",
                &n.to_string(),
                "--seed",
                &seed.to_string(),
                "-q",
            ])
            .args(extra)
            .output()
            .expect("run seed-maildir.py");
        assert!(
            out.status.success(),
            "seed-maildir.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(args)
            .output()
            .expect("run doveadm");
        assert!(
            out.status.success(),
            "doveadm {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// How many messages `user` holds in all folders (doveadm mailbox status).
    pub fn message_count(&self, user: &str) -> u64 {
        self.doveadm(&["mailbox", "status", "-u", user, "messages", "*"])
            .lines()
            .filter_map(|l| l.rsplit("messages=").next()?.trim().parse::<u64>().ok())
            .sum()
    }

    /// What the server holds for `user`, through Python's imaplib.
    pub fn dump(&self, user: &str, pass: &str) -> Dump {
        let out = Command::new("python3")
            .arg(support_dir().join("imap_dump.py"))
            .args(["127.0.0.1", &self.port.to_string(), user, pass])
            .output()
            .expect("run imap_dump.py");
        assert!(
            out.status.success(),
            "imap_dump.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("imap_dump.py JSON")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(support_dir().join("dovecot-instance.sh"))
            .arg("destroy")
            .arg(&self.dir)
            .output();
    }
}

/// The SHA-256 of `b`, in lower-case hex (as `imap_dump.py` gives it).
pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// (sha256, flags, INTERNALDATE, size) of one message.
pub type Msg = (String, Vec<String>, String, u64);

#[derive(Debug, Deserialize)]
pub struct Dump {
    pub delimiter: String,
    pub folders: BTreeMap<String, Vec<Msg>>,
}

impl Dump {
    pub fn total(&self) -> usize {
        self.folders.values().map(Vec::len).sum()
    }
}

/// INTERNALDATE in the future: Dovecot replaces it with the time of the APPEND (a server
/// rule no client can change), so dates are compared for every other message.
fn in_future(date: &str) -> bool {
    chrono::DateTime::parse_from_str(date, "%d-%b-%Y %H:%M:%S %z")
        .map(|d| d > chrono::Utc::now())
        .unwrap_or(false)
}

/// Which messages (sha256, date, size) are on one side more often than on the other.
fn count_differences(
    want: &[(String, Vec<String>, String, u64)],
    have: &[(String, Vec<String>, String, u64)],
) -> String {
    let mut n: BTreeMap<(&str, &str, u64), (usize, usize)> = BTreeMap::new();
    for m in want {
        n.entry((&m.0, &m.2, m.3)).or_default().0 += 1;
    }
    for m in have {
        n.entry((&m.0, &m.2, m.3)).or_default().1 += 1;
    }
    n.iter()
        .filter(|(_, (a, b))| a != b)
        .map(|((h, d, s), (a, b))| {
            format!(
                "{} ({d}, {s} bytes): {a} on the source, {b} on the destination",
                &h[..12]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Assert that every source folder's messages are on the destination (folder name mapped by
/// `map`) byte for byte, with the same flags and dates, each exactly as often as in the source.
pub fn assert_same_mail(src: &Dump, dst: &Dump, map: impl Fn(&str) -> String) {
    for (folder, msgs) in &src.folders {
        let target = map(folder);
        let got = dst.folders.get(&target).unwrap_or_else(|| {
            panic!(
                "destination has no folder {target:?} (for {folder:?}); it has {:?}",
                dst.folders.keys().collect::<Vec<_>>()
            )
        });
        let strip = |v: &Vec<Msg>| {
            let mut out: Vec<(String, Vec<String>, String, u64)> = v
                .iter()
                .map(|(h, f, d, s)| {
                    let d = if in_future(d) {
                        "future".to_string()
                    } else {
                        d.clone()
                    };
                    (h.clone(), f.clone(), d, *s)
                })
                .collect();
            out.sort();
            out
        };
        // Destination dates of messages whose source date is in the future cannot match.
        let future: Vec<&String> = msgs
            .iter()
            .filter(|m| in_future(&m.2))
            .map(|m| &m.0)
            .collect();
        let mut want = strip(msgs);
        let mut have = strip(got);
        for v in [&mut want, &mut have] {
            for m in v.iter_mut() {
                if future.contains(&&m.0) {
                    m.2 = "future".into();
                }
            }
            v.sort();
        }
        assert_eq!(
            want.len(),
            have.len(),
            "folder {folder:?} -> {target:?}: {} source messages, {} on the destination; {}",
            want.len(),
            have.len(),
            count_differences(&want, &have)
        );
        assert_eq!(want, have, "folder {folder:?} -> {target:?} differs");
    }
}

/// A project directory and its project file (see [`ProjectBuilder`]).
pub struct ProjectDir {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub struct MailboxLine<'a> {
    pub batch: &'a str,
    pub user: &'a str,
    pub pass: &'a str,
}

impl ProjectDir {
    pub fn cutover(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg(args[0]).arg(&self.path).args(&args[1..]);
        cmd.output().expect("run cutover")
    }

    /// The project file changed by `f` (loaded, changed, written again).
    pub fn edit(&self, f: impl FnOnce(ProjectBuilder) -> ProjectBuilder) {
        f(ProjectBuilder::load(&self.path)).write_to(&self.path);
    }

    /// The journal (`state.sqlite`), opened read-only as `cutover watch` does: read it
    /// through its API.
    pub fn journal(&self) -> Journal {
        read_journal(&self.dir.path().join("state.sqlite"))
    }

    /// The journal's SQLite file opened for writing behind cutover's back, only to damage
    /// it on purpose (a crash or a refused write simulated); read it through
    /// [`ProjectDir::journal`].
    pub fn journal_for_damage(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("state.sqlite")).unwrap()
    }
}

/// The journal at `path`, opened read-only.
pub fn read_journal(path: &Path) -> Journal {
    Journal::open_read_only(path).unwrap_or_else(|e| panic!("{e}"))
}

/// How many of the journal's messages are in `state` ("appending", "copied"...).
pub fn messages_in(journal: &Journal, state: &str) -> usize {
    journal
        .message_rows()
        .unwrap()
        .iter()
        .filter(|m| m.state == state)
        .count()
}

/// Every issue in the journal, oldest first.
pub fn all_issues(journal: &Journal) -> Vec<IssueRow> {
    let mut all = journal.issue_rows(usize::MAX).unwrap();
    all.sort_by_key(|i| i.id);
    all
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn text(o: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// "this run: N appended, M message bodies downloaded" from `cutover run` output.
pub fn run_counts(o: &Output) -> (u64, u64) {
    let s = stdout(o);
    let line = s
        .lines()
        .find(|l| l.starts_with("this run: "))
        .unwrap_or_else(|| panic!("no 'this run:' line in\n{}", text(o)));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .take(2)
        .map(|t| t.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

/// Run `cmd` (its output discarded) until it exits or `stop_when(elapsed)` says so, polling
/// every 2 ms; then SIGKILL it if it still runs (no chance to clean up) and reap it. Whether
/// it was killed.
pub fn run_until_sigkill(cmd: &mut Command, stop_when: impl Fn(Duration) -> bool) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cutover");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && !stop_when(start.elapsed()) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    killed
}
