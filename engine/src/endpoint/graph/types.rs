//! What the Graph modules share: the extended properties cutover reads and writes, the
//! journal's pseudo-folders, the well-known folders, paging and upload sizes, and a listed
//! folder's messages.

use chrono::{DateTime, FixedOffset};

use crate::endpoint::types::{Folder, SpecialUse};

/// The named extended property where cutover keeps a created message's source fingerprint
/// and size (`"<fingerprint> <bytes>"`).
pub const FINGERPRINT_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverFingerprint";
/// Set instead of the fingerprint on a message created through the JSON path while its
/// attachments are still being added: such a message without the fingerprint is cutover's own
/// unfinished creation (a run killed mid-upload), never taken for the copy and removed.
pub const BUILDING_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverBuilding";
/// PR_MESSAGE_SIZE.
pub(super) const SIZE_PROP: &str = "Integer 0x0E08";
/// PR_MESSAGE_FLAGS: 1 = read; 8 (unsent) is never set, so the item is not a draft.
pub(super) const FLAGS_PROP: &str = "Integer 0x0E07";
/// PR_MESSAGE_DELIVERY_TIME.
pub(super) const DELIVERY_PROP: &str = "SystemTime 0x0E06";
/// PR_CLIENT_SUBMIT_TIME (the Date header).
pub(super) const SUBMIT_PROP: &str = "SystemTime 0x0039";
/// PR_TRANSPORT_MESSAGE_HEADERS.
pub(super) const HEADERS_PROP: &str = "String 0x007D";

/// Attachments from this size go through an upload session.
pub(super) const ATTACH_INLINE_MAX: usize = 3_000_000;
/// Graph's limit for an attachment added to an event in one request (events have no upload
/// sessions here): an event with a bigger one is refused, and `assess` flags it.
pub(super) const ATTACH_MAX: usize = 3 * 1024 * 1024;
/// Upload-session chunk: a multiple of 320 KiB, under the 4 MB request limit.
pub(super) const CHUNK: usize = 320 * 1024 * 12;
/// Journal pseudo-folder (in the id-to-UID map) listing the parent folders cutover created
/// implicitly for a nested folder, so that rollback removes them too.
pub(super) const CREATED_PARENTS: &str = "\u{1}cutover:created-parents";
/// Journal pseudo-folder (per destination folder) of imports whose follow-up (read state, flag,
/// fingerprint property) may not have happened: `"<fingerprint> <size> <seen> <flagged>"`.
pub(super) fn incomplete(folder: &str) -> String {
    format!("\u{1}cutover:incomplete:{folder}")
}
/// Messages listed per page.
pub(super) const PAGE: usize = 500;

/// Well-known folder names and the role each one has.
pub(super) const WELL_KNOWN: &[(&str, Option<SpecialUse>)] = &[
    ("inbox", None),
    ("sentitems", Some(SpecialUse::Sent)),
    ("drafts", Some(SpecialUse::Drafts)),
    ("deleteditems", Some(SpecialUse::Trash)),
    ("junkemail", Some(SpecialUse::Junk)),
    ("archive", Some(SpecialUse::Archive)),
];

pub(super) struct Selected {
    pub(super) wire: String,
    pub(super) items: Vec<Item>,
}

/// One listed message.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) uid: u32,
    pub(super) id: String,
    /// Size: the source's (from cutover's property), else PR_MESSAGE_SIZE.
    pub(super) size: u64,
    /// The fingerprint cutover stored, when it created the message.
    pub(super) fingerprint: Option<String>,
    /// Created by cutover through the JSON path and never completed.
    pub(super) unfinished: bool,
    pub(super) flags: Vec<String>,
    pub(super) received: Option<DateTime<FixedOffset>>,
}

/// On a contact cutover created: the source item's UID (the vCard's), by which a create
/// whose answer was lost is found again (`$filter` on it) and the contact is identified as a
/// source in its turn.
pub const CONTACT_UID_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverContactUid";
/// On a contact cutover created: the source vCard's text, from which the contact is rendered
/// back (verification, a later copy from this mailbox) so that what Graph has no field for
/// is not lost and the fingerprints compare equal. Set last (after the photo): a contact
/// with the UID property but without this one is cutover's unfinished create.
pub const CONTACT_VCARD_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverVcard";
/// Journal pseudo-folder (per destination address book) of the UIDs whose create was sent:
/// one found there before a create is searched for on the destination first.
pub(super) fn contact_sent(folder: &str) -> String {
    format!("\u{1}cutover:contact-sent:{folder}")
}

