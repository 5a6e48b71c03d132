//! Reading manifest files: splitting documents, deserializing with locations, file-level checks.

use std::collections::BTreeMap;
use std::path::Path;

use super::cronjob::CronJob;
use super::job::{refused_template_field, Job};
use super::locate::{locate, Seg};
use super::types::{ApiVersion, App, AppSpec, Kind, Metadata};
use super::{validate, validate_strategy};
use super::{DocumentText, Located, LocatedCronJob, LocatedJob, ManifestError, Parsed};

/// Whether a line separates documents (`---`, optionally followed by content or a comment).
fn is_separator(line: &str) -> bool {
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t") || line == "..."
}

/// Whether a `---` line carries content of its own (`--- {a: 1}`), beyond a comment.
fn separator_has_content(line: &str) -> bool {
    line.starts_with("---") && {
        let rest = line[3..].trim();
        !rest.is_empty() && !rest.starts_with('#')
    }
}

/// The UTF-8 byte-order mark some editors (Notepad, Visual Studio) write at the start of a file.
const BOM: char = '\u{feff}';

/// Splits a file's text into its YAML documents (separated by `---` lines).
///
/// Documents holding only comments and blank lines are left out. A `---` line that carries
/// content is kept as the first line of its document, so that content is not lost. A byte-order
/// mark at the start of the text is left out of every document: YAML allows one at the start of
/// a stream, and an editor does not count it as a column.
pub fn documents(text: &str) -> Vec<DocumentText> {
    let mut docs = Vec::new();
    let bom = if text.starts_with(BOM) {
        BOM.len_utf8()
    } else {
        0
    };
    let mut start = bom;
    let mut start_line = 1;
    let mut offset = bom;
    for (i, raw) in text[bom..].split_inclusive('\n').enumerate() {
        let line = raw.trim_end_matches(['\n', '\r']);
        if is_separator(line) {
            push_doc(&mut docs, text, start..offset, start_line);
            if separator_has_content(line) {
                start = offset;
                start_line = i + 1;
            } else {
                start = offset + raw.len();
                start_line = i + 2;
            }
        }
        offset += raw.len();
    }
    push_doc(&mut docs, text, start..text.len(), start_line);
    docs
}

/// Adds a document unless it holds only comments and blank lines; leading comment and blank
/// lines are left out so `start_line` is the line of its first content.
fn push_doc(
    docs: &mut Vec<DocumentText>,
    text: &str,
    range: std::ops::Range<usize>,
    start_line: usize,
) {
    let mut start = range.start;
    for (line, raw) in (start_line..).zip(text[range.clone()].split_inclusive('\n')) {
        let t = raw.trim();
        if !t.is_empty() && !t.starts_with('#') && !t.starts_with('%') {
            docs.push(DocumentText {
                start_line: line,
                range: start..range.end,
                whole: range,
            });
            return;
        }
        start += raw.len();
    }
}

/// Parses and validates every document of one file and returns its Apps; its Jobs and
/// CronJobs are checked too but left out ([`parse_all`] returns every kind).
pub fn parse_str(file: &Path, text: &str) -> Result<Vec<Located>, ManifestError> {
    parse_all(file, text).map(|parsed| parsed.apps)
}

