//! Start, scale, suspend, restart, apply and delete, against the real binary and real processes.

use crate::common;

use std::collections::BTreeSet;

use common::{manifest, Controller, SOON};

/// The position of the first event whose message contains `needle`.
fn event_position(app: &corral::api::AppStatus, needle: &str) -> Option<usize> {
    app.events.iter().position(|e| e.message.contains(needle))
}

#[test]
fn scales_up_and_down_keeping_surviving_pids_then_suspends() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    let web = |extra: &[&str]| {
        let mut spec = vec![format!("command: {cmd}")];
        spec.extend(extra.iter().map(|s| s.to_string()));
        manifest("web", &spec.iter().map(String::as_str).collect::<Vec<_>>())
    };
    ctl.write_manifest("web.yaml", &web(&["instances: 2"]));
    ctl.start();

    let two = ctl.wait_instances("web", 2);
    assert_eq!(two.keys().copied().collect::<Vec<_>>(), [0, 1], "{two:?}");
    let app = ctl.wait_status("web", "Running");
    assert_eq!((app.desired, app.ready), (2, 2));

    ctl.write_manifest("web.yaml", &web(&["instances: 3"]));
    let three = ctl.wait_instances("web", 3);
    assert_eq!(three.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(
        (three[&0], three[&1]),
        (two[&0], two[&1]),
        "0 and 1 keep their pids"
    );

    ctl.write_manifest("web.yaml", &web(&["instances: 1"]));
    let one = ctl.wait_instances("web", 1);
    assert_eq!(one.get(&0), Some(&two[&0]), "instance 0 keeps its pid");
    let app = ctl.wait_status("web", "Running");
    assert_eq!(app.desired, 1);
    let stop2 = event_position(&app, &format!("stopping instance 2 (pid {})", three[&2]));
    let stop1 = event_position(&app, &format!("stopping instance 1 (pid {})", three[&1]));
    assert!(
        matches!((stop2, stop1), (Some(a), Some(b)) if a < b),
        "instance 2 is stopped before instance 1: {:#?}",
        app.events
    );

    ctl.write_manifest("web.yaml", &web(&["instances: 1", "suspend: true"]));
    let app = ctl.wait_status("web", "Suspended");
    assert_eq!(app.desired, 0);
    ctl.wait_until(SOON, "no process is left", || ctl.processes().is_empty());

    ctl.write_manifest("web.yaml", &web(&["instances: 1", "suspend: false"]));
    ctl.wait_instances("web", 1);
    ctl.wait_status("web", "Running");
}

#[test]
fn restart_replaces_every_instance() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    ctl.start();
    let before = ctl.wait_instances("web", 2);
    ctl.wait_status("web", "Running");

    let run = ctl.corral(&["restart", "web"]);
    assert!(run.status.success(), "{run:?}");
    assert!(run.stdout.contains("app/web restarted"), "{run:?}");

    let old: BTreeSet<u32> = before.values().copied().collect();
    ctl.wait_until(SOON, "two new instances replace the old ones", || {
        let now = ctl.instances("web");
        now.len() == 2
            && now.values().copied().collect::<BTreeSet<_>>() == BTreeSet::from([0, 1])
            && now.keys().all(|pid| !old.contains(pid))
    });
    let app = ctl.wait_status("web", "Running");
    let pids: BTreeSet<u32> = app.instances.iter().filter_map(|i| i.pid).collect();
    assert!(
        pids.is_disjoint(&old),
        "new pids in get: {pids:?} vs {old:?}"
    );
    assert!(
        old.iter().all(|p| !common::alive(*p)),
        "old processes are gone"
    );
}

#[test]
fn deleted_manifest_stops_only_its_app() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    ctl.write_manifest(
        "other.yaml",
        &manifest("other", &[&format!("command: {cmd}")]),
    );
    ctl.start();
    ctl.wait_instances("web", 2);
    let other = ctl.wait_instances("other", 1);

    ctl.remove_manifest("web.yaml");
    ctl.wait_until(SOON, "web's processes are gone", || {
        ctl.instances("web").is_empty()
    });
    ctl.wait_until(SOON, "web disappears from get", || ctl.app("web").is_none());
    assert_eq!(
        ctl.instances("other"),
        [(other[&0], 0)].into(),
        "other runs on"
    );
    assert_eq!(ctl.wait_status("other", "Running").name, "other");
}

