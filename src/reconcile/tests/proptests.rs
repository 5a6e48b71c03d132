//! Properties of the planner over random histories, driven through the fake supervisor.
//!
//! A case is a starting manifest and a list of events (crashes, probes passing, time passing,
//! manifest edits). After every event the controller plans and the supervisor executes; the
//! invariants below are checked after every such step, and convergence once the events stop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::sim::{Sim, Step};
use super::*;

pub(super) const REVISIONS: [&str; 3] = ["a", "b", "c"];

/// One thing that happens to the app between two plans.
#[derive(Debug, Clone)]
pub(super) enum Event {
    /// The instance picked (modulo the live count) exits on its own.
    Crash { pick: usize, success: bool },
    /// The readiness probe of the picked `Starting` instance passes.
    Probe { pick: usize },
    /// Time passes; the controller plans at every requeue and exit on the way.
    Advance { ms: u64 },
    /// Time passes while the controller is busy: it plans only once, at the end.
    Jump { ms: u64 },
    /// `spec.instances` is edited.
    Replicas(u32),
    /// Something that shapes a process is edited: a new revision.
    Revision(usize),
    /// `maxSurge`/`maxUnavailable` are edited.
    Limits { surge: u32, unavailable: u32 },
    /// A memory sample finds the picked live instance over its limit.
    Memory { pick: usize },
}

pub(super) fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (any::<usize>(), any::<bool>())
            .prop_map(|(pick, success)| Event::Crash { pick, success }),
        3 => any::<usize>().prop_map(|pick| Event::Probe { pick }),
        4 => (0u64..3000).prop_map(|ms| Event::Advance { ms }),
        1 => (0u64..3000).prop_map(|ms| Event::Jump { ms }),
        1 => (0u32..=6).prop_map(Event::Replicas),
        2 => (0usize..3).prop_map(Event::Revision),
        1 => (0u32..=3, 0u32..=3)
            .prop_map(|(surge, unavailable)| Event::Limits { surge, unavailable }),
        2 => any::<usize>().prop_map(|pick| Event::Memory { pick }),
    ]
}

/// The limits the planner applies: never both zero (validation forbids it; the planner surges 1).
pub(super) fn limits(surge: u32, unavailable: u32, min_ready: Duration) -> RolloutLimits {
    RolloutLimits {
        max_surge: if surge == 0 && unavailable == 0 {
            1
        } else {
            surge
        },
        max_unavailable: unavailable,
        min_ready,
    }
}

/// A starting manifest: 0..=6 replicas, probe or default readiness, some `minReadySeconds`.
pub(super) fn manifest() -> impl Strategy<Value = (DesiredApp, Duration)> {
    (
        0u32..=6,
        0usize..3,
        (0u32..=3, 0u32..=3),
        prop_oneof![Just(0u64), 0u64..3000],
        any::<bool>(),
        0u64..2000,
    )
        .prop_map(|(replicas, rev, (s, u), min_ready, probe, stop_ms)| {
            let mut a = app(replicas, REVISIONS[rev]);
            a.rollout = limits(s, u, Duration::from_millis(min_ready));
            a.ready_after = if probe { None } else { Some(SEC) };
            (a, Duration::from_millis(stop_ms))
        })
}

/// Non-`Stopping` instances.
pub(super) fn live(obs: &ObservedApp) -> impl Iterator<Item = &ObservedInstance> {
    obs.instances.iter().filter(|i| i.phase != Phase::Stopping)
}

/// Indices in `0..replicas` with an instance ready for `minReadySeconds` at `now`, as observed.
/// Counted per index: an old instance and its surged replacement serve as one. An instance over
/// its memory limit again right after starting is a failed run, like a crash: not counted.
pub(super) fn available(app: &DesiredApp, obs: &ObservedApp, now: Instant) -> u32 {
    let ready = |i: &&ObservedInstance| match i.phase {
        Phase::Ready { since } => since + app.rollout.min_ready <= now,
        _ => false,
    };
    let indices: std::collections::BTreeSet<u32> = live(obs)
        .filter(|i| i.index < app.replicas && i.memory != MemoryState::ExceededAgain)
        .filter(ready)
        .map(|i| i.index)
        .collect();
    indices.len() as u32
}

