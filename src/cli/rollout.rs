//! `corral rollout status|history|undo NAME` (kubectl's verbs), and steering a canary:
//! `promote|pause|resume|abort|retry NAME` (Argo Rollouts' verbs).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;

use super::client::{block_on, client, resync_if_running};
use super::edit::{edit_app, Edited};
use super::get::cli_error;
use super::table::{age, now_ms, Table};
use super::{manifests_dir, ManifestsDir};
use crate::api::status_text::progress;

/// Arguments of `corral rollout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `rollout` sub-commands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Show the rollout's progress; with -w, wait until it finishes (exit 1 if it stalls).
    Status {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
        /// Watch until the rollout finishes or exceeds its progress deadline.
        #[arg(short = 'w', long)]
        watch: bool,
    },
    /// List the app's revisions (the last 10); with --revision N, print that manifest.
    History {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
        /// Print the manifest of this revision number.
        #[arg(long, value_name = "N")]
        revision: Option<u64>,
    },
    /// Write the previous revision's spec (or --to-revision N) back into the manifest file.
    Undo {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
        /// Revision number to go back to; default the one before the current.
        #[arg(long, value_name = "N")]
        to_revision: Option<u64>,
        /// Where the app is defined.
        #[command(flatten)]
        dir: ManifestsDir,
    },
    /// Canary: end the step in force (a pause) and go on; --full skips every step left.
    Promote {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
        /// Promote to the new revision in full now, skipping the steps left.
        #[arg(long)]
        full: bool,
    },
    /// Canary: hold the steps where they are (traffic stays split) until `resume`.
    Pause {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
    },
    /// Canary: go on after `pause`.
    Resume {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
    },
    /// Send all traffic back to the stable revision and stop the new one's instances (the
    /// manifest is not rewritten: `get` shows the app Degraded until it changes or `retry`).
    Abort {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
    },
    /// Start an aborted rollout again at its first step.
    Retry {
        /// The app.
        #[arg(add = super::completion::app_names())]
        name: String,
    },
}

/// Sends one steering verb to the controller and prints its answer.
fn steer(name: &str, verb: crate::api::RolloutVerb) -> anyhow::Result<ExitCode> {
    let reply = block_on(client().rollout(name, verb))?.map_err(cli_error)?;
    println!("{}", reply.message);
    Ok(ExitCode::SUCCESS)
}

/// Runs `corral rollout`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use crate::api::RolloutVerb;
    match args.action {
        Action::Promote { name, full } => steer(&name, RolloutVerb::Promote { full }),
        Action::Pause { name } => steer(&name, RolloutVerb::Pause),
        Action::Resume { name } => steer(&name, RolloutVerb::Resume),
        Action::Abort { name } => steer(&name, RolloutVerb::Abort),
        Action::Retry { name } => steer(&name, RolloutVerb::Retry),
        Action::Status { name, watch } => status(&name, watch),
        Action::History { name, revision } => history(&name, revision),
        Action::Undo {
            name,
            to_revision,
            dir,
        } => undo(&name, to_revision, &dir),
    }
}

