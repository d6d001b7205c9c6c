//! What the console runs of delta passes, per batch: a pass (or a finalize) under way, which
//! makes the batch's mailboxes run as a delta pass, and the interval the passes repeat at.
//! Moved by the controller's commands (`passes`), read by the snapshot.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::api::LagCheck;
use crate::events::StopFlag;

#[derive(Default)]
struct BatchSync {
    running: bool,
    finalizing: bool,
    every: Option<Duration>,
    /// Set to end the schedule (a new schedule gets a new flag and number).
    cancel: StopFlag,
    generation: u64,
    checked: Option<LagCheck>,
}

/// Per batch: the console's delta passes.
#[derive(Default)]
pub struct SyncSchedules(Mutex<HashMap<String, BatchSync>>);

impl SyncSchedules {
    fn with<R>(&self, batch: &str, f: impl FnOnce(&mut BatchSync) -> R) -> R {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(batch.to_string()).or_default())
    }

    /// (a pass runs, a finalize runs, the interval) of a batch.
    pub fn state(&self, batch: &str) -> (bool, bool, Option<Duration>) {
        self.with(batch, |b| (b.running, b.finalizing, b.every))
    }

    /// The batch's last lag check.
    pub fn checked(&self, batch: &str) -> Option<LagCheck> {
        self.with(batch, |b| b.checked)
    }

    pub fn set_checked(&self, batch: &str, check: LagCheck) {
        self.with(batch, |b| b.checked = Some(check))
    }

    /// Claim the batch for a pass (or a finalize); false when one runs already.
    pub fn begin(&self, batch: &str, finalizing: bool) -> bool {
        self.with(batch, |b| {
            if b.running {
                return false;
            }
            b.running = true;
            b.finalizing = finalizing;
            true
        })
    }

    pub fn end(&self, batch: &str) {
        self.with(batch, |b| {
            b.running = false;
            b.finalizing = false;
        })
    }

    /// The batch's mailboxes run as a delta pass (one was asked from the console).
    pub fn is_delta(&self, batch: &str) -> bool {
        self.with(batch, |b| b.running)
    }

    /// Repeat passes of the batch at `every`; the flag that ends this schedule, and its
    /// number (any earlier schedule ends now).
    pub fn schedule(&self, batch: &str, every: Duration) -> (StopFlag, u64) {
        self.with(batch, |b| {
            b.cancel.stop();
            b.cancel = StopFlag::default();
            b.generation += 1;
            b.every = Some(every);
            (b.cancel.clone(), b.generation)
        })
    }

    /// End the batch's schedule; false when it had none.
    pub fn unschedule(&self, batch: &str) -> bool {
        self.with(batch, |b| {
            b.cancel.stop();
            b.every.take().is_some()
        })
    }

    /// Schedule number `generation` ended by itself (a failed pass, a stop): forget its
    /// interval, unless a newer schedule replaced it.
    pub fn schedule_ended(&self, batch: &str, generation: u64) {
        self.with(batch, |b| {
            if b.generation == generation {
                b.every = None;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_per_batch_and_a_replaced_schedule_outlives_the_old_one() {
        let s = SyncSchedules::default();
        assert!(
            s.begin("pilot", false) && !s.begin("pilot", true),
            "one at a time"
        );
        assert!(s.is_delta("pilot") && !s.is_delta("wave-1"));
        assert!(s.begin("wave-1", true), "per batch");
        s.end("pilot");
        assert!(!s.is_delta("pilot"));
        let (first, g1) = s.schedule("pilot", Duration::from_secs(60));
        let (second, g2) = s.schedule("pilot", Duration::from_secs(120));
        assert!(
            first.is_stopped() && !second.is_stopped(),
            "the old one ends"
        );
        // The old schedule's loop ending does not forget the new interval.
        s.schedule_ended("pilot", g1);
        assert_eq!(s.state("pilot").2, Some(Duration::from_secs(120)));
        s.schedule_ended("pilot", g2);
        assert_eq!(s.state("pilot").2, None);
        let (third, _) = s.schedule("pilot", Duration::from_secs(60));
        assert!(s.unschedule("pilot") && third.is_stopped());
        assert!(!s.unschedule("pilot"), "nothing left to stop");
        assert_eq!(s.state("wave-1"), (true, true, None));
    }
}
