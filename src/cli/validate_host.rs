//! `corral validate`'s look at this host: warnings (never errors: validate also runs on a
//! laptop that is not the target) for a missing `cwd`/`envFiles` entry, for manifests,
//! directories, `cwd`s and `envFiles` a controller would refuse under its trust rule, and for
//! what would keep an app from starting (its program, an `exec` probe's, `logs.dir`), and for
//! `cwd`, `envFiles` and `watch` paths the app's `user` could not read.

use std::path::{Path, PathBuf};

use crate::launch::Program;
use crate::manifest::locate::Seg;
use crate::manifest::{locate_in_file, Command, Located};
use crate::trust::{self, Role, Trust};

/// Prints a warning for each path of `apps` (and each file in `files`) missing or untrusted here.
pub fn warn(files: &[PathBuf], apps: &[Located]) {
    for file in files {
        if let Err(e) = trust::check(file, Role::Manifest, Trust::Strict) {
            eprintln!("{}: warning: {}", file.display(), refusal(&e.to_string()));
        }
    }
    for app in apps {
        let base = app.file.parent().unwrap_or(Path::new("."));
        if let Some(cwd) = &app.app.spec.cwd {
            let at = place(app, &[Seg::Key("spec"), Seg::Key("cwd")]);
            check(&base.join(cwd), Role::Cwd, &at, true);
        }
        for (i, file) in app.app.spec.env_files.iter().enumerate() {
            let at = place(
                app,
                &[Seg::Key("spec"), Seg::Key("envFiles"), Seg::Index(i)],
            );
            check(&base.join(file), Role::EnvFile, &at, false);
            warn_env_file(&base.join(file), &at);
        }
        for found in crate::confine::host::unreachable(app) {
            let at = place(app, &found.field);
            eprintln!("{at}: warning: {}", found.message);
        }
        warn_start(app, base);
    }
}

/// Warns at `at` when the env file `path` holds a variable too long for the kernel (never
/// showing a value).
fn warn_env_file(path: &Path, at: &str) {
    let Ok(iter) = dotenvy::from_path_iter(path) else {
        return;
    };
    let vars: Vec<(String, String)> = iter.filter_map(Result::ok).collect();
    if let Some(problem) = crate::launch::env::too_long_in_file(&vars, path) {
        eprintln!("{at}: warning: {problem}");
    }
}

/// Warns about what would keep the app from starting here: its program (or an `exec`
/// probe's) missing, not executable, a directory, or without its `#!` interpreter; a
/// `logs.dir` that is a file. Bare program names are left alone: the controller's `PATH`
/// decides those.
fn warn_start(app: &Located, base: &Path) {
    let spec = &app.app.spec;
    let cwd = spec
        .cwd
        .as_ref()
        .map_or_else(|| base.to_path_buf(), |c| base.join(c));
    if let Command::Argv(argv) = &spec.command {
        if let Some(problem) = argv
            .first()
            .filter(|p| p.contains('/'))
            .and_then(|p| Program::find(p, &cwd, None, "spec.command").problem())
        {
            let at = place(app, &[Seg::Key("spec"), Seg::Key("command"), Seg::Index(0)]);
            eprintln!("{at}: warning: {problem}");
        }
    }
    for (probe, key, field) in [
        (&spec.readiness, "readiness", "spec.readiness.exec.command"),
        (&spec.liveness, "liveness", "spec.liveness.exec.command"),
    ] {
        let argv = probe
            .as_ref()
            .and_then(|p| p.exec.as_ref())
            .map(|e| &e.command);
        let Some(first) = argv.and_then(|a| a.first()).filter(|p| p.contains('/')) else {
            continue;
        };
        if let Some(problem) = Program::find(first, &cwd, None, field).problem() {
            let path = [
                Seg::Key("spec"),
                Seg::Key(key),
                Seg::Key("exec"),
                Seg::Key("command"),
                Seg::Index(0),
            ];
            eprintln!("{}: warning: {problem}", place(app, &path));
        }
    }
    for (hook, key) in [
        (&spec.hooks.pre_rollout, "preRollout"),
        (&spec.hooks.post_rollout, "postRollout"),
    ] {
        let Some(Command::Argv(argv)) = hook.as_ref().map(|h| &h.command) else {
            continue;
        };
        let Some(first) = argv.first().filter(|p| p.contains('/')) else {
            continue;
        };
        let field = format!("spec.hooks.{key}.command");
        if let Some(problem) = Program::find(first, &cwd, None, &field).problem() {
            let path = [
                Seg::Key("spec"),
                Seg::Key("hooks"),
                Seg::Key(key),
                Seg::Key("command"),
                Seg::Index(0),
            ];
            eprintln!("{}: warning: {problem}", place(app, &path));
        }
    }
    if let Some(problem) = spec
        .logs
        .dir
        .as_ref()
        .and_then(|dir| crate::launch::logs_dir::problem(&base.join(dir)))
    {
        let at = place(app, &[Seg::Key("spec"), Seg::Key("logs"), Seg::Key("dir")]);
        eprintln!("{at}: warning: {problem}");
    }
}

/// Warns at `at` when `path` is missing (or not of its kind) or would be refused.
fn check(path: &Path, role: Role, at: &str, dir: bool) {
    let exists = if dir { path.is_dir() } else { path.is_file() };
    if !exists {
        let kind = if dir { "directory" } else { "file" };
        eprintln!(
            "{at}: warning: {role} {} is not a {kind} on this host; the controller will fail to \
             start the app until it is",
            path.display()
        );
    } else if let Err(e) = trust::check(path, role, Trust::Strict) {
        eprintln!("{at}: warning: {}", refusal(&e.to_string()));
    }
}

/// A trust error as a warning about what the controller will do.
fn refusal(error: &str) -> String {
    format!("a controller would refuse this: {error}")
}

/// `file:line:column` of `path` in `app`'s document, or of the document.
fn place(app: &Located, path: &[Seg<'_>]) -> String {
    let (line, column) = std::fs::read_to_string(&app.file)
        .ok()
        .and_then(|text| locate_in_file(&text, app.doc_index, path))
        .unwrap_or((app.line, 1));
    format!("{}:{line}:{column}", app.file.display())
}
