//! What `corral apply` would do, computed without writing: shared by `apply` and `diff`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::manifests_dir::{keep_modeline, parse_documents, replace_documents, Directory};
use crate::manifest::{self, App, CronJob, DependsOn, Job, Kind};

/// One document to apply, of any kind, with its text as the user wrote it.
pub struct Incoming {
    /// Its `metadata.name`.
    pub name: String,
    /// What it is.
    pub doc: Doc,
    /// Its document text, as written.
    pub text: String,
    /// The file it was read from (`<stdin>` for `-`).
    pub file: PathBuf,
    /// The 1-based line of that file where `text` starts.
    pub first_line: usize,
}

/// An incoming document, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    /// An App.
    App(App),
    /// A Job.
    Job(Job),
    /// A CronJob.
    CronJob(CronJob),
}

impl Incoming {
    /// The App, if it is one.
    pub fn app(&self) -> Option<&App> {
        match &self.doc {
            Doc::App(app) => Some(app),
            _ => None,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self.doc {
            Doc::App(_) => Kind::App,
            Doc::Job(_) => Kind::Job,
            Doc::CronJob(_) => Kind::CronJob,
        }
    }

    /// `app/NAME`, `job/NAME` or `cronjob/NAME`, as `apply` prints it.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.kind().as_str().to_lowercase(), self.name)
    }

    /// Its `dependsOn` (a CronJob's `jobTemplate`'s).
    pub fn depends_on(&self) -> &[DependsOn] {
        match &self.doc {
            Doc::App(app) => &app.spec.depends_on,
            Doc::Job(job) => &job.spec.depends_on,
            Doc::CronJob(c) => &c.spec.job_template.spec.depends_on,
        }
    }
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

/// The outcome per document and the files to write.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// `(kind/name, outcome)` in input order.
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
        let outcome = match found(&existing, item)? {
            Some((_, _, true)) => Outcome::Unchanged,
            Some((f, range, false)) => {
                let old = &existing.files[f].text[range.clone()];
                edits
                    .entry(f)
                    .or_default()
                    .push((range, keep_modeline(old, &item.text)));
                Outcome::Configured
            }
            None => {
                let path = new_file_path(dir, item)?;
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
        out.outcomes.push((item.qualified(), outcome));
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

/// Where the directory defines `item`'s name: (file index, document range, whether the
/// document equals `item`); an error when another kind holds the name (names are unique across
/// kinds) or the name is defined twice.
fn found(
    existing: &Directory,
    item: &Incoming,
) -> anyhow::Result<Option<(usize, std::ops::Range<usize>, bool)>> {
    let name = item.name.as_str();
    let (f, kind, range) = match (existing.find(name)?, existing.find_other(name)) {
        (Some((f, d)), _) => (f, Kind::App, existing.files[f].documents[d].range.clone()),
        (None, Some(other)) => other,
        (None, None) => return Ok(None),
    };
    let file = &existing.files[f];
    if kind != item.kind() {
        let article = if kind == Kind::App { "an" } else { "a" };
        bail!(
            "{} {name:?} cannot be applied: {} defines {article} {} of that name, and names are \
             unique across Apps, Jobs and CronJobs; rename one of them (or `corral delete {}/{name}` first)",
            item.kind().as_str(),
            file.path.display(),
            kind.as_str(),
            kind.as_str().to_lowercase()
        );
    }
    let same = match &item.doc {
        Doc::App(app) => (file.documents.iter()).any(|d| d.range == range && d.app == *app),
        Doc::Job(job) => manifest::parse_all(&file.path, &file.text)
            .is_ok_and(|p| p.jobs.iter().any(|l| l.job == *job)),
        Doc::CronJob(c) => manifest::parse_all(&file.path, &file.text)
            .is_ok_and(|p| p.cronjobs.iter().any(|l| l.cronjob == *c)),
    };
    Ok(Some((f, range, same)))
}

/// `DIR/NAME.yaml`, refusing names that are not plain file names or files that already exist.
fn new_file_path(dir: &Path, item: &Incoming) -> anyhow::Result<PathBuf> {
    let name = item.name.as_str();
    let kind = item.kind().as_str();
    if name.is_empty() || name.starts_with('.') || name.contains('/') {
        bail!("{kind} name {name:?} cannot be used as a file name: use a DNS label like `web`");
    }
    let path = dir.join(format!("{name}.yaml"));
    if path.exists() {
        bail!(
            "{} exists but does not define {kind} {name:?} (or does not parse): \
             fix or rename that file, then apply again",
            path.display()
        );
    }
    Ok(path)
}

/// Refuses an app whose `user` or `group` this host's controller could not run it as (the
/// controller would refuse it the same way), at the field.
fn refuse_here(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let parsed = manifest::parse_all(path, text)?;
    let ids = crate::confine::host::controller_ids(&crate::home::Home::from_env().socket());
    crate::confine::host::refuse(&parsed.apps, ids, || Some(text.to_owned()))?;
    crate::confine::host::refuse(&parsed.job_apps(), ids, || Some(text.to_owned()))?;
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
        let documents = documents_of(&path, &text)?;
        if documents.is_empty() {
            bail!("{} holds no App, Job or CronJob document", path.display());
        }
        refuse_here(&path, &text)?;
        for (name, doc, range) in documents {
            if !seen.insert(name.clone()) {
                bail!(
                    "{name:?} is defined twice in the input ({}): keep one (names are unique \
                     across Apps, Jobs and CronJobs)",
                    path.display()
                );
            }
            out.push(Incoming {
                first_line: text[..range.start].matches('\n').count() + 1,
                text: text[range].to_string(),
                name,
                doc,
                file: path.clone(),
            });
        }
    }
    Ok(out)
}

/// Every document of a file, of every kind, with its byte range, in file order.
fn documents_of(
    path: &Path,
    text: &str,
) -> anyhow::Result<Vec<(String, Doc, std::ops::Range<usize>)>> {
    let parsed = manifest::parse_all(path, text)?;
    let docs = manifest::documents(text);
    let range = |doc_index: usize, line: usize| {
        docs.iter()
            .find(|d| d.start_line == line)
            .or_else(|| docs.get(doc_index))
            .map_or(0..text.len(), |d| d.whole.clone())
    };
    let mut out: Vec<(String, Doc, std::ops::Range<usize>)> = Vec::new();
    for doc in parse_documents(path, text)? {
        let name = doc.app.metadata.name.as_str().to_owned();
        out.push((name, Doc::App(doc.app), doc.range));
    }
    for l in parsed.jobs {
        let at = range(l.doc_index, l.line);
        out.push((l.job.metadata.name.as_str().to_owned(), Doc::Job(l.job), at));
    }
    for l in parsed.cronjobs {
        let at = range(l.doc_index, l.line);
        let name = l.cronjob.metadata.name.as_str().to_owned();
        out.push((name, Doc::CronJob(l.cronjob), at));
    }
    out.sort_by_key(|(_, _, r)| r.start);
    Ok(out)
}
