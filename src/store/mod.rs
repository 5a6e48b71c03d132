//! The manifests directory: load it, keep the last good version of every app, report problems.
//!
//! A file that fails to parse, or an app defined twice, changes nothing that runs: the apps it
//! held keep their last good definition, and the problem is listed for `corral get`.

pub mod caps;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::api::ManifestProblem;
use crate::confine;
use crate::manifest::{self, Located, ManifestError};
use crate::trust::{self, Role, Trust, TrustError};

/// What a load refuses: untrusted paths, apps over the instance caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// Whether paths others could write are refused.
    pub trust: Trust,
    /// Caps on instances.
    pub caps: caps::Caps,
}

/// The apps in force and the problems seen at the last load.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// App name → its definition in force (the last good one).
    pub apps: BTreeMap<String, Located>,
    /// Files and conflicts that could not be used.
    pub problems: Vec<ManifestProblem>,
}

/// Reading the directory itself failed (not one file in it).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the manifests directory {}: {source}; check that it exists and is readable", dir.display())]
pub struct DirError {
    /// The directory.
    pub dir: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Lists the manifest files of `dir` (not recursive), sorted.
pub fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, DirError> {
    let err = |source| DirError {
        dir: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if manifest::is_manifest_path(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Store {
    /// Loads `dir` (blocking I/O: call from `spawn_blocking`), keeping from `self` the last good
    /// definition of every app whose file is now broken or whose name is now in conflict.
    /// Under [`Trust::Strict`], the directory and each file must pass [`trust::check`]: an
    /// untrusted file is broken like one that does not parse; so is an app over a cap. An
    /// untrusted directory changes nothing: every app keeps its version, with the problem.
    pub fn reload(&self, dir: &Path, rules: Rules) -> Result<Store, DirError> {
        let (trust, files) = (rules.trust, manifest_files(dir)?);
        if let Err(e) = trust::check(dir, Role::ManifestsDir, trust) {
            return Ok(self.untrusted(dir, &e));
        }
        let parsed: Vec<(PathBuf, Result<Vec<Located>, ManifestError>)> = files
            .into_iter()
            .map(|f| {
                let parsed = match trust::check_manifest(&f, trust) {
                    Ok(()) => manifest::parse_file(&f).and_then(|apps| {
                        let ids = (nix::unistd::Uid::effective(), nix::unistd::Gid::effective());
                        confine::host::refuse(&apps, ids, || std::fs::read_to_string(&f).ok())?;
                        Ok(apps)
                    }),
                    Err(e) => Err(ManifestError {
                        file: f.clone(),
                        line: 1,
                        column: 1,
                        message: e.to_string(),
                    }),
                };
                (f, parsed)
            })
            .collect();
        let mut next = self.merge(parsed);
        next.enforce_caps(self, rules.caps, caps::online_cpus());
        Ok(next)
    }

    /// The pure part of [`Store::reload`]: combine freshly parsed files with the last good state.
    pub fn merge(&self, parsed: Vec<(PathBuf, Result<Vec<Located>, ManifestError>)>) -> Store {
        let mut next = Store::default();
        let mut defined: BTreeMap<String, Vec<Located>> = BTreeMap::new();
        let mut broken: BTreeSet<PathBuf> = BTreeSet::new();
        for (file, result) in parsed {
            match result {
                Ok(apps) => {
                    for located in apps {
                        defined
                            .entry(located.app.metadata.name.as_str().to_owned())
                            .or_default()
                            .push(located);
                    }
                }
                Err(e) => {
                    let apps = self.apps_from(&file);
                    next.problems.push(problem(&e, apps));
                    broken.insert(file);
                }
            }
        }
        for (name, mut defs) in defined {
            if defs.len() == 1 {
                next.apps.insert(name, defs.remove(0));
                continue;
            }
            let files: Vec<String> = defs
                .iter()
                .map(|d| format!("{}:{}", d.file.display(), d.line))
                .collect();
            next.problems.push(ManifestProblem {
                file: defs[0].file.display().to_string(),
                line: defs[0].line,
                column: 1,
                message: format!(
                    "app \"{name}\" is defined in more than one file ({}): keep one definition and rename or remove the others",
                    files.join(", ")
                ),
                apps: vec![name.clone()],
            });
            if let Some(last) = self.apps.get(&name) {
                next.apps.insert(name, last.clone());
            }
        }
        // Apps of broken files keep their last good definition, unless defined anew elsewhere.
        for (name, last) in &self.apps {
            if broken.contains(&last.file) && !next.apps.contains_key(name) {
                next.apps.insert(name.clone(), last.clone());
            }
        }
        next
    }

    /// `self` unchanged but for one problem, on every app: the directory is not trusted.
    fn untrusted(&self, dir: &Path, e: &TrustError) -> Store {
        let problem = ManifestProblem {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message: e.to_string(),
            apps: self.apps.keys().cloned().collect(),
        };
        Store {
            apps: self.apps.clone(),
            problems: vec![problem],
        }
    }

    /// Names of the apps whose definition in force comes from `file`.
    fn apps_from(&self, file: &Path) -> Vec<String> {
        self.apps
            .iter()
            .filter(|(_, l)| l.file == file)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The problem that keeps `app` on its last good definition, if any.
    pub fn problem_for(&self, app: &str) -> Option<&ManifestProblem> {
        self.problems
            .iter()
            .find(|p| p.apps.iter().any(|a| a == app))
    }
}

fn problem(e: &ManifestError, apps: Vec<String>) -> ManifestProblem {
    ManifestProblem {
        file: e.file.display().to_string(),
        line: e.line,
        column: e.column,
        message: e.message.clone(),
        apps,
    }
}

#[cfg(test)]
mod tests;
