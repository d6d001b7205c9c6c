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
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Interrupts {
    pub fn new() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next of the three signals, by name: "interrupt" (SIGINT), "SIGTERM" or "SIGHUP".
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "interrupt",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}