/// Whether `app`'s restart policy restarts an instance that exited with `success`.
fn restarts(app: &DesiredApp, success: bool) -> bool {
    match app.restart_policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => !success,
        RestartPolicy::Never => false,
    }
}

/// What the step checks remember between steps.
pub(super) struct Invariants {
    /// The manifest in force at the last step.
    pub(super) desired: DesiredApp,
    /// Whether `committed` (see [`Invariants::never_exceeds`]) has been within
    /// `replicas + maxSurge` since `desired` took effect.
    pub(super) within: bool,
}

impl Invariants {
    /// Checks one plan execution.
    pub(super) fn check(&mut self, sim: &Sim, step: &Step) {
        let app = &sim.desired;
        if *app != self.desired {
            self.desired = app.clone();
            self.within = false;
        }
        self.no_duplicates(step);
        self.back_off_respected(app, step);
        self.restart_policy_respected(app, step);
        self.stopping_blocks_its_index(step);
        self.never_exceeds(app, step);
        self.availability(app, step);
    }

    /// **No duplicates**: never two non-`Stopping` instances of one revision at one index
    /// (one over its memory limit and its replacement are an old and a new one).
    pub(super) fn no_duplicates(&self, step: &Step) {
        let mut seen = BTreeMap::new();
        for i in live(&step.after) {
            let within = i.memory == MemoryState::Within;
            if let Some(other) = seen.insert((i.index, &i.revision, within), i.id) {
                panic!(
                    "{other} and {} both run {} at {}: {step}",
                    i.id, i.revision, i.index
                );
            }
        }
    }

    /// **Back-off respected**: no `Start` at an index before its `retry_at` after an unplanned
    /// exit (whether the slot is empty or still has an instance of an old revision).
    pub(super) fn back_off_respected(&self, app: &DesiredApp, step: &Step) {
        for (index, _) in starts(&step.plan) {
            let retry = step
                .before
                .slots
                .get(&index)
                .and_then(|h| h.retry_at(&app.backoff));
            if let Some(retry) = retry {
                assert!(
                    step.at >= retry,
                    "start at {index} before its retry time: {step}"
                );
            }
        }
    }

    /// **Restart policy respected**: an index left empty by an unplanned exit is started again
    /// only if the policy says so (`Always`; `OnFailure` after a failure; never with `Never`).
    pub(super) fn restart_policy_respected(&self, app: &DesiredApp, step: &Step) {
        for (index, _) in starts(&step.plan) {
            if step.before.instances.iter().any(|i| i.index == index) {
                continue; // a rollout's surge, not a restart
            }
            let Some(exit) = step.before.slots.get(&index).and_then(|h| h.last_exit) else {
                continue;
            };
            assert!(
                restarts(app, exit.success),
                "restarted {index} against {:?}: {step}",
                app.restart_policy
            );
        }
    }

    /// **Stopping blocks its index**: no `Start` at an index whose only process is still
    /// `Stopping` (it may still hold what the index owns); the start waits for the exit.
    pub(super) fn stopping_blocks_its_index(&self, step: &Step) {
        for (index, _) in starts(&step.plan) {
            let at: Vec<_> = step
                .before
                .instances
                .iter()
                .filter(|i| i.index == index)
                .collect();
            let only_stopping = !at.is_empty() && at.iter().all(|i| i.phase == Phase::Stopping);
            assert!(
                !only_stopping,
                "started {index} while it is stopping: {step}"
            );
        }
    }

