use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn dep(app: &str) -> DependsOn {
    DependsOn {
        app: AppName(app.into()),
        condition: Condition::Ready,
        restart: false,
    }
}

/// A graph from `(app, [deps])`.
fn graph(edges: &[(&'static str, &[&str])]) -> BTreeMap<&'static str, Vec<DependsOn>> {
    edges
        .iter()
        .map(|(a, ds)| (*a, ds.iter().map(|d| dep(d)).collect()))
        .collect()
}

fn problems(edges: &[(&'static str, &[&str])]) -> Vec<SetProblem> {
    let owned = graph(edges);
    let g: BTreeMap<&str, &[DependsOn]> = owned.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let kinds: BTreeMap<&str, Kind> = g.keys().map(|k| (*k, Kind::App)).collect();
    check_set(&g, &kinds)
}

#[test]
fn an_unknown_name_is_refused_with_the_closest_known_one() {
    let p = problems(&[("api", &["dbb"]), ("db", &[])]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].app, "api");
    assert_eq!(p[0].entry, 0);
    assert!(p[0].message.contains("no app \"dbb\""), "{}", p[0].message);
    assert!(
        p[0].message.contains("did you mean `db`?"),
        "{}",
        p[0].message
    );
    let far = problems(&[("api", &["postgres"]), ("db", &[])]);
    assert!(
        !far[0].message.contains("did you mean"),
        "{}",
        far[0].message
    );
}

#[test]
fn a_cycle_is_named_once_from_its_first_app() {
    let p = problems(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].app, "a");
    assert!(
        p[0].message.contains("cycle a -> b -> c -> a"),
        "{}",
        p[0].message
    );
    let two = problems(&[("web", &["db"]), ("db", &["web"])]);
    assert!(
        two[0].message.contains("db -> web -> db"),
        "{}",
        two[0].message
    );
    // The entry blamed is the one leading into the cycle.
    let p = problems(&[("a", &["x", "b"]), ("b", &["a"]), ("x", &[])]);
    assert_eq!((p[0].app.as_str(), p[0].entry), ("a", 1), "{p:?}");
}

#[test]
fn a_chain_and_a_diamond_have_no_cycle() {
    assert!(problems(&[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"]), ("d", &[])]).is_empty());
    let chain: Vec<(&'static str, &[&str])> = vec![("l0", &[]), ("l1", &["l0"]), ("l2", &["l1"])];
    assert!(problems(&chain).is_empty());
}

#[test]
fn two_cycles_are_two_problems() {
    let p = problems(&[("a", &["b"]), ("b", &["a"]), ("c", &["d"]), ("d", &["c"])]);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].message.contains("a -> b -> a"));
    assert!(p[1].message.contains("c -> d -> c"));
}

#[test]
fn one_document_refuses_itself_and_a_repeat() {
    let p = check_own("api", &[dep("api")]).unwrap();
    assert!(p.message.contains("api -> api"), "{}", p.message);
    let p = check_own("api", &[dep("db"), dep("db")]).unwrap();
    assert!(p.message.contains("listed twice"), "{}", p.message);
    assert!(check_own("api", &[dep("db"), dep("cache")]).is_none());
}

#[test]
fn completed_waits_for_a_job_and_only_completed_does() {
    let mut done = dep("migrate");
    done.condition = Condition::Completed;
    let mut on_app = dep("db");
    on_app.condition = Condition::Completed;
    let ready_job = dep("migrate");
    let deps = [done];
    let wrong = [on_app, ready_job];
    let g: BTreeMap<&str, &[DependsOn]> =
        BTreeMap::from([("api", &deps[..]), ("web", &wrong[..]), ("db", &[][..])]);
    let known = |job: &'static str| -> BTreeMap<&str, Kind> {
        let apps = ["api", "web", "db"].map(|a| (a, Kind::App));
        apps.into_iter().chain([(job, Kind::Job)]).collect()
    };
    let p = check_set(&g, &known("migrate"));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].message.contains("\"db\" is an App"),
        "{}",
        p[0].message
    );
    assert!(
        p[1].message.contains("\"migrate\" is a Job"),
        "{}",
        p[1].message
    );
    let missing = check_set(&g, &known("migrat"));
    assert!(
        missing
            .iter()
            .any(|p| p.message.contains("no Job \"migrate\"")
                && p.message.contains("did you mean `migrat`?")),
        "{missing:?}"
    );
}

#[test]
fn a_cycle_across_kinds_is_named_and_nothing_waits_for_a_cronjob() {
    let mut migrate = dep("migrate");
    migrate.condition = Condition::Completed;
    let api = [migrate];
    let job = [dep("api")];
    let report = [dep("apj")];
    let web = [dep("nightly")];
    let g: BTreeMap<&str, &[DependsOn]> = BTreeMap::from([
        ("api", &api[..]),
        ("migrate", &job[..]),
        ("nightly", &report[..]),
        ("web", &web[..]),
    ]);
    let kinds = BTreeMap::from([
        ("api", Kind::App),
        ("migrate", Kind::Job),
        ("nightly", Kind::CronJob),
        ("web", Kind::App),
    ]);
    let p = check_set(&g, &kinds);
    assert_eq!(p.len(), 3, "{p:?}");
    // A CronJob's entry is under its jobTemplate.
    assert!(p[0].cronjob, "{p:?}");
    assert!(
        p[0].message.starts_with(
            "spec.jobTemplate.spec.dependsOn[0].app: there is no app \"apj\" in the manifests directory; did you mean `api`?"
        ),
        "{}",
        p[0].message
    );
    assert_eq!(
        p[0].path(),
        vec![
            Key("spec"),
            Key("jobTemplate"),
            Key("spec"),
            Key("dependsOn"),
            Index(0),
            Key("app")
        ]
    );
    assert!(
        !p[1].cronjob
            && p[1]
                .message
                .contains("\"nightly\" is a CronJob, which nothing can wait for"),
        "{p:?}"
    );
    assert!(
        p[2].message
            .contains("dependency cycle api -> migrate -> api"),
        "{}",
        p[2].message
    );
}

proptest::proptest! {
    /// Any graph: every cycle reported is a real path along its edges that ends where it
    /// starts, and a graph whose edges all go from a higher to a lower number has none.
    #[test]
    fn cycles_found_are_real_and_dags_have_none(
        edges in proptest::collection::vec((0u8..8, 0u8..8), 0..20),
    ) {
        let names: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
        let mut owned: BTreeMap<&str, Vec<DependsOn>> =
            names.iter().map(|n| (n.as_str(), Vec::new())).collect();
        for (from, to) in &edges {
            let list = owned.get_mut(names[*from as usize].as_str()).unwrap();
            if !list.iter().any(|d| d.app.as_str() == names[*to as usize]) {
                list.push(dep(&names[*to as usize]));
            }
        }
        let g: BTreeMap<&str, &[DependsOn]> =
            owned.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        for cycle in cycles(&g) {
            proptest::prop_assert!(cycle.len() >= 2);
            proptest::prop_assert_eq!(cycle.first(), cycle.last());
            for pair in cycle.windows(2) {
                proptest::prop_assert!(g[pair[0]].iter().any(|d| d.app.as_str() == pair[1]));
            }
        }
        let dag = edges.iter().all(|(from, to)| from > to);
        if dag {
            proptest::prop_assert!(cycles(&g).is_empty());
        } else if edges.iter().any(|(f, t)| f <= t) {
            // Some edge goes up: if it closes a loop, a cycle must be found. Check reachability.
            let reach = |from: &str, to: &str| {
                let mut seen = BTreeSet::new();
                let mut todo = vec![from];
                while let Some(n) = todo.pop() {
                    if n == to { return true; }
                    if seen.insert(n) {
                        todo.extend(g[n].iter().map(|d| d.app.as_str()));
                    }
                }
                false
            };
            let looped = g.iter().any(|(a, ds)| ds.iter().any(|d| reach(d.app.as_str(), a)));
            proptest::prop_assert_eq!(looped, !cycles(&g).is_empty());
        }
    }
}
