//! The command line (clap): the commands, their arguments and options.

use std::path::PathBuf;

use std::time::Duration;

use chrono::{DateTime, Local, NaiveTime, TimeZone};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cutover",
    version = cutover::VERSION,
    about = "Mailbox migrations an operator can trust on cutover night",
    args_conflicts_with_subcommands = true,
    after_help = "`cutover PROJECT` opens the console (same as `cutover tui PROJECT`)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// The project file: opens the console.
    pub project: Option<PathBuf>,
    /// Console theme: a built-in name (default, light, high-contrast, mono) or a theme file.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Write logs as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// The operator's console over the live engine.
    Tui {
        project: PathBuf,
        /// Start every batch right away (otherwise start them from the Batches tab).
        #[arg(long)]
        start: bool,
    },
    /// A read-only console for a second operator: reads the journal, changes nothing.
    Watch { project: PathBuf },
    /// Migrate the selected batches headless, with progress per mailbox and folder.
    Run {
        project: PathBuf,
        /// Only these batches (repeatable); all when absent.
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Start even though required checklist items are unmet; the reason is journalled
        /// as an operator issue.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Delta passes while users still work on the source: new mail copied, flag and keyword
    /// changes carried, moves between folders mirrored, deletions reported (or removed with
    /// `[sync] deletions = "propagate"`). One pass, or one every DURATION.
    Sync {
        project: PathBuf,
        /// Only these batches (repeatable); all when absent.
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Run a pass every DURATION (`30s`, `15m`, `2h`, `1h30m`) until stopped or --until.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        every: Option<std::time::Duration>,
        /// Start no pass after TIME: RFC 3339 (`2026-12-06T18:00:00+01:00`) or local `HH:MM`
        /// (today, or tomorrow when already past).
        #[arg(long, value_name = "TIME", value_parser = parse_until)]
        until: Option<chrono::DateTime<chrono::Local>>,
        /// Start even though required checklist items are unmet; the reason is journalled
        /// as an operator issue.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// The cutover of one batch: the domain's DNS checked against what the destination needs
    /// (asked of its authoritative servers, with TTLs), the switch marked per mailbox, one
    /// final delta pass, then verify.
    Finalize {
        project: PathBuf,
        /// The batch to switch.
        #[arg(long)]
        batch: String,
        /// Do not ask (for scripts): the confirmation is taken as given.
        #[arg(long)]
        yes: bool,
        /// Go on although MX does not point at the destination; the reason is journalled as
        /// an operator issue.
        #[arg(long = "force-dns", value_name = "REASON")]
        force_dns: Option<String>,
        /// Go on although required checklist items are unmet; the reason is journalled.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Discovery before migrating: capabilities, folders, sizes, largest and oversize
    /// messages, quota, complexity, risks, estimates; then the checklist's auto checks.
    Assess {
        project: PathBuf,
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Also write the report as CSV (one row per mailbox).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// Compare source and destination folder by folder: every item present exactly once, and
    /// what it says read back from the destination (Graph: `$value`, compared normalised).
    Verify {
        project: PathBuf,
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Verify a random but reproducible share of the mailboxes (such as 10%); the whole
        /// selection by default. The seed is printed and journalled.
        #[arg(long, value_name = "N%", value_parser = parse_sample)]
        sample: Option<f64>,
        /// The seed of `--sample` (to draw the same sample again); random when not given.
        #[arg(long, requires = "sample")]
        seed: Option<u64>,
        /// On Graph destinations, check the fingerprint cutover stamped on each message
        /// (presence) without exporting and comparing its content: cheaper, and no proof.
        #[arg(long)]
        fingerprint_only: bool,
    },
    /// Print the folder map per mailbox with messages and bytes to copy; copies nothing.
    Plan {
        project: PathBuf,
        #[arg(long = "batch")]
        batches: Vec<String>,
    },
    /// Shared/resource mailboxes, lists and groups of `[recipients] csv`: print what the
    /// destination needs, or write the Exchange Online PowerShell script that creates it.
    Recipients {
        project: PathBuf,
        /// Write the idempotent Exchange Online PowerShell 7 script to this file.
        #[arg(long, value_name = "FILE", conflicts_with = "check")]
        script: Option<PathBuf>,
        /// Read the destination back (Graph, or Google with [recipients] google_admin): exit 6
        /// when a recipient is missing or differs.
        #[arg(long)]
        check: bool,
    },
    /// Can each destination mailbox receive what will be copied? Per mailbox: the account
    /// exists and has a mailbox, the migration signs in to it, its quota has room. Writes
    /// nothing unless --probe; journalled for the checklist's `access` item.
    Access {
        project: PathBuf,
        /// Check the mailboxes of these batches (repeatable); all when absent.
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Also place a test message in each destination INBOX, read it back and remove it
        /// (IMAP destinations).
        #[arg(long)]
        probe: bool,
    },
    /// Check a project file and print what it defines; connects to nothing.
    Check { project: PathBuf },
    /// The pre-migration checklist as the start gate sees it (exit 11 while a required item
    /// is unmet); --tick/--untick record a manual item with who, when and a note.
    Checklist {
        project: PathBuf,
        /// Evaluate for starting these batches (repeatable); all when absent.
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Tick this manual item (as the console's space key does).
        #[arg(long, value_name = "ID", conflicts_with = "untick")]
        tick: Option<String>,
        /// With --tick: the note recorded with it (what was done, where the evidence is).
        #[arg(long, requires = "tick")]
        note: Option<String>,
        /// Untick this manual item.
        #[arg(long, value_name = "ID")]
        untick: Option<String>,
    },
    /// Remove from the destination exactly what cutover wrote for a batch or a mailbox (and
    /// the folders it created, once empty). Asks for the batch or mailbox name to be typed.
    Rollback {
        project: PathBuf,
        /// Roll back every mailbox of this batch.
        #[arg(
            long,
            conflicts_with_all = ["mailbox", "recipients"],
            required_unless_present_any = ["mailbox", "recipients"]
        )]
        batch: Option<String>,
        /// Roll back one mailbox (its source or destination user, or its key).
        #[arg(long, conflicts_with = "recipients")]
        mailbox: Option<String>,
        /// Remove the groups, members and calendar permissions `cutover recipients` created
        /// on the destination through its directory API (and only those).
        #[arg(long)]
        recipients: bool,
        /// List what would be removed, per mailbox and folder; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask (for scripts): the confirmation is taken as given.
        #[arg(long)]
        yes: bool,
    },
    /// Copy back to the source the mail that arrived on the destination after the migration
    /// (abandoning a cutover loses nothing). Byte-exact, journalled, idempotent.
    Failback {
        project: PathBuf,
        /// The mailbox (its source or destination user, or its key).
        #[arg(long)]
        mailbox: String,
        /// List what would be copied back, per folder; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Back up every selected mailbox of a side into a Maildir tree per mailbox (incremental,
    /// resumable, journalled); with --verify, check the backup against its manifest and the
    /// live side instead.
    Backup {
        project: PathBuf,
        /// Only these batches (repeatable); all when absent.
        #[arg(long = "batch")]
        batches: Vec<String>,
        /// Which side to back up (default: source).
        #[arg(long, value_enum, default_value = "source")]
        side: Side,
        /// The backup directory (default: backups/<side>/ next to the journal).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Re-read the backup: every file against the manifest, the manifest against the
        /// live side; copies nothing.
        #[arg(long)]
        verify: bool,
    },
    /// Put back into a side what a backup holds and the side lacks (by content; nothing
    /// already there is touched or duplicated). Restoring into the source asks first.
    Restore {
        project: PathBuf,
        /// The mailbox (its source or destination user, or its key).
        #[arg(long)]
        mailbox: String,
        /// Only these folders, as displayed ("Archive/2024"); repeatable.
        #[arg(long = "folder", value_name = "NAME")]
        folders: Vec<String>,
        /// The backup directory (default: backups/<into>/ next to the journal).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The side written to (default: source).
        #[arg(long, value_enum, default_value = "source")]
        into: Side,
        /// List per folder what would be restored; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Emergency stop of the engine running this project (console or `cutover run`), from
    /// any shell: every write halts within a second; the journal stays consistent.
    Stop {
        project: PathBuf,
        /// Stop only this batch.
        #[arg(long)]
        batch: Option<String>,
    },
    /// Sign in for an endpoint whose [oauth] uses flow = "device-code" (delegated): shows the
    /// verification URL and code, waits for the sign-in, and keeps the refresh token in a
    /// file next to the journal (mode 0600; never printed). Runs then refresh from it.
    Login {
        project: PathBuf,
        /// Which side to sign in for (default: the one with flow = "device-code").
        #[arg(long, value_enum)]
        side: Option<Side>,
        /// The mailbox this sign-in is for (default: one sign-in for every mailbox of the
        /// side, e.g. an account with FullAccess on them).
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Write a daily, weekly or final report from the journal; connects to nothing. With
    /// --note, journal the operator's lessons learned or recommendations instead.
    Report {
        project: PathBuf,
        /// daily: progress since the last daily report; weekly: the seven days up to now
        /// (progress per day, risks, timeline, resources); final: the project's closing report.
        #[arg(long, value_enum, required_unless_present = "note")]
        kind: Option<ReportKind>,
        /// Journal a note for the weekly and final reports (who and when recorded):
        /// `--note lessons TEXT` or `--note recommendations TEXT` (TEXT "-": read stdin).
        #[arg(long, num_args = 2, value_names = ["SECTION", "TEXT"], conflicts_with = "kind")]
        note: Option<Vec<String>>,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell);
    /// e.g. `cutover completions bash > ~/.local/share/bash-completion/completions/cutover`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of cutover and its commands; e.g.
    /// `cutover man > cutover.1 && man ./cutover.1`. With --dir, write one page per command.
    Man {
        /// Write cutover.1 and cutover-COMMAND.1 into this directory instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Source,
    Destination,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReportKind {
    Daily,
    Weekly,
    Final,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Csv,
}

/// `10%`: a share of the mailboxes above 0 and at most 100.
fn parse_sample(s: &str) -> std::result::Result<f64, String> {
    cutover_engine::verify::parse_percent(s)
}

/// `30s`, `15m`, `2h`, `1h30m`, `1d`: a duration of at least one second (the console's `D`
/// reads the same).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    cutover_engine::api::figures::parse_duration(s)
}

/// RFC 3339, or local `HH:MM` (today, or tomorrow when that time has passed).
pub fn parse_until(s: &str) -> std::result::Result<DateTime<Local>, String> {
    parse_until_at(s, Local::now())
}

fn parse_until_at(s: &str, now: DateTime<Local>) -> std::result::Result<DateTime<Local>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Local));
    }
    let t = NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| {
        format!("{s:?} is not a time (write HH:MM, local time, or RFC 3339 such as 2026-12-06T18:00:00+01:00)")
    })?;
    let mut day = now.date_naive();
    loop {
        if let Some(at) = Local.from_local_datetime(&day.and_time(t)).earliest()
            && at > now
        {
            return Ok(at);
        }
        day = day
            .succ_opt()
            .ok_or_else(|| format!("{s:?}: no such local time"))?;
        if day > now.date_naive() + chrono::Days::new(2) {
            return Err(format!("{s:?}: no such local time"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        for bad in ["", "15", "m", "0m", "15x", "-1m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let now = Local.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let at = parse_until_at("18:30", now).unwrap();
        assert_eq!(at, Local.with_ymd_and_hms(2026, 12, 6, 18, 30, 0).unwrap());
        let at = parse_until_at("07:00", now).unwrap();
        assert_eq!(at, Local.with_ymd_and_hms(2026, 12, 7, 7, 0, 0).unwrap());
        assert!(parse_until_at("2026-12-06T18:00:00+01:00", now).is_ok());
        assert!(parse_until_at("25:00", now).is_err());
        assert!(parse_until_at("soon", now).is_err());
    }
}
