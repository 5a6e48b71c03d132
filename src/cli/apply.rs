//! `corral apply`.

use std::process::ExitCode;

/// Arguments of `corral apply`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral apply`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral apply is not implemented yet")
}
