//! A throwaway PostgreSQL cluster for the tests, like Dovecot's: initdb into a temporary
//! directory, the server on 127.0.0.1 on a free port of its own, its unix socket in that
//! directory, fsync off. initdb refuses root (and CI runs as root): as root, the directory
//! is given to `nobody` and initdb and the server run as that user (`setpriv`).
//!
//! The binaries are not on PATH on Debian: `/usr/lib/postgresql/<version>/bin/`, the newest,
//! or `$CUTOVER_PG_BIN`, or PATH. The superuser is `postgres` with password [`PASSWORD`]
//! over TCP (scram-sha-256), so the tests go through the password path as a client would.
//!
//! [`PgCluster::start`] gives a cluster stopped on drop (its directory, the last field, is
//! removed after); [`shared`] one cluster per test process, started once, which dies with
//! the process (the server is started with a parent-death signal from a thread that lives
//! as long as the process), in a directory named after the process that a later start
//! removes. [`PgCluster::database`] makes a fresh database per test.
//!
//! Written once, used by both test suites: `tests/it` (`support::postgres`) and the
//! engine's journal tests (included with `#[path]`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "cutover-test";

/// The directory of initdb, postgres and psql.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CUTOVER_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").exists() && d.join("postgres").exists())
    })
}

pub struct PgCluster {
    pub port: u16,
    bin: PathBuf,
    child: Option<Child>,
    /// Last: removed after the server has stopped.
    dir: Option<tempfile::TempDir>,
}

fn id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("run id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

fn is_root() -> bool {
    id(&["-u"]) == 0
}

/// Give `p` to nobody (root only).
fn give_to_nobody(p: &Path) {
    std::os::unix::fs::chown(p, Some(id(&["-u", "nobody"])), Some(id(&["-g", "nobody"])))
        .expect("chown to nobody");
}

/// `cmd` as the cluster's owner: as root, `setpriv` to nobody.
fn as_owner(program: &Path, pdeathsig: bool) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", id(&["-u", "nobody"])))
            .arg(format!("--regid={}", id(&["-g", "nobody"])))
            .arg("--clear-groups");
        if pdeathsig {
            c.arg("--pdeathsig=KILL");
        }
        c.arg(program);
        c
    } else if pdeathsig {
        let mut c = Command::new("setpriv");
        c.arg("--pdeathsig=KILL").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// initdb into `data` (owned by the cluster's owner).
fn init(bin: &Path, root: &Path) -> PathBuf {
    let data = root.join("data");
    let pwfile = root.join("pw");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    if is_root() {
        give_to_nobody(root);
        give_to_nobody(&pwfile);
    }
    let out = as_owner(&bin.join("initdb"), false)
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    data
}

fn server(
    bin: &Path,
    root: &Path,
    data: &Path,
    port: u16,
    pdeathsig: bool,
    extra: &[String],
) -> Child {
    let log = std::fs::File::create(root.join("server.log")).unwrap();
    if is_root() {
        give_to_nobody(&root.join("server.log"));
    }
    as_owner(&bin.join("postgres"), pdeathsig)
        .arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(root)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start postgres")
}

/// Wait until the server answers on its port.
fn wait_ready(bin: &Path, port: u16, root: &Path) {
    let start = Instant::now();
    loop {
        let ok = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
            panic!("postgres did not start on port {port}: {log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl PgCluster {
    /// A cluster of its own, stopped when dropped.
    pub fn start() -> PgCluster {
        PgCluster::start_with(false)
    }

    /// A cluster that also accepts TLS, with a certificate for `localhost` signed by a test CA
    /// (`cert()`, in PEM: the root a client trusts for verify-ca and verify-full).
    pub fn start_tls() -> PgCluster {
        PgCluster::start_with(true)
    }

    /// The TLS cluster's CA certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("an own cluster")
            .path()
            .join("ca.crt")
    }

    fn start_with(tls: bool) -> PgCluster {
        let bin = bin_dir().expect("PostgreSQL's binaries (apt-get install postgresql)");
        let dir = tempfile::tempdir().unwrap();
        let data = init(&bin, dir.path());
        let port = free_port();
        let mut extra = Vec::new();
        if tls {
            let (crt, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            let p = |name: &str| dir.path().join(name);
            std::fs::write(p("ext"), "subjectAltName=DNS:localhost\n").unwrap();
            let openssl = |args: &[&str]| {
                let out = Command::new("openssl")
                    .current_dir(dir.path())
                    .args(args)
                    .output()
                    .expect("run openssl");
                assert!(
                    out.status.success(),
                    "openssl: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            // A CA, and the server's certificate for localhost signed by it.
            openssl(
                &[
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ]
                .into_iter()
                .chain([
                    "-subj",
                    "/CN=cutover test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                ])
                .collect::<Vec<_>>(),
            );
            openssl(
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=localhost",
                ]
                .into_iter()
                .chain(["-keyout", "server.key", "-out", "server.csr"])
                .collect::<Vec<_>>(),
            );
            openssl(
                &[
                    "x509",
                    "-req",
                    "-in",
                    "server.csr",
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                ]
                .into_iter()
                .chain([
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    "ext",
                    "-out",
                    "server.crt",
                ])
                .collect::<Vec<_>>(),
            );
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                give_to_nobody(&key);
                give_to_nobody(&crt);
            }
            extra = vec![
                "-c".to_string(),
                "ssl=on".to_string(),
                "-c".to_string(),
                format!("ssl_cert_file={}", crt.display()),
                "-c".to_string(),
                format!("ssl_key_file={}", key.display()),
            ];
        }
        let child = server(&bin, dir.path(), &data, port, false, &extra);
        wait_ready(&bin, port, dir.path());
        PgCluster {
            port,
            bin,
            child: Some(child),
            dir: Some(dir),
        }
    }

    /// The URL of database `db` as the superuser, without the password.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A SQL command run with psql on database `db`.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A fresh, empty database (each test its own); its name.
    pub fn database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGINT: fast shutdown (clients are disconnected; nothing needs to be kept).
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        drop(self.dir.take());
    }
}

/// One cluster for the whole test process, started on first use.
pub fn shared() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let bin = bin_dir().expect("PostgreSQL's binaries (apt-get install postgresql)");
        let base = std::env::temp_dir();
        // Directories of earlier test processes that are gone.
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("cutover-pg-")
                && let Ok(pid) = pid.parse::<u32>()
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let root = base.join(format!("cutover-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir(&root).unwrap();
        let data = init(&bin, &root);
        let port = free_port();
        let (tx, rx) = std::sync::mpsc::channel();
        let (b, r, d) = (bin.clone(), root.clone(), data.clone());
        // The server's parent is this thread, which never ends: the server gets SIGKILL when
        // the process does.
        std::thread::spawn(move || {
            let mut child = server(&b, &r, &d, port, true, &[]);
            let _ = tx.send(());
            let _ = child.wait();
        });
        rx.recv().unwrap();
        wait_ready(&bin, port, &root);
        PgCluster {
            port,
            bin,
            child: None,
            dir: None,
        }
    })
}
