//! App manifests: types, parsing with file:line:column errors, validation, the JSON Schema.
//!
//! Parsing never touches a process: it turns text into [`Located`] apps or a [`ManifestError`]
//! that says where (file:line:column) and what to do about it.

pub mod confine;
pub mod cpu;
mod cron;
mod defaults;
pub mod exec_limits;
pub mod fields;
pub mod locate;
mod parse;
pub mod quantity;
mod revision;
pub mod scalars;
mod schema;
pub mod starter;
pub mod strategy;
pub mod types;
mod validate;
mod validate_strategy;

use std::path::PathBuf;

pub use confine::{IdRef, LimitValue, Ulimit, Ulimits, Umask};
pub use parse::{documents, is_manifest_path, locate_in_file, parse_file, parse_str};
pub use schema::schema_json;
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
    /// 1-based line of its document's first content line (leading comments skipped).
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
    /// 1-based line of the document's first content line (after any `---` and leading comments).
    pub start_line: usize,
    /// Byte range of the document's content, from its first content line (what is parsed).
    pub range: std::ops::Range<usize>,
    /// Byte range of the whole document between separators, leading comments included (what
    /// an edit replaces, so a document's own comments and modeline go with it).
    pub whole: std::ops::Range<usize>,
}
