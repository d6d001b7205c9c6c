//! The pre-pass of one mailbox: every taking-part folder's new sightings listed (All Mail
//! first) without bodies, owners whose message left their folder before it was copied handed
//! on, the new sightings decided and journalled, and each folder's filter built.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::decide::{Identity, Known, LabelFolder, Sighting, decide, folder_keyword, order_key};
use super::plan::GmailPlan;
use super::roles::{Role, role_of};
use crate::config::{GmailSource, MultiLabel};
use crate::endpoint::{EndpointError, MailSession};
use crate::events::{RunStats, Severity, Sink};
use crate::journal::{GmailSeenRow, Journal};
use crate::sync::mapping::Mapping;
use crate::sync::types::{SyncError, UidFilter};

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
    // All Mail first (see the notes of `sync::gmail`).
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
            let present: HashSet<u32> = src.list_uids(min).await?.iter().map(|m| m.uid).collect();
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
        // A delta pass moved the copy's row to the heir (a message moved between labels
        // after it was copied): the ownership follows, nothing is copied again.
        if store.gmail_sighting_journalled(mailbox_id, &heir) {
            continue;
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
