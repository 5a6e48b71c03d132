//! The planner: desired + observed state → actions. PURE: no I/O, no clock reads, no processes.
//!
//! The controller calls [`plan`] after every event; the supervisor executes the returned
//! [`Action`]s. Everything the decision needs (time included) comes in as arguments, so the
//! policy (scaling, restarts with back-off, rolling updates) is tested here without processes.

pub mod backoff;
mod canary;
mod rollout;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::manifest::RestartPolicy;

pub use backoff::{BackoffPolicy, SlotHistory};

/// Identifies one process the supervisor started (never reused within a controller's life).
pub type InstanceId = u64;

/// What should run for one app, resolved from its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredApp {
    /// The app's name.
    pub name: String,
    /// Revision of the process template instances must run.
    pub revision: String,
    /// Instances wanted (0 when suspended).
    pub replicas: u32,
    /// When an exited instance is started again.
    pub restart_policy: RestartPolicy,
    /// Restart delays.
    pub backoff: BackoffPolicy,
    /// Rolling update limits, already resolved against `replicas`.
    pub rollout: RolloutLimits,
    /// With no readiness probe, an instance is ready after staying up this long.
    pub ready_after: Option<Duration>,
    /// A canary being held: `revision` is the canary's, and the stable revision keeps every
    /// index (see [`CanaryHold`]). `None`: a rolling update to `revision` (which is how a held
    /// canary is promoted; setting `revision` back to the stable one aborts it).
    pub canary: Option<CanaryHold>,
}

/// A canary held beside the stable revision (Argo Rollouts' canary without traffic routing,
/// per index). Every index `0..replicas` keeps, or gets back after a crash (with its back-off),
/// one instance of `stable`, never stopped as outdated; indices `0..instances` (at most
/// `replicas`) also get one instance of the canary revision, the way a surge stands beside an
/// old instance; canary instances at other indices are stopped (`Replaced`); instances of any
/// other revision are replaced by stable ones by the rolling rules. A hold whose `stable` is
/// the desired revision holds nothing: it plans as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryHold {
    /// The stable revision, which keeps every index.
    pub stable: String,
    /// Indices `0..instances` run a canary instance too.
    pub instances: u32,
}

impl CanaryHold {
    /// Canary instances for `weight` percent of `replicas`: rounded up, at least one (so header
    /// routing and the analysis have a canary to reach, as Argo Rollouts' basic canary), at most
    /// `replicas`; none when `replicas` is 0. In `tcp` and `inherit` mode, where the balancer
    /// spreads over every instance, `instances` of them beside `replicas` stable ones take
    /// `instances / (replicas + instances)` of the connections.
    pub fn instances_for(weight: u8, replicas: u32) -> u32 {
        let wanted = (u64::from(weight.min(100)) * u64::from(replicas)).div_ceil(100);
        (wanted as u32).max(1).min(replicas)
    }
}

/// `maxSurge`/`maxUnavailable` as counts, and `minReadySeconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutLimits {
    /// Extra instances allowed above `replicas` while rolling.
    pub max_surge: u32,
    /// Instances allowed below `replicas` available while rolling.
    pub max_unavailable: u32,
    /// A ready instance counts as available only after this long.
    pub min_ready: Duration,
}

/// Where a live process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Started, not ready yet.
    Starting,
    /// Passed readiness at this time.
    Ready {
        /// When readiness passed.
        since: Instant,
    },
    /// A stop was sent; waiting for it to exit.
    Stopping,
}

/// One live process as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedInstance {
    /// Its id.
    pub id: InstanceId,
    /// Its 0-based index (`CORRAL_INSTANCE`).
    pub index: u32,
    /// The revision it runs.
    pub revision: String,
    /// When it was started.
    pub started: Instant,
    /// Its phase.
    pub phase: Phase,
    /// Whether a memory sample found it over `memory.limit` (sticky until it is gone).
    pub memory: MemoryState,
}

/// An instance's standing against its app's `memory.limit` (README "Memory limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryState {
    /// Never seen over the limit.
    #[default]
    Within,
    /// Seen over the limit after a healthy run: replaced the zero-downtime way.
    Exceeded,
    /// Seen over the limit within `backoff.resetAfter` of a failed run at its index (a crash
    /// or an earlier exceedance): stopped and restarted after the back-off delay, like a crash.
    ExceededAgain,
}

