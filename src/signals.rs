//! The signals that ask a command to stop: SIGINT (Ctrl-C), SIGTERM (a service manager, `kill`)
//! and SIGHUP (the terminal or the SSH session went away). Every long command treats the three
//! alike: a headless run stops its writes with the journal consistent and exits 8.
//!
//! Once a listener exists the process no longer dies on these signals by default: whoever
//! creates one must act on it.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for SIGINT, SIGTERM and SIGHUP (registered when made, so a signal that arrives
/// before [`Interrupts::recv`] is awaited is not lost). Needs a tokio runtime.
pub struct Interrupts {
    int: Option<Signal>,
    term: Signal,
    hup: Signal,
}

impl Interrupts {
    pub fn new() -> std::io::Result<Interrupts> {
        Self::term_and_hup()?.with_interrupt()
    }

    /// SIGTERM and SIGHUP only: SIGINT keeps its default meaning until
    /// [`Interrupts::with_interrupt`].
    pub fn term_and_hup() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            int: None,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Listen for SIGINT too.
    pub fn with_interrupt(mut self) -> std::io::Result<Interrupts> {
        if self.int.is_none() {
            self.int = Some(signal(SignalKind::interrupt())?);
        }
        Ok(self)
    }

    /// The next of the signals listened for, by name: "interrupt" (SIGINT), "SIGTERM" or
    /// "SIGHUP". On SIGHUP, standard output and error that were a terminal now gone are first
    /// pointed at /dev/null (see [`quiet_if_terminal_gone`]).
    pub async fn recv(&mut self) -> &'static str {
        let int = async {
            match self.int.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int => "interrupt",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => {
                quiet_if_terminal_gone();
                "SIGHUP"
            }
        }
    }
}

/// When the terminal has gone away (the SSH session dropped: writing to it fails with EIO),
/// standard output and error that were that terminal are pointed at /dev/null: what the
/// command still prints on its way out (nobody can read it; the log file keeps the record)
/// must not fail it, and Rust's printing panics on a failed write. Output to a file or a pipe,
/// or to a terminal that is still there, is left alone.
pub fn quiet_if_terminal_gone() {
    use std::os::fd::AsFd;
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    // dup2 is atomic, so a concurrent write goes to one or the other.
    if terminal_gone(std::io::stdout().as_fd()) {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    if terminal_gone(std::io::stderr().as_fd()) {
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// `fd` is a terminal that has hung up: a hung-up terminal fails every write, even an empty
/// one, with EIO (and no longer answers isatty); anything else accepts an empty write.
fn terminal_gone(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    nix::unistd::write(fd, b"") == Err(nix::errno::Errno::EIO)
}
