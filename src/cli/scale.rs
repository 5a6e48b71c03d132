//! `corral scale NAME N`: set `spec.instances` in the app's manifest; the controller scales.

use std::path::Path;
use std::process::ExitCode;

use super::client::resync_if_running;
use super::edit::{edit_app, Edited};
use super::{manifests_dir, ManifestsDir};
use crate::manifest::Instances;

/// Arguments of `corral scale`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app.
    #[arg(add = super::completion::app_names())]
    pub name: String,
    /// Instances wanted: a number, or `max` for one per CPU.
    pub instances: String,
    /// Where the app is defined.
    #[command(flatten)]
    pub dir: ManifestsDir,
}

/// Runs `corral scale`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let instances = match args.instances.as_str() {
        "max" => Instances::Max,
        n => match n.parse::<u32>() {
            Ok(n) => Instances::Count(n),
            Err(_) => anyhow::bail!("instances must be a whole number ≥ 0 or \"max\", not {n:?}: e.g. corral scale {} 4", args.name),
        },
    };
    println!("{}", scale(&args.name, instances, &args.dir)?);
    Ok(ExitCode::SUCCESS)
}

/// Sets `spec.instances` of `name` in its manifest, tells a running controller, and says what
/// was done (`app/web scaled`); also what `corral top`'s scale keys do.
pub fn scale(name: &str, instances: Instances, dir: &ManifestsDir) -> anyhow::Result<String> {
    let dir = manifests_dir::resolve(dir)?;
    let done = set_instances(&dir, name, instances)?;
    resync_if_running();
    Ok(done)
}

/// Sets `spec.instances` of `name` in its manifest in `dir` and says what was done; the
/// caller tells the controller (the CLI through the socket, the web console on its channel).
pub fn set_instances(dir: &Path, name: &str, instances: Instances) -> anyhow::Result<String> {
    let value = match instances {
        Instances::Max => "max".to_string(),
        Instances::Count(n) => n.to_string(),
    };
    let edited = edit_app(dir, name, Some(("instances", &value)), |app| {
        app.spec.instances = instances
    })?;
    Ok(format!(
        "app/{name} {}",
        if edited == Edited::Configured {
            "scaled"
        } else {
            "unchanged"
        }
    ))
}
