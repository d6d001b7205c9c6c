//! What verification expects of a Gmail source: per folder, the messages copied from it (a
//! duplicate is verified where its one copy came from) and the keywords their copy got.

use std::collections::HashMap;

use crate::journal::Journal;

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
