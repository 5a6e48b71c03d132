//! `corral validate`'s look at this host: warnings (never errors: validate also runs on a
//! laptop that is not the target) for a missing `cwd`/`envFiles` entry, for manifests,
//! directories, `cwd`s and `envFiles` a controller would refuse under its trust rule, and for
//! `cwd`, `envFiles` and `watch` paths the app's `user` could not read.

use std::path::{Path, PathBuf};

use crate::manifest::locate::Seg;
use crate::manifest::{locate_in_file, Located};
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
        }
        for found in crate::confine::host::unreachable(app) {
            let at = place(app, &found.field);
            eprintln!("{at}: warning: {}", found.message);
        }
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
