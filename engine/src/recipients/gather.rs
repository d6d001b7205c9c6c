//! The project's recipients from every place they come from, journalled together: the
//! `[recipients]` CSV, the source's directory (Graph, Google) and the project's own shared,
//! room and equipment mailboxes (`type` on `[[mailbox]]`). The CSV wins over a directory for
//! the same address, a directory over the project's mailboxes.

use std::collections::HashSet;

use crate::api::{MailboxType, RecipientKind};
use crate::config::{EndpointKind, Items, Project, Recipient, address_ok};
use crate::endpoint::gmail::GoogleDirectory;
use crate::endpoint::graph::GraphConnector;
use crate::journal::{Journal, JournalError, RecipientRow};

use super::discover::{address_map, from_google, from_graph, mailbox_address};
use super::rows::rows;
use super::types::{Discovered, RecipientsError};

/// The recipients as gathered.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// Every recipient, CSV first, then the directory's, then the project's mailboxes.
    pub list: Vec<Recipient>,
    /// What the source's directory listed (when it was asked).
    pub discovered: Option<Discovered>,
    /// Where the list comes from, for people: "recipients.csv", "graph", "project".
    pub sources: Vec<String>,
}

/// Whether the source has a directory cutover can read: Graph, or Gmail with
/// `[recipients] google_admin`.
pub fn can_discover(project: &Project) -> bool {
    match project.source.kind {
        EndpointKind::Graph => true,
        EndpointKind::Gmail => project.recipients.google_admin.is_some(),
        _ => false,
    }
}

/// Read the source's directory (when `discover` and it has one), merge and journal.
pub async fn gather(
    project: &Project,
    store: &Journal,
    discover: bool,
) -> Result<Gathered, RecipientsError> {
    let discovered = if discover && can_discover(project) {
        let map = address_map(project);
        Some(match project.source.kind {
            EndpointKind::Graph => {
                let c = GraphConnector::new(&project.source, Items::default(), "source", store)?;
                from_graph(&c, &map).await?
            }
            _ => {
                let admin = project.recipients.google_admin.as_deref().unwrap_or("");
                let d = GoogleDirectory::new(&project.source, "source", store, admin)?;
                from_google(&d, project.recipients.google_groups, &map).await?
            }
        })
    } else {
        None
    };
    let g = merge(project, discovered.map(sane));
    store.save_recipients(&journal_rows(project, &g))?;
    Ok(g)
}

/// What a directory gave, without what is not an address (a line break, a quote, a space:
/// it would reach the script's comments and the terminal): left out, with a note each.
fn sane(mut d: Discovered) -> Discovered {
    let mut notes = Vec::new();
    let mut bad = |what: &str, a: &str| {
        notes.push(format!("{what} {a:?} is not an address: left out"));
        false
    };
    d.recipients
        .retain(|r| address_ok(&r.address) || bad("recipient", &r.address));
    for r in &mut d.recipients {
        let who = r.address.clone();
        r.members
            .retain(|m| address_ok(m) || bad(&format!("member of {who}"), m));
        r.owners
            .retain(|m| address_ok(m) || bad(&format!("owner of {who}"), m));
        r.aliases
            .retain(|m| address_ok(m) || bad(&format!("alias of {who}"), m));
        r.access
            .retain(|g| address_ok(&g.user) || bad(&format!("user with access to {who}"), &g.user));
        r.display_name = r
            .display_name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
    }
    d.user_aliases
        .retain(|(u, _)| address_ok(u) || bad("user", u));
    for (_, aliases) in &mut d.user_aliases {
        aliases.retain(|a| address_ok(a));
    }
    d.notes.extend(notes);
    d
}

/// The list without asking any directory (the CSV and the project's mailboxes).
pub fn gather_listed(project: &Project) -> Gathered {
    merge(project, None)
}

