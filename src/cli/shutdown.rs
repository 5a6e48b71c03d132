//! `corral shutdown`: the controller stops every app gracefully, then exits (also under
//! `--live-restore`, where SIGTERM leaves the apps running).

use std::process::ExitCode;

use super::client::{block_on, client};
use super::get::cli_error;

/// Arguments of `corral shutdown`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral shutdown`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let reply = block_on(client().shutdown())?.map_err(cli_error)?;
    println!("{}", reply.message);
    Ok(ExitCode::SUCCESS)
}
