//! `corral restart`.

use std::process::ExitCode;

/// Arguments of `corral restart`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral restart`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral restart is not implemented yet")
}
