//! `corral scale NAME N`: set `spec.instances` in the app's manifest; the controller scales.

use std::process::ExitCode;

use super::client::resync_if_running;
use super::edit::{edit_app, Edited};
use super::{manifests_dir, ManifestsDir};
use crate::manifest::Instances;

/// Arguments of `corral scale`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app.
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
    let value = match instances {
        Instances::Max => "max".to_string(),
        Instances::Count(n) => n.to_string(),
    };
    let dir = manifests_dir::resolve(&args.dir)?;
    let edited = edit_app(&dir, &args.name, Some(("instances", &value)), |app| {
        app.spec.instances = instances
    })?;
    println!(
        "app/{} {}",
        args.name,
        if edited == Edited::Configured {
            "scaled"
        } else {
            "unchanged"
        }
    );
    resync_if_running();
    Ok(ExitCode::SUCCESS)
}
