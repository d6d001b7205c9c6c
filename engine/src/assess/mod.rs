//! `cutover assess`: discovery before a migration. For every mailbox: log in on both sides,
//! read capabilities, the folder tree with message counts and sizes (metadata only, never
//! bodies), the largest messages, messages over the destination's size limit, the destination
//! quota; then the project's complexity, the concrete risks found and a duration estimate per
//! batch from the journal's measured throughput. Knows nothing of terminals: callers print.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::{MailboxSpec, Project};
use crate::discover::discover;
use crate::endpoint::any::{AnyConnector, AnySession};
use crate::endpoint::{MailSession, SpecialUse};
use crate::journal::{
    AssessedFolderRow, AssessedMailboxRow, AssessedMessageRow, AssessmentRows, Journal,
    JournalError, RiskRow,
};

/// Largest messages kept per mailbox.
pub const TOP_N: usize = 5;

/// Capabilities worth reporting (present or absent).
pub const NOTABLE_CAPS: &[&str] = &[
    "UIDPLUS",
    "CONDSTORE",
    "QUOTA",
    "SPECIAL-USE",
    "APPENDLIMIT",
    "LITERAL+",
    "MOVE",
    "MULTIAPPEND",
    "LIST-EXTENDED",
];

#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(
        "cannot write the CSV report {path}: {message} (check the directory exists and is writable)"
    )]
    Csv { path: String, message: String },
    #[error("no mailbox in batch(es) {0}: name batches the project file defines")]
    NoMailbox(String),
}

/// A message worth naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub folder: String,
    pub uid: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct FolderAssessment {
    /// Source path, "/"-joined.
    pub folder: String,
    /// Destination path, None when not copied.
    pub dst: Option<String>,
    pub why: String,
    pub special: Option<SpecialUse>,
    pub messages: u64,
    pub bytes: u64,
    pub largest: u64,
}

#[derive(Debug, Clone, Default)]
pub struct MailboxAssessment {
    pub key: String,
    pub batch: String,
    pub src_caps: Vec<String>,
    pub dst_caps: Vec<String>,
    /// Why the source side could not be assessed (login refused, unreachable, ...).
    pub src_error: Option<String>,
    pub dst_error: Option<String>,
    /// Logged in, but the folders could not all be read (the listing or a folder failed).
    pub read_error: Option<String>,
    pub folders: Vec<FolderAssessment>,
    /// Largest messages of the folders to copy, largest first (at most [`TOP_N`]).
    pub largest: Vec<MessageRef>,
    /// Messages of the folders to copy over `size_limit`.
    pub oversize: Vec<MessageRef>,
    /// The destination's size limit: smallest of the file's/preset's and APPENDLIMIT.
    pub size_limit: Option<u64>,
    /// Destination storage quota (used, limit) in bytes, when the server reports one.
    pub quota: Option<(u64, u64)>,
    /// Already copied (journal), so not needed again on the destination.
    pub copied_bytes: u64,
    /// The probe folder on the destination: Ok, or the server's refusal.
    pub probe: Option<Result<(), String>>,
}

