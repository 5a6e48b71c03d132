//! Memory limits, the controller's part: compare each sample with the app's `memory.limit`
//! (the limit in force now, so an edit applies in place) and flag instances over it.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Controller;
use crate::api::Condition;
use crate::cgroup;
use crate::manifest::quantity::ByteSize;
use crate::metrics::{Root, Usage};
use crate::reconcile::{MemoryState, Phase};

impl Controller {
    /// Writes each app's `memory.max` into its live instances' cgroups (an edit applies in
    /// place, like `memory.limit`).
    pub(super) fn apply_ceilings(&mut self) {
        for (app, template) in &self.templates {
            self.supervisor.update_ceiling(app, template.memory_max);
        }
    }

    /// `describe`'s word on `memory.max` for an app that sets it: enforced, or why not.
    pub(super) fn ceiling_condition(&self, app: &str) -> Option<Condition> {
        let max = self.templates.get(app)?.memory_max?;
        let found = match self.supervisor.ceiling_status() {
            Some(found) => found.clone().map(|c| c.dir),
            None => cgroup::detect(),
        };
        Some(match found {
            Ok(dir) => Condition {
                kind: "MemoryCeiling".into(),
                status: true,
                reason: "CgroupMemoryMax".into(),
                message: format!(
                    "memory.max {} is enforced by the kernel per instance, in cgroups under {}",
                    ByteSize(max),
                    dir.display()
                ),
            },
            Err(why) => Condition {
                kind: "MemoryCeiling".into(),
                status: false,
                reason: "CgroupUnavailable".into(),
                message: format!("{why}; memory.limit still applies"),
            },
        })
    }

    /// Tells the sampler which trees to measure, and which of them a `memory.limit` watches
    /// (those every interval); called after every reconcile, as instances and limits change.
    pub(super) fn publish_sampled(&self) {
        let limited = |app: &str| {
            let spec = self.store.apps.get(app).map(|l| &l.app.spec);
            spec.is_some_and(|s| s.memory.is_some())
        };
        let roots: Vec<Root> = self
            .supervisor
            .all()
            .map(|i| Root {
                pid: i.pid,
                limited: limited(&i.app),
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
            // With both limits zero the planner surges one (DESIGN.md §3).
            let surge = rollout
                .max_surge
                .max(u32::from(rollout.max_unavailable == 0));
            self.supervisor
                .exceed_memory(id, rss, limit, &backoff, surge, now);
        }
    }
}