#[test]
fn apply_into_the_running_controllers_directory_then_delete() {
    let ctl = Controller::new();
    ctl.start();
    let incoming = ctl.scratch().join("api.yaml");
    let cmd = ctl.sleeper();
    std::fs::write(&incoming, manifest("api", &[&format!("command: {cmd}")])).expect("write");

    let run = ctl.corral(&["apply", "-f", incoming.to_str().expect("utf-8 path")]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(run.stdout.trim(), "app/api created", "{run:?}");
    assert!(
        std::fs::read_dir(&ctl.manifests)
            .expect("read dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".yaml")),
        "apply wrote into the controller's directory"
    );
    let started = ctl.wait_instances("api", 1);
    ctl.wait_status("api", "Running");

    let run = ctl.corral(&["delete", "api"]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(run.stdout.trim(), "app/api deleted", "{run:?}");
    ctl.wait_until(SOON, "api's process is gone", || {
        !common::alive(started[&0]) && ctl.instances("api").is_empty()
    });
    ctl.wait_until(SOON, "api disappears from get", || ctl.app("api").is_none());
}

#[test]
fn a_deleted_app_that_ignores_sigterm_is_killed_after_stop_timeout() {
    let ctl = Controller::new();
    let ready = ctl.scratch().join("ready");
    let cmd = ctl.stubborn(&ready);
    ctl.write_manifest(
        "stubborn.yaml",
        &manifest(
            "stubborn",
            &[&format!("command: {cmd}"), "stop: {timeout: 1s}"],
        ),
    );
    ctl.start();
    let pid = ctl.wait_instances("stubborn", 1)[&0];
    ctl.wait_until(SOON, "SIGTERM is ignored", || ready.exists());

    let asked = std::time::Instant::now();
    ctl.remove_manifest("stubborn.yaml");
    ctl.wait_status("stubborn", "Stopping");
    assert!(common::alive(pid), "SIGTERM alone does not end it");
    ctl.wait_until(SOON, "SIGKILL after stop.timeout", || !common::alive(pid));
    let took = asked.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(8),
        "killed after about 1 s: {took:?}"
    );
    ctl.wait_until(SOON, "stubborn disappears from get", || {
        ctl.app("stubborn").is_none()
    });
}

#[test]
fn a_changed_env_rolls_out_a_new_revision_keeping_instances_up() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    let web = |v: &str| {
        manifest(
            "web",
            &[
                &format!("command: {cmd}"),
                "instances: 2",
                &format!("env: {{V: {v}}}"),
            ],
        )
    };
    ctl.write_manifest("web.yaml", &web("one"));
    ctl.start();
    let before = ctl.wait_instances("web", 2);
    let old = ctl.wait_status("web", "Running").revision;

    ctl.write_manifest("web.yaml", &web("two"));
    let new = common::wait_for(SOON, "a new revision", || {
        ctl.app("web").map(|a| a.revision).filter(|r| *r != old)
    });
    let old_pids: BTreeSet<u32> = before.values().copied().collect();
    ctl.wait_until(SOON, "both instances replaced", || {
        let live = ctl.instances("web");
        // maxUnavailable 25% of 2 rounds down to 0: never fewer than 2 processes.
        assert!(live.len() >= 2, "dropped below 2 instances: {live:?}");
        live.len() == 2 && live.keys().all(|p| !old_pids.contains(p))
    });
    for pid in ctl.instances("web").into_keys() {
        let env = common::env_map(pid);
        assert_eq!(env.get("V").map(String::as_str), Some("two"));
        assert_eq!(env.get("CORRAL_REVISION"), Some(&new));
    }
    ctl.wait_status("web", "Running");
}
