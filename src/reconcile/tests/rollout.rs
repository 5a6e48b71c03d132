//! Rolling updates: surge and unavailability limits, `minReadySeconds`, stuck and edited rollouts.

use super::*;

fn limits(max_surge: u32, max_unavailable: u32, min_ready: Duration) -> RolloutLimits {
    RolloutLimits {
        max_surge,
        max_unavailable,
        min_ready,
    }
}

/// `(index, revision)` of the live instances.
fn live(sim: &Sim) -> Vec<(u32, String)> {
    sim.live()
        .iter()
        .map(|i| (i.index, i.revision.clone()))
        .collect()
}

fn all(n: u32, revision: &str) -> Vec<(u32, String)> {
    (0..n).map(|i| (i, revision.to_string())).collect()
}

#[test]
fn one_replica_starts_the_new_one_beside_the_old_and_waits_for_it() {
    let t = Instant::now();
    let mut a = app(1, "r1");
    a.rollout = limits(1, 0, 5 * SEC);
    let mut sim = running(a, t);
    sim.desired.revision = "r2".into();
    let t0 = sim.now;

    let plan = sim.step();
    assert_eq!(
        plan.actions,
        vec![Action::Start {
            app: "web".into(),
            index: 0,
            revision: "r2".into()
        }]
    );
    let new = sim.live()[1].id;
    // Not ready yet: the old one stays.
    assert_eq!(
        sim.step(),
        Plan {
            actions: vec![],
            requeue_at: Some(t0 + SEC),
            ..Plan::default()
        }
    );
    // Ready, but minReadySeconds has not passed: the old one still stays.
    sim.now = t0 + SEC;
    assert_eq!(sim.step().actions, vec![Action::MarkReady { id: new }]);
    let plan = sim.step();
    assert_eq!(
        plan,
        Plan {
            actions: vec![],
            requeue_at: Some(t0 + 6 * SEC),
            ..Plan::default()
        }
    );
    sim.now = t0 + 6 * SEC - MS;
    assert!(stops(&sim.step()).is_empty());
    // Available: now the old one goes.
    sim.now = t0 + 6 * SEC;
    assert_eq!(
        sim.step().actions,
        vec![Action::Stop {
            id: 1,
            reason: StopReason::Replaced
        }]
    );
    sim.settle(false, 10).unwrap();
    assert_eq!(live(&sim), all(1, "r2"));
}

#[test]
fn four_replicas_at_25_percent_surge_one_and_drop_one() {
    let t = Instant::now();
    let mut a = app(4, "r1");
    a.rollout = limits(1, 1, Duration::ZERO);
    let mut sim = running(a, t);
    sim.desired.revision = "r2".into();
    let plan = sim.step();
    assert_eq!(starts(&plan), vec![(0, "r2".into())]);
    assert_eq!(stops(&plan), vec![(4, StopReason::Replaced)]);
    assert_eq!(plan.actions.len(), 2);
    sim.on_step = Some(Box::new(|sim, _| {
        assert!(sim.live().len() <= 5, "surge above 1: {:?}", sim.live());
        assert!(
            sim.available() >= 3,
            "more than 1 unavailable: {:?}",
            sim.obs
        );
    }));
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), all(4, "r2"));
}

#[test]
fn max_surge_zero_stops_one_old_first_then_starts() {
    let t = Instant::now();
    let mut a = app(1, "r1");
    a.rollout = limits(0, 1, Duration::ZERO);
    let mut sim = running(a, t);
    sim.desired.revision = "r2".into();
    assert_eq!(
        sim.step().actions,
        vec![Action::Stop {
            id: 1,
            reason: StopReason::Replaced
        }]
    );
    // Still exiting: nothing starts at its index.
    assert_eq!(sim.step().actions, vec![]);
    sim.advance(sim.stop_delay);
    assert_eq!(live(&sim), all(1, "r2"));
}

#[test]
fn max_surge_zero_with_four_replicas_never_runs_more_than_four() {
    let t = Instant::now();
    let mut a = app(4, "r1");
    a.rollout = limits(0, 1, Duration::ZERO);
    let mut sim = running(a, t);
    sim.desired.revision = "r2".into();
    sim.on_step = Some(Box::new(|sim, _| {
        assert!(sim.live().len() <= 4, "{:?}", sim.live());
        assert!(sim.available() >= 3, "{:?}", sim.obs);
    }));
    let plan = sim.step();
    assert_eq!(
        plan.actions,
        vec![Action::Stop {
            id: 4,
            reason: StopReason::Replaced
        }]
    );
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), all(4, "r2"));
}

#[test]
fn a_never_ready_revision_leaves_the_old_ones_serving() {
    let t = Instant::now();
    let mut a = app(1, "r1");
    a.ready_after = None;
    let mut sim = Sim::new(a, t);
    sim.settle(true, 10).unwrap();
    sim.desired.revision = "r2".into();
    sim.step();
    sim.advance(3600 * SEC);
    assert_eq!(sim.plan(), Plan::default());
    assert_eq!(live(&sim), vec![(0, "r1".into()), (0, "r2".into())]);
    assert_eq!(sim.available(), 1);
}

#[test]
fn a_never_ready_revision_keeps_enough_old_ones_with_four_replicas() {
    let t = Instant::now();
    let mut a = app(4, "r1");
    a.ready_after = None;
    a.rollout = limits(1, 1, Duration::ZERO);
    let mut sim = Sim::new(a, t);
    sim.settle(true, 10).unwrap();
    sim.desired.revision = "r2".into();
    sim.step();
    sim.advance(3600 * SEC);
    assert_eq!(sim.plan(), Plan::default());
    let old = sim.live().iter().filter(|i| i.revision == "r1").count();
    assert_eq!((old, sim.available()), (3, 3));
    assert_eq!(sim.live().len(), 5);
}

