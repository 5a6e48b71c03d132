//! Memory limits: an instance over `memory.limit` is replaced the zero-downtime way (honouring
//! `strategy`), and over it again right after starting it backs off like a crash.

use super::*;

/// A 1-instance app with the given surge/unavailability, brought to a steady state.
fn one(surge: u32, unavailable: u32, t: Instant) -> Sim {
    let mut a = app(1, "r1");
    a.rollout.max_surge = surge;
    a.rollout.max_unavailable = unavailable;
    running(a, t)
}

#[test]
fn over_the_limit_a_replacement_starts_first_and_the_old_one_stops_once_it_is_ready() {
    let mut sim = one(1, 0, Instant::now());
    let old = sim.live()[0].id;
    sim.now += 120 * SEC; // a healthy run
    sim.exceed_memory(old);
    let plan = sim.step();
    assert_eq!(starts(&plan), vec![(0, "r1".into())]);
    assert!(
        stops(&plan).is_empty(),
        "stopped before the replacement: {plan:?}"
    );
    let new = sim.live().iter().find(|i| i.id != old).unwrap().id;
    sim.advance(SEC); // default readiness
    assert!(matches!(sim.instance(new).phase, Phase::Ready { .. }));
    assert_eq!(sim.instance(old).phase, Phase::Stopping);
    sim.settle(false, 100).expect("settles");
    assert_eq!(
        sim.live().iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![new]
    );
    let slot = sim.obs.slots[&0];
    assert_eq!((slot.restarts, slot.failures, slot.last_exit), (1, 1, None));
}

#[test]
fn the_stop_says_memory_limit() {
    let mut sim = one(1, 0, Instant::now());
    let old = sim.live()[0].id;
    sim.now += 120 * SEC;
    sim.exceed_memory(old);
    sim.step();
    sim.now += SEC;
    let plan = sim.step();
    assert!(
        stops(&plan).contains(&(old, StopReason::MemoryLimit)),
        "{plan:?}"
    );
}

#[test]
fn with_max_surge_zero_it_is_stopped_first() {
    let mut sim = one(0, 1, Instant::now());
    let old = sim.live()[0].id;
    sim.now += 120 * SEC;
    sim.exceed_memory(old);
    let plan = sim.step();
    assert_eq!(stops(&plan), vec![(old, StopReason::MemoryLimit)]);
    assert!(starts(&plan).is_empty(), "surged with maxSurge 0: {plan:?}");
    sim.advance(sim.stop_delay);
    assert_eq!(indices(&sim), vec![0]);
    assert_ne!(sim.live()[0].id, old);
}

#[test]
fn over_again_right_after_starting_backs_off_like_a_crash() {
    let mut sim = one(1, 0, Instant::now());
    let first = sim.live()[0].id;
    sim.now += 120 * SEC;
    sim.exceed_memory(first);
    sim.step();
    let second = sim.live().iter().find(|i| i.id != first).unwrap().id;
    sim.now += 200 * MS;
    sim.exceed_memory(second);
    assert_eq!(sim.instance(second).memory, MemoryState::ExceededAgain);
    let plan = sim.step();
    assert_eq!(stops(&plan), vec![(second, StopReason::MemoryLimitBackOff)]);
    assert!(starts(&plan).is_empty(), "{plan:?}");
    // The first one still serves meanwhile: only the failed run is stopped.
    assert_eq!(
        sim.instance(first).phase,
        Phase::Ready {
            since: sim.instance(first).started + SEC
        }
    );
}

#[test]
fn a_limit_too_low_backs_off_exponentially_instead_of_a_replacement_storm() {
    let mut a = app(1, "r1");
    a.ready_after = Some(100 * MS);
    let mut sim = running(a, Instant::now());
    let t0 = sim.now;
    let first = sim.live()[0].id;
    let mut seen = std::collections::BTreeSet::<InstanceId>::new();
    // Every instance goes over its limit 50 ms after it starts, for one minute.
    while sim.now < t0 + 60 * SEC {
        let ids: Vec<InstanceId> = sim
            .live()
            .iter()
            .filter(|i| i.memory == MemoryState::Within && sim.now >= i.started + 50 * MS)
            .map(|i| i.id)
            .collect();
        for id in ids {
            sim.exceed_memory(id);
        }
        sim.step();
        seen.extend(
            sim.obs
                .instances
                .iter()
                .map(|i| i.id)
                .filter(|id| *id != first),
        );
        sim.advance(50 * MS);
    }
    let started = seen.len();
    // 100ms, 200ms, … 25.6s, 30s: about ten tries in a minute, not one every sample.
    assert!((5..=14).contains(&started), "{started} starts in a minute");
    let slot = sim.obs.slots[&0];
    assert!(slot.failures >= 5, "failures {}", slot.failures);
}

#[test]
fn a_healthy_run_after_a_replacement_resets_to_a_zero_downtime_replacement() {
    let mut sim = one(1, 0, Instant::now());
    let first = sim.live()[0].id;
    sim.now += 120 * SEC;
    sim.exceed_memory(first);
    sim.settle(false, 100).expect("settles");
    let second = sim.live()[0].id;
    sim.now += 61 * SEC; // past resetAfter
    sim.exceed_memory(second);
    assert_eq!(sim.instance(second).memory, MemoryState::Exceeded);
    let plan = sim.step();
    assert_eq!(starts(&plan).len(), 1);
    assert!(stops(&plan).is_empty());
}

#[test]
fn an_old_revision_over_its_limit_is_replaced_by_the_new_revision() {
    let mut sim = one(1, 0, Instant::now());
    let old = sim.live()[0].id;
    sim.now += 120 * SEC;
    sim.exceed_memory(old);
    sim.desired.revision = "r2".into();
    sim.settle(false, 100).expect("settles");
    let live = sim.live();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].index, live[0].revision.as_str()), (0, "r2"));
}
