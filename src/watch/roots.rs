//! Roots a watch may not take: the whole host, or the kernel's pseudo file systems.

use std::path::{Component, Path, PathBuf};

/// Kernel file systems: their files change without inotify events, and `/proc` holds a folder
/// per process of the host.
const PSEUDO: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why watching `path` would hurt the host, if it would. Only absolute paths are judged (a
/// relative one is judged again once joined to the app's `cwd`); `.` and `..` are resolved by
/// their spelling, which is what `validate` can see (the watcher checks the canonical path).
pub fn host_wide(path: &Path) -> Option<String> {
    if !path.is_absolute() {
        return None;
    }
    let mut plain = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(part) => plain.push(part),
            Component::ParentDir => {
                plain.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if plain == Path::new("/") {
        return Some(format!(
            "{} is the whole file system: the watch would walk every folder of the host and take \
             inotify watches from every other program of the user; watch the app's own folder \
             (e.g. [.] or [src])",
            path.display()
        ));
    }
    let root = PSEUDO.iter().find(|p| plain.starts_with(p))?;
    Some(format!(
        "{} is in {root}, a kernel file system whose files change without file events (and /proc \
         holds a folder per process); watch the app's own files instead",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_and_kernel_file_systems_are_refused_by_their_spelling() {
        for p in [
            "/",
            "/.",
            "/srv/..",
            "//",
            "/proc",
            "/sys/fs/cgroup",
            "/dev/",
            "/srv/../proc/1",
        ] {
            assert!(host_wide(Path::new(p)).is_some(), "{p}");
        }
        for p in [
            ".",
            "..",
            "src",
            "/srv/app",
            "/processes",
            "/device",
            "/home/me/proc",
        ] {
            assert_eq!(host_wide(Path::new(p)), None, "{p}");
        }
        let msg = host_wide(Path::new("/")).unwrap();
        assert!(
            msg.contains("whole file system") && msg.contains("[.]"),
            "{msg}"
        );
        let msg = host_wide(Path::new("/proc/self")).unwrap();
        assert!(msg.starts_with("/proc/self is in /proc"), "{msg}");
    }
}
