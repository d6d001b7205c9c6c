//! The checklist as the project file gives it: `[[check]]` items, `[checklist] defaults = true`
//! for the built-in items ([`DEFAULT_CHECKS`]), the ids the engine verifies itself
//! ([`AUTO_CHECKS`]) and the `[checklist]` settings. Evaluating the items is
//! `crate::checklist`'s work.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::checks;
use super::lines::ConfigError;
use super::mailboxes::MailboxSpec;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecklist {
    #[serde(default)]
    defaults: bool,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    expected_mx: Vec<String>,
    #[serde(default)]
    resolver: Option<Spanned<String>>,
    #[serde(default)]
    pilot_batch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    id: String,
    title: String,
    #[serde(default = "default_section")]
    section: String,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    kind: CheckKind,
}

fn default_section() -> String {
    "Preparation".into()
}

fn yes() -> bool {
    true
}

/// Who verifies a checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    #[default]
    Manual,
    Auto,
}

impl CheckKind {
    pub fn word(self) -> &'static str {
        match self {
            CheckKind::Manual => "manual",
            CheckKind::Auto => "auto",
        }
    }
}

/// The ids of the items the engine verifies itself (`kind = "auto"`).
pub const AUTO_CHECKS: &[&str] = &[
    "login",
    "folders",
    "quota",
    "mx",
    "pilot-verified",
    "no-critical",
    "backup",
    "dns-mx",
    "dns-autodiscover",
    "dns-spf",
    "dns-dkim",
    "recipients",
    "access",
];

/// Auto items the operator may also tick: what the engine cannot verify itself yet
/// (`recipients`: the destination's directory).
pub const TICKABLE_AUTO_CHECKS: &[&str] = &["recipients"];

/// Checklist settings (`[checklist]`).
#[derive(Debug, Clone, Default)]
pub struct ChecklistSettings {
    /// The built-in default items were asked for (`defaults = true`).
    pub defaults: bool,
    /// The project's mail domain, for the `mx` item (None: not applicable).
    pub domain: Option<String>,
    /// Where the domain's MX records must point (host names, case-insensitive).
    pub expected_mx: Vec<String>,
    /// DNS server for the `mx` item ("IP" or "IP:PORT"); the system's resolver when None.
    pub resolver: Option<std::net::SocketAddr>,
    /// The batch whose verification the `pilot-verified` item requires.
    pub pilot_batch: String,
}

/// The built-in checklist (from the service procedure's pre-migration checklist, plus the
/// items the engine verifies): (id, section, title, required, kind).
pub const DEFAULT_CHECKS: &[(&str, &str, &str, bool, CheckKind)] = &[
    (
        "target-configured",
        "Technical",
        "Target tenant / destination system configured",
        true,
        CheckKind::Manual,
    ),
    (
        "security-policies",
        "Technical",
        "Security policies implemented on the destination (MFA, access policies)",
        true,
        CheckKind::Manual,
    ),
    (
        "login",
        "Technical",
        "User accounts created: every mailbox logs in on both sides",
        true,
        CheckKind::Auto,
    ),
    (
        "folders",
        "Technical",
        "Destination folders can be created",
        true,
        CheckKind::Auto,
    ),
    (
        "quota",
        "Technical",
        "Destination quota exceeds what will be copied",
        true,
        CheckKind::Auto,
    ),
    (
        "mx",
        "Technical",
        "DNS records updated: MX points to the destination",
        false,
        CheckKind::Auto,
    ),
    (
        "dns-mx",
        "Technical",
        "[dns] MX records point to the destination (asked of the domain's authoritative servers)",
        false,
        CheckKind::Auto,
    ),
    (
        "dns-autodiscover",
        "Technical",
        "[dns] autodiscover CNAME as the destination needs it",
        false,
        CheckKind::Auto,
    ),
    (
        "dns-spf",
        "Technical",
        "[dns] SPF record includes the destination",
        false,
        CheckKind::Auto,
    ),
    (
        "dns-dkim",
        "Technical",
        "[dns] a DKIM key published for every selector",
        false,
        CheckKind::Auto,
    ),
    (
        "backup",
        "Technical",
        "Source backed up and the backup verified (cutover backup, then --verify) before the batch's first write",
        false,
        CheckKind::Auto,
    ),
    (
        "access",
        "Technical",
        "Destination mailboxes ready: account, mailbox and room (cutover access)",
        false,
        CheckKind::Auto,
    ),
    (
        "recipients",
        "Technical",
        "Shared/resource mailboxes, lists and permissions created on the destination (cutover recipients, its script, then --check or tick)",
        false,
        CheckKind::Auto,
    ),
    (
        "pilot-verified",
        "Technical",
        "Pilot batch migrated and verified",
        true,
        CheckKind::Auto,
    ),
    (
        "no-critical",
        "Technical",
        "No mailbox has an open critical issue",
        true,
        CheckKind::Auto,
    ),
    (
        "user-communication",
        "Business",
        "User communication sent",
        true,
        CheckKind::Manual,
    ),
    (
        "training",
        "Business",
        "Training materials prepared",
        false,
        CheckKind::Manual,
    ),
    (
        "support",
        "Business",
        "Support procedures established",
        true,
        CheckKind::Manual,
    ),
    (
        "rollback-plan",
        "Business",
        "Rollback plan ready",
        true,
        CheckKind::Manual,
    ),
];

