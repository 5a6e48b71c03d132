//! `corral schema`.

use std::process::ExitCode;

/// Arguments of `corral schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral schema`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral schema is not implemented yet")
}
