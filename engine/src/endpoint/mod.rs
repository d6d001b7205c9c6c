//! Mail endpoints: where messages are read from and written to.
//!
//! The engine talks to every kind of endpoint (IMAP today; Graph, Gmail API and POP3 later)
//! through [`MailSession`], in terms of folders, UIDs, flags, dates and raw RFC 5322 bytes.
//! An endpoint that has no IMAP UIDs (Graph) keeps its own stable ids behind the same calls.

pub mod any;
pub mod bounded;
pub mod gmail;
pub mod graph;
pub mod guard;
pub mod http;
pub mod imap;
pub mod oauth;
pub mod pop3;
pub mod rest;
pub mod retry_after;
mod starttls;

use std::future::Future;

use chrono::{DateTime, FixedOffset};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

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

/// RFC 6154 special-use roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
}

impl SpecialUse {
    pub fn name(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }
}

/// A folder as the endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The name on the wire (modified UTF-7 for IMAP): what SELECT and APPEND take.
    pub wire_name: String,
    /// The decoded hierarchy, one component per level ("INBOX" stays "INBOX").
    pub path: Vec<String>,
    pub delimiter: Option<char>,
    pub special: Option<SpecialUse>,
    pub selectable: bool,
}

impl Folder {
    pub fn display(&self) -> String {
        self.path.join("/")
    }
}

/// What SELECT/EXAMINE/STATUS tell about a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FolderState {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub exists: u32,
}

/// Per-message metadata, without the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub size: u64,
}

/// What identifies a source message across folders, fetched cheaply (no body): used where
/// one message shows in several folders (Gmail labels, All Mail) to copy it once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageIdentity {
    pub uid: u32,
    pub size: u64,
    /// The Message-ID header (without angle brackets), when the message has one.
    pub message_id: Option<String>,
    /// The provider's own id of the message, the same in every folder it shows in (Gmail's
    /// X-GM-MSGID in decimal, or the Gmail API message id).
    pub provider_id: Option<String>,
    /// The message's labels as the provider names them (X-GM-LABELS: `\Inbox`, `\Sent`,
    /// `\Draft`, `\Spam`, `\Trash`, `\Important`, `\Starred`, user labels by their decoded
    /// name with "/" between levels), when it says.
    pub labels: Option<Vec<String>>,
}

/// A whole message as read from a source.
#[derive(Debug)]
pub struct Message {
    pub uid: u32,
    pub flags: Vec<String>,
    pub internal_date: Option<DateTime<FixedOffset>>,
    pub body: Body,
}

/// A message's bytes, kept in whatever buffer the endpoint read them into (no copy).
pub struct Body(Box<dyn AsRef<[u8]> + Send + Sync>);

impl Body {
    pub fn new(b: impl AsRef<[u8]> + Send + Sync + 'static) -> Body {
        Body(Box::new(b))
    }
    pub fn bytes(&self) -> &[u8] {
        (*self.0).as_ref()
    }
    pub fn len(&self) -> usize {
        self.bytes().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Body({} bytes)", self.len())
    }
}

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

/// A message's identity on the destination, for in-doubt resolution and verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprinted {
    pub uid: u32,
    pub size: u64,
    pub fingerprint: String,
    pub flags: Vec<String>,
    pub internal_date: Option<DateTime<FixedOffset>>,
}

/// Content fingerprint: BLAKE3 of the exact bytes, 128 bits in hex.
pub fn fingerprint(body: &[u8]) -> String {
    let h = blake3::hash(body);
    h.to_hex()[..32].to_string()
}

/// What an endpoint can do, as far as the engine cares.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub uidplus: bool,
    pub literal_plus: bool,
    pub literal_minus: bool,
    pub special_use: bool,
    pub multiappend: bool,
    pub append_limit: Option<u64>,
    /// The sizes this endpoint lists are estimates, not the bytes of the message (Gmail's
    /// sizeEstimate, Graph's PR_MESSAGE_SIZE): the engine then never compares them with the
    /// journal's sizes, and matches in-doubt messages on fingerprints alone.
    pub inexact_sizes: bool,
    pub raw: Vec<String>,
}

/// The outcome of one APPEND.
#[derive(Debug)]
pub enum AppendOutcome {
    /// Stored; the destination UID when the server reported it (UIDPLUS).
    Stored {
        uidvalidity: Option<u32>,
        uid: Option<u32>,
    },
    /// Refused for this message only (too big, malformed): skip it with the reason.
    Refused { reason: String },
    /// Not stored, for a reason that concerns the folder or the account (over quota, no
    /// such folder): the message stays pending and the folder stops.
    Failed { error: EndpointError },
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with {host}: {message}")]
    Tls { host: String, message: String },
    #[error("login as {user} refused: {message}")]
    Auth { user: String, message: String },
    #[error("{op} timed out after {secs} s")]
    Timeout { op: String, secs: u64 },
    #[error("the server closed the connection during {op}")]
    ConnectionLost { op: String },
    #[error("{op}: the server is throttling this client: {message}")]
    Throttled {
        op: String,
        message: String,
        /// How long the server asked the client to wait, when it said.
        wait: Option<std::time::Duration>,
    },
    #[error("{op}: the destination is over quota: {message}")]
    OverQuota { op: String, message: String },
    #[error(
        "{op}: folder {folder} does not exist{}",
        server.as_deref().map(|s| format!(" (server said: {s})")).unwrap_or_default()
    )]
    NoFolder {
        op: String,
        folder: String,
        /// The server's own words, when it gave some.
        server: Option<String>,
    },
    #[error("{op}: server said NO: {message}")]
    No { op: String, message: String },
    #[error("{op}: {message}")]
    Protocol { op: String, message: String },
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    /// The journal, where endpoints without IMAP UIDs keep their id-to-UID maps, could not
    /// be read or written (exit 9).
    #[error("{op}: {source}")]
    Journal {
        op: String,
        #[source]
        source: crate::journal::JournalError,
    },
}