/// A pre-migration checklist item.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub section: String,
    pub required: bool,
    pub kind: CheckKind,
}

/// The checklist items (the file's, after the built-in ones when `defaults = true`; a file
/// item with a built-in id replaces it) and the `[checklist]` settings.
pub(super) fn checklist_of(
    path: &Path,
    text: &str,
    raw: &RawChecklist,
    items: &[Spanned<RawCheck>],
    mailboxes: &[MailboxSpec],
) -> Result<(Vec<Check>, ChecklistSettings), ConfigError> {
    let mut checks: Vec<Check> = Vec::new();
    if raw.defaults {
        for (id, section, title, required, kind) in DEFAULT_CHECKS {
            checks.push(Check {
                id: id.to_string(),
                title: title.to_string(),
                section: section.to_string(),
                required: *required,
                kind: *kind,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in items {
        let span = c.span();
        let c = c.get_ref();
        if c.id.trim().is_empty() {
            return Err(ConfigError::at(
                path,
                text,
                span.start,
                "[[check]] id: must not be empty",
            ));
        }
        if !seen.insert(c.id.clone()) {
            return Err(ConfigError::at(
                path,
                text,
                span.start,
                format!(
                    "[[check]] id {:?} is defined twice: each item needs its own id",
                    c.id
                ),
            ));
        }
        if c.kind == CheckKind::Auto && !AUTO_CHECKS.contains(&c.id.as_str()) {
            return Err(ConfigError::at(
                path,
                text,
                span.start,
                format!(
                    "[[check]] {:?}: kind = \"auto\" needs an id the engine can verify: one of {}",
                    c.id,
                    AUTO_CHECKS.join(", ")
                ),
            ));
        }
        let item = Check {
            id: c.id.clone(),
            title: c.title.clone(),
            section: c.section.clone(),
            required: c.required,
            kind: c.kind,
        };
        match checks.iter_mut().find(|x| x.id == item.id) {
            Some(x) => *x = item,
            None => checks.push(item),
        }
    }
    let resolver = match &raw.resolver {
        None => None,
        Some(r) => {
            let s = r.get_ref().trim();
            let addr = s
                .parse::<std::net::SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    ConfigError::at(
                        path,
                        text,
                        r.span().start,
                        format!(
                            "checklist.resolver: expected an IP address or IP:PORT such as \"127.0.0.1:5353\", got {s:?}"
                        ),
                    )
                })?;
            checks::in_range("checklist.resolver port", &addr.port(), &checks::PORT)
                .map_err(|m| ConfigError::at(path, text, r.span().start, m))?;
            Some(addr)
        }
    };
    if let Some(b) = &raw.pilot_batch
        && !mailboxes.iter().any(|m| &m.batch == b)
    {
        return Err(ConfigError::whole(
            path,
            format!(
                "checklist.pilot_batch: no mailbox is in batch {b:?}; name one of the file's batches"
            ),
        ));
    }
    let pilot_batch = raw.pilot_batch.clone().unwrap_or_else(|| {
        if mailboxes.iter().any(|m| m.batch == "pilot") {
            "pilot".into()
        } else {
            mailboxes
                .first()
                .map(|m| m.batch.clone())
                .unwrap_or_default()
        }
    });
    let domain = raw
        .domain
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    Ok((
        checks,
        ChecklistSettings {
            defaults: raw.defaults,
            domain,
            expected_mx: raw
                .expected_mx
                .iter()
                .map(|m| m.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            resolver,
            pilot_batch,
        },
    ))
}
