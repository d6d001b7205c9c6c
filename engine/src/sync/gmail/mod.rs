//! Gmail as a source: each message copied once.
//!
//! Gmail shows each label as a folder and every message (but Spam and Trash) again in
//! `[Gmail]/All Mail`; a message with two labels shows in three folders. A folder-by-folder
//! copy would multiply it. For a Gmail-shaped source (`preset = "gmail"`, `kind = "gmail"`, a
//! `[source.gmail]` table, or a source listing a `\All` folder named `[Gmail]/All Mail` or
//! `[Google Mail]/All Mail`), a pre-pass over the mailbox's folders fetches every message's
//! identity without its body, decides which folder(s) own it, and hands each folder job the
//! UIDs it owns (a [`UidFilter`] with `only`) and the keywords to add.
//!
//! - Owner order: INBOX, Sent, Drafts, then user labels by name (case-insensitive, then
//!   exact), then Spam and Trash (when included). All Mail comes last: a message seen in no
//!   other folder is owned by its All Mail sighting, which is copied into the destination's
//!   Archive folder (its `\Archive` folder, else one named Archive, else Archive is created).
//! - `first-label` (default): one copy, in the first label's folder; the other labels become
//!   IMAP keywords on that copy ([`keyword_atom`]). `copy-per-label`: one copy in each
//!   label's folder; All Mail is still never copied besides.
//! - `[Gmail]/Starred` and `[Gmail]/Important` are views, never folders of their own
//!   (Starred is the `\Flagged` flag, copied with the message); Spam and Trash are left out
//!   unless `include_spam` / `include_trash`.
//! - Identity: the provider's id (X-GM-MSGID, when the server offers X-GM-EXT-1, or the Gmail
//!   API id), else Message-ID plus RFC822.SIZE, else (no Message-ID) the content fingerprint,
//!   for which the body is downloaded once. Several messages with the same identity in one
//!   folder are told apart by their order there (an ordinal in the identity).
//!
//! Decisions are journalled per sighting (`gmail_seen`) before anything is copied, and never
//! revised: a rerun or a resume only decides sightings it has not seen (UIDs above those
//! recorded), so a message copied once is never copied again from another folder. All Mail
//! is listed first: mail arriving during the pre-pass then shows in its label (and is owned
//! there) rather than in All Mail alone. Duplicates never enter the copy journal: they are
//! neither copied nor skipped, and are counted apart (an Info issue per run, and
//! `Journal::gmail_counts`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::mapping::{MapInput, Mapping, map_folders};
use super::types::{SyncError, UidFilter};
use crate::config::{self, FolderRules, GmailSource, MultiLabel, Preset};
use crate::endpoint::imap::encode_mutf7;
use crate::endpoint::{EndpointError, Folder, MailSession, SpecialUse};
use crate::events::{RunStats, Severity, Sink};
use crate::journal::{GmailSeenRow, Journal};

/// What a source folder is, for the owner order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Inbox,
    Sent,
    Drafts,
    /// A user label (a folder of its own name).
    Label,
    Spam,
    Trash,
    AllMail,
    /// Starred, Important: views of flags, not folders.
    View,
}

fn gmail_root(s: &str) -> bool {
    s == "[Gmail]" || s == "[Google Mail]"
}

/// The role of a source folder of a Gmail-shaped mailbox.
pub fn role_of(f: &Folder) -> Role {
    let p = &f.path;
    let sys = |n: &str| p.len() == 2 && gmail_root(&p[0]) && p[1] == n;
    match f.special {
        Some(SpecialUse::All) => return Role::AllMail,
        Some(SpecialUse::Flagged) => return Role::View,
        Some(SpecialUse::Junk) => return Role::Spam,
        Some(SpecialUse::Trash) => return Role::Trash,
        Some(SpecialUse::Sent) => return Role::Sent,
        Some(SpecialUse::Drafts) => return Role::Drafts,
        _ => {}
    }
    if sys("All Mail") {
        Role::AllMail
    } else if sys("Starred") || sys("Important") {
        Role::View
    } else if sys("Spam") {
        Role::Spam
    } else if sys("Trash") || sys("Bin") {
        Role::Trash
    } else if sys("Sent Mail") {
        Role::Sent
    } else if sys("Drafts") {
        Role::Drafts
    } else if p.len() == 1 && p[0].eq_ignore_ascii_case("INBOX") {
        Role::Inbox
    } else {
        Role::Label
    }
}

/// The Gmail settings in force for this source: from the project file, or detected (a `\All`
/// folder named like Gmail's All Mail) with the defaults. None: not a Gmail-shaped source.
pub fn detect(src: &config::Endpoint, folders: &[&Folder]) -> Option<(GmailSource, bool)> {
    if let Some(g) = src.gmail {
        return Some((g, false));
    }
    let all_mail = folders
        .iter()
        .any(|f| f.special == Some(SpecialUse::All) && f.path.len() == 2 && gmail_root(&f.path[0]));
    all_mail.then(|| (GmailSource::default(), true))
}