impl MailboxAssessment {
    pub fn logged_in(&self) -> bool {
        self.src_error.is_none() && self.dst_error.is_none()
    }
    /// Logged in and read completely: the figures are whole.
    pub fn complete(&self) -> bool {
        self.logged_in() && self.read_error.is_none()
    }
    fn copied_folders(&self) -> impl Iterator<Item = &FolderAssessment> {
        self.folders.iter().filter(|f| f.dst.is_some())
    }
    /// Messages in the folders that will be copied.
    pub fn messages(&self) -> u64 {
        self.copied_folders().map(|f| f.messages).sum()
    }
    /// Bytes in the folders that will be copied.
    pub fn bytes(&self) -> u64 {
        self.copied_folders().map(|f| f.bytes).sum()
    }
    pub fn largest_size(&self) -> u64 {
        self.largest.first().map_or(0, |m| m.size)
    }
    /// What the destination still has to take: folders to copy, less oversize messages (they
    /// are skipped) and less what the journal says is already copied.
    pub fn to_copy_bytes(&self) -> u64 {
        let over: u64 = self.oversize.iter().map(|m| m.size).sum();
        self.bytes()
            .saturating_sub(over)
            .saturating_sub(self.copied_bytes)
    }
}

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
    /// Folders that need care: Gmail-style label views (\All), special-use folders that land
    /// in no special-use folder, names that collide after case folding.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    /// "critical", "warning" or "info".
    pub severity: &'static str,
    pub mailbox: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct BatchEstimate {
    pub batch: String,
    pub mailboxes: usize,
    pub bytes_to_copy: u64,
    /// Seconds, from measured throughput; None: no measurement yet.
    pub secs: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub batches: Vec<String>,
    pub mailboxes: Vec<MailboxAssessment>,
    pub classification: Classification,
    pub risks: Vec<Risk>,
    pub estimates: Vec<BatchEstimate>,
    /// (bytes, seconds, runs) measured in the journal.
    pub throughput: Option<(u64, f64, u32)>,
}

pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

fn notable(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = raw
        .iter()
        .filter(|c| {
            let up = c.to_ascii_uppercase();
            NOTABLE_CAPS
                .iter()
                .any(|n| up == *n || up.starts_with(&format!("{n}=")))
        })
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn has_cap(caps: &[String], name: &str) -> bool {
    caps.iter().any(|c| {
        let up = c.to_ascii_uppercase();
        up == name || up.starts_with(&format!("{name}="))
    })
}

/// Assess one mailbox; never fails: what could not be read is recorded in the result.
pub async fn assess_mailbox(
    project: &Project,
    store: &Journal,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    spec: &MailboxSpec,
) -> MailboxAssessment {
    let mut a = MailboxAssessment {
        key: spec.key(),
        batch: spec.batch.clone(),
        ..Default::default()
    };
    if let Ok(Some(id)) = store.mailbox_id(&a.key) {
        a.copied_bytes = store
            .mailbox_totals(id)
            .map(|t| t.copied_bytes)
            .unwrap_or(0);
    }
    let src = src_c
        .connect(&spec.source)
        .await
        .map_err(|e| format!("source {}: {e}", spec.source.user));
    let dst = dst_c
        .connect(&spec.destination)
        .await
        .map_err(|e| format!("destination {}: {e}", spec.destination.user));
    let (mut s, mut d) = match (src, dst) {
        (Ok(s), Ok(d)) => (s, d),
        (s, d) => {
            if let Ok(s) = &s {
                a.src_caps = notable(&s.capabilities().raw);
            }
            if let Ok(d) = &d {
                a.dst_caps = notable(&d.capabilities().raw);
            }
            a.src_error = s.as_ref().err().cloned();
            a.dst_error = d.as_ref().err().cloned();
            if let Ok(s) = s {
                s.logout().await;
            }
            if let Ok(d) = d {
                d.logout().await;
            }
            return a;
        }
    };
    a.src_caps = notable(&s.capabilities().raw);
    a.dst_caps = notable(&d.capabilities().raw);
    a.size_limit = match (
        project.destination.max_message_size,
        d.capabilities().append_limit,
    ) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    if let Err(e) = read_mailbox(project, &mut a, &mut s, &mut d).await {
        a.read_error = Some(e);
    }
    s.logout().await;
    d.logout().await;
    a
}

async fn read_mailbox(
    project: &Project,
    a: &mut MailboxAssessment,
    s: &mut AnySession,
    d: &mut AnySession,
) -> Result<(), String> {
    let disc = discover(project, s, d)
        .await
        .map_err(|e| format!("listing folders: {e}"))?;
    let mut all: Vec<MessageRef> = Vec::new();
    for m in &disc.mappings {
        // A non-selectable folder holds no messages (its children are listed themselves).
        if !m.src.selectable {
            continue;
        }
        let mut f = FolderAssessment {
            folder: m.src.display(),
            dst: m.dst_wire.as_ref().map(|_| m.dst_display.clone()),
            why: m.why.clone(),
            special: m.src.special,
            ..Default::default()
        };
        {
            s.examine(&m.src.wire_name)
                .await
                .map_err(|e| format!("folder {}: {e}", f.folder))?;
            let metas = s
                .fetch_meta(1)
                .await
                .map_err(|e| format!("folder {}: {e}", f.folder))?;
            f.messages = metas.len() as u64;
            f.bytes = metas.iter().map(|m| m.size).sum();
            f.largest = metas.iter().map(|m| m.size).max().unwrap_or(0);
            if f.dst.is_some() {
                for meta in &metas {
                    let r = MessageRef {
                        folder: f.folder.clone(),
                        uid: meta.uid,
                        size: meta.size,
                    };
                    if a.size_limit.is_some_and(|l| meta.size > l) {
                        a.oversize.push(r.clone());
                    }
                    all.push(r);
                }
                // Keep memory flat on huge mailboxes: only the top few matter.
                if all.len() > 4096 {
                    top_n(&mut all);
                }
            }
        }
        a.folders.push(f);
    }
    top_n(&mut all);
    a.largest = all;
    // INBOX first, then by name: easier to read than the server's LIST order.
    a.folders.sort_by(|x, y| {
        (x.folder != "INBOX")
            .cmp(&(y.folder != "INBOX"))
            .then_with(|| x.folder.cmp(&y.folder))
    });
    // Destination quota of the root holding INBOX.
    match d.storage_quota("INBOX").await {
        Ok(q) => a.quota = q,
        Err(e) => {
            tracing::warn!(mailbox = %a.key, "GETQUOTAROOT failed: {e}");
        }
    }
    // Probe: can a folder be created (and removed) on the destination?
    let probe = format!("cutover-probe-{}", std::process::id());
    a.probe = Some(match d.create_folder(&probe).await {
        Ok(_) => match d.delete_folder(&probe).await {
            Ok(()) => Ok(()),
            Err(e) => Err(format!(
                "probe folder {probe} was created but could not be deleted ({e}); delete it by hand"
            )),
        },
        Err(e) => Err(e.to_string()),
    });
    Ok(())
}

fn top_n(v: &mut Vec<MessageRef>) {
    v.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| a.folder.cmp(&b.folder))
            .then(a.uid.cmp(&b.uid))
    });
    v.truncate(TOP_N);
}

