//! A process template: an app's spec resolved into exactly what to exec (argv, cwd, env).

use std::path::{Path, PathBuf};

use crate::manifest::{Command, Listen, Located, Logs, Probe, Stop};

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
    /// `memory.max` in bytes: the cgroup ceiling of each instance.
    pub memory_max: Option<u64>,
    /// Why the template cannot start a process (an unreadable env file), if so.
    pub error: Option<String>,
}

impl Template {
    /// Resolves `located` under `profile`. Reads env files: blocking I/O.
    pub fn resolve(located: &Located, profile: Option<&str>) -> Template {
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
        let argv = match &spec.command {
            Command::Argv(argv) => argv.clone(),
            Command::Shell(line) => vec!["sh".into(), "-c".into(), format!("exec {line}")],
        };
        let mut env: Vec<(String, String)> = Vec::new();
        let mut error = None;
        for file in &spec.env_files {
            let path = base.join(file);
            match dotenvy::from_path_iter(&path) {
                Ok(iter) => {
                    for item in iter {
                        match item {
                            Ok(pair) => env.push(pair),
                            Err(e) => {
                                error =
                                    Some(format!("env file {} is not valid: {e}", path.display()));
                                break;
                            }
                        }
                    }
                }
                Err(e) => error = Some(format!("cannot read env file {}: {e}", path.display())),
            }
        }
        env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(p) = profile.and_then(|p| spec.profiles.get(p)) {
            env.extend(p.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Template {
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
            memory_max: spec.memory.as_ref().and_then(|m| m.max).map(|m| m.0),
            error,
        }
    }
}
