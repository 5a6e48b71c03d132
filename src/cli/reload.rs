//! `corral reload`: rolling restart of an app at the same revision, zero downtime (PM2's reload).

use std::process::ExitCode;

use super::client::{block_on, client};
use super::get::cli_error;

/// Arguments of `corral reload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app.
    #[arg(add = super::completion::app_names())]
    pub name: String,
}

/// Runs `corral reload`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reply = block_on(client().reload(&args.name))?.map_err(cli_error)?;
    println!("{}", reply.message);
    Ok(ExitCode::SUCCESS)
}
