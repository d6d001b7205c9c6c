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
