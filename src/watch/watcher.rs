//! One app's watch: a notify watcher on the app's [`Tree`] of directories, whose events go
//! through the filter into a burst, and a task that debounces bursts into
//! [`Report::Triggered`] messages and keeps the tree in step with directories that come and go.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{EventKind, ModifyKind, RemoveKind, RenameMode};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::burst::{Burst, Trigger};
use super::failure;
use super::filter::Filter;
use super::tree::Tree;

/// A burst that never goes quiet still triggers after this many debounce periods.
const MAX_WAIT_FACTOR: u32 = 10;
/// Directories that appeared or went, queued for the tree; past this, the tree is walked anew.
const DIR_QUEUE: usize = 1024;

/// What an app's watch resolved to: absolute paths, globs, quiet time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// The app's working directory (paths are shown relative to it).
    pub cwd: PathBuf,
    /// The watched paths, `cwd` joined with each of `watch.paths`.
    pub paths: Vec<PathBuf>,
    /// The manifest's `watch.ignore` globs (added to the built-in ones).
    pub ignore: Vec<String>,
    /// Quiet time before a burst triggers.
    pub debounce: Duration,
}

/// What an app's watch tells the controller.
#[derive(Debug)]
pub enum Report {
    /// Every path is watched.
    Watching,
    /// A burst of changes is over: reload.
    Triggered(Trigger),
    /// The watch could not start or broke; the app keeps running unwatched.
    Failed(String),
}

/// A report, tagged with the app and the generation of its watch (stale ones are dropped).
#[derive(Debug)]
pub struct Message {
    /// The app.
    pub app: String,
    /// Which watch of the app sent it.
    pub generation: u64,
    /// What happened.
    pub report: Report,
}

/// A directory that appeared (watch it and what is under it) or went (forget it).
#[derive(Debug)]
enum DirChange {
    Added(PathBuf),
    Gone(PathBuf),
}

/// What notify's thread and the task share.
struct Shared {
    filter: Mutex<Filter>,
    burst: Mutex<Burst>,
    /// The directory queue overflowed: walk every root again.
    rescan: AtomicBool,
    /// The watched paths, canonical.
    roots: Vec<PathBuf>,
}

/// Watches `spec` for `app` until `stop`, reporting on `out`. The blocking parts (resolving
/// paths, walking the trees, adding inotify watches) run on the blocking pool.
pub async fn run(
    app: String,
    generation: u64,
    spec: WatchSpec,
    home: PathBuf,
    out: mpsc::Sender<Message>,
    stop: CancellationToken,
) {
    // Every send gives up on `stop`: the controller may have stopped reading.
    let send = |report| {
        let (out, stop) = (out.clone(), stop.clone());
        let msg = Message {
            app: app.clone(),
            generation,
            report,
        };
        async move {
            tokio::select! {
                _ = stop.cancelled() => Err(()),
                sent = out.send(msg) => sent.map_err(|_| ()),
            }
        }
    };
    let (wake_tx, mut wake) = mpsc::channel::<()>(1);
    let (dirs_tx, mut dirs) = mpsc::channel::<DirChange>(DIR_QUEUE);
    let (cwd, debounce) = (spec.cwd.clone(), spec.debounce);
    let started = tokio::task::spawn_blocking(move || start(&spec, &home, wake_tx, dirs_tx)).await;
    let (shared, tree) = match started {
        Ok(Ok(started)) => started,
        Ok(Err(message)) => {
            let _ = send(Report::Failed(message)).await;
            return;
        }
        Err(e) => {
            let _ = send(Report::Failed(format!("the watch task failed: {e}"))).await;
            return;
        }
    };
    if send(Report::Watching).await.is_err() {
        return;
    }
    // (quiet deadline, cap) of the burst in progress.
    let mut due: Option<(Instant, Instant)> = None;
    loop {
        let fire_at = due.map(|(quiet, cap)| quiet.min(cap));
        tokio::select! {
            _ = stop.cancelled() => return,
            woke = wake.recv() => {
                if woke.is_none() {
                    return;
                }
                let now = Instant::now();
                let cap = due.map_or(now + debounce * MAX_WAIT_FACTOR, |(_, cap)| cap);
                due = Some((now + debounce, cap));
            }
            Some(change) = dirs.recv() => {
                let (shared, tree) = (shared.clone(), tree.clone());
                let _ = tokio::task::spawn_blocking(move || follow(&shared, &tree, change)).await;
            }
            _ = sleep_until(fire_at.unwrap_or_else(Instant::now)), if fire_at.is_some() => {
                due = None;
                let (trigger, failed) = {
                    let mut b = shared.burst.lock().unwrap_or_else(|p| p.into_inner());
                    let failed = b.failed.take();
                    let trigger = (!b.is_empty()).then(|| b.take(&cwd));
                    (trigger, failed)
                };
                if let Some(t) = trigger {
                    if send(Report::Triggered(t)).await.is_err() {
                        return;
                    }
                }
                if let Some(message) = failed {
                    let _ = send(Report::Failed(message)).await;
                    return;
                }
            }
        }
    }
}

