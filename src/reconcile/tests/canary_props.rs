//! Properties of a held canary over random histories, through the fake supervisor: while held,
//! the stable instances are never stopped (crashed ones come back stable), the canary stands
//! at exactly the held indices, and promotion and abort keep the rolling update's guarantees.

use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;

use super::proptests::{apply, available, event, live, manifest, Event, Invariants};
use super::sim::{Sim, Step};
use super::*;

/// The stable revision; the canary is `b` or `c`.
const STABLE: &str = "a";
const CANARIES: [&str; 2] = ["b", "c"];

/// One thing that happens while a canary is held.
#[derive(Debug, Clone)]
enum HoldEvent {
    /// Anything of the plain properties but a new revision (crash, probe, time, replicas,
    /// limits, memory).
    Base(Event),
    /// The weight moves: this many indices hold a canary (may exceed `replicas`).
    Held(u32),
    /// A new canary revision replaces the held one (the old canary becomes a third revision).
    Canary(usize),
}

fn hold_event() -> impl Strategy<Value = HoldEvent> {
    prop_oneof![
        12 => event()
            .prop_filter("a revision edit is a Canary event here", |e| {
                !matches!(e, Event::Revision(_))
            })
            .prop_map(HoldEvent::Base),
        2 => (0u32..=7).prop_map(HoldEvent::Held),
        1 => (0usize..2).prop_map(HoldEvent::Canary),
    ]
}

/// The indices that hold a canary: `0..min(instances, replicas)`.
fn held(app: &DesiredApp) -> u32 {
    app.canary
        .as_ref()
        .map_or(0, |h| h.instances.min(app.replicas))
}

/// Checks of one step of a hold, besides the plain invariants that still apply.
fn check_hold(app: &DesiredApp, step: &Step) {
    let hold = app.canary.as_ref().expect("held");
    let inv = Invariants {
        desired: app.clone(),
        within: true,
    };
    inv.no_duplicates(step);
    inv.back_off_respected(app, step);
    inv.restart_policy_respected(app, step);
    inv.stopping_blocks_its_index(step);
    let held = held(app);
    // **Stable never stopped**: a stable instance at an index in use is stopped only over its
    // memory limit (replaced by another stable one, or backing off like a crash).
    for action in &step.plan.actions {
        let Action::Stop { id, reason } = action else {
            continue;
        };
        let inst = step.before.instances.iter().find(|i| i.id == *id).unwrap();
        if inst.revision == hold.stable && inst.index < app.replicas {
            assert!(
                matches!(
                    reason,
                    StopReason::MemoryLimit | StopReason::MemoryLimitBackOff
                ),
                "stable {id} stopped ({reason:?}) during the hold: {step}"
            );
        }
    }
    // **Only the two revisions start**, the canary only at a held index.
    for (index, revision) in starts(&step.plan) {
        if revision == app.revision {
            assert!(index < held, "canary started at {index} ≥ {held}: {step}");
        } else {
            assert_eq!(revision, hold.stable, "third revision started: {step}");
            assert!(index < app.replicas, "stable started at {index}: {step}");
        }
    }
    // **Exactly the held indices**: after every plan, no live canary outside `0..held` (so never
    // both revisions at full size unless the hold covers every index).
    let canary_at: BTreeSet<u32> = live(&step.after)
        .filter(|i| i.revision == app.revision)
        .map(|i| i.index)
        .collect();
    assert!(
        canary_at.iter().all(|i| *i < held),
        "canary at {canary_at:?}, held {held}: {step}"
    );
}

/// Applies one hold event, then lets the controller plan.
fn apply_hold(sim: &mut Sim, event: &HoldEvent) {
    match event {
        HoldEvent::Base(e) => return apply(sim, e),
        HoldEvent::Held(n) => {
            if let Some(h) = sim.desired.canary.as_mut() {
                h.instances = *n;
            }
        }
        HoldEvent::Canary(c) => sim.desired.revision = CANARIES[*c].into(),
    }
    sim.step();
}

/// A sim of `app` on the stable revision (settled first when `from_steady`), then a hold of
/// `instances` canaries of `b`, with [`check_hold`] at every step.
fn hold_sim(mut app: DesiredApp, stop_delay: Duration, from_steady: bool, instances: u32) -> Sim {
    app.revision = STABLE.into();
    let mut sim = Sim::new(app, std::time::Instant::now());
    sim.stop_delay = stop_delay;
    let probe = sim.desired.ready_after.is_none();
    if from_steady {
        sim.settle(probe, 200).expect("steady state");
    }
    sim.desired.revision = CANARIES[0].into();
    sim.desired.canary = Some(CanaryHold {
        stable: STABLE.into(),
        instances,
    });
    sim.on_step = Some(Box::new(|sim, step| check_hold(&sim.desired, step)));
    sim.step();
    sim
}