    /// **Never exceeds**: non-`Stopping` instances ≤ `replicas + maxSurge`. Precisely, with
    /// `committed` = live instances + indices in `0..replicas` with none that will be filled
    /// (after its back-off, or once its stopping process exits; not those the restart policy
    /// leaves empty; one stopped over its memory limit again will exit as a failure), i.e. about
    /// `replicas` + surged extras:
    /// - once `committed ≤ replicas + maxSurge` under the manifest in force, it stays so (hence
    ///   the live count too) for as long as that manifest is unchanged, whatever crashes, probes
    ///   and time do;
    /// - right after an edit (more replicas, a smaller surge, a new revision mid-rollout) it may
    ///   exceed the new limit until the surged instances are replaced, because instances are not
    ///   stopped just to honour a tighter surge; but while over, the planner never adds a *surge*
    ///   instance (a `Start` at an index that already has a live one): a plan with one always
    ///   leaves `committed` within the limit.
    fn never_exceeds(&mut self, app: &DesiredApp, step: &Step) {
        let limit = app.replicas + app.rollout.max_surge;
        let count = live(&step.after).count() as u32;
        let to_fill = |n: &u32| {
            let exit = step.after.slots.get(n).and_then(|h| h.last_exit);
            // Stopped over its memory limit again: its exit will be a failure, whatever an
            // older exit at the index said.
            let failing = step.after.instances.iter().any(|i| {
                i.index == *n
                    && i.phase == Phase::Stopping
                    && i.memory == MemoryState::ExceededAgain
            });
            let restarted = match exit {
                _ if failing => restarts(app, false),
                Some(e) => restarts(app, e.success),
                None => true,
            };
            live(&step.after).all(|i| i.index != *n) && restarted
        };
        let empty = (0..app.replicas).filter(to_fill).count() as u32;
        let committed = count + empty;
        if self.within {
            assert!(
                committed <= limit,
                "{count} live + {empty} to fill > {limit}: {step}"
            );
        }
        self.within = committed <= limit;
        let surged = starts(&step.plan)
            .iter()
            .any(|(index, _)| live(&step.before).any(|i| i.index == *index));
        if surged {
            assert!(
                committed <= limit,
                "surged to {count} + {empty} > {limit}: {step}"
            );
        }
    }

    /// **Availability**: a plan's `Stop`s never take the available indices (an instance ready
    /// for `minReadySeconds` at an index in `0..replicas`) below `replicas - maxUnavailable`;
    /// if fewer were available before the plan (crashes, a rollout just started), a plan never
    /// lowers it.
    /// Availability is as observed (`Ready { since }`), not as the planner predicts it.
    fn availability(&self, app: &DesiredApp, step: &Step) {
        let floor = app.replicas.saturating_sub(app.rollout.max_unavailable);
        let before = available(app, &step.before, step.at);
        let after = available(app, &step.after, step.at);
        assert!(
            after >= before.min(floor),
            "available {before} → {after}, floor {floor}: {step}"
        );
    }
}

/// Applies one event, then lets the controller plan.
pub(super) fn apply(sim: &mut Sim, event: &Event) {
    match *event {
        Event::Crash { pick, success } => {
            if !sim.obs.instances.is_empty() {
                let id = sim.obs.instances[pick % sim.obs.instances.len()].id;
                sim.crash(id, success);
            }
        }
        Event::Probe { pick } => {
            let starting: Vec<InstanceId> = sim
                .obs
                .instances
                .iter()
                .filter(|i| i.phase == Phase::Starting)
                .map(|i| i.id)
                .collect();
            if !starting.is_empty() {
                sim.probe_ready(starting[pick % starting.len()]);
            }
        }
        Event::Advance { ms } => return sim.advance(Duration::from_millis(ms)),
        Event::Jump { ms } => {
            sim.requeue_at = None;
            sim.now += Duration::from_millis(ms);
            sim.reap();
        }
        Event::Replicas(n) => sim.desired.replicas = n,
        Event::Revision(r) => sim.desired.revision = REVISIONS[r].into(),
        Event::Limits { surge, unavailable } => {
            sim.desired.rollout = limits(surge, unavailable, sim.desired.rollout.min_ready);
        }
        Event::Memory { pick } => {
            let live: Vec<InstanceId> = live(&sim.obs).map(|i| i.id).collect();
            if !live.is_empty() {
                sim.exceed_memory(live[pick % live.len()]);
            }
        }
    }
    sim.step();
}

