//! `corral delete`: remove apps from the manifests directory; the controller stops them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::atomic_write::{ensure_unchanged, remove, write_atomic};
use super::client::resync_if_running;
use super::manifests_dir::{self, parse_documents, remove_document, Directory};
use super::ManifestsDir;

/// Arguments of `corral delete`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["names", "filename"]))]
pub struct Args {
    /// Apps to delete.
    #[arg(value_name = "NAME", add = super::completion::app_names())]
    pub names: Vec<String>,
    /// Delete the apps a manifest file defines.
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
        names.extend(
            parse_documents(file, &text)?
                .into_iter()
                .map(|d| d.app.metadata.name.as_str().to_string()),
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
    // kubectl's `job/NAME`, `app/NAME`: names are one namespace across kinds.
    for name in &mut names {
        *name = super::jobs_view::split_kind(name).1.to_owned();
    }
    let mut by_file: BTreeMap<usize, Vec<std::ops::Range<usize>>> = BTreeMap::new();
    let mut deleted = Vec::new();
    for name in &names {
        match (existing.find(name)?, existing.find_other(name)) {
            (Some((f, d)), _) => {
                by_file
                    .entry(f)
                    .or_default()
                    .push(existing.files[f].documents[d].range.clone());
                deleted.push(format!("app/{name}"));
            }
            (None, Some((f, kind, range))) => {
                by_file.entry(f).or_default().push(range);
                deleted.push(format!("{}/{name}", kind.as_str().to_lowercase()));
            }
            (None, None) => bail!(
                "app {name:?} is not defined in any manifest in {} (nor a Job of that name): corral get lists apps and Jobs",
                dir.display()
            ),
        }
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