/// Everything observed about one app.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedApp {
    /// Live processes (including those being stopped).
    pub instances: Vec<ObservedInstance>,
    /// Per index: how its processes ended.
    pub slots: BTreeMap<u32, SlotHistory>,
}

/// Why an instance is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its index is no longer wanted.
    ScaledDown,
    /// Its app's manifest is gone.
    Deleted,
    /// A new revision (or `corral restart`) replaces it.
    Replaced,
    /// The controller is shutting down.
    Shutdown,
    /// Its liveness probe failed (the supervisor's decision, never the planner's): the exit
    /// counts as a failure for restart back-off.
    Unhealthy,
    /// Over `memory.limit`: replaced at its index the zero-downtime way (honouring `strategy`).
    MemoryLimit,
    /// Over `memory.limit` again right after starting: stopped, and its index restarts after
    /// the back-off delay (the failure was counted when the sample saw it).
    MemoryLimitBackOff,
    /// A Job's run no longer wanted: the Job failed (deadline, back-off limit), completed,
    /// was suspended, changed or deleted. Not a failed run.
    JobEnded,
}

impl StopReason {
    /// Whether the exit that follows counts as a failed run.
    pub fn is_failure(self) -> bool {
        matches!(self, StopReason::Unhealthy | StopReason::MemoryLimitBackOff)
    }
}

/// One thing for the supervisor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a process for `app` at `index`, running `revision`.
    Start {
        /// App name.
        app: String,
        /// Instance index.
        index: u32,
        /// Revision to run.
        revision: String,
    },
    /// Stop a process gracefully.
    Stop {
        /// Which process.
        id: InstanceId,
        /// Why.
        reason: StopReason,
    },
    /// The process passed the default readiness rule (stayed up long enough).
    MarkReady {
        /// Which process.
        id: InstanceId,
    },
}

/// The planner's answer: what to do now, and when to look again at the latest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Actions, in the order to execute them.
    pub actions: Vec<Action>,
    /// Plan again at this time even if nothing happens (a back-off ends, a readiness timer…).
    pub requeue_at: Option<Instant>,
}

impl Plan {
    fn requeue(&mut self, at: Instant) {
        self.requeue_at = Some(self.requeue_at.map_or(at, |t| t.min(at)));
    }
}

/// Decides what to do for every app: `desired` apps absent from `observed` are started, observed
/// apps absent from `desired` are stopped.
pub fn plan(
    desired: &BTreeMap<String, DesiredApp>,
    observed: &BTreeMap<String, ObservedApp>,
    now: Instant,
) -> Plan {
    let mut out = Plan::default();
    let empty = ObservedApp::default();
    for (name, app) in desired {
        plan_app(app, observed.get(name).unwrap_or(&empty), now, &mut out);
    }
    for (name, obs) in observed {
        if !desired.contains_key(name) {
            for inst in obs.instances.iter().filter(|i| i.phase != Phase::Stopping) {
                out.actions.push(Action::Stop {
                    id: inst.id,
                    reason: StopReason::Deleted,
                });
            }
        }
    }
    out
}

/// Plans one app that has a manifest.
fn plan_app(app: &DesiredApp, obs: &ObservedApp, now: Instant, out: &mut Plan) {
    mark_ready(app, obs, now, out);
    // Highest index goes first when scaling down; all surplus at once.
    let mut surplus: Vec<&ObservedInstance> = obs
        .instances
        .iter()
        .filter(|i| i.index >= app.replicas && i.phase != Phase::Stopping)
        .collect();
    surplus.sort_by_key(|i| std::cmp::Reverse(i.index));
    for inst in surplus {
        out.actions.push(Action::Stop {
            id: inst.id,
            reason: StopReason::ScaledDown,
        });
    }
    match &app.canary {
        Some(hold) if hold.stable != app.revision => canary::plan_hold(app, hold, obs, now, out),
        _ => rollout::plan_slots(app, obs, |_| true, now, out),
    }
}

/// Applies the default readiness rule: up for `ready_after` without a probe means ready.
fn mark_ready(app: &DesiredApp, obs: &ObservedApp, now: Instant, out: &mut Plan) {
    let Some(after) = app.ready_after else { return };
    for inst in obs.instances.iter().filter(|i| i.phase == Phase::Starting) {
        let due = inst.started + after;
        if now >= due {
            out.actions.push(Action::MarkReady { id: inst.id });
        } else {
            out.requeue(due);
        }
    }
}
