//! `corral apply`: validate manifests, then write them into the manifests directory.
//!
//! Works without a controller. An App, Job or CronJob already defined in the directory has its
//! document replaced in the file that defines it (the file's other documents kept
//! byte-for-byte); a new one gets `DIR/NAME.yaml`. A name is unique across kinds. The user's text is written as given, comments and modeline included.

use std::process::ExitCode;

use anyhow::{bail, Context};

use super::apply_plan::{self, read_inputs, Inputs, Outcome};
use super::atomic_write::{ensure_unchanged, write_atomic};
use super::client::resync_if_running;
use super::manifests_dir;
use super::ManifestsDir;
use crate::store::caps::{self, Caps};

/// Arguments of `corral apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifests to read.
    #[command(flatten)]
    pub input: Inputs,
    /// Print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write.
    #[command(flatten)]
    pub dir: ManifestsDir,
    /// Instance caps to check against (the controller's defaults unless given).
    #[command(flatten)]
    pub caps: Caps,
}

/// Refuses an app over the per-app cap, or apps that together pass the total cap, before
/// anything is written: the controller would refuse them.
fn refuse_over_caps(incoming: &[apply_plan::Incoming], caps: Caps) -> anyhow::Result<()> {
    let cpus = caps::online_cpus();
    for app in incoming.iter().filter_map(apply_plan::Incoming::app) {
        if let Some(message) = caps::per_app_message(app, caps, cpus) {
            bail!("app/{}: {message}", app.metadata.name.as_str());
        }
    }
    let sum = caps::running_total(incoming.iter().filter_map(|i| i.app()), cpus);
    if sum > u64::from(caps.total) {
        bail!(
            "{}",
            caps::total_message(sum, caps).replace("this app brings", "these apps bring")
        );
    }
    Ok(())
}

/// Runs `corral apply`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let incoming = read_inputs(&args.input.files)?;
    refuse_over_caps(&incoming, args.caps)?;
    let dir = manifests_dir::resolve(&args.dir)?;
    if dir.exists() && !dir.is_dir() {
        bail!(
            "{} is not a directory: pass the manifests directory with --manifests",
            dir.display()
        );
    }
    super::apply_depends::refuse_new_problems(
        &incoming,
        &super::manifests_dir::Directory::scan(&dir)?,
    )?;
    let plan = apply_plan::plan(&incoming, &dir)?;
    if !args.dry_run {
        if plan.writes.iter().any(|w| w.old.is_none()) {
            std::fs::create_dir_all(&dir).with_context(|| {
                format!("cannot create the manifests directory {}", dir.display())
            })?;
        }
        for write in &plan.writes {
            if let Some(old) = &write.old {
                ensure_unchanged(&write.path, old)?;
            }
            write_atomic(&write.path, &write.new)?;
        }
    }
    let suffix = if args.dry_run { " (dry run)" } else { "" };
    for (name, outcome) in &plan.outcomes {
        let word = match outcome {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        };
        println!("{name} {word}{suffix}");
    }
    if !args.dry_run && plan.outcomes.iter().any(|(_, o)| *o != Outcome::Unchanged) {
        resync_if_running();
    }
    Ok(ExitCode::SUCCESS)
}