impl EndpointError {
    /// Worth retrying on a new connection (network trouble), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EndpointError::Connect { .. }
                | EndpointError::Timeout { .. }
                | EndpointError::ConnectionLost { .. }
                | EndpointError::Io { .. }
                | EndpointError::Throttled { .. }
        )
    }

    /// The journal failed, not the server.
    pub fn is_journal(&self) -> bool {
        matches!(self, EndpointError::Journal { .. })
    }
}

pub type Result<T> = std::result::Result<T, EndpointError>;

/// The longest wait a server's Retry-After is honoured with; a longer one fails the request
/// as throttled (the engine retries later, within its own cap) instead of stalling a mailbox
/// for hours.
pub const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// One logged-in session on an endpoint. The methods that work on "the examined folder" need
/// a prior [`MailSession::examine`].
pub trait MailSession: Send {
    fn capabilities(&self) -> &Capabilities;

    fn list_folders(&mut self) -> impl Future<Output = Result<Vec<Folder>>> + Send;

    /// Open a folder read-only (the source is never modified).
    fn examine(&mut self, folder: &str) -> impl Future<Output = Result<FolderState>> + Send;

    /// Open a destination folder for writing: its state, and which keywords it accepts.
    fn open_for_append(&mut self, folder: &str)
    -> impl Future<Output = Result<FolderState>> + Send;

    fn status(&mut self, folder: &str) -> impl Future<Output = Result<FolderState>> + Send;

    /// Create a folder: true when this call created it, false when it existed already.
    fn create_folder(&mut self, folder: &str) -> impl Future<Output = Result<bool>> + Send;

    /// UIDs and sizes of the examined folder's messages with UID >= `from_uid`.
    fn fetch_meta(
        &mut self,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<MessageMeta>>> + Send;

    /// Identities (size, Message-ID, provider id and labels where the endpoint has them) of
    /// the examined folder's messages with UID >= `from_uid`, without their bodies. The
    /// default knows only UIDs and sizes; callers then identify messages by content.
    fn fetch_identities(
        &mut self,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<MessageIdentity>>> + Send {
        async move {
            Ok(self
                .fetch_meta(from_uid)
                .await?
                .into_iter()
                .map(|m| MessageIdentity {
                    uid: m.uid,
                    size: m.size,
                    ..Default::default()
                })
                .collect())
        }
    }

    /// Stream whole messages of the examined folder (flags, date, bytes) into `sink`, in UID
    /// order. Messages that vanished in between are simply absent.
    fn fetch_messages(
        &mut self,
        uids: &[u32],
        sink: &MessageSink,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Fingerprints (and flags, dates) of the examined folder's messages among `uids`
    /// (all messages with UID >= `from_uid` when `uids` is empty); bodies are hashed and dropped.
    fn fetch_fingerprints(
        &mut self,
        uids: &[u32],
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<Fingerprinted>>> + Send;

    /// Append messages to a folder, pipelined where the endpoint allows. One outcome per
    /// message, in order. An `Err` means the connection failed: outcomes are then unknown.
    fn append(
        &mut self,
        folder: &str,
        msgs: &[Message],
    ) -> impl Future<Output = Result<Vec<AppendOutcome>>> + Send;

    /// Remove exactly these messages from the folder opened with `open_for_append` (rollback
    /// on the destination only; the source is never written). Needs UIDPLUS (UID EXPUNGE), so
    /// that no other message marked deleted is touched.
    fn expunge_uids(&mut self, uids: &[u32]) -> impl Future<Output = Result<()>> + Send;

    /// Rename a folder (rollback moves an empty folder aside before deleting it).
    fn rename_folder(&mut self, from: &str, to: &str) -> impl Future<Output = Result<()>> + Send;

    /// Delete a folder (rollback of a folder cutover created, once it is empty).
    fn delete_folder(&mut self, folder: &str) -> impl Future<Output = Result<()>> + Send;

    /// Which keywords the examined/selected folder accepts (None: any).
    fn permanent_keywords(&self) -> Option<&[String]>;

    fn logout(self) -> impl Future<Output = ()> + Send;
}

/// Compress sorted UIDs into an IMAP sequence set ("1:4,7,9:10").
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 4, 7, 9, 10]), "1:4,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn fingerprint_is_stable_and_content_sensitive() {
        assert_eq!(fingerprint(b"abc"), fingerprint(b"abc"));
        assert_ne!(fingerprint(b"abc"), fingerprint(b"abd"));
        assert_eq!(fingerprint(b"").len(), 32);
    }
}
