//! Every file in `tests/bad_manifests/` holds one mistake and a first line
//! `# expect: LINE:COLUMN FRAGMENT`: parsing must fail exactly there, with that text.

use std::path::{Path, PathBuf};

use corral::manifest::parse_file;

/// The expectation written on a bad manifest's first line.
struct Expect {
    /// 1-based line.
    line: usize,
    /// 1-based column.
    column: usize,
    /// Text the message must contain.
    fragment: String,
}

fn expectation(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let rest = first.strip_prefix("# expect: ").unwrap_or_else(|| {
        panic!(
            "{}: first line must be `# expect: L:C text`",
            path.display()
        )
    });
    let (loc, fragment) = rest.split_once(' ').unwrap();
    let (line, column) = loc.split_once(':').unwrap();
    Expect {
        line: line.parse().unwrap(),
        column: column.parse().unwrap(),
        fragment: fragment.to_owned(),
    }
}

fn bad_manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn there_are_enough_bad_manifests() {
    assert!(
        bad_manifests().len() >= 15,
        "want at least 15 bad manifests"
    );
}

#[test]
fn each_bad_manifest_fails_where_and_how_it_says() {
    let mut failures = Vec::new();
    for path in bad_manifests() {
        let want = expectation(&path);
        match parse_file(&path) {
            Ok(apps) => failures.push(format!("{}: parsed ({} apps)", path.display(), apps.len())),
            Err(e) => {
                let shown = e.to_string();
                let prefix = format!("{}:{}:{}: ", path.display(), want.line, want.column);
                if !shown.starts_with(&prefix) || !e.message.contains(&want.fragment) {
                    failures.push(format!(
                        "{}: want {}:{} containing {:?}, got {shown}",
                        path.display(),
                        want.line,
                        want.column,
                        want.fragment
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_message_is_one_line_without_serde_positions() {
    for path in bad_manifests() {
        let e = parse_file(&path).unwrap_err();
        assert!(!e.message.contains('\n'), "{e}");
        assert!(!e.message.contains(" column "), "{e}");
        assert!(e.line > 0 && e.column > 0, "{e}");
    }
}
