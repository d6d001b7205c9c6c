//! The connection budget of one endpoint side.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many sessions one endpoint side may have open at once (`max_connections`): every
/// connector takes a permit per session and holds it until the session is dropped.
#[derive(Clone)]
pub struct ConnectionBudget {
    sem: Arc<Semaphore>,
    max: usize,
}

impl ConnectionBudget {
    pub fn new(max: usize) -> ConnectionBudget {
        ConnectionBudget {
            sem: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Sessions open right now.
    pub fn in_use(&self) -> usize {
        self.max - self.sem.available_permits()
    }

    /// Wait for a free slot.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        self.sem
            .clone()
            .acquire_owned()
            .await
            .expect("connection budget semaphore is never closed")
    }
}

/// Connection slots shared by a fleet of workers (issue 20): a session to an endpoint host
/// also holds one of its `max_connections` slots leased in the journal, so all workers
/// together stay within the budget. Set once per process by a fleet worker
/// ([`set_fleet_slots`]); without it the budget is this process's alone.
pub trait FleetSlots: Send + Sync {
    /// Lease a free slot of `endpoint` (one of `0..max`), blocking on the journal; `None`
    /// when every slot is held.
    fn take(&self, endpoint: &str, max: usize) -> Option<i64>;
    /// Give slot `idx` of `endpoint` back (blocking).
    fn release(&self, endpoint: &str, idx: i64);
}

static FLEET: std::sync::OnceLock<Arc<dyn FleetSlots>> = std::sync::OnceLock::new();

/// Make every fleet-aware budget of this process lease its slots through `slots`.
pub fn set_fleet_slots(slots: Arc<dyn FleetSlots>) {
    let _ = FLEET.set(slots);
}

/// A session's place in the budget: this process's permit and, in a fleet, the leased slot
/// (given back when the session is dropped).
pub struct Permit {
    _local: OwnedSemaphorePermit,
    fleet: Option<(Arc<dyn FleetSlots>, String, i64)>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((slots, endpoint, idx)) = self.fleet.take() {
            let release = move || slots.release(&endpoint, idx);
            match tokio::runtime::Handle::try_current() {
                Ok(h) => drop(h.spawn_blocking(release)),
                Err(_) => release(),
            }
        }
    }
}

impl ConnectionBudget {
    /// [`ConnectionBudget::acquire`], and in a fleet a slot of `endpoint` leased in the
    /// journal first (polled every 250 ms while the fleet's slots are all held).
    pub async fn acquire_slot(&self, endpoint: &str) -> Permit {
        let local = self.acquire().await;
        let Some(slots) = FLEET.get().cloned() else {
            return Permit {
                _local: local,
                fleet: None,
            };
        };
        loop {
            let (s, e, max) = (slots.clone(), endpoint.to_string(), self.max);
            let taken = tokio::task::spawn_blocking(move || s.take(&e, max))
                .await
                .ok()
                .flatten();
            if let Some(idx) = taken {
                return Permit {
                    _local: local,
                    fleet: Some((slots, endpoint.to_string(), idx)),
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}