fn status(name: &str, watch: bool) -> anyhow::Result<ExitCode> {
    let mut last = String::new();
    loop {
        let app = block_on(client().get(name))?.map_err(cli_error)?;
        let (line, done) = progress(&app);
        if line != last {
            println!("{line}");
            last = line;
        }
        match done {
            Some(true) => return Ok(ExitCode::SUCCESS),
            Some(false) => return Ok(ExitCode::FAILURE),
            None if !watch => return Ok(ExitCode::SUCCESS),
            None => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn history(name: &str, revision: Option<u64>) -> anyhow::Result<ExitCode> {
    let entries = block_on(client().history(name))?.map_err(cli_error)?;
    if let Some(n) = revision {
        let Some(e) = entries.iter().find(|e| e.number == n) else {
            bail!("app \"{name}\" has no revision {n}: corral rollout history {name} lists them");
        };
        print!("{}", e.manifest);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["REVISION", "HASH", "AGE", "CURRENT"]);
    let now = now_ms();
    for e in &entries {
        let current = if e.current { "*" } else { "" };
        table.row(vec![
            e.number.to_string(),
            e.revision.clone(),
            age(e.created_ms, now),
            current.into(),
        ]);
    }
    print!("{}", table.render());
    Ok(ExitCode::SUCCESS)
}

fn undo(name: &str, to: Option<u64>, dir: &ManifestsDir) -> anyhow::Result<ExitCode> {
    let entries = block_on(client().history(name))?.map_err(cli_error)?;
    let dir = manifests_dir::resolve(dir)?;
    println!("{}", undo_in(&dir, name, &entries, to)?);
    resync_if_running();
    Ok(ExitCode::SUCCESS)
}

/// Writes revision `to` of `name` (default: the one before the current, from `entries`, the
/// app's history) back into its manifest in `dir`, and says what was done; the caller tells
/// the controller.
pub fn undo_in(
    dir: &std::path::Path,
    name: &str,
    entries: &[crate::api::RevisionInfo],
    to: Option<u64>,
) -> anyhow::Result<String> {
    let current = entries.iter().position(|e| e.current);
    let target = match to {
        Some(n) => entries.iter().find(|e| e.number == n),
        None => current
            .and_then(|c| c.checked_sub(1))
            .and_then(|i| entries.get(i)),
    };
    let Some(target) = target else {
        bail!("app \"{name}\" has no earlier revision to go back to: corral rollout history {name} lists them");
    };
    let old: crate::manifest::App = serde_yaml::from_str(&target.manifest).map_err(|e| {
        anyhow::anyhow!(
            "revision {} of app \"{name}\" cannot be read back: {e}",
            target.number
        )
    })?;
    // Like a Deployment's undo: the process template goes back; scale and suspension stay.
    let edited = edit_app(dir, name, None, |app| {
        let (instances, suspend) = (app.spec.instances, app.spec.suspend);
        app.spec = old.spec.clone();
        app.spec.instances = instances;
        app.spec.suspend = suspend;
    })?;
    Ok(match edited {
        Edited::Configured => format!("app/{name} rolled back to revision {}", target.number),
        Edited::Unchanged => format!("app/{name} is already at revision {}", target.number),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AppStatus, InstanceStatus, RolloutStatus};

    fn instance(index: u32, revision: &str, ready: bool) -> InstanceStatus {
        InstanceStatus {
            index,
            pid: Some(100 + index),
            revision: revision.into(),
            phase: if ready { "Running" } else { "Starting" }.into(),
            ready,
            ..InstanceStatus::default()
        }
    }

    fn app(
        status: &str,
        updated: u32,
        available: u32,
        instances: Vec<InstanceStatus>,
    ) -> AppStatus {
        AppStatus {
            name: "web".into(),
            revision: "new".into(),
            desired: 4,
            status: status.into(),
            updated,
            available,
            instances,
            ..AppStatus::default()
        }
    }

    #[test]
    fn speaks_kubectls_words_at_each_stage() {
        let mid: Vec<_> = (0..4)
            .map(|i| instance(i, "old", true))
            .chain([instance(0, "new", true), instance(1, "new", false)])
            .collect();
        assert_eq!(
            progress(&app("Progressing", 2, 5, mid)),
            (
                "Waiting for app \"web\" rollout to finish: 2 out of 4 new instances have been updated...".into(),
                None
            )
        );
        let ending: Vec<_> = (0..4)
            .map(|i| instance(i, "new", true))
            .chain([instance(3, "old", false)])
            .collect();
        assert_eq!(
            progress(&app("Progressing", 4, 4, ending)).0,
            "Waiting for app \"web\" rollout to finish: 1 old instances are pending termination..."
        );
        let news: Vec<_> = (0..4).map(|i| instance(i, "new", i < 2)).collect();
        assert_eq!(
            progress(&app("Progressing", 4, 2, news.clone())).0,
            "Waiting for app \"web\" rollout to finish: 2 of 4 updated instances are available..."
        );
        assert_eq!(
            progress(&app("Running", 4, 4, news.clone())),
            (
                "app \"web\" successfully rolled out (revision new)".into(),
                Some(true)
            )
        );
        assert_eq!(
            progress(&app("ProgressDeadlineExceeded", 4, 2, news.clone())).1,
            Some(false)
        );
        // Every instance at the revision in force, the new one held back for its hook.
        assert_eq!(progress(&app("HookRunning", 4, 4, news.clone())).1, None);
        assert_eq!(progress(&app("HookFailed", 4, 4, news)).1, Some(false));
    }

    #[test]
    fn a_canary_shows_its_step_weight_and_both_revisions() {
        let mut a = app("Progressing", 1, 5, Vec::new());
        a.rollout = Some(RolloutStatus::canary_at_10_percent("old", "new"));
        assert_eq!(
            progress(&a),
            (
                "Waiting for app \"web\" canary to finish: step 1 of 4, weight 10%: \
                 canary new 1/1 ready, stable old 4/4 ready..."
                    .into(),
                None
            )
        );
        if let Some(r) = a.rollout.as_mut() {
            r.paused = true;
        }
        let (line, done) = progress(&a);
        assert!(line.contains("paused at step 1 of 4, weight 10%"), "{line}");
        assert!(
            line.ends_with("corral rollout promote web goes on"),
            "{line}"
        );
        assert_eq!(done, None);
        if let Some(r) = a.rollout.as_mut() {
            r.aborted = Some("error rate 21% against 0%".into());
        }
        let (line, done) = progress(&a);
        assert!(
            line.starts_with("app \"web\" canary was aborted (error rate 21% against 0%)"),
            "{line}"
        );
        assert!(line.contains("back on revision old"), "{line}");
        assert_eq!(done, Some(false));
    }
}
