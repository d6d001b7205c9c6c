//! The control socket: how a second shell or SSH session reaches the engine that is running a
//! project (`cutover stop PROJECT`), and the lock that keeps two engines off one journal.
//!
//! A Unix socket next to the journal (`<state>.ctl`; under the runtime directory when that
//! path is too long for a socket). One request per connection, one line each way:
//! `stop\t<operator>\t<batch or empty>` or `status`; the reply is one line of text (`ok ...` or
//! `error ...`). A batch the project does not define, or a name with control characters, is
//! refused; text from the request is never echoed raw.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

pub use super::halt::emergency_stop;
use super::state::Engine;
use crate::events::Severity;
use crate::local;

/// Longest path a Unix socket address takes on Linux (108 with the NUL).
const MAX_SOCKET_PATH: usize = 100;

/// Longest request line read from a peer.
const MAX_REQUEST: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "another cutover (pid {pid}) is already running this project (control socket {path}); stop it or use `cutover watch` to follow it"
    )]
    AlreadyRunning { pid: String, path: String },
    #[error("no cutover is running this project (no engine answers at {path})")]
    NotRunning { path: String },
    #[error(
        "no cutover engine listens for this project's fleet commands on {journal} now; the stop is journalled as fleet command #{id}: an engine reconnecting to the database reads it, one started later starts normally"
    )]
    NoListener { journal: String, id: i64 },
    #[error("control socket {path}: refused: {reason}")]
    Refused { path: String, reason: String },
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The control socket beside the journal (`<state>.ctl`), when that path fits a socket address.
fn beside_journal(state: &Path) -> Option<PathBuf> {
    let mut p = state.as_os_str().to_owned();
    p.push(".ctl");
    (p.len() <= MAX_SOCKET_PATH).then(|| PathBuf::from(p))
}

/// The socket's name in a runtime directory (the journal's path is too long): a hash of the
/// journal's absolute path.
fn runtime_name(state: &Path) -> String {
    let abs = std::fs::canonicalize(state).unwrap_or_else(|_| state.to_path_buf());
    let h = blake3::hash(abs.as_os_str().as_encoded_bytes()).to_hex();
    format!("cutover-{}.ctl", &h[..16])
}

/// Where the engine running the project whose journal is `state` puts its control socket:
/// beside the journal, or when that path is too long, in this user's checked runtime
/// directory (see [`local::runtime_dir`]).
pub fn socket_path(state: &Path) -> std::io::Result<PathBuf> {
    match beside_journal(state) {
        Some(p) => Ok(p),
        None => Ok(local::runtime_dir()?.join(runtime_name(state))),
    }
}

