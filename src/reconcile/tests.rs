//! Planner tests: scaling, restarts with back-off, readiness. Rollouts are in `tests/rollout.rs`,
//! the fake supervisor in `tests/sim.rs`, the properties over random histories in
//! `tests/proptests.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;

mod canary;
mod canary_props;
mod depends;
mod memory;
mod proptests;
mod rollout;
mod sim;

use sim::Sim;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn app(replicas: u32, revision: &str) -> DesiredApp {
    DesiredApp {
        name: "web".into(),
        revision: revision.into(),
        replicas,
        restart_policy: RestartPolicy::Always,
        backoff: BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        },
        rollout: RolloutLimits {
            max_surge: 1,
            max_unavailable: 0,
            min_ready: Duration::ZERO,
        },
        ready_after: Some(Duration::from_secs(1)),
        canary: None,
        depends_on: Vec::new(),
        jobs: BTreeMap::new(),
    }
}

fn desired(apps: &[DesiredApp]) -> BTreeMap<String, DesiredApp> {
    apps.iter().map(|a| (a.name.clone(), a.clone())).collect()
}

fn instance(
    id: InstanceId,
    index: u32,
    revision: &str,
    t: Instant,
    phase: Phase,
) -> ObservedInstance {
    ObservedInstance {
        id,
        index,
        revision: revision.into(),
        started: t,
        phase,
        memory: MemoryState::Within,
    }
}

/// `n` instances of `revision`, ids `1..=n` at indices `0..n`, ready since `t`.
fn ready_instances(n: u32, revision: &str, t: Instant) -> ObservedApp {
    ObservedApp {
        instances: (0..n)
            .map(|i| instance(i as u64 + 1, i, revision, t, Phase::Ready { since: t }))
            .collect(),
        slots: BTreeMap::new(),
    }
}

fn observed(obs: &ObservedApp) -> BTreeMap<String, ObservedApp> {
    BTreeMap::from([("web".to_string(), obs.clone())])
}

/// `(index, revision)` of each `Start`, in order.
fn starts(plan: &Plan) -> Vec<(u32, String)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Start {
                index, revision, ..
            } => Some((*index, revision.clone())),
            _ => None,
        })
        .collect()
}

/// `(id, reason)` of each `Stop`, in order.
fn stops(plan: &Plan) -> Vec<(InstanceId, StopReason)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Stop { id, reason } => Some((*id, *reason)),
            _ => None,
        })
        .collect()
}

/// A sim of `app` brought up to a steady state: all instances ready, nothing left to do.
fn running(app: DesiredApp, t: Instant) -> Sim {
    let mut sim = Sim::new(app, t);
    sim.settle(false, 100).expect("settles");
    assert_eq!(sim.plan(), Plan::default());
    sim
}

/// Indices of the live instances, in order.
fn indices(sim: &Sim) -> Vec<u32> {
    sim.live().iter().map(|i| i.index).collect()
}

#[test]
fn starts_every_missing_instance() {
    let now = Instant::now();
    let plan = plan(&desired(&[app(3, "r1")]), &BTreeMap::new(), now);
    let want: Vec<(u32, String)> = (0..3).map(|i| (i, "r1".to_string())).collect();
    assert_eq!(starts(&plan), want);
    assert_eq!(plan.actions.len(), 3);
}

#[test]
fn scale_up_starts_only_the_new_indices() {
    let t = Instant::now();
    let obs = ready_instances(2, "r1", t);
    let plan = plan(&desired(&[app(5, "r1")]), &observed(&obs), t + SEC);
    assert_eq!(
        starts(&plan),
        vec![(2, "r1".into()), (3, "r1".into()), (4, "r1".into())]
    );
    assert_eq!(plan.actions.len(), 3);
}

#[test]
fn steady_state_is_a_fixed_point() {
    let t = Instant::now();
    let obs = ready_instances(3, "r1", t);
    assert_eq!(
        plan(&desired(&[app(3, "r1")]), &observed(&obs), t + SEC),
        Plan::default()
    );
}

