//! `logs.dir` that cannot hold logs: it, or a folder on its way, is a file.

use std::io;
use std::path::Path;

/// The first problem a look can tell: `dir`, or a folder on its way, exists and is not a folder.
pub fn problem(dir: &Path) -> Option<String> {
    let blocked = dir
        .ancestors()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))?;
    Some(format!(
        "spec.logs.dir: {} is not a directory, so no logs can be written in {}: remove it, or \
         point spec.logs.dir at a directory",
        blocked.display(),
        dir.display()
    ))
}

/// `err` from creating or claiming `dir`, as a sentence.
pub fn explain(err: &io::Error, dir: &Path) -> String {
    if let Some(problem) = problem(dir) {
        return problem;
    }
    match err.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "spec.logs.dir: permission denied creating or writing {}: give the controller's \
             user write access to it, or choose another spec.logs.dir",
            dir.display()
        ),
        // Already a sentence (another app's logs.dir).
        io::ErrorKind::Other => err.to_string(),
        _ => format!("spec.logs.dir: cannot prepare {}: {err}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_named() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("logs");
        std::fs::write(&file, "").expect("write");
        let p = problem(&file).expect("file");
        assert!(p.starts_with(&format!(
            "spec.logs.dir: {} is not a directory",
            file.display()
        )));
        let p = problem(&file.join("web")).expect("file on the way");
        assert!(
            p.contains(&format!("{} is not a directory", file.display())),
            "{p}"
        );
        assert_eq!(problem(tmp.path()), None);
        assert_eq!(problem(&tmp.path().join("new")), None);
    }
}
