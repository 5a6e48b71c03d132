//! `spec.dependsOn` in the planner: who waits, who starts, who is stopped, and in which order
//! apps stop at shutdown. A small multi-app simulation drives the property test.

use std::collections::BTreeMap;
use std::time::Instant;

use proptest::prelude::*;

use super::super::depends::{holds, stoppable, Condition};
use super::*;
use crate::manifest::{AppName, DependsOn};

fn on(app: &str, condition: Condition, restart: bool) -> DependsOn {
    DependsOn {
        app: AppName::try_from(app.to_owned()).unwrap(),
        condition,
        restart,
    }
}

fn named(name: &str, deps: Vec<DependsOn>) -> DesiredApp {
    DesiredApp {
        name: name.into(),
        depends_on: deps,
        ..app(1, "r1")
    }
}

/// Names of the apps that get a `Start`.
fn started(plan: &Plan) -> Vec<String> {
    let mut names: Vec<String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Start { app, .. } => Some(app.clone()),
            _ => None,
        })
        .collect();
    names.dedup();
    names
}

fn one(name: &str, phase: Phase, t: Instant) -> (String, ObservedApp) {
    let obs = ObservedApp {
        instances: vec![instance(7, 0, "r1", t, phase)],
        slots: BTreeMap::new(),
    };
    (name.to_owned(), obs)
}

#[test]
fn a_dependent_waits_for_ready_then_starts() {
    let t = Instant::now();
    let apps = desired(&[
        named("db", vec![]),
        named("api", vec![on("db", Condition::Ready, false)]),
    ]);
    let p = plan(&apps, &BTreeMap::new(), t);
    assert_eq!(started(&p), ["db"]);
    assert_eq!(p.waiting["api"], "waiting for db to be Ready");
    let starting = BTreeMap::from([one("db", Phase::Starting, t)]);
    let p = plan(&apps, &starting, t);
    assert!(started(&p).is_empty(), "{p:?}");
    assert!(p.waiting.contains_key("api"));
    let ready = BTreeMap::from([one("db", Phase::Ready { since: t }, t)]);
    let p = plan(&apps, &ready, t);
    assert_eq!(started(&p), ["api"]);
    assert!(p.waiting.is_empty());
}

#[test]
fn started_is_met_by_a_starting_instance_and_unrelated_apps_start_at_once() {
    let t = Instant::now();
    let apps = desired(&[
        named("db", vec![]),
        named("api", vec![on("db", Condition::Started, false)]),
        named("web", vec![]),
    ]);
    assert_eq!(started(&plan(&apps, &BTreeMap::new(), t)), ["db", "web"]);
    let starting = BTreeMap::from([one("db", Phase::Starting, t)]);
    assert_eq!(started(&plan(&apps, &starting, t)), ["api", "web"]);
}

#[test]
fn a_missing_or_suspended_dependency_holds_with_the_reason() {
    let t = Instant::now();
    let apps = desired(&[named("api", vec![on("db", Condition::Ready, false)])]);
    let p = plan(&apps, &BTreeMap::new(), t);
    assert!(p.actions.is_empty());
    assert!(
        p.waiting["api"].contains("there is no app \"db\""),
        "{}",
        p.waiting["api"]
    );
    let mut db = named("db", vec![]);
    db.replicas = 0;
    let apps = desired(&[db, named("api", vec![on("db", Condition::Started, false)])]);
    assert!(plan(&apps, &BTreeMap::new(), t).waiting["api"].contains("suspended"));
}

#[test]
fn a_lost_dependency_stops_only_dependents_that_ask_for_it() {
    let t = Instant::now();
    for restart in [false, true] {
        let apps = desired(&[
            named("db", vec![]),
            named("api", vec![on("db", Condition::Ready, restart)]),
        ]);
        // api runs, db has crashed (nothing live).
        let obs = BTreeMap::from([one("api", Phase::Ready { since: t }, t)]);
        let p = plan(&apps, &obs, t);
        assert_eq!(started(&p), ["db"]);
        if restart {
            assert_eq!(stops(&p), [(7, StopReason::DependencyLost)]);
            assert!(p.waiting.contains_key("api"));
        } else {
            assert!(stops(&p).is_empty(), "{p:?}");
            assert!(p.waiting.is_empty());
        }
    }
}

#[test]
fn an_app_with_every_instance_down_waits_again_rather_than_restart() {
    let t = Instant::now();
    let apps = desired(&[
        named("db", vec![]),
        named("api", vec![on("db", Condition::Ready, false)]),
    ]);
    // db is starting again, api crashed: api is not restarted until db is ready.
    let obs = BTreeMap::from([one("db", Phase::Starting, t)]);
    let p = plan(&apps, &obs, t + SEC);
    assert!(!started(&p).contains(&"api".to_string()), "{p:?}");
}

#[test]
fn a_cycle_waits_and_is_named_apart() {
    let t = Instant::now();
    let apps = desired(&[
        named("a", vec![on("b", Condition::Started, false)]),
        named("b", vec![on("a", Condition::Started, false)]),
        named("c", vec![]),
    ]);
    let p = plan(&apps, &BTreeMap::new(), t);
    assert_eq!(started(&p), ["c"]);
    assert_eq!(p.waiting["a"], "waiting for b to be Started");
    assert_eq!(p.waiting["b"], "waiting for a to be Started");
    let found = super::super::depends::cycles(&apps);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found["a"], "a -> b -> a");
    assert_eq!(found["b"], "a -> b -> a");
}

