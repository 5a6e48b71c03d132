//! A held canary (`DesiredApp.canary`): the stable revision keeps every index, the canary runs
//! beside it at the held indices; promotion and abort are plain rolling updates.

use super::*;

/// `(index, revision)` of the live instances, sorted.
fn live(sim: &Sim) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String)> = sim
        .live()
        .iter()
        .map(|i| (i.index, i.revision.clone()))
        .collect();
    v.sort();
    v
}

/// `replicas` stable instances at every index and a canary at each of `0..held`, sorted as
/// `live` lists them.
fn held(replicas: u32, held: u32) -> Vec<(u32, String)> {
    let mut v = Vec::new();
    for i in 0..replicas {
        if i < held {
            v.push((i, "canary".to_string()));
        }
        v.push((i, "stable".to_string()));
    }
    v
}

fn hold(instances: u32) -> Option<CanaryHold> {
    Some(CanaryHold {
        stable: "stable".into(),
        instances,
    })
}

/// `replicas` ready instances of `stable`, then a hold of `instances` canaries, settled.
fn holding(replicas: u32, instances: u32, surge: u32, unavailable: u32) -> Sim {
    let t = Instant::now();
    let mut a = app(replicas, "stable");
    a.rollout.max_surge = surge;
    a.rollout.max_unavailable = unavailable;
    let mut sim = running(a, t);
    sim.desired.revision = "canary".into();
    sim.desired.canary = hold(instances);
    sim.settle(false, 100).expect("the hold settles");
    assert_eq!(live(&sim), held(replicas, instances));
    assert_eq!(
        sim.plan(),
        Plan::default(),
        "a settled hold is a fixed point"
    );
    sim
}

/// The id of the live instance of `revision` at `index`.
fn id_at(sim: &Sim, index: u32, revision: &str) -> InstanceId {
    sim.live()
        .iter()
        .find(|i| i.index == index && i.revision == revision)
        .unwrap_or_else(|| panic!("no {revision} at {index}: {:?}", sim.obs))
        .id
}

#[test]
fn a_hold_starts_the_canary_beside_the_stable_ones_and_stops_nothing() {
    let t = Instant::now();
    let mut sim = running(app(4, "stable"), t);
    sim.desired.revision = "canary".into();
    sim.desired.canary = hold(1);
    let plan = sim.step();
    assert_eq!(
        plan.actions,
        vec![Action::Start {
            app: "web".into(),
            index: 0,
            revision: "canary".into()
        }]
    );
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(4, 1));
}

#[test]
fn the_held_count_moves_with_the_weight_and_the_stable_ones_stay() {
    let mut sim = holding(4, 1, 1, 0);
    let stable: Vec<InstanceId> = (0..4).map(|i| id_at(&sim, i, "stable")).collect();
    sim.desired.canary = hold(3);
    assert_eq!(
        starts(&sim.step()),
        vec![(1, "canary".into()), (2, "canary".into())]
    );
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(4, 3));
    // Down to one: the canaries at 1 and 2 stop at once, nothing else.
    let c1 = id_at(&sim, 1, "canary");
    let c2 = id_at(&sim, 2, "canary");
    sim.desired.canary = hold(1);
    let plan = sim.step();
    assert_eq!(
        stops(&plan),
        vec![(c1, StopReason::Replaced), (c2, StopReason::Replaced)]
    );
    assert_eq!(plan.actions.len(), 2);
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(4, 1));
    // Zero: no canary at all, the stable instances untouched throughout.
    sim.desired.canary = hold(0);
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(4, 0));
    let now: Vec<InstanceId> = (0..4).map(|i| id_at(&sim, i, "stable")).collect();
    assert_eq!(now, stable);
}

#[test]
fn more_held_than_replicas_is_every_index_once() {
    let mut sim = holding(2, 5, 1, 0);
    assert_eq!(live(&sim), held(2, 2));
    sim.desired.replicas = 3;
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(3, 3));
}

#[test]
fn a_stable_instance_that_crashes_comes_back_stable_after_its_back_off() {
    let mut sim = holding(3, 1, 1, 0);
    for index in [0, 2] {
        let id = id_at(&sim, index, "stable");
        sim.crash(id, false);
        let plan = sim.step();
        assert!(starts(&plan).is_empty(), "no start before the back-off");
        let retry = plan.requeue_at.expect("a requeue for the back-off");
        assert_eq!(retry, sim.now + Duration::from_millis(100));
        sim.now = retry;
        assert_eq!(starts(&sim.step()), vec![(index, "stable".into())]);
        sim.settle(false, 100).unwrap();
        assert_eq!(live(&sim), held(3, 1));
    }
}

