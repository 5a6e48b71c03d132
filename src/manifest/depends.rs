//! `spec.dependsOn`: order between apps (docker compose's `depends_on`), and the checks that
//! span the whole directory: every name known, no cycle.
//!
//! A single document can only check itself (no self-dependency, no entry twice); whether a
//! name exists and whether the graph has a cycle needs every manifest, so [`check_set`] takes
//! them all (`corral validate`, `corral apply` and the controller call it).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::is_false;
use super::locate::Seg::{self, Index, Key};
use super::types::{AppName, Kind};
use super::validate::Problem;

/// One entry of `spec.dependsOn`: start only once `app` meets `condition`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DependsOn {
    /// The app (or Job) this one waits for, by `metadata.name`; it must exist in the manifests
    /// directory.
    pub app: AppName,
    /// What `app` must reach first: `Started` (an instance of it runs; docker compose's
    /// default, `service_started`), `Ready` (an instance of it passed its readiness probe) or
    /// `Completed` (a Job finished successfully). Default `Started`.
    #[serde(default)]
    pub condition: Condition,
    /// `true`: when `app` stops meeting `condition` (it crashed, was restarted or removed),
    /// this app's instances are stopped and it waits again; `false` (default): once started,
    /// this app runs on whatever happens to `app`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub restart: bool,
}

/// What a dependency must reach before its dependents start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum Condition {
    /// An instance of it runs (compose's `service_started`).
    #[default]
    Started,
    /// An instance of it is ready (compose's `service_healthy`).
    Ready,
    /// It is a Job that finished successfully (compose's `service_completed_successfully`).
    Completed,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Condition::Started => "Started",
            Condition::Ready => "Ready",
            Condition::Completed => "Completed",
        })
    }
}

/// The key path of entry `i` of `spec.dependsOn`, and of its `field` when given.
pub fn entry_path(i: usize, field: Option<&'static str>) -> Vec<Seg<'static>> {
    let mut path = vec![Key("spec"), Key("dependsOn"), Index(i)];
    path.extend(field.map(Key));
    path
}

/// The checks one document can make on its own: no dependency on itself, no app twice.
pub(super) fn check_own(name: &str, deps: &[DependsOn]) -> Option<Problem> {
    let mut seen = BTreeSet::new();
    for (i, dep) in deps.iter().enumerate() {
        let target = dep.app.as_str();
        if target == name {
            return Some(Problem::at(
                entry_path(i, Some("app")),
                format!("{name} -> {name} is a dependency cycle: an app cannot wait for itself; remove this entry"),
            ));
        }
        if !seen.insert(target) {
            return Some(Problem::at(
                entry_path(i, Some("app")),
                format!("{target:?} is listed twice; keep one entry per app"),
            ));
        }
    }
    None
}

/// The checks a Job's own `dependsOn` gets (a Job's, or a CronJob's `jobTemplate`): an App's,
/// and no `restart: true` (a run is not stopped for a lost dependency).
pub(super) fn check_job_own(name: &str, deps: &[DependsOn]) -> Option<Problem> {
    if let Some(problem) = check_own(name, deps) {
        return Some(problem);
    }
    let i = deps.iter().position(|d| d.restart)?;
    Some(Problem::at(
        entry_path(i, Some("restart")),
        "`restart: true` is not supported yet for a Job (its runs are not stopped when a dependency is lost); remove it",
    ))
}

/// One document that may have a `dependsOn`: an App, a Job, a CronJob (its `jobTemplate`'s),
/// with where it is.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// Its `metadata.name`.
    pub name: &'a str,
    /// Its kind.
    pub kind: Kind,
    /// Its `dependsOn` entries.
    pub deps: &'a [DependsOn],
    /// The file that defines it.
    pub file: &'a std::path::Path,
    /// 0-based index of its document in the file.
    pub doc_index: usize,
    /// 1-based line of its document.
    pub line: usize,
}

/// Every document of `apps`, `jobs` and `cronjobs` as a [`Node`] of the dependency graph.
pub fn nodes<'a>(
    apps: &'a [super::Located],
    jobs: &'a [super::LocatedJob],
    cronjobs: &'a [super::LocatedCronJob],
) -> Vec<Node<'a>> {
    let apps = apps.iter().map(|l| Node {
        name: l.app.metadata.name.as_str(),
        kind: Kind::App,
        deps: &l.app.spec.depends_on,
        file: &l.file,
        doc_index: l.doc_index,
        line: l.line,
    });
    let jobs = jobs.iter().map(|l| Node {
        name: l.job.metadata.name.as_str(),
        kind: Kind::Job,
        deps: &l.job.spec.depends_on,
        file: &l.file,
        doc_index: l.doc_index,
        line: l.line,
    });
    let crons = cronjobs.iter().map(|l| Node {
        name: l.cronjob.metadata.name.as_str(),
        kind: Kind::CronJob,
        deps: &l.cronjob.spec.job_template.spec.depends_on,
        file: &l.file,
        doc_index: l.doc_index,
        line: l.line,
    });
    apps.chain(jobs).chain(crons).collect()
}

