//! What the engine tells its observers (the headless printer, later the console).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use crate::store::{Issue, Store, Totals};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    MailboxStarted {
        mailbox: String,
        batch: String,
    },
    /// The folder map is known: how many folders will be walked.
    MailboxPlanned {
        mailbox: String,
        folders: usize,
    },
    FolderStarted {
        mailbox: String,
        folder: String,
        dst: String,
        to_copy: u64,
        bytes: u64,
    },
    Progress {
        mailbox: String,
        folder: String,
        copied: u64,
        bytes: u64,
    },
    FolderDone {
        mailbox: String,
        folder: String,
        totals: Totals,
        appended: u64,
        unchanged: bool,
    },
    MailboxDone {
        mailbox: String,
        totals: Totals,
        /// "done", "paused", "stopped" or "failed".
        state: String,
        error: Option<String>,
    },
    Issue {
        severity: Severity,
        category: String,
        mailbox: Option<String>,
        folder: Option<String>,
        uid: Option<u32>,
        message: String,
    },
}

/// Sends events to observers and journals issues. Cheap to clone.
#[derive(Clone)]
pub struct Sink {
    tx: Option<mpsc::UnboundedSender<Event>>,
    store: Store,
}

impl Sink {
    pub fn new(store: Store, tx: Option<mpsc::UnboundedSender<Event>>) -> Self {
        Sink { tx, store }
    }

    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    /// Journal an issue and tell observers. A journal failure here is logged, not fatal:
    /// the copy path journals its own state and stops on failure.
    pub fn issue(
        &self,
        severity: Severity,
        category: &str,
        mailbox: Option<&str>,
        folder: Option<&str>,
        uid: Option<u32>,
        message: &str,
    ) {
        match severity {
            Severity::Info => tracing::info!(category, mailbox, folder, uid, "{message}"),
            Severity::Warning => tracing::warn!(category, mailbox, folder, uid, "{message}"),
            _ => tracing::error!(category, mailbox, folder, uid, "{message}"),
        }
        if let Err(e) = self.store.record_issue(&Issue {
            severity: severity.as_str(),
            category,
            mailbox,
            folder,
            uid,
            message,
        }) {
            tracing::error!("cannot journal an issue: {e}");
        }
        self.send(Event::Issue {
            severity,
            category: category.into(),
            mailbox: mailbox.map(Into::into),
            folder: folder.map(Into::into),
            uid,
            message: message.into(),
        });
    }
}

/// What this run really did, counted where it happens.
#[derive(Default, Debug)]
pub struct RunStats {
    /// Messages appended to a destination.
    pub appended: std::sync::atomic::AtomicU64,
    /// Message bodies downloaded (from either side, for copying or fingerprinting).
    pub bodies_fetched: std::sync::atomic::AtomicU64,
    pub bytes_fetched: std::sync::atomic::AtomicU64,
}

impl RunStats {
    pub fn add(counter: &std::sync::atomic::AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What stops a mailbox's writes: the emergency stop (everything) or its batch's pause.
/// Checked before every APPEND window.
#[derive(Clone, Default)]
pub struct Halt {
    pub emergency: StopFlag,
    pub pause: StopFlag,
}

impl Halt {
    pub fn is_set(&self) -> bool {
        self.emergency.is_stopped() || self.pause.is_stopped()
    }
}

/// Set once to stop all writes; checked before every APPEND window.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
