//! The command line: kubectl's shape, PM2's words. One file per command.

mod apply;
mod apply_depends;
mod apply_plan;
mod atomic_write;
mod client;
mod completion;
mod console;
mod controller;
mod cronjobs_view;
mod delete;
mod describe;
mod diff;
mod dist;
mod edit;
mod events;
mod export;
mod get;
mod import;
mod init;
mod jobs_view;
mod logs;
mod man;
mod manifests_dir;
mod reload;
mod restart;
mod rollout;
mod scale;
mod schema;
mod shutdown;
mod signals;
mod startup;
mod suspend;
mod table;
mod top;
mod upgrade;
mod validate;
mod validate_host;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// corral keeps programs running: manifests in a directory, reconciled continuously.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about, propagate_version = true)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `corral` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller in the foreground on a manifests directory.
    Controller(controller::Args),
    /// Validate manifests, then write them into the manifests directory.
    Apply(apply::Args),
    /// Show what `apply` would change, as a unified diff (exit 1 when it would change something).
    Diff(diff::Args),
    /// Remove an App, Job or CronJob from the manifests directory; the controller stops it.
    Delete(delete::Args),
    /// List apps: NAME READY UP-TO-DATE AVAILABLE STATUS RESTARTS CPU MEM AGE REVISION.
    Get(get::Args),
    /// Show one app: spec, instances, conditions, recent events.
    Describe(describe::Args),
    /// List the controller's events (`-w`: stream them as they happen).
    Events(events::Args),
    /// Print an app's captured stdout and stderr.
    Logs(logs::Args),
    /// Stop and start every instance of an app at once.
    Restart(restart::Args),
    /// Rolling restart of an app at the same revision (zero downtime).
    Reload(reload::Args),
    /// Rollout status, history and undo.
    Rollout(rollout::Args),
    /// Set an app's instance count in its manifest.
    Scale(scale::Args),
    /// Stop an app: sets `spec.suspend: true` in its manifest.
    Stop(suspend::Args),
    /// Start a stopped app: sets `spec.suspend: false` in its manifest.
    Start(suspend::Args),
    /// Check manifests offline.
    Validate(validate::Args),
    /// Print the App JSON Schema.
    Schema(schema::Args),
    /// Write a commented starter manifest.
    Init(init::Args),
    /// Turn another process manager's configuration into App manifests (PM2's ecosystem file).
    Import(import::Args),
    /// Turn App manifests into another system's objects (Kubernetes Deployments and Services).
    Export(export::Args),
    /// Print a one-time login link to the controller's web console (`--console-addr`).
    ConsoleUrl(console::Args),
    /// Print (or install) a systemd unit that runs the controller at boot, like `pm2 startup`.
    Startup(startup::Args),
    /// Live terminal view: apps, instances, CPU/memory sparklines, logs (PM2's monit).
    Top(top::Args),
    /// Hand the running controller over to the corral binary now at its path: same apps,
    /// same pids, no connection lost (also SIGUSR2 to the controller).
    Upgrade(upgrade::Args),
    /// Stop every app gracefully, then the controller exits (also under --live-restore).
    Shutdown(shutdown::Args),
    /// Print this corral's version and the running controller's.
    Version(version::Args),
    /// Print the shell completion script (bash, zsh or fish).
    Completion(completion::Args),
    /// Print the manual page corral(1).
    #[command(hide = true)]
    Man(man::Args),
    /// Write the files a package installs beside the binary (man pages, completions, unit).
    #[command(hide = true)]
    Dist(dist::Args),
}

/// Options every command that edits the manifests directory understands.
#[derive(Debug, Clone, clap::Args)]
pub struct ManifestsDir {
    /// The manifests directory; default `$CORRAL_MANIFESTS`, else the running controller's.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
}

/// Answers the shell when it asks for completions (and exits); returns otherwise.
pub fn answer_completion_if_asked() {
    completion::answer_if_asked();
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Controller(args) => controller::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Delete(args) => delete::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Get(args) => get::run(args),
        Command::Describe(args) => describe::run(args),
        Command::Events(args) => events::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Restart(args) => restart::run(args),
        Command::Reload(args) => reload::run(args),
        Command::Rollout(args) => rollout::run(args),
        Command::Scale(args) => scale::run(args),
        Command::Stop(args) => suspend::run(args, true),
        Command::Start(args) => suspend::run(args, false),
        Command::Validate(args) => validate::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Init(args) => init::run(args),
        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::Startup(args) => startup::run(args),
        Command::ConsoleUrl(args) => console::run(args),
        Command::Top(args) => top::run(args),
        Command::Upgrade(args) => upgrade::run(args),
        Command::Shutdown(args) => shutdown::run(args),
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Man(args) => man::run(args),
        Command::Dist(args) => dist::run(args),
    }
}
