//! `corral init`.

use std::process::ExitCode;

/// Arguments of `corral init`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral init`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral init is not implemented yet")
}
