//! The manifests directory as `apply` and `delete` see it: where it is, which file defines
//! which app (and the byte range of its document), and how to edit one document in place.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::client::{block_on, client};
use super::ManifestsDir;
use crate::manifest::{self, App, Located, ManifestError};

/// `--manifests`, else `$CORRAL_MANIFESTS`, else the running controller's directory.
pub fn resolve(flag: &ManifestsDir) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &flag.manifests {
        return Ok(dir.clone());
    }
    if let Some(dir) = std::env::var_os("CORRAL_MANIFESTS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match block_on(client().info())? {
        Ok(info) => Ok(PathBuf::from(info.manifests)),
        Err(e) if e.is_no_controller() => bail!(
            "no manifests directory given and no controller is running to ask: \
             pass --manifests DIR, set CORRAL_MANIFESTS, or start `corral controller --manifests DIR`"
        ),
        Err(e) => Err(e).context("cannot ask the controller for its manifests directory"),
    }
}

/// One app document found in a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// The app it defines.
    pub app: App,
    /// Its byte range in the file's text.
    pub range: Range<usize>,
}

/// One manifest file of the directory, read and parsed.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// Its path.
    pub path: PathBuf,
    /// Its text as read.
    pub text: String,
    /// Its app documents, in file order.
    pub documents: Vec<Document>,
    /// Its Job and CronJob documents: (name, kind, byte range), in file order.
    pub others: Vec<(String, manifest::Kind, Range<usize>)>,
}

/// The manifest files directly in a directory (not recursive), and the ones that do not parse.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Files that parsed, sorted by path.
    pub files: Vec<ManifestFile>,
    /// Files that did not parse.
    pub broken: Vec<ManifestError>,
}

impl Directory {
    /// Reads every manifest file directly in `dir`; a missing directory is empty.
    pub fn scan(dir: &Path) -> anyhow::Result<Self> {
        let mut out = Self::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let path = entry.path();
            if manifest::is_manifest_path(&path) && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            match parse_documents(&path, &text) {
                Ok(documents) => out.files.push(ManifestFile {
                    others: other_kinds(&path, &text),
                    path,
                    text,
                    documents,
                }),
                Err(e) => out.broken.push(e),
            }
        }
        Ok(out)
    }

    /// Where the Job or CronJob `name` is defined: (file index, its kind, byte range).
    pub fn find_other(&self, name: &str) -> Option<(usize, manifest::Kind, Range<usize>)> {
        self.files.iter().enumerate().find_map(|(f, file)| {
            (file.others.iter())
                .find(|(n, _, _)| n == name)
                .map(|(_, kind, range)| (f, *kind, range.clone()))
        })
    }

    /// Where app `name` is defined: (file index, document index); an error if in two files.
    pub fn find(&self, name: &str) -> anyhow::Result<Option<(usize, usize)>> {
        let mut found: Option<(usize, usize)> = None;
        for (f, file) in self.files.iter().enumerate() {
            for (d, doc) in file.documents.iter().enumerate() {
                if doc.app.metadata.name.as_str() != name {
                    continue;
                }
                if let Some((first, _)) = found {
                    bail!(
                        "app {name:?} is defined in both {} and {}: remove one definition first",
                        self.files[first].path.display(),
                        file.path.display()
                    );
                }
                found = Some((f, d));
            }
        }
        Ok(found)
    }

    /// Warns on stderr about files that could not be read (their apps are invisible to us).
    pub fn warn_broken(&self) {
        for e in &self.broken {
            eprintln!("warning: skipping a manifest that does not parse: {e}");
        }
    }
}

/// The Job and CronJob documents of a file that parses: name, kind, byte range.
fn other_kinds(path: &Path, text: &str) -> Vec<(String, manifest::Kind, Range<usize>)> {
    let Ok(parsed) = manifest::parse_all(path, text) else {
        return Vec::new();
    };
    let docs = manifest::documents(text);
    let jobs = (parsed.jobs.iter()).map(|l| {
        (
            l.job.metadata.name.as_str(),
            manifest::Kind::Job,
            l.doc_index,
        )
    });
    let crons = (parsed.cronjobs.iter()).map(|l| {
        (
            l.cronjob.metadata.name.as_str(),
            manifest::Kind::CronJob,
            l.doc_index,
        )
    });
    jobs.chain(crons)
        .filter_map(|(name, kind, i)| Some((name.to_owned(), kind, docs.get(i)?.whole.clone())))
        .collect()
}

