//! A process template: an app's spec resolved into exactly what to exec (argv, cwd, env).

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::confine::{self, Confinement};
use crate::manifest::{Listen, Located, Logs, Probe, Stop};
use crate::trust::{Role, Trust};

/// Everything needed to start an instance of one app at one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// App name.
    pub app: String,
    /// Revision the template produces.
    pub revision: String,
    /// argv to exec.
    pub argv: Vec<String>,
    /// Working directory (absolute when the manifest path is).
    pub cwd: PathBuf,
    /// App environment: env files, then `env`, then the profile's env (later wins).
    pub env: Vec<(String, String)>,
    /// How to stop an instance.
    pub stop: Stop,
    /// Log capture settings.
    pub logs: Logs,
    /// `logs.dir`, resolved against the manifest's folder.
    pub log_dir: Option<PathBuf>,
    /// Readiness probe, if any.
    pub readiness: Option<Probe>,
    /// Liveness probe, if any.
    pub liveness: Option<Probe>,
    /// Shared ports.
    pub listen: Vec<Listen>,
    /// What each instance's cgroup enforces (`memory.max`, `cpu.max`, `pids.max`).
    pub limits: crate::cgroup::Limits,
    /// Why the template cannot start a process (an unreadable env file), if so.
    pub error: Option<String>,
    /// The `envFiles` paths, checked with `cwd` before each spawn.
    pub env_files: Vec<PathBuf>,
    /// Whether `cwd` and `envFiles` others could write are refused.
    pub trust: Trust,
    /// Who the instances run as and their limits, as the manifest says.
    pub confine: confine::Spec,
    /// That worked out when the template was made (for probes of adopted instances; a start
    /// works it out afresh), or why it cannot be.
    pub confinement: Result<Arc<Confinement>, String>,
}

impl Template {
    /// Resolves `located` under `profile`. Reads env files: blocking I/O.
    pub fn resolve(located: &Located, profile: Option<&str>, trust: Trust) -> Template {
        let spec = &located.app.spec;
        let base = located
            .file
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let cwd = match &spec.cwd {
            Some(dir) => base.join(dir),
            None => base.clone(),
        };
        let argv = spec.command.argv();
        let mut env: Vec<(String, String)> = Vec::new();
        let mut error = None;
        let env_files: Vec<PathBuf> = spec.env_files.iter().map(|f| base.join(f)).collect();
        for path in &env_files {
            let before = env.len();
            if let Err(e) = read_env_file(path, &mut env) {
                error = Some(e);
            }
            if let Some(e) = crate::launch::env::too_long_in_file(&env[before..], path) {
                error = Some(e);
            }
        }
        env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(p) = profile.and_then(|p| spec.profiles.get(p)) {
            env.extend(p.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let confine = confine::Spec::of(spec);
        let confinement = Confinement::resolve(&confine, &cwd)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Template {
            confine,
            confinement,
            app: located.app.metadata.name.as_str().to_owned(),
            revision: spec.revision(profile),
            argv,
            cwd,
            env,
            stop: spec.stop.clone(),
            logs: spec.logs.clone(),
            log_dir: spec.logs.dir.as_ref().map(|dir| base.join(dir)),
            readiness: spec.readiness.clone(),
            liveness: spec.liveness.clone(),
            listen: spec.listen.clone(),
            limits: crate::cgroup::Limits::of(spec),
            error,
            env_files,
            trust,
        }
    }
}

impl Template {
    /// Checks, just before a spawn, that `cwd` exists and that neither it nor an `envFiles`
    /// entry could be written by another user (unless trust is off). Blocking: a few `stat`s.
    pub fn check_paths(&self) -> Result<(), String> {
        if !self.cwd.is_dir() {
            return Err(format!(
                "cwd {} does not exist or is not a directory: create it or fix spec.cwd",
                self.cwd.display()
            ));
        }
        crate::trust::check(&self.cwd, Role::Cwd, self.trust).map_err(|e| e.to_string())?;
        for file in &self.env_files {
            crate::trust::check(file, Role::EnvFile, self.trust).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Appends the variables of the dotenv file `path` to `env`. The error never quotes the file:
/// its lines hold secrets, and errors reach `describe`, events and the log.
fn read_env_file(path: &Path, env: &mut Vec<(String, String)>) -> Result<(), String> {
    let iter = dotenvy::from_path_iter(path)
        .map_err(|e| format!("cannot read env file {}: {e}", path.display()))?;
    for item in iter {
        match item {
            Ok(pair) => env.push(pair),
            Err(dotenvy::Error::LineParse(line, at)) => {
                let first = line.lines().next().unwrap_or_default();
                let number = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| text.lines().position(|l| l.starts_with(first)))
                    .map(|n| format!("line {}, ", n + 1))
                    .unwrap_or_default();
                return Err(format!(
                    "env file {} is not valid dotenv at {number}character {}; write NAME=value, \
                     quoting values with spaces (the line is not shown: it may hold a secret)",
                    path.display(),
                    at + 1
                ));
            }
            Err(e) => return Err(format!("cannot read env file {}: {e}", path.display())),
        }
    }
    Ok(())
}
