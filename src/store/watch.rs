//! Watches the manifests directory and wakes the controller when anything in it changes.

use std::path::Path;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Keeps the OS watch alive; dropping it stops watching.
pub struct DirWatch {
    _watcher: RecommendedWatcher,
}

/// Starts watching `dir` (not recursively). Each change sends `()` on `wake` unless a wake-up is
/// already pending: the controller reloads the whole directory anyway (level-triggered), and its
/// own debounce turns a burst (a `git checkout`) into one reload.
pub fn watch_dir(dir: &Path, wake: mpsc::Sender<()>) -> notify::Result<DirWatch> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.map(|e| !e.kind.is_access()).unwrap_or(true) {
            let _ = wake.try_send(());
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(DirWatch { _watcher: watcher })
}