#[test]
fn scale_down_stops_the_highest_indices_first_and_nothing_else() {
    let t = Instant::now();
    let mut obs = ready_instances(5, "r1", t);
    obs.instances.reverse(); // observed order must not matter
    obs.instances.swap(1, 3);
    let plan = plan(&desired(&[app(2, "r1")]), &observed(&obs), t + SEC);
    let r = StopReason::ScaledDown;
    assert_eq!(plan.actions.len(), 3);
    assert_eq!(stops(&plan), vec![(5, r), (4, r), (3, r)]);
}

#[test]
fn scale_down_does_not_stop_again_what_is_stopping() {
    let t = Instant::now();
    let mut obs = ready_instances(3, "r1", t);
    obs.instances[2].phase = Phase::Stopping;
    let plan = plan(&desired(&[app(1, "r1")]), &observed(&obs), t + SEC);
    assert_eq!(
        plan.actions,
        vec![Action::Stop {
            id: 2,
            reason: StopReason::ScaledDown
        }]
    );
}

#[test]
fn a_deleted_app_is_stopped_entirely() {
    let t = Instant::now();
    let mut obs = ready_instances(3, "r1", t);
    obs.instances[1].phase = Phase::Stopping;
    obs.instances[2].phase = Phase::Starting;
    let plan = plan(&BTreeMap::new(), &observed(&obs), t + SEC);
    let r = StopReason::Deleted;
    assert_eq!(stops(&plan), vec![(1, r), (3, r)]);
    assert_eq!(plan.actions.len(), 2);
}

#[test]
fn a_deleted_app_does_not_touch_the_others() {
    let t = Instant::now();
    let mut all = observed(&ready_instances(2, "r1", t));
    let mut api = ready_instances(1, "a1", t);
    api.instances[0].id = 10;
    all.insert("api".into(), api);
    let plan = plan(&desired(&[app(2, "r1")]), &all, t + SEC);
    assert_eq!(
        plan.actions,
        vec![Action::Stop {
            id: 10,
            reason: StopReason::Deleted
        }]
    );
}

#[test]
fn suspend_stops_everything_and_starts_nothing() {
    let t = Instant::now();
    let mut sim = running(app(3, "r1"), t);
    sim.desired.replicas = 0;
    let plan = sim.step();
    let r = StopReason::ScaledDown;
    assert_eq!(plan.actions.len(), 3);
    assert_eq!(stops(&plan), vec![(3, r), (2, r), (1, r)]);
    sim.settle(false, 10).unwrap();
    assert!(sim.obs.instances.is_empty());
}

#[test]
fn a_crash_restarts_only_after_the_back_off() {
    let t = Instant::now();
    let mut sim = running(app(2, "r1"), t);
    sim.now += 5 * SEC;
    let crashed = sim.live()[1].id;
    sim.crash(crashed, false);
    let retry = sim.now + 100 * MS;
    let plan = sim.step();
    assert_eq!(
        plan,
        Plan {
            actions: vec![],
            requeue_at: Some(retry),
            ..Plan::default()
        }
    );
    sim.now = retry - MS;
    assert_eq!(starts(&sim.step()), vec![]);
    sim.now = retry;
    assert_eq!(starts(&sim.step()), vec![(1, "r1".into())]);
    assert_eq!(sim.obs.slots[&1].restarts, 1);
    assert_eq!(sim.obs.slots[&1].last_exit, None);
}

#[test]
fn a_late_wake_up_still_restarts() {
    let t = Instant::now();
    let mut sim = running(app(1, "r1"), t);
    sim.crash(1, false);
    sim.now += 10 * SEC;
    assert_eq!(starts(&sim.step()), vec![(0, "r1".into())]);
}

