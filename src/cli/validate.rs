//! `corral validate`: check manifests offline, without a controller.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cgroup::{Field, Limits};
use crate::manifest::locate::Seg;
use crate::manifest::{is_manifest_path, locate_in_file, parse_file, Located, ManifestError};
use crate::store::caps::{self, Caps};

/// Arguments of `corral validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files, or directories whose `*.yaml`/`*.yml` files are read (not recursively).
    /// Default: `$CORRAL_MANIFESTS`, else `manifests`.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Instance caps to check against (the controller's defaults unless given).
    #[command(flatten)]
    pub caps: Caps,
    /// The manifests are for another host: a `user` or `group` that this host lacks (or that
    /// its controller could not switch to) is a warning, not an error.
    #[arg(long)]
    pub other_host: bool,
}

/// Runs `corral validate`: `file: ok (N apps)` per good file, errors on stderr, exit 1 if any.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        vec![std::env::var_os("CORRAL_MANIFESTS")
            .map_or_else(|| PathBuf::from("manifests"), PathBuf::from)]
    } else {
        args.paths
    };
    let mut failed = false;
    let mut apps: Vec<Located> = Vec::new();
    let files = manifest_files(&paths, &mut failed);
    for file in &files {
        let ids = crate::confine::host::controller_ids(&crate::home::Home::from_env().socket());
        let refused = |found: &[Located]| {
            crate::confine::host::refuse(found, ids, || std::fs::read_to_string(file).ok())
        };
        match parse_file(file) {
            Ok(found) => {
                match refused(&found) {
                    Err(e) if !args.other_host => {
                        failed = true;
                        report(&e);
                        continue;
                    }
                    Err(e) => eprintln!(
                        "{}:{}:{}: warning: {} (--other-host: not checked against this host)",
                        e.file.display(),
                        e.line,
                        e.column,
                        e.message
                    ),
                    Ok(()) => {}
                }
                let n = found.len();
                println!(
                    "{}: ok ({n} app{})",
                    file.display(),
                    if n == 1 { "" } else { "s" }
                );
                apps.extend(found);
            }
            Err(e) => {
                failed = true;
                report(&e);
            }
        }
    }
    for e in over_caps(&apps, args.caps) {
        failed = true;
        report(&e);
    }
    for e in conflicts(&apps) {
        failed = true;
        report(&e);
    }
    for e in dependency_errors(&paths, &files, &apps) {
        failed = true;
        report(&e);
    }
    warn_limits(&apps);
    super::validate_host::warn(&files, &apps);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints an error as `file:line:column: message`, or `file: message` when there is no place.
fn report(e: &ManifestError) {
    if e.line == 0 {
        eprintln!("{}: {}", e.file.display(), e.message);
    } else {
        eprintln!("{e}");
    }
}

/// The files to check: each named file, and the manifest files of each named directory.
fn manifest_files(paths: &[PathBuf], failed: &mut bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && is_manifest_path(p))
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        println!("{}: no manifest files (*.yaml, *.yml)", path.display());
                    }
                    files.extend(found);
                }
                Err(e) => {
                    *failed = true;
                    eprintln!("{}: cannot read the directory: {e}", path.display());
                }
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            *failed = true;
            eprintln!(
                "{}: no such file or directory; give a manifest file or a directory of them",
                path.display()
            );
        }
    }
    files
}

/// An error for each app over the per-app cap, and at the app that passes the total cap.
fn over_caps(apps: &[Located], caps: Caps) -> Vec<ManifestError> {
    let cpus = caps::online_cpus();
    let mut out: Vec<ManifestError> = apps
        .iter()
        .filter_map(|l| caps::over_per_app(l, caps, cpus))
        .collect();
    let total = caps::running_total(apps.iter().map(|l| &l.app), cpus);
    let mut sum = 0;
    for l in apps {
        sum += caps::running_total([&l.app], cpus);
        if sum > u64::from(caps.total) {
            out.push(caps::at_instances(l, caps::total_message(total, caps)));
            break;
        }
    }
    out
}

/// One error for each app defined again in another file, pointing at its `metadata.name`.
fn conflicts(apps: &[Located]) -> Vec<ManifestError> {
    let mut first: BTreeMap<&str, &Located> = BTreeMap::new();
    let mut out = Vec::new();
    for app in apps {
        let name = app.app.metadata.name.as_str();
        match first.get(name) {
            None => {
                first.insert(name, app);
            }
            Some(prev) => {
                let (line, column) = name_location(app);
                out.push(ManifestError {
                    file: app.file.clone(),
                    line,
                    column,
                    message: format!(
                        "metadata.name: app {name:?} is also defined in {}:{}; app names must be unique across the directory, rename or remove one",
                        prev.file.display(),
                        prev.line
                    ),
                });
            }
        }
    }
    out
}

/// Warns, at each `memory.max`, `cpu.max` and `pids.max`, when this host cannot enforce it, and
/// why (a warning: the manifest is valid, and the app runs without it).
fn warn_limits(apps: &[Located]) {
    let with_limits: Vec<(&Located, Vec<Field>)> = apps
        .iter()
        .map(|l| (l, Limits::of(&l.app.spec).fields()))
        .filter(|(_, fields)| !fields.is_empty())
        .collect();
    if with_limits.is_empty() {
        return;
    }
    let found = crate::cgroup::detect();
    let support = found.as_ref().map(|d| &d.support);
    for (app, fields) in with_limits {
        for field in fields {
            let Some(why) = crate::cgroup::field_unavailable(support, field) else {
                continue;
            };
            let (section, key) = field.key().split_once('.').unwrap_or((field.key(), ""));
            let path = [Seg::Key("spec"), Seg::Key(section), Seg::Key(key)];
            let (line, column) = std::fs::read_to_string(&app.file)
                .ok()
                .and_then(|text| locate_in_file(&text, app.doc_index, &path))
                .unwrap_or((app.line, 1));
            eprintln!("{}:{line}:{column}: warning: {why}", app.file.display());
        }
    }
}

/// `spec.dependsOn` across the files: unknown names and cycles. A file given alone is checked
/// against the other manifests of its folder too (where its dependencies usually are).
fn dependency_errors(paths: &[PathBuf], files: &[PathBuf], apps: &[Located]) -> Vec<ManifestError> {
    if apps.iter().all(|l| l.app.spec.depends_on.is_empty()) {
        return Vec::new();
    }
    let mut siblings: Vec<Located> = Vec::new();
    for path in paths.iter().filter(|p| p.is_file()) {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for sibling in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let known = files.iter().any(|f| same_file(f, &sibling));
            if !known && sibling.is_file() && is_manifest_path(&sibling) {
                siblings.extend(parse_file(&sibling).unwrap_or_default());
            }
        }
    }
    let also: std::collections::BTreeSet<&str> = siblings
        .iter()
        .map(|l| l.app.metadata.name.as_str())
        .collect();
    let checked: Vec<&Located> = apps.iter().collect();
    crate::manifest::depends::set_errors(&checked, &also)
}

/// Whether two paths name one file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Where an app's `metadata.name` is written, or its document's first line.
fn name_location(app: &Located) -> (usize, usize) {
    std::fs::read_to_string(&app.file)
        .ok()
        .and_then(|text| {
            locate_in_file(
                &text,
                app.doc_index,
                &[Seg::Key("metadata"), Seg::Key("name")],
            )
        })
        .unwrap_or((app.line, 1))
}
