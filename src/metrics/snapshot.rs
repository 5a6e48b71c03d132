//! What `/metrics` shows, as plain data: the controller loop publishes a [`Snapshot`] after
//! its reconciles, and a scrape reads the latest one without ever waiting on the loop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::histogram::Histogram;
use crate::net::Counters;

/// One live process or one instance slot waiting to restart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceSample {
    /// The app.
    pub app: String,
    /// The index (`CORRAL_INSTANCE`).
    pub index: u32,
    /// The revision it runs (the app's revision for a slot backing off).
    pub revision: String,
    /// Whether a process runs (false for a slot in back-off or exited).
    pub up: bool,
    /// Whether it passed readiness.
    pub ready: bool,
    /// Restarts of its slot.
    pub restarts: u32,
    /// When the process started (unix seconds).
    pub start_time_seconds: Option<f64>,
    /// RSS of its process tree, once sampled.
    pub resident_memory_bytes: Option<u64>,
    /// CPU time of its live process tree in seconds, once sampled.
    pub cpu_seconds: Option<f64>,
}

/// One app.
#[derive(Debug, Clone, Default)]
pub struct AppSample {
    /// The app's name.
    pub name: String,
    /// Instances wanted.
    pub desired: u32,
    /// Instances of the current revision that are ready.
    pub ready: u32,
    /// Of those, the ones ready for `minReadySeconds`.
    pub available: u32,
    /// Whether a rollout is in flight.
    pub rollout_in_progress: bool,
    /// `memory.limit`, when set.
    pub memory_limit_bytes: Option<u64>,
    /// Whether its manifest has an error (the last good version keeps running).
    pub manifest_error: bool,
    /// The git commit its definition in force was read at, and whether the tree was dirty.
    pub commit: Option<(String, bool)>,
    /// Log lines lost to write errors (full disk…) since the controller started.
    pub log_lines_dropped: u64,
    /// Its proxy's live counters (tcp/http listeners), and whether it serves http.
    pub traffic: Option<(Arc<Counters>, bool)>,
}

/// Everything a scrape shows that the controller loop owns.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Instances by app, index and revision.
    pub instances: Vec<InstanceSample>,
    /// Apps by name.
    pub apps: Vec<AppSample>,
    /// Manifest files that fail to parse or validate, and name conflicts.
    pub manifest_errors: u64,
    /// Events recorded since the controller started, by `(type, reason)`.
    pub events: BTreeMap<(String, String), u64>,
}

/// What the controller shares with scrapes: the latest [`Snapshot`] and the counters the
/// loop bumps as it goes. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Published {
    snapshot: Arc<watch::Sender<Arc<Snapshot>>>,
    /// How long reconciles took (its count is the number of reconciles).
    reconciles: Arc<Histogram>,
}

impl Default for Published {
    fn default() -> Self {
        Self {
            snapshot: Arc::new(watch::Sender::new(Arc::default())),
            reconciles: Arc::default(),
        }
    }
}

impl Published {
    /// Replaces the snapshot scrapes read.
    pub fn publish(&self, snapshot: Snapshot) {
        self.snapshot.send_replace(Arc::new(snapshot));
    }

    /// The latest snapshot (never waits for the loop).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.borrow())
    }

    /// Counts one reconcile that took `elapsed`.
    pub fn reconciled(&self, elapsed: Duration) {
        self.reconciles.observe(elapsed);
    }

    /// How long reconciles took.
    pub fn reconcile_durations(&self) -> &Histogram {
        &self.reconciles
    }
}
