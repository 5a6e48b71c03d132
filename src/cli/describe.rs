//! `corral describe`.

use std::process::ExitCode;

/// Arguments of `corral describe`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral describe`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral describe is not implemented yet")
}
