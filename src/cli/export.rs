//! `corral export kubernetes [DIR | -f FILE] --image TEMPLATE`: App, Job and CronJob manifests
//! as Kubernetes objects, one YAML stream on stdout; what cannot be translated goes to stderr as warnings.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::export::kubernetes::{export, Options};
use crate::manifest::{parse_file_all, Located, LocatedCronJob, LocatedJob};

/// Arguments of `corral export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to export to.
    #[command(subcommand)]
    pub target: Target,
}

/// The systems corral exports to.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Deployments (or Argo Rollouts with --rollouts), Services, ConfigMaps, Jobs and CronJobs
    /// for a Kubernetes cluster, as one YAML stream.
    Kubernetes(KubernetesArgs),
}

/// Arguments of `corral export kubernetes`.
#[derive(Debug, clap::Args)]
pub struct KubernetesArgs {
    /// The manifests directory; default `$CORRAL_MANIFESTS`, else `manifests`.
    #[arg(value_name = "DIR", conflicts_with = "file")]
    pub dir: Option<PathBuf>,
    /// One manifest file instead of a directory.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The container image of each app; `{name}` is replaced by the app's name
    /// (e.g. `registry.example.com/{name}:1.0`).
    #[arg(long, value_name = "TEMPLATE")]
    pub image: String,
    /// The profile whose env is exported, as `corral controller --profile` picks it.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Export each app of `strategy.type: Canary` as an Argo Rollouts `Rollout` (its steps one
    /// to one) instead of a Deployment; the cluster needs the Argo Rollouts controller.
    #[arg(long)]
    pub rollouts: bool,
}

/// Runs `corral export`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.target {
        Target::Kubernetes(args) => kubernetes(args),
    }
}

fn kubernetes(args: KubernetesArgs) -> anyhow::Result<ExitCode> {
    if args.image.trim().is_empty() {
        bail!("--image is empty: give the image of each app, e.g. --image 'registry.example.com/{{name}}:1.0'");
    }
    let files = match (&args.file, &args.dir) {
        (Some(file), _) => vec![file.clone()],
        (None, dir) => {
            let dir = dir.clone().unwrap_or_else(|| {
                std::env::var_os("CORRAL_MANIFESTS")
                    .map_or_else(|| PathBuf::from("manifests"), PathBuf::from)
            });
            crate::store::manifest_files(&dir)?
        }
    };
    let mut apps: Vec<Located> = Vec::new();
    let mut jobs: Vec<LocatedJob> = Vec::new();
    let mut cronjobs: Vec<LocatedCronJob> = Vec::new();
    for file in &files {
        let parsed = parse_file_all(file).map_err(|e| {
            anyhow::anyhow!("{e}\nfix the manifest (corral validate checks it), then export again")
        })?;
        apps.extend(parsed.apps);
        jobs.extend(parsed.jobs);
        cronjobs.extend(parsed.cronjobs);
    }
    if apps.is_empty() && jobs.is_empty() && cronjobs.is_empty() {
        bail!("no apps to export: the manifests hold none");
    }
    let opts = Options {
        image: args.image,
        profile: args.profile,
        rollouts: args.rollouts,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        services: apps
            .iter()
            .map(|l| {
                let name = l.app.metadata.name.as_str().to_owned();
                (name, crate::export::kubernetes::first_service(&l.app))
            })
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    let mut warnings = Vec::new();
    let mut first = true;
    use crate::export::kubernetes::{export_cronjob, export_job};
    let exports = (apps.iter().map(|a| export(a, &opts)))
        .chain(jobs.iter().map(|j| export_job(j, &opts)))
        .chain(cronjobs.iter().map(|c| export_cronjob(c, &opts)));
    // Every object first: a manifest that cannot be exported writes nothing.
    let exports: Vec<crate::export::kubernetes::Exported> = exports.collect::<Result<_, _>>()?;
    for exported in exports {
        for object in exported.objects {
            if !first {
                writeln!(out, "---")?;
            }
            first = false;
            for c in &object.comments {
                writeln!(out, "# {c}")?;
            }
            out.write_all(object.yaml.as_bytes())?;
        }
        warnings.extend(exported.warnings);
    }
    out.flush().context("cannot write the objects")?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
