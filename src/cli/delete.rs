//! `corral delete`: remove Apps, Jobs and CronJobs from the manifests directory; the
//! controller stops them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::atomic_write::{ensure_unchanged, remove, write_atomic};
use super::client::resync_if_running;
use super::manifests_dir::{self, remove_document, Directory};
use super::ManifestsDir;
use crate::manifest::Kind;

/// Arguments of `corral delete`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["names", "filename"]))]
pub struct Args {
    /// Apps, Jobs or CronJobs to delete (`NAME`, or `app/NAME`, `job/NAME`, `cronjob/NAME`).
    #[arg(value_name = "NAME", add = super::completion::app_names())]
    pub names: Vec<String>,
    /// Delete what a manifest file defines (its Apps, Jobs and CronJobs).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: Option<PathBuf>,
    /// Where the apps are defined.
    #[command(flatten)]
    pub dir: ManifestsDir,
}

/// Runs `corral delete`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut names = args.names.clone();
    if let Some(file) = &args.filename {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let parsed = crate::manifest::parse_all(file, &text)?;
        names.extend(
            (parsed.names()).map(|(name, kind)| format!("{}/{name}", kind.as_str().to_lowercase())),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let dir = manifests_dir::resolve(&args.dir)?;
    if !dir.is_dir() {
        bail!(
            "the manifests directory {} does not exist: pass the right one with --manifests",
            dir.display()
        );
    }
    let existing = Directory::scan(&dir)?;
    existing.warn_broken();

    // Find everything first: an unknown name deletes nothing.
    // kubectl's `job/NAME`, `cronjob/NAME`, `app/NAME`: names are one namespace across kinds,
    // and a kind given must be the name's.
    let mut by_file: BTreeMap<usize, Vec<std::ops::Range<usize>>> = BTreeMap::new();
    let mut deleted = Vec::new();
    for given in &names {
        let (wanted, name) = super::jobs_view::split_kind(given);
        let (f, kind, range) = match (existing.find(name)?, existing.find_other(name)) {
            (Some((f, d)), _) => (f, Kind::App, existing.files[f].documents[d].range.clone()),
            (None, Some(other)) => other,
            (None, None) => bail!(
                "{} {name:?} is not defined in any manifest in {} (no App, Job or CronJob of that name): corral get lists them",
                wanted.unwrap_or("app"),
                dir.display()
            ),
        };
        let word = kind.as_str().to_lowercase();
        if wanted.is_some_and(|w| w != word) {
            let article = if kind == Kind::App { "an" } else { "a" };
            bail!(
                "{given}: {name:?} is {article} {} ({}), not a {}; write {word}/{name}",
                kind.as_str(),
                existing.files[f].path.display(),
                wanted.unwrap_or_default()
            );
        }
        by_file.entry(f).or_default().push(range);
        deleted.push(format!("{word}/{name}"));
    }
    for (f, mut ranges) in by_file {
        let file = &existing.files[f];
        // Remove from the end so earlier ranges stay valid.
        ranges.sort_unstable_by_key(|r| std::cmp::Reverse(r.start));
        let mut text = Some(file.text.clone());
        for range in ranges {
            text = text.and_then(|t| remove_document(&t, range));
        }
        ensure_unchanged(&file.path, &file.text)?;
        match text {
            Some(text) => write_atomic(&file.path, &text)?,
            None => remove(&file.path)?,
        }
    }
    for what in &deleted {
        println!("{what} deleted");
    }
    resync_if_running();
    Ok(ExitCode::SUCCESS)
}
