//! `cutover checklist PROJECT`: the pre-migration checklist as the gate sees it, from any
//! shell; `--tick ID` / `--untick ID` record a manual item (who, when, a note) as the
//! console's `space` does, for operators and scripts without the console.

use cutover_engine::checklist::{ItemStatus, blockers, evaluate};
use cutover_engine::config::{CheckKind, Project};

use super::setup::{open_store, operator};
use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// What to record before listing.
pub enum Mark {
    Tick { id: String, note: Option<String> },
    Untick(String),
}

/// List every item (for starting `batches`, all when none); exit 11 when a required one is
/// unmet, as `cutover run` would refuse to start.
pub fn checklist(project: &Project, batches: &[String], mark: Option<Mark>) -> Result<ExitCode> {
    if project.checks.is_empty() {
        println!(
            "checklist none: nothing gates a start (add [checklist] defaults = true or [[check]] items)"
        );
        return Ok(ExitCode::Success);
    }
    for b in batches {
        if !project.mailboxes.iter().any(|m| &m.batch == b) {
            return Err(Error::NotInProject(format!(
                "no batch {b:?} in the project"
            )));
        }
    }
    let store = open_store(project)?;
    if let Some(mark) = mark {
        let (id, done, note) = match mark {
            Mark::Tick { id, note } => (id, true, note),
            Mark::Untick(id) => (id, false, None),
        };
        let manual: Vec<&str> = project
            .checks
            .iter()
            .filter(|c| c.kind == CheckKind::Manual)
            .map(|c| c.id.as_str())
            .collect();
        let Some(item) = project.checks.iter().find(|c| c.id == id) else {
            return Err(Error::Usage(format!(
                "no checklist item {id:?} in this project; manual items: {}",
                manual.join(", ")
            )));
        };
        if item.kind != CheckKind::Manual
            && !cutover_engine::config::TICKABLE_AUTO_CHECKS.contains(&item.id.as_str())
        {
            return Err(Error::Usage(format!(
                "{id} is verified by the engine, not ticked: run `cutover assess` for it, or start with --override \"REASON\"; manual items: {}",
                manual.join(", ")
            )));
        }
        let who = operator();
        store.set_check(&id, done, &who, note.as_deref())?;
        tracing::info!(item = %id, done, by = %who, note = ?note, "checklist item set from the command line");
        println!(
            "{} {id} ({}) by {who}{}",
            if done { "ticked" } else { "unticked" },
            item.title,
            note.map(|n| format!(": {n}")).unwrap_or_default()
        );
    }
    let items = evaluate(project, &store, batches)?;
    print_items(&items);
    let unmet = blockers(project, &store, batches)?;
    if unmet.is_empty() {
        println!("gate    open: every required item is met");
        Ok(ExitCode::Success)
    } else {
        println!(
            "gate    closed: {} required item(s) unmet ({}); `cutover run` would refuse to start",
            unmet.len(),
            unmet
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(ExitCode::ChecklistUnmet)
    }
}

fn print_items(items: &[ItemStatus]) {
    let mut section = "";
    for i in items {
        if i.section != section {
            section = &i.section;
            println!("{section}");
        }
        let who = match (&i.by, &i.at) {
            (Some(b), Some(a)) => format!(" [{b}, {a}]"),
            (None, Some(a)) => format!(" [{a}]"),
            _ => String::new(),
        };
        println!(
            "  {:<20} {:<8} {:<8} {:<6} {}: {}{}{}",
            i.id,
            if i.required { "required" } else { "optional" },
            i.status.word(),
            match i.kind {
                CheckKind::Manual => "manual",
                CheckKind::Auto => "auto",
            },
            i.title,
            i.reason,
            who,
            i.note
                .as_deref()
                .map(|n| format!(" note: {n}"))
                .unwrap_or_default()
        );
    }
}
