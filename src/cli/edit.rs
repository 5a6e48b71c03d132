//! Editing one app's manifest in place for `scale`, `stop`, `start` and `rollout undo`:
//! a targeted change to one `spec` field keeps the user's comments and layout; anything the
//! targeted edit cannot do safely falls back to rewriting that one document.

use std::path::Path;

use anyhow::{bail, Context};

use super::atomic_write::{ensure_unchanged, write_atomic};
use super::manifests_dir::{keep_modeline, parse_documents, replace_documents, Directory};
use crate::manifest::App;

/// What an edit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    /// The file was rewritten.
    Configured,
    /// The app already was as asked.
    Unchanged,
}

/// Changes app `name` in `dir` with `change`; `field` is the `spec` key and YAML value to try as a
/// targeted text edit first (e.g. `("instances", "3")`).
pub fn edit_app(
    dir: &Path,
    name: &str,
    field: Option<(&str, &str)>,
    change: impl FnOnce(&mut App),
) -> anyhow::Result<Edited> {
    let existing = Directory::scan(dir)?;
    let Some((f, d)) = existing.find(name)? else {
        bail!(
            "app {name:?} is not defined in any manifest in {}: corral get lists apps",
            dir.display()
        );
    };
    let file = &existing.files[f];
    let doc = &file.documents[d];
    let mut wanted = doc.app.clone();
    change(&mut wanted);
    if wanted == doc.app {
        return Ok(Edited::Unchanged);
    }
    let old_text = &file.text[doc.range.clone()];
    let targeted = field.and_then(|(key, value)| set_spec_field(old_text, key, value));
    let new_doc = match targeted.filter(|t| reparses_to(&file.path, t, &wanted)) {
        Some(text) => text,
        None => {
            let yaml =
                serde_yaml::to_string(&wanted).context("cannot write the manifest as YAML")?;
            keep_modeline(old_text, &yaml)
        }
    };
    let text = replace_documents(&file.text, vec![(doc.range.clone(), new_doc)]);
    ensure_unchanged(&file.path, &file.text)?;
    write_atomic(&file.path, &text)?;
    Ok(Edited::Configured)
}

/// Whether `text` parses to exactly `wanted`.
fn reparses_to(path: &Path, text: &str, wanted: &App) -> bool {
    matches!(parse_documents(path, text).as_deref(), Ok([doc]) if doc.app == *wanted)
}

/// Sets `spec.KEY: VALUE` in a block-style document, keeping every other line as written.
/// `None` when `spec` is not a block mapping (the caller rewrites the document instead).
pub fn set_spec_field(doc: &str, key: &str, value: &str) -> Option<String> {
    let lines: Vec<&str> = doc.split_inclusive('\n').collect();
    let spec = lines.iter().position(|l| {
        let t = l.trim_end();
        t == "spec:" || t.starts_with("spec:") && t["spec:".len()..].trim_start().starts_with('#')
    })?;
    let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let is_content = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let first_child = lines[spec + 1..].iter().find(|l| is_content(l))?;
    let indent = indent_of(first_child);
    if indent == 0 {
        return None;
    }
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let prefix = format!("{key}:");
    for (i, line) in lines.iter().enumerate().skip(spec + 1) {
        if !is_content(line) {
            continue;
        }
        let line_indent = indent_of(line);
        if line_indent < indent {
            break;
        }
        let rest = &line[line_indent..];
        if line_indent == indent && rest.starts_with(&prefix) {
            let newline = if line.ends_with('\n') { "\n" } else { "" };
            out[i] = format!("{}{prefix} {value}{newline}", " ".repeat(indent));
            return Some(out.concat());
        }
    }
    out.insert(
        spec + 1,
        format!("{}{prefix} {value}\n", " ".repeat(indent)),
    );
    Some(out.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_field_and_keeps_comments() {
        let doc = "kind: App\nspec:\n  # how many\n  instances: 2 # web\n  command: [x]\n";
        let out = set_spec_field(doc, "instances", "5").expect("edited");
        assert_eq!(
            out,
            "kind: App\nspec:\n  # how many\n  instances: 5\n  command: [x]\n"
        );
    }

    #[test]
    fn inserts_a_missing_field_at_the_spec_indent() {
        let doc = "spec:\n    command: [x]\nother: 1\n";
        let out = set_spec_field(doc, "suspend", "true").expect("edited");
        assert_eq!(
            out,
            "spec:\n    suspend: true\n    command: [x]\nother: 1\n"
        );
    }

    #[test]
    fn ignores_nested_keys_of_the_same_name() {
        let doc = "spec:\n  strategy:\n    instances: 9\n  command: [x]\n";
        let out = set_spec_field(doc, "instances", "1").expect("edited");
        assert_eq!(
            out,
            "spec:\n  instances: 1\n  strategy:\n    instances: 9\n  command: [x]\n"
        );
    }

    #[test]
    fn declines_flow_style_specs() {
        assert_eq!(
            set_spec_field("spec: {command: [x]}\n", "instances", "1"),
            None
        );
    }
}
