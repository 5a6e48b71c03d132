//! `corral init`: write a commented starter manifest (PM2's `ecosystem`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::manifest::starter::{
    default_command, starter_cronjob, starter_job, starter_manifest, DEFAULT_SCHEMA_PATH,
};
use crate::manifest::{parse_all, AppName};

/// Arguments of `corral init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app's name (a DNS label); the file written is NAME.yaml in the current directory.
    #[arg(default_value = "app")]
    pub name: String,
    /// The command to run, after `--`; default `node server.js`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
    /// Overwrite NAME.yaml if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Where the `$schema` modeline points, relative to the new file.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SCHEMA_PATH)]
    pub schema_path: String,
    /// The kind of manifest: an app (kept running), a job (run to completion) or a cronjob
    /// (jobs on a schedule).
    #[arg(long, value_enum, default_value = "app")]
    pub kind: StarterKind,
}

/// What `corral init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StarterKind {
    /// `kind: App`.
    App,
    /// `kind: Job`.
    Job,
    /// `kind: CronJob`.
    Cronjob,
}

/// Runs `corral init`: writes NAME.yaml, refusing to overwrite unless `--force`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = AppName::try_from(args.name).map_err(anyhow::Error::msg)?;
    let command = if args.command.is_empty() {
        default_command()
    } else {
        args.command
    };
    let path = PathBuf::from(format!("{name}.yaml"));
    let (text, kind) = match args.kind {
        StarterKind::App => (starter_manifest(&name, &command, &args.schema_path), "app"),
        StarterKind::Job => (starter_job(&name, &command, &args.schema_path), "job"),
        StarterKind::Cronjob => (
            starter_cronjob(&name, &command, &args.schema_path),
            "cronjob",
        ),
    };
    // The starter must be a valid manifest whatever the command holds.
    parse_all(&path, &text).map_err(|e| anyhow::anyhow!("the starter manifest is invalid: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists; pick another name or pass --force to overwrite it",
            path.display()
        ),
        other => other.with_context(|| format!("cannot create {}", path.display()))?,
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {} ({kind}/{name}); check it with `corral validate {}`",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
