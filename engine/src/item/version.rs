//! One rule for every item store (a DAV server, a local tree): where an item goes, and what
//! to do when something is already there. An item is written under a name derived from its
//! UID, so a repeated write (an answer lost, a re-run) finds the first; what is found there
//! is compared, by normalised fingerprint, with the item and with what cutover last wrote
//! there (kept in the journal):
//!
//! - the same content: already there, nothing written;
//! - exactly what cutover wrote, and the item is a newer version from the source: replaced;
//! - anything else (the destination's own item with that UID, or one its user changed since
//!   cutover wrote it): never overwritten; the item is refused, saying which.

use crate::api::ItemKind;

/// What is found at an item's place on the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtDestination {
    /// The same normalised content.
    Same,
    /// What cutover wrote there, unchanged since: an older version, to replace.
    OursOlder,
    /// What cutover wrote there, changed on the destination since.
    ChangedThere,
    /// Not written by cutover.
    NotOurs,
}

/// Compare what is there (`theirs`) with the item (`new`) and with what cutover last wrote
/// there (`written`), all normalised fingerprints.
pub fn at_destination(new: &str, theirs: &str, written: Option<&str>) -> AtDestination {
    if theirs == new {
        AtDestination::Same
    } else if written == Some(theirs) {
        AtDestination::OursOlder
    } else if written.is_some() {
        AtDestination::ChangedThere
    } else {
        AtDestination::NotOurs
    }
}

impl AtDestination {
    /// Why the item is refused, for an issue naming it (`what`: "this event (UID ...)");
    /// None when it is written (or is there already).
    pub fn refusal(self, what: &str) -> Option<String> {
        match self {
            AtDestination::Same | AtDestination::OursOlder => None,
            AtDestination::ChangedThere => Some(format!(
                "{what} was changed on the destination since cutover wrote it; it is not overwritten"
            )),
            AtDestination::NotOurs => Some(format!(
                "{what} is on the destination already, not written by cutover, with other content; it is not overwritten"
            )),
        }
    }
}

/// Of journalled source refs `(uid, key)` whose key is an item's identity then, after the
/// last space, its version (`"ID VERSION"`, as a Google source journals them), those whose
/// identity is listed now (`now`: identity to UID) under another UID: (old UID, new UID),
/// i.e. items changed on the source, not deleted.
pub fn newer_versions(
    refs: Vec<(u32, String)>,
    now: &std::collections::HashMap<&str, u32>,
) -> Vec<(u32, u32)> {
    refs.into_iter()
        .filter_map(|(uid, key)| {
            let id = key.rsplit_once(' ').map_or(key.as_str(), |(i, _)| i);
            now.get(id).filter(|n| **n != uid).map(|n| (uid, *n))
        })
        .collect()
}

/// The name an item with this UID is stored under: the UID itself when it is short and
/// plain, else a hash of it (always the same name for the same UID, which is what makes a
/// repeated write find the first).
pub fn resource_name(uid: &str, kind: ItemKind) -> String {
    let ext = match kind {
        ItemKind::Contact => "vcf",
        _ => "ics",
    };
    let plain = !uid.is_empty()
        && uid.len() <= 100
        && !uid.starts_with('.')
        && uid
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'@'));
    if plain {
        format!("{uid}.{ext}")
    } else {
        format!(
            "cutover-{}.{ext}",
            crate::mail::fingerprint::fingerprint(uid.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_there_decides() {
        use AtDestination::*;
        assert_eq!(at_destination("a", "a", None), Same);
        assert_eq!(at_destination("b", "a", Some("a")), OursOlder);
        assert_eq!(at_destination("b", "c", Some("a")), ChangedThere);
        assert_eq!(at_destination("b", "c", None), NotOurs);
        assert!(
            NotOurs
                .refusal("x")
                .is_some_and(|r| r.contains("not written by cutover"))
        );
        assert_eq!(OursOlder.refusal("x"), None);
    }

    #[test]
    fn a_ref_under_another_version_is_a_newer_version() {
        let now: std::collections::HashMap<&str, u32> =
            [("a@x", 7), ("b c@x", 8)].into_iter().collect();
        let refs = vec![
            (1, "a@x d1".to_string()),
            (2, "b c@x d2".to_string()),
            (3, "gone@x d3".to_string()),
            (7, "a@x d4".to_string()),
        ];
        assert_eq!(newer_versions(refs, &now), vec![(1, 7), (2, 8)]);
    }

    #[test]
    fn resource_names_are_the_uid_or_its_hash() {
        assert_eq!(
            resource_name("abc-1@x.org", ItemKind::Event),
            "abc-1@x.org.ics"
        );
        let odd = resource_name("a/b c", ItemKind::Contact);
        assert!(odd.starts_with("cutover-") && odd.ends_with(".vcf"));
        assert_eq!(odd, resource_name("a/b c", ItemKind::Contact));
        assert!(resource_name("..", ItemKind::Event).starts_with("cutover-"));
    }
}