/// Where a client finds the control socket: beside the journal, or in the first runtime
/// directory of the journal's owner (or of this user) that holds it.
fn find_socket(state: &Path) -> PathBuf {
    if let Some(p) = beside_journal(state) {
        return p;
    }
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(state).map_or_else(|_| local::euid(), |m| m.uid());
    let name = runtime_name(state);
    let dirs = local::runtime_dir_candidates(owner);
    dirs.iter()
        .map(|d| d.join(&name))
        .find(|p| p.exists())
        .or_else(|| dirs.first().map(|d| d.join(&name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The listening socket and the project lock; removes the socket file when dropped.
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
    /// An exclusive lock on `<socket>.lock`, held for the engine's lifetime (released by
    /// the kernel if the process dies): the one-engine-per-project guarantee.
    _lock: std::fs::File,
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Still holding the lock: the socket file is ours.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Take the project's lock and control socket. Fails when another live engine holds them;
/// a socket left by a killed process is replaced (its lock died with it).
pub async fn bind(state: &Path) -> Result<Listener, RemoteError> {
    let path = socket_path(state).map_err(|source| RemoteError::Io {
        path: state.display().to_string(),
        source,
    })?;
    let io = |source| RemoteError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    // Never through a symbolic link planted where the lock goes.
    let lock = local::open_private_nofollow(&PathBuf::from(&lock_path)).map_err(io)?;
    if let Err(e) = lock.try_lock() {
        if !matches!(e, std::fs::TryLockError::WouldBlock) {
            return Err(io(std::io::Error::other(e.to_string())));
        }
        let pid = request_at(&path, "status")
            .await
            .ok()
            .and_then(|r| {
                r.split_whitespace()
                    .find_map(|w| w.strip_prefix("pid="))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "?".into());
        return Err(RemoteError::AlreadyRunning {
            pid,
            path: path.display().to_string(),
        });
    }
    if path.exists() {
        match request_at(&path, "status").await {
            Ok(reply) => {
                let pid = reply
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("pid="))
                    .unwrap_or("?")
                    .to_string();
                return Err(RemoteError::AlreadyRunning {
                    pid,
                    path: path.display().to_string(),
                });
            }
            Err(_) => std::fs::remove_file(&path).map_err(io)?,
        }
    }
    // Bound under a temporary name, given its mode and group, then renamed into place: the
    // socket appears with its final permissions, never for a moment with others.
    let tmp = path.with_file_name(format!(
        "{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("ctl"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(io)?;
    let placed = local::make_private(&tmp).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(Listener {
        listener,
        path,
        _lock: lock,
    })
}

/// Answer requests for `engine` until the listener is dropped (the task is aborted with it);
/// with a PostgreSQL journal, follow the fleet's commands meanwhile (`fleet`).
pub fn serve(l: Listener, engine: Arc<Engine>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _fleet = super::fleet::follow_apart(engine.clone());
        accept(l, engine).await
    })
}

async fn accept(l: Listener, engine: Arc<Engine>) {
    loop {
        let Ok((stream, _)) = l.listener.accept().await else {
            // Out of file descriptors or similar: do not spin.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let engine = engine.clone();
        tokio::spawn(async move {
            let admission = admitted(&stream);
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            // One short line: a peer cannot make the engine buffer more.
            let mut r = BufReader::new(r.take(MAX_REQUEST));
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(5), r.read_line(&mut line))
                    .await;
            // Refused only once the request is read: closing on unread data would reset
            // the connection before the peer reads why.
            if let Err((why, pid)) = admission {
                // Journalled without the pid, so that repeated attempts count up one issue.
                let msg = format!("control socket: refused a request: {why}");
                tracing::warn!(pid, "{msg}");
                engine
                    .sink()
                    .issue(Severity::Warning, "operator", None, None, None, &msg);
                let _ = w.write_all(format!("refused {why}\n").as_bytes()).await;
                let _ = w.shutdown().await;
                return;
            }
            if !matches!(read, Ok(Ok(_))) {
                return;
            }
            let reply = answer(&engine, line.trim_end_matches(['\r', '\n']));
            let _ = w.write_all(format!("{reply}\n").as_bytes()).await;
            let _ = w.shutdown().await;
        });
    }
}

/// The peer's credentials (from the kernel, not from anything it sends) admit it: see
/// [`local::admit`]. The refusal says why, with the peer's pid when known.
fn admitted(stream: &UnixStream) -> Result<(), (String, Option<i32>)> {
    let cred = stream
        .peer_cred()
        .map_err(|e| (format!("cannot read the peer's credentials: {e}"), None))?;
    local::admit(cred.uid(), cred.gid()).map_err(|why| (why, cred.pid()))
}

fn answer(engine: &Engine, line: &str) -> String {
    let mut parts = line.split('\t');
    match parts.next().unwrap_or("") {
        "status" => format!(
            "ok pid={} running={} stopped={}",
            std::process::id(),
            engine.running_count(),
            engine.stop_flag().is_stopped()
        ),
        "stop" => {
            let operator: String = parts
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect();
            let operator = if operator.is_empty() {
                "unknown".to_string()
            } else {
                operator
            };
            let batch = match parts.next().filter(|b| !b.is_empty()) {
                None => None,
                Some(b) => match known_batch(engine, b) {
                    Ok(b) => Some(b),
                    Err(refusal) => return refusal,
                },
            };
            emergency_stop(engine, &operator, batch, "another shell")
        }
        other => {
            let other: String = other.chars().take(64).collect();
            crate::safe_text::terminal_owned(format!("error unknown request {other:?}"))
        }
    }
}

/// The `batch` field of a request: a batch of this project, or the `error ...` reply refusing
/// it. A name with control or bidi characters is refused as such; either way the name is
/// shown escaped and shortened, never raw.
fn known_batch<'a>(engine: &Engine, batch: &'a str) -> Result<&'a str, String> {
    let shown = || {
        let short: String = batch.chars().take(64).collect();
        crate::safe_text::terminal_owned(short)
    };
    if batch.chars().any(crate::safe_text::is_unsafe) {
        return Err(format!(
            "error refused: the batch name \"{}\" holds control characters; nothing stopped",
            shown()
        ));
    }
    if engine.project.mailboxes.iter().any(|m| m.batch == batch) {
        return Ok(batch);
    }
    let mut known: Vec<&str> = engine
        .project
        .mailboxes
        .iter()
        .map(|m| m.batch.as_str())
        .collect();
    known.sort_unstable();
    known.dedup();
    Err(crate::safe_text::terminal_owned(format!(
        "error no batch \"{}\" in this project (its batches: {}); nothing stopped",
        shown(),
        known.join(", ")
    )))
}

async fn request_at(path: &Path, line: &str) -> std::io::Result<String> {
    let mut s = tokio::time::timeout(std::time::Duration::from_secs(3), UnixStream::connect(path))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    s.write_all(format!("{line}\n").as_bytes()).await?;
    let mut reply = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        BufReader::new(s).read_line(&mut reply),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply"))??;
    Ok(reply.trim_end().to_string())
}

/// Ask the engine running the project whose journal is `state` to stop.
pub async fn request_stop(
    state: &Path,
    operator: &str,
    batch: Option<&str>,
) -> Result<String, RemoteError> {
    let path = find_socket(state);
    let line = format!(
        "stop\t{}\t{}",
        operator.replace(['\t', '\n'], " "),
        batch.unwrap_or("").replace(['\t', '\n'], " ")
    );
    let shown = path.display().to_string();
    match request_at(&path, &line).await {
        Ok(reply) => match reply.strip_prefix("refused ") {
            Some(reason) => Err(RemoteError::Refused {
                path: shown,
                reason: reason.to_string(),
            }),
            None => Ok(reply),
        },
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(RemoteError::Refused {
            path: shown,
            reason: "permission denied (only its owner, root and the members of [project] operators_group may reach it)".into(),
        }),
        Err(_) => Err(RemoteError::NotRunning { path: shown }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_journal_paths_get_a_short_socket() {
        let short = socket_path(Path::new("/tmp/p/state.sqlite")).unwrap();
        assert_eq!(short, PathBuf::from("/tmp/p/state.sqlite.ctl"));
        let long = format!("/tmp/{}/state.sqlite", "x".repeat(120));
        let p = socket_path(Path::new(&long)).unwrap();
        assert!(p.as_os_str().len() <= MAX_SOCKET_PATH + 40, "{p:?}");
        assert!(
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("cutover-")
        );
        // The directory is this user's own, not a shared one.
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::symlink_metadata(p.parent().unwrap()).unwrap();
        assert!(md.is_dir() && md.uid() == local::euid());
        assert_eq!(md.mode() & 0o077, 0, "{:o}", md.mode());
        // A client finds the same place.
        assert_eq!(find_socket(Path::new(&long)).parent(), p.parent());
    }
}
