//! The instance caps on real manifest files, through `Store::reload`.

use std::fs;
use std::path::Path;

use crate::store::{caps::Caps, Rules, Store};

fn write(dir: &Path, name: &str, instances: &str) {
    let text = format!(
        "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: {name}\nspec:\n  command: [x]\n  instances: {instances}\n"
    );
    fs::write(dir.join(format!("{name}.yaml")), text).expect("write");
}

fn rules(per_app: u32, total: u32) -> Rules {
    Rules {
        caps: Caps { per_app, total },
        ..Rules::default()
    }
}

fn count(store: &Store, app: &str) -> Option<u32> {
    store.apps.get(app).map(|l| super::wanted(&l.app, 1))
}

#[test]
fn an_app_over_the_per_app_cap_is_refused_at_its_instances_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a", "100000000");
    let store = Store::default()
        .reload(dir.path(), rules(10, 100))
        .expect("load");
    assert_eq!(count(&store, "a"), None);
    let p = store.problem_for("a").expect("problem");
    assert_eq!((p.line, p.column), (7, 3));
    assert!(
        p.message.contains("--max-instances-per-app 100000000"),
        "{}",
        p.message
    );
    write(dir.path(), "a", "10");
    let good = store.reload(dir.path(), rules(10, 100)).expect("load");
    assert_eq!(count(&good, "a"), Some(10));
    write(dir.path(), "a", "11");
    let next = good.reload(dir.path(), rules(10, 100)).expect("load");
    assert_eq!(
        count(&next, "a"),
        Some(10),
        "the last good version keeps running"
    );
    assert!(next.problem_for("a").is_some());
}

#[test]
fn apps_that_would_pass_the_total_are_refused_last_name_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a", "6");
    let first = Store::default()
        .reload(dir.path(), rules(10, 12))
        .expect("load");
    write(dir.path(), "b", "5");
    write(dir.path(), "c", "5");
    let store = first.reload(dir.path(), rules(10, 12)).expect("load");
    assert_eq!(count(&store, "a"), Some(6), "unchanged apps are kept");
    assert_eq!(count(&store, "b"), Some(5));
    assert_eq!(count(&store, "c"), None);
    let p = store.problem_for("c").expect("problem");
    assert!(
        p.message.contains("to 16, over the cap of 12"),
        "{}",
        p.message
    );
    assert!(p.message.contains("--max-instances 16"), "{}", p.message);
    assert!(store.problem_for("b").is_none());
}

#[test]
fn suspended_apps_do_not_count_toward_the_total_and_max_means_cpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a", "8");
    fs::write(
        dir.path().join("b.yaml"),
        "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: b\nspec:\n  command: [x]\n  instances: 8\n  suspend: true\n",
    )
    .expect("write");
    let store = Store::default()
        .reload(dir.path(), rules(10, 10))
        .expect("load");
    assert_eq!(store.apps.len(), 2, "{:?}", store.problems);
    write(dir.path(), "c", "max");
    let cpus = super::online_cpus();
    let store = store.reload(dir.path(), rules(10, 8 + cpus)).expect("load");
    assert!(store.apps.contains_key("c"), "{:?}", store.problems);
    let store = Store::default()
        .reload(dir.path(), rules(10, 7 + cpus))
        .expect("load");
    assert!(!store.apps.contains_key("c"));
}
