//! One app's watch: a recursive notify watcher whose events go through the filter into a
//! burst, and a task that debounces bursts into [`Report::Triggered`] messages.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::burst::{Burst, Trigger};
use super::failure;
use super::filter::Filter;

/// A burst that never goes quiet still triggers after this many debounce periods.
const MAX_WAIT_FACTOR: u32 = 10;

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

/// Watches `spec` for `app` until `stop`, reporting on `out`. The blocking part (resolving
/// paths, walking the trees to add inotify watches) runs on the blocking pool.
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
    let burst = Arc::new(Mutex::new(Burst::default()));
    let (wake_tx, mut wake) = mpsc::channel::<()>(1);
    let (cwd, debounce) = (spec.cwd.clone(), spec.debounce);
    let started = {
        let burst = burst.clone();
        tokio::task::spawn_blocking(move || start(&spec, &home, burst, wake_tx)).await
    };
    let _watcher = match started {
        Ok(Ok(w)) => w,
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
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            woke = wake.recv() => if woke.is_none() { return },
        }
        let cap = Instant::now() + debounce * MAX_WAIT_FACTOR;
        loop {
            let quiet = (Instant::now() + debounce).min(cap);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = sleep_until(quiet) => break,
                Some(()) = wake.recv() => {}
            }
        }
        let (trigger, failed) = {
            let mut b = burst.lock().unwrap_or_else(|p| p.into_inner());
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

/// Resolves the paths and starts the recursive watcher (blocking).
fn start(
    spec: &WatchSpec,
    home: &Path,
    burst: Arc<Mutex<Burst>>,
    wake: mpsc::Sender<()>,
) -> Result<RecommendedWatcher, String> {
    let mut roots = Vec::new();
    for p in &spec.paths {
        let canonical = p
            .canonicalize()
            .map_err(|e| failure::explain(&notify::Error::io_watch(e), p, None))?;
        roots.push(canonical);
    }
    let home = home.canonicalize().unwrap_or_else(|_| home.to_path_buf());
    let mut filter = Filter::new(&roots, &spec.ignore, &home)?;
    let first_root = roots.first().cloned().unwrap_or_default();
    let handler = move |res: notify::Result<notify::Event>| {
        let mut b = burst.lock().unwrap_or_else(|p| p.into_inner());
        match res {
            Ok(event) if event.kind.is_access() => return,
            Ok(event) if event.need_rescan() => b.add(&first_root),
            Ok(event) => {
                let mut counted = false;
                for path in event.paths.iter().filter(|p| !filter.ignores(p)) {
                    b.add(path);
                    counted = true;
                }
                if !counted {
                    return;
                }
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                // A new directory could not be watched: changes under it would go unseen.
                let limit = failure::max_user_watches();
                b.failed = Some(failure::explain(&e, &first_root, limit));
            }
            Err(e) => {
                tracing::warn!("watching {}: {e}", first_root.display());
                return;
            }
        }
        drop(b);
        let _ = wake.try_send(());
    };
    let mut watcher =
        notify::recommended_watcher(handler).map_err(|e| failure::explain(&e, &spec.cwd, None))?;
    for (path, mode) in targets(&roots) {
        watcher
            .watch(&path, mode)
            .map_err(|e| failure::explain(&e, &path, failure::max_user_watches()))?;
    }
    Ok(watcher)
}

/// What to give notify: directories recursively; a file through its folder (an editor's
/// write-and-rename save replaces the file's inode, and a watch on the inode would go with it),
/// unless a watched directory already covers that folder. Blocking: stats the roots.
fn targets(roots: &[PathBuf]) -> Vec<(PathBuf, RecursiveMode)> {
    let dirs: Vec<&PathBuf> = roots.iter().filter(|r| r.is_dir()).collect();
    let mut out: Vec<(PathBuf, RecursiveMode)> = dirs
        .iter()
        .map(|d| ((*d).clone(), RecursiveMode::Recursive))
        .collect();
    for file in roots.iter().filter(|r| !r.is_dir()) {
        let parent = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        let covered =
            dirs.iter().any(|d| parent.starts_with(d)) || out.iter().any(|(p, _)| *p == parent);
        if !covered {
            out.push((parent, RecursiveMode::NonRecursive));
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
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], (base.join("src"), RecursiveMode::Recursive));
        assert_eq!(got[1], (base.join("conf"), RecursiveMode::NonRecursive));
    }
}
