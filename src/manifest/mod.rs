//! App manifests: types, parsing with file:line:column errors, validation, the JSON Schema.
// STUB: signatures are the contract; bodies are placeholders until the manifest work lands.

pub mod quantity;
pub mod types;

use std::path::{Path, PathBuf};

pub use types::*;

/// One app read from a manifest file, with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The app.
    pub app: App,
    /// The file it was read from.
    pub file: PathBuf,
    /// 0-based index of its document in the file.
    pub doc_index: usize,
    /// 1-based line where its document starts.
    pub line: usize,
}

/// A manifest that cannot be used: where, and what is wrong (with how to fix it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct ManifestError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The text of one YAML document inside a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentText {
    /// 1-based line of the document's first line (after any `---`).
    pub start_line: usize,
    /// Byte range of the document's text in the file (without the `---` separator lines).
    pub range: std::ops::Range<usize>,
}

/// Splits a file's text into its YAML documents (separated by `---` lines).
pub fn documents(text: &str) -> Vec<DocumentText> {
    vec![DocumentText {
        start_line: 1,
        range: 0..text.len(),
    }]
}

/// Parses and validates every document of one file; one bad document fails the whole file.
pub fn parse_str(file: &Path, text: &str) -> Result<Vec<Located>, ManifestError> {
    let mut out = Vec::new();
    for (doc_index, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let app = serde::Deserialize::deserialize(de).map_err(|e| ManifestError {
            file: file.to_path_buf(),
            line: e.location().map_or(0, |l| l.line()),
            column: e.location().map_or(0, |l| l.column()),
            message: e.to_string(),
        })?;
        out.push(Located {
            app,
            file: file.to_path_buf(),
            doc_index,
            line: 1,
        });
    }
    Ok(out)
}

/// Reads and parses one manifest file.
pub fn parse_file(path: &Path) -> Result<Vec<Located>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
    })?;
    parse_str(path, &text)
}

/// Whether a path names a manifest: `*.yaml`/`*.yml`, not hidden, not an editor temp file.
pub fn is_manifest_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.')
        && !name.ends_with('~')
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// The App JSON Schema, pretty-printed with a trailing newline (what `corral schema` prints).
pub fn schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&schemars::schema_for!(App)).unwrap_or_default();
    s.push('\n');
    s
}

impl AppSpec {
    /// The revision: a short hash of everything that shapes a process (DESIGN.md §3), with the
    /// chosen profile's env. `instances`, `suspend`, `memory`, `strategy` and labels are left out.
    pub fn revision(&self, profile: Option<&str>) -> String {
        let _ = profile;
        "0000000000".into()
    }
}
