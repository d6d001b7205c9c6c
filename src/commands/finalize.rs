//! `cutover finalize`: the cutover of one batch as a guided step. (a) the domain's DNS asked of
//! its authoritative servers and printed record by record with TTLs (refused while MX does
//! not point at the destination, unless `--force-dns "REASON"`, journalled); the checklist
//! gate; one typed confirmation (the batch's name) unless `--yes`; (b) the moment of the
//! switch marked per mailbox; (c) one final delta pass; (d) `verify` of the batch.

use tokio::sync::mpsc;

use cutover_engine::api::Severity;
use cutover_engine::config::Project;
use cutover_engine::dns::DnsReport;
use cutover_engine::engine::Engine;
use cutover_engine::safe_text::terminal;

use super::confirm::confirm_typed;
use super::events::print_events;
use super::failback::AbortOnDrop;
use super::interrupt::on_interrupt;
use super::journal::{begin_run, end_run, journal_checked, journal_failed};
use super::run::gate;
use super::setup::{control_socket, engine, operator};
use super::sync::run_pass;
use super::verify::verify_with;
use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// Print the DNS report: one line per record.
fn print_report(r: &DnsReport) {
    let asked = if r.servers.is_empty() {
        "the resolver".to_string()
    } else {
        r.servers
            .iter()
            .map(|(n, a)| format!("{n} ({a})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "DNS of {}, asked of {asked} at {}",
        r.domain,
        r.at.format("%Y-%m-%dT%H:%M:%SZ")
    );
    if let Some(n) = &r.note {
        println!("  note: {n}");
    }
    println!(
        "  {:<36} {:<6} {:<44} {:<44} {:>7}  {:<8}  a change made now is everywhere by",
        "name", "type", "found", "expected", "TTL", "result"
    );
    for rec in &r.records {
        let found = match (&rec.error, rec.found.is_empty()) {
            (Some(e), _) => format!("lookup failed: {e}"),
            (None, true) => "none".into(),
            (None, false) => rec.found.join(", "),
        };
        println!(
            "  {:<36} {:<6} {:<44} {:<44} {:>7}  {:<8}  {}",
            terminal(&rec.name),
            rec.rtype,
            terminal(&found),
            terminal(&rec.expected),
            rec.ttl
                .map(|t| format!("{t} s"))
                .unwrap_or_else(|| "-".into()),
            if rec.matches { "match" } else { "MISMATCH" },
            match rec.ttl {
                Some(_) => rec
                    .propagated_by(r.at)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
                None => "-".to_string(),
            }
        );
    }
}

/// (a): the DNS report, journalled; Err while MX is wrong and not forced.
async fn dns_step(engine: &Engine, batch: &str, force: Option<&str>) -> Result<()> {
    let force = force.map(str::trim).filter(|r| !r.is_empty());
    let (report, why) = cutover_engine::finalize::dns_gate(&engine.project).await;
    if let Some(report) = &report {
        print_report(report);
        cutover_engine::checklist::record_dns(&engine.store, report)?;
        let line = cutover_engine::finalize::dns_line(batch, report);
        engine
            .sink()
            .issue(Severity::Info, "operator", None, None, None, &line);
    }
    let Some(why) = why else {
        return Ok(());
    };
    match force {
        None => Err(Error::DnsNotReady(why)),
        Some(reason) => {
            let msg = format!(
                "finalize of batch {batch} forced by {} despite the DNS: {reason} ({why})",
                operator()
            );
            engine
                .sink()
                .issue(Severity::Warning, "operator", None, None, None, &msg);
            eprintln!("cutover: {msg}");
            Ok(())
        }
    }
}

/// Mark the switch of every mailbox of the batch (first mark kept); the mailboxes the journal
/// does not know yet are marked after the final pass. The first moment, or the exit code
/// (9 journal, 5 a destination that cannot be read).
async fn mark(
    engine: &Engine,
    batches: &[String],
    quiet: bool,
) -> Result<Option<String>, ExitCode> {
    let specs = engine.selected(batches);
    match cutover_engine::finalize::mark_switches(&engine.store, &engine.dst, &specs).await {
        Ok(marks) => {
            if !quiet {
                for s in &marks {
                    println!(
                        "switch of {} marked at {} ({} destination folder(s))",
                        terminal(&s.key),
                        s.at,
                        s.folders
                    );
                }
            }
            Ok(marks.into_iter().next().map(|s| s.at))
        }
        Err((key, e)) if e.is_journal() => Err(journal_failed(
            ExitCode::Partial,
            &format!("cannot record the switch of {key}: {e}"),
        )),
        Err((key, e)) => {
            eprintln!(
                "cutover: cannot mark the switch of {}: {e}; nothing copied, run finalize again",
                terminal(&key)
            );
            Err(ExitCode::Connection)
        }
    }
}

pub async fn finalize(
    project: Project,
    batch: String,
    yes: bool,
    force_dns: Option<String>,
    override_reason: Option<String>,
) -> Result<ExitCode> {
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = engine(project, Some(tx))?;
    engine.set_delta(true);
    let batches = vec![batch.clone()];
    let selected = engine.selected(&batches);
    if selected.is_empty() {
        return Err(Error::NotInProject(format!("no mailbox in batch {batch}")));
    }
    // The project is this command's from here on: no other cutover may run it meanwhile.
    let control = AbortOnDrop(control_socket(&engine).await?);
    let stop = engine.stop_flag();
    let on_signal = stop.clone();
    on_interrupt(move |sig| {
        eprintln!(
            "cutover: {sig}: stopping all writes (the journal stays consistent; run finalize again to resume)"
        );
        on_signal.stop();
    });
    println!(
        "cutover: {} — finalize batch {batch}: {} mailbox(es); journal {}",
        engine.project.name,
        selected.len(),
        engine.project.journal_name()
    );
    dns_step(&engine, &batch, force_dns.as_deref()).await?;
    gate(&engine, &batches, override_reason.as_deref())?;
    if !yes {
        confirm_typed(
            &batch,
            "finalize marks the switch of the batch to the destination",
            "to run the final pass, verify and record the switch",
            &stop,
        )
        .await?;
    }
    tracing::info!(batch = %batch, by = %operator(), "finalize confirmed");
    let run_id = begin_run(&engine.store, "finalize")?;
    // The switch first: whatever reaches the destination from now on and is not cutover's
    // own is after the switch (fail-back copies it back).
    let printer = tokio::spawn(print_events(rx));
    let at = match mark(&engine, &batches, false).await {
        Ok(at) => at,
        Err(code) => {
            let store = engine.store.clone();
            drop(control);
            drop(engine);
            let _ = printer.await;
            return Ok(end_run(&store, run_id, code));
        }
    };
    let before = engine.stats.pass_counts();
    let mut code = ExitCode::Success;
    let pass_id = match engine.store.begin_sync_pass(&batch) {
        Ok(id) => Some(id),
        Err(e) => {
            code = journal_checked(Some(format!("cannot record the final pass: {e}")), code);
            None
        }
    };
    if let Some(pass_id) = pass_id {
        code = run_pass(
            &engine,
            &batches,
            (pass_id, before),
            "final pass",
            false,
            "the final pass",
        )
        .await;
    }
    if code == ExitCode::Success && !stop.is_stopped() {
        // Mailboxes copied for the first time by this pass get their mark now.
        let at = match mark(&engine, &batches, true).await {
            Ok(a) => at.or(a),
            Err(c) => {
                code = c;
                at
            }
        };
        if code == ExitCode::Success {
            code = verify_with(&engine, &batches, &Default::default()).await;
        }
        if code == ExitCode::Success {
            let msg = format!(
                "finalize of batch {batch}: switched at {}; final pass complete and verified",
                at.as_deref().unwrap_or("?")
            );
            println!("{msg}");
            engine
                .sink()
                .issue(Severity::Info, "operator", None, None, None, &msg);
        }
    } else if stop.is_stopped() && code == ExitCode::Success {
        code = ExitCode::Stopped;
    }
    let store = engine.store.clone();
    drop(control);
    let journal_fault = engine.sink().journal_fault();
    drop(engine);
    let _ = printer.await;
    let code = journal_checked(journal_fault, code);
    Ok(end_run(&store, run_id, code))
}
