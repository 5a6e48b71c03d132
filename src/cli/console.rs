//! `corral console-url [--read-only]`: a one-time login link to the controller's web console,
//! asked for through the control socket; and the CLI's manifest edits, handed to the console
//! so that its actions run the same code as `corral scale`, `stop`, `start` and `rollout undo`.

use std::path::Path;
use std::process::ExitCode;

use super::client::{block_on, client};
use super::get::cli_error;
use crate::api::RevisionInfo;
use crate::manifest::Instances;

/// Arguments of `corral console-url`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The link works once, within 5 minutes: opening it logs the browser in (a \
session cookie, kept until the controller restarts or 12 hours unused). Only who may use the \
control socket gets one."
)]
pub struct Args {
    /// The session may look but not act (no reload, restart, scale, stop, start, undo).
    #[arg(long)]
    pub read_only: bool,
}

/// Runs `corral console-url`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let login = block_on(client().console_login(args.read_only))?.map_err(cli_error)?;
    println!("{}", login.url);
    Ok(ExitCode::SUCCESS)
}

/// The CLI's edits of the manifests directory, for the web console's actions.
#[derive(Debug, Clone, Copy, Default)]
pub struct CliEdits;

impl crate::console::ManifestEdits for CliEdits {
    fn scale(&self, dir: &Path, app: &str, instances: u32) -> Result<String, String> {
        super::scale::set_instances(dir, app, Instances::Count(instances))
            .map_err(|e| format!("{e:#}"))
    }

    fn suspend(&self, dir: &Path, app: &str, suspend: bool) -> Result<String, String> {
        super::suspend::set_suspend(dir, app, suspend).map_err(|e| format!("{e:#}"))
    }

    fn undo(&self, dir: &Path, app: &str, history: &[RevisionInfo]) -> Result<String, String> {
        super::rollout::undo_in(dir, app, history, None).map_err(|e| format!("{e:#}"))
    }
}
