//! `corral rollout status|history|undo NAME` (kubectl's verbs).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;

use super::client::{block_on, client, resync_if_running};
use super::edit::{edit_app, Edited};
use super::get::cli_error;
use super::table::{age, now_ms, Table};
use super::{manifests_dir, ManifestsDir};
use crate::api::AppStatus;

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
}

/// Runs `corral rollout`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Status { name, watch } => status(&name, watch),
        Action::History { name, revision } => history(&name, revision),
        Action::Undo {
            name,
            to_revision,
            dir,
        } => undo(&name, to_revision, &dir),
    }
}

/// Where a rollout stands, as one sentence; `Some(true)` done, `Some(false)` failed, `None` going.
pub fn progress(app: &AppStatus) -> (String, Option<bool>) {
    let live = app.instances.iter().filter(|i| i.pid.is_some());
    let (mut updated, mut ready, mut old) = (0, 0, 0);
    for i in live {
        if i.revision != app.revision {
            old += 1;
        } else if i.phase != "Stopping" {
            updated += 1;
            ready += u32::from(i.ready);
        }
    }
    let name = &app.name;
    if app.status == "ProgressDeadlineExceeded" {
        return (
            format!(
                "app \"{name}\" exceeded its progress deadline: corral describe {name} says why"
            ),
            Some(false),
        );
    }
    if updated < app.desired {
        return (format!("Waiting for rollout to finish: {updated} out of {} new instances have been started...", app.desired), None);
    }
    if old > 0 {
        return (
            format!(
                "Waiting for rollout to finish: {old} old instances are pending termination..."
            ),
            None,
        );
    }
    if ready < app.desired {
        return (
            format!(
                "Waiting for rollout to finish: {ready} of {} updated instances are ready...",
                app.desired
            ),
            None,
        );
    }
    (
        format!(
            "app \"{name}\" successfully rolled out (revision {})",
            app.revision
        ),
        Some(true),
    )
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
    let dir = manifests_dir::resolve(dir)?;
    // Like a Deployment's undo: the process template goes back; scale and suspension stay.
    let edited = edit_app(&dir, name, None, |app| {
        let (instances, suspend) = (app.spec.instances, app.spec.suspend);
        app.spec = old.spec.clone();
        app.spec.instances = instances;
        app.spec.suspend = suspend;
    })?;
    match edited {
        Edited::Configured => println!("app/{name} rolled back to revision {}", target.number),
        Edited::Unchanged => println!("app/{name} is already at revision {}", target.number),
    }
    resync_if_running();
    Ok(ExitCode::SUCCESS)
}