/// The address book opened by `examine`/`open_for_append`, as listed then.
pub(super) struct ContactSel {
    pub(super) folder: String,
    /// The contact folder's id; None for the default Contacts folder.
    pub(super) fid: Option<String>,
    /// In UID order.
    pub(super) items: Vec<ContactItem>,
}

/// One listed contact.
#[derive(Debug, Clone)]
pub(super) struct ContactItem {
    pub(super) uid: u32,
    pub(super) id: String,
    /// The source UID cutover stored on it.
    pub(super) source_uid: Option<String>,
    /// The source vCard cutover stored on it.
    pub(super) vcard: Option<String>,
    pub(super) json: serde_json::Value,
}

/// On an event cutover created: the source item's UID (the iCalendar UID of the series),
/// by which a create whose answer was lost is found again and the event is identified as a
/// source in its turn.
pub const EVENT_UID_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverEventUid";
/// On an event cutover created: the source iCalendar text (binary attachments' bytes left
/// out: the event's attachments hold them). Set last, once every exception, cancellation
/// and attachment is written: an event with the UID property but without this one is
/// cutover's unfinished create, completed (never created again) by the next run.
pub const EVENT_ICAL_PROP: &str = "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverIcal";
/// On an event cutover created from a meeting: its ORGANIZER and ATTENDEE lines as read
/// (cutover never writes Graph attendees: Graph would invite them).
pub const EVENT_PEOPLE_PROP: &str =
    "String {3f0c5a8e-6b1d-4c2e-9a57-1d2e8c4b7f60} Name cutoverAttendees";
/// Journal pseudo-folder (per destination calendar) of the UIDs whose create was sent.
pub(super) fn event_sent(folder: &str) -> String {
    format!("\u{1}cutover:event-sent:{folder}")
}

/// Journal pseudo-folder (per destination calendar): per source UID, the Graph id of the
/// event cutover is replacing (deleted, then created again), so that the new event takes
/// its journal UID, whatever step a kill interrupts.
pub(super) fn event_replacing(folder: &str) -> String {
    format!("\u{1}cutover:event-replacing:{folder}")
}

/// The calendar opened by `examine`/`open_for_append`, as listed then.
pub(super) struct CalSel {
    pub(super) folder: String,
    /// The calendar's Graph id.
    pub(super) cid: String,
    /// In UID order.
    pub(super) items: Vec<EventItem>,
}

/// One listed event (a single event or a series master).
#[derive(Debug, Clone)]
pub(super) struct EventItem {
    pub(super) uid: u32,
    pub(super) id: String,
    /// The source UID cutover stored on it.
    pub(super) source_uid: Option<String>,
    /// The source text cutover stored on it (binary attachments left out).
    pub(super) ical: Option<String>,
    pub(super) json: serde_json::Value,
}

/// The export-import path's state in a session (`graph_import = "export-import"`).
#[derive(Default)]
pub(super) struct Xport {
    /// The user's primary mailbox id (`/settings/exchange`).
    pub(super) mailbox: Option<String>,
    /// (folder, mailbox folder id), as last listed.
    pub(super) folders: Option<Vec<(Folder, String)>>,
    pub(super) selected: Option<XSel>,
    /// The destination mailbox's import session.
    pub(super) import: Option<ImportSession>,
}

/// An import session: its URL carries a credential (never logged, printed or put in an
/// error; no `Debug`).
pub(super) struct ImportSession {
    pub(super) url: String,
    /// Renewed from then on (a little before it expires).
    pub(super) renew_at: DateTime<chrono::Utc>,
}

/// The folder opened on the export-import path, as listed then.
pub(super) struct XSel {
    pub(super) folder: String,
    /// The mailbox folder's id.
    pub(super) fid: String,
    /// In UID order.
    pub(super) items: Vec<XItem>,
}

/// One listed mailbox item.
#[derive(Clone)]
pub(super) struct XItem {
    pub(super) uid: u32,
    pub(super) id: String,
    pub(super) size: u64,
    pub(super) summary: crate::item::opaque::Summary,
}

/// At most this many items in one `exportItems` request (Graph's documented limit).
pub(super) const EXPORT_BATCH: usize = 20;
/// Listed bytes of the items of one `exportItems` request past its first item (their streams
/// come back in base64 in one answer).
pub(super) const EXPORT_ANSWER_BUDGET: u64 = 8 * 1024 * 1024;
/// PR_SEARCH_KEY: kept by a full-fidelity import; what finds an item again.
pub(super) const SEARCH_KEY_PROP: &str = "Binary 0x300B";
/// PR_SUBJECT.
pub(super) const SUBJECT_PROP: &str = "String 0x0037";
