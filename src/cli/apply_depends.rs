//! `corral apply`'s check of `spec.dependsOn` against the directory it writes into: an unknown
//! name or a cycle the apply would bring is refused before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::apply_plan::Incoming;
use super::manifests_dir::Directory;
use crate::manifest::depends::{self, check_set, DependsOn, SetProblem};
use crate::manifest::{documents, locate_in_file, Kind};

/// Refuses the first dependency problem (unknown name, cycle, a kind its condition cannot
/// wait for) that the directory would have after applying `incoming` and does not have now, at
/// its `dependsOn` entry.
pub fn refuse_new_problems(incoming: &[Incoming], existing: &Directory) -> anyhow::Result<()> {
    // Every document of the directory, of every kind, with its dependsOn.
    let parsed: Vec<crate::manifest::Parsed> = (existing.files.iter())
        .filter_map(|f| crate::manifest::parse_all(&f.path, &f.text).ok())
        .collect();
    let mut before: BTreeMap<&str, &[DependsOn]> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, Kind> = BTreeMap::new();
    for p in &parsed {
        for node in depends::nodes(&p.apps, &p.jobs, &p.cronjobs) {
            before.insert(node.name, node.deps);
            kinds.insert(node.name, node.kind);
        }
    }
    let mut after = before.clone();
    let mut after_kinds = kinds.clone();
    for item in incoming {
        after.insert(item.name.as_str(), item.depends_on());
        after_kinds.insert(item.name.as_str(), item.kind());
    }
    let old: BTreeSet<(String, String)> = check_set(&before, &kinds)
        .into_iter()
        .map(|p| (p.app, p.message))
        .collect();
    let Some(new) = check_set(&after, &after_kinds)
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
    if let Some(item) = incoming.iter().find(|i| i.name == p.app) {
        let mut e = p.in_file(&item.file, Some(&item.text), 0, 1);
        e.line += item.first_line - 1;
        return e;
    }
    for file in &existing.files {
        let docs = documents(&file.text);
        let apps = (file.documents.iter()).map(|d| (d.app.metadata.name.as_str(), &d.range));
        let others = (file.others.iter()).map(|(name, _, range)| (name.as_str(), range));
        for (name, range) in apps.chain(others) {
            if name != p.app {
                continue;
            }
            let index = docs
                .iter()
                .position(|d| d.whole == *range || d.range == *range)
                .unwrap_or(0);
            let found = locate_in_file(&file.text, index, &p.path());
            return p.in_file(&file.path, found.map(|_| file.text.as_str()), index, 1);
        }
    }
    p.in_file(std::path::Path::new(&p.app), None, 0, 0)
}
