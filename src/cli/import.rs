//! `corral import pm2 FILE [-o DIR]`: a PM2 ecosystem file becomes App manifests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use crate::import::pm2::{import_file, Context};
use crate::import::Imported;
use crate::manifest::parse_str;

/// Arguments of `corral import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to import from.
    #[command(subcommand)]
    pub source: Source,
}

/// The process managers corral imports from.
#[derive(Debug, clap::Subcommand)]
pub enum Source {
    /// A PM2 ecosystem file (.js/.cjs/.mjs evaluated with Node.js, .json, .yaml): one commented
    /// manifest per app; keys with no corral meaning become comments and warnings.
    Pm2(Pm2Args),
}

/// Arguments of `corral import pm2`.
#[derive(Debug, clap::Args)]
pub struct Pm2Args {
    /// The ecosystem file, e.g. ecosystem.config.js.
    pub file: PathBuf,
    /// Write NAME.yaml per app into this directory (created if missing) instead of printing
    /// one YAML stream.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Overwrite manifests that already exist in DIR.
    #[arg(long)]
    pub force: bool,
}

/// Runs `corral import`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.source {
        Source::Pm2(args) => pm2(args),
    }
}

fn pm2(args: Pm2Args) -> anyhow::Result<ExitCode> {
    let file = std::path::absolute(&args.file)
        .with_context(|| format!("cannot resolve {}", args.file.display()))?;
    if !file.is_file() {
        bail!(
            "{} is not a file: pass a PM2 ecosystem file such as ecosystem.config.js",
            file.display()
        );
    }
    let eco_dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let out_dir = match &args.output {
        Some(dir) => {
            std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?
        }
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let ctx = Context {
        eco_dir,
        out_dir: out_dir.clone(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    };
    let apps = import_file(&file, &ctx)?;
    for app in &apps {
        // What we write must be a valid manifest whatever the ecosystem file held.
        let path = out_dir.join(format!("{}.yaml", app.name));
        parse_str(&path, &app.text).map_err(|e| {
            anyhow::anyhow!("app/{}: the imported manifest is invalid ({e}); please report this with the ecosystem file", app.name)
        })?;
    }
    match &args.output {
        Some(_) => write_files(&apps, &out_dir, args.force)?,
        None => print_stream(&apps)?,
    }
    std::io::stdout().flush()?;
    for app in &apps {
        for w in &app.warnings {
            eprintln!("warning: app/{}: {w}", app.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints every manifest as one YAML stream.
fn print_stream(apps: &[Imported]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (i, app) in apps.iter().enumerate() {
        if i > 0 {
            writeln!(out, "---")?;
        }
        out.write_all(app.text.as_bytes())?;
    }
    Ok(())
}

/// Writes DIR/NAME.yaml per app, refusing to overwrite unless `force`.
fn write_files(apps: &[Imported], dir: &Path, force: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if !force {
        if let Some(taken) = apps
            .iter()
            .map(|a| dir.join(format!("{}.yaml", a.name)))
            .find(|p| p.exists())
        {
            bail!(
                "{} already exists; pass --force to overwrite it, or -o another directory",
                taken.display()
            );
        }
    }
    for app in apps {
        let path = dir.join(format!("{}.yaml", app.name));
        super::atomic_write::write_atomic(&path, &app.text)?;
        println!("wrote {} (app/{})", path.display(), app.name);
    }
    Ok(())
}