/// Settles `sim` (no crashes, probes passing when the app has one) and checks the fixed point:
/// one stable instance at every index, one canary at every held index, all ready.
fn settle_held(sim: &mut Sim) -> Result<(), TestCaseError> {
    let probe = sim.desired.ready_after.is_none();
    prop_assert!(
        sim.settle(probe, 300).is_some(),
        "no fixed point: {:#?}",
        sim.obs
    );
    let d = &sim.desired;
    let mut got: Vec<(u32, &str)> = sim
        .obs
        .instances
        .iter()
        .map(|i| (i.index, i.revision.as_str()))
        .collect();
    got.sort();
    let mut want: Vec<(u32, &str)> = (0..d.replicas).map(|i| (i, STABLE)).collect();
    want.extend((0..held(d)).map(|i| (i, d.revision.as_str())));
    want.sort();
    prop_assert_eq!(got, want);
    let all_ready = sim
        .obs
        .instances
        .iter()
        .all(|i| matches!(i.phase, Phase::Ready { .. }));
    prop_assert!(all_ready, "not all ready: {:#?}", sim.obs);
    prop_assert_eq!(sim.plan(), Plan::default());
    Ok(())
}

/// Steps with probes passing and time moving, nothing crashing.
fn calm_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<usize>().prop_map(|pick| Event::Probe { pick }),
        (0u64..3000).prop_map(|ms| Event::Advance { ms }),
        (0u64..3000).prop_map(|ms| Event::Jump { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every step of a hold keeps its invariants whatever crashes, probes, time, memory, edits
    /// of replicas, limits, the weight and the canary revision do; once events stop, the hold
    /// settles on one stable instance per index and one canary per held index.
    #[test]
    fn a_hold_keeps_stable_everywhere_and_the_canary_where_held(
        (app, stop_delay) in manifest(),
        from_steady in any::<bool>(),
        instances in 0u32..=7,
        events in prop::collection::vec(hold_event(), 0..50),
    ) {
        let mut sim = hold_sim(app, stop_delay, from_steady, instances);
        for e in &events {
            apply_hold(&mut sim, e);
        }
        settle_held(&mut sim)?;
    }

    /// **Promotion** (the hold set to `None`) from a settled hold: with no crashes, available
    /// indices never drop below `replicas - maxUnavailable`, the plain invariants hold (the
    /// surge bound once within it), and every index ends on the canary revision.
    #[test]
    fn promotion_keeps_enough_available_and_completes(
        (app, stop_delay) in manifest(),
        instances in 0u32..=7,
        events in prop::collection::vec(calm_event(), 0..40),
    ) {
        let mut sim = hold_sim(app, stop_delay, true, instances);
        settle_held(&mut sim)?;
        sim.now += sim.desired.rollout.min_ready;
        sim.desired.canary = None;
        let floor = sim.desired.replicas.saturating_sub(sim.desired.rollout.max_unavailable);
        let mut inv = Invariants { desired: sim.desired.clone(), within: false };
        sim.on_step = Some(Box::new(move |sim, step| {
            inv.check(sim, step);
            let avail = available(&sim.desired, &step.after, step.at);
            assert!(avail >= floor, "{avail} available < {floor}: {step}");
        }));
        sim.step();
        for e in &events {
            apply(&mut sim, e);
        }
        let probe = sim.desired.ready_after.is_none();
        prop_assert!(sim.settle(probe, 300).is_some());
        let d = &sim.desired;
        let mut got: Vec<(u32, &str)> =
            sim.obs.instances.iter().map(|i| (i.index, i.revision.as_str())).collect();
        got.sort();
        let want: Vec<(u32, &str)> = (0..d.replicas).map(|i| (i, d.revision.as_str())).collect();
        prop_assert_eq!(got, want);
    }

    /// **Abort** (revision back to stable, hold `None`) from a hold after any history: the first
    /// plan stops every live canary instance that has a ready stable one beside it, and no
    /// stable one; a settled hold loses every canary at once; then it converges to stable.
    #[test]
    fn abort_stops_the_canaries_at_once_and_nothing_stable(
        (app, stop_delay) in manifest(),
        instances in 0u32..=7,
        events in prop::collection::vec(hold_event(), 0..30),
        settled in any::<bool>(),
    ) {
        let mut sim = hold_sim(app, stop_delay, true, instances);
        for e in &events {
            apply_hold(&mut sim, e);
        }
        if settled {
            settle_held(&mut sim)?;
            sim.now += sim.desired.rollout.min_ready;
        }
        sim.on_step = None;
        let canary = sim.desired.revision.clone();
        sim.desired.revision = STABLE.into();
        sim.desired.canary = None;
        let before = sim.obs.clone();
        let plan = sim.step();
        let stopped: BTreeSet<InstanceId> = stops(&plan).iter().map(|(id, _)| *id).collect();
        for id in &stopped {
            let inst = before.instances.iter().find(|i| i.id == *id).unwrap();
            prop_assert!(
                inst.revision != STABLE || inst.memory != MemoryState::Within
                    || inst.index >= sim.desired.replicas,
                "stable {} stopped on abort: {:?}", id, plan
            );
        }
        if settled {
            let canaries: BTreeSet<InstanceId> =
                live(&before).filter(|i| i.revision == canary).map(|i| i.id).collect();
            prop_assert_eq!(&stopped, &canaries);
            prop_assert!(starts(&plan).is_empty(), "{:?}", plan);
        }
        let probe = sim.desired.ready_after.is_none();
        prop_assert!(sim.settle(probe, 300).is_some());
        prop_assert!(sim.obs.instances.iter().all(|i| i.revision == STABLE));
    }
}
