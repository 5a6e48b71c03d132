//! `corral restart`: stop and start every instance of an app at once (PM2's restart).

use std::process::ExitCode;

use super::client::{block_on, client};
use super::get::cli_error;

/// Arguments of `corral restart`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app.
    #[arg(add = super::completion::app_names())]
    pub name: String,
}

/// Runs `corral restart`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reply = block_on(client().restart(&args.name))?.map_err(cli_error)?;
    println!("{}", reply.message);
    Ok(ExitCode::SUCCESS)
}
