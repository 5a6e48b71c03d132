//! Applying the trust rule to a real path: the path itself, then every directory above it,
//! both as written (where its symlinks live) and as resolved (where it really is).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{judge, Facts, Problem, Role, Trust, TrustError};

/// Checks `path` (a `role` of corral's) and the directories above it. Blocking I/O.
pub fn check(path: &Path, role: Role, trust: Trust) -> Result<(), TrustError> {
    if trust == Trust::Shared {
        return Ok(());
    }
    let uid = nix::unistd::geteuid().as_raw();
    let refuse = |at: &Path, problem| TrustError {
        path: at.to_path_buf(),
        role,
        above: (at != path).then(|| path.to_path_buf()),
        problem,
    };
    judge(facts(path).map_err(|p| refuse(path, p))?, uid, false).map_err(|p| refuse(path, p))?;
    let written = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let resolved = std::fs::canonicalize(path).map_err(|e| refuse(path, unreadable(e)))?;
    let mut seen = BTreeSet::<PathBuf>::new();
    for dir in [&written, &resolved]
        .into_iter()
        .flat_map(|p| p.ancestors().skip(1))
    {
        if !seen.insert(dir.to_path_buf()) {
            continue;
        }
        let f = facts(dir).map_err(|p| refuse(dir, p))?;
        judge(f, uid, true).map_err(|p| refuse(dir, p))?;
    }
    Ok(())
}

/// Checks a manifest file found in the (already checked) manifests directory: the file itself,
/// and, when it is a symlink, everything on the way to where it points. Blocking I/O.
pub fn check_manifest(file: &Path, trust: Trust) -> Result<(), TrustError> {
    if trust == Trust::Shared {
        return Ok(());
    }
    let is_link = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        return check(file, Role::Manifest, trust);
    }
    let uid = nix::unistd::geteuid().as_raw();
    let refuse = |problem| TrustError {
        path: file.to_path_buf(),
        role: Role::Manifest,
        above: None,
        problem,
    };
    judge(facts(file).map_err(refuse)?, uid, false).map_err(refuse)
}

/// Owner and mode of `path`, following symlinks.
fn facts(path: &Path) -> Result<Facts, Problem> {
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    Ok(Facts {
        uid: meta.uid(),
        mode: meta.mode() & 0o7777,
    })
}

fn unreadable(e: std::io::Error) -> Problem {
    Problem::Unreadable(e.to_string())
}
