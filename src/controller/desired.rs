//! From a manifest to what the planner wants: instance count, policies, and the revision.

use std::time::Duration;

use crate::manifest::{Instances, Located};
use crate::reconcile::{BackoffPolicy, DesiredApp, RolloutLimits};

/// With no readiness probe, an instance is ready once it stayed up this long.
pub const DEFAULT_READY_AFTER: Duration = Duration::from_secs(1);

/// The planner's view of one app. `nonce` counts `corral reload`s: it is folded into the
/// revision so a reload is a rolling update to an identical template.
pub fn desired_app(located: &Located, revision: &str, cpus: u32) -> DesiredApp {
    let spec = &located.app.spec;
    let replicas = match (spec.suspend, spec.instances) {
        (true, _) => 0,
        (false, Instances::Count(n)) => n,
        (false, Instances::Max) => cpus.max(1),
    };
    DesiredApp {
        name: located.app.metadata.name.as_str().to_owned(),
        revision: revision.to_owned(),
        replicas,
        restart_policy: spec.restart_policy,
        backoff: BackoffPolicy {
            initial: spec.backoff.initial.0,
            max: spec.backoff.max.0,
            reset_after: spec.backoff.reset_after.0,
        },
        rollout: RolloutLimits {
            max_surge: spec.strategy.max_surge.resolve_up(replicas),
            max_unavailable: spec.strategy.max_unavailable.resolve_down(replicas),
            min_ready: Duration::from_secs(spec.strategy.min_ready_seconds.into()),
        },
        // With a readiness probe, the prober decides; without, staying up is enough.
        ready_after: spec.readiness.is_none().then_some(DEFAULT_READY_AFTER),
        // The controller's canary state machine sets the hold.
        canary: None,
        depends_on: spec.depends_on.clone(),
        // Filled before each plan from the Job runtime (`Controller::fill_job_states`).
        jobs: Default::default(),
    }
}

/// Online CPUs, for `instances: max`.
pub fn online_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

impl super::Controller {
    /// Gives each app waiting for a Job (`condition: Completed`) the Job's status now, for the
    /// planner (which reads no state of its own).
    pub(super) fn fill_job_states(&mut self) {
        let wanted: Vec<(String, String)> = self
            .desired
            .iter()
            .flat_map(|(app, d)| {
                d.depends_on
                    .iter()
                    .filter(|dep| dep.condition == crate::manifest::depends::Condition::Completed)
                    .map(move |dep| (app.clone(), dep.app.as_str().to_owned()))
            })
            .collect();
        for (app, job) in wanted {
            let status = self.job_state(&job).map(|s| s.status.clone());
            if let Some(d) = self.desired.get_mut(&app) {
                match status {
                    Some(status) => {
                        d.jobs.insert(job, status);
                    }
                    None => {
                        d.jobs.remove(&job);
                    }
                }
            }
        }
    }
}