/// Adjust the folder mapping of a Gmail source: views and (unless included) Spam and Trash
/// are not folders to copy; All Mail goes to the destination's Archive.
pub fn adjust_mappings(
    maps: &mut [Mapping],
    g: &GmailSource,
    dst: &[Folder],
    dst_delimiter: char,
    rules: &FolderRules,
) {
    let (archive_wire, archive_display) = archive_target(dst);
    for m in maps.iter_mut() {
        if !m.src.selectable {
            continue;
        }
        let role = role_of(&m.src);
        let excluded = |m: &mut Mapping, why: &str| {
            m.dst_wire = None;
            m.dst_display.clear();
            m.why = why.to_string();
        };
        match role {
            Role::View => excluded(
                m,
                "Gmail view, not a folder: Starred is the \\Flagged flag, Important a marker; each message is copied from its labels",
            ),
            Role::Spam if !g.include_spam => excluded(
                m,
                "Gmail Spam is not migrated ([source.gmail] include_spam = false)",
            ),
            Role::Trash if !g.include_trash => excluded(
                m,
                "Gmail Trash is not migrated ([source.gmail] include_trash = false)",
            ),
            Role::Spam | Role::Trash if m.dst_wire.is_none() => {
                // Included, but the gmail preset left it out: map it as any folder.
                let again = map_folders(&MapInput {
                    src: std::slice::from_ref(&m.src),
                    dst,
                    src_preset: Preset::Generic,
                    dst_delimiter,
                    rules,
                });
                if let Some(a) = again.into_iter().next() {
                    *m = a;
                }
            }
            Role::AllMail if m.dst_wire.is_some() => {
                m.dst_wire = Some(archive_wire.clone());
                m.dst_display = archive_display.clone();
                m.why =
                    "Gmail All Mail: only messages without any other label, into Archive".into();
            }
            _ => {}
        }
    }
}

/// The mapping's reason for Gmail's All Mail (assessment tells it from a copied `\All`).
pub const ALL_MAIL_WHY: &str =
    "Gmail All Mail: only messages without any other label, into Archive (each message once)";

/// The destination's Archive folder: its `\Archive` folder, else a top-level one named
/// Archive, else "Archive" (created by the mailbox run when missing).
fn archive_target(dst: &[Folder]) -> (String, String) {
    let found = dst
        .iter()
        .find(|f| f.special == Some(SpecialUse::Archive) && f.selectable)
        .or_else(|| {
            dst.iter().find(|f| {
                f.selectable && f.path.len() == 1 && f.path[0].eq_ignore_ascii_case("Archive")
            })
        });
    match found {
        Some(f) => (f.wire_name.clone(), f.display()),
        None => ("Archive".into(), "Archive".into()),
    }
}

/// A folder taking part in the decision.
#[derive(Debug, Clone)]
pub struct LabelFolder {
    /// The source folder's wire name.
    pub wire: String,
    /// Its decoded path joined with "/" (a user label's name).
    pub name: String,
    pub role: Role,
}

/// How a message is recognised in every folder it shows in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// X-GM-MSGID, or the Gmail API message id.
    Provider(String),
    MessageId {
        id: String,
        size: u64,
    },
    /// Content fingerprint (no Message-ID).
    Content(String),
}

impl Identity {
    pub fn key(&self) -> String {
        match self {
            Identity::Provider(id) => format!("gm:{id}"),
            Identity::MessageId { id, size } => format!("mid:{size}:{id}"),
            Identity::Content(fp) => format!("fp:{fp}"),
        }
    }
}

/// One message as seen in one folder (the pre-pass input; an endpoint without IMAP can
/// build these from its own listing).
#[derive(Debug, Clone)]
pub struct Sighting {
    /// Index into the folder list.
    pub folder: usize,
    pub uid: u32,
    pub identity: Identity,
    /// The message's labels as the provider names them (X-GM-LABELS), when known.
    pub labels: Option<Vec<String>>,
}

/// A sighting decided in an earlier run.
#[derive(Debug, Clone)]
pub struct Known {
    pub folder: String,
    pub uid: u32,
    pub ident: String,
    pub own: bool,
    pub keywords: Vec<String>,
    /// Recorded under the folder's current UIDVALIDITY.
    pub current: bool,
}

/// What becomes of one new sighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub folder: usize,
    pub uid: u32,
    /// The identity key with its ordinal ("mid:1234:x@y#0").
    pub ident: String,
    pub own: bool,
    pub keywords: Vec<String>,
    /// Why a duplicate is not copied.
    pub reason: Option<String>,
}