/// Crashes the only instance right after it starts, `n` times; returns each restart delay.
fn crash_loop(sim: &mut Sim, n: usize, ran_for: Duration) -> Vec<Duration> {
    let mut delays = Vec::new();
    for _ in 0..n {
        sim.now += ran_for;
        let id = sim.live()[0].id;
        sim.crash(id, false);
        let crashed_at = sim.now;
        let plan = sim.step();
        assert!(starts(&plan).is_empty(), "restarted during back-off");
        let retry = plan.requeue_at.expect("requeue at the retry time");
        delays.push(retry - crashed_at);
        sim.now = retry;
        assert_eq!(starts(&sim.step()).len(), 1);
    }
    delays
}

#[test]
fn back_off_doubles_up_to_the_max() {
    let t = Instant::now();
    let mut a = app(1, "r1");
    a.backoff.max = Duration::from_millis(1000);
    let mut sim = running(a, t);
    let delays = crash_loop(&mut sim, 6, 10 * MS);
    let ms: Vec<u64> = delays.iter().map(|d| d.as_millis() as u64).collect();
    assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
    assert_eq!(sim.obs.slots[&0].restarts, 6);
}

#[test]
fn back_off_resets_after_a_long_healthy_run() {
    let t = Instant::now();
    let mut sim = running(app(1, "r1"), t);
    assert_eq!(crash_loop(&mut sim, 3, 10 * MS)[2], 400 * MS);
    assert_eq!(crash_loop(&mut sim, 1, 61 * SEC), vec![100 * MS]);
    assert_eq!(crash_loop(&mut sim, 1, 10 * MS), vec![200 * MS]);
}

#[test]
fn on_failure_restarts_failures_only() {
    let t = Instant::now();
    let mut a = app(2, "r1");
    a.restart_policy = RestartPolicy::OnFailure;
    let mut sim = running(a, t);
    sim.crash(1, true);
    sim.crash(2, false);
    let plan = sim.step();
    assert!(plan.actions.is_empty());
    sim.advance(SEC);
    assert_eq!(indices(&sim), vec![1]);
    sim.settle(false, 20).unwrap();
    assert_eq!(indices(&sim), vec![1], "exit 0 is not restarted, ever");
}

#[test]
fn never_restarts_nothing() {
    let t = Instant::now();
    let mut a = app(2, "r1");
    a.restart_policy = RestartPolicy::Never;
    let mut sim = running(a, t);
    sim.crash(1, true);
    sim.crash(2, false);
    assert_eq!(sim.step(), Plan::default());
    sim.advance(100 * SEC);
    assert!(sim.obs.instances.is_empty());
}

#[test]
fn a_stopping_instance_blocks_its_index_until_it_exits() {
    let t = Instant::now();
    let mut obs = ready_instances(2, "r1", t);
    obs.instances[1].phase = Phase::Stopping;
    let d = desired(&[app(2, "r1")]);
    assert_eq!(plan(&d, &observed(&obs), t + SEC), Plan::default());
    obs.instances.pop(); // it exited (planned: nothing recorded)
    assert_eq!(
        starts(&plan(&d, &observed(&obs), t + SEC)),
        vec![(1, "r1".into())]
    );
}

#[test]
fn default_readiness_marks_ready_after_the_delay() {
    let t = Instant::now();
    let mut sim = Sim::new(app(1, "r1"), t);
    sim.step();
    sim.now += 400 * MS;
    assert_eq!(
        sim.step(),
        Plan {
            actions: vec![],
            requeue_at: Some(t + SEC),
            ..Plan::default()
        }
    );
    sim.now = t + SEC;
    assert_eq!(sim.step().actions, vec![Action::MarkReady { id: 1 }]);
    assert_eq!(sim.instance(1).phase, Phase::Ready { since: t + SEC });
    assert_eq!(sim.step(), Plan::default());
}

#[test]
fn with_a_probe_the_planner_does_not_mark_ready() {
    let t = Instant::now();
    let mut a = app(1, "r1");
    a.ready_after = None;
    let mut sim = Sim::new(a, t);
    sim.step();
    sim.now += 100 * SEC;
    assert_eq!(sim.step(), Plan::default());
    assert_eq!(sim.instance(1).phase, Phase::Starting);
}
