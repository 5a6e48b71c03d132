//! `/metrics`, the controller's part: after reconciles, publish a snapshot of what it knows
//! for scrapes to read on their own (a scrape never waits on the loop). Publishing is
//! throttled, so a burst of events costs one snapshot, not one per event.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::Controller;
use crate::logs::LogLoss;
use crate::metrics::snapshot::{AppSample, InstanceSample, Snapshot};
use crate::metrics::Published;
use crate::reconcile::Phase;

/// At most this often is a snapshot built (it walks every instance).
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// What the controller keeps for `/metrics` between snapshots.
#[derive(Debug, Default)]
pub(super) struct MetricsState {
    /// Shared with the `/metrics` routes.
    pub published: Published,
    /// Log lines lost per app since the controller started.
    dropped: BTreeMap<String, u64>,
    /// When the last snapshot was published.
    last: Option<Instant>,
    /// Something changed since then.
    pending: bool,
}

impl MetricsState {
    /// Shares `published` with the routes that serve it.
    pub fn new(published: Published) -> Self {
        Self {
            published,
            ..Self::default()
        }
    }

    /// Counts lines a capture could not write.
    pub fn count_log_loss(&mut self, loss: &LogLoss) {
        *self.dropped.entry(loss.app.clone()).or_default() += loss.lines;
    }

    /// Forgets an app that is gone.
    pub fn forget(&mut self, app: &str) {
        self.dropped.remove(app);
    }

    /// When the loop must wake to publish a change it held back, if any.
    pub fn due(&self) -> Option<Instant> {
        self.pending
            .then(|| self.last.map_or_else(Instant::now, |t| t + PUBLISH_EVERY))
    }
}

impl Controller {
    /// Publishes a snapshot now, or marks one due when the last was too recent.
    pub(super) fn publish_metrics(&mut self, now: Instant) {
        if self
            .metrics
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < PUBLISH_EVERY)
        {
            self.metrics.pending = true;
            return;
        }
        let snapshot = self.metrics_snapshot(now);
        self.metrics.published.publish(snapshot);
        self.metrics.last = Some(now);
        self.metrics.pending = false;
    }

    /// What `/metrics` shows of the controller's state at `now`.
    fn metrics_snapshot(&self, now: Instant) -> Snapshot {
        let mut snapshot = Snapshot {
            manifest_errors: self.store.problems.len() as u64,
            events: self.supervisor.events.totals().clone(),
            ..Snapshot::default()
        };
        for (name, template) in &self.templates {
            let desired = self.desired.get(name);
            let replicas = desired.map_or(0, |d| d.replicas);
            let min_ready = desired.map_or(Duration::ZERO, |d| d.rollout.min_ready);
            let slots = self.supervisor.slots_of(name);
            let restarts = |index| slots.and_then(|s| s.get(&index)).map_or(0, |s| s.restarts);
            let mut app = AppSample {
                name: name.clone(),
                desired: replicas,
                rollout_in_progress: self.rollouts.in_flight(name),
                manifest_error: self.store.problem_for(name).is_some(),
                commit: self.synced.get(name).map(|c| (c.hash.clone(), c.dirty)),
                log_lines_dropped: self.metrics.dropped.get(name).copied().unwrap_or(0),
                traffic: self.listening.traffic(name),
                memory_limit_bytes: self
                    .store
                    .apps
                    .get(name)
                    .and_then(|l| l.app.spec.memory.as_ref())
                    .map(|m| m.limit.0),
                ..AppSample::default()
            };
            let mut live = BTreeSet::new();
            for inst in self.supervisor.instances_of(name) {
                let usage = self.usage.get(&inst.pid);
                let ready_since = match inst.phase {
                    Phase::Ready { since } => Some(since),
                    _ => None,
                };
                if let Some(since) = ready_since {
                    if inst.revision == template.revision && inst.index < replicas {
                        app.ready += 1;
                        if since + min_ready <= now {
                            app.available += 1;
                        }
                    }
                }
                live.insert(inst.index);
                snapshot.instances.push(InstanceSample {
                    app: name.clone(),
                    index: inst.index,
                    revision: inst.revision.clone(),
                    up: true,
                    ready: ready_since.is_some(),
                    restarts: restarts(inst.index),
                    start_time_seconds: Some(inst.started_ms as f64 / 1000.0),
                    resident_memory_bytes: usage.map(|u| u.rss_bytes),
                    cpu_seconds: usage.map(|u| u.cpu_seconds),
                });
            }
            // Wanted slots with no process (back-off, exited): up 0, so a crash loop shows.
            for (&index, slot) in slots.into_iter().flatten() {
                if index < replicas && slot.last_exit.is_some() && !live.contains(&index) {
                    snapshot.instances.push(InstanceSample {
                        app: name.clone(),
                        index,
                        revision: template.revision.clone(),
                        restarts: slot.restarts,
                        ..InstanceSample::default()
                    });
                }
            }
            snapshot.apps.push(app);
        }
        snapshot
    }
}
