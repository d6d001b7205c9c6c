//! Folder mapping: which destination folder each source folder lands in.
//!
//! Order of rules: exclusions (preset, then the project's `[folders] exclude`), special-use to
//! special-use (a source `\Sent` lands in the destination's `\Sent`, whatever its name; when the
//! source announces no special-use at all, well-known names stand in), INBOX, the project's
//! rename rules, then the hierarchy is rebuilt with the destination's separator (a separator
//! character inside a name becomes `separator_substitute`) and encoded in modified UTF-7.

use crate::config::{FolderRules, Preset};
use crate::endpoint::{Folder, SpecialUse};
use crate::mail::utf7::encode_mutf7;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub src: Folder,
    /// None when the folder is excluded (then `why` says why).
    pub dst_wire: Option<String>,
    /// The destination path, decoded, joined with "/" (for people).
    pub dst_display: String,
    pub why: String,
}

/// Gmail's system folders, by name under `[Gmail]` (or `[Google Mail]`, as accounts in the
/// UK and Germany long had it): their role when the server did not announce one. Gmail
/// announces SPECIAL-USE, so this matters for copies of Gmail data on other servers (and
/// older exports); "Important" has no RFC 6154 role (Gmail marks it `\Important`).
pub fn gmail_special(f: &Folder) -> Option<SpecialUse> {
    if !is_gmail_system(f) {
        return None;
    }
    Some(match f.path[1].to_ascii_lowercase().as_str() {
        "all mail" => SpecialUse::All,
        "spam" => SpecialUse::Junk,
        "trash" | "bin" => SpecialUse::Trash,
        "sent mail" => SpecialUse::Sent,
        "drafts" => SpecialUse::Drafts,
        "starred" => SpecialUse::Flagged,
        _ => return None,
    })
}

/// A folder directly under Gmail's `[Gmail]` (or `[Google Mail]`) root.
pub fn is_gmail_system(f: &Folder) -> bool {
    f.path.len() == 2
        && (f.path[0].eq_ignore_ascii_case("[Gmail]")
            || f.path[0].eq_ignore_ascii_case("[Google Mail]"))
}

/// Folders a preset never copies from a source of that kind.
fn preset_excluded(preset: Preset, f: &Folder) -> Option<&'static str> {
    let top = f.path.first().map(String::as_str).unwrap_or("");
    match preset {
        Preset::Gmail => match f.special.or_else(|| gmail_special(f)) {
            Some(SpecialUse::Junk) => Some("Gmail Spam is not migrated (preset gmail)"),
            Some(SpecialUse::Trash) => Some("Gmail Trash is not migrated (preset gmail)"),
            Some(SpecialUse::Flagged) => Some(
                "Gmail Starred is a view of starred mail, which is copied with its \\Flagged flag (preset gmail)",
            ),
            _ if is_gmail_system(f) && f.path[1].eq_ignore_ascii_case("Important") => {
                Some("Gmail Important is a view, not a folder (preset gmail)")
            }
            _ => None,
        },
        Preset::M365 | Preset::Exchange => {
            const NON_MAIL: &[&str] = &[
                "Calendar",
                "Contacts",
                "Tasks",
                "Journal",
                "Notes",
                "Sync Issues",
                "Outbox",
                "Conversation History",
            ];
            NON_MAIL
                .iter()
                .any(|n| n.eq_ignore_ascii_case(top))
                .then_some("not a mail folder on Exchange (preset exchange/m365)")
        }
        Preset::Generic => None,
    }
}

/// Top-level folder names Exchange Online keeps for itself: a CREATE of them fails (`Files`
/// holds OneDrive attachments there). A source folder that would land on one of them, or
/// under it, lands under the name with [`RESERVED_SUFFIX`] instead.
pub const EXO_RESERVED: &[&str] = &["Files"];

/// Appended to a reserved destination name ("Files" -> "Files (migrated)").
pub const RESERVED_SUFFIX: &str = " (migrated)";

/// Marks, in [`Mapping::why`], a folder moved off a reserved destination name.
pub const RESERVED_NOTE: &str = "is reserved on Exchange Online";

