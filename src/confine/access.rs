//! Whether a user could reach a path, from the mode bits of the path and every folder above it
//! (what the kernel checks, ACLs and capabilities aside): for warnings before anything runs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Read permission.
pub const READ: u32 = 4;
/// Execute (search, for a folder) permission.
pub const EXEC: u32 = 1;

/// The credentials a permission check looks at.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// The supplementary groups.
    pub groups: &'a [u32],
}

impl Who<'_> {
    /// Whether the mode bits of `meta` give `want` (`READ`, `EXEC` or both) to this user.
    fn may(&self, meta: &std::fs::Metadata, want: u32) -> bool {
        let mode = meta.mode();
        if self.uid == 0 {
            // Root reads anything; it executes a file only when someone may.
            return want & EXEC == 0 || meta.is_dir() || mode & 0o111 != 0;
        }
        let bits = if meta.uid() == self.uid {
            mode >> 6
        } else if meta.gid() == self.gid || self.groups.contains(&meta.gid()) {
            mode >> 3
        } else {
            mode
        };
        bits & want == want
    }
}

/// The first path on the way to `path` (a folder above it, or itself) that `who` cannot pass,
/// `want` being what `path` itself needs; `None` when every step allows it or cannot be read.
pub fn blocked(path: &Path, who: Who<'_>, want: u32) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).ok()?;
    let mut above = PathBuf::from("/");
    for part in path.parent()?.components().skip(1) {
        above.push(part);
        let meta = std::fs::metadata(&above).ok()?;
        if !who.may(&meta, EXEC) {
            return Some(above);
        }
    }
    let meta = std::fs::metadata(&path).ok()?;
    (!who.may(&meta, want)).then_some(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_closed_folder_above_blocks_and_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let inner = tmp.path().join("app");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        let me = nix::unistd::Uid::effective().as_raw();
        let nobody = Who {
            uid: me.wrapping_add(54_321),
            gid: 54_321,
            groups: &[],
        };
        assert_eq!(
            blocked(&inner, nobody, READ | EXEC),
            Some(std::fs::canonicalize(tmp.path()).unwrap())
        );
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(blocked(&inner, nobody, READ | EXEC), None);
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(
            blocked(&inner, nobody, READ | EXEC),
            Some(std::fs::canonicalize(&inner).unwrap())
        );
        let member = Who {
            groups: &[std::fs::metadata(&inner).unwrap().gid()],
            ..nobody
        };
        assert_eq!(blocked(&inner, member, READ | EXEC), None);
    }
}
