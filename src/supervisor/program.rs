//! Finding an instance's program in its own `PATH` before spawning it.
//!
//! The standard library can only start a process with `posix_spawn` (a vfork: no copy of the
//! controller's page tables) when it need not search a `PATH` other than the controller's; an
//! instance's environment is its own, so a bare name like `node` made every start a full
//! `fork`. Searching here, as `execvp` would in the child, keeps starts cheap with many
//! instances.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The executable `program` names when looked up in `path` (the instance's `PATH`), as
/// `execvp` would find it; None when the lookup is better left to `execvp` itself (a name
/// with a `/`, no `PATH`, a relative `PATH` entry met before a match, nothing found).
pub fn resolve(program: &str, path: Option<&str>) -> Option<PathBuf> {
    if program.is_empty() || program.contains('/') {
        return None;
    }
    for dir in path?.split(':') {
        let dir = Path::new(dir);
        if !dir.is_absolute() {
            return None; // relative to the child's cwd (or "": the cwd itself)
        }
        let candidate = dir.join(program);
        let executable = std::fs::metadata(&candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if executable {
            return Some(candidate);
        }
    }
    None
}

/// The value of `PATH` in `env` (the last one wins, as when the variables are applied in turn).
pub fn path_of(env: &[(String, String)]) -> Option<&str> {
    env.iter()
        .rev()
        .find(|(k, _)| OsStr::new(k) == "PATH")
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_in_the_first_directory_that_has_it_executable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, second) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&first).expect("mkdir");
        std::fs::create_dir_all(&second).expect("mkdir");
        // Not executable in `a`: skipped, as execvp does.
        std::fs::write(first.join("tool"), "").expect("write");
        std::fs::write(second.join("tool"), "").expect("write");
        let exec = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(second.join("tool"), exec).expect("chmod");
        let path = format!("/nonexistent:{}:{}", first.display(), second.display());
        assert_eq!(resolve("tool", Some(&path)), Some(second.join("tool")));
        assert_eq!(resolve("other", Some(&path)), None);
    }

    #[test]
    fn leaves_paths_and_relative_entries_to_execvp() {
        assert_eq!(resolve("./run.sh", Some("/bin:/usr/bin")), None);
        assert_eq!(resolve("/bin/sh", Some("/bin:/usr/bin")), None);
        assert_eq!(resolve("sh", Some("bin:/bin:/usr/bin")), None);
        assert_eq!(resolve("sh", Some(":/bin:/usr/bin")), None);
        assert_eq!(resolve("sh", None), None);
        assert!(resolve("sh", Some("/nonexistent:/bin:/usr/bin")).is_some());
    }

    #[test]
    fn the_last_path_in_the_environment_wins() {
        let env = vec![
            ("PATH".to_string(), "/a".to_string()),
            ("HOME".to_string(), "/h".to_string()),
            ("PATH".to_string(), "/b".to_string()),
        ];
        assert_eq!(path_of(&env), Some("/b"));
        assert_eq!(path_of(&[]), None);
    }
}
