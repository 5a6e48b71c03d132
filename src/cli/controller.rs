//! `corral controller`.

use std::process::ExitCode;

/// Arguments of `corral controller`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral controller`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral controller is not implemented yet")
}
