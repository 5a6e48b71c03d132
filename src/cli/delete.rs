//! `corral delete`.

use std::process::ExitCode;

/// Arguments of `corral delete`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral delete`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral delete is not implemented yet")
}