/// A valid IMAP keyword (RFC 3501 flag-keyword atom) for a label: spaces and the characters
/// atoms may not hold ( `(){%*"\]` and controls) become `_`; non-ASCII runs are written in
/// modified UTF-7, as folder names are. None for an empty result.
pub fn keyword_atom(label: &str) -> Option<String> {
    let mut out = String::new();
    let mut run = String::new();
    for ch in label.chars() {
        if ch.is_ascii() {
            if !run.is_empty() {
                out.push_str(&encode_mutf7(&run));
                run.clear();
            }
            let bad = ch <= ' ' || ch == '\x7f' || "(){%*\"\\]".contains(ch);
            out.push(if bad { '_' } else { ch });
        } else {
            run.push(ch);
        }
    }
    if !run.is_empty() {
        out.push_str(&encode_mutf7(&run));
    }
    (!out.is_empty()).then_some(out)
}

/// The keyword a label folder stands for on a copy in another folder.
fn folder_keyword(f: &LabelFolder) -> Option<String> {
    match f.role {
        Role::Inbox => Some("Inbox".into()),
        Role::Sent => Some("Sent".into()),
        Role::Drafts => Some("Drafts".into()),
        Role::Spam => Some("Junk".into()),
        Role::Trash => Some("Trash".into()),
        Role::Label => keyword_atom(&f.name),
        Role::AllMail | Role::View => None,
    }
}

/// A message's label: a folder taking part, or one with no folder (hidden from IMAP, or left
/// out): a keyword only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Label {
    Folder(usize),
    Hidden(String),
}

/// Map an X-GM-LABELS entry to a folder (or a hidden label); None for markers that are not
/// labels (`\Important`, `\Starred`, ...) or system folders not taking part.
fn resolve_label(folders: &[LabelFolder], l: &str) -> Option<Label> {
    let by_role = |r: Role| folders.iter().position(|f| f.role == r).map(Label::Folder);
    match l {
        "\\Inbox" => by_role(Role::Inbox),
        "\\Sent" => by_role(Role::Sent),
        "\\Draft" | "\\Drafts" => by_role(Role::Drafts),
        "\\Spam" | "\\Junk" => by_role(Role::Spam),
        "\\Trash" => by_role(Role::Trash),
        s if s.starts_with('\\') => None,
        s => {
            let exact = folders
                .iter()
                .position(|f| f.role == Role::Label && f.name == s);
            let fold = || {
                folders
                    .iter()
                    .position(|f| f.role == Role::Label && f.name.eq_ignore_ascii_case(s))
            };
            Some(match exact.or_else(fold) {
                Some(i) => Label::Folder(i),
                None => Label::Hidden(s.to_string()),
            })
        }
    }
}

/// The owner order of folders: role, then name case-insensitively, then exactly.
fn order_key(f: &LabelFolder) -> (Role, String, String) {
    (f.role, f.name.to_lowercase(), f.name.clone())
}

