//! GitOps: which commit of its git work tree the manifests directory is at (README "GitOps"),
//! read with gitoxide (no `git` process, no hand parsing of `.git`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The commit a manifests directory was read at, Argo CD's "synced to abc123".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCommit {
    /// Abbreviated hash (7 hex digits, as git prints it).
    pub short: String,
    /// The full hash.
    pub hash: String,
    /// The first line of the commit message.
    pub subject: String,
    /// Whether tracked files differ from the commit (staged or not), as `git describe --dirty`
    /// says it; a new file git does not track yet does not count.
    pub dirty: bool,
}

impl std::fmt::Display for AppliedCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.short, self.subject)?;
        if self.dirty {
            f.write_str(" (dirty)")?;
        }
        Ok(())
    }
}

/// The commit `dir` is at, if `dir` is inside a git work tree; `Err` says why it could not be
/// read (a repository without commits, a broken object store). Blocking: reads the repository.
pub fn applied_commit(dir: &Path) -> Option<Result<AppliedCommit, String>> {
    use gix::discover::upwards::Error as Upwards;
    if let Err(e) = gix::discover::upwards(dir) {
        let none_found = matches!(
            e.downcast_any_ref::<Upwards>(),
            Some(
                Upwards::NoGitRepository { .. }
                    | Upwards::NoGitRepositoryWithinCeiling { .. }
                    | Upwards::NoGitRepositoryWithinFs { .. }
            )
        );
        return (!none_found).then(|| Err(format!("cannot look for a git repository: {e}")));
    }
    let repo = match gix::discover(dir) {
        Ok(repo) => repo,
        Err(e) => return Some(Err(format!("cannot open the git repository: {e}"))),
    };
    repo.workdir()?;
    Some(read(&repo))
}

fn read(repo: &gix::Repository) -> Result<AppliedCommit, String> {
    let commit = repo
        .head_commit()
        .map_err(|e| format!("cannot read HEAD's commit: {e}"))?;
    let hash = commit.id().to_string();
    let message = commit
        .message_raw()
        .map_err(|e| format!("cannot read commit {hash}: {e}"))?;
    let subject = String::from_utf8_lossy(message.as_ref())
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let dirty = repo
        .is_dirty()
        .map_err(|e| format!("cannot compare the work tree with commit {hash}: {e}"))?;
    Ok(AppliedCommit {
        short: hash[..7.min(hash.len())].to_owned(),
        hash,
        subject,
        dirty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs `git ARGS` in `dir` (test set-up only: corral itself never runs git).
    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_directory_outside_git_has_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(applied_commit(dir.path()), None);
    }

    #[test]
    fn the_commit_its_subject_and_whether_tracked_files_changed() {
        let dir = tempfile::tempdir().unwrap();
        let manifests = dir.path().join("manifests");
        std::fs::create_dir(&manifests).unwrap();
        git(dir.path(), &["init", "-q"]);
        assert!(
            matches!(applied_commit(&manifests), Some(Err(ref e)) if e.contains("HEAD")),
            "a repository without commits is an error"
        );
        std::fs::write(manifests.join("a.yaml"), "x: 1\n").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "Add app a\n\nbody"]);
        let c = applied_commit(&manifests).unwrap().unwrap();
        assert_eq!(c.subject, "Add app a");
        assert_eq!(c.short.len(), 7);
        assert!(c.hash.starts_with(&c.short));
        assert!(!c.dirty);
        std::fs::write(manifests.join("b.yaml"), "new: 1\n").unwrap();
        assert!(
            !applied_commit(&manifests).unwrap().unwrap().dirty,
            "untracked files do not count"
        );
        std::fs::write(manifests.join("a.yaml"), "x: 2\n").unwrap();
        let dirty = applied_commit(&manifests).unwrap().unwrap();
        assert!(dirty.dirty);
        assert_eq!(
            dirty.to_string(),
            format!("{} \"Add app a\" (dirty)", c.short)
        );
    }
}
