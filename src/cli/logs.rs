//! `corral logs`.

use std::process::ExitCode;

/// Arguments of `corral logs`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral logs`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral logs is not implemented yet")
}
