//! `cutover assess`: discovery before migrating, then the checklist's auto checks.

use std::path::PathBuf;

use cutover_engine::api::{ItemKind, MailboxType};
use cutover_engine::config::Project;

use super::journal::{begin_run, end_run};
use super::setup::engine;
use crate::error::{Error, Result};
use crate::exit::ExitCode;

pub async fn assess(
    project: Project,
    batches: Vec<String>,
    csv: Option<PathBuf>,
) -> Result<ExitCode> {
    // A closed pipe (`cutover assess P | head`) ends the report quietly, never a panic.
    macro_rules! out {
        ($($t:tt)*) => { println!($($t)*) };
    }
    use cutover_engine::assess::estimate_text;
    use cutover_engine::mail::fmt;
    let engine = engine(project, None)?;
    let run_id = begin_run(&engine.store, "assess")?;
    let a = match cutover_engine::assess::assess(
        &engine.project,
        &engine.store,
        &engine.src,
        &engine.dst,
        &batches,
    )
    .await
    {
        Ok(a) => a,
        Err(cutover_engine::assess::AssessError::NoMailbox(b)) => {
            return Err(Error::NotInProject(format!("no mailbox in batch(es) {b}")));
        }
        Err(e) => return Err(e.into()),
    };
    out!(
        "{:<32} {:<10} {:>7} {:>8} {:>10} {:>10} {:>8} {:>22}  login",
        "mailbox",
        "batch",
        "folders",
        "messages",
        "size",
        "largest",
        "oversize",
        "destination quota"
    );
    for m in &a.mailboxes {
        let quota = match m.quota {
            Some((u, l)) => format!("{} / {}", fmt::bytes(u), fmt::bytes(l)),
            None if m.logged_in() => "none reported".into(),
            None => "-".into(),
        };
        let login = match (&m.src_error, &m.dst_error) {
            (None, None) => "ok".to_string(),
            (s, d) => format!(
                "FAILED: {}",
                [s.as_deref(), d.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let name = match m.mailbox_type {
            MailboxType::User => m.key.clone(),
            t => format!("{} [{t}]", m.key),
        };
        out!(
            "{:<32} {:<10} {:>7} {:>8} {:>10} {:>10} {:>8} {:>22}  {login}",
            name,
            m.batch,
            m.folders.len(),
            m.messages(),
            fmt::bytes(m.bytes()),
            fmt::bytes(m.largest_size()),
            m.oversize.len(),
            quota
        );
    }
    if a.mailboxes
        .iter()
        .any(|m| m.mailbox_type != MailboxType::User)
    {
        out!(
            "{} mailbox(es): {}",
            a.mailboxes.len(),
            MailboxType::summary(a.mailboxes.iter().map(|m| m.mailbox_type))
        );
    }
    for m in a.mailboxes.iter().filter(|m| m.logged_in()) {
        out!();
        if let Some(e) = &m.read_error {
            out!("[{}] INCOMPLETE: {e}", m.key);
        }
        out!(
            "[{}] source: {}",
            m.key,
            if m.src_caps.is_empty() {
                "-".into()
            } else {
                m.src_caps.join(" ")
            }
        );
        out!(
            "[{}] destination: {}; size limit {}",
            m.key,
            m.dst_caps.join(" "),
            m.size_limit.map_or("none".into(), fmt::bytes)
        );
        // Calendars and address books: what there is of each kind, and their size limit.
        if m.mixed() {
            let kinds: Vec<String> = m
                .by_kind()
                .iter()
                .map(|(k, n, b)| format!("{n} {} ({})", k.plural(), fmt::bytes(*b)))
                .collect();
            out!(
                "[{}] to copy: {}; size limit for events and contacts {}",
                m.key,
                kinds.join(", "),
                m.item_limit.map_or("none".into(), fmt::bytes)
            );
        }
        for f in &m.folders {
            let unit = match f.kind {
                ItemKind::Mail => "msgs",
                k => k.plural(),
            };
            match &f.dst {
                Some(d) => out!(
                    "  {:<32} -> {:<32} {:>7} {unit} {:>10}  largest {:>10}",
                    f.folder,
                    d,
                    f.messages,
                    fmt::bytes(f.bytes),
                    fmt::bytes(f.largest)
                ),
                None => out!(
                    "  {:<32}    not copied: {} ({} {unit}, {})",
                    f.folder,
                    f.why,
                    f.messages,
                    fmt::bytes(f.bytes)
                ),
            }
        }
        for (i, x) in m.largest.iter().enumerate() {
            out!(
                "  largest #{}: {} in {} (UID {})",
                i + 1,
                fmt::bytes(x.size),
                x.folder,
                x.uid
            );
        }
    }
    out!();
    out!(
        "complexity: {}",
        a.classification.complexity.word().to_uppercase()
    );
    for (f, c) in &a.classification.factors {
        out!("  {:<7} {f}", c.word());
    }
    out!();
    if a.risks.is_empty() {
        out!("risks: none found");
    } else {
        out!("risks:");
        for r in &a.risks {
            out!("  {:<8} {}", r.severity.to_uppercase(), r.message);
        }
    }
    out!();
    for e in &a.estimates {
        out!(
            "batch {}: {} mailbox(es), {} to copy; {}",
            e.batch,
            e.mailboxes,
            fmt::bytes(e.bytes_to_copy),
            estimate_text(e, a.throughput)
        );
    }
    recipients_section(&engine.project, &engine.store).await;
    cutover_engine::checklist::run_auto_checks(&engine.project, &engine.store, Some(&a), None)
        .await?;
    out!();
    match cutover_engine::checklist::evaluate(&engine.project, &engine.store, &batches) {
        Ok(items) if items.is_empty() => out!(
            "checklist: none defined (no gate). Add [checklist] defaults = true or [[check]] items."
        ),
        Ok(items) => {
            out!("checklist:");
            for i in &items {
                out!(
                    "  {:<20} {:<10} {:<8} {:<6} {}",
                    i.id,
                    i.status.word(),
                    if i.required { "required" } else { "optional" },
                    i.kind.word(),
                    i.reason
                );
            }
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(path) = csv {
        cutover_engine::assess::write_csv(&path, &a)?;
        let _ = cutover_engine::local::make_private(&path);
        out!("CSV written to {}", path.display())
    }
    let failed: Vec<_> = a.mailboxes.iter().filter(|m| !m.complete()).collect();
    let code = if failed.is_empty() {
        ExitCode::Success
    } else if failed.len() == a.mailboxes.len()
        && failed.iter().all(|m| {
            [&m.src_error, &m.dst_error]
                .iter()
                .any(|e| e.as_ref().is_some_and(|e| e.contains("refused")))
        })
    {
        ExitCode::Auth
    } else {
        ExitCode::Partial
    };
    Ok(end_run(&engine.store, run_id, code))
}

/// The recipients: the CSV's, the source directory's (Graph, or Google with `[recipients]
/// google_admin`) and the project's shared mailboxes, journalled and listed. A directory that
/// cannot be read is said, and the rest listed as before.
async fn recipients_section(
    project: &cutover_engine::config::Project,
    store: &cutover_engine::journal::Journal,
) {
    use cutover_engine::recipients::{can_discover, gather, gather_listed};
    let g = match gather(project, store, true).await {
        Ok(g) => g,
        Err(e) => {
            if can_discover(project) {
                eprintln!(
                    "cutover: warning: the source's directory could not be read: {}",
                    cutover_engine::safe_text::terminal_owned(e.to_string())
                );
            }
            gather_listed(project)
        }
    };
    if g.list.is_empty() && g.discovered.is_none() {
        return;
    }
    println!();
    let counts: Vec<String> = cutover_engine::api::RecipientKind::ALL
        .iter()
        .filter_map(|k| {
            let n = g.list.iter().filter(|r| r.kind == *k).count();
            (n > 0).then(|| format!("{n} {k}"))
        })
        .collect();
    println!(
        "recipients ({}: {}; `cutover recipients PROJECT` for the plan):",
        g.sources.join(", "),
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        }
    );
    let mut text = String::new();
    cutover_engine::recipients::list(&mut text, &g.list);
    if let Some(d) = &g.discovered {
        text.push_str(&format!(
            "  {} user mailbox(es) in the {} directory\n",
            d.users, d.source
        ));
        for (user, aliases) in &d.user_aliases {
            text.push_str(&format!("  user {user} aliases: {}\n", aliases.join(", ")));
        }
        for n in &d.notes {
            text.push_str(&format!("  note: {n}\n"));
        }
    }
    print!("{}", cutover_engine::safe_text::terminal_owned(text));
}
