//! Which source folders of a Gmail-shaped mailbox are what (INBOX, Sent, Drafts, labels,
//! Spam, Trash, All Mail, views), whether a source is Gmail-shaped, and the folder mapping's
//! adjustments: views and (unless included) Spam and Trash left out, All Mail into Archive.

use crate::config::{self, FolderRules, GmailSource, Preset};
use crate::endpoint::{Folder, SpecialUse};
use crate::sync::mapping::{MapInput, Mapping, map_folders};

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

#[cfg(test)]
mod tests {
    use super::*;
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