fn merge(project: &Project, discovered: Option<Discovered>) -> Gathered {
    let mut seen: HashSet<String> = HashSet::new();
    let mut g = Gathered::default();
    let mut take = |r: &Recipient, g: &mut Gathered| {
        if seen.insert(r.address.to_ascii_lowercase()) {
            g.list.push(r.clone());
        }
    };
    if let Some(file) = &project.recipients.file {
        g.sources.push(file_name(file));
        for r in &project.recipients.list {
            take(r, &mut g);
        }
    }
    if let Some(d) = &discovered {
        g.sources.push(d.source.clone());
        for r in &d.recipients {
            take(r, &mut g);
        }
    }
    let mut any = false;
    for m in &project.mailboxes {
        let kind = match m.mailbox_type {
            MailboxType::User => continue,
            MailboxType::Shared => RecipientKind::Shared,
            MailboxType::Room => RecipientKind::Room,
            MailboxType::Equipment => RecipientKind::Equipment,
        };
        let Some(address) = mailbox_address(&m.destination.user) else {
            continue;
        };
        any = true;
        let r = Recipient {
            kind,
            display_name: address.split('@').next().unwrap_or(&address).to_string(),
            address,
            members: Vec::new(),
            aliases: Vec::new(),
            access: Vec::new(),
            owners: Vec::new(),
            line: 0,
        };
        take(&r, &mut g);
    }
    if any {
        g.sources.push("project".into());
    }
    g.discovered = discovered;
    g
}

fn file_name(file: &std::path::Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// The journal's rows, each with where it came from.
fn journal_rows(project: &Project, g: &Gathered) -> Vec<RecipientRow> {
    let csv: HashSet<String> = project
        .recipients
        .list
        .iter()
        .map(|r| r.address.to_ascii_lowercase())
        .collect();
    let found: HashSet<String> = g
        .discovered
        .iter()
        .flat_map(|d| d.recipients.iter().map(|r| r.address.to_ascii_lowercase()))
        .collect();
    let csv_name = project.recipients.file.as_deref().map(file_name);
    g.list
        .iter()
        .flat_map(|r| {
            let key = r.address.to_ascii_lowercase();
            let origin = if csv.contains(&key) {
                csv_name.clone().unwrap_or_default()
            } else if found.contains(&key) {
                g.discovered
                    .as_ref()
                    .map(|d| d.source.clone())
                    .unwrap_or_default()
            } else {
                "project".into()
            };
            rows(&origin, std::slice::from_ref(r))
        })
        .collect()
}

/// Journal the project's recipients as now listed (the CSV and the project's shared
/// mailboxes), keeping what a directory API found last (`cutover recipients` or `cutover
/// assess` reads the directory again).
pub fn journal_recipients(project: &Project, store: &Journal) -> Result<(), JournalError> {
    let listed = gather_listed(project);
    let file = project.recipients.file.as_ref().map(|file| {
        file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into(),
        )
    });
    let csv: std::collections::HashSet<String> = project
        .recipients
        .list
        .iter()
        .map(|r| r.address.to_ascii_lowercase())
        .collect();
    let mut all: Vec<RecipientRow> = listed
        .list
        .iter()
        .flat_map(|r| {
            let origin = if csv.contains(&r.address.to_ascii_lowercase()) {
                file.clone().unwrap_or_default()
            } else {
                "project".into()
            };
            rows(&origin, std::slice::from_ref(r))
        })
        .collect();
    for old in store.recipient_rows()? {
        if matches!(old.origin.as_str(), "graph" | "google")
            && !all
                .iter()
                .any(|r| r.address.eq_ignore_ascii_case(&old.address))
        {
            all.push(old);
        }
    }
    store.save_recipients(&all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Grant;

    #[test]
    fn what_is_not_an_address_is_left_out_with_a_note() {
        let r = |a: &str| Recipient {
            kind: RecipientKind::Distribution,
            address: a.into(),
            display_name: "Team\nrm -rf".into(),
            members: vec!["ok@x.test".into(), "bad\n@x.test".into()],
            aliases: vec!["al'ias@x.test".into()],
            access: vec![Grant {
                user: "u x@x.test".into(),
                right: crate::api::AccessRight::SendAs,
            }],
            owners: Vec::new(),
            line: 0,
        };
        let d = sane(Discovered {
            source: "graph".into(),
            recipients: vec![r("team@x.test"), r("evil\n#@x.test")],
            ..Discovered::default()
        });
        assert_eq!(d.recipients.len(), 1);
        let t = &d.recipients[0];
        assert_eq!(t.members, ["ok@x.test"]);
        assert!(t.aliases.is_empty() && t.access.is_empty());
        assert_eq!(t.display_name, "Team rm -rf");
        assert_eq!(d.notes.len(), 4, "{:?}", d.notes);
    }
}
