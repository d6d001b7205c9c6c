//! The types every endpoint speaks in: folders and their state, messages and their
//! identities, capabilities, the outcome of an APPEND, and the one error type.

use chrono::{DateTime, FixedOffset};

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

/// The fetch calls' selection of one item: among `uids`, or every item from `from_uid` on
/// when `uids` is empty (see `MailSession::fetch_fingerprints`).
pub(crate) fn in_selection(uid: u32, uids: &[u32], from_uid: u32) -> bool {
    if uids.is_empty() {
        uid >= from_uid
    } else {
        uids.contains(&uid)
    }
}

impl Message {
    /// An event or a contact as an item store reads it: its text, no flags, no date.
    pub fn item(uid: u32, text: Vec<u8>) -> Message {
        Message {
            uid,
            flags: Vec::new(),
            internal_date: None,
            body: Body::new(text),
        }
    }
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

/// A message's identity on the destination, for in-doubt resolution and verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprinted {
    pub uid: u32,
    pub size: u64,
    pub fingerprint: String,
    pub flags: Vec<String>,
    pub internal_date: Option<DateTime<FixedOffset>>,
}

impl Fingerprinted {
    /// An event or a contact: the fingerprint of its normalised text (see `crate::item`).
    pub fn item(kind: crate::api::ItemKind, uid: u32, text: &[u8]) -> Fingerprinted {
        Fingerprinted {
            uid,
            size: text.len() as u64,
            fingerprint: crate::item::fingerprint(kind, text),
            flags: Vec::new(),
            internal_date: None,
        }
    }
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
    /// The largest attachment an event written here may carry (Microsoft 365: 3 MB); None
    /// when the endpoint has no limit of its own. An event with a bigger one is refused.
    pub attachment_limit: Option<u64>,
    /// The sizes this endpoint lists are estimates, not the bytes of the message (Gmail's
    /// sizeEstimate, Graph's PR_MESSAGE_SIZE): the engine then never compares them with the
    /// journal's sizes, and matches in-doubt messages on fingerprints alone.
    pub inexact_sizes: bool,
    /// The fingerprints this endpoint lists for mail are a property cutover stamped on each
    /// message it wrote (Graph), not a hash of the content read back: they prove presence,
    /// and content verification re-reads the message's export to compare what it says.
    pub stamped_fingerprints: bool,
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
    /// Not stored because the destination's own version is kept: an item changed on the
    /// source whose copy a user changed on the destination since cutover wrote it (a delta
    /// pass's conflict rule). Its row is journalled `superseded` with the reason (the row of
    /// the version cutover wrote keeps pointing at the destination's item), said as a warning.
    Kept { reason: String },
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
    /// This endpoint cannot do the operation at all (a delta pass's flag listing, flag
    /// store or move on an endpoint without them): the caller leaves that part out and says
    /// so, it is not a failure.
    #[error("{op}: not available on this endpoint")]
    Unsupported { op: &'static str },
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

    /// The endpoint cannot do this operation at all (see [`EndpointError::Unsupported`]).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, EndpointError::Unsupported { .. })
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