#[test]
fn the_new_revision_crashing_does_not_take_down_the_old_one() {
    let t = Instant::now();
    let mut sim = running(app(1, "r1"), t);
    sim.desired.revision = "r2".into();
    for _ in 0..5 {
        sim.step();
        let new = sim.live().iter().find(|i| i.revision == "r2").unwrap().id;
        sim.now += 100 * MS;
        sim.crash(new, false);
        sim.step();
        assert_eq!(live(&sim), vec![(0, "r1".into())]);
        sim.advance(SEC);
    }
}

#[test]
fn a_manifest_edited_mid_rollout_converges_to_the_last_revision() {
    let t = Instant::now();
    let mut a = app(4, "a");
    a.rollout = limits(1, 1, 2 * SEC);
    let mut sim = running(a, t);
    sim.desired.revision = "b".into();
    sim.step();
    sim.advance(1500 * MS); // some b's ready, none available yet
    sim.desired.revision = "c".into();
    sim.on_step = Some(Box::new(|sim, _| {
        assert!(sim.live().len() <= 5, "{:?}", sim.live())
    }));
    sim.step();
    sim.settle(false, 200).expect("converges");
    assert_eq!(live(&sim), all(4, "c"));
    assert!(sim
        .obs
        .instances
        .iter()
        .all(|i| matches!(i.phase, Phase::Ready { .. })));
    assert_eq!(sim.plan(), Plan::default());
}

#[test]
fn a_manifest_edited_back_keeps_the_surviving_original() {
    let t = Instant::now();
    let mut sim = running(app(1, "a"), t);
    sim.desired.revision = "b".into();
    sim.step();
    sim.desired.revision = "a".into();
    let new = sim.live()[1].id;
    assert_eq!(
        sim.step().actions,
        vec![Action::Stop {
            id: new,
            reason: StopReason::Replaced
        }]
    );
    sim.settle(false, 10).unwrap();
    assert_eq!(sim.live()[0].id, 1);
}

#[test]
fn duplicates_at_an_index_keep_the_available_one() {
    let t = Instant::now();
    let mut obs = ready_instances(1, "r1", t);
    obs.instances
        .push(instance(2, 0, "r1", t + SEC, Phase::Starting));
    let now = t + 1500 * MS;
    let plan = plan(&desired(&[app(1, "r1")]), &observed(&obs), now);
    assert_eq!(stops(&plan), vec![(2, StopReason::Replaced)]);
    assert!(starts(&plan).is_empty());
}

#[test]
fn scaling_during_a_rollout_starts_the_new_indices_at_the_new_revision() {
    let t = Instant::now();
    let mut sim = running(app(2, "r1"), t);
    sim.desired.revision = "r2".into();
    sim.step();
    sim.desired.replicas = 4;
    let plan = sim.step();
    assert_eq!(starts(&plan), vec![(2, "r2".into()), (3, "r2".into())]);
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), all(4, "r2"));
}

#[test]
fn a_late_wake_up_does_not_count_a_just_marked_instance_as_available() {
    let t = Instant::now();
    let mut a = app(1, "r1");
    a.rollout = limits(1, 0, 2 * SEC);
    let mut sim = running(a, t);
    sim.desired.revision = "r2".into();
    sim.step();
    let new = sim.live()[1].id;
    // The controller was busy: it plans again long after the readiness delay.
    sim.now += 10 * SEC;
    let plan = sim.step();
    assert_eq!(plan.actions, vec![Action::MarkReady { id: new }]);
    assert_eq!(plan.requeue_at, Some(sim.now + 2 * SEC));
    sim.now += 2 * SEC;
    assert_eq!(
        sim.step().actions,
        vec![Action::Stop {
            id: 1,
            reason: StopReason::Replaced
        }]
    );
}

/// An exit recorded at an index while a replacement ran beside it must not keep that index
/// empty when the replacement is later replaced on purpose (maxSurge 0) under `Never`.
#[test]
fn a_stale_exit_does_not_strand_an_index() {
    let t = Instant::now();
    let mut a = app(1, "a");
    a.restart_policy = RestartPolicy::Never;
    let mut sim = running(a, t);
    sim.desired.revision = "b".into();
    sim.step();
    sim.crash(1, false); // the old one dies beside its replacement
    sim.settle(false, 20).unwrap();
    assert_eq!(live(&sim), all(1, "b"));
    sim.desired.rollout = limits(0, 1, Duration::ZERO);
    sim.desired.revision = "c".into();
    sim.settle(false, 20).unwrap();
    assert_eq!(live(&sim), all(1, "c"));
}

#[test]
fn an_index_backing_off_keeps_its_place_in_the_surge() {
    let t = Instant::now();
    let mut sim = running(app(4, "r1"), t);
    sim.crash(4, false); // index 3, back-off 100ms
    sim.desired.revision = "r2".into();
    sim.on_step = Some(Box::new(|sim, _| {
        assert!(sim.live().len() <= 5, "{:?}", sim.live())
    }));
    let plan = sim.step();
    assert_eq!(starts(&plan), vec![(0, "r2".into())]);
    assert_eq!(plan.requeue_at, Some(sim.now + 100 * MS));
    sim.settle(false, 100).unwrap();
    assert_eq!(live(&sim), all(4, "r2"));
}