/// Decide new sightings, given those decided before. Pure and deterministic: the same inputs
/// give the same decisions whatever their order.
pub fn decide(
    folders: &[LabelFolder],
    known: &[Known],
    new: &[Sighting],
    policy: MultiLabel,
) -> Vec<Decision> {
    // Ordinals: the n-th message with one identity in a folder is message n of that identity.
    let mut counts: HashMap<(String, String), u32> = HashMap::new();
    for k in known.iter().filter(|k| k.current) {
        let key = k.ident.rsplit_once('#').map_or(k.ident.as_str(), |p| p.0);
        *counts
            .entry((k.folder.clone(), key.to_string()))
            .or_default() += 1;
    }
    let mut order: Vec<usize> = (0..new.len()).collect();
    order.sort_by_key(|&i| (new[i].folder, new[i].uid));
    let mut idents = vec![String::new(); new.len()];
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in order {
        let s = &new[i];
        let key = s.identity.key();
        let n = counts
            .entry((folders[s.folder].wire.clone(), key.clone()))
            .or_default();
        let ident = format!("{key}#{n}");
        *n += 1;
        groups.entry(ident.clone()).or_default().push(i);
        idents[i] = ident;
    }
    let mut owners: HashMap<&str, Vec<&Known>> = HashMap::new();
    for k in known.iter().filter(|k| k.own) {
        owners.entry(k.ident.as_str()).or_default().push(k);
    }
    let name_of = |wire: &str| {
        folders
            .iter()
            .find(|f| f.wire == wire)
            .map_or_else(|| wire.to_string(), |f| f.name.clone())
    };
    let mut out: Vec<Decision> = Vec::with_capacity(new.len());
    for (ident, members) in &groups {
        let dup = |s: &Sighting, owner: &str, uid: u32| Decision {
            folder: s.folder,
            uid: s.uid,
            ident: ident.clone(),
            own: false,
            keywords: Vec::new(),
            reason: Some(format!(
                "same message as {owner} UID {uid}, copied from there"
            )),
        };
        let own = |s: &Sighting, keywords: Vec<String>| Decision {
            folder: s.folder,
            uid: s.uid,
            ident: ident.clone(),
            own: true,
            keywords,
            reason: None,
        };
        // Labels, and which of them have a folder with a sighting.
        let labels_given = members.iter().find_map(|&i| new[i].labels.as_ref());
        let mut labels: Vec<Label> = Vec::new();
        if let Some(given) = labels_given {
            for l in given {
                if let Some(r) = resolve_label(folders, l)
                    && !labels.contains(&r)
                {
                    labels.push(r);
                }
            }
        }
        for &i in members {
            let f = new[i].folder;
            if folders[f].role != Role::AllMail && !labels.contains(&Label::Folder(f)) {
                labels.push(Label::Folder(f));
            }
        }
        labels.sort_by(|a, b| match (a, b) {
            (Label::Folder(x), Label::Folder(y)) => {
                order_key(&folders[*x]).cmp(&order_key(&folders[*y]))
            }
            (Label::Folder(_), Label::Hidden(_)) => std::cmp::Ordering::Less,
            (Label::Hidden(_), Label::Folder(_)) => std::cmp::Ordering::Greater,
            (Label::Hidden(x), Label::Hidden(y)) => x.cmp(y),
        });
        let keyword_of = |l: &Label| match l {
            Label::Folder(f) => folder_keyword(&folders[*f]),
            Label::Hidden(h) => keyword_atom(h),
        };
        let seen_in = |f: usize| members.iter().copied().find(|&i| new[i].folder == f);
        let all_mail = members
            .iter()
            .copied()
            .find(|&i| folders[new[i].folder].role == Role::AllMail);

        if let Some(prev) = owners.get(ident.as_str()) {
            // Copied (or planned) in an earlier run: never again from another folder.
            let first = prev[0];
            for &i in members {
                let s = &new[i];
                let wire = &folders[s.folder].wire;
                if let Some(k) = prev.iter().find(|k| &k.folder == wire) {
                    // The same folder renumbered (UIDVALIDITY): the copy journal matches it.
                    out.push(own(s, k.keywords.clone()));
                } else if policy == MultiLabel::CopyPerLabel
                    && folders[s.folder].role != Role::AllMail
                {
                    out.push(own(s, Vec::new()));
                } else {
                    out.push(dup(s, &name_of(&first.folder), first.uid));
                }
            }
            continue;
        }
        let keywords_except = |owner: Option<&Label>| -> Vec<String> {
            let mut v: Vec<String> = Vec::new();
            for l in labels.iter().filter(|l| Some(*l) != owner) {
                if let Some(k) = keyword_of(l)
                    && !v.contains(&k)
                {
                    v.push(k);
                }
            }
            v
        };
        match policy {
            MultiLabel::FirstLabel => {
                let owner_label = labels.iter().find(|l| match l {
                    Label::Folder(f) => seen_in(*f).is_some(),
                    Label::Hidden(_) => false,
                });
                let owner = match owner_label {
                    Some(Label::Folder(f)) => seen_in(*f),
                    _ => all_mail,
                };
                let Some(o) = owner else { continue };
                let kw = keywords_except(owner_label);
                let os = &new[o];
                let oname = folders[os.folder].name.clone();
                for &i in members {
                    if i == o {
                        out.push(own(os, kw.clone()));
                    } else {
                        out.push(dup(&new[i], &oname, os.uid));
                    }
                }
            }
            MultiLabel::CopyPerLabel => {
                let hidden: Vec<String> = labels
                    .iter()
                    .filter(|l| matches!(l, Label::Hidden(_)))
                    .filter_map(keyword_of)
                    .collect();
                let in_labels: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| folders[new[i].folder].role != Role::AllMail)
                    .collect();
                if in_labels.is_empty() {
                    // All Mail only: its copy goes to Archive, with the hidden labels.
                    for &i in members {
                        out.push(own(&new[i], hidden.clone()));
                    }
                    continue;
                }
                let first = &new[in_labels[0]];
                let fname = folders[first.folder].name.clone();
                for &i in members {
                    if in_labels.contains(&i) {
                        out.push(own(&new[i], hidden.clone()));
                    } else {
                        out.push(dup(&new[i], &fname, first.uid));
                    }
                }
            }
        }
    }
    out.sort_by_key(|d| (d.folder, d.uid));
    out
}

/// Per source folder (wire name): the filter its job copies with.
#[derive(Debug, Default)]
pub struct GmailPlan {
    pub filters: HashMap<String, Arc<UidFilter>>,
    /// Sightings decided this run, and how many of them are duplicates.
    pub decided: u64,
    pub duplicates: u64,
}

/// Combine a fail-back filter (if any) with the Gmail plan's filter for the same folder.
pub fn merge_filter(
    failback: Option<Arc<UidFilter>>,
    gmail: Option<&Arc<UidFilter>>,
) -> Option<Arc<UidFilter>> {
    match (failback, gmail) {
        (f, None) => f,
        (None, Some(g)) => Some(g.clone()),
        (Some(f), Some(g)) => {
            let mut m = (**g).clone();
            m.min_uid = m.min_uid.max(f.min_uid);
            m.exclude.extend(f.exclude.iter().copied());
            Some(Arc::new(m))
        }
    }
}

