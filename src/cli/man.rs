//! `corral man` (hidden): the manual page corral(1), rendered from the same clap definitions as
//! `--help` (clap_mangen); `corral man | man -l -` reads it. `corral dist` writes every page.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

/// Arguments of `corral man`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral man`: corral(1) on stdout.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut page)
        .context("cannot render the manual page")?;
    std::io::stdout()
        .write_all(&page)
        .context("cannot write the manual page to stdout")?;
    Ok(ExitCode::SUCCESS)
}
