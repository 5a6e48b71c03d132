//! `corral validate`: check manifests offline, without a controller.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cgroup::{Field, Limits};
use crate::manifest::locate::Seg;
use crate::manifest::{
    is_manifest_path, locate_in_file, parse_file_all, Kind, Located, ManifestError,
};
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
    // Every name with its kind and place, for names defined in two files.
    let mut names: Vec<Named> = Vec::new();
    // The Jobs' templates, checked against the host as apps are.
    let mut job_apps: Vec<Located> = Vec::new();
    // The Jobs and CronJobs, for `dependsOn` across kinds.
    let mut jobs = Vec::new();
    let mut cronjobs = Vec::new();
    let files = manifest_files(&paths, &mut failed);
    for file in &files {
        let ids = crate::confine::host::controller_ids(&crate::home::Home::from_env().socket());
        let refused = |found: &[Located]| {
            crate::confine::host::refuse(found, ids, || std::fs::read_to_string(file).ok())
        };
        match parse_file_all(file) {
            Ok(parsed) => {
                let templates = parsed.job_apps();
                match refused(&parsed.apps).and_then(|()| refused(&templates)) {
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
                println!("{}: ok ({})", file.display(), counts(&parsed));
                warn_cronjobs(&parsed.cronjobs);
                names.extend(named(&parsed));
                apps.extend(parsed.apps);
                jobs.extend(parsed.jobs);
                cronjobs.extend(parsed.cronjobs);
                job_apps.extend(templates);
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
    for e in conflicts(&names) {
        failed = true;
        report(&e);
    }
    let nodes = crate::manifest::depends::nodes(&apps, &jobs, &cronjobs);
    for e in dependency_errors(&paths, &files, &nodes, &names) {
        failed = true;
        report(&e);
    }
    warn_limits(&apps);
    warn_limits(&job_apps);
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

/// A name defined in a file, of some kind, and where.
struct Named {
    name: String,
    kind: Kind,
    file: PathBuf,
    doc_index: usize,
    line: usize,
}

/// `1 app`, `2 apps, 1 Job`, `1 Job`: what a good file defines (`0 apps` when nothing).
fn counts(parsed: &crate::manifest::Parsed) -> String {
    let kinds = [
        (parsed.apps.len(), "app"),
        (parsed.jobs.len(), "Job"),
        (parsed.cronjobs.len(), "CronJob"),
    ];
    let said: Vec<String> = kinds
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if said.is_empty() {
        "0 apps".into()
    } else {
        said.join(", ")
    }
}

/// Every name `parsed` defines, with its kind and place.
fn named(parsed: &crate::manifest::Parsed) -> Vec<Named> {
    let one = |name: &str, kind, file: &PathBuf, doc_index, line| Named {
        name: name.to_owned(),
        kind,
        file: file.clone(),
        doc_index,
        line,
    };
    let apps = (parsed.apps.iter()).map(|l| {
        one(
            l.app.metadata.name.as_str(),
            Kind::App,
            &l.file,
            l.doc_index,
            l.line,
        )
    });
    let jobs = (parsed.jobs.iter()).map(|l| {
        one(
            l.job.metadata.name.as_str(),
            Kind::Job,
            &l.file,
            l.doc_index,
            l.line,
        )
    });
    let crons = parsed.cronjobs.iter().map(|l| {
        let name = l.cronjob.metadata.name.as_str();
        one(name, Kind::CronJob, &l.file, l.doc_index, l.line)
    });
    apps.chain(jobs).chain(crons).collect()
}

/// One error for each name defined again in another file (of any kind: names are unique
/// across Apps, Jobs and CronJobs), pointing at its `metadata.name`.
fn conflicts(names: &[Named]) -> Vec<ManifestError> {
    let mut first: BTreeMap<&str, &Named> = BTreeMap::new();
    let mut out = Vec::new();
    for named in names {
        let name = named.name.as_str();
        match first.get(name) {
            None => {
                first.insert(name, named);
            }
            Some(prev) => {
                let (line, column) = name_location(&named.file, named.doc_index, named.line);
                let word = |kind: Kind| match kind {
                    Kind::App => "app",
                    other => other.as_str(),
                };
                let also = if prev.kind == named.kind {
                    String::new()
                } else {
                    let article = if prev.kind == Kind::App { "an" } else { "a" };
                    format!(" as {article} {}", prev.kind.as_str())
                };
                out.push(ManifestError {
                    file: named.file.clone(),
                    line,
                    column,
                    message: format!(
                        "metadata.name: {} {name:?} is also defined{also} in {}:{}; names must be unique across the directory (Apps, Jobs and CronJobs alike), rename or remove one",
                        word(named.kind),
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

/// `dependsOn` across the files and kinds: unknown names, cycles, `Completed` on a Job only. A file
/// given alone is checked against the other manifests of its folder too (where its
/// dependencies usually are).
fn dependency_errors(
    paths: &[PathBuf],
    files: &[PathBuf],
    nodes: &[crate::manifest::depends::Node<'_>],
    names: &[Named],
) -> Vec<ManifestError> {
    if nodes.iter().all(|n| n.deps.is_empty()) {
        return Vec::new();
    }
    let mut also: Vec<(String, Kind)> = names.iter().map(|n| (n.name.clone(), n.kind)).collect();
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
                if let Ok(parsed) = parse_file_all(&sibling) {
                    also.extend(parsed.names().map(|(n, k)| (n.to_owned(), k)));
                }
            }
        }
    }
    let kinds: std::collections::BTreeMap<&str, Kind> =
        also.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    crate::manifest::depends::set_errors(nodes, &kinds)
}

/// Whether two paths name one file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Prints each CronJob's warnings (`CronJob::warnings`) at the key they concern.
fn warn_cronjobs(cronjobs: &[crate::manifest::LocatedCronJob]) {
    for l in cronjobs {
        for (path, why) in l.cronjob.warnings(jiff::Timestamp::now()) {
            let (line, column) = std::fs::read_to_string(&l.file)
                .ok()
                .and_then(|text| locate_in_file(&text, l.doc_index, &path))
                .unwrap_or((l.line, 1));
            eprintln!("{}:{line}:{column}: warning: {why}", l.file.display());
        }
    }
}

/// Where a document's `metadata.name` is written, or its first line.
fn name_location(file: &std::path::Path, doc_index: usize, line: usize) -> (usize, usize) {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            locate_in_file(&text, doc_index, &[Seg::Key("metadata"), Seg::Key("name")])
        })
        .unwrap_or((line, 1))
}
