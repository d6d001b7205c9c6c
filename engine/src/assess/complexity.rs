//! The project's complexity (low, medium, high) as the service procedure classifies
//! migrations, and the folders that need care (a complexity factor, and risks).

use std::collections::{BTreeMap, HashMap};

use crate::endpoint::SpecialUse;

use super::discovery::MailboxAssessment;
use super::fmt::human;

/// Low / medium / high, as the service procedure classifies migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Complexity {
    Low,
    Medium,
    High,
}

impl Complexity {
    pub fn word(self) -> &'static str {
        match self {
            Complexity::Low => "low",
            Complexity::Medium => "medium",
            Complexity::High => "high",
        }
    }
}

/// What the classification looks at.
#[derive(Debug, Clone, Default)]
pub struct ClassifyInput {
    pub mailboxes: usize,
    pub bytes: u64,
    pub oversize: usize,
    /// Folders that need care: an \All view copied as a folder (besides the Gmail source's
    /// All Mail, which is planned apart), special-use folders not copied, names that collide
    /// after case folding, source folders merged into one destination folder.
    pub special_folders: Vec<String>,
    pub requirements: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub complexity: Complexity,
    /// Each factor with the level it implies, e.g. ("12 mailboxes (11-50)", Medium).
    pub factors: Vec<(String, Complexity)>,
}

const GB: u64 = 1_000_000_000;

/// The procedure's tiers: 1-10 mailboxes simple, 11-50 medium, more complex; custom
/// integrations / advanced security medium, compliance / custom workflows / enterprise high.
/// Data volume (under 10 GB low, up to 100 GB medium, more high), oversize messages and
/// special folders (medium) are this tool's additions. The highest factor decides.
pub fn classify(i: &ClassifyInput) -> Classification {
    let mut f = Vec::new();
    let lvl = match i.mailboxes {
        0..=10 => Complexity::Low,
        11..=50 => Complexity::Medium,
        _ => Complexity::High,
    };
    let tier = match lvl {
        Complexity::Low => "1-10",
        Complexity::Medium => "11-50",
        Complexity::High => "over 50",
    };
    f.push((format!("{} mailbox(es) ({tier})", i.mailboxes), lvl));
    let lvl = if i.bytes < 10 * GB {
        Complexity::Low
    } else if i.bytes <= 100 * GB {
        Complexity::Medium
    } else {
        Complexity::High
    };
    f.push((format!("{} of mail", human(i.bytes)), lvl));
    if i.oversize > 0 {
        f.push((
            format!(
                "{} message(s) over the destination's size limit",
                i.oversize
            ),
            Complexity::Medium,
        ));
    }
    if !i.special_folders.is_empty() {
        let mut names = i.special_folders.clone();
        names.truncate(3);
        let more = i.special_folders.len().saturating_sub(3);
        f.push((
            format!(
                "{} special folder(s) need care: {}{}",
                i.special_folders.len(),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
            Complexity::Medium,
        ));
    }
    for r in &i.requirements {
        let low = r.to_ascii_lowercase();
        let lvl = if ["compliance", "workflow", "enterprise", "hipaa", "gdpr"]
            .iter()
            .any(|w| low.contains(w))
        {
            Complexity::High
        } else {
            Complexity::Medium
        };
        f.push((format!("custom requirement: {r}"), lvl));
    }
    let complexity = f.iter().map(|(_, c)| *c).max().unwrap_or(Complexity::Low);
    Classification {
        complexity,
        factors: f,
    }
}

/// Folder names (destination paths) that collide once case is folded.
pub(crate) fn collisions(a: &MailboxAssessment) -> Vec<(String, String)> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut out = Vec::new();
    for f in &a.folders {
        let Some(d) = &f.dst else { continue };
        let k = d.to_lowercase();
        // INBOX is case-insensitive by definition; two sources mapped there are by design.
        if k == "inbox" {
            continue;
        }
        match seen.get(&k) {
            Some(first) if *first != d.as_str() => out.push((first.to_string(), d.clone())),
            Some(_) => {}
            None => {
                seen.insert(k, d);
            }
        }
    }
    out
}

/// Destination folders (INBOX aside) that more than one source folder lands in: merged.
pub(crate) fn merges(a: &MailboxAssessment) -> Vec<(String, Vec<String>)> {
    let mut by_dst: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in &a.folders {
        if let Some(d) = &f.dst
            && !d.eq_ignore_ascii_case("INBOX")
        {
            by_dst.entry(d).or_default().push(f.folder.clone());
        }
    }
    by_dst
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(d, v)| (d.to_string(), v))
        .collect()
}