/// Move mappings off the top-level names the destination keeps for itself (preset m365 or
/// exchange): the first path component becomes `"<name> (migrated)"` and `why` says so (with
/// [`RESERVED_NOTE`], which the engine turns into an issue). Special-use targets are the
/// destination's own folders and are left alone.
pub fn avoid_reserved(maps: &mut [Mapping], dst_preset: Preset, dst_delimiter: char) {
    if !matches!(dst_preset, Preset::M365 | Preset::Exchange) {
        return;
    }
    for m in maps.iter_mut() {
        let Some(wire) = &m.dst_wire else { continue };
        if m.why.starts_with("special-use") {
            continue;
        }
        let delim = dst_delimiter.to_string();
        let top_display = m.dst_display.split('/').next().unwrap_or("").to_string();
        let Some(reserved) = EXO_RESERVED
            .iter()
            .find(|r| r.eq_ignore_ascii_case(&top_display))
        else {
            continue;
        };
        let renamed = format!("{top_display}{RESERVED_SUFFIX}");
        let rest_wire = wire.split_once(&delim).map(|(_, r)| r.to_string());
        let rest_display = m.dst_display.split_once('/').map(|(_, r)| r.to_string());
        m.dst_wire = Some(match rest_wire {
            Some(r) => format!("{}{delim}{r}", encode_mutf7(&renamed)),
            None => encode_mutf7(&renamed),
        });
        m.dst_display = match rest_display {
            Some(r) => format!("{renamed}/{r}"),
            None => renamed.clone(),
        };
        m.why = format!(
            "{}; \"{reserved}\" {RESERVED_NOTE}, so it lands in \"{renamed}\"",
            m.why
        );
    }
}

/// When a server announces no special-use, these top-level names stand in.
fn well_known(name: &str) -> Option<SpecialUse> {
    let n = name.to_ascii_lowercase();
    Some(match n.as_str() {
        "sent" | "sent items" | "sent messages" | "sent mail" | "gesendet"
        | "gesendete elemente" | "envoyés" => SpecialUse::Sent,
        "trash"
        | "deleted items"
        | "deleted messages"
        | "bin"
        | "papierkorb"
        | "gelöschte elemente" => SpecialUse::Trash,
        "junk" | "spam" | "junk e-mail" | "junk email" | "junk mail" => SpecialUse::Junk,
        "drafts" | "entwürfe" => SpecialUse::Drafts,
        "archive" | "archives" | "archiv" => SpecialUse::Archive,
        _ => return None,
    })
}

fn role(f: &Folder, server_has_special_use: bool) -> Option<SpecialUse> {
    if f.special.is_some() || server_has_special_use {
        return f.special;
    }
    if f.path.len() == 1 {
        well_known(&f.path[0])
    } else {
        None
    }
}

pub struct MapInput<'a> {
    pub src: &'a [Folder],
    pub dst: &'a [Folder],
    pub src_preset: Preset,
    pub dst_delimiter: char,
    pub rules: &'a FolderRules,
}

