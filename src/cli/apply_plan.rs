//! What `corral apply` would do, computed without writing: shared by `apply` and `diff`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::manifests_dir::{keep_modeline, parse_documents, replace_documents, Directory};
use crate::manifest::{self, App};

/// One app document to apply, with its text as the user wrote it.
pub struct Incoming {
    /// The app.
    pub app: App,
    /// Its document text, as written.
    pub text: String,
}

/// What applying one app does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new file is written.
    Created,
    /// Its document is replaced.
    Configured,
    /// Nothing changes.
    Unchanged,
}

/// One file to write: its path, its text now (`None` if new) and after.
#[derive(Debug, Clone)]
pub struct Write {
    /// The file.
    pub path: PathBuf,
    /// Its text as read (`None` for a new file).
    pub old: Option<String>,
    /// Its text after applying.
    pub new: String,
}

/// The outcome per app and the files to write.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// `(app, outcome)` in input order.
    pub outcomes: Vec<(String, Outcome)>,
    /// Files to write.
    pub writes: Vec<Write>,
}

/// The `-f` inputs of `apply` and `diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct Inputs {
    /// A manifest file, a directory of them, or `-` for stdin (repeatable).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub files: Vec<PathBuf>,
}

/// Plans applying `incoming` to the manifests directory `dir`.
pub fn plan(incoming: &[Incoming], dir: &Path) -> anyhow::Result<Plan> {
    let existing = Directory::scan(dir)?;
    existing.warn_broken();
    let mut out = Plan::default();
    let mut edits: BTreeMap<usize, Vec<(std::ops::Range<usize>, String)>> = BTreeMap::new();
    for item in incoming {
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
                let path = new_file_path(dir, name)?;
                let mut text = item.text.trim_end_matches('\n').to_string();
                text.push('\n');
                out.writes.push(Write {
                    path,
                    old: None,
                    new: text,
                });
                Outcome::Created
            }
        };
        out.outcomes.push((name.to_string(), outcome));
    }
    for (f, file_edits) in edits {
        let file = &existing.files[f];
        let new = replace_documents(&file.text, file_edits);
        out.writes.push(Write {
            path: file.path.clone(),
            old: Some(file.text.clone()),
            new,
        });
    }
    Ok(out)
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

/// Refuses an app whose `user` or `group` this host's controller could not run it as (the
/// controller would refuse it the same way), at the field.
fn refuse_here(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let apps = manifest::parse_str(path, text)?;
    let ids = crate::confine::host::controller_ids(&crate::home::Home::from_env().socket());
    crate::confine::host::refuse(&apps, ids, || Some(text.to_owned()))?;
    Ok(())
}

/// Reads and validates every input; any error stops before anything is written.
pub fn read_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<Incoming>> {
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
        let parsed = manifest::parse_all(&path, &text)?;
        if let Some((name, kind)) = parsed.names().find(|(_, k)| *k != manifest::Kind::App) {
            bail!(
                "{}: {} {name:?}: `corral apply` takes Apps only for now; copy a {} manifest \
                 into the manifests directory instead (the controller reads it there)",
                path.display(),
                kind.as_str(),
                kind.as_str()
            );
        }
        let documents = parse_documents(&path, &text)?;
        if documents.is_empty() {
            bail!("{} holds no App document", path.display());
        }
        refuse_here(&path, &text)?;
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