/// Runs `events` on a sim of `app` with every invariant checked at every step.
pub(super) fn run(app: DesiredApp, stop_delay: Duration, events: &[Event]) -> Sim {
    let t = Instant::now();
    let mut sim = Sim::new(app.clone(), t);
    sim.stop_delay = stop_delay;
    let mut inv = Invariants {
        desired: app,
        within: true,
    };
    sim.on_step = Some(Box::new(move |sim, step| inv.check(sim, step)));
    sim.step();
    for e in events {
        apply(&mut sim, e);
    }
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Every step keeps the invariants (no duplicates, back-off, restart policy, stopping blocks
    /// its index, surge bound, availability), with every restart policy.
    #[test]
    fn invariants_hold_at_every_step(
        (app, stop_delay) in manifest(),
        policy in prop_oneof![
            2 => Just(RestartPolicy::Always),
            1 => Just(RestartPolicy::OnFailure),
            1 => Just(RestartPolicy::Never),
        ],
        events in prop::collection::vec(event(), 0..50),
    ) {
        run(DesiredApp { restart_policy: policy, ..app }, stop_delay, &events);
    }

    /// **Convergence**: once the events stop and time passes with no crashes (probes passing at
    /// once when the app has one), within 200 wake-ups the app runs exactly `replicas`
    /// instances, one per index `0..replicas`, all on the desired revision, all `Ready`, nothing
    /// is being stopped, and `plan` returns no action and no requeue (a fixed point).
    #[test]
    fn converges_once_events_stop(
        (app, stop_delay) in manifest(),
        events in prop::collection::vec(event(), 0..50),
    ) {
        let mut sim = run(app, stop_delay, &events);
        let probe = sim.desired.ready_after.is_none();
        prop_assert!(sim.settle(probe, 200).is_some(), "no fixed point: {:#?}", sim.obs);
        let d = &sim.desired;
        let mut got: Vec<(u32, &str)> = sim
            .obs
            .instances
            .iter()
            .map(|i| (i.index, i.revision.as_str()))
            .collect();
        got.sort();
        let want: Vec<(u32, &str)> = (0..d.replicas).map(|i| (i, d.revision.as_str())).collect();
        prop_assert_eq!(got, want);
        let all_ready = sim.obs.instances.iter().all(|i| matches!(i.phase, Phase::Ready { .. }));
        prop_assert!(all_ready, "not all ready: {:#?}", sim.obs);
        prop_assert_eq!(sim.plan(), Plan::default());
    }

    /// **Availability during a rollout** (the plain statement): from a steady state (all
    /// `replicas` instances of the old revision available), a new revision rolled out with no
    /// crashes never has fewer than `replicas - maxUnavailable` available indices after any
    /// step, whatever order probes pass and time moves in; and it completes.
    #[test]
    fn a_rollout_without_crashes_keeps_enough_available(
        (app, stop_delay) in manifest(),
        (surge, unavailable) in (0u32..=3, 0u32..=3),
        events in prop::collection::vec(
            prop_oneof![
                any::<usize>().prop_map(|pick| Event::Probe { pick }),
                (0u64..3000).prop_map(|ms| Event::Advance { ms }),
                (0u64..3000).prop_map(|ms| Event::Jump { ms }),
            ],
            0..40,
        ),
    ) {
        let mut sim = run(app, stop_delay, &[]);
        let probe = sim.desired.ready_after.is_none();
        sim.settle(probe, 200).expect("steady state");
        sim.now += sim.desired.rollout.min_ready;
        sim.desired.rollout = limits(surge, unavailable, sim.desired.rollout.min_ready);
        sim.desired.revision = "new".into();
        let floor = sim.desired.replicas.saturating_sub(sim.desired.rollout.max_unavailable);
        prop_assert_eq!(available(&sim.desired, &sim.obs, sim.now), sim.desired.replicas);
        sim.on_step = Some(Box::new(move |sim, step| {
            let avail = available(&sim.desired, &step.after, step.at);
            assert!(avail >= floor, "{avail} available < {floor}: {step}");
        }));
        sim.step();
        for e in &events {
            apply(&mut sim, e);
        }
        prop_assert!(sim.settle(probe, 200).is_some());
        prop_assert!(sim.obs.instances.iter().all(|i| i.revision == "new"));
    }
}
