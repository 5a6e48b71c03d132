//! `corral get`.

use std::process::ExitCode;

/// Arguments of `corral get`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral get`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral get is not implemented yet")
}