#[test]
fn a_canary_that_crashes_comes_back_canary_after_its_back_off() {
    let mut sim = holding(3, 2, 1, 0);
    let id = id_at(&sim, 1, "canary");
    sim.crash(id, false);
    let plan = sim.step();
    assert!(plan.actions.is_empty(), "{plan:?}");
    sim.now = plan.requeue_at.unwrap();
    assert_eq!(starts(&sim.step()), vec![(1, "canary".into())]);
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(3, 2));
}

#[test]
fn a_third_revision_rolls_to_stable_by_the_rolling_rules() {
    // Two instances of "old" at 0 and 1 (left from an earlier rollout), a hold begins.
    let t = Instant::now();
    let mut a = app(2, "old");
    a.rollout.max_surge = 1;
    a.rollout.max_unavailable = 0;
    let mut sim = running(a, t);
    sim.desired.revision = "canary".into();
    sim.desired.canary = hold(1);
    let plan = sim.step();
    // One stable surges (maxSurge 1, maxUnavailable 0), the canary starts beside index 0.
    assert_eq!(
        starts(&plan),
        vec![(0, "stable".into()), (0, "canary".into())]
    );
    assert!(stops(&plan).is_empty());
    sim.on_step = Some(Box::new(|sim, _| {
        let not_canary = sim.live().iter().filter(|i| i.revision != "canary").count();
        assert!(not_canary <= 3, "surge above 1: {:?}", sim.live());
    }));
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(2, 1));
}

#[test]
fn promotion_drops_the_stable_one_beside_each_ready_canary_at_once_and_rolls_the_rest() {
    let mut sim = holding(4, 2, 1, 0);
    let beside: Vec<InstanceId> = (0..2).map(|i| id_at(&sim, i, "stable")).collect();
    sim.desired.canary = None;
    let plan = sim.step();
    let stopped: Vec<InstanceId> = stops(&plan).iter().map(|(id, _)| *id).collect();
    assert_eq!(stopped, beside, "{plan:?}");
    assert_eq!(starts(&plan), vec![(2, "canary".into())], "maxSurge 1");
    sim.on_step = Some(Box::new(|sim, step| {
        assert!(sim.available() >= 4, "below 4 available: {step}");
        assert!(sim.live().len() <= 5, "above 4 + 1: {step}");
    }));
    sim.settle(false, 100).unwrap();
    assert_eq!(
        live(&sim),
        (0..4).map(|i| (i, "canary".into())).collect::<Vec<_>>()
    );
}

#[test]
fn abort_stops_every_canary_at_once_and_no_stable_one() {
    let mut sim = holding(5, 3, 1, 0);
    let canaries: Vec<InstanceId> = (0..3).map(|i| id_at(&sim, i, "canary")).collect();
    sim.desired.revision = "stable".into();
    sim.desired.canary = None;
    let plan = sim.step();
    let want: Vec<(InstanceId, StopReason)> = canaries
        .iter()
        .map(|id| (*id, StopReason::Replaced))
        .collect();
    assert_eq!(stops(&plan), want);
    assert_eq!(plan.actions.len(), 3, "{plan:?}");
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(5, 0));
}

#[test]
fn a_hold_on_the_desired_revision_is_a_plain_rolling_update() {
    let t = Instant::now();
    let mut a = app(3, "r1");
    a.canary = Some(CanaryHold {
        stable: "r1".into(),
        instances: 2,
    });
    let sim = running(a, t);
    assert_eq!(
        live(&sim),
        (0..3).map(|i| (i, "r1".into())).collect::<Vec<_>>()
    );
}

#[test]
fn a_stable_instance_over_its_memory_limit_is_replaced_by_a_stable_one() {
    let mut sim = holding(2, 1, 1, 0);
    let id = id_at(&sim, 0, "stable");
    sim.exceed_memory(id);
    assert_eq!(starts(&sim.step()), vec![(0, "stable".into())]);
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), held(2, 1));
    assert!(sim.live().iter().all(|i| i.id != id));
}

#[test]
fn instances_for_a_weight_round_up_at_least_one_at_most_all() {
    let cases = [
        (0, 4, 1),
        (1, 4, 1),
        (10, 4, 1),
        (25, 4, 1),
        (26, 4, 2),
        (50, 4, 2),
        (51, 4, 3),
        (100, 4, 4),
        (10, 1, 1),
        (50, 0, 0),
        (100, 0, 0),
        (33, 3, 1),
        (34, 3, 2),
        (200, 3, 3),
        (1, u32::MAX, 42_949_673),
        (100, u32::MAX, u32::MAX),
    ];
    for (weight, replicas, want) in cases {
        assert_eq!(
            CanaryHold::instances_for(weight, replicas),
            want,
            "{weight}% of {replicas}"
        );
    }
}