/// Parses and validates every document of one file, of every kind; one bad document fails the
/// whole file, and a name is used once in a file across all kinds.
pub fn parse_all(file: &Path, text: &str) -> Result<Parsed, ManifestError> {
    let err = |line: usize, column: usize, message: String| ManifestError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    let mut out = Parsed::default();
    let mut names: BTreeMap<String, (usize, Kind)> = BTreeMap::new();
    for (doc_index, doc) in documents(text).into_iter().enumerate() {
        let body = &text[doc.range.clone()];
        let base = doc.start_line - 1;
        let at = |path: &[Seg<'_>]| {
            locate(body, path).map_or((doc.start_line, 1), |(l, c)| (l + base, c))
        };
        let located = |e: &serde_yaml::Error| {
            e.location()
                .map_or((doc.start_line, 1), |l| (l.line() + base, l.column()))
        };
        // Syntax first, so a YAML mistake is reported as one rather than as a field error.
        let value = match serde_yaml::from_str::<serde_yaml::Value>(body) {
            Ok(value) => value,
            Err(e) => {
                let (line, column) = located(&e);
                let message = format!(
                    "YAML syntax error: {}; check the indentation and quoting there",
                    yaml_message(&e, base)
                );
                return Err(err(line, column, message));
            }
        };
        if let Some(path) = validate::nul_at(&value) {
            let (line, column) = at(&path);
            let message = format!(
                "{}: holds a NUL character (\\0), which no command, argument, path or environment \
                 value can carry; remove it",
                validate::dotted(&path)
            );
            return Err(err(line, column, message));
        }
        let typed = |what| {
            typed_document(body, what, base).map_err(|(e, message)| {
                let (line, column) = match missing_field_parent(&message) {
                    Some(parent) => {
                        let path: Vec<Seg<'_>> = parent.split('.').map(Seg::Key).collect();
                        at(&path)
                    }
                    None if message.starts_with("missing field") => (doc.start_line, 1),
                    None => located(&e),
                };
                err(line, column, message)
            })
        };
        let kind = match value.get("kind").and_then(serde_yaml::Value::as_str) {
            Some("Job") => Kind::Job,
            Some("CronJob") => Kind::CronJob,
            // Anything else reads as an App, whose `kind` says what it must be.
            _ => Kind::App,
        };
        // A refused template field first: as an unknown field it would be named less well.
        let spec = value.get("spec");
        let refused = match kind {
            Kind::App => None,
            Kind::Job => spec.and_then(|spec| refused_template_field(spec, &[Seg::Key("spec")])),
            Kind::CronJob => spec
                .and_then(|s| s.get("jobTemplate"))
                .and_then(|t| t.get("spec"))
                .and_then(|spec| refused_template_field(spec, &CRON_JOB_SPEC)),
        };
        if let Some((path, message)) = refused {
            let (line, column) = at(&path);
            return Err(err(line, column, message));
        }
        let (name, problem) = match typed(kind)? {
            Typed::App(app) => {
                let problem = match validate::check(&app)
                    .or_else(|| validate_strategy::check(&app, &value))
                {
                    Some(p) => Some((at(&p.path), p.message)),
                    None => super::exec_limits::oversized(&app).map(|(path, m)| (at(&path), m)),
                };
                let name = app.metadata.name.as_str().to_owned();
                out.apps.push(Located {
                    app,
                    file: file.to_path_buf(),
                    doc_index,
                    line: doc.start_line,
                });
                (name, problem)
            }
            Typed::Job(job) => {
                let name = job.metadata.name.as_str();
                let problem = super::depends::check_job_own(name, &job.spec.depends_on)
                    .map(|p| (at(&p.path), p.message))
                    .or_else(|| check_template(&job.metadata, &job.spec.template, &at));
                let name = job.metadata.name.as_str().to_owned();
                out.jobs.push(LocatedJob {
                    job,
                    file: file.to_path_buf(),
                    doc_index,
                    line: doc.start_line,
                });
                (name, problem)
            }
            Typed::CronJob(cronjob) => {
                let name = cronjob.metadata.name.as_str().to_owned();
                // Its Jobs are NAME-<unix seconds>: 11 more characters in a 63-character name.
                let problem = (name.len() > 52).then(|| {
                    let message = format!(
                        "metadata.name: a CronJob's name is at most 52 characters (its Jobs are \
                         named NAME-<time>, as in Kubernetes), {name:?} has {}; shorten it",
                        name.len()
                    );
                    (at(&[Seg::Key("metadata"), Seg::Key("name")]), message)
                });
                let job_spec = &cronjob.spec.job_template.spec;
                let problem = problem.or_else(|| {
                    // Its Jobs' own `dependsOn`, under spec.jobTemplate.spec.
                    let p = super::depends::check_job_own(&name, &job_spec.depends_on)?;
                    let mut full = CRON_JOB_SPEC.to_vec();
                    full.extend(p.path.iter().skip(1).copied());
                    let message = match p.message.strip_prefix("spec.") {
                        Some(rest) => format!("spec.jobTemplate.spec.{rest}"),
                        None => p.message,
                    };
                    Some((at(&full), message))
                });
                let problem = problem.or_else(|| {
                    // The Job's checks, pointing under spec.jobTemplate.spec.template.
                    let template = &cronjob.spec.job_template.spec.template;
                    let deeper = |path: &[Seg<'_>]| {
                        let mut full = CRON_JOB_SPEC.to_vec();
                        full.extend(path.iter().skip(1).copied());
                        at(&full)
                    };
                    check_template(&cronjob.metadata, template, &deeper).map(|(place, m)| {
                        let m = match m.strip_prefix("spec.") {
                            Some(rest) => format!("spec.jobTemplate.spec.{rest}"),
                            None => m,
                        };
                        (place, m)
                    })
                });
                out.cronjobs.push(LocatedCronJob {
                    cronjob,
                    file: file.to_path_buf(),
                    doc_index,
                    line: doc.start_line,
                });
                (name, problem)
            }
        };
        if let Some(((line, column), message)) = problem {
            return Err(err(line, column, message));
        }
        if let Some((first_line, first_kind)) = names.insert(name.clone(), (doc.start_line, kind)) {
            let (line, column) = at(&[Seg::Key("metadata"), Seg::Key("name")]);
            let first = match first_kind {
                Kind::App => String::new(),
                other => format!(" (as a {})", other.as_str()),
            };
            return Err(err(
                line,
                column,
                format!(
                    "metadata.name: {} {name:?} is already defined in this file at line {first_line}{first}; \
                     names are unique across Apps, Jobs and CronJobs: rename one of them",
                    kind_word(kind)
                ),
            ));
        }
    }
    Ok(out)
}