/// Keeps the tree in step with a directory that came or went (blocking). A watch that cannot
/// be added for the inotify limit ends the app's watch, reported after the burst.
fn follow(shared: &Shared, tree: &Mutex<Tree>, change: DirChange) {
    let mut tree = tree.lock().unwrap_or_else(|p| p.into_inner());
    let result = match change {
        DirChange::Gone(dir) => {
            tree.forget(&dir);
            Ok(())
        }
        DirChange::Added(dir) => {
            let ignored = || {
                let mut filter = shared.filter.lock().unwrap_or_else(|p| p.into_inner());
                filter.ignores(&dir)
            };
            if tree.contains(&dir) || ignored() {
                Ok(())
            } else {
                tree.add(&dir, &shared.filter, Some(&shared.burst))
            }
        }
    };
    let result = result.and_then(|()| {
        if shared.rescan.swap(false, Ordering::Relaxed) {
            tree.forget_missing();
            for root in shared.roots.iter().filter(|r| r.is_dir()) {
                tree.add(root, &shared.filter, None)?;
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        let first = shared.roots.first().cloned().unwrap_or_default();
        let message = failure::explain(&e, &first, failure::max_user_watches());
        shared
            .burst
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failed = Some(message);
    }
}

/// Resolves the paths, starts the watcher and watches the trees (blocking).
fn start(
    spec: &WatchSpec,
    home: &Path,
    wake: mpsc::Sender<()>,
    dirs: mpsc::Sender<DirChange>,
) -> Result<(Arc<Shared>, Arc<Mutex<Tree>>), String> {
    let mut roots = Vec::new();
    for p in &spec.paths {
        let canonical = p
            .canonicalize()
            .map_err(|e| failure::explain(&notify::Error::io_watch(e), p, None))?;
        if let Some(why) = super::host_wide(&canonical) {
            return Err(format!("cannot watch {}: {why}", p.display()));
        }
        roots.push(canonical);
    }
    let home = home.canonicalize().unwrap_or_else(|_| home.to_path_buf());
    let shared = Arc::new(Shared {
        filter: Mutex::new(Filter::new(&roots, &spec.ignore, &home)?),
        burst: Mutex::new(Burst::default()),
        rescan: AtomicBool::new(false),
        roots: roots.clone(),
    });
    let first_root = roots.first().cloned().unwrap_or_default();
    let on_event = shared.clone();
    let handler = move |res: notify::Result<notify::Event>| {
        let shared = &on_event;
        let event = match res {
            Ok(event) if event.kind.is_access() => return,
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("watching {}: {e}", first_root.display());
                return;
            }
        };
        let mut counted = false;
        for (i, path) in event.paths.iter().enumerate() {
            if let Some(change) = dir_change(&event.kind, i, path) {
                if dirs.try_send(change).is_err() {
                    shared.rescan.store(true, Ordering::Relaxed);
                }
            }
            let ignored = shared
                .filter
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .ignores(path);
            if !ignored {
                let mut b = shared.burst.lock().unwrap_or_else(|p| p.into_inner());
                b.add(path);
                counted = true;
            }
        }
        if event.need_rescan() {
            shared.rescan.store(true, Ordering::Relaxed);
            let mut b = shared.burst.lock().unwrap_or_else(|p| p.into_inner());
            b.add(&first_root);
            counted = true;
        }
        if counted {
            let _ = wake.try_send(());
        }
    };
    let watcher =
        notify::recommended_watcher(handler).map_err(|e| failure::explain(&e, &spec.cwd, None))?;
    let mut tree = Tree::new(watcher);
    for (path, is_dir) in targets(&roots) {
        let added = if is_dir {
            tree.add(&path, &shared.filter, None)
        } else {
            tree.add_one(&path)
        };
        added.map_err(|e| failure::explain(&e, &path, failure::max_user_watches()))?;
    }
    Ok((shared, Arc::new(Mutex::new(tree))))
}

/// Whether the `i`th path of an event of `kind` is a directory that appeared or went.
fn dir_change(kind: &EventKind, i: usize, path: &Path) -> Option<DirChange> {
    let appeared = match kind {
        EventKind::Create(_) => true,
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => true,
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => i == 1,
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => false,
        EventKind::Modify(ModifyKind::Name(_)) => path.exists(),
        // A deleted file needs no bookkeeping; a deleted directory (or one of unknown kind) does.
        EventKind::Remove(RemoveKind::File) => return None,
        EventKind::Remove(_) => false,
        _ => return None,
    };
    if appeared {
        path.is_dir().then(|| DirChange::Added(path.to_path_buf()))
    } else {
        Some(DirChange::Gone(path.to_path_buf()))
    }
}

/// What to watch: each directory with its subdirectories; a file through its folder (an
/// editor's write-and-rename save replaces the file's inode, and a watch on the inode would go
/// with it), unless a watched directory already covers that folder. `true`: a tree. Blocking.
fn targets(roots: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    let dirs: Vec<&PathBuf> = roots.iter().filter(|r| r.is_dir()).collect();
    let mut out: Vec<(PathBuf, bool)> = dirs.iter().map(|d| ((*d).clone(), true)).collect();
    for file in roots.iter().filter(|r| !r.is_dir()) {
        let parent = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        let covered =
            dirs.iter().any(|d| parent.starts_with(d)) || out.iter().any(|(p, _)| *p == parent);
        if !covered {
            out.push((parent, false));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_watched_through_their_folder_once() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        std::fs::create_dir_all(base.join("src")).unwrap();
        std::fs::create_dir_all(base.join("conf")).unwrap();
        for f in ["src/a.js", "conf/a.yaml", "conf/b.yaml"] {
            std::fs::write(base.join(f), "").unwrap();
        }
        let roots = [
            base.join("src"),
            base.join("src/a.js"),
            base.join("conf/a.yaml"),
            base.join("conf/b.yaml"),
        ];
        let got = targets(&roots);
        assert_eq!(got, [(base.join("src"), true), (base.join("conf"), false)]);
    }

    #[test]
    fn directories_that_come_and_go_are_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let create = EventKind::Create(notify::event::CreateKind::Folder);
        assert!(matches!(
            dir_change(&create, 0, &dir),
            Some(DirChange::Added(_))
        ));
        let file = tmp.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(
            dir_change(&create, 0, &file).is_none(),
            "a new file is no directory"
        );
        let gone = EventKind::Remove(notify::event::RemoveKind::Folder);
        assert!(matches!(
            dir_change(&gone, 0, &dir),
            Some(DirChange::Gone(_))
        ));
        let both = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        assert!(matches!(
            dir_change(&both, 0, &dir),
            Some(DirChange::Gone(_))
        ));
        assert!(matches!(
            dir_change(&both, 1, &dir),
            Some(DirChange::Added(_))
        ));
    }
}
