//! Per-index decisions: fill empty slots (with back-off), and replace old revisions the
//! Kubernetes Deployment way (`maxSurge` above, `maxUnavailable` below `replicas`).

use std::time::Instant;

use super::{
    Action, DesiredApp, MemoryState, ObservedApp, ObservedInstance, Phase, Plan, StopReason,
};
use crate::manifest::RestartPolicy;

/// When `inst` became ready: its probe time, or for the default rule `now`, when this plan's
/// `MarkReady` records it (the supervisor sets `Ready { since: now }`; assuming an earlier time
/// would count it available sooner than the next plan will, after a late wake-up).
pub(super) fn ready_since(
    app: &DesiredApp,
    inst: &ObservedInstance,
    now: Instant,
) -> Option<Instant> {
    match inst.phase {
        Phase::Ready { since } => Some(since),
        Phase::Starting => app
            .ready_after
            .filter(|d| inst.started + *d <= now)
            .map(|_| now),
        Phase::Stopping => None,
    }
}

/// Whether `inst` counts as available (ready for `minReadySeconds`); requeues for when it will.
fn available(app: &DesiredApp, inst: &ObservedInstance, now: Instant, out: &mut Plan) -> bool {
    match ready_since(app, inst, now) {
        Some(since) if since + app.rollout.min_ready <= now => true,
        Some(since) => {
            out.requeue(since + app.rollout.min_ready);
            false
        }
        None => false,
    }
}

/// What stands at one index.
struct Slot<'a> {
    index: u32,
    current: Vec<&'a ObservedInstance>,
    old: Vec<&'a ObservedInstance>,
    stopping: bool,
    /// A failed run is being stopped here (over its memory limit again): no surge until it
    /// has exited and its back-off has passed.
    failing: bool,
}

/// Fills and rolls the slots `0..replicas` of one app, with the instances `mine` picks (a held
/// canary plans its two revisions apart, each seeing the other's `Stopping` instances too).
pub(super) fn plan_slots(
    app: &DesiredApp,
    obs: &ObservedApp,
    mine: impl Fn(&ObservedInstance) -> bool,
    now: Instant,
    out: &mut Plan,
) {
    let mut slots: Vec<Slot> = (0..app.replicas)
        .map(|index| Slot {
            index,
            current: Vec::new(),
            old: Vec::new(),
            stopping: false,
            failing: false,
        })
        .collect();
    for inst in obs.instances.iter().filter(|i| mine(i)) {
        let Some(slot) = slots.get_mut(inst.index as usize) else {
            continue;
        };
        // Over its memory limit, an instance is outdated like an old revision: a replacement
        // surges beside it. Over it again right after starting, it is a failed run instead.
        match (inst.phase, inst.memory) {
            (Phase::Stopping, memory) => {
                slot.stopping = true;
                slot.failing |= memory == MemoryState::ExceededAgain;
            }
            (_, MemoryState::ExceededAgain) => {
                out.actions.push(Action::Stop {
                    id: inst.id,
                    reason: StopReason::MemoryLimitBackOff,
                });
                slot.stopping = true;
                slot.failing = true;
            }
            (_, MemoryState::Within) if inst.revision == app.revision => slot.current.push(inst),
            _ => slot.old.push(inst),
        }
    }
    let limits = app.rollout;
    let max_surge = if limits.max_surge == 0 && limits.max_unavailable == 0 {
        1
    } else {
        limits.max_surge
    };
    let max_total = app.replicas + max_surge;
    let min_available = app.replicas.saturating_sub(limits.max_unavailable);

    // Keep one instance per revision class at each index: the best (available, then newest).
    for slot in &mut slots {
        for group in [&mut slot.current, &mut slot.old] {
            group.sort_by_key(|i| {
                (
                    !available(app, i, now, &mut Plan::default()),
                    std::cmp::Reverse(i.started),
                )
            });
            for extra in group.drain(1.min(group.len())..) {
                out.actions.push(Action::Stop {
                    id: extra.id,
                    reason: replaced(extra),
                });
            }
        }
    }
    let mut total = slots
        .iter()
        .map(|s| s.current.len() + s.old.len())
        .sum::<usize>() as u32;
    let mut avail = 0u32;
    for slot in &slots {
        for inst in slot.current.iter().chain(&slot.old) {
            if available(app, inst, now, out) {
                avail += 1;
            }
        }
    }

    // Empty slots: start (after back-off) unless the restart policy says the slot is done.
    for slot in slots
        .iter()
        .filter(|s| s.current.is_empty() && s.old.is_empty())
    {
        // A slot that will be filled later holds its place in `maxSurge` already: surging
        // meanwhile would overshoot once it is filled.
        if slot.stopping {
            total += 1;
            continue; // wait for the previous process at this index to exit
        }
        let history = obs.slots.get(&slot.index).copied().unwrap_or_default();
        if let Some(exit) = history.last_exit {
            let restart = match app.restart_policy {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => !exit.success,
                RestartPolicy::Never => false,
            };
            if !restart {
                continue;
            }
            if let Some(at) = backing_off(app, obs, slot.index, now) {
                out.requeue(at);
                total += 1;
                continue;
            }
        }
        start(app, slot.index, out);
        total += 1;
    }

    // Old with a current one beside it: replace once the current one is available.
    for slot in slots
        .iter()
        .filter(|s| !s.old.is_empty() && !s.current.is_empty())
    {
        if available(app, slot.current[0], now, out) {
            let old = slot.old[0];
            if available(app, old, now, &mut Plan::default()) {
                avail = avail.saturating_sub(1);
            }
            out.actions.push(Action::Stop {
                id: old.id,
                reason: replaced(old),
            });
            total = total.saturating_sub(1);
        }
    }

    // Old alone: surge a current one beside it, or spend the unavailability budget.
    let lone_old: Vec<&Slot> = slots
        .iter()
        .filter(|s| s.current.is_empty() && !s.old.is_empty())
        .collect();
    let mut surged = vec![false; lone_old.len()];
    for (k, slot) in lone_old.iter().enumerate() {
        if slot.failing {
            continue; // its back-off starts once the failed run has exited
        }
        // The new instance at this index crashed: its replacement backs off like any restart.
        if let Some(at) = backing_off(app, obs, slot.index, now) {
            out.requeue(at);
            continue;
        }
        if total < max_total {
            start(app, slot.index, out);
            total += 1;
            surged[k] = true;
        }
    }
    for (k, slot) in lone_old.iter().enumerate().rev() {
        if surged[k] {
            continue;
        }
        let old = slot.old[0];
        let is_available = available(app, old, now, &mut Plan::default());
        if !is_available || avail > min_available {
            if is_available {
                avail -= 1;
            }
            out.actions.push(Action::Stop {
                id: old.id,
                reason: replaced(old),
            });
        }
    }
}

/// The retry time of `index` if it is still backing off after an unplanned exit.
fn backing_off(app: &DesiredApp, obs: &ObservedApp, index: u32, now: Instant) -> Option<Instant> {
    let history = obs.slots.get(&index)?;
    history.retry_at(&app.backoff).filter(|at| *at > now)
}

/// Why an outdated instance is stopped: over its memory limit, or an old revision.
fn replaced(inst: &ObservedInstance) -> StopReason {
    match inst.memory {
        MemoryState::Within => StopReason::Replaced,
        _ => StopReason::MemoryLimit,
    }
}

/// Starts an instance of `app.revision` at `index`.
fn start(app: &DesiredApp, index: u32, out: &mut Plan) {
    out.actions.push(Action::Start {
        app: app.name.clone(),
        index,
        revision: app.revision.clone(),
    });
}