/// Special folders that need care, named "mailbox: folder (why)".
pub(crate) fn special_folders(a: &MailboxAssessment) -> Vec<String> {
    let mut out = Vec::new();
    for f in &a.folders {
        match (f.special, &f.dst) {
            (Some(SpecialUse::All), Some(_)) if f.why != crate::sync::gmail::ALL_MAIL_WHY => out
                .push(format!(
                    "{}: {} (\\All: every message again, labels become copies)",
                    a.key, f.folder
                )),
            (Some(su), None) => out.push(format!(
                "{}: {} ({} not copied: {})",
                a.key,
                f.folder,
                su.name(),
                f.why
            )),
            _ => {}
        }
    }
    for (x, y) in collisions(a) {
        out.push(format!(
            "{}: {x} / {y} (same name after case folding)",
            a.key
        ));
    }
    for (d, srcs) in merges(a) {
        out.push(format!("{}: {} (merged into {d})", a.key, srcs.join(" + ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::discovery::FolderAssessment;

    fn input(mailboxes: usize, gb: u64) -> ClassifyInput {
        ClassifyInput {
            mailboxes,
            bytes: gb * GB,
            ..Default::default()
        }
    }

    #[test]
    fn mailbox_count_tiers_follow_the_procedure() {
        assert_eq!(classify(&input(1, 0)).complexity, Complexity::Low);
        assert_eq!(classify(&input(10, 1)).complexity, Complexity::Low);
        assert_eq!(classify(&input(11, 1)).complexity, Complexity::Medium);
        assert_eq!(classify(&input(50, 1)).complexity, Complexity::Medium);
        assert_eq!(classify(&input(51, 1)).complexity, Complexity::High);
    }

    #[test]
    fn data_volume_raises_the_class() {
        assert_eq!(classify(&input(3, 9)).complexity, Complexity::Low);
        assert_eq!(classify(&input(3, 10)).complexity, Complexity::Medium);
        assert_eq!(classify(&input(3, 100)).complexity, Complexity::Medium);
        assert_eq!(classify(&input(3, 101)).complexity, Complexity::High);
    }

    #[test]
    fn oversize_special_folders_and_requirements() {
        let mut i = input(2, 1);
        i.oversize = 3;
        let c = classify(&i);
        assert_eq!(c.complexity, Complexity::Medium);
        assert!(
            c.factors
                .iter()
                .any(|(f, _)| f.contains("3 message(s) over"))
        );

        let mut i = input(2, 1);
        i.special_folders = vec!["a: [Gmail]/All Mail".into()];
        assert_eq!(classify(&i).complexity, Complexity::Medium);

        let mut i = input(2, 1);
        i.requirements = vec!["integrations with the CRM".into()];
        assert_eq!(classify(&i).complexity, Complexity::Medium);
        i.requirements.push("HIPAA compliance".into());
        let c = classify(&i);
        assert_eq!(c.complexity, Complexity::High);
        assert_eq!(c.factors.len(), 4, "{:?}", c.factors);
    }

    #[test]
    fn the_highest_factor_decides_and_every_factor_is_listed() {
        let mut i = input(60, 1);
        i.oversize = 1;
        let c = classify(&i);
        assert_eq!(c.complexity, Complexity::High);
        assert_eq!(c.factors[0].1, Complexity::High);
        assert_eq!(c.factors[1].1, Complexity::Low);
        assert_eq!(c.factors[2].1, Complexity::Medium);
    }

    #[test]
    fn collisions_ignore_inbox_and_find_case_twins() {
        let f = |s: &str, d: &str| FolderAssessment {
            folder: s.into(),
            dst: Some(d.into()),
            ..Default::default()
        };
        let a = MailboxAssessment {
            key: "a->a".into(),
            folders: vec![
                f("INBOX", "INBOX"),
                f("inbox", "INBOX"),
                f("Projects", "Projects"),
                f("projects", "projects"),
            ],
            ..Default::default()
        };
        assert_eq!(
            collisions(&a),
            vec![("Projects".to_string(), "projects".to_string())]
        );
        assert!(merges(&a).is_empty(), "INBOX merges by design");
        let b = MailboxAssessment {
            key: "b->b".into(),
            folders: vec![
                f("[Gmail]/Drafts", "Drafts"),
                f("Drafts", "Drafts"),
                f("Work", "Work"),
            ],
            ..Default::default()
        };
        assert_eq!(
            merges(&b),
            vec![(
                "Drafts".to_string(),
                vec!["[Gmail]/Drafts".to_string(), "Drafts".to_string()]
            )]
        );
        assert_eq!(special_folders(&b).len(), 1);
    }
}
