//! `corral diff -f FILE`: what `corral apply -f FILE` would change, as a unified diff
//! (exit 1 when there are differences, like `kubectl diff`).

use std::process::ExitCode;

use similar::TextDiff;

use super::apply_plan::{self, read_inputs, Inputs};
use super::{manifests_dir, ManifestsDir};

/// Arguments of `corral diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifests to read.
    #[command(flatten)]
    pub input: Inputs,
    /// The manifests directory to compare with.
    #[command(flatten)]
    pub dir: ManifestsDir,
}

/// Runs `corral diff`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let incoming = read_inputs(&args.input.files)?;
    let dir = manifests_dir::resolve(&args.dir)?;
    let plan = apply_plan::plan(&incoming, &dir)?;
    for write in &plan.writes {
        let old = write.old.as_deref().unwrap_or("");
        let path = write.path.display().to_string();
        let from = if write.old.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".into()
        };
        let diff = TextDiff::from_lines(old, &write.new);
        print!(
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&from, &format!("b/{path}"))
        );
    }
    Ok(if plan.writes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
