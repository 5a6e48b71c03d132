//! Memory limits, the controller's part: compare each sample with the app's `memory.limit`
//! (the limit in force now, so an edit applies in place) and flag instances over it.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Controller;
use crate::metrics::{Root, Usage};
use crate::reconcile::{MemoryState, Phase};

impl Controller {
    /// Tells the sampler which instances to measure (their cgroups, or else their trees), and
    /// which of them a `memory.limit` watches
    /// (those every interval); called after every reconcile, as instances and limits change.
    pub(super) fn publish_sampled(&self) {
        let limited = |app: &str| {
            let spec = self.store.apps.get(app).map(|l| &l.app.spec);
            spec.is_some_and(|s| s.memory.is_some())
        };
        // Groups without the memory controller have no memory.current: their trees are read.
        let figures = matches!(
            self.supervisor.cgroup_status(),
            Some(Ok(c)) if c.support.has(crate::cgroup::Controller::Memory)
        );
        let roots: Vec<Root> = self
            .supervisor
            .all()
            .map(|i| Root {
                pid: i.pid,
                limited: limited(&i.app),
                cgroup: i
                    .cgroup
                    .as_ref()
                    .filter(|_| figures)
                    .map(|g| g.path.as_path().into()),
            })
            .collect();
        self.sampled_pids.send_if_modified(|old| {
            let differs = *old != roots;
            if differs {
                *old = roots;
            }
            differs
        });
    }

    /// Takes a new sample: it is what `corral get` shows, and what the limits are checked
    /// against (the same figure: the tree's RSS, see `metrics`).
    pub(super) fn on_usage(&mut self, usage: BTreeMap<u32, Usage>) {
        self.usage = usage;
        let now = Instant::now();
        let mut over = Vec::new();
        for inst in self.supervisor.all() {
            if inst.phase == Phase::Stopping || inst.memory != MemoryState::Within {
                continue;
            }
            let (Some(desired), Some(limit)) = (
                self.desired.get(&inst.app),
                self.store
                    .apps
                    .get(&inst.app)
                    .and_then(|l| l.app.spec.memory.as_ref())
                    .map(|m| m.limit.0),
            ) else {
                continue;
            };
            let Some(rss) = self.usage.get(&inst.pid).map(|u| u.rss_bytes) else {
                continue;
            };
            if rss > limit {
                over.push((inst.id, rss, limit, desired.backoff, desired.rollout));
            }
        }
        for (id, rss, limit, backoff, rollout) in over {
            // With both limits zero the planner surges one.
            let surge = rollout
                .max_surge
                .max(u32::from(rollout.max_unavailable == 0));
            self.supervisor
                .exceed_memory(id, rss, limit, &backoff, surge, now);
        }
    }
}
