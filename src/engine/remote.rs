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

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{Engine, Severity};

/// Longest path a Unix socket address takes on Linux (108 with the NUL).
const MAX_SOCKET_PATH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "another cutover (pid {pid}) is already running this project (control socket {path}); stop it or use `cutover watch` to follow it"
    )]
    AlreadyRunning { pid: String, path: String },
    #[error("no cutover is running this project (no engine answers at {path})")]
    NotRunning { path: String },
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the control socket of the project whose journal is `state` lives.
pub fn socket_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".ctl");
    let p = PathBuf::from(p);
    if p.as_os_str().len() <= MAX_SOCKET_PATH {
        return p;
    }
    let abs = std::fs::canonicalize(state).unwrap_or_else(|_| state.to_path_buf());
    let h = blake3::hash(abs.as_os_str().as_encoded_bytes()).to_hex();
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("cutover-{}.ctl", &h[..16]))
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
    let path = socket_path(state);
    let io = |source| RemoteError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(&lock_path))
        .map_err(io)?;
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
    let listener = UnixListener::bind(&path).map_err(io)?;
    Ok(Listener {
        listener,
        path,
        _lock: lock,
    })
}

/// Answer requests for `engine` until the listener is dropped (the task is aborted with it).
pub fn serve(l: Listener, engine: Arc<Engine>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.listener.accept().await else {
                // Out of file descriptors or similar: do not spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let engine = engine.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                let mut r = BufReader::new(r);
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(5), r.read_line(&mut line))
                        .await;
                if !matches!(read, Ok(Ok(_))) {
                    return;
                }
                let reply = answer(&engine, line.trim_end_matches(['\r', '\n']));
                let _ = w.write_all(format!("{reply}\n").as_bytes()).await;
                let _ = w.shutdown().await;
            });
        }
    })
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

/// Trip the emergency stop (all batches, or one) and log who did it and what was in flight.
/// Returns the line the operator reads.
pub fn emergency_stop(engine: &Engine, operator: &str, batch: Option<&str>, from: &str) -> String {
    let running = engine.running_keys();
    let affected: Vec<&String> = match batch {
        Some(b) => {
            engine.stop_batch(b);
            running
                .iter()
                .filter(|k| engine.batch_of(k) == Some(b))
                .collect()
        }
        None => {
            engine.stop_flag().stop();
            running.iter().collect()
        }
    };
    let scope = match batch {
        Some(b) => format!("batch {b}"),
        None => "all batches".to_string(),
    };
    let list = affected
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let msg = format!(
        "emergency stop of {scope} by {operator} (from {from}): writes halted; {} mailbox(es) were running{}{}; {} source and {} destination connection(s) in use. The journal is consistent; start again to resume.",
        affected.len(),
        if list.is_empty() { "" } else { ": " },
        list,
        engine.src.in_use(),
        engine.dst.in_use()
    );
    engine
        .sink()
        .issue(Severity::Critical, "operator", None, None, None, &msg);
    format!("ok {msg}")
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
    let path = socket_path(state);
    let line = format!(
        "stop\t{}\t{}",
        operator.replace(['\t', '\n'], " "),
        batch.unwrap_or("").replace(['\t', '\n'], " ")
    );
    request_at(&path, &line)
        .await
        .map_err(|_| RemoteError::NotRunning {
            path: path.display().to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_journal_paths_get_a_short_socket() {
        let short = socket_path(Path::new("/tmp/p/state.sqlite"));
        assert_eq!(short, PathBuf::from("/tmp/p/state.sqlite.ctl"));
        let long = format!("/tmp/{}/state.sqlite", "x".repeat(120));
        let p = socket_path(Path::new(&long));
        assert!(p.as_os_str().len() <= MAX_SOCKET_PATH + 40, "{p:?}");
        assert!(
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("cutover-")
        );
    }
}
