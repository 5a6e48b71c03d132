//! Manifests of every kind (App, Job, CronJob): types, parsing with file:line:column errors, validation, the JSON Schema.
//!
//! Parsing never touches a process: it turns text into [`Located`] apps or a [`ManifestError`]
//! that says where (file:line:column) and what to do about it.

pub mod confine;
pub mod cpu;
mod cron;
pub mod cronjob;
mod defaults;
pub mod depends;
pub mod exec_limits;
pub mod fields;
mod hooks;
pub mod job;
pub mod locate;
mod parse;
pub mod quantity;
mod revision;
pub mod scalars;
mod schema;
pub mod shell;
pub mod starter;
pub mod strategy;
pub mod types;
mod validate;
mod validate_strategy;

use std::path::PathBuf;

pub use confine::{IdRef, LimitValue, Ulimit, Ulimits, Umask};
pub use cronjob::{CronJob, CronJobSpec};
pub use job::{Job, JobSpec};
pub use parse::{
    documents, is_manifest_path, locate_in_file, parse_all, parse_file, parse_file_all, parse_str,
};
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

/// One Job read from a manifest file, with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedJob {
    /// The Job.
    pub job: Job,
    /// The file it was read from.
    pub file: PathBuf,
    /// 0-based index of its document in the file.
    pub doc_index: usize,
    /// 1-based line of its document's first content line.
    pub line: usize,
}

/// One CronJob read from a manifest file, with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedCronJob {
    /// The CronJob.
    pub cronjob: CronJob,
    /// The file it was read from.
    pub file: PathBuf,
    /// 0-based index of its document in the file.
    pub doc_index: usize,
    /// 1-based line of its document's first content line.
    pub line: usize,
}

/// Every document of a file, by kind, each in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The Apps.
    pub apps: Vec<Located>,
    /// The Jobs.
    pub jobs: Vec<LocatedJob>,
    /// The CronJobs.
    pub cronjobs: Vec<LocatedCronJob>,
}

impl LocatedJob {
    /// The Job's template as an App named after the Job, at the Job's place: what the App
    /// machinery (process templates, host checks) takes.
    pub fn template_app(&self) -> Located {
        self.job
            .spec
            .app_named(&self.job.metadata, &self.file, self.doc_index, self.line)
    }
}

impl Parsed {
    /// The templates of the Jobs as Apps (see [`LocatedJob::template_app`]).
    pub fn job_apps(&self) -> Vec<Located> {
        self.jobs.iter().map(LocatedJob::template_app).collect()
    }

    /// Every name the file defines, with its kind, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = (&str, Kind)> {
        let apps = self
            .apps
            .iter()
            .map(|l| (l.app.metadata.name.as_str(), Kind::App));
        let jobs = self
            .jobs
            .iter()
            .map(|l| (l.job.metadata.name.as_str(), Kind::Job));
        let crons = self
            .cronjobs
            .iter()
            .map(|l| (l.cronjob.metadata.name.as_str(), Kind::CronJob));
        apps.chain(jobs).chain(crons)
    }
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
