//! The decision itself: which sighting of a message owns its copy, and which labels become
//! keywords on it, given the folders taking part, earlier decisions and the policy. Pure and
//! deterministic.

use std::collections::{BTreeMap, HashMap};

use super::roles::Role;
use crate::config::MultiLabel;
use crate::mail::utf7::encode_mutf7;

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
pub(super) fn folder_keyword(f: &LabelFolder) -> Option<String> {
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
pub(super) fn order_key(f: &LabelFolder) -> (Role, String, String) {
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
}
