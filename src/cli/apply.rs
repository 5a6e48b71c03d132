//! `corral apply`: validate manifests, then write them into the manifests directory.
//!
//! Works without a controller. An app already defined in the directory has its document
//! replaced in the file that defines it (the file's other documents kept byte-for-byte); a new
//! app gets `DIR/NAME.yaml`. The user's text is written as given, comments and modeline included.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::atomic_write::{ensure_unchanged, write_atomic};
use super::client::resync_if_running;
use super::manifests_dir::{self, keep_modeline, parse_documents, replace_documents, Directory};
use super::ManifestsDir;
use crate::manifest::{self, App};

/// Arguments of `corral apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A manifest file, a directory of them, or `-` for stdin (repeatable).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub files: Vec<PathBuf>,
    /// Print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write.
    #[command(flatten)]
    pub dir: ManifestsDir,
}

/// One app document to apply, with its text as the user wrote it.
struct Incoming {
    app: App,
    text: String,
}

/// What applying one app does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Configured,
    Unchanged,
}

/// Runs `corral apply`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let incoming = read_inputs(&args.files)?;
    let dir = manifests_dir::resolve(&args.dir)?;
    if dir.exists() && !dir.is_dir() {
        bail!(
            "{} is not a directory: pass the manifests directory with --manifests",
            dir.display()
        );
    }
    let existing = Directory::scan(&dir)?;
    existing.warn_broken();

    let mut outcomes = Vec::new();
    let mut edits: BTreeMap<usize, Vec<(std::ops::Range<usize>, String)>> = BTreeMap::new();
    let mut created: Vec<(PathBuf, String)> = Vec::new();
    for item in &incoming {
        let name = item.app.metadata.name.as_str();
        let outcome = match existing.find(name)? {
            Some((f, d)) => {
                let doc = &existing.files[f].documents[d];
                if doc.app == item.app {
                    Outcome::Unchanged
                } else {
                    let old = &existing.files[f].text[doc.range.clone()];
                    edits
                        .entry(f)
                        .or_default()
                        .push((doc.range.clone(), keep_modeline(old, &item.text)));
                    Outcome::Configured
                }
            }
            None => {
                let path = new_file_path(&dir, name)?;
                let mut text = item.text.trim_end_matches('\n').to_string();
                text.push('\n');
                created.push((path, text));
                Outcome::Created
            }
        };
        outcomes.push((name.to_string(), outcome));
    }

    if !args.dry_run {
        if !created.is_empty() {
            std::fs::create_dir_all(&dir).with_context(|| {
                format!("cannot create the manifests directory {}", dir.display())
            })?;
        }
        for (f, file_edits) in edits {
            let file = &existing.files[f];
            ensure_unchanged(&file.path, &file.text)?;
            write_atomic(&file.path, &replace_documents(&file.text, file_edits))?;
        }
        for (path, text) in &created {
            write_atomic(path, text)?;
        }
    }

    let suffix = if args.dry_run { " (dry run)" } else { "" };
    for (name, outcome) in &outcomes {
        let word = match outcome {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        };
        println!("app/{name} {word}{suffix}");
    }
    if !args.dry_run && outcomes.iter().any(|(_, o)| *o != Outcome::Unchanged) {
        resync_if_running();
    }
    Ok(ExitCode::SUCCESS)
}

/// `DIR/NAME.yaml`, refusing names that are not plain file names or files that already exist.
fn new_file_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if name.is_empty() || name.starts_with('.') || name.contains('/') {
        bail!("app name {name:?} cannot be used as a file name: use a DNS label like `web`");
    }
    let path = dir.join(format!("{name}.yaml"));
    if path.exists() {
        bail!(
            "{} exists but does not define app {name:?} (or does not parse): \
             fix or rename that file, then apply again",
            path.display()
        );
    }
    Ok(path)
}

/// Reads and validates every input; any error stops before anything is written.
fn read_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<Incoming>> {
    let mut texts: Vec<(PathBuf, String)> = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the manifest from stdin")?;
            texts.push((PathBuf::from("<stdin>"), text));
        } else if input.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot read {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| manifest::is_manifest_path(p) && p.is_file())
                .collect();
            if paths.is_empty() {
                bail!(
                    "{} holds no manifest files (*.yaml, *.yml)",
                    input.display()
                );
            }
            paths.sort();
            for path in paths {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                texts.push((path, text));
            }
        } else {
            let text = std::fs::read_to_string(input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            texts.push((input.clone(), text));
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, text) in texts {
        let documents = parse_documents(&path, &text)?;
        if documents.is_empty() {
            bail!("{} holds no App document", path.display());
        }
        for doc in documents {
            let name = doc.app.metadata.name.as_str().to_string();
            if !seen.insert(name.clone()) {
                bail!(
                    "app {name:?} is defined twice in the input ({}): keep one",
                    path.display()
                );
            }
            out.push(Incoming {
                text: text[doc.range].to_string(),
                app: doc.app,
            });
        }
    }
    Ok(out)
}
