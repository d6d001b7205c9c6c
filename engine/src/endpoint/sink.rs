//! The channel a source streams messages into, under the process-wide read-ahead budget,
//! and the previews of large messages still being read (cut-through, see [`Preview`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset};
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};

use super::bounded;
use super::types::Message;

/// Bytes of a previewed message held for the destination at most, before the copy takes
/// the preview up and after: beyond that the copy gives up on the chunks (before: the
/// preview is useless; after: the destination is behind), and the rest of the message
/// goes from the complete message instead.
const WAITING_BYTES: usize = 1024 * 1024;
const TAKEN_BYTES: usize = 4 * 1024 * 1024;

/// A large message announced as its bytes start to arrive, before the complete message is
/// queued: the copy may start its APPEND at once and write the bytes as they come
/// (`chunks`), so a multi-megabyte message crosses both links at the same time rather than
/// one after the other. The complete message still follows in the channel as usual; the
/// chunks are a head start only, never what is journalled or checked.
#[derive(Debug)]
pub struct Preview {
    pub uid: u32,
    pub flags: Vec<String>,
    pub internal_date: Option<DateTime<FixedOffset>>,
    /// The message's exact size in bytes.
    pub size: u64,
    /// How many messages were queued in the channel before this one.
    pub after: u64,
    /// The bytes as they are read, in order.
    pub chunks: Chunks,
}

#[derive(Debug, Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    taken: bool,
    given_up: bool,
    done: bool,
}

#[derive(Debug, Default)]
struct ChunkShared {
    q: Mutex<Queue>,
    more: Notify,
}

impl ChunkShared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The copy's side of a preview's bytes.
#[derive(Debug)]
pub struct Chunks(Arc<ChunkShared>);

impl Chunks {
    /// Take the preview up: false when it is too late (its bytes were already let go).
    pub fn take_up(&self) -> bool {
        let mut q = self.0.lock();
        q.taken = !q.given_up;
        q.taken
    }

    /// The next bytes, in order; None once the message's bytes are all read, or given up
    /// (the rest is then in the complete message).
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        loop {
            {
                let mut q = self.0.lock();
                if let Some(c) = q.chunks.pop_front() {
                    q.bytes -= c.len();
                    return Some(c);
                }
                if q.done || q.given_up {
                    return None;
                }
            }
            // One receiver: a notification sent meanwhile is kept for this wait.
            self.0.more.notified().await;
        }
    }
}

/// The source's side of the previews: announces a message whose bytes start to arrive.
#[derive(Clone)]
pub struct Previewer {
    tx: mpsc::UnboundedSender<Preview>,
    queued: Arc<AtomicU64>,
    threshold: u64,
}

impl Previewer {
    /// Messages of at least this many bytes are previewed.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// A preview of message `uid` of `size` bytes, to announce ([`Announcement::send`]) once
    /// its bytes are seen to take a while, and where its bytes go meanwhile.
    pub fn prepare(
        &self,
        uid: u32,
        flags: Vec<String>,
        internal_date: Option<DateTime<FixedOffset>>,
        size: u64,
    ) -> (Announcement, ChunkTx) {
        let shared = Arc::new(ChunkShared::default());
        let preview = Preview {
            uid,
            flags,
            internal_date,
            size,
            after: self.queued.load(Relaxed),
            chunks: Chunks(shared.clone()),
        };
        let a = Announcement {
            preview,
            tx: self.tx.clone(),
        };
        (a, ChunkTx(shared))
    }
}

/// A preview not announced yet.
pub struct Announcement {
    preview: Preview,
    tx: mpsc::UnboundedSender<Preview>,
}

impl Announcement {
    /// False when nobody listens any more.
    pub fn send(self) -> bool {
        self.tx.send(self.preview).is_ok()
    }
}

/// Where a previewed message's bytes go as they are read; dropped when the last was read.
pub struct ChunkTx(Arc<ChunkShared>);

impl ChunkTx {
    /// Pass `bytes` on, within the bytes held at most; past them, nothing more is passed on
    /// for this message and what was held is let go.
    pub fn send(&mut self, bytes: &[u8]) {
        let mut q = self.0.lock();
        if q.given_up {
            return;
        }
        let most = if q.taken { TAKEN_BYTES } else { WAITING_BYTES };
        if q.bytes + bytes.len() > most {
            q.given_up = true;
            q.chunks.clear();
            q.bytes = 0;
        } else {
            q.bytes += bytes.len();
            q.chunks.push_back(bytes.to_vec());
        }
        drop(q);
        self.0.more.notify_one();
    }
}

impl Drop for ChunkTx {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.done = true;
        if !q.taken {
            // Whole before the copy took it up: of no use, let go.
            q.given_up = true;
            q.chunks.clear();
            q.bytes = 0;
        }
        drop(q);
        self.0.more.notify_one();
    }
}

/// Where a source streams messages. A message is queued only once its size (in KiB, capped
/// at the whole budget) is reserved in the process-wide read-ahead budget
/// ([`bounded::read_ahead`]), shared by every folder pipeline, and the reservation travels
/// with it until the destination has stored it. Memory for messages in flight is thus
/// bounded by that budget plus the one message each pipeline is reading.
pub struct MessageSink {
    tx: mpsc::Sender<(Message, OwnedSemaphorePermit)>,
    queued: Arc<AtomicU64>,
    previews: Option<Previewer>,
}

impl MessageSink {
    /// A sink that queues at most `capacity` messages.
    pub fn new(capacity: usize) -> (MessageSink, mpsc::Receiver<(Message, OwnedSemaphorePermit)>) {
        let (tx, rx) = mpsc::channel(capacity);
        let sink = MessageSink {
            tx,
            queued: Arc::default(),
            previews: None,
        };
        (sink, rx)
    }

    /// Previews of the messages of at least `from` bytes, for a source that can give them
    /// (IMAP); the others ignore this.
    pub fn with_previews(&mut self, from: u64) -> mpsc::UnboundedReceiver<Preview> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.previews = Some(Previewer {
            tx,
            queued: self.queued.clone(),
            threshold: from,
        });
        rx
    }

    /// Where to announce large messages, when previews are wanted.
    pub fn previewer(&self) -> Option<Previewer> {
        self.previews.clone()
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
        let ok = self.tx.send((m, permit)).await.is_ok();
        if ok {
            self.queued.fetch_add(1, Relaxed);
        }
        ok
    }
}