#[test]
fn shutdown_stops_dependents_first_and_unrelated_apps_together() {
    let deps = BTreeMap::from([
        ("api".to_string(), vec!["db".to_string()]),
        ("web".to_string(), vec!["api".to_string()]),
    ]);
    assert_eq!(
        stoppable(&["api", "db", "other", "web"], &deps),
        ["other", "web"]
    );
    assert_eq!(stoppable(&["api", "db"], &deps), ["api"]);
    assert_eq!(stoppable(&["db"], &deps), ["db"]);
    // A cycle (edited past validation) is stopped at once rather than never.
    let cycle = BTreeMap::from([
        ("a".to_string(), vec!["b".to_string()]),
        ("b".to_string(), vec!["a".to_string()]),
    ]);
    assert_eq!(stoppable(&["a", "b"], &cycle), ["a", "b"]);
}

/// What happens between two plans of the multi-app simulation.
#[derive(Debug, Clone)]
enum Event {
    /// Plan and execute.
    Plan,
    /// The n-th live instance (over all apps) passes readiness.
    Ready(usize),
    /// The n-th live instance crashes.
    Crash(usize),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => Just(Event::Plan),
        2 => (0usize..16).prop_map(Event::Ready),
        1 => (0usize..16).prop_map(Event::Crash),
    ]
}

proptest! {
    /// Random graphs over six apps (some edges to a missing app, cycles allowed), random
    /// readiness and crashes: no app gets a `Start` while none of its instances runs and a
    /// dependency is unmet; an app without dependencies gets exactly the actions it would get
    /// alone; a waiting app always has a reason and never an instance started.
    #[test]
    fn no_start_while_a_dependency_is_unmet(
        edges in proptest::collection::vec((0usize..6, 0usize..7, any::<bool>(), any::<bool>()), 0..10),
        events in proptest::collection::vec(event(), 1..40),
    ) {
        let names = ["a", "b", "c", "d", "e", "f", "ghost"];
        let mut apps: BTreeMap<String, DesiredApp> = names[..6]
            .iter()
            .map(|n| (n.to_string(), named(n, vec![])))
            .collect();
        for (from, to, ready, restart) in edges {
            let (from, to) = (names[from], names[to]);
            let app = apps.get_mut(from).unwrap();
            if from != to && !app.depends_on.iter().any(|d| d.app.as_str() == to) {
                let c = if ready { Condition::Ready } else { Condition::Started };
                app.depends_on.push(on(to, c, restart));
            }
        }
        let t = Instant::now();
        let mut obs: BTreeMap<String, ObservedApp> = BTreeMap::new();
        let mut next_id = 1;
        for e in events {
            let live: Vec<(String, InstanceId)> = obs
                .iter()
                .flat_map(|(n, o)| o.instances.iter().map(move |i| (n.clone(), i.id)))
                .collect();
            match e {
                Event::Ready(n) | Event::Crash(n) if live.is_empty() => { let _ = n; }
                Event::Ready(n) => {
                    let (app, id) = &live[n % live.len()];
                    let o = obs.get_mut(app).unwrap();
                    for i in o.instances.iter_mut().filter(|i| i.id == *id && i.phase == Phase::Starting) {
                        i.phase = Phase::Ready { since: t };
                    }
                }
                Event::Crash(n) => {
                    let (app, id) = &live[n % live.len()];
                    obs.get_mut(app).unwrap().instances.retain(|i| i.id != *id);
                }
                Event::Plan => {
                    let p = plan(&apps, &obs, t);
                    let gate = holds(&apps, &obs);
                    for (name, app) in &apps {
                        let mine: Vec<&Action> = p.actions.iter().filter(|a| match a {
                            Action::Start { app, .. } => app == name,
                            Action::Stop { id, .. } | Action::MarkReady { id } => obs
                                .get(name)
                                .is_some_and(|o| o.instances.iter().any(|i| i.id == *id)),
                        }).collect();
                        if app.depends_on.is_empty() {
                            let alone = plan(
                                &desired(std::slice::from_ref(app)),
                                &obs.iter().filter(|(n, _)| *n == name).map(|(n, o)| (n.clone(), o.clone())).collect(),
                                t,
                            );
                            let alone: Vec<&Action> = alone.actions.iter().collect();
                            prop_assert_eq!(&mine, &alone, "{} alone", name);
                            continue;
                        }
                        let running = obs.get(name).is_some_and(|o| o.instances.iter().any(|i| i.phase != Phase::Stopping));
                        let unmet = app.depends_on.iter().any(|d| {
                            let live = obs.get(d.app.as_str()).map_or(&[][..], |o| &o.instances[..]);
                            !apps.contains_key(d.app.as_str()) || match d.condition {
                                Condition::Ready => !live.iter().any(|i| matches!(i.phase, Phase::Ready { .. })),
                                _ => !live.iter().any(|i| i.phase != Phase::Stopping),
                            }
                        });
                        let starts_it = mine.iter().any(|a| matches!(a, Action::Start { .. }));
                        if !running && unmet {
                            prop_assert!(!starts_it, "{} started with an unmet dependency", name);
                            prop_assert!(p.waiting.contains_key(name));
                        }
                        if p.waiting.contains_key(name) {
                            prop_assert!(!starts_it);
                            prop_assert!(gate.contains_key(name));
                        }
                    }
                    // Execute: starts become Starting instances, stops remove them at once.
                    for a in &p.actions {
                        match a {
                            Action::Start { app, index, revision } => {
                                obs.entry(app.clone()).or_default().instances.push(
                                    instance(next_id, *index, revision, t, Phase::Starting),
                                );
                                next_id += 1;
                            }
                            Action::Stop { id, .. } => {
                                for o in obs.values_mut() {
                                    o.instances.retain(|i| i.id != *id);
                                }
                            }
                            Action::MarkReady { .. } => {}
                        }
                    }
                }
            }
        }
    }
}