/// A problem of the graph as a whole, blamed on one entry of one app's `dependsOn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetProblem {
    /// The app (or Job, or CronJob) whose entry is wrong.
    pub app: String,
    /// The entry's index in its `dependsOn`.
    pub entry: usize,
    /// Whether the entry is a CronJob's (under `spec.jobTemplate.spec`).
    pub cronjob: bool,
    /// What is wrong and how to fix it, starting with the dotted path.
    pub message: String,
}

impl SetProblem {
    /// Where to point in the app's document.
    pub fn path(&self) -> Vec<Seg<'static>> {
        let mut path = entry_path(self.entry, Some("app"));
        if self.cronjob {
            path.insert(1, Key("spec"));
            path.insert(1, Key("jobTemplate"));
        }
        path
    }

    /// This problem as an error at `file`, found in `text` (that file's text) in document
    /// `doc_index`; at `fallback_line` when the entry cannot be found there.
    pub fn in_file(
        &self,
        file: &std::path::Path,
        text: Option<&str>,
        doc_index: usize,
        fallback_line: usize,
    ) -> super::ManifestError {
        let (line, column) = text
            .and_then(|t| super::locate_in_file(t, doc_index, &self.path()))
            .unwrap_or((fallback_line, 1));
        super::ManifestError {
            file: file.to_path_buf(),
            line,
            column,
            message: self.message.clone(),
        }
    }
}

