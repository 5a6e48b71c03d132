//! `corral stop NAME` / `corral start NAME`: set `spec.suspend` in the app's manifest (the
//! instance count is kept), so the directory stays the truth.

use std::path::Path;
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
    println!("{}", set_suspend(&dir, &args.name, suspend)?);
    resync_if_running();
    Ok(ExitCode::SUCCESS)
}

/// Sets `spec.suspend` of `name` in its manifest in `dir` and says what was done (`app/web
/// stopped`); the caller tells the controller.
pub fn set_suspend(dir: &Path, name: &str, suspend: bool) -> anyhow::Result<String> {
    let value = if suspend { "true" } else { "false" };
    let edited = edit_app(dir, name, Some(("suspend", value)), |app| {
        app.spec.suspend = suspend
    })?;
    let verb = match (edited, suspend) {
        (Edited::Unchanged, true) => "already stopped",
        (Edited::Unchanged, false) => "already started",
        (Edited::Configured, true) => "stopped",
        (Edited::Configured, false) => "started",
    };
    Ok(format!("app/{name} {verb}"))
}