/// Parses a file's text into its apps, each with its document's byte range.
pub fn parse_documents(path: &Path, text: &str) -> Result<Vec<Document>, ManifestError> {
    let located = manifest::parse_str(path, text)?;
    let docs = manifest::documents(text);
    let documents: Vec<Document> = located
        .into_iter()
        .map(
            |Located {
                 app,
                 doc_index,
                 line,
                 ..
             }| {
                let range = docs
                    .iter()
                    .find(|d| d.start_line == line)
                    .or_else(|| docs.get(doc_index))
                    .map_or(0..text.len(), |d| d.whole.clone());
                Document { app, range }
            },
        )
        .collect();
    // Editing one document must never touch another: refuse if their ranges overlap.
    if documents
        .windows(2)
        .any(|w| w[1].range.start < w[0].range.end)
    {
        return Err(ManifestError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: "corral cannot tell this file's documents apart to edit one of them: \
                      edit it by hand"
                .into(),
        });
    }
    Ok(documents)
}

/// Replaces byte ranges (non-overlapping) with new document texts, keeping each range's
/// trailing newlines so separators and the rest of the file stay byte-for-byte.
pub fn replace_documents(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_string();
    for (range, new) in edits {
        let old = &text[range.clone()];
        let trailing = old.len() - old.trim_end_matches('\n').len();
        let mut replacement = new.trim_end_matches('\n').to_string();
        replacement.extend(std::iter::repeat_n('\n', trailing));
        out.replace_range(range, &replacement);
    }
    out
}

/// Removes the document at `range` and one `---` separator next to it; `None` when the file
/// would hold no app afterwards (delete the file instead).
pub fn remove_document(text: &str, range: Range<usize>) -> Option<String> {
    let docs: Vec<Range<usize>> = manifest::documents(text)
        .into_iter()
        .map(|d| d.whole)
        .filter(|r| !text[r.clone()].trim().is_empty())
        .collect();
    let i = docs.iter().position(|r| *r == range)?;
    let cut = if let Some(next) = docs.get(i + 1) {
        range.start..next.start
    } else if i > 0 {
        docs[i - 1].end..text.len()
    } else {
        return None;
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..cut.start]);
    out.push_str(&text[cut.end..]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// The editor's schema modeline (`# yaml-language-server: $schema=…`).
const MODELINE: &str = "# yaml-language-server:";

/// `new` document text, with the modeline of the `old` one put back on top if `new` has none.
pub fn keep_modeline(old: &str, new: &str) -> String {
    let leading_comments = |text: &str| -> Vec<String> {
        text.lines()
            .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
            .map(str::to_string)
            .collect()
    };
    let has = |text: &str| {
        leading_comments(text)
            .iter()
            .any(|l| l.trim_start().starts_with(MODELINE))
    };
    if has(new) {
        return new.to_string();
    }
    match leading_comments(old)
        .into_iter()
        .find(|l| l.trim_start().starts_with(MODELINE))
    {
        Some(modeline) => format!("{modeline}\n{new}"),
        None => new.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keeps_trailing_newlines_of_the_old_document() {
        let text = "a: 1\n\n---\nb: 2\n";
        let out = replace_documents(text, vec![(0..6, "a: 9".into())]);
        assert_eq!(out, "a: 9\n\n---\nb: 2\n");
    }

    #[test]
    fn the_old_modeline_is_kept_unless_the_new_text_has_one() {
        let old = "# yaml-language-server: $schema=../schemas/app.schema.json\n# web\nkind: App\n";
        assert_eq!(
            keep_modeline(old, "kind: App\n"),
            "# yaml-language-server: $schema=../schemas/app.schema.json\nkind: App\n"
        );
        let mine = "# yaml-language-server: $schema=x.json\nkind: App\n";
        assert_eq!(keep_modeline(old, mine), mine);
        assert_eq!(keep_modeline("kind: App\n", "kind: App\n"), "kind: App\n");
    }

    #[test]
    fn replacing_several_ranges_uses_original_offsets() {
        let text = "aa\n---\nbb\n";
        let out = replace_documents(text, vec![(0..3, "x\n".into()), (7..10, "yyyy\n".into())]);
        assert_eq!(out, "x\n---\nyyyy\n");
    }
}
