//! The pre-migration checklist: manual items ticked by the operator, auto items verified by
//! the engine, their persisted results, overrides, and the gate that keeps a batch from
//! starting while a required item is unmet.
//!
//! Auto items: `login`, `folders`, `quota` (per mailbox, from `cutover assess`), `mx` (a DNS
//! lookup), `dns-mx`, `dns-autodiscover`, `dns-spf`, `dns-dkim` (`crate::dns`'s report), `pilot-verified`, `no-critical` and `backup` (from the journal, evaluated live),
//! and `recipients` (pending until ticked after the recipients script has run).
//!
//! The items themselves (the file's `[[check]]` entries, the built-in list, the ids of the auto
//! items, the `[checklist]` settings) are read with the project file: see `crate::config`.

use std::collections::HashMap;

use crate::assess::Assessment;
use crate::config::{CheckKind, ChecklistSettings, Project};
use crate::journal::{CheckResultRow, Journal, JournalError};
use crate::mail::fmt::bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Pending,
    Overridden,
    NotApplicable,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Pending => "pending",
            Status::Overridden => "overridden",
            Status::NotApplicable => "n/a",
        }
    }
    fn parse(s: &str) -> Status {
        match s {
            "pass" => Status::Pass,
            "fail" => Status::Fail,
            "n/a" => Status::NotApplicable,
            _ => Status::Pending,
        }
    }
    /// Met for the gate.
    pub fn met(self) -> bool {
        matches!(
            self,
            Status::Pass | Status::Overridden | Status::NotApplicable
        )
    }
}

/// One checklist item with its current status.
#[derive(Debug, Clone)]
pub struct ItemStatus {
    pub id: String,
    pub title: String,
    pub section: String,
    pub required: bool,
    pub kind: CheckKind,
    pub status: Status,
    /// Why (the failure, what is pending, the override's reason).
    pub reason: String,
    /// When the status was established (tick, check run or override).
    pub at: Option<String>,
    pub by: Option<String>,
    pub note: Option<String>,
    pub done: bool,
}

/// The mailboxes the selected batches hold (all when none).
fn selected_keys(project: &Project, batches: &[String]) -> Vec<String> {
    project
        .mailboxes
        .iter()
        .filter(|m| batches.is_empty() || batches.contains(&m.batch))
        .map(|m| m.key())
        .collect()
}

/// The `access` item: the latest `cutover access` of every mailbox found it ready.
pub fn access_status(
    store: &Journal,
    keys: &[String],
) -> Result<(Status, String, Option<String>), JournalError> {
    let rows: HashMap<String, crate::journal::AccessRow> = store
        .latest_access()?
        .into_iter()
        .map(|r| (r.mailbox.clone(), r))
        .collect();
    let (mut missing, mut failing) = (Vec::new(), Vec::new());
    let mut at: Option<String> = None;
    for k in keys {
        match rows.get(k) {
            None => missing.push(k.clone()),
            Some(r) if !r.ready => failing.push(format!("{k}: {}", r.state)),
            Some(r) => {
                if at.as_ref().is_none_or(|a| &r.at > a) {
                    at = Some(r.at.clone());
                }
            }
        }
    }
    Ok(if !failing.is_empty() {
        (
            Status::Fail,
            format!("not ready: {} (see `cutover access`)", list(&failing)),
            at,
        )
    } else if !missing.is_empty() {
        (
            Status::Pending,
            format!(
                "not checked yet: run `cutover access PROJECT` ({})",
                list(&missing)
            ),
            None,
        )
    } else {
        (
            Status::Pass,
            format!("{} mailbox(es) ready on the destination", keys.len()),
            at,
        )
    })
}

fn list(v: &[String]) -> String {
    let mut out = v.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if v.len() > 3 {
        out.push_str(&format!("; and {} more", v.len() - 3));
    }
    out
}

