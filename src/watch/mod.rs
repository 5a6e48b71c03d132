//! Watch-and-reload (`spec.watch`): per app, a file watcher whose filtered, debounced bursts of
//! changes ask the controller for a rolling reload.

mod burst;
pub mod failure;
pub mod filter;
mod roots;
mod tree;
mod watcher;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use burst::Trigger;
pub use roots::host_wide;
pub use watcher::{Message, Report, WatchSpec};

use crate::api::{WatchStatus, WatchTrigger};

/// Capacity of the channel from every watch to the controller (a watch waits when it is full).
pub const CHANNEL: usize = 16;

impl WatchSpec {
    /// `watch` of an app whose working directory is `cwd`.
    pub fn new(cwd: &Path, watch: &crate::manifest::Watch) -> Self {
        WatchSpec {
            cwd: cwd.to_path_buf(),
            paths: watch.paths.iter().map(|p| cwd.join(p)).collect(),
            ignore: watch.ignore.clone(),
            debounce: watch.debounce.0,
        }
    }
}

/// One app's watch and what it last did.
#[derive(Debug)]
struct AppWatch {
    spec: WatchSpec,
    generation: u64,
    stop: CancellationToken,
    task: JoinHandle<()>,
    watching: bool,
    error: Option<String>,
    last: Option<(u64, Trigger)>,
    /// A trigger that came during a rollout, fired once it is over.
    pending: Option<Trigger>,
}

/// What a message from a watch means for the controller.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Files changed: reload the app.
    Reload(Trigger),
    /// The watch failed; `new` when the message differs from the last failure (an event is due).
    Failed {
        /// Why, and how to fix it.
        message: String,
        /// Not the same failure as last time.
        new: bool,
    },
    /// A watch that had failed works again.
    Recovered,
    /// Nothing to do (a stale or routine message).
    Nothing,
}

/// The watches of every app that has `spec.watch`.
#[derive(Debug)]
pub struct Watches {
    apps: BTreeMap<String, AppWatch>,
    /// Tasks of replaced or removed watches, until they end.
    retired: Vec<JoinHandle<()>>,
    home: PathBuf,
    out: mpsc::Sender<Message>,
    generation: u64,
}

impl Watches {
    /// No watches yet; they will report on `out` and never fire for paths under `home`.
    pub fn new(home: &Path, out: mpsc::Sender<Message>) -> Self {
        Watches {
            apps: BTreeMap::new(),
            retired: Vec::new(),
            home: home.to_path_buf(),
            out,
            generation: 0,
        }
    }

    /// Makes the watches match `wanted`: starts new ones, restarts changed and failed ones (a
    /// failed watch is retried on every resync), stops those no longer wanted.
    pub fn sync(&mut self, wanted: BTreeMap<String, WatchSpec>) {
        self.retired.retain(|t| !t.is_finished());
        let gone: Vec<String> = self
            .apps
            .keys()
            .filter(|a| !wanted.contains_key(*a))
            .cloned()
            .collect();
        for app in gone {
            if let Some(w) = self.apps.remove(&app) {
                self.retire(w);
            }
        }
        for (app, spec) in wanted {
            let keep = self
                .apps
                .get(&app)
                .is_some_and(|w| w.spec == spec && w.error.is_none());
            if keep {
                continue;
            }
            let old = self.apps.remove(&app);
            self.generation += 1;
            let stop = CancellationToken::new();
            let task = tokio::spawn(watcher::run(
                app.clone(),
                self.generation,
                spec.clone(),
                self.home.clone(),
                self.out.clone(),
                stop.clone(),
            ));
            let mut w = AppWatch {
                spec,
                generation: self.generation,
                stop,
                task,
                watching: false,
                error: None,
                last: None,
                pending: None,
            };
            if let Some(old) = old {
                w.last = old.last.clone();
                w.pending = old.pending.clone();
                w.error = old.error.clone().filter(|_| old.spec == w.spec);
                self.retire(old);
            }
            self.apps.insert(app, w);
        }
    }

    /// Applies a message from a watch, at `now_ms` (unix ms).
    pub fn accept(&mut self, msg: Message, now_ms: u64) -> Outcome {
        let Some(w) = self.apps.get_mut(&msg.app) else {
            return Outcome::Nothing;
        };
        if w.generation != msg.generation {
            return Outcome::Nothing;
        }
        match msg.report {
            Report::Watching => {
                w.watching = true;
                if w.error.take().is_some() {
                    Outcome::Recovered
                } else {
                    Outcome::Nothing
                }
            }
            Report::Triggered(t) => {
                w.last = Some((now_ms, t.clone()));
                Outcome::Reload(t)
            }
            Report::Failed(message) => {
                w.watching = false;
                let new = w.error.as_ref() != Some(&message);
                w.error = Some(message.clone());
                Outcome::Failed { message, new }
            }
        }
    }

    /// Keeps `trigger` until [`Watches::take_pending`] (changes during a rollout coalesce).
    pub fn defer(&mut self, app: &str, trigger: Trigger) {
        if let Some(w) = self.apps.get_mut(app) {
            match &mut w.pending {
                Some(p) => p.merge(trigger),
                None => w.pending = Some(trigger),
            }
        }
    }

    /// Apps with a deferred trigger.
    pub fn pending(&self) -> Vec<String> {
        self.apps
            .iter()
            .filter(|(_, w)| w.pending.is_some())
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Takes `app`'s deferred trigger.
    pub fn take_pending(&mut self, app: &str) -> Option<Trigger> {
        self.apps.get_mut(app).and_then(|w| w.pending.take())
    }

    /// What `corral describe` shows of `app`'s watch.
    pub fn status(&self, app: &str) -> Option<WatchStatus> {
        let w = self.apps.get(app)?;
        Some(WatchStatus {
            paths: w
                .spec
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            state: if w.watching {
                "Watching"
            } else if w.error.is_some() {
                "Failed"
            } else {
                "Starting"
            }
            .into(),
            error: w.error.clone(),
            last_trigger: w.last.as_ref().map(|(at_ms, t)| WatchTrigger {
                at_ms: *at_ms,
                paths: t.paths.clone(),
                more: t.more as u64,
            }),
            pending: w.pending.is_some(),
        })
    }

    /// Stops every watch and waits for their tasks.
    pub async fn shutdown(&mut self) {
        let apps = std::mem::take(&mut self.apps);
        for w in apps.into_values() {
            self.retire(w);
        }
        for task in self.retired.drain(..) {
            let _ = task.await;
        }
    }

    fn retire(&mut self, w: AppWatch) {
        w.stop.cancel();
        self.retired.push(w.task);
    }
}
