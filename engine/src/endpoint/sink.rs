//! The channel a source streams messages into, under the process-wide read-ahead budget.

use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::bounded;
use super::types::Message;

/// Where a source streams messages. A message is queued only once its size (in KiB, capped
/// at the whole budget) is reserved in the process-wide read-ahead budget
/// ([`bounded::read_ahead`]), shared by every folder pipeline, and the reservation travels
/// with it until the destination has stored it. Memory for messages in flight is thus
/// bounded by that budget plus the one message each pipeline is reading.
pub struct MessageSink {
    tx: mpsc::Sender<(Message, OwnedSemaphorePermit)>,
}

impl MessageSink {
    /// A sink that queues at most `capacity` messages.
    pub fn new(capacity: usize) -> (MessageSink, mpsc::Receiver<(Message, OwnedSemaphorePermit)>) {
        let (tx, rx) = mpsc::channel(capacity);
        (MessageSink { tx }, rx)
    }

    /// False when the receiver is gone (the copy stopped).
    pub async fn send(&self, m: Message) -> bool {
        self.send_reserved(m, None).await
    }

    /// Queue a message whose bytes were already reserved while they were read (the IMAP
    /// guard reserves large literals before reading them); reserve now when not.
    pub async fn send_reserved(&self, m: Message, reserved: Option<OwnedSemaphorePermit>) -> bool {
        let permit = match reserved {
            Some(p) => p,
            None => {
                // Stop waiting for room when the receiver is gone.
                tokio::select! {
                    p = bounded::reserve(m.body.len() as u64) => p,
                    _ = self.tx.closed() => return false,
                }
            }
        };
        self.tx.send((m, permit)).await.is_ok()
    }
}
