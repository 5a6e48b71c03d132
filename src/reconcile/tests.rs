//! Planner tests: scaling, restarts with back-off, rolling updates.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;

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
    }
}

fn desired(apps: &[DesiredApp]) -> BTreeMap<String, DesiredApp> {
    apps.iter().map(|a| (a.name.clone(), a.clone())).collect()
}

#[test]
fn starts_every_missing_instance() {
    let now = Instant::now();
    let plan = plan(&desired(&[app(3, "r1")]), &BTreeMap::new(), now);
    let starts: Vec<u32> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Start { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![0, 1, 2]);
}
