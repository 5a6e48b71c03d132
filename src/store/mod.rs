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
use crate::manifest::{self, Located, LocatedCronJob, LocatedJob, ManifestError, Parsed};
use crate::trust::{self, Role, Trust, TrustError};

/// What a load refuses: untrusted paths, apps over the instance caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// Whether paths others could write are refused.
    pub trust: Trust,
    /// Caps on instances.
    pub caps: caps::Caps,
}

/// The apps, Jobs and CronJobs in force and the problems seen at the last load. A name is in
/// one of the three maps at most (names are unique across kinds).
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// App name → its definition in force (the last good one).
    pub apps: BTreeMap<String, Located>,
    /// Job name → its definition in force (the last good one).
    pub jobs: BTreeMap<String, LocatedJob>,
    /// CronJob name → its definition in force (the last good one).
    pub cronjobs: BTreeMap<String, LocatedCronJob>,
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
        let parsed: Vec<(PathBuf, Result<Parsed, ManifestError>)> = files
            .into_iter()
            .map(|f| {
                let parsed = match trust::check_manifest(&f, trust) {
                    Ok(()) => manifest::parse_file_all(&f).and_then(|parsed| {
                        let ids = (nix::unistd::Uid::effective(), nix::unistd::Gid::effective());
                        let read = || std::fs::read_to_string(&f).ok();
                        confine::host::refuse(&parsed.apps, ids, read)?;
                        confine::host::refuse(&parsed.job_apps(), ids, read)?;
                        Ok(parsed)
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
    pub fn merge(&self, parsed: Vec<(PathBuf, Result<Parsed, ManifestError>)>) -> Store {
        let mut next = Store::default();
        let mut defined: BTreeMap<String, Vec<Def>> = BTreeMap::new();
        let mut broken: BTreeSet<PathBuf> = BTreeSet::new();
        for (file, result) in parsed {
            match result {
                Ok(found) => {
                    let defs = (found.apps.into_iter().map(Def::App))
                        .chain(found.jobs.into_iter().map(Def::Job))
                        .chain(found.cronjobs.into_iter().map(Def::CronJob));
                    for def in defs {
                        defined.entry(def.name().to_owned()).or_default().push(def);
                    }
                }
                Err(e) => {
                    let apps = self.names_from(&file);
                    next.problems.push(problem(&e, apps));
                    broken.insert(file);
                }
            }
        }
        for (name, mut defs) in defined {
            if defs.len() == 1 {
                next.insert(defs.remove(0));
                continue;
            }
            let files: Vec<String> = defs
                .iter()
                .map(|d| format!("{}:{}", d.file().display(), d.line()))
                .collect();
            next.problems.push(ManifestProblem {
                file: defs[0].file().display().to_string(),
                line: defs[0].line(),
                column: 1,
                message: format!(
                    "{} \"{name}\" is defined in more than one file ({}): keep one definition and rename or remove the others (names are unique across Apps, Jobs and CronJobs)",
                    defs[0].word(),
                    files.join(", ")
                ),
                apps: vec![name.clone()],
            });
            if let Some(last) = self.last_good(&name) {
                next.insert(last);
            }
        }
        // Definitions of broken files keep their last good version, unless defined anew elsewhere.
        for name in self.names() {
            let Some(last) = self.last_good(&name) else {
                continue;
            };
            if broken.contains(last.file()) && !next.defines(&name) {
                next.insert(last);
            }
        }
        next
    }

    /// Every name in force, of every kind.
    fn names(&self) -> Vec<String> {
        (self.apps.keys())
            .chain(self.jobs.keys())
            .chain(self.cronjobs.keys())
            .cloned()
            .collect()
    }

    /// Whether `name` is in force, of any kind.
    pub fn defines(&self, name: &str) -> bool {
        self.apps.contains_key(name)
            || self.jobs.contains_key(name)
            || self.cronjobs.contains_key(name)
    }

    /// The definition of `name` in force, of whichever kind.
    fn last_good(&self, name: &str) -> Option<Def> {
        (self.apps.get(name).cloned().map(Def::App))
            .or_else(|| self.jobs.get(name).cloned().map(Def::Job))
            .or_else(|| self.cronjobs.get(name).cloned().map(Def::CronJob))
    }

    /// Puts a definition in its kind's map.
    fn insert(&mut self, def: Def) {
        let name = def.name().to_owned();
        match def {
            Def::App(l) => self.apps.insert(name, l).map(drop),
            Def::Job(l) => self.jobs.insert(name, l).map(drop),
            Def::CronJob(l) => self.cronjobs.insert(name, l).map(drop),
        };
    }

    /// `self` unchanged but for one problem, on every app: the directory is not trusted.
    fn untrusted(&self, dir: &Path, e: &TrustError) -> Store {
        let problem = ManifestProblem {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message: e.to_string(),
            apps: self.names(),
        };
        Store {
            problems: vec![problem],
            ..self.clone()
        }
    }

    /// Names (of every kind) whose definition in force comes from `file`.
    fn names_from(&self, file: &Path) -> Vec<String> {
        self.names()
            .into_iter()
            .filter(|n| self.last_good(n).is_some_and(|d| d.file() == file))
            .collect()
    }

    /// The problem that keeps `app` on its last good definition, if any.
    pub fn problem_for(&self, app: &str) -> Option<&ManifestProblem> {
        self.problems
            .iter()
            .find(|p| p.apps.iter().any(|a| a == app))
    }
}

/// One definition of a name, of any kind.
enum Def {
    App(Located),
    Job(LocatedJob),
    CronJob(LocatedCronJob),
}

impl Def {
    fn name(&self) -> &str {
        match self {
            Def::App(l) => l.app.metadata.name.as_str(),
            Def::Job(l) => l.job.metadata.name.as_str(),
            Def::CronJob(l) => l.cronjob.metadata.name.as_str(),
        }
    }

    fn file(&self) -> &Path {
        match self {
            Def::App(l) => &l.file,
            Def::Job(l) => &l.file,
            Def::CronJob(l) => &l.file,
        }
    }

    fn line(&self) -> usize {
        match self {
            Def::App(l) => l.line,
            Def::Job(l) => l.line,
            Def::CronJob(l) => l.line,
        }
    }

    /// How a message names the kind (`app` as it always did).
    fn word(&self) -> &'static str {
        match self {
            Def::App(_) => "app",
            Def::Job(_) => "Job",
            Def::CronJob(_) => "CronJob",
        }
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
