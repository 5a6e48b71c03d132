//! A held canary ([`CanaryHold`]): the stable revision keeps every index while the canary
//! revision runs beside it at the first `instances` indices. Each revision is planned by the
//! rolling rules on its own instances (and sees the other's `Stopping` ones, which block their
//! index), so crashes, back-off, memory limits and readiness work as for any instance.

use std::time::Instant;

use super::{rollout, CanaryHold, DesiredApp, ObservedApp, Phase, Plan};
use super::{Action, StopReason};

/// Plans the hold of `app`, whose `revision` is the canary's.
pub(super) fn plan_hold(
    app: &DesiredApp,
    hold: &CanaryHold,
    obs: &ObservedApp,
    now: Instant,
    out: &mut Plan,
) {
    let canary = app.revision.as_str();
    let held = hold.instances.min(app.replicas);
    // Canary instances past the held ones (a lower weight): stopped at once. Those at
    // `replicas` and above were stopped as surplus already.
    for inst in obs.instances.iter().filter(|i| {
        i.revision == canary
            && i.phase != Phase::Stopping
            && (held..app.replicas).contains(&i.index)
    }) {
        out.actions.push(Action::Stop {
            id: inst.id,
            reason: StopReason::Replaced,
        });
    }
    // The stable revision at every index; any third revision is outdated and rolls to it.
    let stable = DesiredApp {
        revision: hold.stable.clone(),
        canary: None,
        ..app.clone()
    };
    rollout::plan_slots(
        &stable,
        obs,
        |i| i.revision != canary || i.phase == Phase::Stopping,
        now,
        out,
    );
    // The canary revision at the held indices.
    let canary_app = DesiredApp {
        replicas: held,
        canary: None,
        ..app.clone()
    };
    rollout::plan_slots(
        &canary_app,
        obs,
        |i| i.revision == canary || i.phase == Phase::Stopping,
        now,
        out,
    );
}
