//! `corral validate`.

use std::process::ExitCode;

/// Arguments of `corral validate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral validate`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("corral validate is not implemented yet")
}
