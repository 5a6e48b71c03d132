//! `corral apply`'s check of `spec.dependsOn` against the directory it writes into: an unknown
//! name or a cycle the apply would bring is refused before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::apply_plan::Incoming;
use super::manifests_dir::Directory;
use crate::manifest::depends::{check_set, DependsOn, SetProblem};
use crate::manifest::{documents, locate_in_file};

/// Refuses the first dependency problem (unknown name, cycle) that the directory would have
/// after applying `incoming` and does not have now, at its `dependsOn` entry.
pub fn refuse_new_problems(incoming: &[Incoming], existing: &Directory) -> anyhow::Result<()> {
    let mut before: BTreeMap<&str, &[DependsOn]> = BTreeMap::new();
    for file in &existing.files {
        for doc in &file.documents {
            before.insert(doc.app.metadata.name.as_str(), &doc.app.spec.depends_on);
        }
    }
    let mut after = before.clone();
    for item in incoming {
        after.insert(item.app.metadata.name.as_str(), &item.app.spec.depends_on);
    }
    // The directory's Jobs (what `condition: Completed` waits for); `parse_documents` reads Apps.
    let job_names: Vec<String> = existing
        .files
        .iter()
        .filter_map(|f| crate::manifest::parse_all(&f.path, &f.text).ok())
        .flat_map(|p| {
            p.jobs
                .into_iter()
                .map(|j| j.job.metadata.name.as_str().to_owned())
        })
        .collect();
    let jobs: BTreeSet<&str> = job_names.iter().map(String::as_str).collect();
    let problems = |graph: &BTreeMap<&str, &[DependsOn]>| {
        let known: BTreeSet<&str> = graph.keys().copied().collect();
        check_set(graph, &known, &jobs)
    };
    let old: BTreeSet<(String, String)> = problems(&before)
        .into_iter()
        .map(|p| (p.app, p.message))
        .collect();
    let Some(new) = problems(&after)
        .into_iter()
        .find(|p| !old.contains(&(p.app.clone(), p.message.clone())))
    else {
        return Ok(());
    };
    let e = locate(&new, incoming, existing);
    bail!("{e}")
}

/// The problem at its entry: in the input when the app comes from it, else in the directory.
fn locate(
    p: &SetProblem,
    incoming: &[Incoming],
    existing: &Directory,
) -> crate::manifest::ManifestError {
    if let Some(item) = incoming
        .iter()
        .find(|i| i.app.metadata.name.as_str() == p.app)
    {
        let mut e = p.in_file(&item.file, Some(&item.text), 0, 1);
        e.line += item.first_line - 1;
        return e;
    }
    for file in &existing.files {
        let docs = documents(&file.text);
        for doc in &file.documents {
            if doc.app.metadata.name.as_str() != p.app {
                continue;
            }
            let index = docs
                .iter()
                .position(|d| d.whole == doc.range || d.range == doc.range)
                .unwrap_or(0);
            let found = locate_in_file(&file.text, index, &p.path());
            return p.in_file(&file.path, found.map(|_| file.text.as_str()), index, 1);
        }
    }
    p.in_file(std::path::Path::new(&p.app), None, 0, 0)
}