/// Every item's status, for starting the given batches (all when none).
pub fn evaluate(
    project: &Project,
    store: &Journal,
    batches: &[String],
) -> Result<Vec<ItemStatus>, JournalError> {
    let states = store.check_states()?;
    let results = store.check_results()?;
    let keys = selected_keys(project, batches);
    let mut by_check: HashMap<&str, Vec<&CheckResultRow>> = HashMap::new();
    for r in &results {
        by_check.entry(r.check_id.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for c in &project.checks {
        let st = states.get(&c.id);
        let rows = by_check.get(c.id.as_str()).cloned().unwrap_or_default();
        let latest = rows.iter().map(|r| r.at.clone()).max();
        let (mut status, mut reason, mut at, mut by) = match c.kind {
            CheckKind::Manual => match st {
                Some(s) if s.done => (
                    Status::Pass,
                    "ticked".to_string(),
                    s.at.clone(),
                    s.by.clone(),
                ),
                _ => (Status::Pending, "not ticked yet".to_string(), None, None),
            },
            // Met when `cutover recipients --check` found every recipient on the
            // destination, or when the operator ticks it (a destination cutover cannot read).
            CheckKind::Auto if c.id == "recipients" => {
                let journalled = store.recipient_rows()?;
                let (s, r) =
                    recipients_status(project, st.is_some_and(|s| s.done), batches, &journalled);
                let ticked = st.filter(|s| s.done);
                (
                    s,
                    r,
                    ticked.and_then(|s| s.at.clone()),
                    ticked.and_then(|s| s.by.clone()),
                )
            }
            CheckKind::Auto => {
                let (s, r, a) = auto_status(project, store, &c.id, &rows, &keys, batches)?;
                (s, r, a, None)
            }
        };
        // An override stands until the item is ticked or checked again.
        if !status.met()
            && let Some(s) = st
            && let (Some(oat), Some(ob), Some(or)) =
                (&s.override_at, &s.override_by, &s.override_reason)
        {
            let newer = match c.kind {
                CheckKind::Manual => s.at.as_ref().is_none_or(|t| oat > t),
                CheckKind::Auto => latest.as_ref().is_none_or(|t| oat > t),
            };
            if newer {
                reason = format!("overridden by {ob}: {or} (was {}: {reason})", status.word());
                status = Status::Overridden;
                at = Some(oat.clone());
                by = Some(ob.clone());
            }
        }
        out.push(ItemStatus {
            id: c.id.clone(),
            title: c.title.clone(),
            section: c.section.clone(),
            required: c.required,
            kind: c.kind,
            status,
            reason,
            at,
            by,
            note: st.and_then(|s| s.note.clone()),
            done: st.is_some_and(|s| s.done),
        });
    }
    Ok(out)
}

fn auto_status(
    project: &Project,
    store: &Journal,
    id: &str,
    rows: &[&CheckResultRow],
    keys: &[String],
    batches: &[String],
) -> Result<(Status, String, Option<String>), JournalError> {
    Ok(match id {
        "login" | "folders" | "quota" => {
            let mut fails = Vec::new();
            let mut missing = Vec::new();
            let mut at: Option<String> = None;
            for k in keys {
                match rows.iter().find(|r| &r.mailbox == k) {
                    Some(r) => {
                        if Status::parse(&r.status) == Status::Fail {
                            fails.push(r.reason.clone());
                        }
                        if at.as_ref().is_none_or(|a| &r.at > a) {
                            at = Some(r.at.clone());
                        }
                    }
                    None => missing.push(k.clone()),
                }
            }
            if !fails.is_empty() {
                (Status::Fail, list(&fails), at)
            } else if !missing.is_empty() {
                (
                    Status::Pending,
                    format!(
                        "not checked yet for {}: run `cutover assess`",
                        list(&missing)
                    ),
                    at,
                )
            } else {
                (
                    Status::Pass,
                    format!("{} mailbox(es) checked", keys.len()),
                    at,
                )
            }
        }
        "mx" => match rows.iter().find(|r| r.mailbox.is_empty()) {
            _ if project.checklist.domain.is_none() => (
                Status::NotApplicable,
                "no [checklist] domain configured".into(),
                None,
            ),
            Some(r) => (
                Status::parse(&r.status),
                r.reason.clone(),
                Some(r.at.clone()),
            ),
            None => (
                Status::Pending,
                "not checked yet: run `cutover assess`".into(),
                None,
            ),
        },
        dns if dns.starts_with("dns-") => match rows.iter().find(|r| r.mailbox.is_empty()) {
            _ if project.dns.domain.is_none() => (
                Status::NotApplicable,
                "no [dns] domain configured".into(),
                None,
            ),
            Some(r) => (
                Status::parse(&r.status),
                r.reason.clone(),
                Some(r.at.clone()),
            ),
            None => (
                Status::Pending,
                "not checked yet: run `cutover assess` or `cutover finalize`".into(),
                None,
            ),
        },
        "pilot-verified" => {
            let (s, r) = pilot_verified(project, store, batches)?;
            (s, r, rows.first().map(|r| r.at.clone()))
        }
        "no-critical" => {
            let (s, r) = no_critical(store)?;
            (s, r, rows.first().map(|r| r.at.clone()))
        }
        "backup" => backup_status(store, keys)?,
        "access" => access_status(store, keys)?,
        other => (Status::Pending, format!("unknown auto check {other}"), None),
    })
}

/// The `recipients` item: not applicable without a `[recipients]` CSV or a shared/resource
/// mailbox, nor for starting batches that hold no shared/resource mailbox (a shared mailbox
/// cannot be migrated before it exists; a user's can); otherwise pending until ticked (after
/// the Exchange Online script has run), since cutover cannot read the destination's
/// directory to verify it.
pub fn recipients_status(
    project: &Project,
    ticked: bool,
    batches: &[String],
    journalled: &[crate::journal::RecipientRow],
) -> (Status, String) {
    let resources = project
        .mailboxes
        .iter()
        .filter(|m| m.mailbox_type != crate::api::MailboxType::User)
        .filter(|m| batches.is_empty() || batches.contains(&m.batch))
        .count();
    if !batches.is_empty() && resources == 0 {
        return (
            Status::NotApplicable,
            format!(
                "no shared, room or equipment mailbox in batch(es) {}",
                batches.join(", ")
            ),
        );
    }
    let listed = project.recipients.list.len().max(journalled.len());
    if project.recipients.file.is_none() && resources == 0 && journalled.is_empty() {
        return (
            Status::NotApplicable,
            "no [recipients] csv, no recipient found in a directory and no shared, room or equipment mailbox".into(),
        );
    }
    // `cutover recipients --check` journals each recipient's state.
    let checked = journalled
        .iter()
        .any(|r| matches!(r.state.as_str(), "present" | "missing" | "differs"));
    let not_there: Vec<String> = journalled
        .iter()
        .filter(|r| r.state != "present")
        .map(|r| format!("{} {} ({})", r.kind, r.address, r.state))
        .collect();
    if checked && not_there.is_empty() {
        return (
            Status::Pass,
            format!(
                "verified by `cutover recipients --check`: all {} recipient(s) on the destination (FullAccess, SendAs and SendOnBehalf not verifiable through Graph)",
                journalled.len()
            ),
        );
    }
    if ticked {
        return (
            Status::Pass,
            "ticked: the recipients script was run (not verified by cutover)".into(),
        );
    }
    if checked {
        return (
            Status::Fail,
            format!(
                "not on the destination as listed: {}; run the script (`cutover recipients PROJECT --script FILE`) and `cutover recipients PROJECT`, then `--check` again",
                list(&not_there)
            ),
        );
    }
    let what = if listed > 0 {
        format!(
            "{listed} recipient(s) to create: run `cutover recipients PROJECT` (creates what Graph or Google can) and the script of `cutover recipients PROJECT --script FILE` in Exchange Online PowerShell"
        )
    } else {
        format!(
            "{resources} shared/resource mailbox(es) must exist on the destination before their batch: run `cutover recipients PROJECT --script FILE` and the script, or create them"
        )
    };
    (
        Status::Pending,
        format!(
            "{what}, then `cutover recipients PROJECT --check` (or tick it where cutover cannot read the destination: cutover checklist PROJECT --tick recipients)"
        ),
    )
}

/// The pilot batch's newest verification passed for every one of its mailboxes.
pub fn pilot_verified(
    project: &Project,
    store: &Journal,
    batches: &[String],
) -> Result<(Status, String), JournalError> {
    let pilot = &project.checklist.pilot_batch;
    let all_batches: Vec<&str> = {
        let mut v: Vec<&str> = project.mailboxes.iter().map(|m| m.batch.as_str()).collect();
        v.sort();
        v.dedup();
        v
    };
    let starting_only_pilot = if batches.is_empty() {
        all_batches == [pilot.as_str()]
    } else {
        batches.iter().all(|b| b == pilot)
    };
    if starting_only_pilot {
        return Ok((
            Status::NotApplicable,
            format!("the pilot batch {pilot} itself"),
        ));
    }
    let v = store.latest_verifications()?;
    let mut missing = Vec::new();
    let mut bad = Vec::new();
    for m in project.mailboxes.iter().filter(|m| &m.batch == pilot) {
        match v.get(&m.key()) {
            None => missing.push(m.key()),
            Some((false, summary, _)) => bad.push(format!("{}: {summary}", m.key())),
            Some(_) => {}
        }
    }
    Ok(if !bad.is_empty() {
        (
            Status::Fail,
            format!("verification of pilot batch {pilot} failed: {}", list(&bad)),
        )
    } else if !missing.is_empty() {
        (
            Status::Pending,
            format!(
                "pilot batch {pilot} not verified yet for {}: run `cutover verify PROJECT --batch {pilot}`",
                list(&missing)
            ),
        )
    } else {
        (Status::Pass, format!("pilot batch {pilot} verified"))
    })
}

/// The `backup` item: each mailbox has a verified backup of the source (`cutover backup`, then
/// `--verify`) that completed before its first write, or since the last restore into the
/// source. A mailbox without one is pending; one whose backup is older than its first write
/// or than a restore into the source fails (back it up again).
pub fn backup_status(
    store: &Journal,
    keys: &[String],
) -> Result<(Status, String, Option<String>), JournalError> {
    let rows = store.backup_rows()?;
    let started: HashMap<String, Option<String>> = store
        .mailbox_rows()?
        .into_iter()
        .map(|m| (m.key, m.started_at))
        .collect();
    let (mut missing, mut stale) = (Vec::new(), Vec::new());
    let mut at: Option<String> = None;
    for k in keys {
        let of = |kind: &'static str| {
            rows.iter()
                .filter(move |r| r.kind == kind && r.side == "source" && &r.mailbox == k)
        };
        let restored = of("restore").filter_map(|r| r.finished_at.clone()).max();
        let Some(done) = of("backup")
            .filter(|r| r.outcome == "complete" && r.verified_at.is_some())
            .filter_map(|r| r.finished_at.clone())
            .max()
        else {
            missing.push(k.clone());
            continue;
        };
        let since_restore = restored.as_ref().is_some_and(|r| &done > r);
        let before_write = started.get(k).cloned().flatten().is_none_or(|s| done <= s);
        if restored.as_ref().is_none_or(|r| &done > r) && (before_write || since_restore) {
            if at.as_ref().is_none_or(|a| &done > a) {
                at = Some(done);
            }
        } else {
            stale.push(format!(
                "{k} (its verified backup, {done}, is older than {})",
                if before_write {
                    "the last restore into the source"
                } else {
                    "its first write"
                }
            ));
        }
    }
    Ok(if !stale.is_empty() {
        (Status::Fail, format!("back up again: {}", list(&stale)), at)
    } else if !missing.is_empty() {
        (
            Status::Pending,
            format!(
                "no verified backup of the source for {}: run `cutover backup PROJECT`, then `cutover backup PROJECT --verify`",
                list(&missing)
            ),
            at,
        )
    } else {
        (
            Status::Pass,
            format!("{} mailbox(es) backed up and verified", keys.len()),
            at,
        )
    })
}

pub fn no_critical(store: &Journal) -> Result<(Status, String), JournalError> {
    let open = store.open_critical_mailbox_issues()?;
    Ok(if open.is_empty() {
        (Status::Pass, "no open critical issue".into())
    } else {
        let v: Vec<String> = open
            .iter()
            .map(|i| format!("{}: {}", i.mailbox.clone().unwrap_or_default(), i.message))
            .collect();
        (
            Status::Fail,
            format!(
                "{} open critical issue(s): {} (acknowledge them in the Issues tab once handled)",
                open.len(),
                list(&v)
            ),
        )
    })
}

/// Required items that are not met for starting the given batches.
pub fn blockers(
    project: &Project,
    store: &Journal,
    batches: &[String],
) -> Result<Vec<ItemStatus>, JournalError> {
    Ok(evaluate(project, store, batches)?
        .into_iter()
        .filter(|i| i.required && !i.status.met())
        .collect())
}

/// "login (fail: ...), backup (pending: not ticked yet)"
pub fn describe(items: &[ItemStatus]) -> String {
    items
        .iter()
        .map(|i| format!("{} ({}: {})", i.id, i.status.word(), i.reason))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Override every given item with the operator's reason; returns the issue text to log.
pub fn override_items(
    store: &Journal,
    items: &[ItemStatus],
    operator: &str,
    reason: &str,
) -> Result<String, JournalError> {
    for i in items {
        store.override_check(&i.id, operator, reason)?;
    }
    Ok(format!(
        "checklist override by {operator}: {reason} (unmet required item(s): {})",
        describe(items)
    ))
}

/// Record the per-mailbox auto checks (`login`, `folders`, `quota`) from an assessment.
pub fn record_from_assessment(store: &Journal, a: &Assessment) -> Result<(), JournalError> {
    let mut login = Vec::new();
    let mut folders = Vec::new();
    let mut quota = Vec::new();
    for m in &a.mailboxes {
        let k = m.key.clone();
        let (ls, lr) = match (&m.src_error, &m.dst_error) {
            (None, None) => ("pass", "both sides logged in".to_string()),
            (s, d) => (
                "fail",
                format!(
                    "{k}: {}",
                    [s.as_deref(), d.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
        };
        login.push((k.clone(), ls.into(), lr));
        let (fs, fr) = match &m.probe {
            Some(Ok(())) => ("pass", "probe folder created and deleted".to_string()),
            Some(Err(e)) => ("fail", format!("{k}: cannot create folders: {e}")),
            None => (
                "fail",
                format!(
                    "{k}: not checked (the mailbox could not be assessed{})",
                    m.read_error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            ),
        };
        folders.push((k.clone(), fs.into(), fr));
        let (qs, qr) = if !m.complete() {
            (
                "fail",
                format!("{k}: not checked (the mailbox could not be assessed)"),
            )
        } else {
            match m.quota {
                None => (
                    "n/a",
                    format!("{k}: the destination reports no storage quota"),
                ),
                Some((used, limit)) => {
                    let free = limit.saturating_sub(used);
                    let need = m.to_copy_bytes();
                    if need > free {
                        (
                            "fail",
                            format!(
                                "destination quota too small for {k}: needs {}, has {} free (limit {}, used {})",
                                bytes(need),
                                bytes(free),
                                bytes(limit),
                                bytes(used)
                            ),
                        )
                    } else {
                        (
                            "pass",
                            format!("{k}: needs {}, has {} free", bytes(need), bytes(free)),
                        )
                    }
                }
            }
        };
        quota.push((k, qs.into(), qr));
    }
    store.set_check_results("login", &login)?;
    store.set_check_results("folders", &folders)?;
    store.set_check_results("quota", &quota)?;
    Ok(())
}

/// Record the journal-based checks with a timestamp.
pub fn record_journal_checks(project: &Project, store: &Journal) -> Result<(), JournalError> {
    let (s, r) = pilot_verified(project, store, &[])?;
    store.set_check_results("pilot-verified", &[(String::new(), s.word().into(), r)])?;
    let (s, r) = no_critical(store)?;
    store.set_check_results("no-critical", &[(String::new(), s.word().into(), r)])?;
    Ok(())
}

/// The `mx` item: look up the domain's MX records and compare them with `expected_mx`.
pub async fn check_mx(settings: &ChecklistSettings) -> (Status, String) {
    use hickory_resolver::Resolver;
    use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    use hickory_resolver::name_server::TokioConnectionProvider;
    use hickory_resolver::proto::xfer::Protocol;

    let Some(domain) = &settings.domain else {
        return (
            Status::NotApplicable,
            "no [checklist] domain configured".into(),
        );
    };
    if settings.expected_mx.is_empty() {
        return (
            Status::Fail,
            format!("[checklist] expected_mx is empty: name the MX host(s) {domain} must point to"),
        );
    }
    let resolver = match settings.resolver {
        Some(addr) => {
            let mut cfg = ResolverConfig::new();
            cfg.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            cfg.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
            let mut opts = ResolverOpts::default();
            opts.timeout = std::time::Duration::from_secs(5);
            opts.attempts = 1;
            Resolver::builder_with_config(cfg, TokioConnectionProvider::default())
                .with_options(opts)
                .build()
        }
        None => match Resolver::builder_tokio() {
            Ok(b) => b.build(),
            Err(e) => {
                return (
                    Status::Fail,
                    format!(
                        "cannot read the system's DNS configuration ({e}); set [checklist] resolver"
                    ),
                );
            }
        },
    };
    let fqdn = format!("{domain}.");
    match resolver.mx_lookup(fqdn.as_str()).await {
        Ok(mx) => {
            let mut found: Vec<(u16, String)> = mx
                .iter()
                .map(|r| {
                    (
                        r.preference(),
                        r.exchange()
                            .to_ascii()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    )
                })
                .collect();
            found.sort();
            let hosts: Vec<String> = found.iter().map(|(_, h)| h.clone()).collect();
            let unexpected: Vec<&String> = hosts
                .iter()
                .filter(|h| !settings.expected_mx.contains(h))
                .collect();
            if hosts.is_empty() {
                (Status::Fail, format!("{domain} has no MX record"))
            } else if unexpected.is_empty() {
                (
                    Status::Pass,
                    format!("MX of {domain}: {}", hosts.join(", ")),
                )
            } else {
                (
                    Status::Fail,
                    format!(
                        "MX of {domain} is {} but should be {}",
                        hosts.join(", "),
                        settings.expected_mx.join(", ")
                    ),
                )
            }
        }
        Err(e) => (Status::Fail, format!("MX lookup for {domain} failed: {e}")),
    }
}

/// Run the auto checks: `assessment` feeds login/folders/quota when given; `mx` and the
/// journal checks always run. `only` limits to one item.
pub async fn run_auto_checks(
    project: &Project,
    store: &Journal,
    assessment: Option<&Assessment>,
    only: Option<&str>,
) -> Result<(), JournalError> {
    let wants =
        |id: &str| only.is_none_or(|o| o == id) && project.checks.iter().any(|c| c.id == id);
    if let Some(a) = assessment {
        record_from_assessment(store, a)?;
    }
    if wants("mx") {
        let (s, r) = check_mx(&project.checklist).await;
        store.set_check_results("mx", &[(String::new(), s.word().into(), r)])?;
    }
    if crate::dns::KINDS.iter().any(|k| wants(&format!("dns-{k}")))
        && let Some(report) = crate::dns::check(&project.dns).await
    {
        record_dns(store, &report)?;
    }
    if wants("pilot-verified") || wants("no-critical") {
        record_journal_checks(project, store)?;
    }
    Ok(())
}

/// Record the `dns-*` items from a DNS report (one result per kind of record).
pub fn record_dns(store: &Journal, report: &crate::dns::DnsReport) -> Result<(), JournalError> {
    for k in crate::dns::KINDS {
        let (s, mut r) = report.verdict(k);
        if let Some(n) = &report.note {
            r.push_str(&format!(" ({n})"));
        }
        store.set_check_results(&format!("dns-{k}"), &[(String::new(), s.into(), r)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;

    fn project(extra: &str) -> (tempfile::TempDir, Project, Journal) {
        let d = tempfile::tempdir().unwrap();
        let text = format!(
            "[project]\nname = \"t\"\nstate = \"j.sqlite\"\n\n\
             [source]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
             [destination]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\n\
             [[mailbox]]\nbatch = \"pilot\"\nsource = {{ user = \"alice\", password = \"x\" }}\n\
             destination = {{ user = \"alice\", password = \"x\" }}\n\n\
             [[mailbox]]\nbatch = \"wave-1\"\nsource = {{ user = \"bob\", password = \"x\" }}\n\
             destination = {{ user = \"bob\", password = \"x\" }}\n\n{extra}"
        );
        let path = d.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        let p = crate::config::load(&path).unwrap();
        let s = Journal::open(&p.state_path, Durability::Crash).unwrap();
        (d, p, s)
    }

    fn ids(v: &[ItemStatus]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn no_items_no_gate_and_defaults_only_when_asked() {
        let (_d, p, s) = project("");
        assert!(p.checks.is_empty());
        assert!(blockers(&p, &s, &[]).unwrap().is_empty());
        let (_d, p, s) = project("[checklist]\ndefaults = true\n");
        assert_eq!(p.checks.len(), crate::config::DEFAULT_CHECKS.len());
        let b = blockers(&p, &s, &[]).unwrap();
        // The automatic backup item is optional by default: existing projects keep starting.
        assert!(!ids(&b).contains(&"backup") && ids(&b).contains(&"login"));
        // No domain: the mx item is not applicable (and optional anyway).
        let all = evaluate(&p, &s, &[]).unwrap();
        let mx = all.iter().find(|i| i.id == "mx").unwrap();
        assert_eq!(mx.status, Status::NotApplicable);
    }

    #[test]
    fn the_backup_item_needs_a_verified_source_backup_before_the_first_write() {
        let (_d, p, s) =
            project("[[check]]\nid = \"backup\"\ntitle = \"Backup\"\nkind = \"auto\"\n");
        let status = |b: &str| evaluate(&p, &s, &[b.to_string()]).unwrap()[0].status;
        assert_eq!(status("pilot"), Status::Pending);
        let a = s
            .begin_backup("backup", "alice->alice", "source", "/b")
            .unwrap();
        s.end_backup(a, 1, 10, "complete").unwrap();
        // Complete but not verified; a destination backup does not count.
        assert_eq!(status("pilot"), Status::Pending);
        let d = s
            .begin_backup("backup", "alice->alice", "destination", "/d")
            .unwrap();
        s.end_backup(d, 1, 10, "complete").unwrap();
        s.mark_backup_verified("alice->alice", "destination", "/d")
            .unwrap();
        assert_eq!(status("pilot"), Status::Pending);
        s.mark_backup_verified("alice->alice", "source", "/b")
            .unwrap();
        assert_eq!(status("pilot"), Status::Pass);
        // Only alice's batch is covered.
        assert_eq!(status("wave-1"), Status::Pending);
        // A restore into the source after it: back up again.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let r = s
            .begin_backup("restore", "alice->alice", "source", "/b")
            .unwrap();
        s.end_backup(r, 1, 10, "complete").unwrap();
        assert_eq!(status("pilot"), Status::Fail);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let a = s
            .begin_backup("backup", "alice->alice", "source", "/b")
            .unwrap();
        s.end_backup(a, 1, 10, "complete").unwrap();
        s.mark_backup_verified("alice->alice", "source", "/b")
            .unwrap();
        assert_eq!(status("pilot"), Status::Pass);
        // A backup completed after the mailbox's first write (and no restore since) fails.
        let (_d2, p2, s2) =
            project("[[check]]\nid = \"backup\"\ntitle = \"Backup\"\nkind = \"auto\"\n");
        let id = s2
            .upsert_mailbox("bob->bob", "wave-1", "bob", "bob")
            .unwrap();
        s2.set_mailbox_state(id, "running", None).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = s2
            .begin_backup("backup", "bob->bob", "source", "/b")
            .unwrap();
        s2.end_backup(b, 1, 10, "complete").unwrap();
        s2.mark_backup_verified("bob->bob", "source", "/b").unwrap();
        let st = &evaluate(&p2, &s2, &["wave-1".into()]).unwrap()[0];
        assert_eq!(st.status, Status::Fail, "{}", st.reason);
        assert!(st.reason.contains("first write"), "{}", st.reason);
    }

    #[test]
    fn manual_items_gate_until_ticked_or_overridden() {
        let (_d, p, s) = project(
            "[[check]]\nid = \"backup\"\ntitle = \"Backup\"\n\n\
             [[check]]\nid = \"comms\"\ntitle = \"Users told\"\nrequired = false\n",
        );
        assert_eq!(ids(&blockers(&p, &s, &[]).unwrap()), vec!["backup"]);
        s.set_check("backup", true, "maria", Some("snapshot 1"))
            .unwrap();
        assert!(blockers(&p, &s, &[]).unwrap().is_empty());
        s.set_check("backup", false, "maria", None).unwrap();
        assert_eq!(ids(&blockers(&p, &s, &[]).unwrap()), vec!["backup"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = blockers(&p, &s, &[]).unwrap();
        let msg = override_items(&s, &b, "maria", "customer's own backup").unwrap();
        assert!(msg.contains("customer's own backup") && msg.contains("backup (pending"));
        let all = evaluate(&p, &s, &[]).unwrap();
        assert_eq!(all[0].status, Status::Overridden);
        assert!(
            all[0]
                .reason
                .starts_with("overridden by maria: customer's own backup")
        );
        assert!(blockers(&p, &s, &[]).unwrap().is_empty());
        // Unticking again later is a new fact: the override no longer stands.
        std::thread::sleep(std::time::Duration::from_millis(5));
        s.set_check("backup", false, "maria", None).unwrap();
        assert_eq!(ids(&blockers(&p, &s, &[]).unwrap()), vec!["backup"]);
    }

    #[test]
    fn per_mailbox_checks_gate_only_the_batches_they_concern() {
        let (_d, p, s) = project("[[check]]\nid = \"login\"\ntitle = \"Login\"\nkind = \"auto\"\n");
        // Not run yet: pending for everyone.
        let b = blockers(&p, &s, &["pilot".into()]).unwrap();
        assert_eq!(b[0].status, Status::Pending);
        s.set_check_results(
            "login",
            &[
                ("alice->alice".into(), "pass".into(), "ok".into()),
                ("bob->bob".into(), "fail".into(), "bob->bob: refused".into()),
            ],
        )
        .unwrap();
        assert!(blockers(&p, &s, &["pilot".into()]).unwrap().is_empty());
        let b = blockers(&p, &s, &["wave-1".into()]).unwrap();
        assert_eq!(b[0].status, Status::Fail);
        assert_eq!(b[0].reason, "bob->bob: refused");
        assert_eq!(blockers(&p, &s, &[]).unwrap().len(), 1);
    }

    #[test]
    fn pilot_verified_is_not_applicable_to_the_pilot_and_needs_a_passing_verification() {
        let (_d, p, s) = project(
            "[[check]]\nid = \"pilot-verified\"\ntitle = \"Pilot verified\"\nkind = \"auto\"\n",
        );
        assert!(blockers(&p, &s, &["pilot".into()]).unwrap().is_empty());
        let b = blockers(&p, &s, &["wave-1".into()]).unwrap();
        assert_eq!(b[0].status, Status::Pending);
        assert!(b[0].reason.contains("--batch pilot"), "{}", b[0].reason);
        s.record_verification("alice->alice", "pilot", false, "INBOX: 2 missing")
            .unwrap();
        let b = blockers(&p, &s, &["wave-1".into()]).unwrap();
        assert_eq!(b[0].status, Status::Fail);
        assert!(b[0].reason.contains("INBOX: 2 missing"));
        s.record_verification("alice->alice", "pilot", true, "ok")
            .unwrap();
        assert!(blockers(&p, &s, &["wave-1".into()]).unwrap().is_empty());
    }

    #[test]
    fn an_open_critical_mailbox_issue_blocks_until_acknowledged() {
        let (_d, p, s) = project(
            "[[check]]\nid = \"no-critical\"\ntitle = \"No critical issue\"\nkind = \"auto\"\n",
        );
        assert!(blockers(&p, &s, &[]).unwrap().is_empty());
        // An emergency stop (no mailbox) does not count; a mailbox's critical issue does.
        for mailbox in [None, Some("bob->bob")] {
            s.record_issue(&crate::journal::Issue {
                severity: "critical",
                category: "verification",
                mailbox,
                folder: Some("INBOX"),
                uid: None,
                message: "UID 7 missing on the destination",
            })
            .unwrap();
        }
        let b = blockers(&p, &s, &[]).unwrap();
        assert_eq!(b.len(), 1);
        assert!(
            b[0].reason.contains("bob->bob: UID 7 missing"),
            "{}",
            b[0].reason
        );
        for i in s.open_critical_mailbox_issues().unwrap() {
            s.set_issue_state(i.id, "acknowledged", "test", None)
                .unwrap();
        }
        assert!(blockers(&p, &s, &[]).unwrap().is_empty());
    }

    #[test]
    fn an_auto_item_needs_a_known_id() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("p.toml");
        std::fs::write(
            &path,
            "[project]\nname = \"t\"\nstate = \"j.sqlite\"\n[source]\nkind = \"imap\"\nhost = \"h\"\n\
             [destination]\nkind = \"imap\"\nhost = \"h\"\n[[mailbox]]\n\
             source = { user = \"a\", password = \"x\" }\ndestination = { user = \"a\", password = \"x\" }\n\
             [[check]]\nid = \"dns-ttl\"\ntitle = \"TTL\"\nkind = \"auto\"\n",
        )
        .unwrap();
        let e = crate::config::load(&path).unwrap_err().to_string();
        assert!(
            e.contains(":13:1:") && e.contains("one of login, folders"),
            "{e}"
        );
    }
}
