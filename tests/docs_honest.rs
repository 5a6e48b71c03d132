//! The repository's documents stay true of the code: every folder under `src/` is in
//! ARCHITECTURE.md's code map and imports only what its **May use** line lists; every manifest
//! field of the JSON Schema is in docs/manifest.md (and nothing else is); every metric the
//! exposition carries is in docs/metrics.md (and nothing else is); every relative link and every
//! repository path named in README.md, ARCHITECTURE.md and docs/ leads to a file; and no
//! document sends readers to files outside the repository. Reads files only: cheap.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// Directories under `dir` (recursive), as paths relative to the repository.
fn dirs_under(dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let rel = path.strip_prefix(root()).expect("under the root");
            out.push(rel.display().to_string());
            dirs_under(&path, out);
        }
    }
}

/// The top-level modules of the crate: folders and files of `src/` (not `lib.rs`/`main.rs`).
fn modules() -> BTreeSet<String> {
    fs::read_dir(root().join("src"))
        .expect("src/")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            if p.is_dir() {
                Some(name)
            } else {
                let stem = name.strip_suffix(".rs")?;
                (stem != "lib" && stem != "main").then(|| stem.to_owned())
            }
        })
        .collect()
}

#[test]
fn every_folder_is_in_the_code_map() {
    let map = read("ARCHITECTURE.md");
    let mut folders = Vec::new();
    dirs_under(&root().join("src"), &mut folders);
    dirs_under(&root().join("tests"), &mut folders);
    folders.retain(|f| !f.starts_with("tests/") || f.matches('/').count() == 1);
    for entry in fs::read_dir(root()).expect("root") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let hidden = name.starts_with('.') && name != ".ci";
        if path.is_dir() && !hidden && name != "target" {
            folders.push(name.to_owned());
        }
    }
    let missing: Vec<&String> = folders
        .iter()
        .filter(|f| !map.contains(&format!("{f}/")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these folders: {missing:?}; add each one \
         (`FOLDER/`) with what it owns"
    );
    for module in modules() {
        let named = map.contains(&format!("`src/{module}/`"))
            || map.contains(&format!("`src/{module}.rs`"));
        assert!(
            named,
            "ARCHITECTURE.md has no code map entry for src/{module}"
        );
    }
}

/// Each code map section's module names and its **May use** list.
fn may_use(map: &str) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules();
    let mut out = BTreeMap::new();
    let mut current: Vec<String> = Vec::new();
    let mut lines = map.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(heading) = line.strip_prefix("### ") {
            current = ticked(heading)
                .filter_map(|t| {
                    let t = t.strip_prefix("src/")?;
                    Some(t.trim_end_matches('/').trim_end_matches(".rs").to_owned())
                })
                .collect();
            continue;
        }
        let Some(rest) = line.strip_prefix("**May use:**") else {
            continue;
        };
        let mut text = rest.to_owned();
        while let Some(next) = lines.peek().filter(|l| !l.trim().is_empty()) {
            text.push(' ');
            text.push_str(next);
            lines.next();
        }
        let allowed: BTreeSet<String> = ticked(&text)
            .filter(|t| known.contains(*t))
            .map(str::to_owned)
            .collect();
        for module in &current {
            out.insert(module.clone(), allowed.clone());
        }
    }
    out
}

