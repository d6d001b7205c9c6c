//! What the CalDAV/CardDAV client hands back: the account's homes, its collections, the
//! resources of a collection and their bytes, the outcome of a write, a sync delta. Hrefs are
//! as the server gives them (absolute paths, percent-encoded); compare them with
//! [`super::xml::same_href`].

/// Largest reply read from a DAV server (a multistatus listing, a multiget of up to
/// [`MULTIGET_CHUNK`] resources, one resource by GET): a calendar resource with attachments
/// can be several MB.
pub const MAX_REPLY: usize = 64 * 1024 * 1024;

/// Most hrefs asked for in one calendar-multiget / addressbook-multiget REPORT.
pub const MULTIGET_CHUNK: usize = 100;

/// Most responses one multistatus reply may hold (a collection listing, a sync delta).
pub const MAX_RESPONSES: usize = 1_000_000;

/// The two kinds of DAV collection cutover copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    /// A CalDAV calendar (RFC 4791): iCalendar resources.
    Calendar,
    /// A CardDAV address book (RFC 6352): vCard resources.
    AddressBook,
}

impl CollectionKind {
    /// The media type of a resource of this kind, as sent with a PUT.
    pub fn content_type(self) -> &'static str {
        match self {
            CollectionKind::Calendar => "text/calendar; charset=utf-8",
            CollectionKind::AddressBook => "text/vcard; charset=utf-8",
        }
    }

    /// The file extension of a new resource of this kind.
    pub fn extension(self) -> &'static str {
        match self {
            CollectionKind::Calendar => "ics",
            CollectionKind::AddressBook => "vcf",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CollectionKind::Calendar => "calendar",
            CollectionKind::AddressBook => "address book",
        }
    }
}

/// Where an account's calendars and address books live (discovery, RFC 6764 and RFC 4791 /
/// RFC 6352 section 6/7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homes {
    /// The href of the account's principal (DAV:current-user-principal).
    pub principal: String,
    /// CALDAV:calendar-home-set, when the server has calendars.
    pub calendar_home: Option<String>,
    /// CARDDAV:addressbook-home-set, when the server has address books.
    pub addressbook_home: Option<String>,
    /// The calendar home's DAV header says `calendar-auto-schedule` (RFC 6638): the server
    /// would send invitations itself unless attendees carry `SCHEDULE-AGENT=CLIENT`.
    pub scheduling: bool,
}

/// A calendar or address book in a home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub href: String,
    pub kind: CollectionKind,
    pub displayname: Option<String>,
    /// CalendarServer's getctag: changes whenever anything in the collection does.
    pub ctag: Option<String>,
    /// DAV:sync-token (RFC 6578), when the server supports sync-collection.
    pub sync_token: Option<String>,
    /// CALDAV:supported-calendar-component-set (`VEVENT`, `VTODO`, ...); empty when not said
    /// (any) or for an address book.
    pub components: Vec<String>,
    /// Apple's calendar-color (`#RRGGBB` or `#RRGGBBAA`).
    pub color: Option<String>,
    /// calendar-description or addressbook-description.
    pub description: Option<String>,
}

/// A resource of a collection as a listing names it (no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub href: String,
    /// The strong ETag with its quotes, as the server gives it.
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

/// A resource with its bytes (iCalendar or vCard, exactly as the server sent them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemData {
    pub href: String,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

/// The outcome of a PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored (201 or 204); the new ETag when the server said it.
    Stored { etag: Option<String> },
    /// 412: for [`put_new`](super::DavClient::put_new) a resource already has this href; for
    /// [`put_replace`](super::DavClient::put_replace) its ETag is no longer the one given.
    PreconditionFailed,
    /// Another resource of the collection already has this UID (the `no-uid-conflict`
    /// precondition, RFC 4791 5.3.2.1 / RFC 6352 6.3.2.1): its href when the server named it
    /// (else [`find_uid`](super::DavClient::find_uid) finds it).
    UidConflict { href: Option<String> },
    /// Refused for this resource only (400, 403, 409, 413, 415: malformed, too large, a UID
    /// already used by another resource, not allowed here): skip it with the reason.
    Refused { status: u16, reason: String },
}

/// What changed in a collection since a sync token (RFC 6578 sync-collection, level 1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncDelta {
    /// Resources created or changed (with their new ETag when said).
    pub changed: Vec<ItemRef>,
    /// Hrefs of resources removed.
    pub removed: Vec<String>,
    /// The token to ask from next time.
    pub token: String,
    /// The server truncated the answer (507 on the collection): ask again from `token` for
    /// the rest.
    pub truncated: bool,
}
