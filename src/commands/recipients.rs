//! `cutover recipients`: the shared/resource mailboxes, lists and groups (the `[recipients]`
//! CSV, the source's directory, the project's shared mailboxes), journalled; then
//!
//! - without options: the plan, and what the destination's directory API can create
//!   (Graph: Microsoft 365 groups, their members, calendar permissions; Google: groups and
//!   members) created, idempotently and journalled;
//! - `--script FILE`: the Exchange Online PowerShell 7 script for the rest;
//! - `--check`: the destination read back (exit 6 when something is missing or differs).

use std::path::Path;

use cutover_engine::config::{EndpointKind, Preset, Project};
use cutover_engine::endpoint::EndpointError;
use cutover_engine::journal::Journal;
use cutover_engine::recipients::{
    Found, RecipientsError, Target, check, create, gather, outcome_text, plan_text, script, steps,
};
use cutover_engine::safe_text::terminal_owned;

use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// What to do besides journalling and listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    Create,
    Script(&'a Path),
    Check,
}

/// A directory error as this command's exit: the journal's 9, a refused sign-in's 4, else 5.
fn failed(e: RecipientsError) -> Result<ExitCode> {
    match e {
        RecipientsError::Journal(j) => Err(Error::Journal(j)),
        RecipientsError::Endpoint(e @ EndpointError::Auth { .. }) => Err(Error::SignIn(e)),
        e => {
            eprintln!("cutover: error: {}", terminal_owned(e.to_string()));
            Ok(ExitCode::Connection)
        }
    }
}

pub async fn recipients(project: &Project, mode: Mode<'_>) -> Result<ExitCode> {
    let store = Journal::open_project(project)?;
    let g = match gather(project, &store, true).await {
        Ok(g) => g,
        Err(e) => return failed(e),
    };
    if g.list.is_empty() && project.recipients.file.is_none() && g.discovered.is_none() {
        return Err(Error::NotInProject(
            "the project lists no recipients: add [recipients] csv = \"FILE\", a Graph source or a Google source with [recipients] google_admin, or a [[mailbox]] with type = \"shared\" (see docs/procedures/shared-mailboxes.md)"
                .into(),
        ));
    }
    let name = if g.sources.is_empty() {
        "the project".to_string()
    } else {
        g.sources.join(", ")
    };
    let list = &g.list;
    let target = match Target::of(project, &store) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    match mode {
        Mode::Create => {
            print!("{}", terminal_owned(plan_text(&name, list)));
            if let Some(d) = &g.discovered {
                for (user, aliases) in &d.user_aliases {
                    println!(
                        "  user {user} also receives at {} (set on the destination's user; not created by cutover)",
                        aliases.join(", ")
                    );
                }
                for n in &d.notes {
                    println!("  note: {}", terminal_owned(n.clone()));
                }
            }
            let Some(t) = &target else {
                println!(
                    "\nthe destination's directory cannot be written by cutover (only Microsoft Graph, or Google with [recipients] google_admin): write the Exchange Online script with --script FILE, run it, then `cutover checklist {} --tick recipients`",
                    project.file.display()
                );
                return Ok(ExitCode::Success);
            };
            let outcomes = match create(t, &store, list).await {
                Ok(o) => o,
                Err(e) => return failed(e),
            };
            print!("{}", outcome_text(t.api(), &outcomes));
            println!(
                "then: `cutover recipients {0} --script FILE` for the steps marked script (run it in PowerShell 7 after Connect-ExchangeOnline), and `cutover recipients {0} --check`",
                project.file.display()
            );
            Ok(ExitCode::Success)
        }
        Mode::Script(path) => {
            let d = &project.destination;
            let microsoft = d.kind == EndpointKind::Graph
                || matches!(d.preset, Preset::M365 | Preset::Exchange);
            if !microsoft {
                eprintln!(
                    "cutover: note: the destination is not Microsoft 365 / Exchange; the script is for Exchange Online (on Google, `cutover recipients PROJECT` creates groups through the Directory API)"
                );
            }
            let text = script(&project.name, &name, list);
            std::fs::write(path, text.as_bytes())
                .and_then(|()| cutover_engine::local::make_private(path))
                .map_err(|e| {
                    Error::Internal(format!("cannot write the script {}: {e}", path.display()))
                })?;
            println!(
                "script written to {}: {} recipient(s), {} step(s); run it with pwsh after Connect-ExchangeOnline, then `cutover recipients {f} --check` (or `cutover checklist {f} --tick recipients`)",
                path.display(),
                list.len(),
                steps(list).len(),
                f = project.file.display()
            );
            Ok(ExitCode::Success)
        }
        Mode::Check => {
            let Some(t) = &target else {
                return Err(Error::NotInProject(
                    "--check reads the destination's directory: only Microsoft Graph, or Google with [recipients] google_admin; tick the checklist item `recipients` by hand instead"
                        .into(),
                ));
            };
            let checked = match check(t, &store, list).await {
                Ok(c) => c,
                Err(e) => return failed(e),
            };
            let mut bad = 0;
            println!("recipients on the destination ({}):", t.api());
            for c in &checked {
                let what = match &c.found {
                    Found::Present => "present".to_string(),
                    Found::Missing => "MISSING".to_string(),
                    Found::Differs(d) => format!("DIFFERS: {d}"),
                };
                if c.found != Found::Present {
                    bad += 1;
                }
                println!("  {:<12} {} {}", c.kind, c.address, terminal_owned(what));
                if !c.unverified.is_empty() {
                    println!(
                        "    not verifiable through {}: {}",
                        t.api(),
                        c.unverified.join(", ")
                    );
                }
            }
            println!(
                "{} of {} present as listed; FullAccess, SendAs and SendOnBehalf cannot be read through Graph: check them in Exchange Online (Get-MailboxPermission, Get-RecipientPermission)",
                checked.len() - bad,
                checked.len()
            );
            Ok(if bad == 0 {
                ExitCode::Success
            } else {
                ExitCode::Partial
            })
        }
    }
}

