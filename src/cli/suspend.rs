//! `corral stop NAME` / `corral start NAME`: set `spec.suspend` in the app's manifest (the
//! instance count is kept), so the directory stays the truth.

use std::process::ExitCode;

use super::client::resync_if_running;
use super::edit::{edit_app, Edited};
use super::{manifests_dir, ManifestsDir};

/// Arguments of `corral stop` and `corral start`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app.
    #[arg(add = super::completion::app_names())]
    pub name: String,
    /// Where the app is defined.
    #[command(flatten)]
    pub dir: ManifestsDir,
}

/// Sets `spec.suspend` to `suspend` for the app.
pub fn run(args: Args, suspend: bool) -> anyhow::Result<ExitCode> {
    let dir = manifests_dir::resolve(&args.dir)?;
    let value = if suspend { "true" } else { "false" };
    let edited = edit_app(&dir, &args.name, Some(("suspend", value)), |app| {
        app.spec.suspend = suspend
    })?;
    let verb = match (edited, suspend) {
        (Edited::Unchanged, true) => "already stopped",
        (Edited::Unchanged, false) => "already started",
        (Edited::Configured, true) => "stopped",
        (Edited::Configured, false) => "started",
    };
    println!("app/{} {verb}", args.name);
    resync_if_running();
    Ok(ExitCode::SUCCESS)
}
