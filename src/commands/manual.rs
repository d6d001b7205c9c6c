//! `cutover completions SHELL` and `cutover man`: generated from the command-line definition
//! (`cli`), so they never drift from what the binary accepts. Neither needs a project.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::exit::ExitCode;

/// The completion script for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Error> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cutover", &mut out);
    print(&out)
}

/// Write to stdout; a reader that stopped early (`| head`) is not an error.
fn print(bytes: &[u8]) -> Result<ExitCode, Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
        Ok(()) => Ok(ExitCode::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::Success),
        Err(e) => Err(Error::Internal(format!("cannot write to stdout: {e}"))),
    }
}

/// The manual page of cutover (its commands in one page) on stdout; with `dir`, one page per
/// command written there (`cutover.1`, `cutover-run.1` …), each named on stdout.
pub fn man(dir: Option<&Path>) -> Result<ExitCode, Error> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| Error::Internal(format!("cannot render the manual page: {e}")))?;
        return print(&out);
    };
    let written =
        |p: &Path, e: std::io::Error| Error::Usage(format!("cannot write {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| written(dir, e))?;
    let mut pages = vec![("cutover".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("cutover-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut out)
            .map_err(|e| written(&path, e))?;
        std::fs::write(&path, out).map_err(|e| written(&path, e))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::Success)
}