pub fn map_folders(input: &MapInput<'_>) -> Vec<Mapping> {
    let src_special = input.src.iter().any(|f| {
        f.special.is_some() || (input.src_preset == Preset::Gmail && gmail_special(f).is_some())
    });
    let dst_special = input.dst.iter().any(|f| f.special.is_some());
    let mut out = Vec::new();
    for f in input.src {
        // A Gmail source's system folders keep their roles even where no SPECIAL-USE says so.
        let recognised;
        let f = if input.src_preset == Preset::Gmail
            && f.special.is_none()
            && gmail_special(f).is_some()
        {
            recognised = Folder {
                special: gmail_special(f),
                ..f.clone()
            };
            &recognised
        } else {
            f
        };
        let display = f.display();
        let excluded = |why: String| Mapping {
            src: f.clone(),
            dst_wire: None,
            dst_display: String::new(),
            why,
        };
        if !f.selectable {
            out.push(excluded(
                "holds no messages (\\Noselect); its children are mapped".into(),
            ));
            continue;
        }
        if let Some(why) = preset_excluded(input.src_preset, f) {
            out.push(excluded(why.into()));
            continue;
        }
        if let Some(re) = input.rules.exclude.iter().find(|re| re.is_match(&display)) {
            out.push(excluded(format!(
                "excluded by the project rule /{}/",
                re.as_str()
            )));
            continue;
        }
        // Special-use to special-use.
        if let Some(r) = role(f, src_special) {
            let target = input
                .dst
                .iter()
                .find(|d| role(d, dst_special) == Some(r) && d.selectable);
            if let Some(d) = target {
                out.push(Mapping {
                    src: f.clone(),
                    dst_wire: Some(d.wire_name.clone()),
                    dst_display: d.display(),
                    why: format!("special-use {}", r.name()),
                });
                continue;
            }
        }
        let mut path: Vec<String> = f.path.clone();
        if path
            .first()
            .is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
        {
            path[0] = "INBOX".into();
        }
        let mut why = "same name".to_string();
        let joined = path.join("/");
        if let Some((re, to)) = input
            .rules
            .rename
            .iter()
            .find(|(re, _)| re.is_match(&joined))
        {
            let renamed = re.replace(&joined, to.as_str()).to_string();
            why = format!("renamed by the project rule /{}/", re.as_str());
            path = renamed
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        let sub = input.rules.separator_substitute.to_string();
        let components: Vec<String> = path
            .iter()
            .map(|c| {
                if c.contains(input.dst_delimiter) {
                    why = format!(
                        "{why}; '{}' in a name replaced by '{sub}'",
                        input.dst_delimiter
                    );
                    c.replace(input.dst_delimiter, &sub)
                } else {
                    c.clone()
                }
            })
            .collect();
        let wire = components
            .iter()
            .map(|c| encode_mutf7(c))
            .collect::<Vec<_>>()
            .join(&input.dst_delimiter.to_string());
        out.push(Mapping {
            src: f.clone(),
            dst_wire: Some(wire),
            dst_display: components.join("/"),
            why,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(path: &[&str], delim: char, special: Option<SpecialUse>) -> Folder {
        Folder {
            wire_name: path
                .iter()
                .map(|c| encode_mutf7(c))
                .collect::<Vec<_>>()
                .join(&delim.to_string()),
            path: path.iter().map(|s| s.to_string()).collect(),
            delimiter: Some(delim),
            special,
            selectable: true,
        }
    }

    fn rules() -> FolderRules {
        FolderRules {
            separator_substitute: '_',
            ..Default::default()
        }
    }

    #[test]
    fn special_use_wins_over_names() {
        let src = [folder(&["Sent"], '/', Some(SpecialUse::Sent))];
        let dst = [folder(&["Sent Items"], '.', Some(SpecialUse::Sent))];
        let r = rules();
        let m = map_folders(&MapInput {
            src: &src,
            dst: &dst,
            src_preset: Preset::Generic,
            dst_delimiter: '.',
            rules: &r,
        });
        assert_eq!(m[0].dst_wire.as_deref(), Some("Sent Items"));
    }

    #[test]
    fn separators_and_utf7() {
        let src = [
            folder(&["Archive", "2024"], '/', None),
            folder(&["Dots.in.name"], '/', None),
            folder(&["Entwürfe", "Kunden & Partner"], '/', None),
            folder(&["inbox", "sub"], '/', None),
        ];
        let r = rules();
        let m = map_folders(&MapInput {
            src: &src,
            dst: &[],
            src_preset: Preset::Generic,
            dst_delimiter: '.',
            rules: &r,
        });
        assert_eq!(m[0].dst_wire.as_deref(), Some("Archive.2024"));
        assert_eq!(m[1].dst_wire.as_deref(), Some("Dots_in_name"));
        assert_eq!(
            m[2].dst_wire.as_deref(),
            Some("Entw&APw-rfe.Kunden &- Partner")
        );
        assert_eq!(m[3].dst_wire.as_deref(), Some("INBOX.sub"));
    }

    #[test]
    fn rules_exclude_and_rename() {
        let src = [
            folder(&["Old"], '/', None),
            folder(&["Projects", "Alpha"], '/', None),
        ];
        let r = FolderRules {
            exclude: vec![regex::Regex::new("^Old$").unwrap()],
            rename: vec![(
                regex::Regex::new("^Projects/(.*)$").unwrap(),
                "Work/$1".into(),
            )],
            separator_substitute: '_',
        };
        let m = map_folders(&MapInput {
            src: &src,
            dst: &[],
            src_preset: Preset::Generic,
            dst_delimiter: '/',
            rules: &r,
        });
        assert!(m[0].dst_wire.is_none());
        assert_eq!(m[1].dst_wire.as_deref(), Some("Work/Alpha"));
    }

    #[test]
    fn exchange_online_reserved_files_folder_lands_elsewhere() {
        let src = [
            folder(&["Files"], '/', None),
            folder(&["files", "2024"], '/', None),
            folder(&["Filesystem"], '/', None),
            folder(&["Work", "Files"], '/', None),
        ];
        let r = rules();
        let input = MapInput {
            src: &src,
            dst: &[],
            src_preset: Preset::Generic,
            dst_delimiter: '/',
            rules: &r,
        };
        let mut m = map_folders(&input);
        avoid_reserved(&mut m, Preset::M365, '/');
        assert_eq!(m[0].dst_wire.as_deref(), Some("Files (migrated)"));
        assert!(m[0].why.contains(RESERVED_NOTE), "{}", m[0].why);
        assert_eq!(m[1].dst_wire.as_deref(), Some("files (migrated)/2024"));
        assert_eq!(m[1].dst_display, "files (migrated)/2024");
        assert_eq!(
            m[2].dst_wire.as_deref(),
            Some("Filesystem"),
            "only the exact name"
        );
        assert_eq!(
            m[3].dst_wire.as_deref(),
            Some("Work/Files"),
            "only at the root"
        );
        // Other destinations keep the name.
        let mut g = map_folders(&input);
        avoid_reserved(&mut g, Preset::Generic, '/');
        assert_eq!(g[0].dst_wire.as_deref(), Some("Files"));
    }

    #[test]
    fn gmail_system_folders_are_recognised_without_special_use() {
        // A copy of Gmail data on a server that announces no SPECIAL-USE.
        let src = [
            folder(&["[Gmail]", "Sent Mail"], '/', None),
            folder(&["[Google Mail]", "Bin"], '/', None),
            folder(&["[Gmail]", "Spam"], '/', None),
            folder(&["[Gmail]", "Starred"], '/', None),
            folder(&["[Gmail]", "Important"], '/', None),
            folder(&["[Gmail]", "Drafts"], '/', None),
            folder(&["[Gmail]", "All Mail"], '/', None),
            folder(&["Sent"], '/', None),
        ];
        let dst = [
            folder(&["Sent Items"], '/', Some(SpecialUse::Sent)),
            folder(&["Drafts"], '/', Some(SpecialUse::Drafts)),
        ];
        let r = rules();
        let m = map_folders(&MapInput {
            src: &src,
            dst: &dst,
            src_preset: Preset::Gmail,
            dst_delimiter: '/',
            rules: &r,
        });
        assert_eq!(m[0].dst_wire.as_deref(), Some("Sent Items"), "{}", m[0].why);
        assert!(m[1].dst_wire.is_none(), "Trash (Bin) is not migrated");
        assert!(m[2].dst_wire.is_none(), "Spam is not migrated");
        assert!(m[3].dst_wire.is_none(), "Starred is a view");
        assert!(m[4].dst_wire.is_none(), "Important is a view");
        assert_eq!(m[5].dst_wire.as_deref(), Some("Drafts"));
        assert_eq!(m[6].dst_wire.as_deref(), Some("[Gmail]/All Mail"));
        // Once roles are known, a plain "Sent" label is a label, not the Sent folder.
        assert_eq!(m[7].dst_wire.as_deref(), Some("Sent"));
        assert_eq!(gmail_special(&src[6]), Some(SpecialUse::All));
        assert_eq!(gmail_special(&folder(&["Work", "Drafts"], '/', None)), None);
    }

    #[test]
    fn gmail_preset_skips_spam_and_trash() {
        let src = [
            folder(&["[Gmail]", "Spam"], '/', Some(SpecialUse::Junk)),
            folder(&["[Gmail]", "Sent Mail"], '/', Some(SpecialUse::Sent)),
        ];
        let dst = [folder(&["Sent"], '/', Some(SpecialUse::Sent))];
        let r = rules();
        let m = map_folders(&MapInput {
            src: &src,
            dst: &dst,
            src_preset: Preset::Gmail,
            dst_delimiter: '/',
            rules: &r,
        });
        assert!(m[0].dst_wire.is_none());
        assert_eq!(m[1].dst_wire.as_deref(), Some("Sent"));
    }
}