/// Folder names (destination paths) that collide once case is folded.
fn collisions(a: &MailboxAssessment) -> Vec<(String, String)> {
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
fn merges(a: &MailboxAssessment) -> Vec<(String, Vec<String>)> {
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
fn special_folders(a: &MailboxAssessment) -> Vec<String> {
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

/// The concrete risks found, most severe first.
pub fn risks(project: &Project, mbs: &[MailboxAssessment]) -> Vec<Risk> {
    let mut out = Vec::new();
    let mut push = |severity, mailbox: Option<&str>, message: String| {
        out.push(Risk {
            severity,
            mailbox: mailbox.map(str::to_string),
            message,
        })
    };
    for a in mbs {
        let k = Some(a.key.as_str());
        if let Some(e) = &a.src_error {
            push("critical", k, format!("{}: cannot assess: {e}", a.key));
        }
        if let Some(e) = &a.dst_error {
            push("critical", k, format!("{}: cannot assess: {e}", a.key));
        }
        if let Some(e) = &a.read_error {
            push(
                "critical",
                k,
                format!("{}: logged in but could not read everything: {e}", a.key),
            );
        }
        if !a.complete() {
            continue;
        }
        let mut per_folder: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        for m in &a.oversize {
            let e = per_folder.entry(m.folder.as_str()).or_default();
            e.0 += 1;
            e.1 = e.1.max(m.size);
        }
        for (folder, (n, max)) in per_folder {
            push(
                "warning",
                k,
                format!(
                    "{n} message(s) over {} in {}/{folder} (largest {}): they will be skipped with a recorded reason",
                    human(a.size_limit.unwrap_or(0)),
                    a.key,
                    human(max)
                ),
            );
        }
        if let Some((used, limit)) = a.quota {
            let free = limit.saturating_sub(used);
            let need = a.to_copy_bytes();
            if need > free {
                push(
                    "critical",
                    k,
                    format!(
                        "destination quota too small for {}: needs {}, has {} free (limit {}, used {})",
                        a.key,
                        human(need),
                        human(free),
                        human(limit),
                        human(used)
                    ),
                );
            } else if limit > 0 && (used + need) * 10 > limit * 9 {
                push(
                    "warning",
                    k,
                    format!(
                        "destination quota of {} will be over 90% full after the copy ({} of {})",
                        a.key,
                        human(used + need),
                        human(limit)
                    ),
                );
            }
        }
        if let Some(Err(e)) = &a.probe {
            push(
                "critical",
                k,
                format!("{}: cannot create folders on the destination: {e}", a.key),
            );
        }
        for (x, y) in collisions(a) {
            push(
                "warning",
                k,
                format!(
                    "{}: folder names that collide after case folding: {x:?} and {y:?} (a case-insensitive destination merges them; add a [folders] rename rule)",
                    a.key
                ),
            );
        }
        for (d, srcs) in merges(a) {
            push(
                "warning",
                k,
                format!(
                    "{}: {} land in the same folder {d} (merged; add a [folders] rename rule to keep them apart)",
                    a.key,
                    srcs.join(", ")
                ),
            );
        }
        for f in &a.folders {
            if f.special == Some(SpecialUse::All)
                && f.dst.is_some()
                && f.why != crate::sync::gmail::ALL_MAIL_WHY
            {
                push(
                    "warning",
                    k,
                    format!(
                        "{}: {} is an \\All folder: its messages are copied again besides their folders",
                        a.key, f.folder
                    ),
                );
            }
        }
    }
    // Server capabilities, once per side (from the first mailbox that logged in).
    let caps = |side: fn(&MailboxAssessment) -> &Vec<String>| {
        mbs.iter().find(|a| a.logged_in()).map(|a| side(a).clone())
    };
    if let Some(sc) = caps(|a| &a.src_caps) {
        if !has_cap(&sc, "UIDPLUS") {
            push(
                "info",
                None,
                format!(
                    "source {} lacks UIDPLUS (no effect on reading; noted for fail-back)",
                    project.source.host
                ),
            );
        }
        if !has_cap(&sc, "SPECIAL-USE") {
            push(
                "info",
                None,
                format!(
                    "source {} lacks SPECIAL-USE: special folders are recognised by well-known names only",
                    project.source.host
                ),
            );
        }
    }
    if let Some(dc) = caps(|a| &a.dst_caps) {
        if !has_cap(&dc, "UIDPLUS") {
            push(
                "warning",
                None,
                format!(
                    "destination {} lacks UIDPLUS: destination UIDs are found by fingerprint after each APPEND (slower, heavier resume)",
                    project.destination.host
                ),
            );
        }
        if !has_cap(&dc, "LITERAL+") {
            push(
                "info",
                None,
                format!(
                    "destination {} lacks LITERAL+: every APPEND waits for a continuation (slower)",
                    project.destination.host
                ),
            );
        }
        if !has_cap(&dc, "QUOTA") {
            push(
                "info",
                None,
                format!(
                    "destination {} announces no QUOTA: free space cannot be checked",
                    project.destination.host
                ),
            );
        }
    }
    let rank = |s: &str| match s {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    };
    out.sort_by_key(|r| rank(r.severity));
    out
}

/// Run the discovery over the selected batches' mailboxes (all when none), classify,
/// list the risks, estimate durations, and journal it all.
pub async fn assess(
    project: &Project,
    store: &Journal,
    src_c: &AnyConnector,
    dst_c: &AnyConnector,
    batches: &[String],
) -> Result<Assessment, AssessError> {
    let specs: Vec<MailboxSpec> = project
        .mailboxes
        .iter()
        .filter(|m| batches.is_empty() || batches.contains(&m.batch))
        .cloned()
        .collect();
    if specs.is_empty() {
        return Err(AssessError::NoMailbox(batches.join(", ")));
    }
    let slots = Arc::new(Semaphore::new(project.parallel_mailboxes.max(1)));
    let mut tasks = Vec::new();
    for spec in specs {
        let (p, st, s, d, slots) = (
            project.clone(),
            store.clone(),
            src_c.clone(),
            dst_c.clone(),
            slots.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            assess_mailbox(&p, &st, &s, &d, &spec).await
        }));
    }
    let mut mailboxes = Vec::new();
    for t in tasks {
        match t.await {
            Ok(a) => mailboxes.push(a),
            Err(e) => tracing::error!("internal error assessing a mailbox: {e}"),
        }
    }
    let classification = classify(&ClassifyInput {
        mailboxes: mailboxes.len(),
        bytes: mailboxes.iter().map(MailboxAssessment::bytes).sum(),
        oversize: mailboxes.iter().map(|a| a.oversize.len()).sum(),
        special_folders: mailboxes.iter().flat_map(special_folders).collect(),
        requirements: project.requirements.clone(),
    });
    let risks = risks(project, &mailboxes);
    let throughput = store.measured_throughput()?;
    let mut estimates: Vec<BatchEstimate> = Vec::new();
    for a in &mailboxes {
        let i = match estimates.iter().position(|e| e.batch == a.batch) {
            Some(i) => i,
            None => {
                estimates.push(BatchEstimate {
                    batch: a.batch.clone(),
                    mailboxes: 0,
                    bytes_to_copy: 0,
                    secs: None,
                });
                estimates.len() - 1
            }
        };
        estimates[i].mailboxes += 1;
        estimates[i].bytes_to_copy += a.to_copy_bytes();
    }
    if let Some((b, s, _)) = throughput {
        let rate = b as f64 / s;
        for e in &mut estimates {
            e.secs = Some(e.bytes_to_copy as f64 / rate);
        }
    }
    let a = Assessment {
        batches: batches.to_vec(),
        mailboxes,
        classification,
        risks,
        estimates,
        throughput,
    };
    store.save_assessment(&rows(&a))?;
    Ok(a)
}

/// The journal rows of an assessment.
pub fn rows(a: &Assessment) -> AssessmentRows {
    let mut r = AssessmentRows {
        batches: if a.batches.is_empty() {
            "(all)".into()
        } else {
            a.batches.join(",")
        },
        complexity: a.classification.complexity.word().into(),
        factors: a
            .classification
            .factors
            .iter()
            .map(|(f, c)| format!("{f} [{}]", c.word()))
            .collect::<Vec<_>>()
            .join("; "),
        ..Default::default()
    };
    for m in &a.mailboxes {
        r.mailboxes.push(AssessedMailboxRow {
            mailbox: m.key.clone(),
            batch: m.batch.clone(),
            src_caps: m.src_caps.join(" "),
            dst_caps: m.dst_caps.join(" "),
            src_error: m.src_error.clone(),
            dst_error: m.dst_error.clone(),
            read_error: m.read_error.clone(),
            folders: m.folders.len() as u64,
            messages: m.messages(),
            bytes: m.bytes(),
            to_copy_bytes: m.to_copy_bytes(),
            largest: m.largest_size(),
            oversize: m.oversize.len() as u64,
            size_limit: m.size_limit,
            quota_used: m.quota.map(|q| q.0),
            quota_limit: m.quota.map(|q| q.1),
            probe: m.probe.as_ref().map(|p| match p {
                Ok(()) => "ok".to_string(),
                Err(e) => e.clone(),
            }),
        });
        for f in &m.folders {
            r.folders.push(AssessedFolderRow {
                mailbox: m.key.clone(),
                folder: f.folder.clone(),
                dst_folder: f.dst.clone(),
                special: f.special.map(|s| s.name().to_string()),
                messages: f.messages,
                bytes: f.bytes,
                largest: f.largest,
            });
        }
        for (kind, list) in [("largest", &m.largest), ("oversize", &m.oversize)] {
            for x in list {
                r.messages.push(AssessedMessageRow {
                    mailbox: m.key.clone(),
                    folder: x.folder.clone(),
                    uid: x.uid,
                    size: x.size,
                    kind: kind.into(),
                });
            }
        }
    }
    for k in &a.risks {
        r.risks.push(RiskRow {
            severity: k.severity.into(),
            mailbox: k.mailbox.clone(),
            message: k.message.clone(),
        });
    }
    r
}

/// The CSV columns of `cutover assess --csv`, one row per mailbox.
pub const CSV_HEADER: &[&str] = &[
    "batch",
    "mailbox",
    "login",
    "read_error",
    "folders",
    "messages",
    "bytes",
    "to_copy_bytes",
    "largest_bytes",
    "oversize_messages",
    "size_limit_bytes",
    "quota_used_bytes",
    "quota_limit_bytes",
    "quota_free_bytes",
    "source_capabilities",
    "destination_capabilities",
    "risks",
];

/// Written by the one CSV writer ([`crate::csv_out`]): formulas neutralised, controls escaped.
pub fn write_csv(path: &std::path::Path, a: &Assessment) -> Result<(), AssessError> {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows = a.mailboxes.iter().map(|m| {
        let login = match (&m.src_error, &m.dst_error) {
            (None, None) => "ok".to_string(),
            (s, d) => [s.as_deref(), d.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
        };
        let risks = a
            .risks
            .iter()
            .filter(|r| r.mailbox.as_deref() == Some(m.key.as_str()))
            .map(|r| format!("{}: {}", r.severity, r.message))
            .collect::<Vec<_>>()
            .join(" | ");
        [
            m.batch.clone(),
            m.key.clone(),
            login,
            m.read_error.clone().unwrap_or_default(),
            m.folders.len().to_string(),
            m.messages().to_string(),
            m.bytes().to_string(),
            m.to_copy_bytes().to_string(),
            m.largest_size().to_string(),
            m.oversize.len().to_string(),
            opt(m.size_limit),
            opt(m.quota.map(|q| q.0)),
            opt(m.quota.map(|q| q.1)),
            opt(m.quota.map(|q| q.1.saturating_sub(q.0))),
            m.src_caps.join(" "),
            m.dst_caps.join(" "),
            risks,
        ]
    });
    crate::csv_out::to_file(path, CSV_HEADER, rows).map_err(|e| AssessError::Csv {
        path: e.path,
        message: e.message,
    })
}

/// "about 3 min (estimate, at 12.5 MB/s measured over 2 runs)" or "no measurement yet".
pub fn estimate_text(e: &BatchEstimate, throughput: Option<(u64, f64, u32)>) -> String {
    if e.bytes_to_copy == 0 {
        return "nothing left to copy".into();
    }
    match (e.secs, throughput) {
        (Some(s), Some((b, secs, n))) => format!(
            "estimate: about {} at {}/s measured over {n} earlier run(s)",
            duration_words(s),
            human((b as f64 / secs) as u64)
        ),
        _ => "estimate: no measurement yet (run a pilot batch first)".into(),
    }
}

fn duration_words(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{} h {} min", s / 3600, (s % 3600).div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn to_copy_leaves_out_oversize_and_copied() {
        let a = MailboxAssessment {
            folders: vec![FolderAssessment {
                folder: "INBOX".into(),
                dst: Some("INBOX".into()),
                bytes: 1000,
                ..Default::default()
            }],
            oversize: vec![MessageRef {
                folder: "INBOX".into(),
                uid: 1,
                size: 300,
            }],
            copied_bytes: 200,
            ..Default::default()
        };
        assert_eq!(a.to_copy_bytes(), 500);
    }
}
