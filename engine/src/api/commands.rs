//! What the drivers send: the [`Command`]s, and the [`Handle`] on a running engine with its
//! out-of-band switches (emergency stop, backup).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::views::Snapshot;

/// What an operator can ask of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start (or resume) a batch; every batch when None.
    Start {
        batch: Option<String>,
    },
    /// Start (or retry) one mailbox.
    StartMailbox {
        key: String,
    },
    /// Graceful pause: windows in flight finish, the journal stays consistent.
    Pause {
        batch: Option<String>,
    },
    /// Graceful pause of one mailbox; starting it (or its batch) resumes it.
    PauseMailbox {
        key: String,
    },
    /// Logged record of an emergency stop (the stop itself is tripped out of band).
    EmergencyStop {
        operator: String,
    },
    /// Mailboxes allowed to run at once.
    SetParallel(usize),
    /// Mailboxes of one batch allowed to run at once.
    SetBatchParallel {
        batch: String,
        n: usize,
    },
    SetCheck {
        id: String,
        done: bool,
        note: Option<String>,
        operator: String,
    },
    AckIssue {
        id: i64,
        operator: String,
    },
    /// Remove from the destination what cutover wrote for this batch (typed confirmation
    /// happened in the console). Refused while a mailbox of the batch runs.
    Rollback {
        batch: String,
        operator: String,
    },
    /// Close an issue with the operator's note (what was done about it).
    ResolveIssue {
        id: i64,
        note: String,
        operator: String,
    },
    /// Run the checklist's auto checks (one item, or all when None) in the background.
    RunChecks {
        id: Option<String>,
    },
    /// Override an unmet checklist item (every unmet required item when None) with a reason;
    /// journalled as an operator issue.
    OverrideCheck {
        id: Option<String>,
        reason: String,
        operator: String,
    },
    /// Back up the source of a batch (every batch when None) into the default backup
    /// directory, then verify it, in the background (`cutover backup`, then `--verify`). Run
    /// by the handle's [`BackupSwitch`], which the console's driver sets; the outcome is an
    /// operator issue, the state a column of the Batches tab.
    Backup {
        batch: Option<String>,
        operator: String,
    },
    /// One delta pass over a batch (`cutover sync --batch`): what users did on the source since
    /// the last pass is mirrored on the destination and new mail copied, journalled in
    /// `sync_passes`. With `every`, another pass starts that long after each one started, until
    /// [`Command::StopDeltaPasses`] (or an emergency stop, or a pass that fails). Refused while
    /// a mailbox of the batch runs, or while the checklist gate is closed.
    DeltaPass {
        batch: String,
        every: Option<Duration>,
        operator: String,
    },
    /// No further scheduled pass of the batch (the one under way finishes).
    StopDeltaPasses {
        batch: String,
        operator: String,
    },
    /// Look at the source of a batch now (one EXAMINE or STATUS per folder the journal
    /// knows, nothing read or written): the snapshot's [`crate::api::LagCheck`].
    MeasureLag {
        batch: String,
    },
    /// Journal the operator's note for the weekly and final reports (lessons learned or
    /// recommendations), as `cutover report --note` does; the next snapshot's `notes` show it.
    SetReportNote {
        section: super::states::NoteSection,
        text: String,
        operator: String,
    },
    /// `cutover finalize --batch` (typed confirmation happened in the console): the domain's
    /// DNS checked (refused while MX does not point at the destination), the switch marked per
    /// mailbox, one final delta pass, then `verify`; each step an operator issue.
    Finalize {
        batch: String,
        operator: String,
    },
}

/// Starts a backup (and its verification) in the background: (batch or every batch,
/// operator). Set by the driver that runs the console; cheap to clone.
#[derive(Clone)]
pub struct BackupSwitch(Arc<dyn Fn(Option<String>, String) + Send + Sync>);

impl BackupSwitch {
    pub fn new(start: impl Fn(Option<String>, String) + Send + Sync + 'static) -> BackupSwitch {
        BackupSwitch(Arc::new(start))
    }

    pub fn start(&self, batch: Option<String>, operator: String) {
        (self.0)(batch, operator)
    }
}

impl fmt::Debug for BackupSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupSwitch")
    }
}

/// Trips the engine's emergency stop at once, without queueing behind other commands.
/// Cheap to clone.
#[derive(Clone)]
pub struct StopSwitch(Arc<dyn Fn() + Send + Sync>);

impl StopSwitch {
    /// A switch that calls `trip` (the engine gives its stop flag's `stop`).
    pub(crate) fn new(trip: impl Fn() + Send + Sync + 'static) -> StopSwitch {
        StopSwitch(Arc::new(trip))
    }

    /// Halt every write now (checked before each APPEND window).
    pub fn trip(&self) {
        (self.0)()
    }
}

impl fmt::Debug for StopSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StopSwitch")
    }
}

/// A running engine as its driver holds it: commands in, snapshots out (a `watch` channel,
/// latest wins), and the emergency stop switch.
pub struct Handle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub stop: StopSwitch,
    /// Runs [`Command::Backup`]; None where no backup can be started (the engine then says
    /// so as an issue).
    pub backup: Option<BackupSwitch>,
}

impl Handle {
    /// Halt every write now (checked before each APPEND window), then log it.
    pub fn emergency_stop(&self, operator: &str) {
        self.stop.trip();
        let _ = self.commands.send(Command::EmergencyStop {
            operator: operator.to_string(),
        });
    }

    pub fn send(&self, c: Command) {
        if let Command::EmergencyStop { operator } = &c {
            self.emergency_stop(operator);
        } else if let (Command::Backup { batch, operator }, Some(b)) = (&c, &self.backup) {
            b.start(batch.clone(), operator.clone());
        } else {
            let _ = self.commands.send(c);
        }
    }
}
