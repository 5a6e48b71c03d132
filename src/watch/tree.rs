//! The directories one app's watch covers: each watched directory and its subdirectories,
//! except the ignored ones (a `node_modules` costs no inotify watch), each with its own
//! non-recursive watch; new directories join, deleted ones leave. Blocking: call it on the
//! blocking pool.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::burst::Burst;
use super::filter::Filter;

/// The directories watched and the watcher that holds their inotify watches.
pub struct Tree {
    watcher: RecommendedWatcher,
    watched: HashSet<PathBuf>,
}

impl Tree {
    /// A tree with nothing watched yet.
    pub fn new(watcher: RecommendedWatcher) -> Self {
        Tree {
            watcher,
            watched: HashSet::new(),
        }
    }

    /// Watches `dir` alone (the folder of a watched file).
    pub fn add_one(&mut self, dir: &Path) -> notify::Result<()> {
        if self.watched.insert(dir.to_path_buf()) {
            if let Err(e) = self.watcher.watch(dir, RecursiveMode::NonRecursive) {
                self.watched.remove(dir);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Watches `dir` and its subdirectories that `filter` does not ignore. With `burst`, the
    /// files found count as changes (a directory that just appeared brings them).
    ///
    /// Each directory is watched before it is listed: what appears in it after the watch comes
    /// as an event, what was there before is listed, and nothing falls between the two (a
    /// directory made between a listing and a later watch would never be seen).
    pub fn add(
        &mut self,
        dir: &Path,
        filter: &Mutex<Filter>,
        burst: Option<&Mutex<Burst>>,
    ) -> notify::Result<()> {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            match self.add_one(&d) {
                Ok(()) => {}
                // Gone again before it could be watched: nothing in it to see.
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            }
            let (dirs, files) = list(&d, filter);
            if let Some(b) = burst {
                let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
                for f in &files {
                    b.add(f);
                }
            }
            stack.extend(dirs);
        }
        Ok(())
    }

    /// Forgets `dir` and everything under it (deleted or moved away).
    pub fn forget(&mut self, dir: &Path) {
        let gone: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|d| d.starts_with(dir))
            .cloned()
            .collect();
        for d in gone {
            self.watched.remove(&d);
            // The kernel dropped the watch with the directory; this clears notify's map.
            let _ = self.watcher.unwatch(&d);
        }
    }

    /// Forgets the directories that no longer exist (after events were lost).
    pub fn forget_missing(&mut self) {
        let gone: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|d| !d.is_dir())
            .cloned()
            .collect();
        for d in gone {
            self.forget(&d);
        }
    }

    /// Whether `dir` is watched.
    pub fn contains(&self, dir: &Path) -> bool {
        self.watched.contains(dir)
    }

    /// How many directories are watched.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.watched.len()
    }
}

/// Whether a watch failed because its directory no longer exists.
fn vanished(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// The subdirectories of `dir` and the files in it that `filter` does not ignore (symlinks
/// not followed).
fn list(dir: &Path, filter: &Mutex<Filter>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (dirs, files);
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if filter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ignores(&path)
        {
            continue;
        }
        if kind.is_dir() {
            dirs.push(path);
        } else {
            files.push(path);
        }
    }
    (dirs, files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn ignored_directories_get_no_watch() {
        let tmp = tempfile::tempdir().unwrap();
        let app = tmp.path().canonicalize().unwrap().join("app");
        for d in ["src/lib", "node_modules/a/b", ".git/objects", "build"] {
            fs::create_dir_all(app.join(d)).unwrap();
        }
        fs::write(app.join(".gitignore"), "build/\n").unwrap();
        fs::write(app.join("src/lib/x.js"), "").unwrap();
        let filter =
            Mutex::new(Filter::new(std::slice::from_ref(&app), &[], &app.join(".corral")).unwrap());
        let watcher = notify::recommended_watcher(|_| {}).unwrap();
        let mut tree = Tree::new(watcher);
        let burst = Mutex::new(Burst::default());
        tree.add(&app, &filter, Some(&burst)).unwrap();
        assert_eq!(tree.len(), 3, "app, src, src/lib");
        assert!(tree.contains(&app.join("src/lib")));
        assert!(!tree.contains(&app.join("node_modules")));
        assert!(!tree.contains(&app.join("build")));
        let mut found = burst.lock().unwrap().take(&app).paths;
        found.sort();
        assert_eq!(found, [".gitignore", "src/lib/x.js"]);
        tree.forget(&app.join("src"));
        assert_eq!(tree.len(), 1);
        tree.add(&app, &filter, None).unwrap();
        fs::remove_dir_all(app.join("src")).unwrap();
        tree.forget_missing();
        assert_eq!(tree.len(), 1, "only app is left");
    }
}