/// The `backticked` spans of a text.
fn ticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// The crate modules `source` imports through `prefix` (`crate::` or `corral::`), comments aside.
fn imports(source: &str, prefix: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|l| l.find("//").map_or(l, |at| &l[..at]))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            out.insert(first_segment(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// `api` of `api::Client` (or of ` api :: {…}`).
fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Which top-level module a file of `src/` belongs to.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(root().join("src")).expect("under src/");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a file named `name` is somewhere under `dir`.
fn found_under(dir: &Path, name: &str) -> bool {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files
        .iter()
        .any(|f| f.file_name().is_some_and(|n| n == name))
}

#[test]
fn every_source_file_architecture_md_names_exists() {
    let map = read("ARCHITECTURE.md");
    let mut missing = Vec::new();
    // Sections: a heading line, then the text up to the next heading.
    for section in map.split("\n#").skip(1) {
        let (heading, body) = section.split_once('\n').unwrap_or((section, ""));
        // A code map section's folder: `src/x/` itself, or `src/` for its top-level files.
        let folders: Vec<PathBuf> = ticked(heading)
            .filter(|t| t.starts_with("src/"))
            .map(|t| match t.ends_with('/') {
                true => root().join(t),
                false => root().join("src"),
            })
            .collect();
        for span in ticked(body).filter(|s| s.ends_with(".rs") && !s.contains([' ', '*'])) {
            let exists = match span.split_once('/') {
                // `tests/x.rs` or `src/x/y.rs` from the root; `x/y.rs` from `src/`.
                Some(_) => root().join(span).exists() || root().join("src").join(span).exists(),
                None if folders.is_empty() => {
                    found_under(&root().join("src"), span) || root().join(span).exists()
                }
                None => folders.iter().any(|f| found_under(f, span)) || root().join(span).exists(),
            };
            if !exists {
                missing.push(format!("`{span}` (under \"#{heading}\")"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names source files that do not exist (renamed or moved? update the \
         page):\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_module_imports_only_what_its_may_use_line_lists() {
    let rules = may_use(&read("ARCHITECTURE.md"));
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in files {
        let module = module_of(&file);
        let source = fs::read_to_string(&file).expect("read");
        let prefix = if module == "main" {
            "corral::"
        } else {
            "crate::"
        };
        let Some(allowed) = rules.get(&module) else {
            wrong.push(format!(
                "src/{module} has no **May use:** line in ARCHITECTURE.md's code map"
            ));
            continue;
        };
        for used in imports(&source, prefix) {
            if used != module && !allowed.contains(&used) {
                let file = file
                    .strip_prefix(root())
                    .expect("root")
                    .display()
                    .to_string();
                wrong.push(format!(
                    "{file} uses `{used}`, not on src/{module}'s May use line"
                ));
            }
        }
    }
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports that ARCHITECTURE.md does not allow (fix the import, or change the rule and say \
         why):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_scanner_reads_grouped_and_nested_paths() {
    let source = "use crate::{api::{A, B}, manifest, self};\n// crate::cli in a comment\nlet x = crate::home::Home::from_env();";
    let found = imports(source, "crate::");
    let expected: BTreeSet<String> = ["api", "home", "manifest"].map(String::from).into();
    assert_eq!(found, expected);
}

/// Every field path of the manifest schema (every kind), the way docs/manifest.md names them:
/// probe fields once under `spec.readiness` (liveness takes the same), each ulimit by its
/// resource name, a map's keys as `NAME`; a Job's `spec.template` (an App's spec) and a
/// CronJob's `spec.jobTemplate.spec` (a Job's spec) are one row each, not walked again.
fn schema_paths() -> BTreeSet<String> {
    let schema: serde_json::Value =
        serde_json::from_str(&corral::manifest::schema_json()).expect("schema JSON");
    let mut out = BTreeSet::new();
    walk(&schema, &schema, "", &mut out, 0);
    out.into_iter()
        .map(|p| {
            let p = p.replace("spec.liveness.", "spec.readiness.");
            match p.strip_suffix(".soft").or_else(|| p.strip_suffix(".hard")) {
                Some(limit) if p.starts_with("spec.ulimits.") => limit.to_owned(),
                _ => p,
            }
        })
        .collect()
}

fn walk(
    root: &serde_json::Value,
    node: &serde_json::Value,
    path: &str,
    out: &mut BTreeSet<String>,
    depth: usize,
) {
    assert!(depth < 32, "schema too deep at {path}");
    if let Some(target) = node.get("$ref").and_then(|r| r.as_str()) {
        let name = target.rsplit('/').next().expect("ref name");
        let def = &root["$defs"][name];
        return walk(root, def, path, out, depth + 1);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for sub in node
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            walk(root, sub, path, out, depth + 1);
        }
    }
    // Each kind's schema, chosen by `kind` (`if`/`then`).
    if let Some(sub) = node.get("then") {
        walk(root, sub, path, out, depth + 1);
    }
    if path == "spec.template" || path == "spec.jobTemplate.spec" {
        return;
    }
    if let Some(props) = node.get("properties").and_then(|v| v.as_object()) {
        for (name, sub) in props {
            let p = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            out.insert(p.clone());
            walk(root, sub, &p, out, depth + 1);
        }
    }
    if let Some(sub) = node.get("additionalProperties").filter(|v| v.is_object()) {
        walk(root, sub, &format!("{path}.NAME"), out, depth + 1);
    }
    if let Some(sub) = node.get("items").filter(|v| v.is_object()) {
        walk(root, sub, &format!("{path}[]"), out, depth + 1);
    }
}

/// The `backticked` first cell of each table row of a page.
fn first_cells(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_manifest_field_is_in_docs_manifest_md_and_nothing_else() {
    let page = read("docs/manifest.md");
    let fields = schema_paths();
    let rows = first_cells(&page);
    let undocumented: Vec<&String> = fields.iter().filter(|f| !rows.contains(*f)).collect();
    assert!(
        undocumented.is_empty(),
        "fields of the App schema without a row in docs/manifest.md: {undocumented:?}; add a \
         row `| \\`FIELD\\` | default | … |` for each"
    );
    let stale: Vec<&String> = rows.iter().filter(|r| !fields.contains(*r)).collect();
    assert!(
        stale.is_empty(),
        "docs/manifest.md has rows for fields the schema does not have: {stale:?}"
    );
}

/// The metric names a scrape shows: every family of the real exposition in the Prometheus
/// text format, whose TYPE lines carry the names as scraped (`_total`, `_info`); an empty
/// snapshot still carries each family's TYPE line.
fn exported_metrics() -> BTreeSet<String> {
    use corral::metrics::prometheus::{encode, Format};
    let text = encode(&corral::metrics::Published::default(), Format::Prometheus);
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_is_in_docs_metrics_md_and_nothing_else() {
    let exported = exported_metrics();
    assert!(
        exported.len() >= 20 && exported.contains("corral_events_total"),
        "the exposition's families were not found: {exported:?}"
    );
    let rows = first_cells(&read("docs/metrics.md"));
    let undocumented: Vec<&String> = exported.iter().filter(|m| !rows.contains(*m)).collect();
    assert!(
        undocumented.is_empty(),
        "metrics without a row in docs/metrics.md: {undocumented:?}; add a row with its type, \
         labels and meaning"
    );
    let documented: BTreeSet<&String> = rows.iter().filter(|r| r.starts_with("corral_")).collect();
    let stale: Vec<&&String> = documented
        .iter()
        .filter(|r| !exported.contains(**r))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/metrics.md lists metrics the code does not export: {stale:?}"
    );
}

/// README.md, ARCHITECTURE.md and every page of docs/.
fn documents() -> Vec<String> {
    let mut docs = vec!["README.md".to_owned(), "ARCHITECTURE.md".to_owned()];
    let mut pages: Vec<String> = fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(root()).expect("root").display().to_string())
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// Whether `target` (relative to the repository) names something that exists.
fn exists(target: &Path) -> bool {
    let normal: PathBuf = target.components().fold(PathBuf::new(), |mut p, c| {
        match c {
            std::path::Component::ParentDir => {
                p.pop();
            }
            std::path::Component::CurDir => {}
            c => p.push(c),
        }
        p
    });
    root().join(&normal).exists()
}

#[test]
fn every_relative_link_and_repository_path_in_the_documents_exists() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        let dir = Path::new(&doc).parent().unwrap_or(Path::new(""));
        // Markdown links: [text](target), relative ones only.
        for piece in text.split("](").skip(1) {
            let target = piece.split(')').next().unwrap_or("");
            let target = target.split('#').next().unwrap_or("");
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !exists(&dir.join(target)) {
                broken.push(format!("{doc}: link to {target}"));
            }
        }
        // Repository paths in code spans: `src/…`, `tests/…`, `docs/…` and the other folders.
        for span in ticked(&text) {
            let folders = [
                "src/",
                "tests/",
                "docs/",
                "bench/",
                "fuzz/",
                "link/",
                "manifests/",
                "schemas/",
            ];
            let plain = !span.contains(['*', '{', ' ', '<', '…']) && !span.contains("NAME");
            if plain && folders.iter().any(|f| span.starts_with(f)) && !exists(Path::new(span)) {
                broken.push(format!("{doc}: `{span}`"));
            }
        }
    }
    broken.dedup();
    assert!(
        broken.is_empty(),
        "links and paths that lead nowhere:\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_document_sends_readers_outside_the_repository() {
    for doc in documents() {
        let text = read(&doc);
        for outside in ["DESIGN.md", "STYLE.md", "shared folder", "../shared"] {
            assert!(
                !text.contains(outside),
                "{doc} refers to {outside:?}, which is not in the repository; point at \
                 ARCHITECTURE.md or a page of docs/ instead"
            );
        }
    }
}
