//! A mailbox's Gmail plan: each source folder's copy filter (the UIDs it owns, the keywords
//! to add), combined with a fail-back filter, and the warning when the destination refuses
//! those keywords.

use std::collections::HashMap;
use std::sync::Arc;

use crate::events::Severity;
use crate::sync::types::UidFilter;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