/// The graph's problems among `nodes` (the names in `also_known`, with their kinds, count as
/// existing too), each as an error at its `dependsOn` entry; each node's file is read to find
/// the line.
pub fn set_errors(
    nodes: &[Node<'_>],
    also_known: &BTreeMap<&str, Kind>,
) -> Vec<super::ManifestError> {
    let graph: BTreeMap<&str, &[DependsOn]> = nodes.iter().map(|n| (n.name, n.deps)).collect();
    let mut kinds = also_known.clone();
    kinds.extend(nodes.iter().map(|n| (n.name, n.kind)));
    check_set(&graph, &kinds)
        .into_iter()
        .filter_map(|p| {
            let at = nodes.iter().find(|n| n.name == p.app)?;
            let text = std::fs::read_to_string(at.file).ok();
            Some(p.in_file(at.file, text.as_deref(), at.doc_index, at.line))
        })
        .collect()
}

/// The graph's problems: each entry naming something not in `kinds` (with the closest known
/// name), or of a kind its condition cannot wait for, then each cycle once (across kinds: an
/// App waiting for a Job waiting for the App), blamed on the entry of its alphabetically first
/// member that leads into it (`a -> b -> c -> a`). `graph` maps every App, Job and CronJob to
/// its `dependsOn`; `kinds` maps every name known to its kind.
///
/// Only `condition: Completed` waits for a Job, and only for one; nothing waits for a CronJob.
pub fn check_set(
    graph: &BTreeMap<&str, &[DependsOn]>,
    kinds: &BTreeMap<&str, Kind>,
) -> Vec<SetProblem> {
    let mut out = Vec::new();
    let cron = |name: &str| kinds.get(name) == Some(&Kind::CronJob);
    for (&app, deps) in graph {
        let at = if cron(app) {
            "spec.jobTemplate.spec.dependsOn"
        } else {
            "spec.dependsOn"
        };
        for (i, dep) in deps.iter().enumerate() {
            let target = dep.app.as_str();
            let completed = dep.condition == Condition::Completed;
            let wrong = match kinds.get(target) {
                Some(Kind::Job) if !completed => Some(format!(
                    "{at}[{i}].condition: {target:?} is a Job, which never is {}: wait for it with `condition: Completed`",
                    dep.condition
                )),
                Some(Kind::App) if completed => Some(format!(
                    "{at}[{i}].condition: {target:?} is an App: `Completed` waits for a Job to finish; use `Started` or `Ready`"
                )),
                Some(Kind::CronJob) => Some(format!(
                    "{at}[{i}].app: {target:?} is a CronJob, which nothing can wait for (its runs come and go); wait for an App or a Job"
                )),
                Some(_) => None,
                None => Some(String::new()),
            };
            match wrong {
                None => continue,
                Some(message) if !message.is_empty() => {
                    out.push(SetProblem {
                        app: app.to_owned(),
                        entry: i,
                        cronjob: cron(app),
                        message,
                    });
                    continue;
                }
                Some(_) => {}
            }
            let guess = kinds
                .keys()
                .map(|k| (super::parse::edit_distance(target, k), *k))
                .filter(|&(d, _)| d <= 2)
                .min()
                .map_or_else(String::new, |(_, k)| format!("did you mean `{k}`? "));
            out.push(SetProblem {
                app: app.to_owned(),
                entry: i,
                cronjob: cron(app),
                message: format!(
                    "{at}[{i}].app: there is no {} {target:?} in the manifests directory; \
                     {guess}Add its manifest or fix the name",
                    if completed { "Job" } else { "app" }
                ),
            });
        }
    }
    for cycle in cycles(graph) {
        let (first, second) = (cycle[0], cycle[1]);
        let entry = graph[first]
            .iter()
            .position(|d| d.app.as_str() == second)
            .unwrap_or(0);
        let at = if cron(first) {
            "spec.jobTemplate.spec.dependsOn"
        } else {
            "spec.dependsOn"
        };
        out.push(SetProblem {
            app: first.to_owned(),
            entry,
            cronjob: cron(first),
            message: format!(
                "{at}[{entry}]: dependency cycle {}: none of these could ever start; \
                 remove one of these dependencies",
                cycle.join(" -> ")
            ),
        });
    }
    out
}

/// Every cycle of the graph, once each, as the path from its alphabetically first app back to
/// it (`["a", "b", "a"]`); a self-dependency is `["a", "a"]`. Strongly connected components
/// (Tarjan's), each walked from its smallest name along the first edge that stays inside.
pub fn cycles<'a>(graph: &BTreeMap<&'a str, &'a [DependsOn]>) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    for component in components(graph) {
        let start = component[0];
        let inside = |n: &str| component.contains(&n);
        let self_loop = graph[start].iter().any(|d| d.app.as_str() == start);
        if component.len() == 1 && !self_loop {
            continue;
        }
        let mut path = vec![start];
        let mut at = start;
        loop {
            // Within a component every node has an edge to another of it, and walking the
            // first one, never revisiting, reaches `start` again (or a node seen: cut there).
            let next = graph[at]
                .iter()
                .map(|d| d.app.as_str())
                .filter(|n| inside(n))
                .find(|n| *n == start || !path.contains(n));
            match next {
                Some(n) if n == start => {
                    path.push(start);
                    break;
                }
                Some(n) => {
                    path.push(n);
                    at = n;
                }
                None => {
                    // A dead end inside the component: take any edge back to the path.
                    let back = graph[at]
                        .iter()
                        .map(|d| d.app.as_str())
                        .find(|n| path.contains(n));
                    if let Some(n) = back {
                        let from = path.iter().position(|p| *p == n).unwrap_or(0);
                        path = path[from..].to_vec();
                        path.push(n);
                    }
                    break;
                }
            }
        }
        out.push(path);
    }
    out
}

/// The strongly connected components of `graph` (edges to unknown names ignored), each sorted
/// by name, in the order of their smallest name.
fn components<'a>(graph: &BTreeMap<&'a str, &'a [DependsOn]>) -> Vec<Vec<&'a str>> {
    struct Tarjan<'a, 'g> {
        graph: &'g BTreeMap<&'a str, &'a [DependsOn]>,
        index: BTreeMap<&'a str, (usize, usize)>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<&'a str>>,
    }
    impl<'a> Tarjan<'a, '_> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, (self.next, self.next));
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for dep in self.graph[v].iter() {
                let Some((&w, _)) = self.graph.get_key_value(dep.app.as_str()) else {
                    continue;
                };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low_w = self.index[w].1;
                    let entry = self.index.entry(v).or_default();
                    entry.1 = entry.1.min(low_w);
                } else if self.on_stack.contains(w) {
                    let index_w = self.index[w].0;
                    let entry = self.index.entry(v).or_default();
                    entry.1 = entry.1.min(index_w);
                }
            }
            let (index, low) = self.index[v];
            if index == low {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                self.out.push(component);
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for &v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}

#[cfg(test)]
#[path = "depends_tests.rs"]
mod tests;
