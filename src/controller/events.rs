//! Events the controller loop reports itself (the supervisor reports process facts): back-off
//! after a crash, rollout progress.

use std::time::Instant;

use super::rollout::Step;
use super::Controller;
use crate::manifest::RestartPolicy;
use crate::reconcile::Phase;
use crate::supervisor::About;

impl Controller {
    /// After an exit at `now`: a `BackOff` event when instance `index` of `app` failed and waits
    /// to be started again (the restart policy says so), naming the delay.
    pub(super) fn note_backoff(&mut self, app: &str, index: u32, now: Instant) {
        let Some(desired) = self.desired.get(app) else {
            return;
        };
        let Some(slot) = self.supervisor.slots_of(app).and_then(|s| s.get(&index)) else {
            return;
        };
        let Some(exit) = slot.last_exit.filter(|e| e.at == now) else {
            return;
        };
        let restarts = match desired.restart_policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !exit.success,
            RestartPolicy::Never => false,
        };
        let replaced = self
            .supervisor
            .instances_of(app)
            .any(|i| i.index == index && i.phase != Phase::Stopping);
        if !restarts || index >= desired.replicas || replaced {
            return;
        }
        let delay = slot
            .retry_at(&desired.backoff)
            .map_or(std::time::Duration::ZERO, |at| {
                at.saturating_duration_since(now)
            });
        let msg = format!(
            "back-off {} restarting instance {index} ({} failed run(s) in a row)",
            humantime::format_duration(std::time::Duration::from_millis(delay.as_millis() as u64)),
            slot.failures
        );
        let about = About::Instance(app, index);
        self.supervisor.events.warning_about(about, "BackOff", msg);
    }

    /// A `RolloutStarted`, `Scaling`, `RolloutProgress` or `RolloutComplete` event of `app`.
    pub(super) fn note_rollout(&mut self, app: &str, step: Step, ready_new: u32) {
        let Some(d) = self.desired.get(app) else {
            return;
        };
        let (revision, want) = (d.revision.clone(), d.replicas);
        let (reason, msg) = match step {
            Step::Started => (
                "RolloutStarted",
                format!("rolling out revision {revision} to {want} instance(s)"),
            ),
            Step::Scaling => (
                "Scaling",
                format!("scaling to {want} instance(s) at revision {revision}"),
            ),
            Step::Progressed => (
                "RolloutProgress",
                format!("revision {revision}: {ready_new}/{want} instance(s) updated and ready"),
            ),
            Step::Complete => (
                "RolloutComplete",
                format!("revision {revision} rolled out: {want}/{want} instance(s) ready"),
            ),
        };
        self.supervisor.events.normal(app, reason, msg);
    }

    /// `Waiting` when an app starts being held back by its dependencies (and when the reason
    /// changes), `DependenciesMet` when it is released; keeps the reasons for `get`/`describe`.
    pub(super) fn note_waiting(&mut self, waiting: std::collections::BTreeMap<String, String>) {
        for (app, reason) in &waiting {
            if self.waiting.get(app) != Some(reason) {
                let about = About::App(app);
                let message = self.waiting_reason(app, reason);
                self.supervisor
                    .events
                    .normal_about(about, "Waiting", message);
            }
        }
        let released: Vec<String> = self
            .waiting
            .keys()
            .filter(|a| !waiting.contains_key(*a))
            .filter(|a| self.desired.get(*a).is_some_and(|d| d.replicas > 0))
            .cloned()
            .collect();
        for app in released {
            let msg = "every dependency is met: starting".to_owned();
            self.supervisor
                .events
                .normal_about(About::App(&app), "DependenciesMet", msg);
        }
        self.waiting = waiting;
    }

    /// Why `app` waits: `reason`, and the dependency cycle it is in, if any.
    pub(super) fn waiting_reason(&self, app: &str, reason: &str) -> String {
        match self.cycles.get(app) {
            Some(cycle) => format!(
                "{reason} (dependency cycle {cycle}: none of them can start; fix the manifests, `corral validate` names it)"
            ),
            None => reason.to_owned(),
        }
    }
}