/// Where a CronJob's Job spec is.
const CRON_JOB_SPEC: [Seg<'static>; 3] =
    [Seg::Key("spec"), Seg::Key("jobTemplate"), Seg::Key("spec")];

/// A document deserialized as its kind.
enum Typed {
    App(App),
    Job(Job),
    CronJob(CronJob),
}

/// Deserializes `body` as `kind`; on error, the error and its message for people.
fn typed_document(
    body: &str,
    kind: Kind,
    base: usize,
) -> Result<Typed, (serde_yaml::Error, String)> {
    let result = match kind {
        Kind::App => serde_yaml::from_str(body).map(Typed::App),
        Kind::Job => serde_yaml::from_str(body).map(Typed::Job),
        Kind::CronJob => serde_yaml::from_str(body).map(Typed::CronJob),
    };
    result.map_err(|e| {
        let message = yaml_message(&e, base);
        (e, message)
    })
}

/// How an error names a kind: `app` as it always did, `Job` and `CronJob` as written.
fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::App => "app",
        other => other.as_str(),
    }
}

/// The App checks of a Job's template, pointing under `spec.template`.
fn check_template(
    metadata: &Metadata,
    template: &AppSpec,
    at: &dyn Fn(&[Seg<'_>]) -> (usize, usize),
) -> Option<((usize, usize), String)> {
    let app = App {
        api_version: ApiVersion::V1,
        kind: Kind::App,
        metadata: metadata.clone(),
        spec: template.clone(),
    };
    let under = |path: &[Seg<'_>], message: String| {
        let mut full = vec![Seg::Key("spec"), Seg::Key("template")];
        full.extend(path.iter().skip(1).copied());
        let message = match message.strip_prefix("spec.") {
            Some(rest) => format!("spec.template.{rest}"),
            None => message,
        };
        (at(&full), message)
    };
    if let Some(p) = validate::check(&app) {
        return Some(under(&p.path, p.message));
    }
    super::exec_limits::oversized(&app).map(|(path, message)| under(&path, message))
}

/// The dotted parent path of a "missing field" error (`spec` in `spec: missing field ...`).
fn missing_field_parent(message: &str) -> Option<&str> {
    let (path, rest) = message.split_once(": ")?;
    rest.starts_with("missing field").then_some(path)
}

/// serde_yaml's message without its own ` at line L column C` marks (we report the location
/// separately); other marks in it are shifted by `base` lines to be relative to the file.
fn yaml_message(e: &serde_yaml::Error, base: usize) -> String {
    let text = e.to_string();
    let own = e.location().map(|l| (l.line(), l.column()));
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(pos) = rest.find(" at line ") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + " at line ".len()..];
        let (mark, tail) = split_mark(after);
        match mark {
            Some(m) if Some(m) == own => {}
            Some((l, c)) => out.push_str(&format!(" at line {} column {c}", l + base)),
            None => out.push_str(" at line "),
        }
        rest = tail;
    }
    out.push_str(rest);
    // `apiVersion: apiVersion must be ...` reads better once.
    if let Some((path, msg)) = out.split_once(": ") {
        if msg.strip_prefix(path).is_some_and(|r| r.starts_with(' ')) {
            return msg.to_owned();
        }
    }
    if out.contains("expected map with a single key") {
        out.push_str("; write each step as its own list item: `- setWeight: 10` or `- pause: {}`");
    }
    if out.contains("missing field") {
        out.push_str("; add it, it is required");
    }
    if let Some(guess) = did_you_mean(&out) {
        out.push_str(&format!("; did you mean `{guess}`?"));
    }
    out
}

/// For an unknown-field or unknown-variant message, the listed name closest to the one given.
fn did_you_mean(message: &str) -> Option<&str> {
    let start = message.find("unknown ")?;
    let mut names = message[start..].split('`').skip(1).step_by(2);
    let given = names.next()?;
    names
        .map(|n| (edit_distance(given, n), n))
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance, ASCII-case-insensitive, for typo suggestions.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Reads `N column M` from the start of `s`; returns the mark and the text after it.
fn split_mark(s: &str) -> (Option<(usize, usize)>, &str) {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = digits(s);
    let Some(after) = s[n..].strip_prefix(" column ") else {
        return (None, s);
    };
    let m = digits(after);
    match (s[..n].parse(), after[..m].parse()) {
        (Ok(l), Ok(c)) => (Some((l, c)), &after[m..]),
        _ => (None, s),
    }
}

/// The 1-based line and column of `path` in document `doc_index` of a file's text, relative
/// to the file (e.g. to point at `metadata.name` when two files define the same app).
pub fn locate_in_file(text: &str, doc_index: usize, path: &[Seg<'_>]) -> Option<(usize, usize)> {
    let doc = documents(text).into_iter().nth(doc_index)?;
    locate(&text[doc.range], path).map(|(l, c)| (l + doc.start_line - 1, c))
}

/// Reads and parses one manifest file; its Apps (see [`parse_str`]).
pub fn parse_file(path: &Path) -> Result<Vec<Located>, ManifestError> {
    parse_file_all(path).map(|parsed| parsed.apps)
}

/// Reads and parses one manifest file, every kind.
pub fn parse_file_all(path: &Path) -> Result<Parsed, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
    })?;
    parse_all(path, &text)
}

/// Whether a path names a manifest: `*.yaml`/`*.yml`, not hidden, not an editor temp file.
pub fn is_manifest_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.')
        && !name.starts_with('#')
        && !name.ends_with('~')
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
