use super::*;
use crate::api::{Condition, InstanceStatus};

fn instance(index: u32, cpu: f32, memory: u64) -> InstanceStatus {
    InstanceStatus {
        index,
        pid: Some(1000 + index),
        revision: "r1".into(),
        phase: "Running".into(),
        ready: true,
        cpu_percent: Some(cpu),
        memory_bytes: Some(memory),
        ..Default::default()
    }
}

fn app(name: &str, instances: Vec<InstanceStatus>) -> AppStatus {
    AppStatus {
        name: name.into(),
        revision: "r1".into(),
        desired: instances.len() as u32,
        status: "Running".into(),
        cpu_percent: Some(instances.iter().filter_map(|i| i.cpu_percent).sum()),
        memory_bytes: Some(instances.iter().filter_map(|i| i.memory_bytes).sum()),
        instances,
        ..Default::default()
    }
}

fn list(apps: Vec<AppStatus>) -> AppList {
    AppList {
        cronjobs: Vec::new(),
        jobs: Vec::new(),
        apps,
        errors: vec![],
    }
}

#[test]
fn ring_keeps_the_newest_values_up_to_its_capacity() {
    let mut ring = Ring::new(3);
    for v in 0..10 {
        ring.push(v);
        assert!(ring.len() <= 3);
    }
    assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
    ring.clear();
    assert!(ring.is_empty());
    assert_eq!(Ring::<u8>::new(0).capacity, 1);
}

#[test]
fn histories_are_bounded_and_follow_the_snapshots() {
    let mut m = Model::new(5);
    for t in 0..20u64 {
        let a = app(
            "web",
            vec![instance(0, t as f32, t * 10), instance(1, 1.0, 1)],
        );
        m.update(list(vec![a]), t);
    }
    let h = m.history("web", Some(0)).expect("instance history");
    assert_eq!(
        h.cpu.iter().copied().collect::<Vec<_>>(),
        vec![15.0, 16.0, 17.0, 18.0, 19.0]
    );
    assert_eq!(h.memory.len(), 5);
    assert_eq!(m.history("web", None).map(|h| h.cpu.len()), Some(5));
    assert_eq!(m.history_count(), 3);
    // Instance 1 and then the app go away: their histories go with them.
    m.update(list(vec![app("web", vec![instance(0, 1.0, 1)])]), 21);
    assert_eq!(m.history_count(), 2);
    m.update(list(vec![]), 22);
    assert_eq!(m.history_count(), 0);
}

#[test]
fn unsampled_figures_add_no_sample() {
    let mut m = Model::new(5);
    let mut i = instance(0, 0.0, 0);
    i.cpu_percent = None;
    i.memory_bytes = None;
    m.update(list(vec![app("web", vec![i])]), 0);
    assert!(m.history("web", Some(0)).is_some_and(|h| h.cpu.is_empty()));
}

#[test]
fn selection_stays_on_its_app_and_stops_at_the_ends() {
    let mut m = Model::new(5);
    assert_eq!(m.selected, None);
    m.select_by(1); // nothing to select: no panic
    m.update(
        list(vec![app("b", vec![]), app("a", vec![]), app("c", vec![])]),
        0,
    );
    assert_eq!(m.selected.as_deref(), Some("a"), "sorted, first selected");
    m.select_by(1);
    assert_eq!(m.selected.as_deref(), Some("b"));
    m.select_by(10);
    assert_eq!(m.selected.as_deref(), Some("c"));
    m.select_by(-10);
    assert_eq!(m.selected.as_deref(), Some("a"));
    m.select_by(2);
    // A new app sorts before it: the selection stays on "c".
    m.update(
        list(vec![app("0", vec![]), app("a", vec![]), app("c", vec![])]),
        1,
    );
    assert_eq!(m.selected.as_deref(), Some("c"));
    // "c" goes away: the first app is selected.
    m.update(list(vec![app("0", vec![]), app("a", vec![])]), 2);
    assert_eq!(m.selected.as_deref(), Some("0"));
}

#[test]
fn logs_are_bounded_cleaned_and_only_of_the_selected_app() {
    let mut m = Model::new(5);
    m.update(list(vec![app("web", vec![])]), 0);
    m.push_logs("other", vec!["not shown".into()]);
    assert!(m.logs.is_empty());
    m.push_logs("web", vec!["\x1b[31mred\x1b[0m\tx".into()]);
    assert_eq!(
        m.logs.iter().next().map(String::as_str),
        Some(" [31mred [0m x")
    );
    m.push_logs("web", (0..1000).map(|i| format!("line {i}")).collect());
    assert_eq!(m.logs.len(), LOG_LINES);
    assert_eq!(m.logs.iter().last().map(String::as_str), Some("line 999"));
}

#[test]
fn memory_limit_comes_from_the_spec_yaml() {
    let mut a = app("web", vec![]);
    assert_eq!(memory_limit(&a), None);
    a.spec_yaml = "command: [x]\nmemory:\n  limit: 64Mi\n".into();
    assert_eq!(memory_limit(&a), Some(64 * 1024 * 1024));
    let mut m = Model::new(5);
    m.update(list(vec![a]), 0);
    assert_eq!(m.memory_limit("web"), Some(64 * 1024 * 1024));
    m.update(list(vec![app("web", vec![])]), 1);
    assert_eq!(m.memory_limit("web"), None, "the limit was removed");
}

#[test]
fn rollout_progress_counts_ready_instances_at_the_new_revision() {
    let mut a = app("web", vec![instance(0, 0.0, 0), instance(1, 0.0, 0)]);
    assert_eq!(rollout(&a), None, "no rollout running");
    a.revision = "r2".into();
    a.instances[1].revision = "r2".into();
    a.conditions.push(Condition {
        kind: "Progressing".into(),
        status: true,
        reason: "ReplicaSetUpdating".into(),
        message: String::new(),
    });
    assert_eq!(rollout(&a), Some((1, 2)));
}
