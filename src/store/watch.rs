//! Watches the manifests directory, through the symlinks that lead to it, and wakes the
//! controller when anything there changes (README "GitOps").
//!
//! GitOps tools publish a new revision beside the old one and swap a symlink (git-sync's
//! `--link`, Kubernetes' `..data`): the path is resolved again on every read, and the folder
//! holding each symlink on the way is watched too, so a swap is a change like any edit.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How many symlinks a path may go through (Linux's own limit).
const MAX_HOPS: usize = 40;

/// Keeps the OS watches alive; dropping it stops watching.
pub struct DirWatch {
    watcher: RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
}

/// What a manifests path leads to now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The directory it resolves to, if it does.
    pub dir: Option<PathBuf>,
    /// Folders to watch: the directory itself, the folder of each symlink on the way, and
    /// when the path is broken the deepest folder that exists (to see it come back).
    pub watch: BTreeSet<PathBuf>,
}

impl DirWatch {
    /// A watch that sends `()` on `wake` on every change unless a wake-up is already pending:
    /// the controller reloads the whole directory anyway (level-triggered), and its own
    /// debounce turns a burst (a `git checkout`) into one reload.
    pub fn new(wake: mpsc::Sender<()>) -> notify::Result<DirWatch> {
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.map(|e| !e.kind.is_access()).unwrap_or(true) {
                let _ = wake.try_send(());
            }
        })?;
        Ok(DirWatch {
            watcher,
            watched: BTreeSet::new(),
        })
    }

    /// Watches what `path` leads to now (blocking: adds inotify watches); call after every
    /// read, since a swapped symlink changes it. Returns where it leads.
    pub fn follow(&mut self, path: &Path) -> Resolved {
        let resolved = resolve(path);
        for gone in self.watched.difference(&resolved.watch) {
            let _ = self.watcher.unwatch(gone);
        }
        let mut watched = BTreeSet::new();
        for dir in &resolved.watch {
            if self.watched.contains(dir) {
                watched.insert(dir.clone());
                continue;
            }
            match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    watched.insert(dir.clone());
                }
                Err(e) => tracing::warn!(dir = %dir.display(), "cannot watch: {e}"),
            }
        }
        self.watched = watched;
        resolved
    }
}

/// Resolves `path` (absolute) a component at a time, noting the folder of every symlink.
pub fn resolve(path: &Path) -> Resolved {
    let mut watch = BTreeSet::new();
    let mut pending: VecDeque<OsString> = VecDeque::new();
    let mut cur = PathBuf::from("/");
    push_front(&mut pending, path, &mut cur);
    let mut hops = 0;
    while let Some(name) = pending.pop_front() {
        match name.to_str() {
            Some("..") => {
                cur.pop();
                continue;
            }
            Some(".") => continue,
            _ => {}
        }
        let next = cur.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                watch.insert(cur.clone());
                match std::fs::read_link(&next) {
                    Ok(target) if hops <= MAX_HOPS => push_front(&mut pending, &target, &mut cur),
                    _ => return Resolved { dir: None, watch },
                }
            }
            Ok(meta) if meta.is_dir() => cur = next,
            _ => {
                watch.insert(cur);
                return Resolved { dir: None, watch };
            }
        }
    }
    watch.insert(cur.clone());
    Resolved {
        dir: Some(cur),
        watch,
    }
}

/// Puts `path`'s components before the pending ones; an absolute path restarts at `/`.
fn push_front(pending: &mut VecDeque<OsString>, path: &Path, cur: &mut PathBuf) {
    let mut front = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir => {
                *cur = PathBuf::from("/");
                front.clear();
            }
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => front.push(OsString::from("..")),
            Component::Normal(n) => front.push(n.to_owned()),
        }
    }
    for name in front.into_iter().rev() {
        pending.push_front(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_plain_directory_is_watched_as_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap().join("m");
        std::fs::create_dir(&dir).unwrap();
        let r = resolve(&dir);
        assert_eq!(r.dir.as_deref(), Some(dir.as_path()));
        assert_eq!(r.watch, BTreeSet::from([dir]));
    }

    #[test]
    fn symlinks_on_the_way_are_followed_and_their_folders_watched() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("repo/.worktrees/abc/manifests")).unwrap();
        symlink(".worktrees/abc", root.join("repo/current")).unwrap();
        symlink("repo/current/manifests", root.join("m")).unwrap();
        let r = resolve(&root.join("m"));
        let target = root.join("repo/.worktrees/abc/manifests");
        assert_eq!(r.dir.as_deref(), Some(target.as_path()));
        assert_eq!(
            r.watch,
            BTreeSet::from([root.clone(), root.join("repo"), target])
        );
    }

    #[test]
    fn a_broken_path_watches_the_deepest_folder_that_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        symlink("gone", root.join("current")).unwrap();
        let r = resolve(&root.join("current/manifests"));
        assert_eq!(r.dir, None);
        assert_eq!(r.watch, BTreeSet::from([root]));
    }

    #[test]
    fn a_symlink_loop_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        assert_eq!(resolve(&root.join("a")).dir, None);
    }
}
