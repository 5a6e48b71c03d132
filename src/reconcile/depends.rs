//! Order between apps (`spec.dependsOn`): which apps wait, and why. PURE, like the rest of
//! the planner.
//!
//! An app waits while **none of its instances runs** (its first start, a start from 0, every
//! instance crashed) and one of its dependencies does not meet its condition: no instance of
//! it is started. Once one runs, its restarts, scaling and rollouts go on whatever happens to
//! its dependencies, unless an entry says `restart: true`: then every instance is stopped
//! (`DependencyLost`) when that dependency stops meeting its condition, and the app waits
//! again. Apps without dependencies are never held. A held app's reason names its first unmet
//! dependency; [`cycles`] names the cycles, if any.

use std::collections::BTreeMap;

use super::{Action, DesiredApp, ObservedApp, Phase, Plan, StopReason};
pub use crate::manifest::depends::Condition;
use crate::manifest::DependsOn;

/// An app held back by its dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Why, in the user's words: `waiting for db to be Ready`.
    pub reason: String,
    /// A `restart: true` dependency was lost while instances run: stop them.
    pub stop_running: bool,
}

/// The apps held back now, by name.
pub fn holds(
    desired: &BTreeMap<String, DesiredApp>,
    observed: &BTreeMap<String, ObservedApp>,
) -> BTreeMap<String, Hold> {
    let mut out = BTreeMap::new();
    for (name, app) in desired.iter().filter(|(_, a)| !a.depends_on.is_empty()) {
        if app.replicas == 0 {
            continue;
        }
        let running = observed
            .get(name)
            .is_some_and(|o| o.instances.iter().any(|i| i.phase != Phase::Stopping));
        let unmet = app
            .depends_on
            .iter()
            .filter(|d| !running || d.restart)
            .find_map(|d| unmet(d, &app.jobs, desired, observed).map(|why| (d, why)));
        if let Some((_, reason)) = unmet {
            out.insert(
                name.clone(),
                Hold {
                    reason,
                    stop_running: running,
                },
            );
        }
    }
    out
}

/// Why a Job's own `dependsOn` holds it back now (its first unmet entry), `None` when every
/// entry is met: the rule Apps follow. `jobs` maps each Job to its status word.
pub fn first_unmet(
    deps: &[DependsOn],
    jobs: &BTreeMap<String, String>,
    desired: &BTreeMap<String, DesiredApp>,
    observed: &BTreeMap<String, ObservedApp>,
) -> Option<String> {
    deps.iter().find_map(|d| unmet(d, jobs, desired, observed))
}

/// Why `dep` is not met, or `None` when it is. `jobs` holds the status word of the Jobs
/// `Completed` entries name.
fn unmet(
    dep: &DependsOn,
    jobs: &BTreeMap<String, String>,
    desired: &BTreeMap<String, DesiredApp>,
    observed: &BTreeMap<String, ObservedApp>,
) -> Option<String> {
    let name = dep.app.as_str();
    if dep.condition == Condition::Completed {
        return match jobs.get(name).map(String::as_str) {
            Some("Complete") => None,
            Some(status) => Some(format!(
                "waiting for {name} to be Completed (the Job is {status})"
            )),
            None => Some(format!(
                "waiting for {name} to be Completed: there is no Job {name:?} in the manifests directory"
            )),
        };
    }
    let Some(target) = desired.get(name) else {
        return Some(format!(
            "waiting for {name} to be {}: there is no app {name:?} in the manifests directory",
            dep.condition
        ));
    };
    let live = observed.get(name).map_or(&[][..], |o| &o.instances[..]);
    let met = match dep.condition {
        Condition::Started => live.iter().any(|i| i.phase != Phase::Stopping),
        Condition::Ready => live.iter().any(|i| matches!(i.phase, Phase::Ready { .. })),
        Condition::Completed => false, // answered above
    };
    if met {
        return None;
    }
    let suspended = if target.replicas == 0 {
        format!(" ({name} runs no instance: it is suspended or scaled to 0)")
    } else {
        String::new()
    };
    Some(format!(
        "waiting for {name} to be {}{suspended}",
        dep.condition
    ))
}

/// The dependency cycle each app is in, as `a -> b -> a`, for the apps in one (only a
/// manifests directory edited past `corral validate` can hold one). Not part of [`holds`]:
/// the graph changes only when the manifests do, so the controller works this out then, not at
/// every plan.
pub fn cycles(desired: &BTreeMap<String, DesiredApp>) -> BTreeMap<String, String> {
    let graph: BTreeMap<&str, &[DependsOn]> = desired
        .iter()
        .map(|(n, a)| (n.as_str(), a.depends_on.as_slice()))
        .collect();
    let mut out = BTreeMap::new();
    for cycle in crate::manifest::depends::cycles(&graph) {
        for app in &cycle {
            out.entry((*app).to_owned())
                .or_insert_with(|| cycle.join(" -> "));
        }
    }
    out
}

/// Plans a held app: nothing starts; with `stop_running`, every live instance is stopped.
pub(super) fn plan_held(hold: &Hold, obs: &ObservedApp, out: &mut Plan) {
    if !hold.stop_running {
        return;
    }
    for inst in obs.instances.iter().filter(|i| i.phase != Phase::Stopping) {
        out.actions.push(Action::Stop {
            id: inst.id,
            reason: StopReason::DependencyLost,
        });
    }
}

/// The order to stop apps in at shutdown: the apps that may be stopped now are those no
/// running app depends on (dependents first, each level once the one above has exited).
/// `deps` maps each app to the apps it depends on; `running` lists apps with live instances.
pub fn stoppable<'a>(running: &[&'a str], deps: &BTreeMap<String, Vec<String>>) -> Vec<&'a str> {
    let free: Vec<&str> = running
        .iter()
        .copied()
        .filter(|app| {
            !running.iter().any(|other| {
                other != app && deps.get(*other).is_some_and(|d| d.iter().any(|x| x == app))
            })
        })
        .collect();
    // Apps in a cycle (a directory edited past validation) would wait for each other forever.
    if free.is_empty() {
        running.to_vec()
    } else {
        free
    }
}