/// The pre-pass of one mailbox: list every taking-part folder's new sightings (All Mail
/// first), decide them, journal the decisions, and build each folder's filter from every
/// decision recorded for it.
#[allow(clippy::too_many_arguments)]
pub async fn prepass<S: MailSession>(
    store: &Journal,
    sink: &Sink,
    stats: &RunStats,
    mailbox: &str,
    mailbox_id: i64,
    maps: &[Mapping],
    g: &GmailSource,
    src: &mut S,
) -> Result<GmailPlan, SyncError> {
    let mut folders: Vec<LabelFolder> = maps
        .iter()
        .filter(|m| m.dst_wire.is_some() && m.src.selectable)
        .map(|m| LabelFolder {
            wire: m.src.wire_name.clone(),
            name: m.src.display(),
            role: role_of(&m.src),
        })
        .filter(|f| f.role != Role::View)
        .collect();
    // All Mail first (see the module notes).
    folders.sort_by_key(|f| f.role != Role::AllMail);
    let mut known_rows = store.gmail_seen(mailbox_id)?;
    let uncopied = store.gmail_owned_uncopied(mailbox_id)?;
    // Owned sightings that left their folder before they were copied (archived, label
    // removed): their message must be copied from another of its sightings.
    let mut gone: Vec<GmailSeenRow> = Vec::new();
    let mut validity: Vec<Option<u32>> = vec![None; folders.len()];
    let mut upto: Vec<u32> = vec![0; folders.len()];
    let mut new: Vec<Sighting> = Vec::new();
    for (i, f) in folders.iter().enumerate() {
        let st = match src.examine(&f.wire).await {
            Ok(st) => st,
            // Gone since it was listed: its copy finds it gone too (a warning).
            Err(e @ EndpointError::NoFolder { .. }) => {
                if src
                    .list_folders()
                    .await?
                    .iter()
                    .any(|l| l.wire_name == f.wire)
                {
                    // Still listed but refused: planning without it would leave its mail
                    // behind unnoticed; the mailbox stops here instead, naming it.
                    return Err(SyncError::Refused(format!(
                        "the source server refused to open folder {}, which it still lists: \
                         {e}; nothing of this mailbox is copied until it opens (each message \
                         is copied once, planned over every label)",
                        f.name
                    )));
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        validity[i] = Some(st.uidvalidity);
        let waiting: Vec<&GmailSeenRow> = uncopied
            .iter()
            .filter(|r| r.folder == f.wire && r.uidvalidity == st.uidvalidity)
            .collect();
        if let Some(min) = waiting.iter().map(|r| r.uid).min() {
            let present: HashSet<u32> = src.fetch_meta(min).await?.iter().map(|m| m.uid).collect();
            gone.extend(
                waiting
                    .into_iter()
                    .filter(|r| !present.contains(&r.uid))
                    .cloned(),
            );
        }
        let high = known_rows
            .iter()
            .filter(|r| r.folder == f.wire && r.uidvalidity == st.uidvalidity)
            .map(|r| r.uid)
            .max()
            .unwrap_or(0);
        upto[i] = high.max(st.uidnext.saturating_sub(1));
        if st.uidnext != 0 && st.uidnext <= high + 1 {
            continue;
        }
        let ids = src.fetch_identities(high + 1).await?;
        let anonymous: Vec<u32> = ids
            .iter()
            .filter(|m| m.provider_id.is_none() && m.message_id.is_none())
            .map(|m| m.uid)
            .collect();
        let mut fps: HashMap<u32, String> = HashMap::new();
        if !anonymous.is_empty() {
            let got = src.fetch_fingerprints(&anonymous, 0).await?;
            RunStats::add(&stats.bodies_fetched, got.len() as u64);
            fps = got.into_iter().map(|f| (f.uid, f.fingerprint)).collect();
        }
        for m in ids {
            upto[i] = upto[i].max(m.uid);
            let identity = match (m.provider_id, m.message_id) {
                (Some(p), _) => Identity::Provider(p),
                (None, Some(id)) => Identity::MessageId { id, size: m.size },
                (None, None) => match fps.remove(&m.uid) {
                    Some(fp) => Identity::Content(fp),
                    // Gone between the two fetches: a later run sees it no more.
                    None => continue,
                },
            };
            new.push(Sighting {
                folder: i,
                uid: m.uid,
                identity,
                labels: m.labels,
            });
        }
    }
    let current = |r: &GmailSeenRow| {
        folders
            .iter()
            .zip(&validity)
            .any(|(f, v)| f.wire == r.folder && *v == Some(r.uidvalidity))
    };
    // Hand each gone owner's message to another current sighting of it (label folders
    // before All Mail, in the planning order); the new owner is enumerated again.
    let mut reclaim: HashMap<String, HashSet<u32>> = HashMap::new();
    for g in &gone {
        let rank = |r: &GmailSeenRow| {
            folders
                .iter()
                .position(|f| f.wire == r.folder)
                .map(|i| (folders[i].role == Role::AllMail, order_key(&folders[i])))
        };
        let heir = known_rows
            .iter()
            .filter(|r| !r.own && r.ident == g.ident && current(r))
            .filter(|r| !(r.folder == g.folder && r.uid == g.uid))
            .filter(|r| rank(r).is_some())
            .min_by_key(|r| rank(r));
        let Some(heir) = heir.cloned() else {
            continue;
        };
        // The gone owner's other labels, but not the heir's own folder.
        let own_kw = folders
            .iter()
            .find(|f| f.wire == heir.folder)
            .and_then(folder_keyword);
        let keywords: Vec<&str> = g
            .keywords
            .split_whitespace()
            .filter(|k| Some(*k) != own_kw.as_deref())
            .collect();
        let keywords = keywords.join(" ");
        store.gmail_reassign(
            mailbox_id,
            g,
            &heir,
            &keywords,
            "left its label before it was copied; copied from another of its labels",
        )?;
        for r in known_rows.iter_mut() {
            if r.folder == g.folder && r.uidvalidity == g.uidvalidity && r.uid == g.uid {
                r.own = false;
            } else if r.folder == heir.folder
                && r.uidvalidity == heir.uidvalidity
                && r.uid == heir.uid
            {
                r.own = true;
                r.keywords = keywords.clone();
            }
        }
        reclaim
            .entry(heir.folder.clone())
            .or_default()
            .insert(heir.uid);
        sink.issue(
            Severity::Info,
            "gmail",
            Some(mailbox),
            Some(&g.folder),
            Some(g.uid),
            &format!(
                "message left {} before it was copied; it is copied from {} (UID {}) instead",
                g.folder, heir.folder, heir.uid
            ),
        );
    }
    let known: Vec<Known> = known_rows
        .iter()
        .map(|r| Known {
            folder: r.folder.clone(),
            uid: r.uid,
            ident: r.ident.clone(),
            own: r.own,
            keywords: r.keywords.split_whitespace().map(str::to_string).collect(),
            current: current(r),
        })
        .collect();
    let decisions = decide(&folders, &known, &new, g.multi_label);
    let rows: Vec<GmailSeenRow> = decisions
        .iter()
        .filter_map(|d| {
            Some(GmailSeenRow {
                folder: folders[d.folder].wire.clone(),
                uidvalidity: validity[d.folder]?,
                uid: d.uid,
                ident: d.ident.clone(),
                own: d.own,
                keywords: d.keywords.join(" "),
                reason: d.reason.clone(),
            })
        })
        .collect();
    store.add_gmail_seen(mailbox_id, &rows)?;

    let mut plan = GmailPlan {
        decided: rows.len() as u64,
        duplicates: rows.iter().filter(|r| !r.own).count() as u64,
        ..Default::default()
    };
    for (i, f) in folders.iter().enumerate() {
        let mut filter = UidFilter {
            only: Some(HashSet::new()),
            upto: Some(upto[i]),
            validity: validity[i],
            reclaim: reclaim.remove(&f.wire).unwrap_or_default(),
            ..Default::default()
        };
        if let Some(v) = validity[i] {
            for r in known_rows.iter().chain(&rows) {
                if r.own && r.folder == f.wire && r.uidvalidity == v {
                    if let Some(o) = filter.only.as_mut() {
                        o.insert(r.uid);
                    }
                    let kw: Vec<String> =
                        r.keywords.split_whitespace().map(str::to_string).collect();
                    if !kw.is_empty() {
                        filter.keywords.insert(r.uid, kw);
                    }
                }
            }
        }
        plan.filters.insert(f.wire.clone(), Arc::new(filter));
    }
    if plan.decided > 0 {
        let policy = match g.multi_label {
            MultiLabel::FirstLabel => "first-label",
            MultiLabel::CopyPerLabel => "copy-per-label",
        };
        sink.issue(
            Severity::Info,
            "gmail",
            Some(mailbox),
            None,
            None,
            &format!(
                "Gmail source: {} new message sighting(s) in labels and All Mail; {} to copy, {} duplicate(s) of a message copied from another folder, not copied again (multi_label = {policy})",
                plan.decided,
                plan.decided - plan.duplicates,
                plan.duplicates
            ),
        );
    }
    Ok(plan)
}

/// Warn when the destination folder does not take the keywords a Gmail plan adds there (the
/// labels they stand for are then not kept on those copies).
pub fn warn_refused_keywords(
    f: &UidFilter,
    permanent: Option<&[String]>,
    dst: &str,
    issue: &impl Fn(Severity, &str, Option<u32>, &str),
) {
    let Some(allowed) = permanent else { return };
    let mut refused: Vec<&str> = Vec::new();
    let mut msgs = 0;
    for kws in f.keywords.values() {
        let mut hit = false;
        for k in kws {
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(k)) {
                hit = true;
                if !refused.contains(&k.as_str()) {
                    refused.push(k);
                }
            }
        }
        msgs += hit as usize;
    }
    if refused.is_empty() {
        return;
    }
    refused.sort();
    issue(
        Severity::Warning,
        "gmail",
        None,
        &format!(
            "destination folder {dst} does not accept the keyword(s) {} (no \\* in its PERMANENTFLAGS): the Gmail labels they stand for are not kept on {msgs} message(s) copied there",
            refused.join(", ")
        ),
    );
}

/// Per source folder and UIDVALIDITY, the UIDs copied from it (owned sightings) with the
/// keywords added to them: what verification expects on the destination.
pub type Owned = HashMap<(String, u32), HashMap<u32, Vec<String>>>;

pub fn owned_sightings(
    store: &Journal,
    mailbox_id: i64,
) -> Result<Owned, crate::journal::JournalError> {
    let mut out: Owned = HashMap::new();
    for r in store.gmail_seen(mailbox_id)? {
        if r.own {
            out.entry((r.folder, r.uidvalidity)).or_default().insert(
                r.uid,
                r.keywords.split_whitespace().map(str::to_string).collect(),
            );
        }
    }
    Ok(out)
}

/// Keep the source fingerprints of a folder that were copied from it (a duplicate is
/// verified where its one copy came from; mail not planned yet is left for the next run),
/// with the keywords the copy got.
pub fn restrict_for_verify(
    fps: &mut Vec<crate::endpoint::Fingerprinted>,
    owned: &Owned,
    folder: &str,
    validity: u32,
) {
    let mine = owned.get(&(folder.to_string(), validity));
    fps.retain(|f| mine.is_some_and(|m| m.contains_key(&f.uid)));
    for f in fps.iter_mut() {
        for k in mine.and_then(|m| m.get(&f.uid)).into_iter().flatten() {
            if !f.flags.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                f.flags.push(k.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(wire: &str, role: Role) -> LabelFolder {
        LabelFolder {
            wire: wire.into(),
            name: wire.into(),
            role,
        }
    }

    /// All Mail, INBOX, Sent, and the user labels Work and "Kunden & Partner".
    fn folders() -> Vec<LabelFolder> {
        vec![
            lf("[Gmail]/All Mail", Role::AllMail),
            lf("INBOX", Role::Inbox),
            lf("[Gmail]/Sent Mail", Role::Sent),
            lf("Work", Role::Label),
            lf("Kunden & Partner", Role::Label),
        ]
    }

    fn gm(folder: usize, uid: u32, id: &str, labels: &[&str]) -> Sighting {
        Sighting {
            folder,
            uid,
            identity: Identity::Provider(id.into()),
            labels: Some(labels.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn owned(d: &[Decision]) -> Vec<(usize, u32, Vec<String>)> {
        d.iter()
            .filter(|d| d.own)
            .map(|d| (d.folder, d.uid, d.keywords.clone()))
            .collect()
    }

    #[test]
    fn x_gm_labels_first_label_owns_in_order_with_the_rest_as_keywords() {
        let f = folders();
        // Message 1: INBOX + Work (+ All Mail). Message 2: Work + Kunden & Partner + a label
        // hidden from IMAP. Message 3: All Mail only. Message 4: Sent + INBOX, \Important.
        let new = vec![
            gm(0, 1, "1", &["\\Inbox", "Work"]),
            gm(0, 2, "2", &["Work", "Kunden & Partner", "Geheim Ü"]),
            gm(0, 3, "3", &[]),
            gm(0, 4, "4", &["\\Important", "\\Sent", "\\Inbox"]),
            gm(1, 10, "1", &["\\Inbox", "Work"]),
            gm(1, 11, "4", &["\\Important", "\\Sent", "\\Inbox"]),
            gm(2, 20, "4", &["\\Important", "\\Sent", "\\Inbox"]),
            gm(3, 30, "1", &["\\Inbox", "Work"]),
            gm(3, 31, "2", &["Work", "Kunden & Partner", "Geheim Ü"]),
            gm(4, 40, "2", &["Work", "Kunden & Partner", "Geheim Ü"]),
        ];
        let d = decide(&f, &[], &new, MultiLabel::FirstLabel);
        assert_eq!(d.len(), new.len(), "every sighting is decided");
        assert_eq!(
            owned(&d),
            vec![
                (0, 3, vec![]),
                (1, 10, vec!["Work".to_string()]),
                (1, 11, vec!["Sent".to_string()]),
                // "Kunden & Partner" sorts before "Work".
                (4, 40, vec!["Work".to_string(), "Geheim_&ANw-".to_string()]),
            ]
        );
        let dup = d.iter().find(|d| d.folder == 3 && d.uid == 30).unwrap();
        assert_eq!(
            dup.reason.as_deref(),
            Some("same message as INBOX UID 10, copied from there")
        );
        // The same input in another order gives the same decisions.
        let mut rev = new.clone();
        rev.reverse();
        assert_eq!(decide(&f, &[], &rev, MultiLabel::FirstLabel), d);
    }

    #[test]
    fn copy_per_label_copies_each_label_never_all_mail() {
        let f = folders();
        let new = vec![
            gm(0, 1, "1", &["\\Inbox", "Work"]),
            gm(0, 3, "3", &[]),
            gm(1, 10, "1", &["\\Inbox", "Work"]),
            gm(3, 30, "1", &["\\Inbox", "Work"]),
        ];
        let d = decide(&f, &[], &new, MultiLabel::CopyPerLabel);
        assert_eq!(
            owned(&d),
            vec![(0, 3, vec![]), (1, 10, vec![]), (3, 30, vec![])]
        );
    }

    #[test]
    fn earlier_decisions_stand_and_identical_messages_in_one_folder_stay_apart() {
        let f = folders();
        let known = vec![Known {
            folder: "[Gmail]/All Mail".into(),
            uid: 3,
            ident: "gm:3#0".into(),
            own: true,
            keywords: vec![],
            current: true,
        }];
        // Message 3 got the label Work after it was copied to Archive: not copied again.
        let later = vec![gm(3, 33, "3", &["Work"])];
        let d = decide(&f, &known, &later, MultiLabel::FirstLabel);
        assert!(!d[0].own);
        assert_eq!(
            d[0].reason.as_deref(),
            Some("same message as [Gmail]/All Mail UID 3, copied from there")
        );
        // Two byte-identical messages (one Message-ID, one size) in Work and in All Mail:
        // two messages, each copied once, from Work.
        let twin = |folder, uid| Sighting {
            folder,
            uid,
            identity: Identity::MessageId {
                id: "x@y".into(),
                size: 10,
            },
            labels: None,
        };
        let d = decide(
            &f,
            &[],
            &[twin(0, 1), twin(0, 2), twin(3, 7), twin(3, 8)],
            MultiLabel::FirstLabel,
        );
        assert_eq!(owned(&d), vec![(3, 7, vec![]), (3, 8, vec![])]);
        // Same Message-ID, different sizes: different messages.
        let a = Identity::MessageId {
            id: "d@y".into(),
            size: 1,
        };
        let b = Identity::MessageId {
            id: "d@y".into(),
            size: 2,
        };
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn keywords_are_valid_atoms() {
        assert_eq!(keyword_atom("Work").as_deref(), Some("Work"));
        assert_eq!(
            keyword_atom("Receipts/2024").as_deref(),
            Some("Receipts/2024")
        );
        assert_eq!(
            keyword_atom("a b(c)*%\"\\]{").as_deref(),
            Some("a_b_c_______")
        );
        assert_eq!(keyword_atom("Entwürfe").as_deref(), Some("Entw&APw-rfe"));
        assert_eq!(keyword_atom(""), None);
    }

    #[test]
    fn refused_keywords_are_reported_with_the_messages_they_concern() {
        let f = UidFilter {
            keywords: HashMap::from([
                (1, vec!["Work".to_string()]),
                (2, vec!["Work".to_string(), "Travel".to_string()]),
                (3, vec!["$label1".to_string()]),
            ]),
            ..Default::default()
        };
        let said = std::cell::RefCell::new(Vec::new());
        let issue =
            |_: Severity, _: &str, _: Option<u32>, m: &str| said.borrow_mut().push(m.to_string());
        // Any keyword allowed (\*), or all of these allowed: nothing to say.
        warn_refused_keywords(&f, None, "INBOX", &issue);
        let all: Vec<String> = ["work", "Travel", "$label1"].map(String::from).to_vec();
        warn_refused_keywords(&f, Some(&all), "INBOX", &issue);
        assert!(said.borrow().is_empty());
        let some: Vec<String> = vec!["$label1".into()];
        warn_refused_keywords(&f, Some(&some), "INBOX", &issue);
        let said = said.into_inner();
        assert_eq!(said.len(), 1);
        assert!(
            said[0].contains("keyword(s) Travel, Work") && said[0].contains("on 2 message(s)"),
            "{}",
            said[0]
        );
    }

    #[test]
    fn roles_of_gmail_folders() {
        let fo = |p: &[&str], s| Folder {
            wire_name: p.join("/"),
            path: p.iter().map(|x| x.to_string()).collect(),
            delimiter: Some('/'),
            special: s,
            selectable: true,
        };
        assert_eq!(role_of(&fo(&["[Gmail]", "All Mail"], None)), Role::AllMail);
        assert_eq!(
            role_of(&fo(&["[Gmail]", "Starred"], Some(SpecialUse::Flagged))),
            Role::View
        );
        assert_eq!(role_of(&fo(&["[Gmail]", "Important"], None)), Role::View);
        assert_eq!(role_of(&fo(&["Inbox"], None)), Role::Inbox);
        assert_eq!(role_of(&fo(&["Receipts", "2024"], None)), Role::Label);
    }
}