/// `cutover rollback PROJECT --recipients`: remove what `cutover recipients` created on the
/// destination's directory, newest first; what was there before stays.
pub async fn rollback_recipients(project: Project, dry_run: bool, yes: bool) -> Result<ExitCode> {
    let engine = super::setup::engine(project, None)?;
    let store = &engine.store;
    let ours: Vec<_> = store
        .recipient_changes()?
        .into_iter()
        .filter(|c| matches!(c.state.as_str(), "created" | "pending"))
        .collect();
    for c in &ours {
        println!(
            "{:<8} {} {}{}",
            c.api,
            c.what,
            c.address,
            if c.target.is_empty() {
                String::new()
            } else {
                format!(" {}", c.target)
            }
        );
    }
    println!(
        "rollback of recipients: {} change(s) made by cutover would be removed from the destination's directory; what existed before is left alone",
        ours.len()
    );
    if dry_run || ours.is_empty() {
        return Ok(ExitCode::Success);
    }
    if !yes {
        super::confirm::confirm_typed(
            "recipients",
            "rollback needs a confirmation",
            "to remove these groups, members and permissions from the destination",
            &engine.stop_flag(),
        )
        .await?;
    }
    let target = match Target::of(&engine.project, store) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(Error::NotInProject(
                "the destination's directory cannot be written by cutover".into(),
            ));
        }
        Err(e) => return failed(e),
    };
    match cutover_engine::recipients::undo(&target, store).await {
        Ok(done) => {
            for o in &done {
                println!("  {} ({})", o.step, o.detail);
            }
            println!("{} change(s) rolled back", done.len());
            Ok(ExitCode::Success)
        }
        Err(e) => failed(e),
    }
}
